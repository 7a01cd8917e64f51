//! Deletion windows: when key material may be erased, purging what is due,
//! cancelling what is not, and instances waiting for their keys' windows.
//!
//! The rules, in one place:
//! - A key scheduled for deletion is `PendingDeletion` with a
//!   `deletion_date`; its material is kept until that date has passed
//!   ([`key_erasable`], the only function that says a key may be erased).
//! - Deleting an instance never erases key material early: its live keys
//!   (only with `force`) are scheduled for deletion with their own window,
//!   keys already pending keep their own dates, and the instance goes to
//!   status `deleting`. It refuses new objects ([`accepts_new_objects`]) and
//!   is purged with its last key. An instance that holds no key at all is
//!   erased at once.
//! - [`Kms::purge_due`] erases what is due (keys past their date, `deleting`
//!   instances with no key left) in one write transaction. It is a step of
//!   its own that never waits: it runs whenever a store is opened (provider
//!   configure, every CLI command), and only when the store's write lock is
//!   free at that moment; while another writer (a migration, an apply) holds
//!   it, the purge is skipped and the next open does it. So a read-only
//!   command never waits for a writer because something was due.
//! - Cancelling a key's deletion makes it `Disabled` (`PendingImport` if it
//!   never got material). A `deleting` instance holds only keys pending
//!   deletion: cancelling one of them, or [`Kms::restore_instance`] (which
//!   cancels them all), makes the instance `active` again.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::kms::{Kms, container_instance, load_instance, now, rfc3339, unlocked_container};
use super::kms_keys::load_key;
use crate::engine::validate;
use crate::store::{
    Container, Instance, InstanceStatus, Key, KeyState, StoreError, StoreReader, StoreResult,
    StoreTx, read_with, try_write_with,
};

/// Whether `key`'s material may be erased at `now`: it is `PendingDeletion`
/// and its `deletion_date` has passed. A missing or unreadable date is never
/// due (material is kept rather than erased by mistake).
pub fn key_erasable(key: &Key, now: OffsetDateTime) -> bool {
    key.state == KeyState::PendingDeletion
        && key
            .deletion_date
            .as_deref()
            .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok())
            .is_some_and(|d| d <= now)
}

/// Marks `key` `PendingDeletion`, erasable `days` after `at`.
pub(super) fn mark_pending_deletion(
    key: &mut Key,
    days: i64,
    at: OffsetDateTime,
) -> StoreResult<()> {
    validate::deletion_window(days)?;
    let when = at
        .checked_add(Duration::days(days))
        .ok_or_else(|| StoreError::database("deletion date out of range"))?;
    key.state = KeyState::PendingDeletion;
    key.deletion_date = Some(rfc3339(when)?);
    Ok(())
}

/// Clears a scheduled deletion: `Disabled`, or `PendingImport` for a key
/// that never received material.
fn clear_pending_deletion(key: &mut Key) {
    key.state = if key.version_count == 0 {
        KeyState::PendingImport
    } else {
        KeyState::Disabled
    };
    key.deletion_date = None;
}

/// `Conflict` when `container` is an instance being deleted: it takes no new
/// keys or secrets (restore it first).
pub(super) fn accepts_new_objects<R: StoreReader + ?Sized>(
    r: &R,
    container: &Container,
) -> StoreResult<()> {
    match container_instance(r, container)? {
        Some(inst) if inst.status == InstanceStatus::Deleting => Err(deleting_conflict(r, &inst)),
        _ => Ok(()),
    }
}

/// The error for using an instance that is being deleted.
fn deleting_conflict<R: StoreReader + ?Sized>(r: &R, inst: &Instance) -> StoreError {
    let until = last_deletion_date(r, &inst.id)
        .ok()
        .flatten()
        .map(|d| format!(" (purged after {d})"))
        .unwrap_or_default();
    StoreError::Conflict(format!(
        "instance {} ({}) is being deleted{until} and takes no new keys, secrets or EKMS \
         configuration; \
         restore it with `keyshift instance restore {}` or use another instance",
        inst.id, inst.name, inst.id
    ))
}

