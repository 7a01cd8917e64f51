//! The [`StoreTx`] side of [`PgTx`]: instances, containers, keys,
//! versions, aliases and audit (the other records delegate to
//! `postgres_records.rs`). Same rules as the SQLite store: existence and
//! uniqueness are checked before each change, under the write lock.

use postgres::types::ToSql;

use crate::store::postgres_tx::{
    INSTANCE_COLS, PgTx, affected, col, container_id, not_found, to_json,
};
use crate::store::traits::{ContainerRecord, NewAuditEntry, SealedVersion, StoreReader, StoreTx};
use crate::store::{Alias, Container, Instance, Key, StoreError, StoreResult};

impl StoreTx for PgTx<'_> {
    fn insert_instance(&mut self, i: &Instance) -> StoreResult<()> {
        for (column, value) in [("id", &i.id), ("name", &i.name)] {
            let sql = format!("SELECT 1 FROM instances WHERE {column} = $1");
            if self.exists(&sql, &[value])? {
                return Err(StoreError::AlreadyExists {
                    kind: "instance",
                    id: value.clone(),
                });
            }
        }
        self.exec(
            &format!(
                "INSERT INTO instances ({INSTANCE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &i.id,
                &i.name,
                &i.instance_type.as_str(),
                &i.region,
                &i.key_quota,
                &i.secret_quota,
                &i.status.as_str(),
                &i.created_at,
            ],
        )?;
        Ok(())
    }

    fn update_instance(&mut self, i: &Instance) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE instances SET name = $2, instance_type = $3, region = $4, key_quota = $5, \
             secret_quota = $6, status = $7, created_at = $8 WHERE id = $1",
            &[
                &i.id,
                &i.name,
                &i.instance_type.as_str(),
                &i.region,
                &i.key_quota,
                &i.secret_quota,
                &i.status.as_str(),
                &i.created_at,
            ],
        )?;
        affected(n, "instance", &i.id)
    }

    fn delete_instance(&mut self, id: &str) -> StoreResult<()> {
        self.forget_known();
        let held = self.count_keys(&Container::Instance(id.to_string()))?;
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "instance {id} still holds {held} key(s)"
            )));
        }
        let n = self.exec("DELETE FROM instances WHERE id = $1", &[&id])?;
        affected(n, "instance", id)
    }

    fn put_container(&mut self, c: &ContainerRecord) -> StoreResult<()> {
        self.exec(
            "INSERT INTO containers (id, wrapping, wrapped_root_key, external_key_arn, migrating, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
             wrapping = excluded.wrapping, wrapped_root_key = excluded.wrapped_root_key, \
             external_key_arn = excluded.external_key_arn, migrating = excluded.migrating, \
             created_at = excluded.created_at",
            &[
                &container_id(&c.container),
                &c.wrapping.as_str(),
                &c.wrapped_root_key,
                &c.external_key_arn,
                &c.migrating,
                &c.created_at,
            ],
        )?;
        self.know_container(container_id(&c.container));
        Ok(())
    }

    fn delete_container(&mut self, container: &Container) -> StoreResult<()> {
        self.forget_known();
        let held = self.count_keys(container)?;
        if held > 0 {
            return Err(StoreError::Conflict(format!(
                "container {container} still holds {held} key(s)"
            )));
        }
        self.secrets_guard_empty(container)?;
        let id = container_id(container);
        let n = self.exec("DELETE FROM containers WHERE id = $1", &[&id])?;
        affected(n, "container", id)
    }

    fn insert_key(&mut self, k: &Key) -> StoreResult<()> {
        // The container is checked first (once per transaction, see
        // `PgTx::known`) so a missing one is `NotFound`, not a foreign-key
        // failure that would abort the transaction; an existing id is
        // answered by the insert itself.
        if !self.container_exists(&k.container)? {
            return Err(not_found("container", container_id(&k.container)));
        }
        let tags = to_json("tags", &k.tags)?;
        let text = key_text(k);
        let n = self.exec(
            "INSERT INTO keys (id, container_id, spec, usage, protection_level, origin, \
             multi_version, description, tags, state, deletion_protection, \
             deletion_window_in_days, rotation_interval, current_version, creation_date, \
             deletion_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (id) DO NOTHING",
            &key_params(k, &tags, &text),
        )?;
        if n == 0 {
            return Err(StoreError::AlreadyExists {
                kind: "key",
                id: k.id.clone(),
            });
        }
        self.know_key(&k.id);
        Ok(())
    }

    fn update_key(&mut self, k: &Key) -> StoreResult<()> {
        if !self.container_exists(&k.container)? {
            return Err(not_found("container", container_id(&k.container)));
        }
        let tags = to_json("tags", &k.tags)?;
        let text = key_text(k);
        let n = self.exec(
            "UPDATE keys SET container_id = $2, spec = $3, usage = $4, protection_level = $5, \
             origin = $6, multi_version = $7, description = $8, tags = $9, state = $10, \
             deletion_protection = $11, deletion_window_in_days = $12, rotation_interval = $13, \
             current_version = $14, creation_date = $15, deletion_date = $16 WHERE id = $1",
            &key_params(k, &tags, &text),
        )?;
        affected(n, "key", &k.id)
    }

    fn delete_key(&mut self, id: &str) -> StoreResult<()> {
        self.forget_known();
        // Versions and aliases go with it (ON DELETE CASCADE).
        let n = self.exec("DELETE FROM keys WHERE id = $1", &[&id])?;
        affected(n, "key", id)
    }

    fn put_version(&mut self, v: &SealedVersion) -> StoreResult<()> {
        if !self.key_exists(&v.key_id)? {
            return Err(not_found("key", &v.key_id));
        }
        self.exec(
            "INSERT INTO key_versions (key_id, version_id, seq, created_at, sealed) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id, version_id) DO UPDATE SET \
             seq = excluded.seq, created_at = excluded.created_at, sealed = excluded.sealed",
            &[&v.key_id, &v.version_id, &v.seq, &v.created_at, &v.sealed],
        )?;
        Ok(())
    }

    fn insert_alias(&mut self, a: &Alias) -> StoreResult<()> {
        if self.exists("SELECT 1 FROM aliases WHERE name = $1", &[&a.name])? {
            return Err(StoreError::AlreadyExists {
                kind: "alias",
                id: a.name.clone(),
            });
        }
        if !self.key_exists(&a.key_id)? {
            return Err(not_found("key", &a.key_id));
        }
        self.exec(
            "INSERT INTO aliases (name, key_id, created_at) VALUES ($1, $2, $3)",
            &[&a.name, &a.key_id, &a.created_at],
        )?;
        Ok(())
    }

    fn update_alias(&mut self, a: &Alias) -> StoreResult<()> {
        if !self.key_exists(&a.key_id)? {
            return Err(not_found("key", &a.key_id));
        }
        let n = self.exec(
            "UPDATE aliases SET key_id = $2, created_at = $3 WHERE name = $1",
            &[&a.name, &a.key_id, &a.created_at],
        )?;
        affected(n, "alias", &a.name)
    }

    fn delete_alias(&mut self, name: &str) -> StoreResult<()> {
        let n = self.exec("DELETE FROM aliases WHERE name = $1", &[&name])?;
        affected(n, "alias", name)
    }

    fn append_audit(&mut self, e: &NewAuditEntry) -> StoreResult<i64> {
        let row = self.row(
            "INSERT INTO audit (at, actor, action, object, outcome, detail) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            &[&e.at, &e.actor, &e.action, &e.object, &e.outcome, &e.detail],
        )?;
        match row {
            Some(r) => col(&r, 0),
            None => Err(StoreError::database(
                "INSERT … RETURNING seq returned no row",
            )),
        }
    }

    // -- the other records (SQL in postgres_records.rs)
    fn put_migration_run(&mut self, m: &crate::store::MigrationRun) -> StoreResult<()> {
        self.migration_run_put(m)
    }

    fn put_tombstone(&mut self, t: &crate::store::Tombstone) -> StoreResult<()> {
        self.tombstone_put(t)
    }

    fn clear_tombstones(
        &mut self,
        names: &[(crate::store::TombstoneKind, String)],
    ) -> StoreResult<u64> {
        self.tombstone_clear(names)
    }

    fn put_ekms_config(&mut self, c: &crate::store::EkmsConfig) -> StoreResult<()> {
        self.ekms_put(c)
    }

    fn delete_ekms_config(&mut self, c: &Container) -> StoreResult<()> {
        self.ekms_delete(c)
    }

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

    fn insert_grant(&mut self, g: &crate::store::GrantRecord) -> StoreResult<()> {
        self.grant_insert(g)
    }

    fn update_grant(&mut self, g: &crate::store::GrantRecord) -> StoreResult<()> {
        self.grant_update(g)
    }
}

/// The text columns of a key: container, spec, usage, protection, origin, state.
fn key_text(k: &Key) -> [&str; 6] {
    [
        container_id(&k.container),
        k.spec.as_str(),
        k.usage.as_str(),
        k.protection_level.as_str(),
        k.origin.as_str(),
        k.state.as_str(),
    ]
}

/// `$1..$16` of the key statements.
fn key_params<'k>(
    k: &'k Key,
    tags: &'k String,
    text: &'k [&'k str; 6],
) -> [&'k (dyn ToSql + Sync); 16] {
    let [container, spec, usage, protection, origin, state] = text;
    [
        &k.id,
        container,
        spec,
        usage,
        protection,
        origin,
        &k.multi_version,
        &k.description,
        tags,
        state,
        &k.deletion_protection,
        &k.deletion_window_in_days,
        &k.rotation_interval,
        &k.current_version,
        &k.creation_date,
        &k.deletion_date,
    ]
}
