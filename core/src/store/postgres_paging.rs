//! Paging queries of the PostgreSQL store: one container's key or secret
//! ids in id order, a bounded page at a time (the primary key index walks
//! them without a sort), and the keys scheduled for deletion, so neither a
//! migration run nor the purge on open loads a whole store. `postgres_tx.rs`
//! delegates the trait methods here.

use crate::store::postgres_tx::{PgTx, col, container_id};
use crate::store::{Container, Key, StoreResult};

impl PgTx<'_> {
    /// `StoreReader::key_ids_page` / `secret_ids_page` (`table` is `keys`
    /// or `secrets`).
    pub(crate) fn ids_page(
        &self,
        table: &'static str,
        c: &Container,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let sql = format!(
            "SELECT id FROM {table} WHERE container_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(&sql, &[&container_id(c), &after.unwrap_or(""), &limit])?
            .iter()
            .map(|r| col(r, 0))
            .collect()
    }

    /// `StoreReader::keys_with_deletion_date`.
    pub(crate) fn keys_due_somewhen(&self) -> StoreResult<Vec<Key>> {
        let ids: Vec<String> = self
            .rows(
                "SELECT id FROM keys WHERE deletion_date IS NOT NULL ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| col(r, 0))
            .collect::<StoreResult<_>>()?;
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(k) = crate::store::StoreReader::key(self, &id)? {
                keys.push(k);
            }
        }
        Ok(keys)
    }
}
