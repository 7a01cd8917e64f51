//! [`KeyStore`] on an embedded SQLite database (`<dir>/keyshift.db`).
//!
//! - WAL journal, `synchronous = FULL`, foreign keys on, `busy_timeout`
//!   (10 s by default; a lock held longer surfaces as [`StoreError::Busy`]).
//! - Every write runs in `BEGIN IMMEDIATE`, so writers from any number of
//!   processes serialize and readers (WAL snapshots) never see half a change.
//! - Reads never take the write lock: each runs a deferred (WAL snapshot)
//!   transaction on a read connection of its own (`query_only`), kept in a
//!   small pool, so neither a writer of another process nor one of this
//!   process (the write connection sits behind a `Mutex`) makes it wait.
//! - The schema is created / migrated on open under a write lock and
//!   versioned with `PRAGMA user_version`; a store whose schema is current
//!   (and, with [`SqliteStore::open_trusted`], whose master key checks out)
//!   opens with a read transaction only.
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
/// Idle read connections kept for reuse per store handle.
const MAX_IDLE_READERS: usize = 4;

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
    /// The write connection.
    conn: Mutex<Connection>,
    /// Idle read connections.
    readers: Mutex<Vec<Connection>>,
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
            readers: Mutex::new(Vec::new()),
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

    /// Pragmas, then the schema and the master-key rule: in a read
    /// transaction when nothing needs writing ([`Self::open_settled`]),
    /// otherwise in one write transaction ([`Self::open_for_write`]).
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
        if let Some(master) = self.open_settled(&mut conn, trust)? {
            return Ok(master);
        }
        self.open_for_write(&mut conn, trust)
    }

    /// The read-only way in: `Some` when the schema is current and the
    /// master-key rule needs no write (see [`trust::examine_settled`]);
    /// `None` when opening must take the write lock.
    fn open_settled(
        &self,
        conn: &mut Connection,
        trust: Option<(&Path, MasterSource<'_>)>,
    ) -> StoreResult<Option<Option<SecretKey32>>> {
        let t = self.busy_timeout;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| db_err(e, t))?;
        let version = schema_version(&tx, t)?;
        if version != SCHEMA_VERSION {
            return Ok(None);
        }
        let master = match trust {
            None => None,
            Some((dir, source)) => {
                let mut view = SqliteTrustView {
                    tx: &tx,
                    version,
                    timeout: t,
                };
                let settled =
                    trust::examine_settled(&mut view, source, &dir.display().to_string())?;
                match settled {
                    Some(master) => Some(master),
                    None => return Ok(None),
                }
            }
        };
        tx.commit().map_err(|e| db_err(e, t))?;
        Ok(Some(master))
    }

    /// In one write transaction: the master-key rule (when `trust` names
    /// the store directory and key source), the schema, the check value.
    fn open_for_write(
        &self,
        conn: &mut Connection,
        trust: Option<(&Path, MasterSource<'_>)>,
    ) -> StoreResult<Option<SecretKey32>> {
        let t = self.busy_timeout;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(e, t))?;
        let version = schema_version(&tx, t)?;
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

impl SqliteStore {
    /// An idle read connection, or a new one (`query_only`: it cannot write).
    fn reader(&self) -> StoreResult<Connection> {
        let t = self.busy_timeout;
        if let Some(conn) = self.idle_readers().pop() {
            return Ok(conn);
        }
        let conn = Connection::open(&self.path).map_err(|e| db_err(e, t))?;
        conn.busy_timeout(t).map_err(|e| db_err(e, t))?;
        conn.pragma_update(None, "query_only", "ON")
            .map_err(|e| db_err(e, t))?;
        Ok(conn)
    }

    fn idle_readers(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in the write transaction `tx`, committed if `f` succeeds.
    fn write_on(
        &self,
        tx: rusqlite::Transaction<'_>,
        f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let t = self.busy_timeout;
        // On error `tx` is dropped here, which rolls everything back.
        f(&mut SqliteTx {
            conn: &tx,
            timeout: t,
        })?;
        tx.commit().map_err(|e| db_err(e, t))
    }
}

impl KeyStore for SqliteStore {
    fn read(&self, f: &mut dyn FnMut(&dyn StoreReader) -> StoreResult<()>) -> StoreResult<()> {
        let t = self.busy_timeout;
        let mut conn = self.reader()?;
        let result = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| db_err(e, t))
            .and_then(|tx| {
                f(&SqliteTx {
                    conn: &tx,
                    timeout: t,
                })?;
                tx.commit().map_err(|e| db_err(e, t))
            });
        let mut idle = self.idle_readers();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>) -> StoreResult<()> {
        let t = self.busy_timeout;
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(e, t))?;
        self.write_on(tx, f)
    }

    fn try_write(
        &self,
        f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>,
    ) -> StoreResult<bool> {
        let t = self.busy_timeout;
        let mut conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(false),
        };
        // No wait for another process's lock: `BEGIN IMMEDIATE` answers
        // `SQLITE_BUSY` at once.
        conn.busy_timeout(Duration::ZERO)
            .map_err(|e| db_err(e, t))?;
        let refused = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => {
                tx.busy_timeout(t).map_err(|e| db_err(e, t))?;
                return self.write_on(tx, f).map(|()| true);
            }
            Err(e) => db_err(e, t),
        };
        conn.busy_timeout(t).map_err(|e| db_err(e, t))?;
        match refused {
            StoreError::Busy(_) => Ok(false),
            other => Err(other),
        }
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// The schema version of the store (`PRAGMA user_version`); one newer than
/// this binary supports is an error.
fn schema_version(tx: &rusqlite::Transaction<'_>, t: Duration) -> StoreResult<i64> {
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| db_err(e, t))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::database(format!(
            "store schema version {version} is newer than this binary supports ({SCHEMA_VERSION}); upgrade keyshift"
        )));
    }
    Ok(version)
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
#[path = "sqlite_tests.rs"]
mod tests;
