//! The key service facade: instances, aliases, audit, and the shared
//! plumbing (transactions with audit, container guards, root keys).
//! Key operations live in `kms_keys.rs` and `kms_material.rs`.

use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::engine::{tombstone, validate};
use crate::store::crypto::{MasterKeyWrapper, RootKeyWrapper, SecretKey32, random_fill};
use crate::store::{
    Alias, AuditEntry, Container, ContainerRecord, Instance, InstanceStatus, InstanceUpdate,
    KeyState, KeyStore, NewAuditEntry, NewInstance, OpenOptions, StoreError, StoreLocation,
    StoreReader, StoreResult, StoreTx, TombstoneKind, WrappingStrategy, read_with, write_with,
};

/// The key service over one key store. Cheap to clone; safe to share
/// between threads (Terraform applies resources in parallel).
#[derive(Clone)]
pub struct Kms {
    pub(super) store: Arc<dyn KeyStore>,
    actor: String,
    pub(super) internal: Arc<dyn RootKeyWrapper>,
    external: Option<Arc<dyn RootKeyWrapper>>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("store", &self.store.location())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// Now, whole seconds, UTC.
pub(super) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// RFC 3339 rendering of a time.
pub(super) fn rfc3339(t: OffsetDateTime) -> StoreResult<String> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::database(format!("cannot format time: {e}")))
}

/// A container's record, or `NotFound` (kind `instance` for an instance).
pub(super) fn container_record<R: StoreReader + ?Sized>(
    r: &R,
    c: &Container,
) -> StoreResult<ContainerRecord> {
    r.container(c)?.ok_or_else(|| match c {
        Container::Instance(id) => tombstone::missing(r, TombstoneKind::Instance, id),
        Container::Shared => StoreError::database("the shared container record is missing"),
    })
}

/// Like [`container_record`], refusing containers held by a migration.
pub(super) fn unlocked_container<R: StoreReader + ?Sized>(
    r: &R,
    c: &Container,
) -> StoreResult<ContainerRecord> {
    let rec = container_record(r, c)?;
    if rec.migrating {
        return Err(StoreError::MigrationInProgress {
            container: c.to_string(),
            holder: super::migration_lock::holder_text(r, c)?,
        });
    }
    Ok(rec)
}

/// The instance with that id, or `NotFound` (`Moved` when a store move
/// took it out of this store).
pub(super) fn load_instance<R: StoreReader + ?Sized>(r: &R, id: &str) -> StoreResult<Instance> {
    r.instance(id)?
        .ok_or_else(|| tombstone::missing(r, TombstoneKind::Instance, id))
}

/// The instance a container is, if any (`NotFound` if it vanished).
pub(super) fn container_instance<R: StoreReader + ?Sized>(
    r: &R,
    c: &Container,
) -> StoreResult<Option<Instance>> {
    c.instance_id().map(|id| load_instance(r, id)).transpose()
}

impl Kms {
    /// Opens the store at `dir`, creating it (dir 0700, database, master
    /// key 0600) when it does not exist yet. A store holding data opens
    /// only with its own master key: a missing or different `master.key`
    /// is an error and nothing is written. `actor` goes into the audit log
    /// (e.g. `terraform`). Warnings (open permissions) are logged; callers
    /// that show them to the user use [`Kms::open_reporting`].
    pub fn open(dir: &Path, actor: &str) -> StoreResult<Kms> {
        let (kms, warnings) = Kms::open_reporting(dir, actor)?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        Ok(kms)
    }

    /// Like [`Kms::open`], also returning the warnings for the user.
    pub fn open_reporting(dir: &Path, actor: &str) -> StoreResult<(Kms, Vec<String>)> {
        let opts = OpenOptions {
            create: true,
            ..OpenOptions::default()
        };
        Kms::open_location(&StoreLocation::dir(dir), &opts, actor)
    }

