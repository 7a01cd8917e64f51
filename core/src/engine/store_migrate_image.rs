//! Objects of a store → store move held in memory: a key with every version
//! unsealed (never written anywhere in plaintext, zeroized on drop), a
//! secret with its sealed versions and their values. One function per rule:
//! loading an image from a store, comparing two images, writing one into
//! the target inside the caller's transaction.

use std::collections::HashMap;

use sm2::elliptic_curve::zeroize::Zeroizing;

use super::kms::Kms;
use crate::store::crypto::{SecretKey32, seal, unseal, version_aad};
use crate::store::{
    Alias, Container, Key, SealedSecretVersion, SealedVersion, Secret, StoreError, StoreReader,
    StoreResult, StoreTx,
};

/// The unwrapped root keys of some containers of one store.
pub(super) struct Roots(HashMap<Container, SecretKey32>);

impl Roots {
    /// Unwraps the root key of every container of `containers` that exists
    /// in `kms`'s store (one read transaction).
    pub(super) fn load<'a>(
        kms: &Kms,
        containers: impl IntoIterator<Item = &'a Container> + Clone,
    ) -> StoreResult<Roots> {
        let map = crate::store::read_with(&*kms.store, |r| {
            let mut map = HashMap::new();
            for c in containers.clone() {
                if let Some(rec) = r.container(c)? {
                    map.insert(c.clone(), kms.root_key(&rec)?);
                }
            }
            Ok(map)
        })?;
        Ok(Roots(map))
    }

    /// The root key of `c`; a container not loaded is an error.
    pub(super) fn get(&self, c: &Container) -> StoreResult<&SecretKey32> {
        self.0
            .get(c)
            .ok_or_else(|| StoreError::Database(format!("no root key loaded for container {c}")))
    }
}

/// A key with its aliases and every version's material (plaintext, in
/// memory only).
pub(super) struct KeyImage {
    pub key: Key,
    pub aliases: Vec<Alias>,
    pub versions: Vec<(SealedVersion, Zeroizing<Vec<u8>>)>,
}

/// A secret with its sealed versions and their values (in memory only).
pub(super) struct SecretImage {
    pub secret: Secret,
    pub versions: Vec<SealedSecretVersion>,
    pub values: Vec<Zeroizing<Vec<u8>>>,
}

/// The key `id` of the store `r` reads, unsealed with `roots`.
pub(super) fn load_key<R: StoreReader + ?Sized>(
    r: &R,
    roots: &Roots,
    id: &str,
) -> StoreResult<Option<KeyImage>> {
    let Some(key) = r.key(id)? else {
        return Ok(None);
    };
    let root = roots.get(&key.container)?;
    let mut aliases = Vec::with_capacity(key.aliases.len());
    for name in &key.aliases {
        aliases.extend(r.alias(name)?);
    }
    let mut versions = Vec::new();
    for v in r.versions(id)? {
        let plain = unseal(root, &version_aad(id, &v.version_id), &v.sealed)?;
        versions.push((v, plain));
    }
    Ok(Some(KeyImage {
        key,
        aliases,
        versions,
    }))
}

/// The secret `id` of `kms`'s store (read through `r`), with its values
/// opened by the key versions that sealed them.
pub(super) fn load_secret<R: StoreReader + ?Sized>(
    kms: &Kms,
    r: &R,
    id: &str,
) -> StoreResult<Option<SecretImage>> {
    let Some(secret) = r.secret(id)? else {
        return Ok(None);
    };
    let versions = r.secret_versions(id)?;
    let mut values = Vec::with_capacity(versions.len());
    for v in &versions {
        values.push(kms.open_secret(r, v)?);
    }
    Ok(Some(SecretImage {
        secret,
        versions,
        values,
    }))
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Same key material: the same versions (id, sequence) with equal
/// material, compared in constant time. Metadata is not compared.
pub(super) fn same_key_material(a: &KeyImage, b: &KeyImage) -> bool {
    a.versions.len() == b.versions.len()
        && a.versions
            .iter()
            .zip(&b.versions)
            .all(|((va, pa), (vb, pb))| {
                va.version_id == vb.version_id && va.seq == vb.seq && same_bytes(pa, pb)
            })
}

/// An exact copy: equal metadata, aliases and material.
pub(super) fn same_key_copy(a: &KeyImage, b: &KeyImage) -> bool {
    let times = |i: &KeyImage| -> Vec<String> {
        i.versions.iter().map(|v| v.0.created_at.clone()).collect()
    };
    a.key == b.key && a.aliases == b.aliases && times(a) == times(b) && same_key_material(a, b)
}

/// Same secret values: the same versions with equal values (constant time).
pub(super) fn same_secret_material(a: &SecretImage, b: &SecretImage) -> bool {
    a.versions.len() == b.versions.len()
        && a.versions
            .iter()
            .zip(&b.versions)
            .all(|(va, vb)| va.version_id == vb.version_id)
        && a.values
            .iter()
            .zip(&b.values)
            .all(|(x, y)| same_bytes(x, y))
}

/// An exact copy: equal metadata, version records and values.
pub(super) fn same_secret_copy(a: &SecretImage, b: &SecretImage) -> bool {
    a.secret == b.secret && a.versions == b.versions && same_secret_material(a, b)
}

/// Writes `img` into the target inside `tx`, sealing every version under
/// `root` (the target container's root key). With `replace`, an existing
/// key of that id is replaced in the same transaction (never deleted in
/// one and created in another).
pub(super) fn write_key(
    tx: &mut dyn StoreTx,
    root: &SecretKey32,
    img: &KeyImage,
    replace: bool,
) -> StoreResult<()> {
    let id = &img.key.id;
    if replace && tx.key(id)?.is_some() {
        tx.delete_key(id)?;
    }
    tx.insert_key(&img.key)?;
    for (v, plain) in &img.versions {
        let sealed = seal(root, &version_aad(id, &v.version_id), plain)?;
        tx.put_version(&SealedVersion {
            sealed,
            ..v.clone()
        })?;
    }
    for a in &img.aliases {
        tx.insert_alias(a)?;
    }
    Ok(())
}

/// Writes `img` into the target inside `tx`. Its versions stay sealed as
/// they are: they are sealed under its encryption key's material, which
/// travels unchanged, and that key must already be in the target. With
/// `replace`, an existing secret of that id is replaced in the same
/// transaction.
pub(super) fn write_secret(
    tx: &mut dyn StoreTx,
    img: &SecretImage,
    replace: bool,
) -> StoreResult<()> {
    let s = &img.secret;
    if tx.key(&s.encryption_key_id)?.is_none() {
        return Err(StoreError::Conflict(format!(
            "secret {} ({}) needs its encryption key {} in the target store first",
            s.id, s.name, s.encryption_key_id
        )));
    }
    if replace && tx.secret(&s.id)?.is_some() {
        tx.delete_secret(&s.id)?;
    }
    tx.insert_secret(s)?;
    for v in &img.versions {
        tx.put_secret_version(v)?;
    }
    Ok(())
}
