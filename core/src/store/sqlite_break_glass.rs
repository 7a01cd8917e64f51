//! Break-glass grant records of [`SqliteStore`](crate::store::SqliteStore)
//! (table `break_glass_grants`); `sqlite_tx.rs` delegates the trait methods
//! here.

use rusqlite::{OptionalExtension, Row, params};

use crate::store::break_glass::GrantRecord;
use crate::store::sqlite_tx::SqliteTx;
use crate::store::{StoreError, StoreResult};

/// The table (schema step that introduces break-glass grants).
pub(super) const MIGRATE_BREAK_GLASS: &str = "CREATE TABLE IF NOT EXISTS break_glass_grants (
    id TEXT PRIMARY KEY,
    change_request TEXT NOT NULL,
    principal TEXT NOT NULL,
    key_ids TEXT NOT NULL,
    instance_id TEXT,
    permissions TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    credential_hash BLOB NOT NULL,
    credential_secret_id TEXT,
    revoked_at TEXT,
    pending_repair TEXT
);
CREATE INDEX IF NOT EXISTS break_glass_by_change ON break_glass_grants (change_request);";

const COLS: &str = "id, change_request, principal, key_ids, instance_id, permissions, reason, \
                    created_at, expires_at, credential_hash, credential_secret_id, revoked_at, \
                    pending_repair";

fn corrupt(column: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::database(format!("corrupt {column} column: {e}"))
}

fn list(column: &str, json: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(json).map_err(|e| corrupt(column, e))
}

fn to_json(v: &[String]) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::database(format!("grant lists: {e}")))
}

/// A row with its two JSON columns still raw.
fn raw(r: &Row<'_>) -> rusqlite::Result<(GrantRecord, String, String)> {
    Ok((
        GrantRecord {
            id: r.get(0)?,
            change_request: r.get(1)?,
            principal: r.get(2)?,
            key_ids: Vec::new(),
            instance_id: r.get(4)?,
            permissions: Vec::new(),
            reason: r.get(6)?,
            created_at: r.get(7)?,
            expires_at: r.get(8)?,
            credential_hash: r.get(9)?,
            credential_secret_id: r.get(10)?,
            revoked_at: r.get(11)?,
            pending_repair: r.get(12)?,
        },
        r.get(3)?,
        r.get(5)?,
    ))
}

fn cook((mut g, keys, perms): (GrantRecord, String, String)) -> StoreResult<GrantRecord> {
    g.key_ids = list("key_ids", &keys)?;
    g.permissions = list("permissions", &perms)?;
    Ok(g)
}

impl SqliteTx<'_> {
    /// `StoreReader::grant`.
    pub(super) fn grant_get(&self, id: &str) -> StoreResult<Option<GrantRecord>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM break_glass_grants WHERE id = ?1"
            ))
            .map_err(|e| self.err(e))?;
        st.query_row([id], raw)
            .optional()
            .map_err(|e| self.err(e))?
            .map(cook)
            .transpose()
    }

    /// `StoreReader::grants`.
    pub(super) fn grant_list(&self) -> StoreResult<Vec<GrantRecord>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM break_glass_grants ORDER BY created_at, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st.query_map([], raw).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?
            .into_iter()
            .map(cook)
            .collect()
    }

    /// `StoreTx::insert_grant`.
    pub(super) fn grant_insert(&self, g: &GrantRecord) -> StoreResult<()> {
        if self.grant_get(&g.id)?.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: "break-glass grant",
                id: g.id.clone(),
            });
        }
        self.conn
            .execute(
                &format!(
                    "INSERT INTO break_glass_grants ({COLS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    g.id,
                    g.change_request,
                    g.principal,
                    to_json(&g.key_ids)?,
                    g.instance_id,
                    to_json(&g.permissions)?,
                    g.reason,
                    g.created_at,
                    g.expires_at,
                    g.credential_hash,
                    g.credential_secret_id,
                    g.revoked_at,
                    g.pending_repair
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// `StoreTx::update_grant`: the mutable fields (credential secret,
    /// revocation, pending repair); missing → `NotFound`.
    pub(super) fn grant_update(&self, g: &GrantRecord) -> StoreResult<()> {
        let n = self
            .conn
            .execute(
                "UPDATE break_glass_grants SET credential_secret_id = ?2, revoked_at = ?3, \
                 pending_repair = ?4 WHERE id = ?1",
                params![g.id, g.credential_secret_id, g.revoked_at, g.pending_repair],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NotFound {
                kind: "break-glass grant",
                id: g.id.clone(),
            });
        }
        Ok(())
    }
}
