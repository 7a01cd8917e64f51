//! SQLite → PostgreSQL → SQLite with the real binary: an embedded store
//! moved into the shared one (master key in a named file, created on first
//! use) and back into a new embedded store, every ciphertext made before
//! still decrypting at each stop. Needs `KEYSHIFT_TEST_PG_URL`
//! (`scripts/with-postgres.sh`, as `make unit` runs it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::store_move::{aes, decrypt, encrypt, stores};
use support::{code, instance, keyshift, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::store::postgres::test_support::fresh_database;
use keyshift_core::store::{Container, NewSecret, OpenOptions, SecretType, StoreLocation};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Opens the shared store in-process with its key file.
fn open_pg(url: &str, key_file: &Path) -> Kms {
    let opts = OpenOptions {
        master_key_file: Some(key_file.to_path_buf()),
        ..OpenOptions::default()
    };
    Kms::open_location(&StoreLocation::parse(url).unwrap(), &opts, "test")
        .unwrap()
        .0
}

/// Key ids and their containers, sorted.
fn placement(kms: &Kms) -> Vec<(String, String)> {
    let mut v: Vec<_> = kms
        .list_keys(None)
        .unwrap()
        .into_iter()
        .map(|k| (k.id, k.container.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn sqlite_to_postgres_and_back_keeps_every_key_decrypting() {
    let Some(db) = fresh_database() else { return };
    let s = stores();
    let kst = instance(&s.kms_a, "payments");
    let shared = aes(&s.kms_a, Container::Shared, "alias/app", true);
    s.kms_a.rotate_key(&shared).unwrap();
    let inst = aes(&s.kms_a, kst.clone(), "alias/inst", false);
    let secret = s
        .kms_a
        .create_secret(
            NewSecret {
                name: "db-password".into(),
                container: kst.clone(),
                secret_type: SecretType::Generic,
                encryption_key_id: inst.clone(),
                description: String::new(),
                tags: BTreeMap::new(),
            },
            b"s3cret",
        )
        .unwrap()
        .id;
    let cts = [
        (encrypt(&s.a, "alias/app", b"one"), "one"),
        (encrypt(&s.a, "alias/inst", b"two"), "two"),
    ];
    let before = placement(&s.kms_a);
    let key_file = s.dir.path().join("shared-master.key");

    // Into the shared store: its master key file is created with it.
    let o = keyshift(
        &s.a,
        &[
            "migrate",
            "--from-store",
            s.a.to_str().unwrap(),
            "--to-store",
            db.url(),
            "--to-master-key-file",
            key_file.to_str().unwrap(),
            "--all",
            "--include-secrets",
        ],
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        // The instance, two keys and a secret.
        stdout(&o).ends_with(": 4 migrated, 0 skipped, 0 refused, 0 failed\n"),
        "{}",
        stdout(&o)
    );
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the new master key file is private");
    let pg = open_pg(db.url(), &key_file);
    assert_eq!(placement(&pg), before, "same ids in the same containers");
    assert_eq!(
        pg.resolve_key("alias/app").unwrap().id,
        shared,
        "aliases travel"
    );
    drop(pg);

    // A wrong key file for the shared store fails and changes nothing.
    let wrong = s.dir.path().join("wrong.key");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = s.dir.path().join("c");
    let back = |key: &Path| {
        keyshift(
            &s.a,
            &[
                "migrate",
                "--from-store",
                db.url(),
                "--from-master-key-file",
                key.to_str().unwrap(),
                "--to-store",
                c.to_str().unwrap(),
                "--all",
                "--include-secrets",
            ],
        )
    };
    let o = back(&wrong);
    assert_eq!(code(&o), 2, "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("master key"), "{}", stderr(&o));
    assert!(!c.exists(), "nothing created for a refused run");

    // And back into a new embedded store.
    let o = back(&key_file);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let kms_c = Kms::open(&c, "test").unwrap();
    assert_eq!(placement(&kms_c), before);
    for (ct, plain) in &cts {
        assert_eq!(decrypt(&c, ct), *plain, "decrypts after the round trip");
        assert_eq!(decrypt(&s.a, ct), *plain, "the source is untouched");
    }
    let value = kms_c.get_secret_value(&secret, None).unwrap();
    assert_eq!(
        value.as_slice(),
        b"s3cret",
        "the secret travelled both ways"
    );
}
