//! Store → store moves (`keyshift migrate --from-store A --to-store B`):
//! copy keys (every version, aliases, tags, state, deletion protection,
//! rotation settings, BYOK material) and secrets (with their versions,
//! travelling with their encryption keys) from one store to another, with
//! their instances and EKMS configurations. Ids, versions and metadata are
//! kept; material is unsealed with the source container's root key and
//! resealed under the target container's, in memory only.
//!
//! [`plan`] is the one place that decides, per object, what a run does and
//! why (an object already in the target is an error unless `--force`
//! replaces it or `--merge` finds it identical; an exact copy already there
//! is a verified copy, which `--move` removes from the source); with
//! `--all` it takes the whole store, records included (instances, EKMS
//! configurations, break-glass grants: `store_migrate_records`); [`check_health`] refuses a
//! run whose EKMS keys are not `ACTIVE`; [`run`] carries a plan out under
//! the migration lock of both stores (see `store_migrate_lock`), in batches
//! (one target transaction each), verifying each batch by reading it back,
//! and with `--move` removing objects from the source only once their
//! copy is committed and verified.
//!
//! Removing an object from the source erases no key material: the material
//! lives on, identical, in the target (a key pending deletion keeps its
//! deletion date there). A killed run leaves every object in the source and
//! at most a verified copy in the target; the same command run again takes
//! over the dead run's locks and treats the exact copies it made as done.

use std::collections::BTreeMap;

use thiserror::Error;

use super::ekms_wrapper::ExternalKeyService;
use super::kms::Kms;
use super::migrate::{ObjectKind, glob_matches};
use super::store_migrate_decide::{Decide, secret_users};
use super::store_migrate_records as records;
use crate::store::{Container, Key, Secret, StoreError, StoreReader, StoreResult, read_with};

pub use super::store_migrate_records::{RecordKind, StoreRecord};
pub use super::store_migrate_run::{StoreOutcome, StoreRun, run};

/// What to do with an object that already exists in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// It is an error for that object (the default).
    Error,
    /// Replace it, inside the target's write transaction.
    Force,
    /// Skip it when its material is identical; report it when it differs.
    Merge,
}

/// What to copy.
#[derive(Debug, Clone)]
pub struct StoreMoveRequest {
    /// Globs on key id, alias or secret name; ignored with `all`.
    pub patterns: Vec<String>,
    /// The whole source: every instance (with or without keys), EKMS
    /// configuration, key with its aliases, break-glass grant record and
    /// with `include_secrets` every secret.
    pub all: bool,
    /// Also copy secrets (their encryption keys come along).
    pub include_secrets: bool,
    /// Objects already in the target.
    pub existing: Existing,
    /// Remove each object from the source once its copy is verified.
    pub remove_source: bool,
}

/// What a run does with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Not in the target: copy it.
    Copy,
    /// In the target and `--force`: replace it. `same_material`: the
    /// target's copy has the same material and differs only in metadata
    /// (nothing of the target's material is lost).
    Replace {
        /// Only the metadata differs.
        same_material: bool,
    },
    /// An exact copy an interrupted run of this move made: done.
    Resume,
    /// An exact copy (same metadata and material) is already in the
    /// target, found by `--move` or `--force`: a verified copy, nothing is
    /// written; with `--move` the object leaves the source once the copy is
    /// checked again under the lock.
    InTarget,
    /// `--merge` and the target holds identical material: skip it.
    SkipIdentical,
    /// It may not be copied; the reason says why.
    Refuse(String),
}

impl Action {
    /// True when the object ends up (or is) in the target.
    pub fn lands(&self) -> bool {
        !matches!(self, Action::Refuse(_))
    }
}

/// One selected object and the decision about it.
#[derive(Debug, Clone)]
pub struct StoreCandidate {
    /// Key or secret id.
    pub id: String,
    /// Key or secret.
    pub kind: ObjectKind,
    /// A key's aliases or a secret's name.
    pub names: Vec<String>,
    /// Its container (the same in both stores).
    pub container: Container,
    /// What the run does with it.
    pub action: Action,
}

/// The objects of a run, keys first, in id order.
#[derive(Debug, Clone)]
pub struct StorePlan {
    /// Every selected object.
    pub candidates: Vec<StoreCandidate>,
    /// The instances, EKMS configurations and grant records of the run.
    pub records: Vec<StoreRecord>,
    /// The containers involved that land in the target (locked in both
    /// stores during the run).
    pub containers: Vec<Container>,
    /// An interrupted run of this move is being resumed.
    pub resumed: bool,
    /// The run ids of the dead runs of this pair of stores that this run
    /// takes over whole (see `store_migrate_lock::dead_runs`).
    pub interrupted: std::collections::BTreeSet<String>,
    /// `--move`: remove verified objects from the source.
    pub remove_source: bool,
}

