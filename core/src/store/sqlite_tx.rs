//! Record operations of [`SqliteStore`](crate::store::SqliteStore): the
//! [`StoreReader`] / [`StoreTx`] implementation over one SQLite transaction.

use std::str::FromStr;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::store::sqlite::db_err;
use crate::store::traits::{ContainerRecord, NewAuditEntry, SealedVersion, StoreReader, StoreTx};
use crate::store::{Alias, AuditEntry, Container, Instance, Key, StoreError, StoreResult};

const SHARED_ID: &str = "shared";

fn container_id(c: &Container) -> &str {
    c.instance_id().unwrap_or(SHARED_ID)
}

fn container_from_id(id: String) -> Container {
    if id == SHARED_ID {
        Container::Shared
    } else {
        Container::Instance(id)
    }
}

fn parse<T: FromStr<Err = String>>(column: &str, s: &str) -> StoreResult<T> {
    T::from_str(s).map_err(|e| StoreError::database(format!("corrupt {column} column: {e}")))
}

/// One transaction (read or write) on the SQLite connection.
pub(super) struct SqliteTx<'a> {
    pub(super) conn: &'a Connection,
    pub(super) timeout: Duration,
}

const INSTANCE_COLS: &str =
    "id, name, instance_type, region, key_quota, secret_quota, status, created_at";
const KEY_COLS: &str = "k.id, k.container_id, k.spec, k.usage, k.protection_level, k.origin, \
     k.multi_version, k.description, k.tags, k.state, k.deletion_protection, \
     k.deletion_window_in_days, k.rotation_interval, k.current_version, k.creation_date, \
     k.deletion_date, (SELECT COUNT(*) FROM key_versions v WHERE v.key_id = k.id), \
     (SELECT v.created_at FROM key_versions v WHERE v.key_id = k.id AND v.seq > 1 \
      ORDER BY v.seq DESC LIMIT 1)";

type RawInstance = (String, String, String, String, i64, i64, String, String);

/// Reads a row into the tuple (rusqlite's `TryFrom<&Row>` for tuples).
fn raw_instance(r: &Row<'_>) -> rusqlite::Result<RawInstance> {
    RawInstance::try_from(r)
}

fn instance_from_raw(raw: RawInstance) -> StoreResult<Instance> {
    let (id, name, ty, region, key_quota, secret_quota, status, created_at) = raw;
    Ok(Instance {
        id,
        name,
        instance_type: parse("instance_type", &ty)?,
        region,
        key_quota,
        secret_quota,
        status: parse("status", &status)?,
        created_at,
    })
}

/// Key row as stored, before enum parsing.
struct RawKey {
    id: String,
    container: String,
    text: [String; 6], // spec, usage, protection, origin, tags, state
    description: String,
    multi_version: bool,
    deletion_protection: bool,
    window: i64,
    rotation: Option<String>,
    current_version: String,
    creation_date: String,
    deletion_date: Option<String>,
    version_count: i64,
    last_rotation: Option<String>,
}

fn raw_key(r: &Row<'_>) -> rusqlite::Result<RawKey> {
    Ok(RawKey {
        id: r.get(0)?,
        container: r.get(1)?,
        text: [
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(8)?,
            r.get(9)?,
        ],
        multi_version: r.get(6)?,
        description: r.get(7)?,
        deletion_protection: r.get(10)?,
        window: r.get(11)?,
        rotation: r.get(12)?,
        current_version: r.get(13)?,
        creation_date: r.get(14)?,
        deletion_date: r.get(15)?,
        version_count: r.get(16)?,
        last_rotation: r.get(17)?,
    })
}

