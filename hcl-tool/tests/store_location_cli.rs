//! How the real `keyshift` binary reads a store location (`--store`,
//! `KEYSHIFT_STORE`, `migrate --to-store`): libpq's keyword/value
//! connection string is the shared PostgreSQL store; a text that looks
//! like a URL or a connection string but is not a valid one is refused
//! (exit 2) and never becomes an embedded store in a directory named after
//! it; a password shows as `***` in every message, whichever form holds it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, stderr, stdout};

use assert_cmd::Command;
use keyshift_core::engine::Kms;
use keyshift_core::store::postgres::test_support::fresh_database;
use keyshift_core::store::{Container, KeySpec, KeyUsage, OpenOptions, StoreLocation};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

/// `keyshift ARGS` in `cwd`, with nothing of the caller's `KEYSHIFT_*` or
/// `AWS_*` environment, plus `env`.
fn keyshift_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::cargo_bin("keyshift").unwrap();
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("KEYSHIFT_") || n.starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.current_dir(cwd)
        .envs(env.iter().copied())
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.insert(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

/// A location as `--store` (or `KEYSHIFT_STORE`) and what must happen.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    code: i32,
    says: &'static str,
}

const DOWN_KEYWORDS: &str = "host=127.0.0.1 port=1 user=ks password=hunter2 dbname=x";

#[test]
fn mistyped_locations_are_refused_and_never_become_a_store() {
    let cases = [
        Case {
            name: "connection string, server down",
            args: &[
                "--store",
                DOWN_KEYWORDS,
                "--master-key-file",
                "mk",
                "key",
                "list",
            ],
            env: &[],
            code: 1,
            says: "key store unreachable: cannot connect to the key store host=127.0.0.1 port=1 user=ks password=*** dbname=x",
        },
        Case {
            name: "connection string in KEYSHIFT_STORE",
            args: &["--master-key-file", "mk", "key", "list"],
            env: &[("KEYSHIFT_STORE", DOWN_KEYWORDS)],
            code: 1,
            says: "password=***",
        },
        Case {
            name: "one slash",
            args: &[
                "--store",
                "postgres:/ks:hunter2@127.0.0.1:1/x",
                "key",
                "list",
            ],
            env: &[],
            code: 2,
            says: "postgres:/ks:***@127.0.0.1:1/x is not a valid PostgreSQL URL: it needs `postgres://`",
        },
        Case {
            name: "no slash",
            args: &[
                "--store",
                "postgresql:ks:hunter2@127.0.0.1/x",
                "key",
                "list",
            ],
            env: &[],
            code: 2,
            says: "is not a valid PostgreSQL URL",
        },
        Case {
            name: "misspelt parameter",
            args: &[
                "--store",
                "hots=127.0.0.1 password=hunter2 dbname=x",
                "key",
                "list",
            ],
            env: &[],
            code: 2,
            says: "parameter 1 (`hots`) of the connection string is not a PostgreSQL connection parameter",
        },
        Case {
            name: "unquoted password with a space",
            args: &[
                "--store",
                "host=h password=hunter2 hunter3 dbname=x",
                "key",
                "list",
            ],
            env: &[],
            code: 2,
            says: "host=h password=*** hunter3 dbname=x is not a valid PostgreSQL connection string",
        },
        Case {
            name: "other scheme",
            args: &["--store", "file:/tmp/keyshift", "key", "list"],
            env: &[],
            code: 2,
            says: "unknown store scheme `file:`",
        },
        Case {
            name: "store move into a connection string, server down",
            args: &[
                "migrate",
                "--from-store",
                "src",
                "--to-store",
                DOWN_KEYWORDS,
                "--to-master-key-file",
                "mk",
                "--all",
            ],
            env: &[],
            // A store move treats any side it cannot open as an input error.
            code: 2,
            says: "cannot open the target store host=127.0.0.1 port=1 user=ks password=*** dbname=x: key store unreachable",
        },
        Case {
            name: "store move into a one-slash URL",
            args: &[
                "migrate",
                "--from-store",
                "src",
                "--to-store",
                "postgres:/ks:hunter2@127.0.0.1:1/x",
                "--all",
            ],
            env: &[],
            code: 2,
            says: "is not a valid PostgreSQL URL",
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(&dir.path().join("src"), "test").unwrap();
    support::new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    drop(kms);
    let before = tree(dir.path());
    for c in &cases {
        let o = keyshift_in(dir.path(), c.args, c.env);
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(code(&o), c.code, "{}: {err}", c.name);
        assert!(err.contains(c.says), "{}: {err}", c.name);
        assert!(
            !out.contains("hunter2") && !err.contains("hunter2"),
            "{}: the password was shown: {err}",
            c.name
        );
        assert_eq!(
            tree(dir.path()),
            before,
            "{}: something was created",
            c.name
        );
    }
}

/// `url` (`postgres://user@host:port/db?k=v`) as libpq's keyword/value
/// connection string.
fn keyword_form(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (auth, db) = main.split_once('/').unwrap();
    let (user, host) = auth.split_once('@').unwrap();
    let (host, port) = host.split_once(':').unwrap_or((host, "5432"));
    let mut s = format!("host={host} port={port} user='{user}' dbname={db}");
    for p in query.split('&').filter(|p| !p.is_empty()) {
        s.push(' ');
        s.push_str(p);
    }
    s
}

/// The shared store named by a connection string is the same store as
/// the one its URL names.
#[test]
fn a_connection_string_opens_the_shared_store() {
    let Some(db) = fresh_database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    let opts = OpenOptions {
        master_key_file: Some(key_file.clone()),
        create: true,
        ..OpenOptions::default()
    };
    let (kms, _) =
        Kms::open_location(&StoreLocation::parse(db.url()).unwrap(), &opts, "test").unwrap();
    let key = support::new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    drop(kms);
    let conn = keyword_form(db.url());
    let o = keyshift_in(
        dir.path(),
        &[
            "--store",
            &conn,
            "--master-key-file",
            key_file.to_str().unwrap(),
            "key",
            "list",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{conn}: {}", stderr(&o));
    let keys: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(keys[0]["id"], key.as_str(), "{keys}");
    assert_eq!(
        tree(dir.path()),
        BTreeSet::from(["master.key".to_string()]),
        "no embedded store was made"
    );
}
