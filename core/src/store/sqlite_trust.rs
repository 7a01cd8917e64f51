//! The master-key rule of the SQLite store, checked inside the opening
//! write transaction (before any schema change):
//!
//! - a **new** store (no container, instance, key, secret or check value)
//!   uses `master.key` if present, else creates it: the only moment a
//!   master key is ever created;
//! - an **established** store needs its own master key: a missing file is
//!   [`StoreError::MasterKeyMissing`], a key that fails the stored check
//!   value (or, in a store from before check values, opens none of the
//!   internally wrapped root keys) is [`StoreError::MasterKeyMismatch`].
//!   Either error rolls the transaction back: nothing is written.
//!
//! Every process opening a store takes the same write lock first, so two
//! processes opening a fresh store at once agree on one master key.

use std::path::Path;
use std::time::Duration;

use rusqlite::{OptionalExtension, Transaction};

use crate::store::crypto::{MasterKeyWrapper, RootKeyWrapper, SecretKey32};
use crate::store::master_key::{self, MASTER_KEY_FILE};
use crate::store::sqlite::db_err;
use crate::store::{StoreError, StoreResult};

/// Name of the check value's row in `store_meta`.
const CHECK_ROW: &str = "master_key_check";

/// The master key that opens the store, and whether its check value must
/// be (re)written once the schema is current.
pub(super) struct Trust {
    pub(super) master: SecretKey32,
    pub(super) record_check: bool,
}

/// Decides which master key opens the store at `dir` (schema `version`,
/// not yet migrated), creating one only for a new store.
pub(super) fn examine(
    tx: &Transaction<'_>,
    version: i64,
    dir: &Path,
    t: Duration,
) -> StoreResult<Trust> {
    let check = if version >= 2 {
        stored_check(tx, t)?
    } else {
        None
    };
    let established = check.is_some() || (version >= 1 && holds_data(tx, t)?);
    let path = dir.join(MASTER_KEY_FILE);
    let master = match master_key::read(&path)? {
        Some(k) => k,
        None if !established => master_key::create(dir)?,
        None => {
            return Err(StoreError::MasterKeyMissing {
                dir: dir.display().to_string(),
                path: path.display().to_string(),
            });
        }
    };
    if !established {
        return Ok(Trust {
            master,
            record_check: true,
        });
    }
    if check
        .as_deref()
        .is_some_and(|c| master_key::verifies(&master, c))
    {
        return Ok(Trust {
            master,
            record_check: false,
        });
    }
    // No check value yet (a store from before them), or the check value
    // itself is damaged: the internally wrapped root keys decide.
    match opens_a_root_key(tx, &master, t)? {
        Some(true) => Ok(Trust {
            master,
            record_check: true,
        }),
        None if check.is_none() => Ok(Trust {
            master,
            record_check: true,
        }),
        _ => Err(StoreError::MasterKeyMismatch {
            dir: dir.display().to_string(),
            path: path.display().to_string(),
        }),
    }
}

/// Stores the check value of `master` (schema 2 or later).
pub(super) fn record_check(
    tx: &Transaction<'_>,
    master: &SecretKey32,
    t: Duration,
) -> StoreResult<()> {
    let value = master_key::check_value(master)?;
    tx.execute(
        "INSERT OR REPLACE INTO store_meta (name, value) VALUES (?1, ?2)",
        rusqlite::params![CHECK_ROW, value],
    )
    .map_err(|e| db_err(e, t))?;
    Ok(())
}

fn stored_check(tx: &Transaction<'_>, t: Duration) -> StoreResult<Option<Vec<u8>>> {
    tx.query_row(
        "SELECT value FROM store_meta WHERE name = ?1",
        [CHECK_ROW],
        |r| r.get(0),
    )
    .optional()
    .map_err(|e| db_err(e, t))
}

fn holds_data(tx: &Transaction<'_>, t: Duration) -> StoreResult<bool> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM containers) OR EXISTS (SELECT 1 FROM instances) \
         OR EXISTS (SELECT 1 FROM keys) OR EXISTS (SELECT 1 FROM secrets)",
        [],
        |r| r.get(0),
    )
    .map_err(|e| db_err(e, t))
}

/// `Some(true)` when `master` unwraps at least one internally wrapped root
/// key, `Some(false)` when it unwraps none, `None` when there are none.
fn opens_a_root_key(
    tx: &Transaction<'_>,
    master: &SecretKey32,
    t: Duration,
) -> StoreResult<Option<bool>> {
    let mut stmt = tx
        .prepare("SELECT id, wrapped_root_key FROM containers WHERE wrapping = 'internal'")
        .map_err(|e| db_err(e, t))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(|e| db_err(e, t))?;
    let wrapper = MasterKeyWrapper::from_key(SecretKey32::from_slice(master.bytes())?);
    let mut any = None;
    for row in rows {
        let (id, wrapped) = row.map_err(|e| db_err(e, t))?;
        if wrapper.unwrap_root(&id, &wrapped).is_ok() {
            return Ok(Some(true));
        }
        any = Some(false);
    }
    Ok(any)
}

#[cfg(test)]
#[path = "sqlite_trust_tests.rs"]
mod tests;