impl SqliteTx<'_> {
    /// A database error, with `SQLITE_BUSY` after the timeout as `Busy`.
    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(e, self.timeout)
    }

    fn key_from_raw(&self, raw: RawKey) -> StoreResult<Key> {
        let [spec, usage, protection, origin, tags, state] = raw.text;
        let tags = serde_json::from_str(&tags)
            .map_err(|e| StoreError::database(format!("corrupt tags column: {e}")))?;
        let aliases = {
            let mut st = self
                .conn
                .prepare_cached("SELECT name FROM aliases WHERE key_id = ?1 ORDER BY name")
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([&raw.id], |r| r.get::<_, String>(0))
                .map_err(|e| self.err(e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.err(e))?
        };
        Ok(Key {
            id: raw.id,
            container: container_from_id(raw.container),
            spec: parse("spec", &spec)?,
            usage: parse("usage", &usage)?,
            protection_level: parse("protection_level", &protection)?,
            origin: parse("origin", &origin)?,
            multi_version: raw.multi_version,
            description: raw.description,
            tags,
            state: parse("state", &state)?,
            deletion_protection: raw.deletion_protection,
            deletion_window_in_days: raw.window,
            rotation_interval: raw.rotation,
            current_version: raw.current_version,
            version_count: raw.version_count,
            creation_date: raw.creation_date,
            deletion_date: raw.deletion_date,
            aliases,
            last_rotation_date: raw.last_rotation,
        })
    }

    /// Whether the query (cached) returns a row.
    pub(super) fn exists(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<bool> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        st.exists(params).map_err(|e| self.err(e))
    }

    /// Runs one statement (cached); returns the number of rows changed.
    pub(super) fn exec(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        st.execute(params).map_err(|e| self.err(e))
    }

    fn key_row(&self, key: &Key) -> StoreResult<String> {
        serde_json::to_string(&key.tags).map_err(|e| StoreError::database(format!("tags: {e}")))
    }
}

pub(super) fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// `Ok` when a statement changed a row, else `NotFound { kind, id }`.
pub(super) fn affected(rows: usize, kind: &'static str, id: &str) -> StoreResult<()> {
    if rows == 0 {
        Err(not_found(kind, id))
    } else {
        Ok(())
    }
}

