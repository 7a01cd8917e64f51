//! Paging queries of [`SqliteStore`](crate::store::SqliteStore): the ids of
//! one container's keys or secrets in id order, one page at a time, so a
//! migration run never loads a whole container. `sqlite_tx.rs` delegates
//! the trait methods here.
//!
//! The query plan is pinned by a test below (primary key index, no sort).

use rusqlite::params;

use crate::store::sqlite_tx::SqliteTx;
use crate::store::{Container, StoreResult};

/// The page query of `table`. `+container_id` keeps SQLite off the
/// container index, whose rows it would have to sort on every page
/// (quadratic over a walk): it walks the primary key index from `after`
/// instead and stops after `limit` matches, so a whole walk reads each index
/// entry about once.
fn page_sql(table: &str) -> String {
    format!("SELECT id FROM {table} WHERE +container_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
}

impl SqliteTx<'_> {
    /// `StoreReader::key_ids_page` (`table` is `keys` or `secrets`).
    pub(super) fn ids_page(
        &self,
        table: &'static str,
        c: &Container,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let sql = page_sql(table);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn pages_walk_the_primary_key_without_sorting() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE keys (id TEXT PRIMARY KEY, container_id TEXT NOT NULL);
             CREATE INDEX keys_by_container ON keys (container_id);",
        )
        .unwrap();
        let sql = format!("EXPLAIN QUERY PLAN {}", super::page_sql("keys"));
        let mut st = conn.prepare(&sql).unwrap();
        let plan: Vec<String> = st
            .query_map(rusqlite::params!["shared", "", 256], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            plan,
            ["SEARCH keys USING INDEX sqlite_autoindex_keys_1 (id>?)"],
            "{plan:?}"
        );
    }
}
