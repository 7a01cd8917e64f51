//! In-place key moves between the containers of one store: the provider's
//! `instance_id` change and the batches of a `keyshift migrate` run.
//!
//! A move checks the migration rule ([`migration_rules::check`]) and the
//! key–secret dependency rule ([`key_dependents::check`]), then, in one
//! transaction, re-seals every version under the target's root key, puts
//! the key in the target and moves the secrets it carries (the secrets of
//! its container it seals) with it. Id, state, protection, aliases, tags
//! and versions are unchanged, earlier ciphertexts still decrypt, and a
//! carried secret keeps its id, versions and stages (its versions are
//! sealed under the key's material, which a move does not change).

use super::key_dependents::{self, Dependents};
use super::kms::{Kms, container_instance, now, rfc3339};
use super::kms_keys::load_key;
use super::kms_move_ends::MoveEnds;
use super::kms_secrets::room_for_all;
use super::migration_rules::{self, MigrationPlan};
use crate::store::crypto::{seal, unseal, version_aad};
use crate::store::{
    Container, Key, SealedVersion, Secret, StoreReader, StoreResult, StoreTx, read_with, write_with,
};

/// A key's move: the key (where it is after the move, or would be) and the
/// secrets that move with it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMove {
    /// The key.
    pub key: Key,
    /// The secrets of the key's source container it seals, moved with it
    /// (their container still the source in a plan's answer).
    pub carried: Vec<Secret>,
}

impl Kms {
    /// The migration rule for one key, reading the current state
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

    /// Read-only check of [`Kms::move_key`], for plan time, in one read:
    /// the migration rule, the dependency rule with `how`, and room in
    /// `target` for the secrets the key would carry. Returns the key and
    /// those secrets (none when the key is already in `target`).
    pub fn check_key_move(
        &self,
        id: &str,
        target: &Container,
        how: Dependents,
    ) -> StoreResult<KeyMove> {
        read_with(&*self.store, |r| {
            let key = load_key(r, id)?;
            if key.container == *target {
                return Ok(KeyMove {
                    key,
                    carried: vec![],
                });
            }
            let source_instance = container_instance(r, &key.container)?;
            let target_instance = container_instance(r, target)?;
            migration_rules::check(&MigrationPlan {
                key: &key,
                source_instance: source_instance.as_ref(),
                target,
                target_instance: target_instance.as_ref(),
                target_key_count: r.count_keys(target)?,
                lock_held: false,
            })?;
            let carried = key_dependents::of(r, &key)?;
            check_dependents(r, &key, target, &carried, how)?;
            Ok(KeyMove { key, carried })
        })
    }

    /// Moves one key in place to `target`, carrying the secrets of its
    /// container it seals (see the module docs). A key already in `target`
    /// is returned unchanged.
    pub fn move_key(&self, id: &str, target: &Container) -> StoreResult<Key> {
        self.mutate("key.move", id, |tx, detail| {
            self.relocate_in(tx, id, target, (false, Dependents::Carry), detail)
        })
        .map(|m| m.key)
    }

    /// [`Kms::move_key`] for the holder of the migration lock
    /// ([`Kms::set_migrating`] on the source or target): the lock is
    /// required instead of refused, and the secrets the key seals are
    /// carried or refused as `how` says.
    pub fn migrate_key_locked(
        &self,
        id: &str,
        target: &Container,
        how: Dependents,
    ) -> StoreResult<KeyMove> {
        self.mutate("key.move", id, |tx, detail| {
            self.relocate_in(tx, id, target, (true, how), detail)
        })
    }

    /// [`Kms::migrate_key_locked`] for many keys in one transaction (one
    /// commit for the batch, one audit entry per key and per carried
    /// secret): all move, or, on the first refusal or error, none does and
    /// that error is returned (the caller then moves them one by one to
    /// learn each key's reason). Returns each key's move, in `ids` order.
    pub fn migrate_keys_locked(
        &self,
        ids: &[String],
        target: &Container,
        how: Dependents,
    ) -> StoreResult<Vec<KeyMove>> {
        let at = rfc3339(now())?;
        write_with(&*self.store, |tx| {
            // Counted once; each key of the batch adds one (a key already in
            // the target is counted too, which can only refuse early).
            let first = tx.count_keys(target)?;
            // Both ends (records, instances, root keys, the source's secrets
            // by key) are read once per source container, not once per key.
            let mut ends: Option<MoveEnds> = None;
            let mut moves = Vec::with_capacity(ids.len());
            for (count, id) in (first..).zip(ids) {
                let mut detail = String::new();
                let key = load_key(&*tx, id)?;
                if key.container == *target {
                    detail = format!("already in {target}");
                    moves.push(KeyMove {
                        key,
                        carried: vec![],
                    });
                } else {
                    let mut e = match ends.take() {
                        Some(e) if e.source == key.container => e,
                        _ => MoveEnds::read(&*tx, &key.container, target, true)?,
                    };
                    moves.push(self.relocate_with(
                        tx,
                        key,
                        &mut e,
                        (Some(count), how),
                        &mut detail,
                    )?);
                    ends = Some(e);
                }
                tx.append_audit(&self.audit_entry(&at, "key.move", id, "ok", detail))?;
            }
            Ok(moves)
        })
    }

