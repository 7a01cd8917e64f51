//! Tests of the PostgreSQL store against the server named by
//! `KEYSHIFT_TEST_PG_URL` (see `postgres_test_support.rs`); each test gets
//! a fresh database.

use super::*;
use crate::store::postgres_test_support::fresh_database;
use crate::store::traits::{read_with, write_with};
use postgres::NoTls;

crate::keystore_conformance_tests!(|| {
    let db = fresh_database()?;
    let location = crate::store::StoreLocation::Postgres(db.url().to_string());
    Some((db, location))
});

fn store_on(db: &crate::store::postgres_test_support::TestDatabase) -> PostgresStore {
    PostgresStore::open(db.url()).unwrap()
}

#[test]
fn schema_is_versioned_and_reopening_is_idempotent() {
    let Some(db) = fresh_database() else { return };
    let s = store_on(&db);
    write_with(&s, |tx| {
        tx.insert_instance(&crate::store::conformance::sample_instance())
    })
    .unwrap();
    drop(s);
    let again = store_on(&db);
    assert_eq!(read_with(&again, |r| r.instances()).unwrap().len(), 1);
    let mut c = postgres::Client::connect(db.url(), NoTls).unwrap();
    let v: Vec<u8> = c
        .query_one(
            "SELECT value FROM store_meta WHERE name = 'schema_version'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        v,
        crate::store::postgres_schema::PG_SCHEMA_VERSION
            .to_string()
            .as_bytes()
    );
    c.batch_execute("UPDATE store_meta SET value = '99' WHERE name = 'schema_version'")
        .unwrap();
    let err = PostgresStore::open(db.url()).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

/// A version 1 store (before tombstones) upgrades in place on open and
/// keeps its data; its tombstones then survive a reopen.
#[test]
fn v1_store_gains_tombstones() {
    let Some(db) = fresh_database() else { return };
    let s = store_on(&db);
    write_with(&s, |tx| {
        tx.insert_instance(&crate::store::conformance::sample_instance())
    })
    .unwrap();
    drop(s);
    let mut c = postgres::Client::connect(db.url(), NoTls).unwrap();
    c.batch_execute(
        "DROP TABLE tombstones; UPDATE store_meta SET value = '1' WHERE name = 'schema_version'",
    )
    .unwrap();
    let t = crate::store::Tombstone {
        kind: crate::store::TombstoneKind::Secret,
        id: "sec-1".into(),
        moved_to: "postgres://ks:***@db/new".into(),
        moved_at: "2026-01-01T00:00:00Z".into(),
        run_id: "mig-1".into(),
    };
    let again = store_on(&db);
    write_with(&again, |tx| tx.put_tombstone(&t)).unwrap();
    drop(again);
    let again = store_on(&db);
    assert_eq!(read_with(&again, |r| r.tombstones()).unwrap(), vec![t]);
    assert_eq!(read_with(&again, |r| r.instances()).unwrap().len(), 1);
}

#[test]
fn concurrent_first_opens_all_succeed() {
    let Some(db) = fresh_database() else { return };
    let start = std::sync::Barrier::new(6);
    std::thread::scope(|sc| {
        let opens: Vec<_> = (0..6)
            .map(|_| {
                sc.spawn(|| {
                    start.wait();
                    PostgresStore::open(db.url()).map(drop)
                })
            })
            .collect();
        for o in opens {
            o.join().unwrap().unwrap();
        }
    });
}

#[test]
fn lock_held_too_long_is_busy_and_reads_go_on() {
    let Some(db) = fresh_database() else { return };
    let s = store_on(&db);
    let other = PostgresStore::open_with_timeout(db.url(), Duration::from_millis(200)).unwrap();
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
        let started = std::time::Instant::now();
        let err = write_with(&other, |_tx| Ok(())).unwrap_err();
        assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
        assert!(err.to_string().contains("busy"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        read_with(&other, |r| r.instances()).unwrap();
        release_tx.send(()).unwrap();
    });
}

/// A serialization failure (SQLSTATE 40001) re-runs the closure; other
/// errors do not.
#[test]
fn serialization_failures_are_retried() {
    let Some(db) = fresh_database() else { return };
    let s = store_on(&db);
    let raise = |code: &str| {
        format!("DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{code}'; END $$")
    };
    let cases = [("40001", true), ("40P01", true), ("23514", false)];
    for (code, retried) in cases {
        let mut runs = 0;
        let r = s.transact(&begin_write(s.lock_timeout, true), &mut |tx| {
            runs += 1;
            if runs == 1 {
                tx.batch(&raise(code))?;
            }
            Ok(())
        });
        if retried {
            assert!(r.is_ok(), "{code}: {r:?}");
            assert_eq!(runs, 2, "{code}");
        } else {
            assert!(matches!(r, Err(StoreError::Database(_))), "{code}: {r:?}");
            assert_eq!(runs, 1, "{code}");
        }
    }
    let mut runs = 0;
    let r = s.transact(&begin_write(s.lock_timeout, true), &mut |tx| {
        runs += 1;
        tx.batch(&raise("40001"))
    });
    assert!(matches!(r, Err(StoreError::Busy(_))), "{r:?}");
    assert_eq!(runs, MAX_ATTEMPTS);
}

/// The provider calls the store from tokio's `spawn_blocking` threads and
/// may drop it inside an async task.
#[test]
fn works_from_spawn_blocking_and_drops_inside_async_code() {
    let Some(db) = fresh_database() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = std::sync::Arc::new(store_on(&db));
    rt.block_on(async {
        let mut jobs = Vec::new();
        for _ in 0..4 {
            let s = store.clone();
            jobs.push(tokio::task::spawn_blocking(move || {
                let inst = crate::store::conformance::sample_instance();
                write_with(&*s, |tx| tx.insert_instance(&inst))?;
                read_with(&*s, |r| r.instances()).map(|v| v.len())
            }));
        }
        for j in jobs {
            assert!(j.await.unwrap().unwrap() >= 1);
        }
        // The last handle goes away on an async worker thread.
        tokio::spawn(async move { drop(store) }).await.unwrap();
    });
}

#[test]
fn a_failed_statement_swallowed_by_the_closure_commits_nothing() {
    let Some(db) = fresh_database() else { return };
    let s = store_on(&db);
    let inst = crate::store::conformance::sample_instance();
    let r = s.transact(&begin_write(s.lock_timeout, true), &mut |tx| {
        tx.insert_instance(&inst)?;
        let _ = tx.batch("SELECT no_such_column FROM instances");
        Ok(())
    });
    assert!(matches!(r, Err(StoreError::Database(_))), "{r:?}");
    assert!(read_with(&s, |r| r.instance(&inst.id)).unwrap().is_none());
}

#[test]
fn errors_never_show_the_password() {
    let cases = [
        ("refused", "postgres://ks:s3cret-pw@127.0.0.1:1/keyshift"),
        (
            "bad option",
            "postgres://ks:s3cret-pw@127.0.0.1/keyshift?nonsense=1",
        ),
    ];
    for (name, url) in cases {
        let err = PostgresStore::open(url).unwrap_err();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&s.to_string());
            source = s.source();
        }
        assert!(!text.contains("s3cret-pw"), "{name}: {text}");
        assert!(
            text.contains("127.0.0.1"),
            "{name}: names the server: {text}"
        );
    }
}

