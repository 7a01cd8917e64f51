//! The two ends of an in-place key move, read once per move (or once per
//! batch of keys from the same container): both container records (with
//! the lock rule), both instances, and both root keys (unwrapped on first
//! use, so a move the migration rule refuses never needs them), and
//! whether the source holds secrets at all (counted on first use).

use super::kms::{Kms, container_instance, container_record, unlocked_container};
use crate::store::crypto::SecretKey32;
use crate::store::{
    Container, ContainerRecord, Instance, Secret, StoreError, StoreReader, StoreResult,
};

/// Source and target of a move.
pub(super) struct MoveEnds {
    pub(super) source: Container,
    pub(super) target: Container,
    src_rec: ContainerRecord,
    dst_rec: ContainerRecord,
    pub(super) source_instance: Option<Instance>,
    pub(super) target_instance: Option<Instance>,
    /// The caller holds the migration lock on one end.
    pub(super) lock_held: bool,
    roots: Option<(SecretKey32, SecretKey32)>,
    /// Whether the source holds any secret.
    has_secrets: Option<bool>,
}

impl MoveEnds {
    /// Reads both ends. With `lock_held` one of them must be locked by a
    /// migration (the caller's); without, neither may be.
    pub(super) fn read(
        r: &dyn StoreReader,
        source: &Container,
        target: &Container,
        lock_held: bool,
    ) -> StoreResult<MoveEnds> {
        let (src_rec, dst_rec) = if lock_held {
            let s = container_record(r, source)?;
            let d = container_record(r, target)?;
            if !s.migrating && !d.migrating {
                return Err(StoreError::Conflict(format!(
                    "no migration lock is held on {source} or {target}"
                )));
            }
            (s, d)
        } else {
            (
                unlocked_container(r, source)?,
                unlocked_container(r, target)?,
            )
        };
        Ok(MoveEnds {
            source: source.clone(),
            target: target.clone(),
            src_rec,
            dst_rec,
            source_instance: container_instance(r, source)?,
            target_instance: container_instance(r, target)?,
            lock_held,
            roots: None,
            has_secrets: None,
        })
    }

    /// The source's and the target's root keys.
    pub(super) fn roots(&mut self, kms: &Kms) -> StoreResult<(&SecretKey32, &SecretKey32)> {
        if self.roots.is_none() {
            let src = kms.root_key(&self.src_rec)?;
            let dst = kms.root_key(&self.dst_rec)?;
            self.roots = Some((src, dst));
        }
        match &self.roots {
            Some((s, d)) => Ok((s, d)),
            None => Err(StoreError::Database("root keys not loaded".into())),
        }
    }

    /// The secrets of the source that `key_id` seals (its dependents, see
    /// `key_dependents`): one query per key, none when the source holds no
    /// secret (counted once per batch).
    pub(super) fn dependents(
        &mut self,
        r: &dyn StoreReader,
        key_id: &str,
    ) -> StoreResult<Vec<Secret>> {
        let has = match self.has_secrets {
            Some(h) => h,
            None => *self.has_secrets.insert(r.count_secrets(&self.source)? > 0),
        };
        match has {
            true => r.secrets_sealed_by(&self.source, key_id),
            false => Ok(Vec::new()),
        }
    }
}
