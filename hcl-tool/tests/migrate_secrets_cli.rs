//! `keyshift migrate` and the key–secret dependency rule, against the real
//! binary: a key never leaves a container while secrets there depend on it.
//! With `--include-secrets` the secrets a selected key encrypts move with it
//! (even when their names match no pattern) and are reported as rows of
//! their own; without it, such a key is refused before anything moves,
//! naming the secrets and the fix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, instance, keyshift, new_key, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, KeySpec, KeyUsage, NewSecret, SecretType};
use serde_json::Value as Json;
use std::path::PathBuf;

struct Estate {
    _dir: tempfile::TempDir,
    store: PathBuf,
    kms: Kms,
    kst: Container,
    /// `alias/payments/app`, encrypting `payments/db`.
    app: String,
    db: String,
    /// `alias/other`, encrypting nothing.
    other: String,
}

/// The estate of the issue: the key `alias/payments/app` in the shared KMS
/// encrypts the secret `payments/db`, whose name no key pattern matches.
fn estate() -> Estate {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let kst = instance(&kms, "dest");
    let aes = |alias: &str| {
        let k = new_key(
            &kms,
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        );
        kms.create_alias(alias, &k.id).unwrap();
        k.id
    };
    let (app, other) = (aes("alias/payments/app"), aes("alias/other"));
    let new = NewSecret {
        name: "payments/db".into(),
        container: Container::Shared,
        secret_type: SecretType::Generic,
        encryption_key_id: app.clone(),
        description: String::new(),
        tags: Default::default(),
    };
    let db = kms.create_secret(new, b"s3cret").unwrap().id;
    Estate {
        _dir: dir,
        store,
        kms,
        kst,
        app,
        db,
        other,
    }
}

#[test]
fn include_secrets_moves_the_secrets_a_selected_key_encrypts() {
    let e = estate();
    let kst = e.kst.to_string();
    let report = e.store.parent().unwrap().join("report.json");
    let o = keyshift(
        &e.store,
        &[
            "migrate",
            "--to",
            &kst,
            "alias/payments/*",
            "--include-secrets",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let text = stdout(&o);
    assert_eq!(code(&o), 0, "{text}{}", stderr(&o));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "migrated      key {} (alias/payments/app) shared -> {kst}",
                e.app
            )
            .as_str(),
            format!(
                "migrated      secret {} (payments/db) shared -> {kst}: with its encryption key {}",
                e.db, e.app
            )
            .as_str(),
            format!("migrate to {kst}: 2 migrated, 0 skipped, 0 refused, 0 failed").as_str(),
        ],
        "{text}"
    );
    assert_eq!(e.kms.get_key(&e.app).unwrap().container, e.kst);
    assert_eq!(e.kms.get_secret(&e.db).unwrap().container, e.kst);
    let o = keyshift(
        &e.store,
        &["secret", "get", "payments/db", "--instance", &kst],
    );
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "s3cret"),
        "{}",
        stderr(&o)
    );
    // Every later change to the secret works: it is not stranded.
    e.kms
        .update_secret(
            &e.db,
            keyshift_core::store::SecretUpdate {
                description: Some("db".into()),
                ..Default::default()
            },
        )
        .unwrap();

    let doc: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let rows: Vec<(&str, &str, &str)> = doc["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap(),
                o["kind"].as_str().unwrap(),
                o["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (e.app.as_str(), "key", "migrated"),
            (e.db.as_str(), "secret", "migrated")
        ]
    );
    assert_eq!(
        e.kms.get_key(&e.other).unwrap().container,
        Container::Shared
    );
}

#[test]
fn a_key_with_dependent_secrets_is_refused_without_include_secrets() {
    let cases: &[(&str, &[&str])] = &[
        ("pattern", &["alias/payments/*"]),
        ("all", &["--all"]),
        ("dry run", &["alias/payments/*", "--dry-run"]),
    ];
    for (name, args) in cases {
        let e = estate();
        let kst = e.kst.to_string();
        let mut argv = vec!["migrate", "--to", kst.as_str()];
        argv.extend_from_slice(args);
        let o = keyshift(&e.store, &argv);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{name}: {}{err}", stdout(&o));
        for want in [
            format!("key {} (alias/payments/app) cannot leave shared", e.app),
            format!("payments/db ({})", e.db),
            "--include-secrets".to_string(),
            "nothing was migrated".to_string(),
        ] {
            assert!(err.contains(&want), "{name}: {want:?} missing: {err}");
        }
        for key in [&e.app, &e.other] {
            assert_eq!(
                e.kms.get_key(key).unwrap().container,
                Container::Shared,
                "{name}"
            );
        }
        assert_eq!(
            e.kms.get_secret(&e.db).unwrap().container,
            Container::Shared
        );
    }
}

#[test]
fn all_and_dry_run_list_each_secret_after_its_key() {
    for dry_run in [true, false] {
        let e = estate();
        let kst = e.kst.to_string();
        let mut argv = vec![
            "migrate",
            "--to",
            kst.as_str(),
            "--all",
            "--include-secrets",
        ];
        if dry_run {
            argv.push("--dry-run");
        }
        let o = keyshift(&e.store, &argv);
        let text = stdout(&o);
        assert_eq!(code(&o), 0, "dry run {dry_run}: {text}{}", stderr(&o));
        let rows: Vec<&str> = text.lines().collect();
        let at = |id: &str| rows.iter().position(|l| l.contains(id)).unwrap();
        assert_eq!(at(&e.db), at(&e.app) + 1, "dry run {dry_run}: {text}");
        assert_eq!(rows.len(), 4, "3 objects and the counts: {text}");
        assert!(
            rows[at(&e.db)].ends_with(&format!("with its encryption key {}", e.app)),
            "{text}"
        );
        let want = if dry_run {
            Container::Shared
        } else {
            e.kst.clone()
        };
        assert_eq!(e.kms.get_secret(&e.db).unwrap().container, want);
    }
}