#[test]
fn database_errors_keep_their_source() {
    let Some(db) = fresh_database() else { return };
    let s = store_on(&db);
    let err = s
        .transact(BEGIN_READ, &mut |tx| {
            tx.batch("SELECT * FROM no_such_table")
        })
        .unwrap_err();
    let db = std::error::Error::source(&err).expect("a source");
    let source = db.source().expect("the backend error");
    let pg = source
        .downcast_ref::<postgres::Error>()
        .expect("the postgres error");
    assert_eq!(pg.code(), Some(&SqlState::UNDEFINED_TABLE));
    assert!(err.to_string().contains("no_such_table"), "{err}");
}

/// A pooled connection the server closed (restart, idle timeout) is
/// replaced transparently.
#[test]
fn a_connection_closed_by_the_server_is_replaced() {
    let Some(db) = fresh_database() else { return };
    let s = store_on(&db);
    read_with(&s, |r| r.instances()).unwrap();
    let mut admin = postgres::Client::connect(db.url(), NoTls).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the pooled connection was terminated");
    std::thread::sleep(Duration::from_millis(100));
    let inst = crate::store::conformance::sample_instance();
    write_with(&s, |tx| tx.insert_instance(&inst)).unwrap();
    assert!(read_with(&s, |r| r.instance(&inst.id)).unwrap().is_some());
}
