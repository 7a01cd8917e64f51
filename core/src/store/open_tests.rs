//! `store::open`: the master-key rule on both backends, a named key file,
//! and a master key wrapped by a [`RootKeyWrapper`] (a fake one here, an
//! AWS KMS key in production).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::store::crypto::{KEY_LEN, MasterKeyWrapper};
use crate::store::postgres_test_support::{TestDatabase, fresh_database};
use crate::store::traits::{read_with, write_with};

/// A stand-in for an AWS KMS key: wraps with a fixed in-memory key.
fn fake_kms(byte: u8) -> Arc<dyn RootKeyWrapper> {
    Arc::new(MasterKeyWrapper::from_key(
        SecretKey32::from_slice(&[byte; KEY_LEN]).unwrap(),
    ))
}

fn opts(
    create: bool,
    file: Option<&Path>,
    wrapper: Option<Arc<dyn RootKeyWrapper>>,
) -> OpenOptions {
    OpenOptions {
        create,
        master_key_file: file.map(Path::to_path_buf),
        master_key_wrapper: wrapper,
    }
}

/// Gives the store data (an instance), making it established.
fn add_data(opened: &OpenedStore) {
    let inst = crate::store::conformance::sample_instance();
    write_with(&*opened.store, |tx| tx.insert_instance(&inst)).unwrap();
}

fn instances(opened: &OpenedStore) -> usize {
    read_with(&*opened.store, |r| r.instances()).unwrap().len()
}

/// The rule, run against one backend's location: a named key file is
/// created 0600 with a new store, reopens, and a missing or different key
/// is refused without writing.
fn named_key_file_rule(location: &StoreLocation, key_dir: &Path) {
    let key: PathBuf = key_dir.join("team.key");
    let first = open(&location.clone(), &opts(true, Some(&key), None)).unwrap();
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read(&key).unwrap(), first.master.bytes().to_vec());
    add_data(&first);
    drop(first);
    let again = open(location, &opts(false, Some(&key), None)).unwrap();
    assert_eq!(instances(&again), 1);
    drop(again);

    let original = std::fs::read(&key).unwrap();
    let cases: Vec<(&str, Option<[u8; KEY_LEN]>)> =
        vec![("missing", None), ("another key", Some([3u8; KEY_LEN]))];
    for (name, replacement) in cases {
        match replacement {
            None => std::fs::remove_file(&key).unwrap(),
            Some(k) => std::fs::write(&key, k).unwrap(),
        }
        let err = open(location, &opts(true, Some(&key), None)).err();
        match (name, &err) {
            ("missing", Some(StoreError::MasterKeyMissing { path, dir }))
            | ("another key", Some(StoreError::MasterKeyMismatch { path, dir })) => {
                assert_eq!(path, &key.display().to_string(), "{name}");
                assert_eq!(dir, &location.to_string(), "{name}");
            }
            _ => panic!("{location}: {name}: {err:?}"),
        }
        assert_eq!(
            std::fs::read(&key).ok(),
            replacement.map(|k| k.to_vec()),
            "{name}: the key file was touched"
        );
        std::fs::write(&key, &original).unwrap();
    }
    let back = open(location, &opts(false, Some(&key), None)).unwrap();
    assert_eq!(instances(&back), 1, "nothing was lost or added");
}

/// A master key wrapped by a (fake) KMS key: the blob lives in the store,
/// the same wrapper reopens it, another one or none does not.
fn wrapped_master_key_rule(location: &StoreLocation, key_dir: &Path) {
    let first = open(location, &opts(true, None, Some(fake_kms(1)))).unwrap();
    add_data(&first);
    let master = *first.master.bytes();
    drop(first);
    let again = open(location, &opts(false, None, Some(fake_kms(1)))).unwrap();
    assert_eq!(again.master.bytes(), &master);
    drop(again);
    let err = open(location, &opts(false, None, Some(fake_kms(2)))).err();
    assert!(
        matches!(err, Some(StoreError::MasterKeyMismatch { .. })),
        "{location}: {err:?}"
    );
    // Without the wrapper the store wants a key file it never had.
    let err = open(
        location,
        &opts(false, Some(&key_dir.join("none.key")), None),
    )
    .err();
    assert!(
        matches!(err, Some(StoreError::MasterKeyMissing { .. })),
        "{location}: {err:?}"
    );
    assert!(!key_dir.join("none.key").exists(), "no key file is created");
    let both = opts(true, Some(&key_dir.join("x.key")), Some(fake_kms(1)));
    let err = open(location, &both).err();
    assert!(
        matches!(
            err,
            Some(StoreError::Invalid {
                field: "master_key_file",
                ..
            })
        ),
        "{err:?}"
    );
}