impl StoreReader for SqliteTx<'_> {
    fn instance(&self, id: &str) -> StoreResult<Option<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances WHERE id = ?1");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let raw = st
            .query_row([id], raw_instance)
            .optional()
            .map_err(|e| self.err(e))?;
        raw.map(instance_from_raw).transpose()
    }

    fn instance_by_name(&self, name: &str) -> StoreResult<Option<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances WHERE name = ?1");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let raw = st
            .query_row([name], raw_instance)
            .optional()
            .map_err(|e| self.err(e))?;
        raw.map(instance_from_raw).transpose()
    }

    fn instances(&self) -> StoreResult<Vec<Instance>> {
        let sql = format!("SELECT {INSTANCE_COLS} FROM instances ORDER BY created_at, rowid");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = st.query_map([], raw_instance).map_err(|e| self.err(e))?;
        let raws = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(instance_from_raw).collect()
    }

    fn container(&self, container: &Container) -> StoreResult<Option<ContainerRecord>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT wrapping, wrapped_root_key, external_key_arn, migrating, created_at \
                 FROM containers WHERE id = ?1",
            )
            .map_err(|e| self.err(e))?;
        let raw = st
            .query_row([container_id(container)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        raw.map(
            |(wrapping, wrapped_root_key, external_key_arn, migrating, created_at)| {
                Ok(ContainerRecord {
                    container: container.clone(),
                    wrapping: parse("wrapping", &wrapping)?,
                    wrapped_root_key,
                    external_key_arn,
                    migrating,
                    created_at,
                })
            },
        )
        .transpose()
    }

    fn key(&self, id: &str) -> StoreResult<Option<Key>> {
        let sql = format!("SELECT {KEY_COLS} FROM keys k WHERE k.id = ?1");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let raw = st
            .query_row([id], raw_key)
            .optional()
            .map_err(|e| self.err(e))?;
        raw.map(|r| self.key_from_raw(r)).transpose()
    }

    fn keys(&self, container: Option<&Container>) -> StoreResult<Vec<Key>> {
        let raws = match container {
            Some(c) => {
                let sql = format!(
                    "SELECT {KEY_COLS} FROM keys k WHERE k.container_id = ?1 ORDER BY k.creation_date, k.rowid"
                );
                let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
                let rows = st
                    .query_map([container_id(c)], raw_key)
                    .map_err(|e| self.err(e))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|e| self.err(e))?
            }
            None => {
                let sql =
                    format!("SELECT {KEY_COLS} FROM keys k ORDER BY k.creation_date, k.rowid");
                let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
                let rows = st.query_map([], raw_key).map_err(|e| self.err(e))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|e| self.err(e))?
            }
        };
        raws.into_iter().map(|r| self.key_from_raw(r)).collect()
    }

    fn count_keys(&self, container: &Container) -> StoreResult<i64> {
        let mut st = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM keys WHERE container_id = ?1")
            .map_err(|e| self.err(e))?;
        st.query_row([container_id(container)], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn versions(&self, key_id: &str) -> StoreResult<Vec<SealedVersion>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT key_id, version_id, seq, created_at, sealed FROM key_versions \
                 WHERE key_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([key_id], version_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    fn version(&self, key_id: &str, version_id: &str) -> StoreResult<Option<SealedVersion>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT key_id, version_id, seq, created_at, sealed FROM key_versions \
                 WHERE key_id = ?1 AND version_id = ?2",
            )
            .map_err(|e| self.err(e))?;
        st.query_row([key_id, version_id], version_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    fn alias(&self, name: &str) -> StoreResult<Option<Alias>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, key_id, created_at FROM aliases WHERE name = ?1")
            .map_err(|e| self.err(e))?;
        st.query_row([name], |r| {
            Ok(Alias {
                name: r.get(0)?,
                key_id: r.get(1)?,
                created_at: r.get(2)?,
            })
        })
        .optional()
        .map_err(|e| self.err(e))
    }

    fn audit(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, at, actor, action, object, outcome, detail FROM audit \
                 ORDER BY seq DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([limit], |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    object: r.get(4)?,
                    outcome: r.get(5)?,
                    detail: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    // -- migration runs (SQL in sqlite_migration_runs.rs)
    fn migration_runs(&self) -> StoreResult<Vec<crate::store::MigrationRun>> {
        self.migration_runs_list()
    }

    // -- tombstones (SQL in sqlite_tombstones.rs)
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

    // -- paging (SQL in sqlite_paging.rs)
    fn key_ids_page(
        &self,
        c: &Container,
        after: Option<&str>,
        n: usize,
    ) -> StoreResult<Vec<String>> {
        self.ids_page("keys", c, after, n)
    }

    fn secret_ids_page(
        &self,
        c: &Container,
        after: Option<&str>,
        n: usize,
    ) -> StoreResult<Vec<String>> {
        self.ids_page("secrets", c, after, n)
    }

    fn keys_with_deletion_date(&self) -> StoreResult<Vec<Key>> {
        let sql = format!(
            "SELECT {KEY_COLS} FROM keys k WHERE k.deletion_date IS NOT NULL ORDER BY k.creation_date, k.rowid"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = st.query_map([], raw_key).map_err(|e| self.err(e))?;
        let raws = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(|r| self.key_from_raw(r)).collect()
    }

    // -- ekms (SQL in sqlite_ekms.rs)
    fn ekms_config(&self, c: &Container) -> StoreResult<Option<crate::store::EkmsConfig>> {
        self.ekms_get(c)
    }

    fn ekms_configs(&self) -> StoreResult<Vec<crate::store::EkmsConfig>> {
        self.ekms_list()
    }

    // -- secrets (SQL in sqlite_secrets.rs)
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

    // -- break glass (SQL in sqlite_break_glass.rs)
    fn grant(&self, id: &str) -> StoreResult<Option<crate::store::GrantRecord>> {
        self.grant_get(id)
    }

    fn grants(&self) -> StoreResult<Vec<crate::store::GrantRecord>> {
        self.grant_list()
    }
}

fn version_row(r: &Row<'_>) -> rusqlite::Result<SealedVersion> {
    Ok(SealedVersion {
        key_id: r.get(0)?,
        version_id: r.get(1)?,
        seq: r.get(2)?,
        created_at: r.get(3)?,
        sealed: r.get(4)?,
    })
}

impl StoreTx for SqliteTx<'_> {
    fn insert_instance(&mut self, i: &Instance) -> StoreResult<()> {
        if self.exists("SELECT 1 FROM instances WHERE id = ?1", [i.id.as_str()])? {
            return Err(StoreError::AlreadyExists {
                kind: "instance",
                id: i.id.clone(),
            });
        }
        if self.exists("SELECT 1 FROM instances WHERE name = ?1", [i.name.as_str()])? {
            return Err(StoreError::AlreadyExists {
                kind: "instance",
                id: i.name.clone(),
            });
        }
        self.exec(
            &format!(
                "INSERT INTO instances ({INSTANCE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                i.id,
                i.name,
                i.instance_type.as_str(),
                i.region,
                i.key_quota,
                i.secret_quota,
                i.status.as_str(),
                i.created_at
            ],
        )?;
        Ok(())
    }

    fn update_instance(&mut self, i: &Instance) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE instances SET name = ?2, instance_type = ?3, region = ?4, key_quota = ?5, \
             secret_quota = ?6, status = ?7, created_at = ?8 WHERE id = ?1",
            params![
                i.id,
                i.name,
                i.instance_type.as_str(),
                i.region,
                i.key_quota,
                i.secret_quota,
                i.status.as_str(),
                i.created_at
            ],
        )?;
        affected(n, "instance", &i.id)
    }

    fn delete_instance(&mut self, id: &str) -> StoreResult<()> {
        let held = self.count_keys(&Container::Instance(id.to_string()))?;
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "instance {id} still holds {held} key(s)"
            )));
        }
        let n = self.exec("DELETE FROM instances WHERE id = ?1", [id])?;
        affected(n, "instance", id)
    }

    fn put_container(&mut self, c: &ContainerRecord) -> StoreResult<()> {
        self.exec(
            "INSERT INTO containers (id, wrapping, wrapped_root_key, external_key_arn, migrating, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET wrapping = excluded.wrapping, \
             wrapped_root_key = excluded.wrapped_root_key, external_key_arn = excluded.external_key_arn, \
             migrating = excluded.migrating, created_at = excluded.created_at",
            params![container_id(&c.container), c.wrapping.as_str(), c.wrapped_root_key, c.external_key_arn, c.migrating, c.created_at],
        )?;
        Ok(())
    }

    fn delete_container(&mut self, container: &Container) -> StoreResult<()> {
        let held = self.count_keys(container)?;
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "container {container} still holds {held} key(s)"
            )));
        }
        self.secrets_guard_empty(container)?;
        let n = self.exec(
            "DELETE FROM containers WHERE id = ?1",
            [container_id(container)],
        )?;
        affected(n, "container", container_id(container))
    }

    fn insert_key(&mut self, k: &Key) -> StoreResult<()> {
        if self.exists("SELECT 1 FROM keys WHERE id = ?1", [k.id.as_str()])? {
            return Err(StoreError::AlreadyExists {
                kind: "key",
                id: k.id.clone(),
            });
        }
        if !self.exists(
            "SELECT 1 FROM containers WHERE id = ?1",
            [container_id(&k.container)],
        )? {
            return Err(not_found("container", container_id(&k.container)));
        }
        let tags = self.key_row(k)?;
        self.exec(
            "INSERT INTO keys (id, container_id, spec, usage, protection_level, origin, multi_version, \
             description, tags, state, deletion_protection, deletion_window_in_days, rotation_interval, \
             current_version, creation_date, deletion_date) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                k.id, container_id(&k.container), k.spec.as_str(), k.usage.as_str(),
                k.protection_level.as_str(), k.origin.as_str(), k.multi_version, k.description, tags,
                k.state.as_str(), k.deletion_protection, k.deletion_window_in_days, k.rotation_interval,
                k.current_version, k.creation_date, k.deletion_date
            ],
        )?;
        Ok(())
    }

    fn update_key(&mut self, k: &Key) -> StoreResult<()> {
        if !self.exists(
            "SELECT 1 FROM containers WHERE id = ?1",
            [container_id(&k.container)],
        )? {
            return Err(not_found("container", container_id(&k.container)));
        }
        let tags = self.key_row(k)?;
        let n = self.exec(
            "UPDATE keys SET container_id = ?2, spec = ?3, usage = ?4, protection_level = ?5, origin = ?6, \
             multi_version = ?7, description = ?8, tags = ?9, state = ?10, deletion_protection = ?11, \
             deletion_window_in_days = ?12, rotation_interval = ?13, current_version = ?14, \
             creation_date = ?15, deletion_date = ?16 WHERE id = ?1",
            params![
                k.id, container_id(&k.container), k.spec.as_str(), k.usage.as_str(),
                k.protection_level.as_str(), k.origin.as_str(), k.multi_version, k.description, tags,
                k.state.as_str(), k.deletion_protection, k.deletion_window_in_days, k.rotation_interval,
                k.current_version, k.creation_date, k.deletion_date
            ],
        )?;
        affected(n, "key", &k.id)
    }

    fn delete_key(&mut self, id: &str) -> StoreResult<()> {
        // Versions and aliases go with it (ON DELETE CASCADE).
        let n = self.exec("DELETE FROM keys WHERE id = ?1", [id])?;
        affected(n, "key", id)
    }

    fn put_version(&mut self, v: &SealedVersion) -> StoreResult<()> {
        if !self.exists("SELECT 1 FROM keys WHERE id = ?1", [v.key_id.as_str()])? {
            return Err(not_found("key", &v.key_id));
        }
        self.exec(
            "INSERT INTO key_versions (key_id, version_id, seq, created_at, sealed) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (key_id, version_id) DO UPDATE SET seq = excluded.seq, \
             created_at = excluded.created_at, sealed = excluded.sealed",
            params![v.key_id, v.version_id, v.seq, v.created_at, v.sealed],
        )?;
        Ok(())
    }

    fn insert_alias(&mut self, a: &Alias) -> StoreResult<()> {
        if self.exists("SELECT 1 FROM aliases WHERE name = ?1", [a.name.as_str()])? {
            return Err(StoreError::AlreadyExists {
                kind: "alias",
                id: a.name.clone(),
            });
        }
        if !self.exists("SELECT 1 FROM keys WHERE id = ?1", [a.key_id.as_str()])? {
            return Err(not_found("key", &a.key_id));
        }
        self.exec(
            "INSERT INTO aliases (name, key_id, created_at) VALUES (?1, ?2, ?3)",
            params![a.name, a.key_id, a.created_at],
        )?;
        Ok(())
    }

    fn update_alias(&mut self, a: &Alias) -> StoreResult<()> {
        if !self.exists("SELECT 1 FROM keys WHERE id = ?1", [a.key_id.as_str()])? {
            return Err(not_found("key", &a.key_id));
        }
        let n = self.exec(
            "UPDATE aliases SET key_id = ?2, created_at = ?3 WHERE name = ?1",
            params![a.name, a.key_id, a.created_at],
        )?;
        affected(n, "alias", &a.name)
    }

    fn delete_alias(&mut self, name: &str) -> StoreResult<()> {
        let n = self.exec("DELETE FROM aliases WHERE name = ?1", [name])?;
        affected(n, "alias", name)
    }

    fn append_audit(&mut self, e: &NewAuditEntry) -> StoreResult<i64> {
        self.exec(
            "INSERT INTO audit (at, actor, action, object, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.at, e.actor, e.action, e.object, e.outcome, e.detail],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    // -- migration runs (SQL in sqlite_migration_runs.rs)
    fn put_migration_run(&mut self, m: &crate::store::MigrationRun) -> StoreResult<()> {
        self.migration_run_put(m)
    }

    // -- tombstones (SQL in sqlite_tombstones.rs)
    fn put_tombstone(&mut self, t: &crate::store::Tombstone) -> StoreResult<()> {
        self.tombstone_put(t)
    }

    fn clear_tombstones(
        &mut self,
        names: &[(crate::store::TombstoneKind, String)],
    ) -> StoreResult<u64> {
        self.tombstone_clear(names)
    }

    // -- ekms (SQL in sqlite_ekms.rs)
    fn put_ekms_config(&mut self, c: &crate::store::EkmsConfig) -> StoreResult<()> {
        self.ekms_put(c)
    }

    fn delete_ekms_config(&mut self, c: &Container) -> StoreResult<()> {
        self.ekms_delete(c)
    }

    // -- secrets (SQL in sqlite_secrets.rs)
    fn insert_secret(&mut self, s: &crate::store::Secret) -> StoreResult<()> {
        self.secret_insert(s)
    }

    fn update_secret(&mut self, s: &crate::store::Secret) -> StoreResult<()> {
        self.secret_update(s)
    }

    fn delete_secret(&mut self, id: &str) -> StoreResult<()> {
        self.secret_delete(id)
    }

    fn put_secret_version(&mut self, v: &crate::store::SealedSecretVersion) -> StoreResult<()> {
        self.secret_put_version(v)
    }

    // -- break glass (SQL in sqlite_break_glass.rs)
    fn insert_grant(&mut self, g: &crate::store::GrantRecord) -> StoreResult<()> {
        self.grant_insert(g)
    }

    fn update_grant(&mut self, g: &crate::store::GrantRecord) -> StoreResult<()> {
        self.grant_update(g)
    }
}
