//! [`KeyStore`] on an embedded SQLite database (`<dir>/keyshift.db`).
//!
//! - WAL journal, `synchronous = FULL`, foreign keys on, `busy_timeout`
//!   (10 s by default; a lock held longer surfaces as [`StoreError::Busy`]).
//! - Every write runs in `BEGIN IMMEDIATE`, so writers from any number of
//!   processes serialize and readers (WAL snapshots) never see half a change.
//! - Inside one process the connection sits behind a `Mutex`.
//! - The schema is created / migrated on open under a write lock and
//!   versioned with `PRAGMA user_version`.
//! - [`SqliteStore::open_trusted`] also applies the master-key rule (see
//!   `trust.rs`) in that same transaction, before any migration: a
//!   store that is not new opens only with its own master key, and a
//!   refused open writes nothing.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::store::crypto::SecretKey32;
use crate::store::sqlite_trust::{self, SqliteTrustView};
use crate::store::sqlite_tx::SqliteTx;
use crate::store::traits::{KeyStore, StoreReader, StoreTx};
use crate::store::trust::{self, MasterSource};
use crate::store::{StoreError, StoreResult};

/// File name of the database inside the store directory.
pub const DB_FILE: &str = "keyshift.db";
/// Schema version written to `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 5;
/// Default time a writer waits for another process's lock.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA_V1: &str = include_str!("schema.sql");
/// Version 2: `store_meta`, holding the master key's check value.
const MIGRATE_V2: &str = "CREATE TABLE store_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);";

/// A store opened by [`SqliteStore::open_trusted`].
pub struct TrustedStore {
    /// The store.
    pub store: SqliteStore,
    /// Its master key, verified against the store (or just created with it).
    pub master: SecretKey32,
    /// Problems to tell the user about (open permissions); not errors.
    pub warnings: Vec<String>,
}

