//! Record operations of [`PostgresStore`](crate::store::postgres::PostgresStore):
//! one PostgreSQL transaction ([`PgTx`]) and its [`StoreReader`] side
//! (instances, containers, keys, versions, aliases, audit; the writes are
//! in `postgres_write.rs`, the other records in `postgres_records.rs`).
//! Statements are prepared once per connection and reused.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use postgres::Row;
use postgres::types::{FromSql, ToSql};

use crate::store::postgres::{Conn, is_retryable, pg_err};
use crate::store::traits::{ContainerRecord, SealedVersion, StoreReader};
use crate::store::{Alias, AuditEntry, Container, Instance, Key, StoreError, StoreResult};

/// Statement parameters.
pub(crate) type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

const SHARED_ID: &str = "shared";

/// The database id of a container.
pub(crate) fn container_id(c: &Container) -> &str {
    c.instance_id().unwrap_or(SHARED_ID)
}

/// The container of a database id.
pub(crate) fn container_from_id(id: String) -> Container {
    if id == SHARED_ID {
        Container::Shared
    } else {
        Container::Instance(id)
    }
}

/// Column `i` of `row`.
pub(crate) fn col<'r, T: FromSql<'r>>(row: &'r Row, i: usize) -> StoreResult<T> {
    row.try_get(i)
        .map_err(|e| StoreError::database_source(format!("unexpected value in column {i}: {e}"), e))
}

/// A text column parsed into its enum.
pub(crate) fn parsed<T: FromStr<Err = String>>(
    row: &Row,
    i: usize,
    column: &str,
) -> StoreResult<T> {
    let s: String = col(row, i)?;
    T::from_str(&s).map_err(|e| StoreError::database(format!("corrupt {column} column: {e}")))
}

/// A JSON text column.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    row: &Row,
    i: usize,
    column: &str,
) -> StoreResult<T> {
    let s: String = col(row, i)?;
    serde_json::from_str(&s)
        .map_err(|e| StoreError::database_source(format!("corrupt {column} column: {e}"), e))
}

/// A value as JSON text.
pub(crate) fn to_json<T: serde::Serialize>(what: &str, v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::database_source(format!("{what}: {e}"), e))
}

/// One transaction on a pooled connection.
pub(crate) struct PgTx<'a> {
    conn: RefCell<&'a mut Conn>,
    lock_timeout: Duration,
    /// A statement failed: the server has aborted the transaction.
    failed: Cell<bool>,
    /// That failure was a serialization failure or deadlock.
    retry: Cell<bool>,
    /// Containers and keys this transaction has seen exist (queried or
    /// written by it): the existence checks before an insert ask the
    /// server once per object, not once per row written. Writers hold the
    /// store's write lock, so only this transaction can remove them; every
    /// delete forgets everything.
    known: RefCell<Known>,
}

/// See [`PgTx::known`].
#[derive(Default)]
struct Known {
    containers: HashSet<String>,
    keys: HashSet<String>,
}

impl<'a> PgTx<'a> {
    pub(crate) fn new(conn: &'a mut Conn, lock_timeout: Duration) -> Self {
        PgTx {
            conn: RefCell::new(conn),
            lock_timeout,
            failed: Cell::new(false),
            retry: Cell::new(false),
            known: RefCell::default(),
        }
    }

    /// Remembers that `id` exists (written or found by this transaction).
    pub(crate) fn know_key(&self, id: &str) {
        self.known.borrow_mut().keys.insert(id.to_string());
    }

    /// Remembers that container `id` exists.
    pub(crate) fn know_container(&self, id: &str) {
        self.known.borrow_mut().containers.insert(id.to_string());
    }

    /// Forgets every remembered row (after any delete).
    pub(crate) fn forget_known(&self) {
        *self.known.borrow_mut() = Known::default();
    }

    /// Maps a client error, remembering that the transaction is aborted.
    fn err(&self, e: postgres::Error) -> StoreError {
        self.failed.set(true);
        if is_retryable(&e) {
            self.retry.set(true);
        }
        pg_err(e, self.lock_timeout)
    }

    /// Whether the failure of this attempt is worth a retry.
    pub(crate) fn retryable(&self) -> bool {
        self.retry.get()
    }

