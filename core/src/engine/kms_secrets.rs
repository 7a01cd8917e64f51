//! Secrets: named values in a container, each version sealed
//! under the material of the secret's encryption key.
//!
//! - The encryption key must exist, be a symmetric `AES_256`
//!   `ENCRYPT/DECRYPT` key, be `Enabled`, and live in the secret's container.
//! - A value is sealed with AES-256-GCM (sealed format v1) under the
//!   material of the key's *current* version, AAD `<secret id>/<version id>`;
//!   the version records which key version sealed it, so rotating the key
//!   never breaks older versions.
//! - Stages: a new version becomes `ACSCurrent`, the previous current one
//!   `ACSPrevious`, and older versions lose their stages.
//! - Every mutation is audited (never the value) and refused while a
//!   migration holds the container.

use std::ops::RangeInclusive;

use sm2::elliptic_curve::zeroize::Zeroizing;

use super::kms::{Kms, container_instance, load_instance, now, rfc3339, unlocked_container};
use super::tombstone;
use crate::store::crypto::{SecretKey32, seal, unseal, version_aad};
use crate::store::{
    Container, Key, KeySpec, KeyState, KeyUsage, NewSecret, STAGE_CURRENT, STAGE_PREVIOUS,
    SealedSecretVersion, Secret, SecretUpdate, StoreError, StoreReader, StoreResult, StoreTx,
    TombstoneKind, read_with,
};

/// Accepted secret name length, in characters.
pub const SECRET_NAME_LEN: RangeInclusive<usize> = 1..=192;
/// Largest accepted secret value, in bytes.
pub const MAX_SECRET_VALUE: usize = 65_536;
/// Accepted length of a caller-chosen version id.
pub const VERSION_ID_LEN: RangeInclusive<usize> = 1..=64;

/// Secret names: 1–192 characters of `[A-Za-z0-9/_+=.@-]`.
pub fn secret_name(name: &str) -> StoreResult<()> {
    let invalid = |message: String| StoreError::Invalid {
        field: "name",
        message,
    };
    let len = name.chars().count();
    if !SECRET_NAME_LEN.contains(&len) {
        return Err(invalid(format!(
            "a secret name must be {} to {} characters long, got {len}",
            SECRET_NAME_LEN.start(),
            SECRET_NAME_LEN.end()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(invalid(format!(
            "secret name {name:?} contains {c:?}; only letters, digits and / _ + = . @ - are allowed"
        )));
    }
    Ok(())
}

/// A secret value must be at most [`MAX_SECRET_VALUE`] bytes (the message
/// gives the size only).
pub fn secret_value(value: &[u8]) -> StoreResult<()> {
    if value.len() > MAX_SECRET_VALUE {
        return Err(StoreError::Invalid {
            field: "secret_data",
            message: format!(
                "a secret value is at most {MAX_SECRET_VALUE} bytes, got {} bytes",
                value.len()
            ),
        });
    }
    Ok(())
}

/// Caller-chosen version ids: 1–64 characters of `[A-Za-z0-9._-]`.
pub fn version_id(id: &str) -> StoreResult<()> {
    let ok = VERSION_ID_LEN.contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "version_id",
            message: format!("{id:?} is not a version id (1 to 64 of A-Z a-z 0-9 . _ -)"),
        })
    }
}

/// A secret called `name` may be added to `container`: the name is free
/// there and the instance's secret quota is not reached.
fn room_for<R: StoreReader + ?Sized>(r: &R, container: &Container, name: &str) -> StoreResult<()> {
    room_for_all(r, container, &[name])
}

/// Secrets called `names` (distinct) may all be added to `container`: every
/// name is free there and the instance's secret quota has room for all.
/// The room rule for a secret created or moved alone, and for the secrets a
/// key's move carries ([`super::key_dependents`]).
pub(super) fn room_for_all<R: StoreReader + ?Sized>(
    r: &R,
    container: &Container,
    names: &[&str],
) -> StoreResult<()> {
    if let Some(inst) = container_instance(r, container)? {
        let held = r.count_secrets(container)?;
        let wanted = i64::try_from(names.len()).unwrap_or(i64::MAX);
        if held.saturating_add(wanted) > inst.secret_quota {
            return Err(StoreError::Conflict(format!(
                "instance {} is full: secret quota {} reached ({held} held, {wanted} to add); \
                 raise secret_quota or delete secrets",
                inst.id, inst.secret_quota
            )));
        }
    }
    for name in names {
        if r.secret_by_name(container, name)?.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: "secret",
                id: format!("{container}/{name}"),
            });
        }
    }
    Ok(())
}

