//! Sealing of key material and wrapping of container root keys.
//!
//! - The store's **master key** is 32 random bytes in `<dir>/master.key`
//!   (mode 0600, created atomically; never printed; see
//!   [`crate::store::master_key`]).
//! - Each container has a **root key** (32 random bytes), wrapped by a
//!   [`RootKeyWrapper`]: [`MasterKeyWrapper`] is the `internal` strategy
//!   (AES-256-GCM under the master key, AAD = container id); an `external`
//!   (AWS KMS) wrapper implements the same trait.
//! - Key material is **sealed** under the container root key with
//!   AES-256-GCM, AAD = `<key id>/<version id>`.
//!
//! Sealed format (version 1): `0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sm2::elliptic_curve::zeroize::Zeroizing;

use crate::store::{StoreError, StoreResult, WrappingStrategy};

/// File name of the master key inside the store directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// Length of master and root keys in bytes.
pub const KEY_LEN: usize = 32;
/// First byte of every sealed blob written by this version.
pub const SEALED_FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;

/// A 256-bit secret key (root or master key), zeroized on drop, never printed.
pub struct SecretKey32(Zeroizing<[u8; KEY_LEN]>);

impl SecretKey32 {
    /// A fresh key from the CSPRNG.
    pub fn generate() -> StoreResult<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random_fill(bytes.as_mut_slice())?;
        Ok(SecretKey32(bytes))
    }

    /// From exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> StoreResult<Self> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| StoreError::Crypto(format!("a key must be {KEY_LEN} bytes")))?;
        Ok(SecretKey32(Zeroizing::new(arr)))
    }

    /// The raw bytes (handle with care).
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey32(<redacted>)")
    }
}

/// Fills `dest` from the system CSPRNG.
pub fn random_fill(dest: &mut [u8]) -> StoreResult<()> {
    aws_lc_rs::rand::fill(dest).map_err(|_| StoreError::Crypto("random generator failed".into()))
}

/// Seals `plaintext` under `key` with AES-256-GCM (format v1).
pub fn seal(key: &SecretKey32, aad: &[u8], plaintext: &[u8]) -> StoreResult<Vec<u8>> {
    let k = aead_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    random_fill(&mut nonce)?;
    let mut in_out = plaintext.to_vec();
    let sealed = k.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut in_out,
    );
    if sealed.is_err() {
        let _wipe = Zeroizing::new(in_out);
        return Err(StoreError::Crypto("sealing failed".into()));
    }
    let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
    out.push(SEALED_FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&in_out);
    Ok(out)
}

/// Opens a blob made by [`seal`]; a wrong key, wrong AAD or any tampering
/// fails with [`StoreError::Crypto`].
pub fn unseal(key: &SecretKey32, aad: &[u8], sealed: &[u8]) -> StoreResult<Zeroizing<Vec<u8>>> {
    let (format, rest) = sealed
        .split_first()
        .ok_or_else(|| StoreError::Crypto("sealed blob is empty".into()))?;
    if *format != SEALED_FORMAT_V1 {
        return Err(StoreError::Crypto(format!(
            "unknown sealed format version {format}"
        )));
    }
    let (nonce, body) = rest
        .split_at_checked(NONCE_LEN)
        .ok_or_else(|| StoreError::Crypto("sealed blob is truncated".into()))?;
    if body.len() < TAG_LEN {
        return Err(StoreError::Crypto("sealed blob is truncated".into()));
    }
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| StoreError::Crypto("sealed blob is truncated".into()))?;
    let k = aead_key(key)?;
    let mut in_out = Zeroizing::new(body.to_vec());
    let len = k
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut in_out,
        )
        .map_err(|_| {
            StoreError::Crypto("authentication failed (wrong key, wrong object or tampered)".into())
        })?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

fn aead_key(key: &SecretKey32) -> StoreResult<LessSafeKey> {
    let unbound = UnboundKey::new(&AES_256_GCM, key.bytes())
        .map_err(|_| StoreError::Crypto("invalid AES-256 key".into()))?;
    Ok(LessSafeKey::new(unbound))
}

/// The AAD binding a sealed key version to its key and version.
pub fn version_aad(key_id: &str, version_id: &str) -> Vec<u8> {
    format!("{key_id}/{version_id}").into_bytes()
}

