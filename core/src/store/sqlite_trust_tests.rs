//! The master-key rule of the SQLite store.

use std::fs;
use std::path::Path;

use crate::engine::Kms;
use crate::store::crypto::{KEY_LEN, MASTER_KEY_FILE};
use crate::store::sqlite::{DB_FILE, SCHEMA_VERSION, SqliteStore};
use crate::store::{Container, KeySpec, KeyUsage, NewKey, StoreError};

fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(DB_FILE)).unwrap()
}

fn user_version(dir: &Path) -> i64 {
    raw(dir)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// A store with one key in the shared container; returns the key id.
fn store_with_data(dir: &Path) -> String {
    let kms = Kms::open(dir, "test").unwrap();
    let k = kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap();
    k.id
}

fn db_bytes(dir: &Path) -> Vec<u8> {
    fs::read(dir.join(DB_FILE)).unwrap()
}

#[test]
fn a_new_store_gets_a_master_key_and_reopens_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("a/b");
    let first = SqliteStore::open_trusted(&store).unwrap();
    let mk = fs::read(store.join(MASTER_KEY_FILE)).unwrap();
    assert_eq!(mk.len(), KEY_LEN);
    assert_eq!(first.master.bytes().as_slice(), mk.as_slice());
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    drop(first);
    let again = SqliteStore::open_trusted(&store).unwrap();
    assert_eq!(again.master.bytes().as_slice(), mk.as_slice());
    drop(again);
    assert_eq!(user_version(&store), SCHEMA_VERSION);
}

#[test]
fn a_store_with_data_never_gets_a_new_master_key_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    store_with_data(&store);
    let key_path = store.join(MASTER_KEY_FILE);
    let original = fs::read(&key_path).unwrap();
    let cases: Vec<(&str, Option<[u8; KEY_LEN]>)> =
        vec![("missing", None), ("another key", Some([3u8; KEY_LEN]))];
    for (name, replacement) in cases {
        match replacement {
            None => fs::remove_file(&key_path).unwrap(),
            Some(k) => fs::write(&key_path, k).unwrap(),
        }
        let before = db_bytes(&store);
        let err = Kms::open(&store, "test").err();
        match (name, &err) {
            ("missing", Some(StoreError::MasterKeyMissing { path, .. }))
            | ("another key", Some(StoreError::MasterKeyMismatch { path, .. })) => {
                assert_eq!(path, &key_path.display().to_string(), "{name}");
            }
            _ => panic!("{name}: {err:?}"),
        }
        assert_eq!(db_bytes(&store), before, "{name}: the database changed");
        assert_eq!(
            fs::read(&key_path).ok(),
            replacement.map(|k| k.to_vec()),
            "{name}: the key file was touched"
        );
        fs::write(&key_path, &original).unwrap();
    }
    Kms::open(&store, "test").unwrap();
}

/// A store from before check values (schema 1) is recognised by its root
/// keys: the right master key upgrades it in place, a wrong one is refused
/// without a schema change.
#[test]
fn a_schema_1_store_is_verified_by_its_root_keys_before_upgrading() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    store_with_data(&store);
    let downgrade = || {
        let c = raw(&store);
        c.execute_batch("DROP TABLE store_meta; PRAGMA user_version = 1;")
            .unwrap();
    };
    downgrade();
    let key_path = store.join(MASTER_KEY_FILE);
    let original = fs::read(&key_path).unwrap();
    fs::write(&key_path, [9u8; KEY_LEN]).unwrap();
    let err = Kms::open(&store, "test").err();
    assert!(
        matches!(err, Some(StoreError::MasterKeyMismatch { .. })),
        "{err:?}"
    );
    assert_eq!(user_version(&store), 1, "refused open must not migrate");
    fs::write(&key_path, &original).unwrap();
    Kms::open(&store, "test").unwrap();
    assert_eq!(user_version(&store), SCHEMA_VERSION);
    // Now the check value decides, even with every root key damaged.
    raw(&store)
        .execute("UPDATE containers SET wrapped_root_key = x'00'", [])
        .unwrap();
    Kms::open(&store, "test").unwrap();
}

#[test]
fn a_damaged_root_key_is_reported_as_damaged_not_as_a_wrong_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let key = store_with_data(&store);
    let mut blob: Vec<u8> = raw(&store)
        .query_row(
            "SELECT wrapped_root_key FROM containers WHERE id = 'shared'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    blob[3] ^= 0x40;
    raw(&store)
        .execute(
            "UPDATE containers SET wrapped_root_key = ?1 WHERE id = 'shared'",
            [blob],
        )
        .unwrap();
    let kms = Kms::open(&store, "test").unwrap();
    let err = kms.encrypt(&key, b"x").unwrap_err();
    assert!(
        matches!(&err, StoreError::RootKeyDamaged { container } if container == "shared"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("master key file"), "{err}");
}

/// Several processes (here: threads with their own connections) opening
/// the same fresh store at once agree on one master key.
#[test]
fn concurrent_first_trusted_open_agrees_on_one_master_key() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s");
        let start = std::sync::Barrier::new(6);
        let keys: Vec<[u8; KEY_LEN]> = std::thread::scope(|sc| {
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    sc.spawn(|| {
                        start.wait();
                        *SqliteStore::open_trusted(&store).unwrap().master.bytes()
                    })
                })
                .collect();
            opens.into_iter().map(|o| o.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(
            fs::read(store.join(MASTER_KEY_FILE)).unwrap(),
            keys[0].to_vec()
        );
    }
}

#[test]
fn an_unusable_store_directory_is_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    for (name, path) in [
        ("below a file", file.join("store")),
        ("a file", file.clone()),
    ] {
        let err = SqliteStore::open_trusted(&path).err();
        assert!(
            matches!(&err, Some(StoreError::Unreadable { path: p, .. }) if *p == path.display().to_string()),
            "{name}: {err:?}"
        );
    }
}
