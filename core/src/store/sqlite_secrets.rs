//! Secret records of [`SqliteStore`](crate::store::SqliteStore) (tables
//! `secrets` and `secret_versions`); `sqlite_tx.rs` delegates the trait
//! methods here. Values only ever arrive here sealed.

use rusqlite::{Row, params};

use crate::store::sqlite_tx::SqliteTx;
use crate::store::{
    Container, SealedSecretVersion, Secret, SecretVersionInfo, StoreError, StoreResult,
};

// `secrets.rotation_interval` (schema v1) is no longer read or written: a
// secret's value has no rotation (see `resources/secret.rs`); it stays NULL.
const COLS: &str = "id, container_id, name, secret_type, encryption_key_id, description, tags, \
                    current_version_id, created_at";
const VERSION_COLS: &str =
    "secret_id, version_id, seq, stages, created_at, key_id, key_version_id, sealed";

fn container_id(c: &Container) -> &str {
    c.instance_id().unwrap_or("shared")
}

fn corrupt(column: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::database(format!("corrupt {column} column: {e}"))
}

/// A `secrets` row before parsing: (id, container, name, type, key,
/// description, tags, current version, created).
type RawSecret = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// Reads a row into the tuple (rusqlite's `TryFrom<&Row>` for tuples).
fn raw(r: &Row<'_>) -> rusqlite::Result<RawSecret> {
    RawSecret::try_from(r)
}

fn raw_version(r: &Row<'_>) -> rusqlite::Result<(SealedSecretVersion, String)> {
    let stages: String = r.get(3)?;
    Ok((
        SealedSecretVersion {
            secret_id: r.get(0)?,
            version_id: r.get(1)?,
            seq: r.get(2)?,
            stages: Vec::new(),
            created_at: r.get(4)?,
            key_id: r.get(5)?,
            key_version_id: r.get(6)?,
            sealed: r.get(7)?,
        },
        stages,
    ))
}

fn stages_from(json: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(json).map_err(|e| corrupt("stages", e))
}

fn json<T: serde::Serialize>(what: &str, v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::database(format!("{what}: {e}")))
}

