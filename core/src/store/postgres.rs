//! [`KeyStore`] on a shared PostgreSQL database: one store for every CI
//! runner and laptop of a team.
//!
//! # The client crate
//!
//! The store trait is synchronous (closures run inside one transaction and
//! may be re-run), so this backend uses the synchronous `postgres` crate
//! (rust-postgres): it is the reference PostgreSQL client for Rust, speaks
//! the wire protocol itself (no libpq to install), accepts libpq-style URLs
//! and SQLSTATE codes, and is a thin blocking wrapper over `tokio-postgres`,
//! whose tokio runtime the project already builds. An async client
//! (`tokio-postgres` with a pool, `sqlx`) would force every trait method to
//! block on a runtime anyway, and `sqlx` brings its own query macros and
//! migration system for what is a dozen tables here. Each client owns a
//! small current-thread runtime: it must be used from a thread that may
//! block (a plain thread, or tokio's `spawn_blocking`, which is how the
//! provider calls the store) and never from inside an async task; dropping
//! connections is moved off the caller's thread for that reason.
//!
//! # Transactions and concurrency
//!
//! - Every [`KeyStore::write`] is one transaction whose first statement
//!   takes `LOCK TABLE ks_write_lock IN EXCLUSIVE MODE`: writers from any
//!   number of processes run one at a time, each sees every earlier commit,
//!   and so quota checks, unique names and alias re-pointing stay exact (the
//!   same guarantee as SQLite's `BEGIN IMMEDIATE`). Because the lock already
//!   makes writers serial, the transaction runs at `READ COMMITTED` (every
//!   statement sees all commits made before the lock was granted);
//!   `SERIALIZABLE` would add predicate-lock bookkeeping to every statement
//!   (measured: about 15% of a bulk import) without adding a guarantee.
//!   Plain reads are never blocked by that lock, and a
//!   [`KeyStore::try_write`] asks for it with `NOWAIT`: held by another
//!   writer, it returns at once without running its closure.
//! - A serialization failure or deadlock (SQLSTATE `40001`, `40P01`) re-runs
//!   the whole closure, at most [`MAX_ATTEMPTS`] times with a growing,
//!   jittered pause; waiting for the lock longer than the lock timeout (10 s
//!   by default, `lock_timeout`) is [`StoreError::Busy`].
//! - [`KeyStore::read`] is one `REPEATABLE READ READ ONLY` transaction (a
//!   consistent snapshot).
//! - A writer that dies mid-transaction (process killed, connection lost)
//!   leaves nothing: the server rolls its transaction back.
//! - The schema is created / migrated on open, idempotently, under the same
//!   lock (see `postgres_schema.rs`), together with the master-key rule.
//!
//! TLS follows libpq's `sslmode` / `sslrootcert` URL parameters (see
//! `postgres_tls.rs`). Error messages name the store by its
//! [`StoreLocation`] text, which never shows the password.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::crypto::SecretKey32;
use crate::store::postgres_tx::PgTx;
use crate::store::traits::{KeyStore, StoreReader, StoreTx};
use crate::store::trust::MasterSource;
use crate::store::{StoreError, StoreLocation, StoreResult};
use crate::store::{location_text, postgres_tls};

pub use crate::store::postgres_test_support as test_support;

/// Default time a writer waits for another writer's lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a write is attempted when it hits a serialization
/// failure or deadlock.
pub const MAX_ATTEMPTS: u32 = 6;
/// Idle connections kept for reuse per store handle.
const MAX_IDLE: usize = 4;
/// Default connect timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One pooled connection with its prepared statements.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) stmts: HashMap<String, Statement>,
}

/// The shared PostgreSQL key store.
pub struct PostgresStore {
    config: postgres::Config,
    connector: MakeRustlsConnect,
    location: StoreLocation,
    lock_timeout: Duration,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location.to_string())
            .finish()
    }
}

/// A store opened by [`PostgresStore::open_trusted`].
pub struct TrustedPgStore {
    /// The store.
    pub store: PostgresStore,
    /// Its master key, verified against the store (or just created with it).
    pub master: SecretKey32,
}

impl PostgresStore {
    /// Connects to the database at `url` and creates / migrates the schema.
    /// The master key is not looked at: production code opens a store
    /// through [`crate::store::open`].
    pub fn open(url: &str) -> StoreResult<Self> {
        Self::open_with_timeout(url, DEFAULT_LOCK_TIMEOUT)
    }

    /// Like [`PostgresStore::open`] with a custom lock wait.
    pub fn open_with_timeout(url: &str, lock_timeout: Duration) -> StoreResult<Self> {
        let store = Self::connect(url, lock_timeout)?;
        store.setup(true, None)?;
        Ok(store)
    }

