//! Operations on key material: BYOK import and encrypt/decrypt
//! (AES-256-GCM with `AES_256` keys, RSAES-OAEP-SHA-256 with RSA `ENCRYPT/DECRYPT` keys, see `kms_rsa`).
//! Rotation is in `rotation.rs`.
//!
//! Ciphertexts are self-describing: a header
//! `format u8 || len(key id) u8 || key id || len(version id) u8 || version id`
//! followed by the body. Format 1 (AES_256): the body is a sealed blob
//! (`0x01 || nonce || ciphertext || tag`) with the header as AAD. Format 2
//! (RSA): the body is the RSAES-OAEP ciphertext with the header as the
//! OAEP label. Either way the key and version ids are authenticated.

use super::kms::{Kms, container_record, now, rfc3339, unlocked_container};
use super::kms_keys::{ensure_enabled, load_key, new_version_id, resolve};
use super::kms_rsa;
use crate::store::crypto::{SecretKey32, seal, unseal, version_aad};
use crate::store::keygen::{self, Material};
use crate::store::{
    Key, KeyOrigin, KeySpec, KeyState, KeyUsage, SealedVersion, StoreError, StoreReader,
    StoreResult, read_with,
};

/// First byte of ciphertexts made by [`Kms::encrypt`] with `AES_256` keys.
pub const CIPHERTEXT_FORMAT_V1: u8 = 1;
/// First byte of ciphertexts made by [`Kms::encrypt`] with RSA keys.
pub const CIPHERTEXT_FORMAT_RSA_OAEP: u8 = 2;

fn bad_ciphertext(why: &str) -> StoreError {
    StoreError::Invalid {
        field: "ciphertext",
        message: format!("not a Keyshift ciphertext: {why}"),
    }
}

fn header(format: u8, key_id: &str, version_id: &str) -> StoreResult<Vec<u8>> {
    let k = u8::try_from(key_id.len()).map_err(|_| StoreError::Crypto("key id too long".into()))?;
    let v = u8::try_from(version_id.len())
        .map_err(|_| StoreError::Crypto("version id too long".into()))?;
    let mut h = vec![format, k];
    h.extend_from_slice(key_id.as_bytes());
    h.push(v);
    h.extend_from_slice(version_id.as_bytes());
    Ok(h)
}

/// A ciphertext split into its parts.
struct Parsed<'a> {
    format: u8,
    head: &'a [u8],
    key_id: &'a str,
    version_id: &'a str,
    body: &'a [u8],
}

/// The id of the key that made a ciphertext of [`Kms::encrypt`] (from its
/// header; the body is not checked here).
pub(super) fn ciphertext_key_id(ct: &[u8]) -> StoreResult<String> {
    parse_ciphertext(ct).map(|p| p.key_id.to_string())
}

/// Splits a ciphertext into header (format, key id, version id) and body.
fn parse_ciphertext(ct: &[u8]) -> StoreResult<Parsed<'_>> {
    let take = |buf: &[u8], at: usize| -> StoreResult<(usize, String)> {
        let len = usize::from(*buf.get(at).ok_or_else(|| bad_ciphertext("truncated"))?);
        let bytes = buf
            .get(at + 1..at + 1 + len)
            .ok_or_else(|| bad_ciphertext("truncated"))?;
        let s = std::str::from_utf8(bytes).map_err(|_| bad_ciphertext("bad id"))?;
        Ok((at + 1 + len, s.to_string()))
    };
    let format = match ct.first() {
        Some(&f @ (CIPHERTEXT_FORMAT_V1 | CIPHERTEXT_FORMAT_RSA_OAEP)) => f,
        Some(other) => return Err(bad_ciphertext(&format!("unknown format version {other}"))),
        None => return Err(bad_ciphertext("empty")),
    };
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
    Ok(Parsed {
        format,
        head,
        key_id,
        version_id,
        body,
    })
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

    /// Encrypts with the current version of an enabled `ENCRYPT/DECRYPT`
    /// key (by id or alias): AES-256-GCM for `AES_256` keys (any length),
    /// RSAES-OAEP-SHA-256 for RSA keys (at most 190 bytes with `RSA_2048`,
    /// 318 with `RSA_3072`; longer is `Invalid { field: "plaintext" }`).
    /// The result names the key and version.
    pub fn encrypt(&self, key_id_or_alias: &str, plaintext: &[u8]) -> StoreResult<Vec<u8>> {
        read_with(&*self.store, |r| {
            let key = resolve(r, key_id_or_alias)?;
            usable_for_data(&key)?;
            let material = self.version_material(r, &key, &key.current_version)?;
            if key.spec == KeySpec::Aes256 {
                let data_key = SecretKey32::from_slice(&material)?;
                let mut out = header(CIPHERTEXT_FORMAT_V1, &key.id, &key.current_version)?;
                let body = seal(&data_key, &out, plaintext)?;
                out.extend_from_slice(&body);
                return Ok(out);
            }
            let mut out = header(CIPHERTEXT_FORMAT_RSA_OAEP, &key.id, &key.current_version)?;
            let body = kms_rsa::encrypt(&material, key.spec, &out, plaintext)?;
            out.extend_from_slice(&body);
            Ok(out)
        })
    }

    /// Decrypts a ciphertext made by [`Kms::encrypt`], wherever its key
    /// lives now and whichever of its versions made it.
    pub fn decrypt(&self, ciphertext: &[u8]) -> StoreResult<Vec<u8>> {
        let ct = parse_ciphertext(ciphertext)?;
        read_with(&*self.store, |r| {
            let key = load_key(r, ct.key_id)?;
            usable_for_data(&key)?;
            let rsa_format = ct.format == CIPHERTEXT_FORMAT_RSA_OAEP;
            if rsa_format == (key.spec == KeySpec::Aes256) {
                return Err(bad_ciphertext(&format!(
                    "it is in format {} but key {} is {}",
                    ct.format, key.id, key.spec
                )));
            }
            let material = self.version_material(r, &key, ct.version_id)?;
            if rsa_format {
                return kms_rsa::decrypt(&material, key.spec, ct.head, ct.body, &key.id);
            }
            let data_key = SecretKey32::from_slice(&material)?;
            let plain = unseal(&data_key, ct.head, ct.body).map_err(|_| {
                StoreError::Crypto(format!(
                    "ciphertext does not authenticate under key {}",
                    key.id
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

/// Encryption needs an enabled `ENCRYPT/DECRYPT` key of spec `AES_256`,
/// `RSA_2048` or `RSA_3072`; anything else is `Invalid { field: "key_id" }`.
fn usable_for_data(key: &Key) -> StoreResult<()> {
    let invalid = |why: String| StoreError::Invalid {
        field: "key_id",
        message: format!("key {} {why}", key.id),
    };
    if !matches!(
        key.spec,
        KeySpec::Aes256 | KeySpec::Rsa2048 | KeySpec::Rsa3072
    ) {
        return Err(invalid(format!(
            "is {}; encryption needs an AES_256, RSA_2048 or RSA_3072 key",
            key.spec
        )));
    }
    if key.usage != KeyUsage::EncryptDecrypt {
        return Err(invalid(format!(
            "has usage {}; encryption needs usage ENCRYPT/DECRYPT",
            key.usage
        )));
    }
    ensure_enabled(key)
}
