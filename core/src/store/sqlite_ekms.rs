//! EKMS configuration records of [`SqliteStore`](crate::store::SqliteStore)
//! (table `ekms_configs`); `sqlite_tx.rs` delegates the trait methods here.

use rusqlite::{OptionalExtension, Row, params};

use crate::store::sqlite_tx::SqliteTx;
use crate::store::{Container, EkmsConfig, StoreError, StoreResult};

const COLS: &str = "container_id, key_arn, architecture, allow_revert_to_internal, last_status, \
                    last_aws_state, last_checked_at, created_at";

fn container_id(c: &Container) -> &str {
    c.instance_id().unwrap_or("shared")
}

type RawConfig = (
    String,
    String,
    String,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// Reads a row into the tuple (rusqlite's `TryFrom<&Row>` for tuples).
fn raw(r: &Row<'_>) -> rusqlite::Result<RawConfig> {
    RawConfig::try_from(r)
}

fn from_raw(raw: RawConfig) -> StoreResult<EkmsConfig> {
    let (id, key_arn, arch, allow, last_status, last_aws_state, last_checked_at, created_at) = raw;
    Ok(EkmsConfig {
        container: if id == "shared" {
            Container::Shared
        } else {
            Container::Instance(id)
        },
        key_arn,
        architecture: arch
            .parse()
            .map_err(|e| StoreError::database(format!("corrupt architecture column: {e}")))?,
        allow_revert_to_internal: allow,
        last_status,
        last_aws_state,
        last_checked_at,
        created_at,
    })
}

impl SqliteTx<'_> {
    /// `StoreReader::ekms_config`.
    pub(super) fn ekms_get(&self, c: &Container) -> StoreResult<Option<EkmsConfig>> {
        let sql = format!("SELECT {COLS} FROM ekms_configs WHERE container_id = ?1");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let row = st
            .query_row([container_id(c)], raw)
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(from_raw).transpose()
    }

    /// `StoreReader::ekms_configs`.
    pub(super) fn ekms_list(&self) -> StoreResult<Vec<EkmsConfig>> {
        let sql = format!("SELECT {COLS} FROM ekms_configs ORDER BY container_id");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = st.query_map([], raw).map_err(|e| self.err(e))?;
        let raws = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(from_raw).collect()
    }

    /// `StoreTx::put_ekms_config`.
    pub(super) fn ekms_put(&self, c: &EkmsConfig) -> StoreResult<()> {
        let id = container_id(&c.container);
        let mut exists = self
            .conn
            .prepare_cached("SELECT 1 FROM containers WHERE id = ?1")
            .map_err(|e| self.err(e))?;
        if !exists.exists([id]).map_err(|e| self.err(e))? {
            return Err(StoreError::NotFound {
                kind: "container",
                id: id.to_string(),
            });
        }
        let sql = format!(
            "INSERT INTO ekms_configs ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (container_id) DO UPDATE SET key_arn = excluded.key_arn, \
             architecture = excluded.architecture, \
             allow_revert_to_internal = excluded.allow_revert_to_internal, \
             last_status = excluded.last_status, last_aws_state = excluded.last_aws_state, \
             last_checked_at = excluded.last_checked_at, created_at = excluded.created_at"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        st.execute(params![
            id,
            c.key_arn,
            c.architecture.as_str(),
            c.allow_revert_to_internal,
            c.last_status,
            c.last_aws_state,
            c.last_checked_at,
            c.created_at
        ])
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// `StoreTx::delete_ekms_config`.
    pub(super) fn ekms_delete(&self, c: &Container) -> StoreResult<()> {
        let n = self.exec(
            "DELETE FROM ekms_configs WHERE container_id = ?1",
            [container_id(c)],
        )?;
        super::sqlite_tx::affected(n, "EKMS configuration", container_id(c))
    }
}