    /// Opens the store at `url` with its master key from `source`: a key
    /// is created only with a new, empty store; a store holding data opens
    /// only with the master key it was created with (checked against the
    /// check value kept in the database), and a refused open writes nothing.
    /// Without `create`, a database holding no store is `NoStore`.
    pub(crate) fn open_trusted(
        url: &str,
        source: MasterSource<'_>,
        create: bool,
        lock_timeout: Duration,
    ) -> StoreResult<TrustedPgStore> {
        let store = Self::connect(url, lock_timeout)?;
        let master = store
            .setup(create, Some(source))?
            .ok_or_else(|| StoreError::database("the master key was not resolved"))?;
        Ok(TrustedPgStore { store, master })
    }

    /// Parses `url` and checks that the server answers (no schema work).
    fn connect(url: &str, lock_timeout: Duration) -> StoreResult<Self> {
        let location = StoreLocation::Postgres(url.to_string());
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let url = location_text::client_url(url).map_err(|why| StoreError::Invalid {
            field: "store",
            message: format!("{location} is not a valid PostgreSQL connection string: {why}"),
        })?;
        let (client_url, tls) = postgres_tls::split(&url, home.as_deref())?;
        let connector = postgres_tls::connector(&tls)?;
        let mut config: postgres::Config = client_url.parse().map_err(|e| StoreError::Invalid {
            field: "store",
            message: format!("{location} is not a usable PostgreSQL URL: {e}"),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("keyshift");
        }
        let store = PostgresStore {
            config,
            connector,
            location,
            lock_timeout,
            idle: Mutex::new(Vec::new()),
        };
        let conn = store.checkout()?;
        store.checkin(conn);
        Ok(store)
    }

    /// Where the store lives (password redacted when shown).
    pub fn store_location(&self) -> &StoreLocation {
        &self.location
    }

    /// The configured lock timeout.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    fn setup(
        &self,
        create: bool,
        trust: Option<MasterSource<'_>>,
    ) -> StoreResult<Option<SecretKey32>> {
        let mut conn = self.checkout()?;
        let setup = crate::store::postgres_schema::Setup {
            create,
            trust,
            location: self.location.to_string(),
            lock_timeout: self.lock_timeout,
        };
        let result = crate::store::postgres_schema::setup(&mut conn.client, &setup);
        self.checkin(conn);
        result
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An idle connection, or a new one.
    pub(crate) fn checkout(&self) -> StoreResult<Conn> {
        loop {
            let Some(conn) = self.idle().pop() else {
                break;
            };
            if !conn.client.is_closed() {
                return Ok(conn);
            }
            discard(vec![conn]);
        }
        let client = self.config.connect(self.connector.clone()).map_err(|e| {
            let message = format!("cannot connect to the key store {}: {e}", self.location);
            if unreachable(&e) {
                StoreError::unreachable(message, e)
            } else {
                StoreError::database_source(message, e)
            }
        })?;
        Ok(Conn {
            client,
            stmts: HashMap::new(),
        })
    }

    /// Returns a connection for reuse (a broken one is dropped).
    pub(crate) fn checkin(&self, conn: Conn) {
        if conn.client.is_closed() {
            return discard(vec![conn]);
        }
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        } else {
            drop(idle);
            discard(vec![conn]);
        }
    }