/// Input errors of a store move, found before anything moves.
#[derive(Debug, Error)]
pub enum StoreMoveError {
    /// Neither patterns nor `all`.
    #[error("nothing selected: give one or more patterns or --all")]
    NothingSelected,
    /// A pattern selected no object of the source.
    #[error("pattern {pattern:?} matches no {what} in the source store {store}")]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// `key` or `key or secret`.
        what: &'static str,
        /// The source store.
        store: String,
    },
    /// An EKMS key of a container involved is not usable.
    #[error(
        "the EKMS key {arn} of {container} in the {side} store is {status}: {remediation}; nothing was migrated"
    )]
    UnhealthyEkms {
        /// `source` or `target`.
        side: &'static str,
        /// The container.
        container: Container,
        /// Its AWS key.
        arn: String,
        /// The key's status.
        status: &'static str,
        /// What to do.
        remediation: &'static str,
    },
    /// A store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Keys per read while a run walks the source (bounded memory).
const PAGE: usize = 256;

/// Calls `f` with every key of the source, container by container and
/// page by page in id order, so a run never holds every key record (a
/// selected key is kept only as its id until its page is decided).
fn each_source_key(source: &Kms, f: &mut dyn FnMut(Key)) -> StoreResult<()> {
    let mut containers = vec![Container::Shared];
    let instances = read_with(&*source.store, |r| r.instances())?;
    containers.extend(instances.into_iter().map(|i| Container::Instance(i.id)));
    for c in &containers {
        let mut after: Option<String> = None;
        loop {
            let (ids, keys) = read_with(&*source.store, |r| {
                let ids = r.key_ids_page(c, after.as_deref(), PAGE)?;
                let keys = load_keys(r, &ids)?;
                Ok((ids, keys))
            })?;
            let Some(last) = ids.last() else { break };
            after = Some(last.clone());
            keys.into_iter().for_each(&mut *f);
        }
    }
    Ok(())
}

/// The keys with these ids (ids gone meanwhile are left out).
fn load_keys<R: StoreReader + ?Sized>(r: &R, ids: &[String]) -> StoreResult<Vec<Key>> {
    let mut keys = Vec::with_capacity(ids.len());
    for id in ids {
        keys.extend(r.key(id)?);
    }
    Ok(keys)
}

/// What [`select`] takes: key ids (in id order) with their containers, and
/// the secrets.
#[derive(Default)]
struct Selected {
    keys: BTreeMap<String, Container>,
    secrets: Vec<Secret>,
}

/// Which keys and secrets of the source a request takes: matched by a
/// pattern (or all), plus the encryption key of every secret taken.
fn select(source: &Kms, req: &StoreMoveRequest) -> Result<Selected, StoreMoveError> {
    if req.patterns.is_empty() && !req.all {
        return Err(StoreMoveError::NothingSelected);
    }
    let mut hits = vec![0usize; req.patterns.len()];
    let mut pick = |id: &str, names: &[String]| {
        let mut any = req.all;
        for (n, p) in hits.iter_mut().zip(&req.patterns) {
            if glob_matches(p, id) || names.iter().any(|x| glob_matches(p, x)) {
                *n += 1;
                any = true;
            }
        }
        any
    };
    // Picked keys, and the others (a selected secret may need one of them).
    let mut keys: BTreeMap<String, Container> = BTreeMap::new();
    let mut rest: BTreeMap<String, Container> = BTreeMap::new();
    each_source_key(source, &mut |k| {
        if pick(&k.id, &k.aliases) {
            keys.insert(k.id, k.container);
        } else if req.include_secrets {
            rest.insert(k.id, k.container);
        }
    })?;
    let mut secrets = Vec::new();
    if req.include_secrets {
        secrets = source.list_secrets(None)?;
        secrets.retain(|s| pick(&s.id, std::slice::from_ref(&s.name)));
        secrets.sort_by(|a, b| a.id.cmp(&b.id));
    }
    if let Some((p, _)) = req.patterns.iter().zip(&hits).find(|(_, n)| **n == 0) {
        if !req.all {
            return Err(StoreMoveError::NoMatch {
                pattern: p.clone(),
                what: if req.include_secrets {
                    "key or secret"
                } else {
                    "key"
                },
                store: source.store.location(),
            });
        }
    }
    for s in &secrets {
        if let Some(c) = rest.remove(&s.encryption_key_id) {
            keys.insert(s.encryption_key_id.clone(), c);
        }
    }
    Ok(Selected { keys, secrets })
}

