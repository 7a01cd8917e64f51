//! Operations on key material: BYOK import, rotation, in-place migration
//! between containers, and AES-GCM encrypt/decrypt.
//!
//! Ciphertext format (version 1), self-describing:
//! `0x01 || len(key id) u8 || key id || len(version id) u8 || version id ||`
//! sealed blob (`0x01 || nonce || ciphertext || tag`), with the header
//! (everything before the sealed blob) as AAD, so the key id is authenticated.

use super::kms::{Kms, container_instance, container_record, now, rfc3339, unlocked_container};
use super::kms_keys::{ensure_enabled, load_key, new_version_id, resolve};
use super::migration_rules::{self, MigrationPlan};
use crate::store::crypto::{SecretKey32, seal, unseal, version_aad};
use crate::store::keygen::{self, Material};
use crate::store::{
    Container, Key, KeyOrigin, KeySpec, KeyState, SealedVersion, StoreError, StoreReader,
    StoreResult, read_with,
};

/// First byte of ciphertexts made by [`Kms::encrypt`].
pub const CIPHERTEXT_FORMAT_V1: u8 = 1;

fn bad_ciphertext(why: &str) -> StoreError {
    StoreError::Invalid {
        field: "ciphertext",
        message: format!("not a Keyshift ciphertext: {why}"),
    }
}

fn header(key_id: &str, version_id: &str) -> StoreResult<Vec<u8>> {
    let k = u8::try_from(key_id.len()).map_err(|_| StoreError::Crypto("key id too long".into()))?;
    let v = u8::try_from(version_id.len())
        .map_err(|_| StoreError::Crypto("version id too long".into()))?;
    let mut h = vec![CIPHERTEXT_FORMAT_V1, k];
    h.extend_from_slice(key_id.as_bytes());
    h.push(v);
    h.extend_from_slice(version_id.as_bytes());
    Ok(h)
}

/// Splits a ciphertext into (header, key id, version id, sealed body).
fn parse_ciphertext(ct: &[u8]) -> StoreResult<(&[u8], &str, &str, &[u8])> {
    let take = |buf: &[u8], at: usize| -> StoreResult<(usize, String)> {
        let len = usize::from(*buf.get(at).ok_or_else(|| bad_ciphertext("truncated"))?);
        let bytes = buf
            .get(at + 1..at + 1 + len)
            .ok_or_else(|| bad_ciphertext("truncated"))?;
        let s = std::str::from_utf8(bytes).map_err(|_| bad_ciphertext("bad id"))?;
        Ok((at + 1 + len, s.to_string()))
    };
    match ct.first() {
        Some(&CIPHERTEXT_FORMAT_V1) => {}
        Some(other) => return Err(bad_ciphertext(&format!("unknown format version {other}"))),
        None => return Err(bad_ciphertext("empty")),
    }
    let (after_key, _) = take(ct, 1)?;
    let (end, _) = take(ct, after_key)?;
    let (head, body) = ct
        .split_at_checked(end)
        .ok_or_else(|| bad_ciphertext("truncated"))?;
    let key_id = head
        .get(2..after_key)
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| bad_ciphertext("bad key id"))?;
    let version_id = head
        .get(after_key + 1..)
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| bad_ciphertext("bad version id"))?;
    Ok((head, key_id, version_id, body))
}

impl Kms {
    /// Unseals one version of a key (inside any transaction).
    pub(super) fn version_material<R: StoreReader + ?Sized>(
        &self,
        r: &R,
        key: &Key,
        version_id: &str,
    ) -> StoreResult<Material> {
        let rec = container_record(r, &key.container)?;
        let v = r
            .version(&key.id, version_id)?
            .ok_or_else(|| StoreError::NotFound {
                kind: "key version",
                id: format!("{}/{version_id}", key.id),
            })?;
        unseal(
            &self.root_key(&rec)?,
            &version_aad(&key.id, version_id),
            &v.sealed,
        )
    }

    /// Imports BYOK material into an `EXTERNAL` key: `PendingImport` →
    /// `Enabled` with its first version. The same material again is a no-op;
    /// different material once material exists is a `Conflict`.
    pub fn import_key_material(&self, id: &str, material: &[u8]) -> StoreResult<Key> {
        let vid = new_version_id();
        self.mutate("key.import", id, |tx, detail| {
            let mut key = load_key(&*tx, id)?;
            let rec = unlocked_container(&*tx, &key.container)?;
            if self.material_import_rule(&*tx, &key, material)? {
                *detail = "same material: unchanged".into();
                return Ok(key);
            }
            let sealed = seal(&self.root_key(&rec)?, &version_aad(id, &vid), material)?;
            tx.put_version(&SealedVersion {
                key_id: id.to_string(),
                version_id: vid.clone(),
                seq: 1,
                created_at: rfc3339(now())?,
                sealed,
            })?;
            key.current_version = vid.clone();
            key.state = KeyState::Enabled;
            tx.update_key(&key)?;
            load_key(&*tx, id)
        })
    }