/// The migration rule for one secret: its encryption key must be in
/// `target` by the time the secret moves (a secret moves with or after its
/// key), and `target` must have room for it. `key_moves_to` is where a
/// pending change in the same run puts the key (plan time: the key's own
/// planned move); `None` means the key stays where the store has it.
fn check_secret_move<R: StoreReader + ?Sized>(
    r: &R,
    s: &Secret,
    target: &Container,
    key_moves_to: Option<&Container>,
) -> StoreResult<()> {
    let key = super::kms_keys::load_key(r, &s.encryption_key_id)?;
    let key_container = key_moves_to.unwrap_or(&key.container);
    if key_container != target {
        return Err(StoreError::Conflict(format!(
            "secret {} ({}) is encrypted by key {} in {key_container}; a secret migrates only \
             with or after its encryption key: move the key to {target} first or in the same \
             apply (give the key the same instance_id and reference it in encryption_key_id), \
             or switch encryption_key_id to a key that lives in {target}",
            s.id, s.name, key.id
        )));
    }
    room_for(r, target, &s.name)
}

/// The whole rule for moving `s` to `target`, optionally switching to
/// `new_key` at the same time: with the same key, [`check_secret_move`];
/// with another key, room in `target` and the encryption-key rule for the
/// new key in `target`. Returns the new key when there is a switch.
/// `key_moves_to` counts the key involved (the new one when switching) in
/// that container (plan time); `None` at apply.
fn secret_move_rule<R: StoreReader + ?Sized>(
    r: &R,
    s: &Secret,
    target: &Container,
    new_key: Option<&str>,
    key_moves_to: Option<&Container>,
) -> StoreResult<Option<Key>> {
    let switch = new_key.filter(|k| *k != s.encryption_key_id);
    if s.container != *target {
        match switch {
            Some(_) => room_for(r, target, &s.name)?,
            None => check_secret_move(r, s, target, key_moves_to)?,
        }
    }
    switch
        .map(|k| encryption_key_after_move(r, k, target, key_moves_to))
        .transpose()
}

/// Refuses `action` on `key` while secrets are encrypted with it: erasing
/// the key would make them unreadable.
pub(super) fn refuse_if_secrets_depend<R: StoreReader + ?Sized>(
    r: &R,
    key: &Key,
    action: &str,
) -> StoreResult<()> {
    let names: Vec<String> = super::key_dependents::of(r, key)?
        .into_iter()
        .map(|s| s.name)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "cannot {action} key {}: it encrypts {} secret(s) ({}); re-point their \
         encryption_key_id to another key first, or migrate them together with the key",
        key.id,
        names.len(),
        names.join(", ")
    )))
}

/// The secret with that id, or `NotFound { kind: "secret" }`.
pub(super) fn load_secret<R: StoreReader + ?Sized>(r: &R, id: &str) -> StoreResult<Secret> {
    r.secret(id)?
        .ok_or_else(|| tombstone::missing(r, TombstoneKind::Secret, id))
}

/// The encryption-key rule: an existing, `Enabled`, symmetric `AES_256`
/// `ENCRYPT/DECRYPT` key in `container`. Errors are `Invalid` on
/// `encryption_key_id` and name the rule broken.
fn encryption_key<R: StoreReader + ?Sized>(
    r: &R,
    key_id: &str,
    container: &Container,
) -> StoreResult<Key> {
    encryption_key_after_move(r, key_id, container, None)
}

/// [`encryption_key`] with the key counted in `key_moves_to` when a pending
/// change of the same run moves it there (plan time).
fn encryption_key_after_move<R: StoreReader + ?Sized>(
    r: &R,
    key_id: &str,
    container: &Container,
    key_moves_to: Option<&Container>,
) -> StoreResult<Key> {
    let bad = |message: String| StoreError::Invalid {
        field: "encryption_key_id",
        message,
    };
    let key = r.key(key_id)?.ok_or_else(|| {
        bad(format!("key {key_id} does not exist; a secret needs an existing AES_256 key of its own container"))
    })?;
    if key.spec != KeySpec::Aes256 || key.usage != KeyUsage::EncryptDecrypt {
        return Err(bad(format!(
            "key {key_id} is {} {}; a secret must be encrypted by a symmetric AES_256 ENCRYPT/DECRYPT key",
            key.spec, key.usage
        )));
    }
    let key_container = key_moves_to.unwrap_or(&key.container);
    if key_container != container {
        return Err(bad(format!(
            "key {key_id} lives in {key_container}, the secret in {container}; the encryption key must be in the same container as the secret",
        )));
    }
    if key.state != KeyState::Enabled {
        return Err(bad(format!(
            "key {key_id} is {}; the encryption key must be Enabled",
            key.state
        )));
    }
    Ok(key)
}