    /// Whether the connection is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.conn.borrow().client.is_closed()
    }

    /// Runs statements without parameters (simple query protocol).
    pub(crate) fn batch(&self, sql: &str) -> StoreResult<()> {
        let r = self.conn.borrow_mut().client.batch_execute(sql);
        r.map_err(|e| self.err(e))
    }

    /// Commits, unless a statement failed (the server would silently roll
    /// back a `COMMIT` of an aborted transaction).
    pub(crate) fn finish(&self) -> StoreResult<()> {
        if self.failed.get() {
            return Err(StoreError::database(
                "a statement failed inside the transaction (its error was not passed on); \
                 nothing was committed",
            ));
        }
        self.batch("COMMIT")
    }

    /// Rolls back (best effort: a broken connection is dropped by the pool).
    pub(crate) fn rollback(&self) {
        let _ = self.conn.borrow_mut().client.batch_execute("ROLLBACK");
    }

    fn with_stmt<T>(
        &self,
        sql: &str,
        run: impl FnOnce(&mut postgres::Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> StoreResult<T> {
        let mut guard = self.conn.borrow_mut();
        let conn = &mut **guard;
        let stmt = match conn.stmts.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = conn.client.prepare(sql).map_err(|e| self.err(e))?;
                conn.stmts.insert(sql.to_string(), s.clone());
                s
            }
        };
        run(&mut conn.client, &stmt).map_err(|e| self.err(e))
    }

    /// All rows of a query.
    pub(crate) fn rows(&self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        self.with_stmt(sql, |c, s| c.query(s, params))
    }

    /// The row of a query returning at most one.
    pub(crate) fn row(&self, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
        self.with_stmt(sql, |c, s| c.query_opt(s, params))
    }

    /// Runs one statement; returns the number of rows changed.
    pub(crate) fn exec(&self, sql: &str, params: Params<'_>) -> StoreResult<u64> {
        self.with_stmt(sql, |c, s| c.execute(s, params))
    }

    /// Whether the query returns a row.
    pub(crate) fn exists(&self, sql: &str, params: Params<'_>) -> StoreResult<bool> {
        Ok(!self.rows(sql, params)?.is_empty())
    }

    /// A single `BIGINT` result.
    pub(crate) fn count(&self, sql: &str, params: Params<'_>) -> StoreResult<i64> {
        match self.row(sql, params)? {
            Some(r) => col(&r, 0),
            None => Ok(0),
        }
    }

    pub(crate) fn container_exists(&self, c: &Container) -> StoreResult<bool> {
        let id = container_id(c);
        if self.known.borrow().containers.contains(id) {
            return Ok(true);
        }
        let found = self.exists("SELECT 1 FROM containers WHERE id = $1", &[&id])?;
        if found {
            self.know_container(id);
        }
        Ok(found)
    }

    pub(crate) fn key_exists(&self, id: &str) -> StoreResult<bool> {
        if self.known.borrow().keys.contains(id) {
            return Ok(true);
        }
        let found = self.exists("SELECT 1 FROM keys WHERE id = $1", &[&id])?;
        if found {
            self.know_key(id);
        }
        Ok(found)
    }
}

/// `NotFound { kind, id }`.
pub(crate) fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// `Ok` when a statement changed a row, else `NotFound { kind, id }`.
pub(crate) fn affected(rows: u64, kind: &'static str, id: &str) -> StoreResult<()> {
    if rows == 0 {
        Err(not_found(kind, id))
    } else {
        Ok(())
    }
}

pub(crate) const INSTANCE_COLS: &str =
    "id, name, instance_type, region, key_quota, secret_quota, status, created_at";
const KEY_COLS: &str = "k.id, k.container_id, k.spec, k.usage, k.protection_level, k.origin, \
     k.multi_version, k.description, k.tags, k.state, k.deletion_protection, \
     k.deletion_window_in_days, k.rotation_interval, k.current_version, k.creation_date, \
     k.deletion_date, (SELECT COUNT(*) FROM key_versions v WHERE v.key_id = k.id), \
     (SELECT v.created_at FROM key_versions v WHERE v.key_id = k.id AND v.seq > 1 \
      ORDER BY v.seq DESC LIMIT 1), \
     ARRAY(SELECT a.name FROM aliases a WHERE a.key_id = k.id ORDER BY a.name)";
