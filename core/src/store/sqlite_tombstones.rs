//! Tombstones of [`SqliteStore`](crate::store::SqliteStore) (table
//! `tombstones`, schema version 5): one row per object a store move took
//! out of this store. `sqlite_tx.rs` delegates the trait methods here.

use rusqlite::{OptionalExtension, params};

use crate::store::sqlite_tx::SqliteTx;
use crate::store::{StoreError, StoreResult, Tombstone, TombstoneKind};

/// Version 5: the `tombstones` table.
pub(super) const MIGRATE_V5: &str = "CREATE TABLE IF NOT EXISTS tombstones (
    kind     TEXT NOT NULL,
    id       TEXT NOT NULL,
    moved_to TEXT NOT NULL,
    moved_at TEXT NOT NULL,
    run_id   TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);";

type Raw = (String, String, String, String, String);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Raw::try_from(r)
}

fn from_raw((kind, id, moved_to, moved_at, run_id): Raw) -> StoreResult<Tombstone> {
    Ok(Tombstone {
        kind: kind
            .parse()
            .map_err(|e| StoreError::database(format!("corrupt tombstones.kind column: {e}")))?,
        id,
        moved_to,
        moved_at,
        run_id,
    })
}

impl SqliteTx<'_> {
    pub(super) fn tombstone_get(
        &self,
        kind: TombstoneKind,
        id: &str,
    ) -> StoreResult<Option<Tombstone>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT kind, id, moved_to, moved_at, run_id FROM tombstones \
                 WHERE kind = ?1 AND id = ?2",
            )
            .map_err(|e| self.err(e))?;
        let found = st
            .query_row(params![kind.as_str(), id], raw)
            .optional()
            .map_err(|e| self.err(e))?;
        found.map(from_raw).transpose()
    }

    pub(super) fn tombstone_list(&self) -> StoreResult<Vec<Tombstone>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT kind, id, moved_to, moved_at, run_id FROM tombstones ORDER BY kind, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st.query_map([], raw).map_err(|e| self.err(e))?;
        let rows = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(from_raw).collect()
    }

    pub(super) fn tombstone_put(&self, t: &Tombstone) -> StoreResult<()> {
        self.exec(
            "INSERT INTO tombstones (kind, id, moved_to, moved_at, run_id) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (kind, id) DO UPDATE SET moved_to = excluded.moved_to, \
             moved_at = excluded.moved_at, run_id = excluded.run_id",
            params![t.kind.as_str(), t.id, t.moved_to, t.moved_at, t.run_id],
        )
        .map(drop)
    }

    /// One cached statement per name: in-process, no round trips to save.
    pub(super) fn tombstone_clear(&self, names: &[(TombstoneKind, String)]) -> StoreResult<u64> {
        let mut n = 0u64;
        for (kind, id) in names {
            let gone = self.exec(
                "DELETE FROM tombstones WHERE kind = ?1 AND id = ?2",
                params![kind.as_str(), id],
            )?;
            n += u64::try_from(gone).unwrap_or(u64::MAX);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::traits::{KeyStore, read_with, write_with};
    use crate::store::{SqliteStore, Tombstone, TombstoneKind};

    /// A version 4 store (before tombstones) upgrades in place, and its
    /// tombstones then survive a reopen.
    #[test]
    fn v4_store_gains_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn =
            rusqlite::Connection::open(dir.path().join(crate::store::sqlite::DB_FILE)).unwrap();
        conn.execute_batch("DROP TABLE tombstones; PRAGMA user_version = 4;")
            .unwrap();
        drop(conn);
        let t = Tombstone {
            kind: TombstoneKind::Key,
            id: "key-1".into(),
            moved_to: "/srv/new".into(),
            moved_at: "2026-01-01T00:00:00Z".into(),
            run_id: "mig-1".into(),
        };
        let s = SqliteStore::open(dir.path()).unwrap();
        write_with(&s as &dyn KeyStore, |tx| tx.put_tombstone(&t)).unwrap();
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        let got = read_with(&s as &dyn KeyStore, |r| r.tombstones()).unwrap();
        assert_eq!(got, vec![t]);
        let v: i64 = rusqlite::Connection::open(dir.path().join(crate::store::sqlite::DB_FILE))
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, crate::store::sqlite::SCHEMA_VERSION);
    }
}