/// Stages of an existing version once a new version becomes current.
fn demoted(stages: &[String]) -> Vec<String> {
    if stages.iter().any(|s| s == STAGE_CURRENT) {
        vec![STAGE_PREVIOUS.to_string()]
    } else {
        stages
            .iter()
            .filter(|s| *s != STAGE_PREVIOUS)
            .cloned()
            .collect()
    }
}

impl Kms {
    /// The AES data key of one key version (its unsealed material).
    fn data_key<R: StoreReader + ?Sized>(
        &self,
        r: &R,
        key: &Key,
        version_id: &str,
    ) -> StoreResult<SecretKey32> {
        SecretKey32::from_slice(&self.version_material(r, key, version_id)?)
    }

    /// Seals `value` for `secret_id`/`version_id` under the current version
    /// of `key`; returns that key version and the blob.
    fn seal_secret<R: StoreReader + ?Sized>(
        &self,
        r: &R,
        key: &Key,
        secret_id: &str,
        version_id: &str,
        value: &[u8],
    ) -> StoreResult<(String, Vec<u8>)> {
        let dk = self.data_key(r, key, &key.current_version)?;
        let sealed = seal(&dk, &version_aad(secret_id, version_id), value)?;
        Ok((key.current_version.clone(), sealed))
    }

    /// Opens one sealed secret version with the key version that sealed it.
    pub(super) fn open_secret<R: StoreReader + ?Sized>(
        &self,
        r: &R,
        v: &SealedSecretVersion,
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        let key = r.key(&v.key_id)?.ok_or_else(|| {
            StoreError::Conflict(format!(
                "the encryption key {} of secret {} no longer exists: version {} cannot be decrypted",
                v.key_id, v.secret_id, v.version_id
            ))
        })?;
        let dk = self.data_key(r, &key, &v.key_version_id)?;
        unseal(&dk, &version_aad(&v.secret_id, &v.version_id), &v.sealed).map_err(|_| {
            StoreError::Crypto(format!(
                "version {} of secret {} does not authenticate under key {}",
                v.version_id, v.secret_id, v.key_id
            ))
        })
    }

    /// Read-only check of the encryption-key rule, for plan time: `Ok` when
    /// `key_id` may encrypt a secret in `container`, counting the key in
    /// `key_moves_to` when the same plan moves it there.
    pub fn check_secret_encryption_key(
        &self,
        key_id: &str,
        container: &Container,
        key_moves_to: Option<&Container>,
    ) -> StoreResult<()> {
        read_with(&*self.store, |r| {
            encryption_key_after_move(r, key_id, container, key_moves_to).map(|_| ())
        })
    }

    /// Creates a secret (id `sec-<uuid>`) with `value` as its first,
    /// `ACSCurrent` version. Enforces the name rule, the encryption-key rule,
    /// unique names per container and the instance's secret quota.
    pub fn create_secret(&self, new: NewSecret, value: &[u8]) -> StoreResult<Secret> {
        let id = format!("sec-{}", uuid::Uuid::new_v4());
        let vid = uuid::Uuid::new_v4().to_string();
        self.mutate("secret.create", &id, |tx, detail| {
            secret_name(&new.name)?;
            secret_value(value)?;
            unlocked_container(&*tx, &new.container)?;
            super::deletion::accepts_new_objects(&*tx, &new.container)?;
            room_for(&*tx, &new.container, &new.name)?;
            let key = encryption_key(&*tx, &new.encryption_key_id, &new.container)?;
            let created = rfc3339(now())?;
            tx.insert_secret(&Secret {
                id: id.clone(),
                name: new.name.clone(),
                container: new.container.clone(),
                secret_type: new.secret_type,
                encryption_key_id: key.id.clone(),
                description: new.description.clone(),
                tags: new.tags.clone(),
                current_version_id: vid.clone(),
                versions: vec![],
                created_at: created.clone(),
            })?;
            let (key_version_id, sealed) = self.seal_secret(&*tx, &key, &id, &vid, value)?;
            tx.put_secret_version(&SealedSecretVersion {
                secret_id: id.clone(),
                version_id: vid.clone(),
                seq: 1,
                stages: vec![STAGE_CURRENT.to_string()],
                created_at: created,
                key_id: key.id.clone(),
                key_version_id,
                sealed,
            })?;
            *detail = format!(
                "container={} name={} type={} key={} version={vid}",
                new.container, new.name, new.secret_type, key.id
            );
            load_secret(&*tx, &id)
        })
    }

