//! Paging queries of [`SqliteStore`](crate::store::SqliteStore): the ids of
//! one container's keys or secrets in id order, one page at a time, so a
//! migration run never loads a whole container. `sqlite_tx.rs` delegates
//! the trait methods here.

use rusqlite::params;

use crate::store::sqlite_tx::SqliteTx;
use crate::store::{Container, StoreResult};

impl SqliteTx<'_> {
    /// `StoreReader::key_ids_page` (`table` is `keys` or `secrets`).
    pub(super) fn ids_page(
        &self,
        table: &'static str,
        c: &Container,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let sql = format!(
            "SELECT id FROM {table} WHERE container_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = st
            .query_map(
                params![
                    c.instance_id().unwrap_or("shared"),
                    after.unwrap_or(""),
                    limit
                ],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(|e| self.err(e))
    }
}
