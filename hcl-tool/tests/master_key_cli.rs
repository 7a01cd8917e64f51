//! The global `--master-key-file` (and `KEYSHIFT_MASTER_KEY_FILE`) and
//! `--master-key-arn` options against the real binary, on an embedded store
//! created through the engine with a master key file outside its directory.
//! (The same options on the shared PostgreSQL store: `tests/tests/postgres.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, keyshift, stderr, stdout};

use assert_cmd::Command;
use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, KeySpec, KeyUsage, NewKey, OpenOptions, StoreLocation};
use std::path::Path;

/// A store in `dir/store` whose master key is `dir/keys/master.key`; the id
/// of the one key in it.
fn store_with_key_file(dir: &Path) -> String {
    std::fs::create_dir(dir.join("keys")).unwrap();
    let opts = OpenOptions {
        create: true,
        master_key_file: Some(dir.join("keys/master.key")),
        ..OpenOptions::default()
    };
    let (kms, _) =
        Kms::open_location(&StoreLocation::dir(&dir.join("store")), &opts, "test").unwrap();
    kms.create_key(NewKey::new(
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    ))
    .unwrap()
    .id
}

#[test]
fn master_key_file_opens_the_store_and_a_wrong_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let id = store_with_key_file(tmp.path());
    let store = tmp.path().join("store");
    assert!(
        !store.join("master.key").exists(),
        "no key in the store dir"
    );
    let key = tmp.path().join("keys/master.key");
    let key = key.to_str().unwrap();
    let wrong = tmp.path().join("wrong.key");
    std::fs::write(&wrong, [9u8; 32]).unwrap();
    let wrong = wrong.to_str().unwrap();
    let cases: &[(&str, &[&str], i32, &str)] = &[
        ("flag", &["--master-key-file", key, "key", "list"], 0, &id),
        (
            "flag after the command",
            &["key", "list", "--master-key-file", key],
            0,
            &id,
        ),
        (
            "without: the store's own master.key is missing",
            &["key", "list"],
            2,
            "holds data but its master key file",
        ),
        (
            "wrong key",
            &["--master-key-file", wrong, "key", "list"],
            2,
            "does not open the key store",
        ),
        (
            "both file and arn",
            &[
                "--master-key-file",
                key,
                "--master-key-arn",
                "arn:aws:kms:us-east-1:123456789012:key/1",
                "key",
                "list",
            ],
            2,
            "cannot be used with",
        ),
    ];
    for (name, args, want_code, want) in cases {
        let out = keyshift(&store, args);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(code(&out), *want_code, "{name}: {text}");
        assert!(text.contains(want), "{name}: missing {want:?} in {text}");
    }
    // The variable, as the provider reads it; the flag wins over it.
    let env = |args: &[&str]| {
        Command::cargo_bin("keyshift")
            .unwrap()
            .env_remove("KEYSHIFT_STORE")
            .env("KEYSHIFT_MASTER_KEY_FILE", key)
            .arg("--store")
            .arg(&store)
            .args(args)
            .output()
            .unwrap()
    };
    let out = env(&["key", "list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(&id));
    let out = env(&["--master-key-file", wrong, "key", "list"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}
