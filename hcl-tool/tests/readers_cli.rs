//! Read-only commands (`keyshift key list`, `keyshift decrypt`) with the
//! real binary while another connection holds the store's write lock (as a
//! migration or an apply does): they succeed with the data of the last
//! commit instead of waiting for the writer, on the embedded and on the
//! shared store. A key whose deletion window has passed is not erased while
//! the lock is held (the purge is put off, not waited for) and is erased by
//! the first command after the writer is done. The PostgreSQL case needs
//! `KEYSHIFT_TEST_PG_URL` (`scripts/with-postgres.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, keyshift_stdin, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::store::postgres::test_support::fresh_database;
use keyshift_core::store::{
    Container, KeySpec, KeyUsage, NewKey, OpenOptions, StoreError, StoreLocation, write_with,
};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long the writer holds its lock at most: a bound against hangs, not
/// an expectation (the commands run while it is held, however long they
/// take).
const HOLD_AT_MOST: Duration = Duration::from_secs(120);

/// A store to run against: its `--store` value, the global options the
/// binary needs for it, and an in-process handle.
struct Backend {
    store: PathBuf,
    global: Vec<String>,
    kms: Kms,
}

impl Backend {
    /// `keyshift GLOBAL… ARGS…` on this store with `stdin`.
    fn run(&self, args: &[&str], stdin: &[u8]) -> std::process::Output {
        let mut all: Vec<&str> = self.global.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        keyshift_stdin(&self.store, &all, stdin)
    }

    /// The ids and states `keyshift key list --format json` prints.
    fn listed(&self) -> Vec<(String, String)> {
        listing(&self.run(&["key", "list", "--format", "json"], b""))
    }
}

/// The ids and states in the output of `keyshift key list --format json`.
fn listing(o: &std::process::Output) -> Vec<(String, String)> {
    assert_eq!(code(o), 0, "key list: {}", stderr(o));
    let keys: Json = serde_json::from_str(&stdout(o)).unwrap();
    keys.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let s = |f: &str| k[f].as_str().unwrap().to_string();
            (s("id"), s("state"))
        })
        .collect()
}

fn sqlite_backend(dir: &Path) -> Backend {
    let store = dir.join("store");
    let kms = Kms::open(&store, "test").unwrap();
    Backend {
        store,
        global: Vec::new(),
        kms,
    }
}

fn postgres_backend(dir: &Path, url: &str) -> Backend {
    let key = dir.join("shared-master.key");
    let opts = OpenOptions {
        create: true,
        master_key_file: Some(key.clone()),
        ..OpenOptions::default()
    };
    let kms = Kms::open_location(&StoreLocation::parse(url).unwrap(), &opts, "test")
        .unwrap()
        .0;
    Backend {
        store: PathBuf::from(url),
        global: vec!["--master-key-file".into(), key.display().to_string()],
        kms,
    }
}

/// A key pending deletion whose window ended a day ago.
fn overdue_key(kms: &Kms) -> String {
    let key = kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap();
    kms.schedule_key_deletion(&key.id, Some(7)).unwrap();
    write_with(kms.store(), |tx| {
        let mut k = tx.key(&key.id)?.expect("the key just created");
        k.deletion_date = Some("2000-01-01T00:00:00Z".into());
        tx.update_key(&k)
    })
    .unwrap();
    key.id
}

/// The checks of one backend (see the module docs).
fn reads_while_locked(name: &str, b: &Backend) {
    let key = b
        .kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap();
    let o = b.run(&["encrypt", "--key", &key.id], b"attack at dawn");
    assert_eq!(code(&o), 0, "{name}: encrypt: {}", stderr(&o));
    let ciphertext = stdout(&o);
    let overdue = overdue_key(&b.kms);

    let (held_tx, held_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (list, decrypt, writer) = std::thread::scope(|s| {
        let store = b.kms.store();
        let holder = s.spawn(move || {
            write_with(store, |_tx| {
                held_tx.send(()).unwrap();
                done_rx
                    .recv_timeout(HOLD_AT_MOST)
                    .map_err(|_| StoreError::Conflict("released by timeout".into()))
            })
        });
        held_rx.recv_timeout(HOLD_AT_MOST).unwrap();
        let list = b.run(&["key", "list", "--format", "json"], b"");
        let decrypt = b.run(&["decrypt"], ciphertext.as_bytes());
        done_tx.send(()).unwrap();
        (list, decrypt, holder.join().unwrap())
    });
    writer.unwrap_or_else(|e| {
        panic!("{name}: the writer must still hold its lock after the reads: {e}")
    });
    assert_eq!(code(&decrypt), 0, "{name}: decrypt: {}", stderr(&decrypt));
    assert_eq!(decrypt.stdout, b"attack at dawn", "{name}");
    let listed = listing(&list);
    assert!(
        listed.contains(&(key.id.clone(), "Enabled".into())),
        "{name}: {listed:?}"
    );
    assert!(
        listed.contains(&(overdue.clone(), "PendingDeletion".into())),
        "{name}: the purge is put off while the lock is held: {listed:?}"
    );

    let listed = b.listed();
    assert!(
        listed.iter().all(|(id, _)| *id != overdue),
        "{name}: the overdue key is erased once the lock is free: {listed:?}"
    );
    assert!(listed.iter().any(|(id, _)| *id == key.id), "{name}");
}

#[test]
fn read_only_commands_succeed_while_another_connection_holds_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    reads_while_locked("sqlite", &sqlite_backend(dir.path()));
    if let Some(db) = fresh_database() {
        reads_while_locked("postgres", &postgres_backend(dir.path(), db.url()));
    }
}