    /// The secret with that id (`NotFound { kind: "secret" }`).
    pub fn get_secret(&self, id: &str) -> StoreResult<Secret> {
        read_with(&*self.store, |r| load_secret(r, id))
    }

    /// The secret called `name` in `container` (`NotFound { kind: "secret" }`).
    pub fn find_secret(&self, container: &Container, name: &str) -> StoreResult<Secret> {
        read_with(&*self.store, |r| {
            r.secret_by_name(container, name)?.ok_or_else(|| {
                let id = tombstone::secret_name_id(container, name);
                tombstone::missing(r, TombstoneKind::SecretName, &id)
            })
        })
    }

    /// Secrets of one container (an unknown instance is `NotFound`), or all.
    pub fn list_secrets(&self, container: Option<&Container>) -> StoreResult<Vec<Secret>> {
        read_with(&*self.store, |r| {
            if let Some(Container::Instance(id)) = container {
                load_instance(r, id)?;
            }
            r.secrets(container)
        })
    }

    /// Updates a secret's metadata. A new `encryption_key_id` (same rule as
    /// on create) re-seals every version under that key's current version,
    /// in the same transaction; version ids and stages are unchanged.
    pub fn update_secret(&self, id: &str, upd: SecretUpdate) -> StoreResult<Secret> {
        self.mutate("secret.update", id, |tx, detail| {
            let mut s = load_secret(&*tx, id)?;
            unlocked_container(&*tx, &s.container)?;
            let mut changed = Vec::new();
            if let Some(d) = &upd.description {
                s.description = d.clone();
                changed.push("description".to_string());
            }
            if let Some(t) = &upd.tags {
                s.tags = t.clone();
                changed.push("tags".to_string());
            }
            if let Some(t) = upd.secret_type.filter(|t| *t != s.secret_type) {
                changed.push(format!("type={t} (was {})", s.secret_type));
                s.secret_type = t;
            }
            match &upd.encryption_key_id {
                Some(k) if *k != s.encryption_key_id => {
                    let key = encryption_key(&*tx, k, &s.container)?;
                    changed.push(self.reseal(tx, &mut s, key)?);
                }
                _ => {}
            }
            tx.update_secret(&s)?;
            *detail = changed.join(",");
            load_secret(&*tx, id)
        })
    }

    /// Writes a new version (id `version_id`, or a fresh UUID) that becomes
    /// `ACSCurrent`; the previous current version becomes `ACSPrevious` and
    /// older ones lose their stages. The encryption key must still satisfy
    /// the rule. Repeating a version id with the same value is a no-op; with
    /// another value it is a `Conflict`.
    pub fn put_secret_value(
        &self,
        id: &str,
        value: &[u8],
        version: Option<&str>,
    ) -> StoreResult<Secret> {
        let vid = version.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        self.mutate("secret.put_value", id, |tx, detail| {
            version_id(&vid)?;
            secret_value(value)?;
            let mut s = load_secret(&*tx, id)?;
            unlocked_container(&*tx, &s.container)?;
            let key = encryption_key(&*tx, &s.encryption_key_id, &s.container)?;
            let versions = tx.secret_versions(id)?;
            if let Some(existing) = versions.iter().find(|v| v.version_id == vid) {
                let current = self.open_secret(&*tx, existing)?;
                if aws_lc_rs::constant_time::verify_slices_are_equal(&current, value).is_ok() {
                    *detail = format!("version {vid}: same value, unchanged");
                    return Ok(s);
                }
                return Err(StoreError::Conflict(format!(
                    "version {vid} of secret {id} already exists with a different value; use a new version id"
                )));
            }
            for v in &versions {
                let stages = demoted(&v.stages);
                if stages != v.stages {
                    tx.put_secret_version(&SealedSecretVersion { stages, ..v.clone() })?;
                }
            }
            let seq = versions.last().map_or(0, |v| v.seq) + 1;
            let (key_version_id, sealed) = self.seal_secret(&*tx, &key, id, &vid, value)?;
            tx.put_secret_version(&SealedSecretVersion {
                secret_id: id.to_string(),
                version_id: vid.clone(),
                seq,
                stages: vec![STAGE_CURRENT.to_string()],
                created_at: rfc3339(now())?,
                key_id: key.id.clone(),
                key_version_id,
                sealed,
            })?;
            s.current_version_id = vid.clone();
            tx.update_secret(&s)?;
            *detail = format!("version {seq} ({vid})");
            load_secret(&*tx, id)
        })
    }