/// The embedded SQLite key store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    busy_timeout: Duration,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `<dir>/keyshift.db`; `dir` must exist.
    /// The master key is not looked at: production code opens a store
    /// through [`SqliteStore::open_trusted`].
    pub fn open(dir: &Path) -> StoreResult<Self> {
        Self::open_with_timeout(dir, DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`SqliteStore::open`] with a custom lock wait.
    pub fn open_with_timeout(dir: &Path, busy_timeout: Duration) -> StoreResult<Self> {
        let store = Self::connect(dir, busy_timeout)?;
        store.configure_with_retry(None)?;
        Ok(store)
    }

    /// Opens the store at `dir` (creating the directory, mode 0700, when it
    /// does not exist) together with its master key `<dir>/master.key`.
    /// A master key is created only with a new, empty store; a store
    /// holding data opens only with the master key it was created with.
    pub fn open_trusted(dir: &Path) -> StoreResult<TrustedStore> {
        Self::open_trusted_with_timeout(dir, DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`SqliteStore::open_trusted`] with a custom lock wait.
    pub fn open_trusted_with_timeout(
        dir: &Path,
        busy_timeout: Duration,
    ) -> StoreResult<TrustedStore> {
        let key = dir.join(crate::store::crypto::MASTER_KEY_FILE);
        Self::open_trusted_with(dir, MasterSource::File(&key), busy_timeout)
    }

    /// Like [`SqliteStore::open_trusted`] with the master key from `source`
    /// (a named key file, or a wrapped key kept in the store).
    pub(crate) fn open_trusted_with(
        dir: &Path,
        source: MasterSource<'_>,
        busy_timeout: Duration,
    ) -> StoreResult<TrustedStore> {
        prepare_dir(dir)?;
        let mut warnings = crate::store::master_key::permission_warnings(dir);
        if let MasterSource::File(path) = source {
            if path != dir.join(crate::store::crypto::MASTER_KEY_FILE) {
                warnings.extend(crate::store::master_key::key_file_warnings(path));
            }
        }
        let store = Self::connect(dir, busy_timeout)?;
        let master = store
            .configure_with_retry(Some((dir, source)))?
            .ok_or_else(|| StoreError::database("the master key was not resolved"))?;
        Ok(TrustedStore {
            store,
            master,
            warnings,
        })
    }

    fn connect(dir: &Path, busy_timeout: Duration) -> StoreResult<Self> {
        let path = dir.join(DB_FILE);
        // Create the file private (0600) before SQLite does with its default mode.
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StoreError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        Ok(SqliteStore {
            conn: Mutex::new(Connection::open(&path).map_err(|e| db_err(e, busy_timeout))?),
            path,
            busy_timeout,
        })
    }

    /// [`Self::configure`], retried until the busy timeout: when several
    /// processes open a fresh store at once, SQLite answers some first-open
    /// lock conflicts (switching the journal to WAL while another connection
    /// holds a lock it would deadlock on) with an immediate `SQLITE_BUSY`
    /// that its busy handler never retries. Every step is idempotent.
    fn configure_with_retry(
        &self,
        trust: Option<(&Path, MasterSource<'_>)>,
    ) -> StoreResult<Option<SecretKey32>> {
        let deadline = std::time::Instant::now() + self.busy_timeout;
        loop {
            match self.configure(trust) {
                Err(StoreError::Busy(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                result => return result,
            }
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pragmas, then in one write transaction: the master-key rule (when
    /// `trust` names the store directory and key source), the schema, the
    /// check value.
    fn configure(
        &self,
        trust: Option<(&Path, MasterSource<'_>)>,
    ) -> StoreResult<Option<SecretKey32>> {
        let t = self.busy_timeout;
        let mut conn = self.lock();
        conn.busy_timeout(t).map_err(|e| db_err(e, t))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| db_err(e, t))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::database(format!(
                "cannot enable WAL journal (got {mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| db_err(e, t))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| db_err(e, t))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(e, t))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_err(e, t))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::database(format!(
                "store schema version {version} is newer than this binary supports ({SCHEMA_VERSION}); upgrade keyshift"
            )));
        }
        let trust = trust
            .map(|(dir, source)| {
                let mut view = SqliteTrustView {
                    tx: &tx,
                    version,
                    timeout: t,
                };
                trust::examine(&mut view, source, &dir.display().to_string())
            })
            .transpose()?;
        migrate(&tx, version, t)?;
        if let Some(trust) = &trust {
            sqlite_trust::record(&tx, trust, t)?;
        }
        tx.commit().map_err(|e| db_err(e, t))?;
        Ok(trust.map(|t| t.master))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic inside a closure rolled its transaction back on unwind, so
        // the connection is still usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl KeyStore for SqliteStore {
    fn read(&self, f: &mut dyn FnMut(&dyn StoreReader) -> StoreResult<()>) -> StoreResult<()> {
        let t = self.busy_timeout;
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| db_err(e, t))?;
        f(&SqliteTx {
            conn: &tx,
            timeout: t,
        })?;
        tx.commit().map_err(|e| db_err(e, t))
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>) -> StoreResult<()> {
        let t = self.busy_timeout;
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(e, t))?;
        // On error `tx` is dropped here, which rolls everything back.
        f(&mut SqliteTx {
            conn: &tx,
            timeout: t,
        })?;
        tx.commit().map_err(|e| db_err(e, t))
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// Brings the schema from `version` to [`SCHEMA_VERSION`], one idempotent
/// step per version, inside the caller's transaction.
fn migrate(tx: &rusqlite::Transaction<'_>, version: i64, t: Duration) -> StoreResult<()> {
    let mut v = version;
    if v == 0 {
        tx.execute_batch(SCHEMA_V1).map_err(|e| db_err(e, t))?;
        v = 1;
    }
    if v == 1 {
        tx.execute_batch(MIGRATE_V2).map_err(|e| db_err(e, t))?;
        v = 2;
    }
    if v == 2 {
        // Break-glass grants (see sqlite_break_glass.rs).
        tx.execute_batch(crate::store::sqlite_break_glass::MIGRATE_BREAK_GLASS)
            .map_err(|e| db_err(e, t))?;
        v = 3;
    }
    if v == 3 {
        tx.execute_batch(crate::store::sqlite_migration_runs::MIGRATE_V4)
            .map_err(|e| db_err(e, t))?;
        v = 4;
    }
    if v == 4 {
        // Tombstones of objects store moves took out (see sqlite_tombstones.rs).
        tx.execute_batch(crate::store::sqlite_tombstones::MIGRATE_V5)
            .map_err(|e| db_err(e, t))?;
        v = 5;
    }
    if v != version {
        tx.pragma_update(None, "user_version", v)
            .map_err(|e| db_err(e, t))?;
    }
    Ok(())
}

/// Why `dir` holds no key store one could open without creating it (`does
/// not exist`, `holds no key store (keyshift.db not found)`, `cannot be
/// read: ...`), or `None` when its database is there. For callers that must
/// not create a store (the CLI, a preflight's target store).
pub(crate) fn missing_store(dir: &Path) -> Option<String> {
    let db = dir.join(DB_FILE);
    let not_found = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    match fs::metadata(&db) {
        Ok(m) if m.is_file() => None,
        Ok(_) => Some(format!("is unusable ({DB_FILE} is not a regular file)")),
        Err(e) if not_found(&e) => Some(match fs::metadata(dir) {
            Ok(m) if m.is_dir() => format!("holds no key store ({DB_FILE} not found)"),
            Ok(_) => "is not a directory".to_string(),
            Err(e) if not_found(&e) => "does not exist".to_string(),
            Err(e) => format!("cannot be read: {e}"),
        }),
        Err(e) => Some(format!("cannot be read: {e}")),
    }
}

/// The store directory: created (0700, with its parents) when missing;
/// an existing one must be a readable directory.
fn prepare_dir(dir: &Path) -> StoreResult<()> {
    use std::os::unix::fs::DirBuilderExt;
    let unreadable = |error| StoreError::Unreadable {
        path: dir.display().to_string(),
        error,
    };
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => fs::read_dir(dir).map(drop).map_err(unreadable),
        Ok(_) => Err(unreadable(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it is not a directory",
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(unreadable),
        Err(e) => Err(unreadable(e)),
    }
}

pub(super) fn db_err(e: rusqlite::Error, timeout: Duration) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(format!(
            "gave up after waiting {}s for the write lock ({e})",
            timeout.as_secs_f32()
        )),
        _ => StoreError::database_source(e.to_string(), e),
    }
}

#[cfg(test)]
mod tests {
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
}
