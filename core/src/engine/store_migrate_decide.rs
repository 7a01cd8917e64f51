//! The per-object rules of a store → store move plan (see
//! [`super::store_migrate::plan`]): what happens to a key or secret given
//! what the target store already holds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::kms::Kms;
use super::store_migrate::{Action, Existing, StoreMoveRequest};
use super::store_migrate_image::{self as image, Roots};
use crate::store::{Container, Key, Secret, StoreError, StoreReader, StoreResult, read_with};

/// Key id → names of the secrets of the source it encrypts.
pub(super) fn secret_users(source: &Kms) -> StoreResult<BTreeMap<String, Vec<(String, String)>>> {
    let mut users: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for s in source.list_secrets(None)? {
        users
            .entry(s.encryption_key_id.clone())
            .or_default()
            .push((s.id, s.name));
    }
    Ok(users)
}

/// The state [`plan`] decides with.
pub(super) struct Decide<'a> {
    pub(super) req: &'a StoreMoveRequest,
    pub(super) resumed: bool,
    pub(super) source: &'a Kms,
    pub(super) target: Option<&'a Kms>,
    pub(super) containers: Vec<Container>,
    /// The root keys of both stores, unwrapped once an object present in
    /// both needs comparing (so an unusable EKMS key is reported by the
    /// health check, not by planning).
    pub(super) roots: Option<(Roots, Roots)>,
    /// Free key and secret slots per existing target instance.
    pub(super) room: HashMap<Container, (i64, i64)>,
    pub(super) secret_users: BTreeMap<String, Vec<(String, String)>>,
    pub(super) selected_secrets: BTreeSet<String>,
}

