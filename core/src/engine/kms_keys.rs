//! Key lifecycle: create, read, update, scheduled deletion.

use super::kms::{Kms, container_instance, load_instance, now, rfc3339, unlocked_container};
use crate::engine::{rotation, tombstone, validate};
use crate::store::crypto::{seal, version_aad};
use crate::store::keygen::{self, Material};
use crate::store::{
    Container, InstanceType, Key, KeyOrigin, KeyState, KeyUpdate, NewKey, ProtectionLevel,
    SealedVersion, StoreError, StoreReader, StoreResult, TombstoneKind, read_with,
};

/// `Conflict` unless the key is `Enabled`: material operations (encrypt,
/// decrypt, sign, verify) need an enabled key.
pub(super) fn ensure_enabled(key: &Key) -> StoreResult<()> {
    let id = &key.id;
    let hint = match key.state {
        KeyState::Enabled => return Ok(()),
        KeyState::Disabled => format!("; enable it with `keyshift key enable {id}`"),
        KeyState::PendingDeletion => format!(
            "{}; to use it again: `keyshift key cancel-deletion {id}`, then `keyshift key enable {id}`",
            key.deletion_date
                .as_deref()
                .map(|d| format!(" (erased after {d})"))
                .unwrap_or_default()
        ),
        KeyState::PendingImport => "; import its material first".to_owned(),
    };
    Err(StoreError::Conflict(format!(
        "key {id} is {}, not Enabled{hint}",
        key.state
    )))
}

/// The key with that id, or `NotFound { kind: "key" }` (`Moved` when a
/// store move took it out of this store).
pub(super) fn load_key<R: StoreReader + ?Sized>(r: &R, id: &str) -> StoreResult<Key> {
    r.key(id)?
        .ok_or_else(|| tombstone::missing(r, TombstoneKind::Key, id))
}

/// A key by id or by `alias/...` name.
pub(super) fn resolve<R: StoreReader + ?Sized>(r: &R, id_or_alias: &str) -> StoreResult<Key> {
    if id_or_alias.starts_with(validate::ALIAS_PREFIX) {
        let alias = r
            .alias(id_or_alias)?
            .ok_or_else(|| tombstone::missing(r, TombstoneKind::Alias, id_or_alias))?;
        load_key(r, &alias.key_id)
    } else {
        load_key(r, id_or_alias)
    }
}