/// Wraps and unwraps container root keys; one implementation per wrapping
/// strategy, so an external (AWS KMS) wrapper plugs in without touching the store.
pub trait RootKeyWrapper: Send + Sync {
    /// The strategy this wrapper implements.
    fn strategy(&self) -> WrappingStrategy;
    /// Wraps `root` for the container `container_id` (bound as AAD / context).
    fn wrap(&self, container_id: &str, root: &SecretKey32) -> StoreResult<Vec<u8>>;
    /// Unwraps a blob made by [`RootKeyWrapper::wrap`] for the same container.
    fn unwrap_root(&self, container_id: &str, wrapped: &[u8]) -> StoreResult<SecretKey32>;
}

/// The `internal` strategy: AES-256-GCM under the store's master key file.
pub struct MasterKeyWrapper {
    master: SecretKey32,
}

impl std::fmt::Debug for MasterKeyWrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKeyWrapper(<redacted>)")
    }
}

impl MasterKeyWrapper {
    /// A wrapper around an in-memory master key (tests, other backends).
    pub fn from_key(master: SecretKey32) -> Self {
        MasterKeyWrapper { master }
    }
}

impl RootKeyWrapper for MasterKeyWrapper {
    fn strategy(&self) -> WrappingStrategy {
        WrappingStrategy::Internal
    }

    fn wrap(&self, container_id: &str, root: &SecretKey32) -> StoreResult<Vec<u8>> {
        seal(&self.master, container_id.as_bytes(), root.bytes())
    }

    fn unwrap_root(&self, container_id: &str, wrapped: &[u8]) -> StoreResult<SecretKey32> {
        // The store verifies its master key when it is opened (check value),
        // so a root key that does not unwrap is damaged, not a wrong key.
        let plain = unseal(&self.master, container_id.as_bytes(), wrapped).map_err(|_| {
            StoreError::RootKeyDamaged {
                container: container_id.to_string(),
            }
        })?;
        SecretKey32::from_slice(&plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper_detection() {
        let key = SecretKey32::generate().unwrap();
        let other = SecretKey32::generate().unwrap();
        let aad = version_aad("key-1", "v1");
        let sealed = seal(&key, &aad, b"material").unwrap();
        assert_eq!(sealed[0], SEALED_FORMAT_V1);
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 8 + TAG_LEN);
        assert_eq!(unseal(&key, &aad, &sealed).unwrap().as_slice(), b"material");

        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut bad_format = sealed.clone();
        bad_format[0] = 9;
        let cases: Vec<(&str, &SecretKey32, Vec<u8>, Vec<u8>)> = vec![
            (
                "wrong aad",
                &key,
                version_aad("key-2", "v1"),
                sealed.clone(),
            ),
            (
                "wrong version aad",
                &key,
                version_aad("key-1", "v2"),
                sealed.clone(),
            ),
            ("wrong key", &other, aad.clone(), sealed.clone()),
            ("flipped tag bit", &key, aad.clone(), flipped),
            ("unknown format", &key, aad.clone(), bad_format),
            ("truncated", &key, aad.clone(), sealed[..10].to_vec()),
            ("empty", &key, aad.clone(), vec![]),
        ];
        for (name, k, aad, blob) in cases {
            let err = unseal(k, &aad, &blob).err();
            assert!(
                matches!(err, Some(StoreError::Crypto(_))),
                "case {name}: {err:?}"
            );
        }
    }

    #[test]
    fn nonces_differ_between_seals() {
        let key = SecretKey32::generate().unwrap();
        let a = seal(&key, b"x", b"same").unwrap();
        let b = seal(&key, b"x", b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_root_key_that_does_not_unwrap_is_reported_damaged() {
        let w = MasterKeyWrapper::from_key(SecretKey32::generate().unwrap());
        let root = SecretKey32::generate().unwrap();
        let mut wrapped = w.wrap("shared", &root).unwrap();
        assert_eq!(
            w.unwrap_root("shared", &wrapped).unwrap().bytes(),
            root.bytes()
        );
        assert!(format!("{w:?}").contains("redacted"));
        let err = w.unwrap_root("kst-000000000000", &wrapped).unwrap_err();
        assert!(
            matches!(err, StoreError::RootKeyDamaged { .. }),
            "AAD = container id: {err:?}"
        );
        wrapped[5] ^= 1;
        let err = w.unwrap_root("shared", &wrapped).unwrap_err();
        assert!(
            err.to_string().contains("container shared is damaged"),
            "{err}"
        );
    }
}