/// The latest `deletion_date` of the keys in an instance, if any.
fn last_deletion_date<R: StoreReader + ?Sized>(r: &R, id: &str) -> StoreResult<Option<String>> {
    let keys = r.keys(Some(&Container::Instance(id.to_string())))?;
    Ok(keys
        .iter()
        .filter_map(|k| k.deletion_date.as_deref())
        .filter_map(|d| OffsetDateTime::parse(d, &Rfc3339).ok().map(|t| (t, d)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, d)| d.to_string()))
}

/// Refuses to reuse the name of an instance that is being deleted.
pub(super) fn name_free<R: StoreReader + ?Sized>(r: &R, name: &str) -> StoreResult<()> {
    match r.instance_by_name(name)? {
        Some(old) if old.status == InstanceStatus::Deleting => {
            let until = last_deletion_date(r, &old.id)?.unwrap_or_default();
            Err(StoreError::Conflict(format!(
                "the name {name} is held by instance {id}, which is being deleted (purged after {until}); \
                 restore it with `keyshift instance restore {id}` and adopt it with `terraform import` \
                 (or an import block) using id {id}, or choose another name",
                id = old.id
            )))
        }
        _ => Ok(()),
    }
}

/// What one [`Kms::purge_due`] erased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Keys whose deletion window had passed.
    pub keys: Vec<String>,
    /// `deleting` instances left without keys.
    pub instances: Vec<String>,
    /// Something was due, but another writer held the store's write lock:
    /// nothing was erased now (the next open tries again).
    pub put_off: bool,
}

impl Purged {
    /// True when nothing was erased.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.instances.is_empty()
    }
}

/// What is due at `now`: erasable keys outside migrating containers, and
/// `deleting` instances whose every key is among them (and hold no secret).
fn due<R: StoreReader + ?Sized>(r: &R, now: OffsetDateTime) -> StoreResult<Purged> {
    let mut out = Purged::default();
    for key in r.keys_with_deletion_date()? {
        let locked = r.container(&key.container)?.is_some_and(|c| c.migrating);
        if key_erasable(&key, now) && !locked {
            out.keys.push(key.id);
        }
    }
    for inst in r.instances()? {
        if inst.status != InstanceStatus::Deleting {
            continue;
        }
        let c = Container::Instance(inst.id.clone());
        let left = r.keys(Some(&c))?;
        if left.iter().all(|k| out.keys.contains(&k.id)) && r.count_secrets(&c)? == 0 {
            out.instances.push(inst.id);
        }
    }
    Ok(out)
}

impl Kms {
    /// Erases what is due at `now` (see the module docs) in one write
    /// transaction, with an audit entry per object (`key.erase`,
    /// `instance.purge`). Nothing due: no write at all. Never waits for the
    /// write lock: while another writer holds it, nothing is erased and the
    /// result says `put_off`. Run by [`Kms::with_store`], so on every store
    /// open.
    pub fn purge_due(&self, now: OffsetDateTime) -> StoreResult<Purged> {
        if read_with(&*self.store, |r| due(r, now))?.is_empty() {
            return Ok(Purged::default());
        }
        let at = rfc3339(now)?;
        let done = try_write_with(&*self.store, |tx| {
            let todo = due(&*tx, now)?;
            for id in &todo.keys {
                tx.delete_key(id)?;
                let e =
                    self.audit_entry(&at, "key.erase", id, "ok", "deletion window elapsed".into());
                tx.append_audit(&e)?;
            }
            for id in &todo.instances {
                purge_instance(tx, id)?;
                let e = self.audit_entry(&at, "instance.purge", id, "ok", "last key erased".into());
                tx.append_audit(&e)?;
            }
            Ok(todo)
        })?;
        Ok(done.unwrap_or_else(|| Purged {
            put_off: true,
            ..Purged::default()
        }))
    }