impl Decide<'_> {
    pub(super) fn key_action(&mut self, k: &Key) -> StoreResult<Action> {
        if self.req.remove_source {
            let left: Vec<&str> = self
                .secret_users
                .get(&k.id)
                .into_iter()
                .flatten()
                .filter(|(id, _)| !self.selected_secrets.contains(id))
                .map(|(_, name)| name.as_str())
                .collect();
            if !left.is_empty() {
                return Ok(Action::Refuse(format!(
                    "--move would leave secret(s) {} in the source without their encryption key; \
                     select them too (with --include-secrets)",
                    left.join(", ")
                )));
            }
        }
        let Some(target) = self.target else {
            return Ok(Action::Copy);
        };
        let id = &k.id;
        let found = read_with(&*target.store, |r| {
            if let Some(why) = container_conflict(self.source, r, &k.container)? {
                return Ok(Err(why));
            }
            for name in &k.aliases {
                if let Some(a) = r.alias(name)?.filter(|a| a.key_id != *id) {
                    return Ok(Err(format!(
                        "alias {name} belongs to key {} in the target store",
                        a.key_id
                    )));
                }
            }
            Ok(match r.key(id)? {
                None => Ok(false),
                Some(t) if t.container != k.container => Err(format!(
                    "the target store holds key {id} in {}, not in {}",
                    t.container, k.container
                )),
                Some(_) => Ok(true),
            })
        })?;
        match found {
            Err(why) => return Ok(Action::Refuse(why)),
            Ok(false) => return self.take_room(target, &k.container, true),
            Ok(true) => {}
        }
        self.load_roots()?;
        let Some((src_roots, dst_roots)) = &self.roots else {
            return Err(StoreError::Database("root keys not loaded".into()));
        };
        let (theirs, users) = read_with(&*target.store, |r| {
            let users: Vec<String> = r
                .secrets(None)?
                .into_iter()
                .filter(|s| s.encryption_key_id == *id && !self.selected_secrets.contains(&s.id))
                .map(|s| s.name)
                .collect();
            Ok((image::load_key(r, dst_roots, id)?, users))
        })?;
        let missing = || StoreError::NotFound {
            kind: "key",
            id: id.clone(),
        };
        let theirs = theirs.ok_or_else(missing)?;
        let ours = read_with(&*self.source.store, |r| image::load_key(r, src_roots, id))?
            .ok_or_else(missing)?;
        let same = image::same_key_material(&ours, &theirs);
        let exact = image::same_key_copy(&ours, &theirs);
        Ok(self.existing_action(
            same,
            exact,
            "a key with this id and different material",
            &users,
        ))
    }

    /// The root keys of both stores (see the `roots` field), loaded on
    /// first use.
    fn load_roots(&mut self) -> StoreResult<()> {
        if self.roots.is_none() {
            let target = self
                .target
                .ok_or_else(|| StoreError::Database("no target store to compare with".into()))?;
            self.roots = Some((
                Roots::load(self.source, &self.containers)?,
                Roots::load(target, &self.containers)?,
            ));
        }
        Ok(())
    }

    /// The decision for an object the target already holds: `same` when
    /// the material is identical, `exact` when it is an exact copy;
    /// `users` are target secrets a different replacement would break.
    ///
    /// An exact copy is a verified copy: resumed, kept by `--force` as it
    /// is, and with `--move` removed from the source (with `--merge` too).
    /// With `--move`, a copy with the same material but other metadata is
    /// refused under `--merge`: removing the source's object would lose its
    /// metadata.
    fn existing_action(&self, same: bool, exact: bool, differs: &str, users: &[String]) -> Action {
        let moving = self.req.remove_source;
        if exact && self.resumed {
            return Action::Resume;
        }
        if exact && (moving || self.req.existing == Existing::Force) {
            return Action::InTarget;
        }
        match self.req.existing {
            Existing::Error => Action::Refuse(
                "already in the target store (use --force to replace it or --merge to skip identical copies)".into(),
            ),
            Existing::Merge if same && moving => Action::Refuse(
                "the target store's copy has the same material but other metadata; kept in the source (--force --move replaces the target's copy with this one)".into(),
            ),
            Existing::Merge if same => Action::SkipIdentical,
            Existing::Merge => Action::Refuse(format!(
                "the target store holds {differs} (not overwritten)"
            )),
            Existing::Force if !same && !users.is_empty() => Action::Refuse(format!(
                "replacing it would make secret(s) {} of the target store unreadable",
                users.join(", ")
            )),
            Existing::Force => Action::Replace {
                same_material: same,
            },
        }
    }

    pub(super) fn secret_action(&mut self, s: &Secret) -> StoreResult<Action> {
        let Some(target) = self.target else {
            return Ok(Action::Copy);
        };
        // Err: refused; Ok(None): not in the target; Ok(Some(None)): there
        // but unreadable (its key differs); Ok(Some(Some(image))): there.
        let found = read_with(&*target.store, |r| {
            if let Some(other) = r
                .secret_by_name(&s.container, &s.name)?
                .filter(|o| o.id != s.id)
            {
                return Ok(Err(format!(
                    "the name {} is taken by secret {} in {} of the target store",
                    s.name, other.id, s.container
                )));
            }
            if r.secret(&s.id)?.is_none() {
                return Ok(Ok(None));
            }
            Ok(Ok(Some(
                image::load_secret(target, r, &s.id).ok().flatten(),
            )))
        })?;
        let theirs = match found {
            Err(why) => return Ok(Action::Refuse(why)),
            Ok(None) => return self.take_room(target, &s.container, false),
            Ok(Some(t)) => t,
        };
        let ours = read_with(&*self.source.store, |r| {
            image::load_secret(self.source, r, &s.id)
        })?
        .ok_or_else(|| StoreError::NotFound {
            kind: "secret",
            id: s.id.clone(),
        })?;
        let same = theirs
            .as_ref()
            .is_some_and(|t| image::same_secret_material(&ours, t));
        let exact = theirs
            .as_ref()
            .is_some_and(|t| image::same_secret_copy(&ours, t));
        Ok(self.existing_action(
            same,
            exact,
            "a secret with this id and different values",
            &[],
        ))
    }

    /// `Copy` when the target instance `c` has room for one more key (or
    /// secret), counting what this plan already copies there.
    fn take_room(&mut self, target: &Kms, c: &Container, key: bool) -> StoreResult<Action> {
        let Container::Instance(id) = c else {
            return Ok(Action::Copy);
        };
        if !self.room.contains_key(c) {
            let room = read_with(&*target.store, |r| {
                Ok(match r.instance(id)? {
                    Some(i) => Some((
                        i.key_quota - r.count_keys(c)?,
                        i.secret_quota - r.count_secrets(c)?,
                    )),
                    None => None,
                })
            })?;
            let Some(room) = room else {
                return Ok(Action::Copy);
            };
            self.room.insert(c.clone(), room);
        }
        let Some(slots) = self.room.get_mut(c) else {
            return Ok(Action::Copy);
        };
        let free = if key { &mut slots.0 } else { &mut slots.1 };
        if *free <= 0 {
            let what = if key { "key" } else { "secret" };
            return Ok(Action::Refuse(format!(
                "instance {id} of the target store is full ({what} quota reached)"
            )));
        }
        *free -= 1;
        Ok(Action::Copy)
    }
}

/// Why the target store cannot take objects of container `c`: another
/// instance has its name there, or it is being deleted there.
fn container_conflict<R: StoreReader + ?Sized>(
    source: &Kms,
    r: &R,
    c: &Container,
) -> StoreResult<Option<String>> {
    let Container::Instance(id) = c else {
        return Ok(None);
    };
    if let Some(inst) = r.instance(id)? {
        if inst.status == crate::store::InstanceStatus::Deleting {
            return Ok(Some(format!(
                "instance {id} is being deleted in the target store"
            )));
        }
        return Ok(None);
    }
    let name = source.get_instance(id)?.name;
    Ok(r.instance_by_name(&name)?.map(|other| {
        format!(
            "instance {id} is not in the target store and its name {name} is taken there by {}",
            other.id
        )
    }))
}