fn pg_location(db: &TestDatabase) -> StoreLocation {
    StoreLocation::Postgres(db.url().to_string())
}

#[test]
fn sqlite_named_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    named_key_file_rule(&StoreLocation::dir(&store), dir.path());
    assert!(
        !store.join(crate::store::crypto::MASTER_KEY_FILE).exists(),
        "no master.key beside the database when a file is named"
    );
}

#[test]
fn sqlite_wrapped_master_key() {
    let dir = tempfile::tempdir().unwrap();
    wrapped_master_key_rule(&StoreLocation::dir(&dir.path().join("s")), dir.path());
}

#[test]
fn postgres_named_key_file() {
    let Some(db) = fresh_database() else { return };
    let keys = tempfile::tempdir().unwrap();
    named_key_file_rule(&pg_location(&db), keys.path());
}

#[test]
fn postgres_wrapped_master_key() {
    let Some(db) = fresh_database() else { return };
    let keys = tempfile::tempdir().unwrap();
    wrapped_master_key_rule(&pg_location(&db), keys.path());
}

#[test]
fn postgres_needs_a_named_master_key_and_an_existing_store() {
    let Some(db) = fresh_database() else { return };
    let loc = pg_location(&db);
    let err = open(&loc, &opts(true, None, None)).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "master_key_file",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--master-key-file"), "{err}");
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("k");
    let err = open(&loc, &opts(false, Some(&key), None)).err().unwrap();
    assert!(matches!(err, StoreError::NoStore { .. }), "{err:?}");
    assert!(
        !key.exists(),
        "no key file for a store that was not created"
    );
    let mut c = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let tables: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "a refused open creates no tables");
}

/// Many processes (here: threads) opening one fresh shared store with one
/// named key file agree on one master key.
#[test]
fn postgres_concurrent_first_opens_agree_on_one_master_key() {
    let Some(db) = fresh_database() else { return };
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("k");
    let loc = pg_location(&db);
    let start = std::sync::Barrier::new(5);
    let got: Vec<[u8; KEY_LEN]> = std::thread::scope(|sc| {
        let opens: Vec<_> = (0..5)
            .map(|_| {
                sc.spawn(|| {
                    start.wait();
                    *open(&loc, &opts(true, Some(&key), None))
                        .unwrap()
                        .master
                        .bytes()
                })
            })
            .collect();
        opens.into_iter().map(|o| o.join().unwrap()).collect()
    });
    assert!(got.windows(2).all(|w| w[0] == w[1]));
}

/// The key service on the shared store: a key created through one opening
/// still decrypts through another (a second runner with the same key file).
#[test]
fn postgres_kms_round_trip_across_openings() {
    use crate::engine::Kms;
    use crate::store::{Container, KeySpec, KeyUsage, NewKey};
    let Some(db) = fresh_database() else { return };
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("team.key");
    let loc = pg_location(&db);
    let o = opts(true, Some(&key), None);
    let (kms, _) = Kms::open_location(&loc, &o, "test").unwrap();
    let k = kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap();
    let ct = kms.encrypt(&k.id, b"shared secret").unwrap();
    drop(kms);
    let (other, _) = Kms::open_location(&loc, &opts(false, Some(&key), None), "test").unwrap();
    assert_eq!(other.decrypt(&ct).unwrap().as_slice(), b"shared secret");
    assert_eq!(other.get_key(&k.id).unwrap().id, k.id);
}

/// Measures creating keys through the key service on both backends
/// (`cargo test --release -p keyshift-core --lib -- --ignored --nocapture
/// measure_key_creation`, under scripts/with-postgres.sh).
#[test]
#[ignore]
fn measure_key_creation() {
    use crate::engine::Kms;
    use crate::store::{Container, KeySpec, KeyUsage, NewKey};
    let n = 1000;
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database() else { return };
    let key = dir.path().join("pg.key");
    let cases = [
        (
            "sqlite",
            StoreLocation::dir(&dir.path().join("s")),
            opts(true, None, None),
        ),
        ("postgres", pg_location(&db), opts(true, Some(&key), None)),
    ];
    for (name, loc, o) in cases {
        let (kms, _) = Kms::open_location(&loc, &o, "bench").unwrap();
        let start = std::time::Instant::now();
        for _ in 0..n {
            kms.create_key(NewKey::new(
                Container::Shared,
                KeySpec::Aes256,
                KeyUsage::EncryptDecrypt,
            ))
            .unwrap();
        }
        let e = start.elapsed();
        eprintln!(
            "{name}: {n} keys in {:.2}s ({:.0} keys/s)",
            e.as_secs_f64(),
            f64::from(n) / e.as_secs_f64()
        );
    }
}
