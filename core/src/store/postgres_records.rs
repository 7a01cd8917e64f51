//! EKMS configurations, secrets, break-glass grants and migration runs of
//! [`PostgresStore`](crate::store::postgres::PostgresStore); `postgres_tx.rs`
//! delegates those trait methods here. Same rules as the SQLite records
//! (`sqlite_ekms.rs`, `sqlite_secrets.rs`, `sqlite_break_glass.rs`,
//! `sqlite_migration_runs.rs`); values only ever arrive here sealed.

use postgres::Row;

use crate::store::break_glass::GrantRecord;
use crate::store::postgres_tx::{
    PgTx, affected, col, container_from_id, container_id, json_col, not_found, parsed, to_json,
};
use crate::store::{
    Container, EkmsConfig, MigrationRun, SealedSecretVersion, Secret, SecretVersionInfo,
    StoreError, StoreResult,
};

const EKMS_COLS: &str = "container_id, key_arn, architecture, allow_revert_to_internal, \
                         last_status, last_aws_state, last_checked_at, created_at";
const SECRET_COLS: &str = "id, container_id, name, secret_type, encryption_key_id, description, \
                           tags, current_version_id, created_at";
const SECRET_VERSION_COLS: &str =
    "secret_id, version_id, seq, stages, created_at, key_id, key_version_id, sealed";
const GRANT_COLS: &str = "id, change_request, principal, key_ids, instance_id, permissions, \
                          reason, created_at, expires_at, credential_hash, credential_secret_id, \
                          revoked_at, pending_repair";
const RUN_COLS: &str = "run_id, pid, host, started_at, source, target, finished_at, outcome";

fn ekms_row(r: &Row) -> StoreResult<EkmsConfig> {
    Ok(EkmsConfig {
        container: container_from_id(col(r, 0)?),
        key_arn: col(r, 1)?,
        architecture: parsed(r, 2, "architecture")?,
        allow_revert_to_internal: col(r, 3)?,
        last_status: col(r, 4)?,
        last_aws_state: col(r, 5)?,
        last_checked_at: col(r, 6)?,
        created_at: col(r, 7)?,
    })
}

fn secret_version_row(r: &Row) -> StoreResult<SealedSecretVersion> {
    Ok(SealedSecretVersion {
        secret_id: col(r, 0)?,
        version_id: col(r, 1)?,
        seq: col(r, 2)?,
        stages: json_col(r, 3, "stages")?,
        created_at: col(r, 4)?,
        key_id: col(r, 5)?,
        key_version_id: col(r, 6)?,
        sealed: col(r, 7)?,
    })
}

fn grant_row(r: &Row) -> StoreResult<GrantRecord> {
    Ok(GrantRecord {
        id: col(r, 0)?,
        change_request: col(r, 1)?,
        principal: col(r, 2)?,
        key_ids: json_col(r, 3, "key_ids")?,
        instance_id: col(r, 4)?,
        permissions: json_col(r, 5, "permissions")?,
        reason: col(r, 6)?,
        created_at: col(r, 7)?,
        expires_at: col(r, 8)?,
        credential_hash: col(r, 9)?,
        credential_secret_id: col(r, 10)?,
        revoked_at: col(r, 11)?,
        pending_repair: col(r, 12)?,
    })
}

fn run_row(r: &Row) -> StoreResult<MigrationRun> {
    Ok(MigrationRun {
        run_id: col(r, 0)?,
        pid: col(r, 1)?,
        host: col(r, 2)?,
        started_at: col(r, 3)?,
        source: container_from_id(col(r, 4)?),
        target: container_from_id(col(r, 5)?),
        finished_at: col(r, 6)?,
        outcome: col(r, 7)?,
    })
}