    /// The value of one version, chosen by version id or stage (default
    /// `ACSCurrent`). The encryption key that sealed it must be `Enabled`.
    /// Zeroized on drop; never log it.
    pub fn get_secret_value(
        &self,
        id: &str,
        version_or_stage: Option<&str>,
    ) -> StoreResult<Zeroizing<Vec<u8>>> {
        self.secret_version_value(id, version_or_stage)
            .map(|v| v.value)
    }

    /// Re-seals every version of `s` under the current version of `key`
    /// and makes it the secret's encryption key (caller checked the rule and
    /// writes `s` back). Returns an audit detail.
    fn reseal(&self, tx: &mut dyn StoreTx, s: &mut Secret, key: Key) -> StoreResult<String> {
        let versions = tx.secret_versions(&s.id)?;
        for v in &versions {
            let plain = self.open_secret(&*tx, v)?;
            let (key_version_id, sealed) =
                self.seal_secret(&*tx, &key, &s.id, &v.version_id, &plain)?;
            tx.put_secret_version(&SealedSecretVersion {
                key_id: key.id.clone(),
                key_version_id,
                sealed,
                ..v.clone()
            })?;
        }
        let detail = format!(
            "encryption_key_id={} (was {}, re-sealed {} version(s))",
            key.id,
            s.encryption_key_id,
            versions.len()
        );
        s.encryption_key_id = key.id;
        Ok(detail)
    }

    /// Read-only check of [`Kms::move_secret`]'s rule, for plan time: the
    /// same rule ([`secret_move_rule`]) with the same arguments, counting
    /// the key involved in `key_moves_to` when the plan also moves that key.
    pub fn check_secret_movable(
        &self,
        id: &str,
        target: &Container,
        new_key: Option<&str>,
        key_moves_to: Option<&Container>,
    ) -> StoreResult<()> {
        read_with(&*self.store, |r| {
            let s = load_secret(r, id)?;
            secret_move_rule(r, &s, target, new_key, key_moves_to).map(drop)
        })
    }

    /// Moves a secret in place to `target`, keeping its id, versions,
    /// stages and metadata. Its versions are sealed under its encryption
    /// key's material, which a key migration does not change, so nothing is
    /// re-sealed. Refused (`Conflict`) unless the encryption key is already
    /// in `target`; the name must be free there and the quota not reached.
    ///
    /// With `new_key` (an `AES_256` key in `target`, same rule as on
    /// create), the secret switches to that key in the same transaction and
    /// every version is re-sealed under it: a move and a key change at once.
    pub fn move_secret(
        &self,
        id: &str,
        target: &Container,
        new_key: Option<&str>,
    ) -> StoreResult<Secret> {
        self.relocate_secret(id, target, new_key, false)
    }

    /// [`Kms::move_secret`] (without a key switch) for the holder of the
    /// migration lock on the secret's container or `target`: the lock is
    /// required instead of refused. Same rule otherwise.
    pub fn migrate_secret_locked(&self, id: &str, target: &Container) -> StoreResult<Secret> {
        self.relocate_secret(id, target, None, true)
    }

    fn relocate_secret(
        &self,
        id: &str,
        target: &Container,
        new_key: Option<&str>,
        lock_held: bool,
    ) -> StoreResult<Secret> {
        self.mutate("secret.move", id, |tx, detail| {
            let mut s = load_secret(&*tx, id)?;
            let mut notes = Vec::new();
            if s.container != *target && lock_held {
                let src = super::kms::container_record(&*tx, &s.container)?;
                let dst = super::kms::container_record(&*tx, target)?;
                if !src.migrating && !dst.migrating {
                    return Err(StoreError::Conflict(format!(
                        "no migration lock is held on {} or {target}",
                        s.container
                    )));
                }
            } else if s.container != *target {
                unlocked_container(&*tx, &s.container)?;
                unlocked_container(&*tx, target)?;
            }
            let switch_to = secret_move_rule(&*tx, &s, target, new_key, None)?;
            if s.container != *target {
                notes.push(format!("{} -> {target}", s.container));
                s.container = target.clone();
            }
            if let Some(key) = switch_to {
                notes.push(self.reseal(tx, &mut s, key)?);
            }
            tx.update_secret(&s)?;
            *detail = notes.join(",");
            load_secret(&*tx, id)
        })
    }

    /// Deletes a secret and all its versions, at once.
    pub fn delete_secret(&self, id: &str) -> StoreResult<()> {
        self.mutate("secret.delete", id, |tx, detail| {
            let s = load_secret(&*tx, id)?;
            unlocked_container(&*tx, &s.container)?;
            tx.delete_secret(id)?;
            *detail = format!("container={} name={}", s.container, s.name);
            Ok(())
        })
    }
}

#[cfg(test)]
#[path = "kms_secrets_tests.rs"]
mod tests;