    /// One attempt of a transaction; `Err((retryable, error))` on failure.
    fn attempt(
        &self,
        begin: &str,
        run: &mut dyn FnMut(&mut PgTx<'_>) -> StoreResult<()>,
    ) -> Result<(), (bool, StoreError)> {
        let mut conn = self.checkout().map_err(|e| (false, e))?;
        let outcome = {
            let mut tx = PgTx::new(&mut conn, self.lock_timeout);
            let began = tx.batch(begin);
            // A pooled connection the server has since closed (restart,
            // idle timeout) fails before the closure ran: try a fresh one.
            let stale = began.is_err() && tx.is_closed();
            let r = began.and_then(|()| run(&mut tx)).and_then(|()| tx.finish());
            let retry = tx.retryable() || stale;
            if r.is_err() {
                tx.rollback();
            }
            r.map_err(|e| (retry, e))
        };
        self.checkin(conn);
        outcome
    }

    /// Runs `run` in transactions started by `begin`, retrying
    /// serialization failures and deadlocks.
    fn transact(
        &self,
        begin: &str,
        run: &mut dyn FnMut(&mut PgTx<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(begin, run) {
                Ok(()) => return Ok(()),
                Err((true, _)) if attempt < MAX_ATTEMPTS => std::thread::sleep(backoff(attempt)),
                Err((true, e)) => {
                    return Err(StoreError::Busy(format!(
                        "gave up after {attempt} attempts that conflicted with concurrent writers ({e})"
                    )));
                }
                Err((false, e)) => return Err(e),
            }
        }
    }
}

/// The pause before attempt `attempt + 1`: 10 ms doubling, with jitter.
fn backoff(attempt: u32) -> Duration {
    let base = 10u64.saturating_mul(1 << attempt.min(6));
    let mut r = [0u8; 1];
    let jitter = crate::store::crypto::random_fill(&mut r).map_or(0, |()| u64::from(r[0]) % base);
    Duration::from_millis(base + jitter)
}

/// Drops connections on a thread of their own: a client's drop blocks on
/// its runtime, which panics inside an async task.
fn discard(conns: Vec<Conn>) {
    if conns.is_empty() {
        return;
    }
    if tokio::runtime::Handle::try_current().is_ok() {
        let spawned = std::thread::Builder::new()
            .name("keyshift-pg-close".into())
            .spawn(move || drop(conns));
        // Without a thread the connections are leaked (the server closes
        // them when the process ends) rather than dropped here.
        if let Err(e) = spawned {
            tracing::debug!("could not close PostgreSQL connections: {e}");
        }
    } else {
        drop(conns);
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        let conns = std::mem::take(&mut *self.idle());
        discard(conns);
    }
}

/// `BEGIN` of a write: the lock timeout, then the write lock before any
/// other statement (see the module docs for why `READ COMMITTED` is exact);
/// without `wait`, a lock held by another writer fails at once
/// (`lock_not_available`, [`StoreError::Busy`]).
fn begin_write(lock_timeout: Duration, wait: bool) -> String {
    format!(
        "START TRANSACTION ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '{}ms'; \
         LOCK TABLE ks_write_lock IN EXCLUSIVE MODE{}",
        lock_timeout.as_millis().max(1),
        if wait { "" } else { " NOWAIT" }
    )
}

const BEGIN_READ: &str = "START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY";

impl KeyStore for PostgresStore {
    fn read(&self, f: &mut dyn FnMut(&dyn StoreReader) -> StoreResult<()>) -> StoreResult<()> {
        self.transact(BEGIN_READ, &mut |tx| f(tx))
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>) -> StoreResult<()> {
        self.transact(&begin_write(self.lock_timeout, true), &mut |tx| f(tx))
    }

    fn try_write(
        &self,
        f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>,
    ) -> StoreResult<bool> {
        match self.transact(&begin_write(self.lock_timeout, false), &mut |tx| f(tx)) {
            Ok(()) => Ok(true),
            Err(StoreError::Busy(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn location(&self) -> String {
        self.location.to_string()
    }
}

/// Whether a server error is worth re-running the transaction for.
pub(crate) fn is_retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// Whether `e` says the server could not be reached or went away (refused,
/// reset, timed out, closed), as opposed to an answer from the server
/// (authentication, unknown database) or a TLS or configuration problem,
/// which say something the user must fix about the store's settings.
fn unreachable(e: &postgres::Error) -> bool {
    use std::io::ErrorKind as K;
    let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>());
    e.is_closed()
        || io.is_some_and(|io| {
            matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::BrokenPipe
                    | K::TimedOut
                    | K::UnexpectedEof
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
            )
        })
}

/// Maps a client error: a lost connection is `Unreachable`, a lock wait
/// past the timeout `Busy`, a unique violation `AlreadyExists` (`kind`
/// unknown at this level: `object`), the rest `Database` with the error as
/// its source.
pub(crate) fn pg_err(e: postgres::Error, lock_timeout: Duration) -> StoreError {
    if unreachable(&e) {
        return StoreError::unreachable(
            format!("the connection to the key store was lost ({e})"),
            e,
        );
    }
    match e.code() {
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => StoreError::Busy(format!(
            "gave up after waiting {}s for the write lock ({e})",
            lock_timeout.as_secs_f32()
        )),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StoreError::AlreadyExists {
            kind: "object",
            id: e
                .as_db_error()
                .and_then(|d| d.constraint())
                .unwrap_or("unique constraint")
                .to_string(),
        },
        _ => {
            let message = match e.as_db_error() {
                Some(db) => format!("{} ({})", db.message(), db.code().code()),
                None => e.to_string(),
            };
            StoreError::database_source(message, e)
        }
    }
}

#[cfg(test)]
#[path = "postgres_tests.rs"]
mod tests;