impl SqliteTx<'_> {
    fn sec_query(&self, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<Secret>> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st.query_map(args, raw).map_err(|e| self.err(e))?;
        let raws = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(|r| self.sec_from_raw(r)).collect()
    }

    fn sec_from_raw(&self, raw: RawSecret) -> StoreResult<Secret> {
        let (id, container, name, ty, key, description, tags, current, created) = raw;
        let versions = self
            .secret_versions_of(&id)?
            .into_iter()
            .map(|v| SecretVersionInfo {
                version_id: v.version_id,
                stages: v.stages,
                created_at: v.created_at,
            })
            .collect();
        Ok(Secret {
            container: if container == "shared" {
                Container::Shared
            } else {
                Container::Instance(container)
            },
            id,
            name,
            secret_type: ty.parse().map_err(|e: String| corrupt("secret_type", e))?,
            encryption_key_id: key,
            description,
            tags: serde_json::from_str(&tags).map_err(|e| corrupt("tags", e))?,
            current_version_id: current,
            versions,
            created_at: created,
        })
    }

    /// `StoreReader::secret`.
    pub(super) fn secret_get(&self, id: &str) -> StoreResult<Option<Secret>> {
        let sql = format!("SELECT {COLS} FROM secrets WHERE id = ?1");
        Ok(self.sec_query(&sql, [id])?.into_iter().next())
    }

    /// `StoreReader::secret_by_name`.
    pub(super) fn secret_get_by_name(
        &self,
        c: &Container,
        name: &str,
    ) -> StoreResult<Option<Secret>> {
        let sql = format!("SELECT {COLS} FROM secrets WHERE container_id = ?1 AND name = ?2");
        Ok(self
            .sec_query(&sql, [container_id(c), name])?
            .into_iter()
            .next())
    }

    /// `StoreReader::secrets`.
    pub(super) fn secret_list(&self, c: Option<&Container>) -> StoreResult<Vec<Secret>> {
        match c {
            Some(c) => self.sec_query(
                &format!(
                    "SELECT {COLS} FROM secrets WHERE container_id = ?1 ORDER BY created_at, rowid"
                ),
                [container_id(c)],
            ),
            None => self.sec_query(
                &format!("SELECT {COLS} FROM secrets ORDER BY created_at, rowid"),
                [],
            ),
        }
    }

    /// `StoreReader::secrets_sealed_by`.
    pub(super) fn secret_list_sealed_by(
        &self,
        c: &Container,
        key_id: &str,
    ) -> StoreResult<Vec<Secret>> {
        self.sec_query(
            &format!(
                "SELECT {COLS} FROM secrets WHERE container_id = ?1 AND encryption_key_id = ?2 \
                 ORDER BY created_at, rowid"
            ),
            [container_id(c), key_id],
        )
    }

    /// `StoreReader::count_secrets`.
    pub(super) fn secret_count(&self, c: &Container) -> StoreResult<i64> {
        let mut st = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM secrets WHERE container_id = ?1")
            .map_err(|e| self.err(e))?;
        st.query_row([container_id(c)], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// `StoreReader::secret_versions`.
    pub(super) fn secret_versions_of(
        &self,
        secret_id: &str,
    ) -> StoreResult<Vec<SealedSecretVersion>> {
        let sql =
            format!("SELECT {VERSION_COLS} FROM secret_versions WHERE secret_id = ?1 ORDER BY seq");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([secret_id], raw_version)
            .map_err(|e| self.err(e))?;
        let raws = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter()
            .map(|(mut v, stages)| {
                v.stages = stages_from(&stages)?;
                Ok(v)
            })
            .collect()
    }

    fn secret_name_taken(&self, s: &Secret) -> StoreResult<bool> {
        self.exists(
            "SELECT 1 FROM secrets WHERE container_id = ?1 AND name = ?2 AND id <> ?3",
            [container_id(&s.container), s.name.as_str(), s.id.as_str()],
        )
    }

    fn secret_container_check(&self, s: &Secret) -> StoreResult<()> {
        let id = container_id(&s.container);
        if !self.exists("SELECT 1 FROM containers WHERE id = ?1", [id])? {
            return Err(StoreError::NotFound {
                kind: "container",
                id: id.to_string(),
            });
        }
        if self.secret_name_taken(s)? {
            return Err(StoreError::AlreadyExists {
                kind: "secret",
                id: format!("{}/{}", s.container, s.name),
            });
        }
        Ok(())
    }

    /// `StoreTx::insert_secret`.
    pub(super) fn secret_insert(&self, s: &Secret) -> StoreResult<()> {
        if self.exists("SELECT 1 FROM secrets WHERE id = ?1", [s.id.as_str()])? {
            return Err(StoreError::AlreadyExists {
                kind: "secret",
                id: s.id.clone(),
            });
        }
        self.secret_container_check(s)?;
        self.exec(
            &format!("INSERT INTO secrets ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                s.id,
                container_id(&s.container),
                s.name,
                s.secret_type.as_str(),
                s.encryption_key_id,
                s.description,
                json("tags", &s.tags)?,
                s.current_version_id,
                s.created_at
            ],
        )?;
        Ok(())
    }

    /// `StoreTx::update_secret`.
    pub(super) fn secret_update(&self, s: &Secret) -> StoreResult<()> {
        if !self.exists("SELECT 1 FROM secrets WHERE id = ?1", [s.id.as_str()])? {
            return Err(StoreError::NotFound {
                kind: "secret",
                id: s.id.clone(),
            });
        }
        self.secret_container_check(s)?;
        self.exec(
            "UPDATE secrets SET container_id = ?2, name = ?3, secret_type = ?4, encryption_key_id = ?5, \
             description = ?6, tags = ?7, current_version_id = ?8, created_at = ?9 \
             WHERE id = ?1",
            params![
                s.id, container_id(&s.container), s.name, s.secret_type.as_str(), s.encryption_key_id,
                s.description, json("tags", &s.tags)?, s.current_version_id, s.created_at
            ],
        )?;
        Ok(())
    }

    /// `StoreTx::delete_secret` (versions go with it: ON DELETE CASCADE).
    pub(super) fn secret_delete(&self, id: &str) -> StoreResult<()> {
        let n = self.exec("DELETE FROM secrets WHERE id = ?1", [id])?;
        super::sqlite_tx::affected(n, "secret", id)
    }

    /// `StoreTx::put_secret_version`.
    pub(super) fn secret_put_version(&self, v: &SealedSecretVersion) -> StoreResult<()> {
        if !self.exists(
            "SELECT 1 FROM secrets WHERE id = ?1",
            [v.secret_id.as_str()],
        )? {
            return Err(StoreError::NotFound {
                kind: "secret",
                id: v.secret_id.clone(),
            });
        }
        self.exec(
            &format!(
                "INSERT INTO secret_versions ({VERSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (secret_id, version_id) DO UPDATE SET seq = excluded.seq, \
                 stages = excluded.stages, created_at = excluded.created_at, key_id = excluded.key_id, \
                 key_version_id = excluded.key_version_id, sealed = excluded.sealed"
            ),
            params![
                v.secret_id, v.version_id, v.seq, json("stages", &v.stages)?, v.created_at, v.key_id,
                v.key_version_id, v.sealed
            ],
        )?;
        Ok(())
    }

    /// `Conflict` when `c` still holds secrets (guard of `delete_container`).
    pub(super) fn secrets_guard_empty(&self, c: &Container) -> StoreResult<()> {
        let held = self.secret_count(c)?;
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "container {c} still holds {held} secret(s)"
            )));
        }
        Ok(())
    }
}
