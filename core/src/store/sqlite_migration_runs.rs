//! Migration run records of [`SqliteStore`](crate::store::SqliteStore)
//! (table `migration_runs`, schema version 4): who holds a migration lock
//! (run id, pid, host, start time) and how each run ended. `sqlite_tx.rs`
//! delegates the trait methods here.

use rusqlite::params;

use crate::store::sqlite_tx::SqliteTx;
use crate::store::{Container, MigrationRun, StoreResult};

/// Version 4: the `migration_runs` table.
pub(super) const MIGRATE_V4: &str = "CREATE TABLE IF NOT EXISTS migration_runs (
    run_id      TEXT PRIMARY KEY,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    source      TEXT NOT NULL,
    target      TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT
);";

fn container_id(c: &Container) -> &str {
    c.instance_id().unwrap_or("shared")
}

fn container(id: String) -> Container {
    if id == "shared" {
        Container::Shared
    } else {
        Container::Instance(id)
    }
}

impl SqliteTx<'_> {
    pub(super) fn migration_runs_list(&self) -> StoreResult<Vec<MigrationRun>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT run_id, pid, host, started_at, source, target, finished_at, outcome \
                 FROM migration_runs ORDER BY rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(MigrationRun {
                    run_id: r.get(0)?,
                    pid: r.get(1)?,
                    host: r.get(2)?,
                    started_at: r.get(3)?,
                    source: container(r.get(4)?),
                    target: container(r.get(5)?),
                    finished_at: r.get(6)?,
                    outcome: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    pub(super) fn migration_run_put(&self, m: &MigrationRun) -> StoreResult<()> {
        self.exec(
            "INSERT INTO migration_runs \
             (run_id, pid, host, started_at, source, target, finished_at, outcome) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (run_id) DO UPDATE SET pid = excluded.pid, host = excluded.host, \
             started_at = excluded.started_at, source = excluded.source, \
             target = excluded.target, finished_at = excluded.finished_at, \
             outcome = excluded.outcome",
            params![
                m.run_id,
                m.pid,
                m.host,
                m.started_at,
                container_id(&m.source),
                container_id(&m.target),
                m.finished_at,
                m.outcome
            ],
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::traits::{KeyStore, read_with, write_with};
    use crate::store::{Container, MigrationRun, SqliteStore};

    #[test]
    fn v3_store_upgrades_in_place_and_runs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        drop(s);
        let conn =
            rusqlite::Connection::open(dir.path().join(crate::store::sqlite::DB_FILE)).unwrap();
        conn.execute_batch("DROP TABLE migration_runs; PRAGMA user_version = 3;")
            .unwrap();
        drop(conn);
        let s = SqliteStore::open(dir.path()).unwrap();
        let run = MigrationRun {
            run_id: "mig-1".into(),
            pid: 42,
            host: "h".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            source: Container::Shared,
            target: Container::Instance("kst-000000000001".into()),
            finished_at: None,
            outcome: None,
        };
        write_with(&s as &dyn KeyStore, |tx| tx.put_migration_run(&run)).unwrap();
        let runs = read_with(&s as &dyn KeyStore, |r| r.migration_runs()).unwrap();
        assert_eq!(runs, vec![run]);
    }
}