/// A fresh version id.
pub(super) fn new_version_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Kms {
    /// Creates a key (id `key-<uuid>`): `KMS` origin generates material now;
    /// `EXTERNAL` starts `PendingImport` without a version.
    pub fn create_key(&self, new: NewKey) -> StoreResult<Key> {
        validate::deletion_window(new.deletion_window_in_days)?;
        validate::key_usage(new.spec, new.usage)?;
        if let Some(r) = &new.rotation_interval {
            rotation::check_interval(r, new.spec, new.origin, new.multi_version)?;
        }
        let id = format!("key-{}", uuid::Uuid::new_v4());
        let first: Option<(String, Material)> = match new.origin {
            KeyOrigin::Kms => Some((new_version_id(), keygen::generate(new.spec)?)),
            KeyOrigin::External => None,
        };
        self.mutate("key.create", &id, |tx, detail| {
            let rec = unlocked_container(&*tx, &new.container)?;
            super::deletion::accepts_new_objects(&*tx, &new.container)?;
            let instance = container_instance(&*tx, &new.container)?;
            let hardware = instance.as_ref().is_some_and(|i| i.instance_type == InstanceType::Hardware);
            if let Some(inst) = &instance {
                if hardware && !new.spec.is_symmetric() {
                    return Err(StoreError::Invalid {
                        field: "spec",
                        message: format!(
                            "hardware instance {} holds only AES_256 keys, not {}",
                            inst.id, new.spec
                        ),
                    });
                }
            }
            if new.protection_level == ProtectionLevel::Hsm && !hardware {
                return Err(StoreError::Invalid {
                    field: "protection_level",
                    message: format!(
                        "HSM protection needs a hardware KMS instance; {} is not one (use SOFTWARE)",
                        new.container
                    ),
                });
            }
            if let Some(inst) = &instance {
                let held = tx.count_keys(&new.container)?;
                if held >= inst.key_quota {
                    return Err(StoreError::Conflict(format!(
                        "instance {} is full: key quota {} reached; raise key_quota or delete keys",
                        inst.id, inst.key_quota
                    )));
                }
            }
            let created = rfc3339(now())?;
            let state = match (&first, new.enabled) {
                (None, _) => KeyState::PendingImport,
                (Some(_), true) => KeyState::Enabled,
                (Some(_), false) => KeyState::Disabled,
            };
            let key = Key {
                id: id.clone(),
                container: new.container.clone(),
                spec: new.spec,
                usage: new.usage,
                protection_level: new.protection_level,
                origin: new.origin,
                multi_version: new.multi_version,
                description: new.description.clone(),
                tags: new.tags.clone(),
                state,
                deletion_protection: new.deletion_protection,
                deletion_window_in_days: new.deletion_window_in_days,
                rotation_interval: new.rotation_interval.clone(),
                current_version: first.as_ref().map(|(v, _)| v.clone()).unwrap_or_default(),
                version_count: 0,
                creation_date: created.clone(),
                deletion_date: None,
                aliases: vec![],
                last_rotation_date: None,
            };
            tx.insert_key(&key)?;
            if let Some((vid, material)) = &first {
                let root = self.root_key(&rec)?;
                let sealed = seal(&root, &version_aad(&id, vid), material)?;
                tx.put_version(&SealedVersion {
                    key_id: id.clone(),
                    version_id: vid.clone(),
                    seq: 1,
                    created_at: created.clone(),
                    sealed,
                })?;
            }
            *detail = format!("container={} spec={} origin={}", new.container, new.spec, new.origin);
            load_key(&*tx, &id)
        })
    }

    /// The key with that id (`NotFound { kind: "key" }`).
    pub fn get_key(&self, id: &str) -> StoreResult<Key> {
        read_with(&*self.store, |r| load_key(r, id))
    }

    /// A key by id, or by alias when the argument starts with `alias/`.
    pub fn resolve_key(&self, id_or_alias: &str) -> StoreResult<Key> {
        read_with(&*self.store, |r| resolve(r, id_or_alias))
    }

    /// Keys of one container (an unknown instance is `NotFound`), or all keys.
    pub fn list_keys(&self, container: Option<&Container>) -> StoreResult<Vec<Key>> {
        read_with(&*self.store, |r| {
            if let Some(Container::Instance(id)) = container {
                load_instance(r, id)?;
            }
            r.keys(container)
        })
    }

    /// Updates a key's mutable metadata. `enabled` is refused (`Conflict`)
    /// while the key is `PendingDeletion` or `PendingImport`.
    pub fn update_key(&self, id: &str, upd: KeyUpdate) -> StoreResult<Key> {
        self.mutate("key.update", id, |tx, detail| {
            let mut key = load_key(&*tx, id)?;
            unlocked_container(&*tx, &key.container)?;
            let mut changed = Vec::new();
            if let Some(days) = upd.deletion_window_in_days {
                validate::deletion_window(days)?;
                key.deletion_window_in_days = days;
                changed.push("deletion_window_in_days");
            }
            if let Some(enabled) = upd.enabled {
                match key.state {
                    KeyState::PendingDeletion | KeyState::PendingImport => {
                        return Err(StoreError::Conflict(format!(
                            "key {id} is {}: it cannot be {}",
                            key.state,
                            if enabled { "enabled" } else { "disabled" }
                        )));
                    }
                    KeyState::Enabled | KeyState::Disabled => {
                        key.state = if enabled {
                            KeyState::Enabled
                        } else {
                            KeyState::Disabled
                        };
                        changed.push("enabled");
                    }
                }
            }
            if let Some(d) = &upd.description {
                key.description = d.clone();
                changed.push("description");
            }
            if let Some(t) = &upd.tags {
                key.tags = t.clone();
                changed.push("tags");
            }
            if let Some(p) = upd.deletion_protection {
                key.deletion_protection = p;
                changed.push("deletion_protection");
            }
            if let Some(r) = &upd.rotation_interval {
                if let Some(interval) = r {
                    rotation::check_interval(interval, key.spec, key.origin, key.multi_version)?;
                }
                key.rotation_interval = r.clone();
                changed.push("rotation_interval");
            }
            tx.update_key(&key)?;
            *detail = changed.join(",");
            load_key(&*tx, id)
        })
    }

    /// Schedules deletion: `PendingDeletion`, erased after `window_days`
    /// (default: the key's window). Refused while deletion protection is on;
    /// a key already pending deletion is returned unchanged.
    pub fn schedule_key_deletion(&self, id: &str, window_days: Option<i64>) -> StoreResult<Key> {
        self.mutate("key.schedule_deletion", id, |tx, detail| {
            let mut key = load_key(&*tx, id)?;
            unlocked_container(&*tx, &key.container)?;
            if key.state == KeyState::PendingDeletion {
                *detail = "already pending deletion".into();
                return Ok(key);
            }
            if key.deletion_protection {
                return Err(StoreError::Conflict(format!(
                    "deletion protection is on for key {id}: set deletion_protection = false before deleting it"
                )));
            }
            super::kms_secrets::refuse_if_secrets_depend(&*tx, &key, "schedule deletion of")?;
            let days = window_days.unwrap_or(key.deletion_window_in_days);
            super::deletion::mark_pending_deletion(&mut key, days, now())?;
            tx.update_key(&key)?;
            *detail = format!("window={days}d");
            Ok(key)
        })
    }
}