    /// The rule for importing `material` into `key`: only `EXTERNAL` keys
    /// not pending deletion take material of their spec; a key that already
    /// holds material accepts the same material again (a no-op, as AWS KMS
    /// allows re-importing the same material) and refuses any other.
    /// `Ok(true)` means "same material, nothing to do".
    fn material_import_rule<R: StoreReader + ?Sized>(
        &self,
        r: &R,
        key: &Key,
        material: &[u8],
    ) -> StoreResult<bool> {
        let id = &key.id;
        if key.origin != KeyOrigin::External {
            return Err(StoreError::Conflict(format!(
                "key {id} has origin {}: only origin = \"EXTERNAL\" keys take imported material",
                key.origin
            )));
        }
        if key.state == KeyState::PendingDeletion {
            return Err(StoreError::Conflict(format!(
                "key {id} is pending deletion"
            )));
        }
        keygen::check_import(key.spec, material)?;
        if key.version_count == 0 {
            return Ok(false);
        }
        let existing = self.version_material(r, key, &key.current_version)?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(&existing, material).is_ok() {
            return Ok(true);
        }
        Err(StoreError::Conflict(format!(
            "key {id} already holds different key material; the material of an EXTERNAL key \
             cannot be replaced (import the same material, or create a new key instead)"
        )))
    }

    /// Read-only check of [`Kms::import_key_material`]'s rule, for plan
    /// time: `Ok` when importing `material` into key `id` would succeed.
    pub fn check_key_material_import(&self, id: &str, material: &[u8]) -> StoreResult<()> {
        read_with(&*self.store, |r| {
            let key = load_key(r, id)?;
            self.material_import_rule(r, &key, material).map(drop)
        })
    }

    /// Adds a new version (fresh material) to a multi-version, enabled,
    /// store-generated key; it becomes the current version.
    pub fn rotate_key(&self, id: &str) -> StoreResult<Key> {
        let spec = self.get_key(id)?.spec;
        let vid = new_version_id();
        let material = keygen::generate(spec)?;
        self.mutate("key.rotate", id, |tx, detail| {
            let mut key = load_key(&*tx, id)?;
            let rec = unlocked_container(&*tx, &key.container)?;
            let refuse = |why: &str| {
                Err(StoreError::Conflict(format!(
                    "key {id} cannot be rotated: {why}"
                )))
            };
            if !key.multi_version {
                return refuse("it is single-version (multi_version = false)");
            }
            if key.origin == KeyOrigin::External {
                return refuse("its material is imported (origin EXTERNAL)");
            }
            if key.state != KeyState::Enabled {
                return refuse(&format!("it is {}", key.state));
            }
            let seq = tx.versions(id)?.last().map_or(0, |v| v.seq) + 1;
            let sealed = seal(&self.root_key(&rec)?, &version_aad(id, &vid), &material)?;
            tx.put_version(&SealedVersion {
                key_id: id.to_string(),
                version_id: vid.clone(),
                seq,
                created_at: rfc3339(now())?,
                sealed,
            })?;
            key.current_version = vid.clone();
            tx.update_key(&key)?;
            *detail = format!("version {seq}");
            load_key(&*tx, id)
        })
    }

    /// The migration rule for one key (SPEC §5a), reading the current state
    /// of both containers: `Ok(())` if `key` may move to `target`.
    pub fn check_key_migratable(&self, key: &Key, target: &Container) -> StoreResult<()> {
        read_with(&*self.store, |r| {
            let source_instance = container_instance(r, &key.container)?;
            let target_instance = container_instance(r, target)?;
            migration_rules::check(&MigrationPlan {
                key,
                source_instance: source_instance.as_ref(),
                target,
                target_instance: target_instance.as_ref(),
                target_key_count: r.count_keys(target)?,
                lock_held: false,
            })
        })
    }