impl PgTx<'_> {
    // -- ekms

    pub(crate) fn ekms_get(&self, c: &Container) -> StoreResult<Option<EkmsConfig>> {
        let sql = format!("SELECT {EKMS_COLS} FROM ekms_configs WHERE container_id = $1");
        self.row(&sql, &[&container_id(c)])?
            .as_ref()
            .map(ekms_row)
            .transpose()
    }

    pub(crate) fn ekms_list(&self) -> StoreResult<Vec<EkmsConfig>> {
        let sql = format!("SELECT {EKMS_COLS} FROM ekms_configs ORDER BY container_id");
        self.rows(&sql, &[])?.iter().map(ekms_row).collect()
    }

    pub(crate) fn ekms_put(&self, c: &EkmsConfig) -> StoreResult<()> {
        let id = container_id(&c.container);
        if !self.exists("SELECT 1 FROM containers WHERE id = $1", &[&id])? {
            return Err(not_found("container", id));
        }
        let sql = format!(
            "INSERT INTO ekms_configs ({EKMS_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (container_id) DO UPDATE SET key_arn = excluded.key_arn, \
             architecture = excluded.architecture, \
             allow_revert_to_internal = excluded.allow_revert_to_internal, \
             last_status = excluded.last_status, last_aws_state = excluded.last_aws_state, \
             last_checked_at = excluded.last_checked_at, created_at = excluded.created_at"
        );
        self.exec(
            &sql,
            &[
                &id,
                &c.key_arn,
                &c.architecture.as_str(),
                &c.allow_revert_to_internal,
                &c.last_status,
                &c.last_aws_state,
                &c.last_checked_at,
                &c.created_at,
            ],
        )?;
        Ok(())
    }

    pub(crate) fn ekms_delete(&self, c: &Container) -> StoreResult<()> {
        let id = container_id(c);
        let n = self.exec("DELETE FROM ekms_configs WHERE container_id = $1", &[&id])?;
        affected(n, "EKMS configuration", id)
    }

    // -- secrets

    fn secret_query(
        &self,
        sql: &str,
        params: crate::store::postgres_tx::Params<'_>,
    ) -> StoreResult<Vec<Secret>> {
        let rows = self.rows(sql, params)?;
        rows.iter().map(|r| self.secret_row(r)).collect()
    }

    fn secret_row(&self, r: &Row) -> StoreResult<Secret> {
        let id: String = col(r, 0)?;
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
            id,
            container: container_from_id(col(r, 1)?),
            name: col(r, 2)?,
            secret_type: parsed(r, 3, "secret_type")?,
            encryption_key_id: col(r, 4)?,
            description: col(r, 5)?,
            tags: json_col(r, 6, "tags")?,
            current_version_id: col(r, 7)?,
            versions,
            created_at: col(r, 8)?,
        })
    }

    pub(crate) fn secret_get(&self, id: &str) -> StoreResult<Option<Secret>> {
        let sql = format!("SELECT {SECRET_COLS} FROM secrets WHERE id = $1");
        Ok(self.secret_query(&sql, &[&id])?.into_iter().next())
    }

    pub(crate) fn secret_get_by_name(
        &self,
        c: &Container,
        name: &str,
    ) -> StoreResult<Option<Secret>> {
        let sql =
            format!("SELECT {SECRET_COLS} FROM secrets WHERE container_id = $1 AND name = $2");
        Ok(self
            .secret_query(&sql, &[&container_id(c), &name])?
            .into_iter()
            .next())
    }

    pub(crate) fn secret_list(&self, c: Option<&Container>) -> StoreResult<Vec<Secret>> {
        match c {
            Some(c) => self.secret_query(
                &format!(
                    "SELECT {SECRET_COLS} FROM secrets WHERE container_id = $1 \
                     ORDER BY created_at, ord"
                ),
                &[&container_id(c)],
            ),
            None => self.secret_query(
                &format!("SELECT {SECRET_COLS} FROM secrets ORDER BY created_at, ord"),
                &[],
            ),
        }
    }

    pub(crate) fn secret_list_sealed_by(
        &self,
        c: &Container,
        key_id: &str,
    ) -> StoreResult<Vec<Secret>> {
        self.secret_query(
            &format!(
                "SELECT {SECRET_COLS} FROM secrets WHERE container_id = $1 \
                 AND encryption_key_id = $2 ORDER BY created_at, ord"
            ),
            &[&container_id(c), &key_id],
        )
    }

    pub(crate) fn secret_count(&self, c: &Container) -> StoreResult<i64> {
        self.count(
            "SELECT COUNT(*) FROM secrets WHERE container_id = $1",
            &[&container_id(c)],
        )
    }

    pub(crate) fn secret_versions_of(
        &self,
        secret_id: &str,
    ) -> StoreResult<Vec<SealedSecretVersion>> {
        let sql = format!(
            "SELECT {SECRET_VERSION_COLS} FROM secret_versions WHERE secret_id = $1 ORDER BY seq"
        );
        self.rows(&sql, &[&secret_id])?
            .iter()
            .map(secret_version_row)
            .collect()
    }

    fn secret_container_check(&self, s: &Secret) -> StoreResult<()> {
        let id = container_id(&s.container);
        if !self.exists("SELECT 1 FROM containers WHERE id = $1", &[&id])? {
            return Err(not_found("container", id));
        }
        if self.exists(
            "SELECT 1 FROM secrets WHERE container_id = $1 AND name = $2 AND id <> $3",
            &[&id, &s.name, &s.id],
        )? {
            return Err(StoreError::AlreadyExists {
                kind: "secret",
                id: format!("{}/{}", s.container, s.name),
            });
        }
        Ok(())
    }

    fn secret_exists(&self, id: &str) -> StoreResult<bool> {
        self.exists("SELECT 1 FROM secrets WHERE id = $1", &[&id])
    }

    pub(crate) fn secret_insert(&self, s: &Secret) -> StoreResult<()> {
        if self.secret_exists(&s.id)? {
            return Err(StoreError::AlreadyExists {
                kind: "secret",
                id: s.id.clone(),
            });
        }
        self.secret_container_check(s)?;
        self.exec(
            &format!(
                "INSERT INTO secrets ({SECRET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            &[
                &s.id,
                &container_id(&s.container),
                &s.name,
                &s.secret_type.as_str(),
                &s.encryption_key_id,
                &s.description,
                &to_json("tags", &s.tags)?,
                &s.current_version_id,
                &s.created_at,
            ],
        )?;
        Ok(())
    }

    pub(crate) fn secret_update(&self, s: &Secret) -> StoreResult<()> {
        if !self.secret_exists(&s.id)? {
            return Err(not_found("secret", &s.id));
        }
        self.secret_container_check(s)?;
        self.exec(
            "UPDATE secrets SET container_id = $2, name = $3, secret_type = $4, \
             encryption_key_id = $5, description = $6, tags = $7, current_version_id = $8, \
             created_at = $9 WHERE id = $1",
            &[
                &s.id,
                &container_id(&s.container),
                &s.name,
                &s.secret_type.as_str(),
                &s.encryption_key_id,
                &s.description,
                &to_json("tags", &s.tags)?,
                &s.current_version_id,
                &s.created_at,
            ],
        )?;
        Ok(())
    }

    pub(crate) fn secret_delete(&self, id: &str) -> StoreResult<()> {
        let n = self.exec("DELETE FROM secrets WHERE id = $1", &[&id])?;
        affected(n, "secret", id)
    }

    pub(crate) fn secret_put_version(&self, v: &SealedSecretVersion) -> StoreResult<()> {
        if !self.secret_exists(&v.secret_id)? {
            return Err(not_found("secret", &v.secret_id));
        }
        self.exec(
            &format!(
                "INSERT INTO secret_versions ({SECRET_VERSION_COLS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (secret_id, version_id) DO UPDATE SET seq = excluded.seq, \
                 stages = excluded.stages, created_at = excluded.created_at, \
                 key_id = excluded.key_id, key_version_id = excluded.key_version_id, \
                 sealed = excluded.sealed"
            ),
            &[
                &v.secret_id,
                &v.version_id,
                &v.seq,
                &to_json("stages", &v.stages)?,
                &v.created_at,
                &v.key_id,
                &v.key_version_id,
                &v.sealed,
            ],
        )?;
        Ok(())
    }

    /// `Conflict` when `c` still holds secrets (guard of `delete_container`).
    pub(crate) fn secrets_guard_empty(&self, c: &Container) -> StoreResult<()> {
        let held = self.secret_count(c)?;
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "container {c} still holds {held} secret(s)"
            )));
        }
        Ok(())
    }

    // -- break glass

    pub(crate) fn grant_get(&self, id: &str) -> StoreResult<Option<GrantRecord>> {
        let sql = format!("SELECT {GRANT_COLS} FROM break_glass_grants WHERE id = $1");
        self.row(&sql, &[&id])?.as_ref().map(grant_row).transpose()
    }

    pub(crate) fn grant_list(&self) -> StoreResult<Vec<GrantRecord>> {
        let sql = format!("SELECT {GRANT_COLS} FROM break_glass_grants ORDER BY created_at, id");
        self.rows(&sql, &[])?.iter().map(grant_row).collect()
    }

    pub(crate) fn grant_insert(&self, g: &GrantRecord) -> StoreResult<()> {
        if self.grant_get(&g.id)?.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: "break-glass grant",
                id: g.id.clone(),
            });
        }
        self.exec(
            &format!(
                "INSERT INTO break_glass_grants ({GRANT_COLS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ),
            &[
                &g.id,
                &g.change_request,
                &g.principal,
                &to_json("grant key ids", &g.key_ids)?,
                &g.instance_id,
                &to_json("grant permissions", &g.permissions)?,
                &g.reason,
                &g.created_at,
                &g.expires_at,
                &g.credential_hash,
                &g.credential_secret_id,
                &g.revoked_at,
                &g.pending_repair,
            ],
        )?;
        Ok(())
    }

    pub(crate) fn grant_update(&self, g: &GrantRecord) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE break_glass_grants SET credential_secret_id = $2, revoked_at = $3, \
             pending_repair = $4 WHERE id = $1",
            &[
                &g.id,
                &g.credential_secret_id,
                &g.revoked_at,
                &g.pending_repair,
            ],
        )?;
        affected(n, "break-glass grant", &g.id)
    }

    // -- migration runs

    pub(crate) fn migration_runs_list(&self) -> StoreResult<Vec<MigrationRun>> {
        let sql = format!("SELECT {RUN_COLS} FROM migration_runs ORDER BY ord");
        self.rows(&sql, &[])?.iter().map(run_row).collect()
    }

    pub(crate) fn migration_run_put(&self, m: &MigrationRun) -> StoreResult<()> {
        self.exec(
            &format!(
                "INSERT INTO migration_runs ({RUN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (run_id) DO UPDATE SET pid = excluded.pid, host = excluded.host, \
                 started_at = excluded.started_at, source = excluded.source, \
                 target = excluded.target, finished_at = excluded.finished_at, \
                 outcome = excluded.outcome"
            ),
            &[
                &m.run_id,
                &m.pid,
                &m.host,
                &m.started_at,
                &container_id(&m.source),
                &container_id(&m.target),
                &m.finished_at,
                &m.outcome,
            ],
        )?;
        Ok(())
    }
}