    /// Opens the store at any [`StoreLocation`] (see [`crate::store::open`]
    /// for the options and errors), returning the warnings for the user.
    pub fn open_location(
        location: &StoreLocation,
        opts: &OpenOptions,
        actor: &str,
    ) -> StoreResult<(Kms, Vec<String>)> {
        let opened = crate::store::open(location, opts)?;
        let wrapper = MasterKeyWrapper::from_key(opened.master);
        let kms = Kms::with_store(opened.store, Arc::new(wrapper), actor)?;
        Ok((kms, opened.warnings))
    }

    /// A service over any [`KeyStore`] with `internal` wrapping the root keys
    /// of `internal` containers. Creates the shared container if missing and
    /// purges what is due ([`Kms::purge_due`]: keys whose deletion window
    /// has passed, `deleting` instances left empty) unless another writer
    /// holds the write lock (opening never waits for one); a purge put off
    /// or failed is logged and retried at the next open.
    pub fn with_store(
        store: Arc<dyn KeyStore>,
        internal: Arc<dyn RootKeyWrapper>,
        actor: &str,
    ) -> StoreResult<Kms> {
        let kms = Kms {
            store,
            actor: actor.to_string(),
            internal,
            external: None,
        };
        kms.ensure_shared_container()?;
        match kms.purge_due(now()) {
            Ok(p) if p.put_off => tracing::info!(
                "keys or instances whose deletion window has passed are erased at a later open: \
                 another writer holds the key store"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                error = %e,
                "could not erase keys and instances whose deletion window has passed"
            ),
        }
        Ok(kms)
    }

    /// Adds the wrapper for `external` (EKMS) containers.
    pub fn with_external_wrapper(mut self, wrapper: Arc<dyn RootKeyWrapper>) -> Kms {
        self.external = Some(wrapper);
        self
    }

    /// The actor recorded in the audit log.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The underlying store (for engine extensions such as the CLI migration).
    pub fn store(&self) -> &dyn KeyStore {
        &*self.store
    }

    fn ensure_shared_container(&self) -> StoreResult<()> {
        if read_with(&*self.store, |r| r.container(&Container::Shared))?.is_some() {
            return Ok(());
        }
        let rec = self.new_container_record(&Container::Shared)?;
        write_with(&*self.store, |tx| {
            if tx.container(&Container::Shared)?.is_none() {
                tx.put_container(&rec)?;
            }
            Ok(())
        })
    }

    /// A fresh container record with a new root key wrapped `internal`ly.
    pub(super) fn new_container_record(&self, c: &Container) -> StoreResult<ContainerRecord> {
        let root = SecretKey32::generate()?;
        Ok(ContainerRecord {
            container: c.clone(),
            wrapping: WrappingStrategy::Internal,
            wrapped_root_key: self.internal.wrap(&c.to_string(), &root)?,
            external_key_arn: None,
            migrating: false,
            created_at: rfc3339(now())?,
        })
    }

    /// Unwraps a container's root key with the wrapper of its strategy.
    pub(super) fn root_key(&self, rec: &ContainerRecord) -> StoreResult<SecretKey32> {
        let id = rec.container.to_string();
        match rec.wrapping {
            WrappingStrategy::Internal => self.internal.unwrap_root(&id, &rec.wrapped_root_key),
            WrappingStrategy::External => match &self.external {
                Some(w) => w.unwrap_root(&id, &rec.wrapped_root_key),
                None => Err(StoreError::Crypto(format!(
                    "container {id} is wrapped by an external key{}, and no external key service is configured",
                    rec.external_key_arn
                        .as_deref()
                        .map(|a| format!(" ({a})"))
                        .unwrap_or_default()
                ))),
            },
        }
    }