    /// Moves one key in place to `target`: every version is re-sealed under
    /// the target's root key in one transaction; id, state, protection,
    /// aliases, tags and versions are unchanged, and earlier ciphertexts
    /// still decrypt. A key already in `target` is returned unchanged.
    pub fn move_key(&self, id: &str, target: &Container) -> StoreResult<Key> {
        self.relocate(id, target, false)
    }

    /// [`Kms::move_key`] for the holder of the migration lock
    /// ([`Kms::set_migrating`] on the source or target): the lock is
    /// required instead of refused.
    pub fn migrate_key_locked(&self, id: &str, target: &Container) -> StoreResult<Key> {
        self.relocate(id, target, true)
    }

    fn relocate(&self, id: &str, target: &Container, lock_held: bool) -> StoreResult<Key> {
        self.mutate("key.move", id, |tx, detail| {
            let mut key = load_key(&*tx, id)?;
            if key.container == *target {
                *detail = format!("already in {target}");
                return Ok(key);
            }
            let source = key.container.clone();
            let (src_rec, dst_rec) = if lock_held {
                let s = container_record(&*tx, &source)?;
                let d = container_record(&*tx, target)?;
                if !s.migrating && !d.migrating {
                    return Err(StoreError::Conflict(format!(
                        "no migration lock is held on {source} or {target}"
                    )));
                }
                (s, d)
            } else {
                (
                    unlocked_container(&*tx, &source)?,
                    unlocked_container(&*tx, target)?,
                )
            };
            let source_instance = container_instance(&*tx, &source)?;
            let target_instance = container_instance(&*tx, target)?;
            migration_rules::check(&MigrationPlan {
                key: &key,
                source_instance: source_instance.as_ref(),
                target,
                target_instance: target_instance.as_ref(),
                target_key_count: tx.count_keys(target)?,
                lock_held,
            })?;
            let (src_root, dst_root) = (self.root_key(&src_rec)?, self.root_key(&dst_rec)?);
            let versions = tx.versions(id)?;
            for v in &versions {
                let aad = version_aad(id, &v.version_id);
                let plain = unseal(&src_root, &aad, &v.sealed)?;
                let sealed = seal(&dst_root, &aad, &plain)?;
                tx.put_version(&SealedVersion {
                    sealed,
                    ..v.clone()
                })?;
            }
            key.container = target.clone();
            tx.update_key(&key)?;
            *detail = format!("{source} -> {target}, {} version(s)", versions.len());
            load_key(&*tx, id)
        })
    }

    /// Encrypts with the current version of an enabled `AES_256` key (by id
    /// or alias), AES-256-GCM; the result names the key and version.
    pub fn encrypt(&self, key_id_or_alias: &str, plaintext: &[u8]) -> StoreResult<Vec<u8>> {
        read_with(&*self.store, |r| {
            let key = resolve(r, key_id_or_alias)?;
            usable_for_data(&key)?;
            let data_key =
                SecretKey32::from_slice(&self.version_material(r, &key, &key.current_version)?)?;
            let mut out = header(&key.id, &key.current_version)?;
            let body = seal(&data_key, &out, plaintext)?;
            out.extend_from_slice(&body);
            Ok(out)
        })
    }

    /// Decrypts a ciphertext made by [`Kms::encrypt`], wherever its key lives now.
    pub fn decrypt(&self, ciphertext: &[u8]) -> StoreResult<Vec<u8>> {
        let (head, key_id, version_id, body) = parse_ciphertext(ciphertext)?;
        read_with(&*self.store, |r| {
            let key = load_key(r, key_id)?;
            usable_for_data(&key)?;
            let data_key = SecretKey32::from_slice(&self.version_material(r, &key, version_id)?)?;
            let plain = unseal(&data_key, head, body).map_err(|_| {
                StoreError::Crypto(format!(
                    "ciphertext does not authenticate under key {key_id}"
                ))
            })?;
            Ok(plain.to_vec())
        })
    }

    /// The plaintext material of a key's current version (tests only).
    #[cfg(test)]
    pub(crate) fn material_for_test(&self, id: &str) -> Vec<u8> {
        read_with(&*self.store, |r| {
            let key = load_key(r, id)?;
            Ok(self
                .version_material(r, &key, &key.current_version)?
                .to_vec())
        })
        .unwrap_or_default()
    }
}

fn usable_for_data(key: &Key) -> StoreResult<()> {
    if key.spec != KeySpec::Aes256 {
        return Err(StoreError::Invalid {
            field: "key_id",
            message: format!(
                "key {} is {}; encryption needs an AES_256 key",
                key.id, key.spec
            ),
        });
    }
    ensure_enabled(key)
}