const VERSION_COLS: &str = "key_id, version_id, seq, created_at, sealed";

fn instance_row(r: &Row) -> StoreResult<Instance> {
    Ok(Instance {
        id: col(r, 0)?,
        name: col(r, 1)?,
        instance_type: parsed(r, 2, "instance_type")?,
        region: col(r, 3)?,
        key_quota: col(r, 4)?,
        secret_quota: col(r, 5)?,
        status: parsed(r, 6, "status")?,
        created_at: col(r, 7)?,
    })
}

fn key_row(r: &Row) -> StoreResult<Key> {
    Ok(Key {
        id: col(r, 0)?,
        container: container_from_id(col(r, 1)?),
        spec: parsed(r, 2, "spec")?,
        usage: parsed(r, 3, "usage")?,
        protection_level: parsed(r, 4, "protection_level")?,
        origin: parsed(r, 5, "origin")?,
        multi_version: col(r, 6)?,
        description: col(r, 7)?,
        tags: json_col(r, 8, "tags")?,
        state: parsed(r, 9, "state")?,
        deletion_protection: col(r, 10)?,
        deletion_window_in_days: col(r, 11)?,
        rotation_interval: col(r, 12)?,
        current_version: col(r, 13)?,
        creation_date: col(r, 14)?,
        deletion_date: col(r, 15)?,
        version_count: col(r, 16)?,
        last_rotation_date: col(r, 17)?,
        aliases: col(r, 18)?,
    })
}

fn version_row(r: &Row) -> StoreResult<SealedVersion> {
    Ok(SealedVersion {
        key_id: col(r, 0)?,
        version_id: col(r, 1)?,
        seq: col(r, 2)?,
        created_at: col(r, 3)?,
        sealed: col(r, 4)?,
    })
}

