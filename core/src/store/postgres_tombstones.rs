//! Tombstones of [`PostgresStore`](crate::store::postgres::PostgresStore)
//! (table `tombstones`, schema version 2): the same records and rules as
//! the embedded store's (`sqlite_tombstones.rs`). `postgres_tx.rs` and
//! `postgres_write.rs` delegate the trait methods here.

use postgres::Row;

use crate::store::postgres_tx::{PgTx, col, parsed};
use crate::store::{StoreResult, Tombstone, TombstoneKind};

/// Version 2: the `tombstones` table.
pub(crate) const MIGRATE_PG_V2: &str = "CREATE TABLE IF NOT EXISTS tombstones (
    kind     TEXT NOT NULL,
    id       TEXT NOT NULL,
    moved_to TEXT NOT NULL,
    moved_at TEXT NOT NULL,
    run_id   TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);";

const COLS: &str = "kind, id, moved_to, moved_at, run_id";

fn tombstone_row(r: &Row) -> StoreResult<Tombstone> {
    Ok(Tombstone {
        kind: parsed(r, 0, "tombstones.kind")?,
        id: col(r, 1)?,
        moved_to: col(r, 2)?,
        moved_at: col(r, 3)?,
        run_id: col(r, 4)?,
    })
}

impl PgTx<'_> {
    pub(crate) fn tombstone_get(
        &self,
        kind: TombstoneKind,
        id: &str,
    ) -> StoreResult<Option<Tombstone>> {
        let sql = format!("SELECT {COLS} FROM tombstones WHERE kind = $1 AND id = $2");
        self.row(&sql, &[&kind.as_str(), &id])?
            .map(|r| tombstone_row(&r))
            .transpose()
    }

    pub(crate) fn tombstone_list(&self) -> StoreResult<Vec<Tombstone>> {
        let sql = format!("SELECT {COLS} FROM tombstones ORDER BY kind, id");
        self.rows(&sql, &[])?.iter().map(tombstone_row).collect()
    }

    pub(crate) fn tombstone_put(&self, t: &Tombstone) -> StoreResult<()> {
        self.exec(
            &format!(
                "INSERT INTO tombstones ({COLS}) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (kind, id) DO UPDATE SET moved_to = excluded.moved_to, \
                 moved_at = excluded.moved_at, run_id = excluded.run_id"
            ),
            &[&t.kind.as_str(), &t.id, &t.moved_to, &t.moved_at, &t.run_id],
        )?;
        Ok(())
    }

    /// One statement (one round trip) for all of `names`.
    pub(crate) fn tombstone_clear(&self, names: &[(TombstoneKind, String)]) -> StoreResult<u64> {
        if names.is_empty() {
            return Ok(0);
        }
        let kinds: Vec<&str> = names.iter().map(|(k, _)| k.as_str()).collect();
        let ids: Vec<&str> = names.iter().map(|(_, id)| id.as_str()).collect();
        self.exec(
            "DELETE FROM tombstones t USING unnest($1::text[], $2::text[]) AS u(kind, id) \
             WHERE t.kind = u.kind AND t.id = u.id",
            &[&kinds, &ids],
        )
    }
}
