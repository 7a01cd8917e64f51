//! Tests of the embedded store: pragmas, schema upgrades, locking, and
//! the conformance suite.

use super::*;
use crate::store::traits::write_with;

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    (dir, s)
}

crate::keystore_conformance_tests!(|| {
    let dir = tempfile::tempdir().unwrap();
    let location = crate::store::StoreLocation::dir(dir.path());
    Some((dir, location))
});

#[test]
fn pragmas_and_schema_version() {
    let (_dir, s) = store();
    let conn = s.lock();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "FULL");
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn db_file_is_private_and_reopen_keeps_data() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, s) = store();
    let mode = fs::metadata(s.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(s);
    let again = SqliteStore::open(dir.path()).unwrap();
    assert!(again.location().ends_with(DB_FILE));
}

/// A version 2 store (before break-glass grants) upgrades in place and
/// keeps its data.
#[test]
fn v2_store_gains_break_glass_grants() {
    let (dir, s) = store();
    write_with(&s, |tx| {
        tx.insert_instance(&crate::store::conformance::sample_instance())
    })
    .unwrap();
    s.lock()
        .execute_batch("DROP TABLE break_glass_grants; PRAGMA user_version = 2;")
        .unwrap();
    drop(s);
    let again = SqliteStore::open(dir.path()).unwrap();
    let v: i64 = again
        .lock()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let grant = crate::store::conformance_break_glass::sample_grant();
    write_with(&again, |tx| tx.insert_grant(&grant)).unwrap();
    assert_eq!(
        crate::store::traits::read_with(&again, |r| r.instances())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn newer_schema_is_refused() {
    let (dir, s) = store();
    s.lock().pragma_update(None, "user_version", 99).unwrap();
    drop(s);
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn lock_held_too_long_is_busy() {
    let (dir, s) = store();
    let other = SqliteStore::open_with_timeout(dir.path(), Duration::from_millis(100)).unwrap();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|sc| {
        sc.spawn(move || {
            write_with(&s, |_tx| {
                held_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(())
            })
            .unwrap();
        });
        held_rx.recv().unwrap();
        let err = write_with(&other, |_tx| Ok(())).unwrap_err();
        assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
        // Readers are not blocked by the writer (WAL).
        crate::store::traits::read_with(&other, |r| r.instances()).unwrap();
        release_tx.send(()).unwrap();
    });
}

/// Several processes (here: connections) creating the same fresh store at
/// once all succeed: SQLite answers some of the first-open lock conflicts
/// (switching to WAL, creating the schema) with an immediate
/// `SQLITE_BUSY` that its busy handler never retries.
#[test]
fn concurrent_first_open_succeeds() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let start = std::sync::Barrier::new(6);
        std::thread::scope(|sc| {
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    sc.spawn(|| {
                        start.wait();
                        SqliteStore::open(dir.path()).map(|_| ())
                    })
                })
                .collect();
            for o in opens {
                o.join().unwrap().unwrap();
            }
        });
    }
}