/// The selected keys' records, a page at a time, in id order.
fn each_selected_key(
    source: &Kms,
    ids: &[String],
    f: &mut dyn FnMut(Key) -> Result<(), StoreMoveError>,
) -> Result<(), StoreMoveError> {
    for page in ids.chunks(PAGE) {
        let keys = read_with(&*source.store, |r| load_keys(r, page))?;
        for k in keys {
            f(k)?;
        }
    }
    Ok(())
}

/// Decides, for every selected object, what a run does with it (see
/// [`Action`]); `target` is `None` when the target store does not exist yet.
/// Changes nothing in either store.
pub fn plan(
    source: &Kms,
    target: Option<&Kms>,
    req: &StoreMoveRequest,
) -> Result<StorePlan, StoreMoveError> {
    // A re-run after its selection left the source (a killed `--move`)
    // selects nothing, yet must still take over the dead run's locks.
    let Selected { keys, secrets } = match select(source, req) {
        Err(StoreMoveError::NoMatch { .. })
            if !super::store_migrate_lock::dead_runs(source, target, &[])?.is_empty() =>
        {
            Selected::default()
        }
        other => other?,
    };
    let mut containers: Vec<Container> = Vec::new();
    if req.all {
        containers.push(Container::Shared);
        let instances = read_with(&*source.store, |r| r.instances())?;
        containers.extend(instances.into_iter().map(|i| Container::Instance(i.id)));
    }
    for c in keys.values().chain(secrets.iter().map(|s| &s.container)) {
        if !containers.contains(c) {
            containers.push(c.clone());
        }
    }
    let records = records::plan_records(source, target, req, &containers)?;
    containers.retain(|c| records::refused_container(&records, c).is_none());
    let key_ids: Vec<String> = keys.into_keys().collect();
    let interrupted = super::store_migrate_lock::dead_runs(source, target, &containers)?;
    let resumed = !interrupted.is_empty();
    let mut ctx = Decide {
        req,
        resumed,
        source,
        target,
        containers: containers.clone(),
        roots: None,
        room: std::collections::HashMap::new(),
        secret_users: secret_users(source)?,
        selected_secrets: secrets.iter().map(|s| s.id.clone()).collect(),
    };
    let mut candidates = Vec::with_capacity(key_ids.len() + secrets.len());
    let mut key_actions: BTreeMap<String, Action> = BTreeMap::new();
    each_selected_key(source, &key_ids, &mut |k| {
        let action = match records::refused_container(&records, &k.container) {
            Some(why) => Action::Refuse(why),
            None => ctx.key_action(&k)?,
        };
        if req.include_secrets {
            key_actions.insert(k.id.clone(), action.clone());
        }
        candidates.push(StoreCandidate {
            id: k.id,
            kind: ObjectKind::Key,
            names: k.aliases,
            container: k.container,
            action,
        });
        Ok(())
    })?;
    for s in secrets {
        let action = if let Some(why) = records::refused_container(&records, &s.container) {
            Action::Refuse(why)
        } else {
            match key_actions.get(&s.encryption_key_id) {
                Some(a) if a.lands() => ctx.secret_action(&s)?,
                Some(Action::Refuse(why)) => Action::Refuse(format!(
                    "its encryption key {} is not copied: {why}",
                    s.encryption_key_id
                )),
                _ => Action::Refuse(format!(
                    "its encryption key {} is not in the source store",
                    s.encryption_key_id
                )),
            }
        };
        candidates.push(StoreCandidate {
            id: s.id,
            kind: ObjectKind::Secret,
            names: vec![s.name],
            container: s.container,
            action,
        });
    }
    Ok(StorePlan {
        candidates,
        records,
        containers,
        resumed,
        interrupted,
        remove_source: req.remove_source,
    })
}

/// Checks the EKMS key of every container involved, in both stores, with a
/// live health check: any status but `ACTIVE` is
/// [`StoreMoveError::UnhealthyEkms`], before anything moves. Records
/// nothing in either store.
pub fn check_health(
    source: &Kms,
    target: Option<&Kms>,
    plan: &StorePlan,
    keys: &dyn ExternalKeyService,
) -> Result<(), StoreMoveError> {
    let sides = [("source", Some(source)), ("target", target)];
    for (side, kms) in sides {
        let Some(kms) = kms else { continue };
        for c in &plan.containers {
            let Some(info) = kms.ekms_config(c)? else {
                continue;
            };
            let h = keys.health(&info.config.key_arn);
            if !h.status.is_active() {
                return Err(StoreMoveError::UnhealthyEkms {
                    side,
                    container: c.clone(),
                    arn: info.config.key_arn,
                    status: h.status.as_str(),
                    remediation: h.status.remediation(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "store_migrate_tests.rs"]
mod tests;
