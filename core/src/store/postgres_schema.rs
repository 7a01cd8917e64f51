//! Schema of the PostgreSQL store, created / migrated on open.
//!
//! An established store whose schema is current and whose master key
//! checks out ([`trust::examine_settled`]) opens in one `READ ONLY`
//! transaction: opening never waits for a writer. Otherwise one write
//! transaction does it all, under a transaction-level advisory lock
//! (so concurrent first opens from many processes do not race on `CREATE
//! TABLE`) and the store's write lock: read the `schema_version` row of
//! `store_meta`, apply the master-key rule (`trust.rs`) before any change,
//! create or migrate the tables (one idempotent step per version), store
//! the rule's rows, commit. A refused open (newer schema, wrong master key)
//! rolls everything back.

use std::time::Duration;

use postgres::{Client, IsolationLevel, Transaction};

use crate::store::crypto::SecretKey32;
use crate::store::postgres::pg_err;
use crate::store::trust::{self, CHECK_ROW, MasterSource, TrustView, WRAPPED_ROW};
use crate::store::{StoreError, StoreResult};

/// The schema version this build writes (row `schema_version` of `store_meta`).
pub const PG_SCHEMA_VERSION: i64 = 2;
/// Version 1: every table of the embedded store's schema version 4.
const SCHEMA_V1: &str = include_str!("postgres_schema.sql");
/// The row holding the schema version.
const VERSION_ROW: &str = "schema_version";
/// Advisory lock id serializing schema setup ("keyshift" in ASCII).
const SETUP_LOCK: i64 = 0x6b65_7973_6869_6674;

/// What opening should do about the schema and the master key.
pub(crate) struct Setup<'a> {
    /// Create the store when the database holds none.
    pub(crate) create: bool,
    /// Apply the master-key rule with this key source.
    pub(crate) trust: Option<MasterSource<'a>>,
    /// The store's location, for messages (password redacted).
    pub(crate) location: String,
    /// How long to wait for another process's locks.
    pub(crate) lock_timeout: Duration,
}

/// Creates / migrates the schema; returns the verified master key when
/// `setup.trust` asked for one.
pub(crate) fn setup(client: &mut Client, setup: &Setup<'_>) -> StoreResult<Option<SecretKey32>> {
    if let Some(master) = settled(client, setup)? {
        return Ok(master);
    }
    let t = setup.lock_timeout;
    let mut tx = client.transaction().map_err(|e| pg_err(e, t))?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'; SELECT pg_advisory_xact_lock({SETUP_LOCK})",
        t.as_millis().max(1)
    ))
    .map_err(|e| pg_err(e, t))?;
    let exists = store_exists(&mut tx, t)?;
    let version = if exists {
        tx.batch_execute("LOCK TABLE ks_write_lock IN EXCLUSIVE MODE")
            .map_err(|e| pg_err(e, t))?;
        stored_version(&mut tx, t)?
    } else {
        0
    };
    not_newer(version)?;
    if version == 0 && !setup.create {
        return Err(StoreError::NoStore {
            location: setup.location.clone(),
            why: "holds no key store (no keyshift tables in that database)".into(),
        });
    }
    let trust = match setup.trust {
        Some(source) => {
            let mut view = PgTrustView {
                tx: &mut tx,
                version,
                timeout: t,
            };
            Some(trust::examine(&mut view, source, &setup.location)?)
        }
        None => None,
    };
    migrate(&mut tx, version, t)?;
    if let Some(trust) = &trust {
        for (name, value) in trust.meta_rows()? {
            put_meta(&mut tx, name, &value, t)?;
        }
    }
    tx.commit().map_err(|e| pg_err(e, t))?;
    Ok(trust.map(|t| t.master))
}

/// The read-only way in: `Some` when the store exists, its schema is
/// current and the master-key rule needs no write; `None` when opening must
/// take the locks of [`setup`].
fn settled(client: &mut Client, setup: &Setup<'_>) -> StoreResult<Option<Option<SecretKey32>>> {
    let t = setup.lock_timeout;
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| pg_err(e, t))?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        t.as_millis().max(1)
    ))
    .map_err(|e| pg_err(e, t))?;
    let exists = store_exists(&mut tx, t)?;
    if !exists {
        return Ok(None);
    }
    let version = stored_version(&mut tx, t)?;
    not_newer(version)?;
    if version != PG_SCHEMA_VERSION {
        return Ok(None);
    }
    let master = match setup.trust {
        None => None,
        Some(source) => {
            let mut view = PgTrustView {
                tx: &mut tx,
                version,
                timeout: t,
            };
            match trust::examine_settled(&mut view, source, &setup.location)? {
                Some(master) => Some(master),
                None => return Ok(None),
            }
        }
    };
    tx.commit().map_err(|e| pg_err(e, t))?;
    Ok(Some(master))
}

