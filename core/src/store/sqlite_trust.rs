//! The SQLite side of the master-key rule (the rule itself is
//! `trust.rs`, shared by every backend): the [`TrustView`] queries over the
//! opening write transaction, and storing the rule's `store_meta` rows.

use std::time::Duration;

use rusqlite::{OptionalExtension, Transaction};

use crate::store::StoreResult;
use crate::store::sqlite::db_err;
use crate::store::trust::{CHECK_ROW, Trust, TrustView, WRAPPED_ROW};

/// The opening transaction of a store at schema `version` (not yet migrated).
pub(super) struct SqliteTrustView<'a, 'c> {
    pub(super) tx: &'a Transaction<'c>,
    pub(super) version: i64,
    pub(super) timeout: Duration,
}

impl SqliteTrustView<'_, '_> {
    fn meta(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        if self.version < 2 {
            return Ok(None);
        }
        self.tx
            .query_row(
                "SELECT value FROM store_meta WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db_err(e, self.timeout))
    }
}

impl TrustView for SqliteTrustView<'_, '_> {
    fn check_value(&mut self) -> StoreResult<Option<Vec<u8>>> {
        self.meta(CHECK_ROW)
    }

    fn wrapped_master(&mut self) -> StoreResult<Option<Vec<u8>>> {
        self.meta(WRAPPED_ROW)
    }

    fn holds_data(&mut self) -> StoreResult<bool> {
        if self.version < 1 {
            return Ok(false);
        }
        self.tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM containers) OR EXISTS (SELECT 1 FROM instances) \
                 OR EXISTS (SELECT 1 FROM keys) OR EXISTS (SELECT 1 FROM secrets)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| db_err(e, self.timeout))
    }

    fn internal_root_keys(&mut self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let t = self.timeout;
        let mut stmt = self
            .tx
            .prepare("SELECT id, wrapped_root_key FROM containers WHERE wrapping = 'internal'")
            .map_err(|e| db_err(e, t))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| db_err(e, t))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| db_err(e, t))
    }
}

/// Stores the rule's `store_meta` rows (schema 2 or later).
pub(super) fn record(tx: &Transaction<'_>, trust: &Trust, t: Duration) -> StoreResult<()> {
    for (name, value) in trust.meta_rows()? {
        tx.execute(
            "INSERT OR REPLACE INTO store_meta (name, value) VALUES (?1, ?2)",
            rusqlite::params![name, value],
        )
        .map_err(|e| db_err(e, t))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "sqlite_trust_tests.rs"]
mod tests;