    /// Cancels a scheduled deletion: the key becomes `Disabled`
    /// (`PendingImport` if it never received material); a `deleting`
    /// instance holding it becomes `active` again.
    pub fn cancel_key_deletion(&self, id: &str) -> StoreResult<Key> {
        self.mutate("key.cancel_deletion", id, |tx, detail| {
            let mut key = load_key(&*tx, id)?;
            unlocked_container(&*tx, &key.container)?;
            if key.state != KeyState::PendingDeletion {
                return Err(StoreError::Conflict(format!(
                    "key {id} is {}, not PendingDeletion: there is no deletion to cancel",
                    key.state
                )));
            }
            clear_pending_deletion(&mut key);
            tx.update_key(&key)?;
            if let Some(mut inst) = container_instance(&*tx, &key.container)? {
                if inst.status == InstanceStatus::Deleting {
                    inst.status = InstanceStatus::Active;
                    tx.update_instance(&inst)?;
                    *detail = format!("instance {} restored", inst.id);
                }
            }
            load_key(&*tx, id)
        })
    }

    /// Restores an instance in status `deleting`: it becomes `active` and
    /// every key in it pending deletion is cancelled (`Disabled`, or
    /// `PendingImport` without material). Anything else is a `Conflict`.
    pub fn restore_instance(&self, id: &str) -> StoreResult<Instance> {
        self.mutate("instance.restore", id, |tx, detail| {
            let mut inst = load_instance(&*tx, id)?;
            let container = Container::Instance(id.to_string());
            unlocked_container(&*tx, &container)?;
            if inst.status != InstanceStatus::Deleting {
                return Err(StoreError::Conflict(format!(
                    "instance {id} is {}, not deleting: there is nothing to restore",
                    inst.status
                )));
            }
            let mut restored = 0;
            for mut key in tx.keys(Some(&container))? {
                if key.state == KeyState::PendingDeletion {
                    clear_pending_deletion(&mut key);
                    tx.update_key(&key)?;
                    restored += 1;
                }
            }
            inst.status = InstanceStatus::Active;
            tx.update_instance(&inst)?;
            *detail = format!("{restored} key(s) restored (Disabled)");
            Ok(inst)
        })
    }

    /// The instance `id` if it takes new keys and secrets: `NotFound`, or
    /// `Conflict` while it is being deleted. For plan-time checks.
    pub fn instance_for_new_objects(&self, id: &str) -> StoreResult<Instance> {
        read_with(&*self.store, |r| {
            let inst = load_instance(r, id)?;
            accepts_new_objects(r, &Container::Instance(id.to_string()))?;
            Ok(inst)
        })
    }

    /// The latest `deletion_date` among an instance's keys (when a
    /// `deleting` instance will be purged), if any.
    pub fn instance_purge_date(&self, id: &str) -> StoreResult<Option<String>> {
        read_with(&*self.store, |r| last_deletion_date(r, id))
    }
}

/// Deletes an instance record with its container (EKMS configuration
/// included); its keys must be gone.
pub(super) fn purge_instance(tx: &mut dyn StoreTx, id: &str) -> StoreResult<()> {
    tx.delete_container(&Container::Instance(id.to_string()))?;
    tx.delete_instance(id)
}

/// Schedules the deletion of an instance's keys for [`Kms::delete_instance`]:
/// live keys get their own window from `at`; keys already pending keep their
/// dates. Returns how many were scheduled now.
pub(super) fn schedule_instance_keys(
    tx: &mut dyn StoreTx,
    keys: &[Key],
    at: OffsetDateTime,
) -> StoreResult<usize> {
    let mut n = 0;
    for key in keys.iter().filter(|k| k.state != KeyState::PendingDeletion) {
        let mut k = key.clone();
        let days = k.deletion_window_in_days;
        mark_pending_deletion(&mut k, days, at)?;
        tx.update_key(&k)?;
        n += 1;
    }
    Ok(n)
}

/// Now, for callers outside the engine (the provider and CLI pass it to
/// [`Kms::purge_due`]).
pub fn current_time() -> OffsetDateTime {
    now()
}