    /// The body of one key move inside the caller's transaction;
    /// `(lock_held, how)`.
    fn relocate_in(
        &self,
        tx: &mut dyn StoreTx,
        id: &str,
        target: &Container,
        (lock_held, how): (bool, Dependents),
        detail: &mut String,
    ) -> StoreResult<KeyMove> {
        let key = load_key(&*tx, id)?;
        if key.container == *target {
            *detail = format!("already in {target}");
            return Ok(KeyMove {
                key,
                carried: vec![],
            });
        }
        let mut ends = MoveEnds::read(&*tx, &key.container, target, lock_held)?;
        self.relocate_with(tx, key, &mut ends, (None, how), detail)
    }

    /// Moves `key` (not in the target) between `ends`: both rules, then
    /// every version re-sealed under the target's root key, the key's new
    /// container, and the secrets it carries. `(target_count, how)`: the
    /// target's key count when the caller knows it, and what to do with
    /// the key's dependents.
    fn relocate_with(
        &self,
        tx: &mut dyn StoreTx,
        mut key: Key,
        ends: &mut MoveEnds,
        (target_count, how): (Option<i64>, Dependents),
        detail: &mut String,
    ) -> StoreResult<KeyMove> {
        let target = &ends.target.clone();
        migration_rules::check(&MigrationPlan {
            key: &key,
            source_instance: ends.source_instance.as_ref(),
            target,
            target_instance: ends.target_instance.as_ref(),
            target_key_count: match target_count {
                Some(n) => n,
                None => tx.count_keys(target)?,
            },
            lock_held: ends.lock_held,
        })?;
        let mut carried = ends.dependents(&*tx, &key.id)?;
        check_dependents(&*tx, &key, target, &carried, how)?;
        let (src_root, dst_root) = ends.roots(self)?;
        let id = key.id.clone();
        let versions = tx.versions(&id)?;
        for v in &versions {
            let aad = version_aad(&id, &v.version_id);
            let plain = unseal(src_root, &aad, &v.sealed)?;
            let sealed = seal(dst_root, &aad, &plain)?;
            tx.put_version(&SealedVersion {
                sealed,
                ..v.clone()
            })?;
        }
        key.container = target.clone();
        tx.update_key(&key)?;
        *detail = format!("{} -> {target}, {} version(s)", ends.source, versions.len());
        if !carried.is_empty() {
            self.carry(tx, &id, &mut carried, (&ends.source, target))?;
            detail.push_str(&format!(", with {} secret(s)", carried.len()));
        }
        Ok(KeyMove { key, carried })
    }

    /// Puts the secrets `key_id` carries in the target, one audit entry each.
    fn carry(
        &self,
        tx: &mut dyn StoreTx,
        key_id: &str,
        secrets: &mut [Secret],
        (source, target): (&Container, &Container),
    ) -> StoreResult<()> {
        let at = rfc3339(now())?;
        for s in secrets.iter_mut() {
            s.container = target.clone();
            tx.update_secret(s)?;
            let detail = format!("{source} -> {target}, with its encryption key {key_id}");
            tx.append_audit(&self.audit_entry(&at, "secret.move", &s.id, "ok", detail))?;
        }
        Ok(())
    }
}

/// The dependency rule for `key` leaving its container with `how`, and,
/// when it carries `dependents`, room for all of them in `target`.
fn check_dependents<R: StoreReader + ?Sized>(
    r: &R,
    key: &Key,
    target: &Container,
    dependents: &[Secret],
    how: Dependents,
) -> StoreResult<()> {
    key_dependents::check(&key.container, &[(key, dependents)], how)?;
    if dependents.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = dependents.iter().map(|s| s.name.as_str()).collect();
    room_for_all(r, target, &names).map_err(|e| {
        crate::store::StoreError::Conflict(format!(
            "key {} cannot move to {target} with the secrets it encrypts: {e}",
            key.id
        ))
    })
}