    /// Runs `f` in one write transaction and appends an `ok` audit entry in
    /// the same transaction; a failure is logged in its own small
    /// transaction. `f` may set the entry's detail.
    pub(super) fn mutate<T>(
        &self,
        action: &str,
        object: &str,
        mut f: impl FnMut(&mut dyn StoreTx, &mut String) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let at = rfc3339(now())?;
        let result = write_with(&*self.store, |tx| {
            let mut detail = String::new();
            let value = f(tx, &mut detail)?;
            tx.append_audit(&self.audit_entry(&at, action, object, "ok", detail))?;
            Ok(value)
        });
        if let Err(e) = &result {
            self.audit_failure(&at, action, object, e);
        }
        result
    }

    pub(super) fn audit_entry(
        &self,
        at: &str,
        action: &str,
        object: &str,
        outcome: &str,
        detail: String,
    ) -> NewAuditEntry {
        NewAuditEntry {
            at: at.to_string(),
            actor: self.actor.clone(),
            action: action.to_string(),
            object: object.to_string(),
            outcome: outcome.to_string(),
            detail,
        }
    }

    fn audit_failure(&self, at: &str, action: &str, object: &str, e: &StoreError) {
        if matches!(
            e,
            StoreError::Busy(_)
                | StoreError::Database(_)
                | StoreError::Unreachable(_)
                | StoreError::Io { .. }
        ) {
            return; // the store itself is the problem: don't pile on
        }
        let mut outcome = format!("error: {e}");
        if outcome.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|i| outcome.is_char_boundary(*i))
                .unwrap_or(0);
            outcome.truncate(cut);
        }
        let entry = self.audit_entry(at, action, object, &outcome, String::new());
        if let Err(le) = write_with(&*self.store, |tx| tx.append_audit(&entry)) {
            tracing::warn!(action, object, error = %le, "could not record a failed operation in the audit log");
        }
    }

    /// Creates a KMS instance (id `kst-` + 12 lowercase hex) with its own root key.
    pub fn create_instance(&self, new: NewInstance) -> StoreResult<Instance> {
        let mut raw = [0u8; 6];
        random_fill(&mut raw)?;
        let id = validate::new_instance_id(raw);
        let container = Container::Instance(id.clone());
        let rec = self.new_container_record(&container)?;
        self.mutate("instance.create", &id, |tx, detail| {
            validate::non_blank("name", &new.name)?;
            validate::non_blank("region", &new.region)?;
            validate::quota("key_quota", new.key_quota)?;
            validate::quota("secret_quota", new.secret_quota)?;
            super::deletion::name_free(&*tx, &new.name)?;
            let inst = Instance {
                id: id.clone(),
                name: new.name.clone(),
                instance_type: new.instance_type,
                region: new.region.clone(),
                key_quota: new.key_quota,
                secret_quota: new.secret_quota,
                status: InstanceStatus::Active,
                created_at: rec.created_at.clone(),
            };
            tx.insert_instance(&inst)?;
            tx.put_container(&rec)?;
            *detail = format!(
                "name={} type={} region={}",
                inst.name, inst.instance_type, inst.region
            );
            Ok(inst)
        })
    }

    /// The instance with that id (`NotFound { kind: "instance" }`).
    pub fn get_instance(&self, id: &str) -> StoreResult<Instance> {
        read_with(&*self.store, |r| load_instance(r, id))
    }

    /// The instance with that name (`NotFound { kind: "instance" }`).
    pub fn find_instance_by_name(&self, name: &str) -> StoreResult<Instance> {
        read_with(&*self.store, |r| {
            r.instance_by_name(name)?
                .ok_or_else(|| StoreError::NotFound {
                    kind: "instance",
                    id: name.to_string(),
                })
        })
    }

    /// All instances.
    pub fn list_instances(&self) -> StoreResult<Vec<Instance>> {
        read_with(&*self.store, |r| r.instances())
    }

    /// Changes quotas; a quota must stay above 0 and not below what is held.
    pub fn update_instance(&self, id: &str, upd: InstanceUpdate) -> StoreResult<Instance> {
        self.mutate("instance.update", id, |tx, detail| {
            let mut inst = load_instance(&*tx, id)?;
            let container = Container::Instance(id.to_string());
            unlocked_container(&*tx, &container)?;
            if let Some(q) = upd.key_quota {
                validate::quota("key_quota", q)?;
                let held = tx.count_keys(&container)?;
                if q < held {
                    return Err(StoreError::Invalid {
                        field: "key_quota",
                        message: format!("instance {id} holds {held} keys; the quota cannot go below that (got {q})"),
                    });
                }
                inst.key_quota = q;
            }
            if let Some(q) = upd.secret_quota {
                validate::quota("secret_quota", q)?;
                let held = tx.count_secrets(&container)?;
                if q < held {
                    return Err(StoreError::Invalid {
                        field: "secret_quota",
                        message: format!("instance {id} holds {held} secrets; the quota cannot go below that (got {q})"),
                    });
                }
                inst.secret_quota = q;
            }
            tx.update_instance(&inst)?;
            *detail = format!("key_quota={} secret_quota={}", inst.key_quota, inst.secret_quota);
            Ok(inst)
        })
    }

    /// Deletes an instance. While it holds live keys (any state but
    /// `PendingDeletion`) or secrets this is a `Conflict` unless `force`,
    /// which erases its secrets and schedules its live keys for deletion
    /// with their own windows. Key material is never erased here: an
    /// instance still holding keys goes to status `deleting` (keys already
    /// pending keep their dates) and is purged with its last key
    /// ([`Kms::purge_due`]); one holding no key is erased at once. Deleting
    /// an instance already `deleting` changes nothing.
    pub fn delete_instance(&self, id: &str, force: bool) -> StoreResult<()> {
        self.mutate("instance.delete", id, |tx, detail| {
            let mut inst = load_instance(&*tx, id)?;
            if inst.status == InstanceStatus::Deleting {
                *detail = "already deleting".into();
                return Ok(());
            }
            let container = Container::Instance(id.to_string());
            unlocked_container(&*tx, &container)?;
            let keys = tx.keys(Some(&container))?;
            let live = keys.iter().filter(|k| k.state != KeyState::PendingDeletion).count();
            if live > 0 && !force {
                return Err(StoreError::Conflict(format!(
                    "instance {id} still holds {live} key(s) not scheduled for deletion; delete them \
                     first or set force_destroy = true (and apply it) to schedule their deletion with the instance"
                )));
            }
            let secrets = tx.secrets(Some(&container))?;
            if !secrets.is_empty() && !force {
                return Err(StoreError::Conflict(format!(
                    "instance {id} still holds {} secret(s); delete them first or set force_destroy = true \
                     (and apply it) to erase them with the instance",
                    secrets.len()
                )));
            }
            for s in &secrets {
                tx.delete_secret(&s.id)?;
            }
            if keys.is_empty() {
                super::deletion::purge_instance(tx, id)?;
            } else {
                let scheduled = super::deletion::schedule_instance_keys(tx, &keys, now())?;
                inst.status = InstanceStatus::Deleting;
                tx.update_instance(&inst)?;
                *detail = format!(
                    "deleting: {} key(s) pending deletion ({scheduled} scheduled by force_destroy)",
                    keys.len()
                );
            }
            if !secrets.is_empty() {
                detail.push_str(&format!(" force_destroy: erased {} secret(s)", secrets.len()));
            }
            Ok(())
        })
    }

    /// `(keys, secrets)` held by an instance.
    pub fn instance_usage(&self, id: &str) -> StoreResult<(i64, i64)> {
        read_with(&*self.store, |r| {
            load_instance(r, id)?;
            let c = Container::Instance(id.to_string());
            Ok((r.count_keys(&c)?, r.count_secrets(&c)?))
        })
    }

    /// Sets or clears a container's migration lock (and the instance status).
    /// Setting it while already set is `MigrationInProgress`. While set, every
    /// management operation on the container fails fast.
    pub fn set_migrating(&self, container: &Container, on: bool) -> StoreResult<()> {
        let action = if on {
            "container.lock"
        } else {
            "container.unlock"
        };
        self.mutate(action, &container.to_string(), |tx, _| {
            let rec = container_record(&*tx, container)?;
            if on {
                super::deletion::accepts_new_objects(&*tx, container)?;
            }
            if on && rec.migrating {
                return Err(StoreError::MigrationInProgress {
                    container: container.to_string(),
                    holder: super::migration_lock::holder_text(&*tx, container)?,
                });
            }
            super::migration_lock::set_lock(tx, container, on)
        })
    }

    /// Creates an alias for a key (not `PendingDeletion`).
    pub fn create_alias(&self, name: &str, key_id: &str) -> StoreResult<Alias> {
        self.mutate("alias.create", name, |tx, detail| {
            validate::alias_name(name)?;
            if tx.alias(name)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: "alias",
                    id: name.to_string(),
                });
            }
            Self::alias_target(&*tx, key_id)?;
            let alias = Alias {
                name: name.to_string(),
                key_id: key_id.to_string(),
                created_at: rfc3339(now())?,
            };
            tx.insert_alias(&alias)?;
            *detail = format!("key={key_id}");
            Ok(alias)
        })
    }

    /// Whether an alias may point at `key_id` (the rule `create_alias` and
    /// `update_alias` apply), for plan-time checks: `NotFound { kind: "key" }`,
    /// or `Conflict` for a key pending deletion or in a migrating container.
    pub fn check_alias_target(&self, key_id: &str) -> StoreResult<()> {
        read_with(&*self.store, |r| Self::alias_target(r, key_id))
    }

    fn alias_target<R: StoreReader + ?Sized>(r: &R, key_id: &str) -> StoreResult<()> {
        let key = r
            .key(key_id)?
            .ok_or_else(|| tombstone::missing(r, TombstoneKind::Key, key_id))?;
        if key.state == KeyState::PendingDeletion {
            return Err(StoreError::Conflict(format!(
                "key {key_id} is pending deletion; an alias cannot point at it"
            )));
        }
        unlocked_container(r, &key.container)?;
        Ok(())
    }

    /// The alias with that name (`NotFound { kind: "alias" }`, or `Moved`).
    pub fn get_alias(&self, name: &str) -> StoreResult<Alias> {
        read_with(&*self.store, |r| {
            r.alias(name)?
                .ok_or_else(|| tombstone::missing(r, TombstoneKind::Alias, name))
        })
    }

    /// Re-points an alias at another key.
    pub fn update_alias(&self, name: &str, key_id: &str) -> StoreResult<Alias> {
        self.mutate("alias.update", name, |tx, detail| {
            let mut alias = tx.alias(name)?.ok_or_else(|| StoreError::NotFound {
                kind: "alias",
                id: name.to_string(),
            })?;
            if let Some(old) = tx.key(&alias.key_id)? {
                unlocked_container(&*tx, &old.container)?;
            }
            Self::alias_target(&*tx, key_id)?;
            *detail = format!("key={} (was {})", key_id, alias.key_id);
            alias.key_id = key_id.to_string();
            tx.update_alias(&alias)?;
            Ok(alias)
        })
    }

    /// Deletes an alias.
    pub fn delete_alias(&self, name: &str) -> StoreResult<()> {
        self.mutate("alias.delete", name, |tx, _| {
            let alias = tx.alias(name)?.ok_or_else(|| StoreError::NotFound {
                kind: "alias",
                id: name.to_string(),
            })?;
            if let Some(key) = tx.key(&alias.key_id)? {
                unlocked_container(&*tx, &key.container)?;
            }
            tx.delete_alias(name)
        })
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        read_with(&*self.store, |r| r.audit(limit))
    }
}