impl StoreReader for PgTx<'_> {
    fn instance(&self, id: &str) -> StoreResult<Option<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances WHERE id = $1");
        self.row(&sql, &[&id])?
            .as_ref()
            .map(instance_row)
            .transpose()
    }

    fn instance_by_name(&self, name: &str) -> StoreResult<Option<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances WHERE name = $1");
        self.row(&sql, &[&name])?
            .as_ref()
            .map(instance_row)
            .transpose()
    }

    fn instances(&self) -> StoreResult<Vec<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances ORDER BY created_at, ord");
        self.rows(&sql, &[])?.iter().map(instance_row).collect()
    }

    fn container(&self, container: &Container) -> StoreResult<Option<ContainerRecord>> {
        let row = self.row(
            "SELECT wrapping, wrapped_root_key, external_key_arn, migrating, created_at \
             FROM containers WHERE id = $1",
            &[&container_id(container)],
        )?;
        row.map(|r| {
            Ok(ContainerRecord {
                container: container.clone(),
                wrapping: parsed(&r, 0, "wrapping")?,
                wrapped_root_key: col(&r, 1)?,
                external_key_arn: col(&r, 2)?,
                migrating: col(&r, 3)?,
                created_at: col(&r, 4)?,
            })
        })
        .transpose()
    }

    fn key(&self, id: &str) -> StoreResult<Option<Key>> {
        let sql = format!("SELECT {KEY_COLS} FROM keys k WHERE k.id = $1");
        self.row(&sql, &[&id])?.as_ref().map(key_row).transpose()
    }

    fn keys(&self, container: Option<&Container>) -> StoreResult<Vec<Key>> {
        let rows = match container {
            Some(c) => self.rows(
                &format!(
                    "SELECT {KEY_COLS} FROM keys k WHERE k.container_id = $1 \
                     ORDER BY k.creation_date, k.ord"
                ),
                &[&container_id(c)],
            )?,
            None => self.rows(
                &format!("SELECT {KEY_COLS} FROM keys k ORDER BY k.creation_date, k.ord"),
                &[],
            )?,
        };
        rows.iter().map(key_row).collect()
    }

    fn count_keys(&self, container: &Container) -> StoreResult<i64> {
        self.count(
            "SELECT COUNT(*) FROM keys WHERE container_id = $1",
            &[&container_id(container)],
        )
    }

    fn versions(&self, key_id: &str) -> StoreResult<Vec<SealedVersion>> {
        let sql = format!("SELECT {VERSION_COLS} FROM key_versions WHERE key_id = $1 ORDER BY seq");
        self.rows(&sql, &[&key_id])?
            .iter()
            .map(version_row)
            .collect()
    }

    fn version(&self, key_id: &str, version_id: &str) -> StoreResult<Option<SealedVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLS} FROM key_versions WHERE key_id = $1 AND version_id = $2"
        );
        self.row(&sql, &[&key_id, &version_id])?
            .as_ref()
            .map(version_row)
            .transpose()
    }

    fn alias(&self, name: &str) -> StoreResult<Option<Alias>> {
        let row = self.row(
            "SELECT name, key_id, created_at FROM aliases WHERE name = $1",
            &[&name],
        )?;
        row.map(|r| {
            Ok(Alias {
                name: col(&r, 0)?,
                key_id: col(&r, 1)?,
                created_at: col(&r, 2)?,
            })
        })
        .transpose()
    }

    fn audit(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.rows(
            "SELECT seq, at, actor, action, object, outcome, detail FROM audit \
             ORDER BY seq DESC LIMIT $1",
            &[&limit],
        )?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: col(r, 0)?,
                    at: col(r, 1)?,
                    actor: col(r, 2)?,
                    action: col(r, 3)?,
                    object: col(r, 4)?,
                    outcome: col(r, 5)?,
                    detail: col(r, 6)?,
                })
            })
            .collect()
    }

    // -- the other records (SQL in postgres_records.rs)
    fn migration_runs(&self) -> StoreResult<Vec<crate::store::MigrationRun>> {
        self.migration_runs_list()
    }

    fn tombstone(
        &self,
        kind: crate::store::TombstoneKind,
        id: &str,
    ) -> StoreResult<Option<crate::store::Tombstone>> {
        self.tombstone_get(kind, id)
    }

    fn tombstones(&self) -> StoreResult<Vec<crate::store::Tombstone>> {
        self.tombstone_list()
    }

    fn ekms_config(&self, c: &Container) -> StoreResult<Option<crate::store::EkmsConfig>> {
        self.ekms_get(c)
    }

    fn ekms_configs(&self) -> StoreResult<Vec<crate::store::EkmsConfig>> {
        self.ekms_list()
    }

    fn secret(&self, id: &str) -> StoreResult<Option<crate::store::Secret>> {
        self.secret_get(id)
    }

    fn secret_by_name(
        &self,
        c: &Container,
        name: &str,
    ) -> StoreResult<Option<crate::store::Secret>> {
        self.secret_get_by_name(c, name)
    }

    fn secrets(&self, c: Option<&Container>) -> StoreResult<Vec<crate::store::Secret>> {
        self.secret_list(c)
    }

    fn count_secrets(&self, c: &Container) -> StoreResult<i64> {
        self.secret_count(c)
    }

    fn secrets_sealed_by(
        &self,
        c: &Container,
        key_id: &str,
    ) -> StoreResult<Vec<crate::store::Secret>> {
        self.secret_list_sealed_by(c, key_id)
    }

    fn secret_versions(&self, id: &str) -> StoreResult<Vec<crate::store::SealedSecretVersion>> {
        self.secret_versions_of(id)
    }

    fn grant(&self, id: &str) -> StoreResult<Option<crate::store::GrantRecord>> {
        self.grant_get(id)
    }

    fn grants(&self) -> StoreResult<Vec<crate::store::GrantRecord>> {
        self.grant_list()
    }

    fn key_ids_page(
        &self,
        c: &Container,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        self.ids_page("keys", c, after, limit)
    }

    fn secret_ids_page(
        &self,
        c: &Container,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        self.ids_page("secrets", c, after, limit)
    }

    fn keys_with_deletion_date(&self) -> StoreResult<Vec<Key>> {
        self.keys_due_somewhen()
    }
}