/// Whether the schema's `store_meta` table exists, as of the statement's
/// snapshot. The catalog is scanned rather than the name looked up
/// (`to_regclass`): a name lookup may answer from the connection's cache,
/// still "missing" from an earlier transaction although another process has
/// since created the table.
fn store_exists(tx: &mut Transaction<'_>, t: Duration) -> StoreResult<bool> {
    tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class \
         WHERE relname = 'store_meta' AND relnamespace = current_schema()::regnamespace)",
        &[],
    )
    .and_then(|r| r.try_get(0))
    .map_err(|e| pg_err(e, t))
}

/// A schema newer than this binary supports is an error.
fn not_newer(version: i64) -> StoreResult<()> {
    if version > PG_SCHEMA_VERSION {
        return Err(StoreError::database(format!(
            "store schema version {version} is newer than this binary supports \
             ({PG_SCHEMA_VERSION}); upgrade keyshift"
        )));
    }
    Ok(())
}

fn stored_version(tx: &mut Transaction<'_>, t: Duration) -> StoreResult<i64> {
    let Some(raw) = meta(tx, VERSION_ROW, t)? else {
        return Ok(0);
    };
    let text = String::from_utf8_lossy(&raw);
    text.trim()
        .parse()
        .map_err(|_| StoreError::database(format!("corrupt schema_version row: {text:?}")))
}

/// Brings the schema from `version` to [`PG_SCHEMA_VERSION`], one
/// idempotent step per version.
fn migrate(tx: &mut Transaction<'_>, version: i64, t: Duration) -> StoreResult<()> {
    let mut v = version;
    if v == 0 {
        tx.batch_execute(SCHEMA_V1).map_err(|e| pg_err(e, t))?;
        v = 1;
    }
    if v == 1 {
        // Tombstones of objects store moves took out (postgres_tombstones.rs).
        tx.batch_execute(crate::store::postgres_tombstones::MIGRATE_PG_V2)
            .map_err(|e| pg_err(e, t))?;
        v = 2;
    }
    if v != version {
        put_meta(tx, VERSION_ROW, v.to_string().as_bytes(), t)?;
    }
    Ok(())
}

fn meta(tx: &mut Transaction<'_>, name: &str, t: Duration) -> StoreResult<Option<Vec<u8>>> {
    let row = tx
        .query_opt("SELECT value FROM store_meta WHERE name = $1", &[&name])
        .map_err(|e| pg_err(e, t))?;
    row.map(|r| r.try_get(0).map_err(|e| pg_err(e, t)))
        .transpose()
}

fn put_meta(tx: &mut Transaction<'_>, name: &str, value: &[u8], t: Duration) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO store_meta (name, value) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[&name, &value],
    )
    .map_err(|e| pg_err(e, t))?;
    Ok(())
}

/// The master-key rule's view of the opening transaction.
struct PgTrustView<'a, 'c> {
    tx: &'a mut Transaction<'c>,
    version: i64,
    timeout: Duration,
}

impl TrustView for PgTrustView<'_, '_> {
    fn check_value(&mut self) -> StoreResult<Option<Vec<u8>>> {
        if self.version < 1 {
            return Ok(None);
        }
        meta(self.tx, CHECK_ROW, self.timeout)
    }

    fn wrapped_master(&mut self) -> StoreResult<Option<Vec<u8>>> {
        if self.version < 1 {
            return Ok(None);
        }
        meta(self.tx, WRAPPED_ROW, self.timeout)
    }

    fn holds_data(&mut self) -> StoreResult<bool> {
        if self.version < 1 {
            return Ok(false);
        }
        let t = self.timeout;
        self.tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM containers) OR EXISTS (SELECT 1 FROM instances) \
                 OR EXISTS (SELECT 1 FROM keys) OR EXISTS (SELECT 1 FROM secrets)",
                &[],
            )
            .and_then(|r| r.try_get(0))
            .map_err(|e| pg_err(e, t))
    }

    fn internal_root_keys(&mut self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        if self.version < 1 {
            return Ok(Vec::new());
        }
        let t = self.timeout;
        let rows = self
            .tx
            .query(
                "SELECT id, wrapped_root_key FROM containers WHERE wrapping = 'internal'",
                &[],
            )
            .map_err(|e| pg_err(e, t))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(|e| pg_err(e, t))
    }
}
