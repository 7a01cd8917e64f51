//! Container → container migration runs (`keyshift migrate`): select the
//! objects, decide per object whether it moves and why not, lock the
//! containers, move, unlock, report.
//!
//! [`select`] is the one place that decides which objects a run takes and
//! why it leaves the others; the per-key rule itself is
//! [`migration_rules::check`] and the per-secret rule is
//! [`Kms::check_secret_movable`]. [`run`] carries a selection out under the
//! migration lock ([`Kms::set_migrating`]): management operations on the
//! locked containers fail fast and scheduled rotation waits meanwhile, while
//! encrypt, decrypt, sign and verify keep working.

use super::ekms_wrapper::ExternalKeyService;
use super::kms::Kms;
use super::migration_rules::{self, MigrationPlan, is_service_key};
use crate::store::{Container, Instance, Key, Secret, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Most objects (keys plus secrets) a run selected by pattern may take;
/// `--all` has no limit.
pub const MANUAL_LIMIT: usize = 50;

/// What to migrate.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where the objects go.
    pub target: Container,
    /// Where they come from; `None`: the shared KMS when the target is an
    /// instance (a run to the shared KMS must name its source).
    pub from: Option<Container>,
    /// Globs (`*` any run of characters, `?` one) on id, alias or secret
    /// name; ignored with `all`.
    pub patterns: Vec<String>,
    /// Every object of the source.
    pub all: bool,
    /// Also migrate secrets (otherwise only keys).
    pub include_secrets: bool,
}

/// Key or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A KMS key.
    Key,
    /// A secret.
    Secret,
}

/// What a run does with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It moves.
    Move,
    /// It is already in the target: nothing to do.
    AlreadyThere,
    /// Left alone on purpose (a service key: not required to move).
    Skip(String),
    /// It may not move; the reason says which rule refused it.
    Refuse(String),
}

/// One selected object and the decision about it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Key or secret id.
    pub id: String,
    /// Key or secret.
    pub kind: ObjectKind,
    /// Aliases of a key, or the name of a secret.
    pub names: Vec<String>,
    /// Where it is now.
    pub source: Container,
    /// Whether and why (not) it moves.
    pub decision: Decision,
}

/// The objects of a run, keys first, in id order.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Where they go.
    pub target: Container,
    /// The source container (locked during the run with the target).
    pub source: Container,
    /// Every selected object.
    pub candidates: Vec<Candidate>,
}

/// How one object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Moved to the target.
    Migrated,
    /// Not attempted (already there, service key, or refused by a rule).
    Skipped(String),
    /// Attempted and failed; still in its source.
    Failed(String),
}

/// Input errors of a run, found before anything moves.
#[derive(Debug, Error)]
pub enum MigrateError {
    /// Neither patterns nor `all`.
    #[error("nothing selected: give one or more patterns or --all")]
    NothingSelected,
    /// A run to the shared KMS without a source.
    #[error("--to shared needs --from kst-... (the instance to move out of)")]
    SourceRequired,
    /// Source and target are the same container.
    #[error("source and target are both {0}")]
    SameContainer(Container),
    /// A pattern selected no object.
    #[error("pattern {pattern:?} matches no {what} in {containers}")]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// `key` or `key or secret`.
        what: &'static str,
        /// Where it looked.
        containers: String,
    },
    /// Too many objects for a manual selection.
    #[error(
        "the patterns select {count} keys and secrets; a run selected by pattern takes at most {MANUAL_LIMIT} (use --all to migrate a whole container)"
    )]
    TooMany {
        /// How many matched.
        count: usize,
    },
    /// The source's or target's EKMS key is not usable: nothing may move.
    #[error("the EKMS key {arn} of {container} is {status}: {remediation}; nothing was migrated")]
    UnhealthyEkms {
        /// The container.
        container: Container,
        /// Its AWS key.
        arn: String,
        /// The key's status.
        status: &'static str,
        /// What to do.
        remediation: &'static str,
    },
    /// The store refused (unknown instance, unhealthy EKMS key, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `glob` (`*` any run of characters, `?` one) matches all of `text`.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let mut row = vec![false; t.len() + 1];
    row[0] = true;
    for c in &g {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match c {
                '*' => row[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && row[j - 1],
                lit => j > 0 && row[j - 1] && t[j - 1] == *lit,
            };
        }
        row = next;
    }
    row[t.len()]
}

/// Decides which objects a run takes and, per object, whether it moves or
/// why not. Bad input (no selection, unknown instance, a pattern that
/// matches nothing, more than [`MANUAL_LIMIT`] objects by pattern) is an
/// error; nothing is changed either way.
pub fn select(kms: &Kms, req: &Request) -> Result<Selection, MigrateError> {
    if req.patterns.is_empty() && !req.all {
        return Err(MigrateError::NothingSelected);
    }
    let source = match (&req.from, &req.target) {
        (Some(c), _) => c.clone(),
        (None, Container::Instance(_)) => Container::Shared,
        (None, Container::Shared) => return Err(MigrateError::SourceRequired),
    };
    if source == req.target {
        return Err(MigrateError::SameContainer(source));
    }
    let instances: BTreeMap<String, Instance> = kms
        .list_instances()?
        .into_iter()
        .map(|i| (i.id.clone(), i))
        .collect();
    let find = |c: &Container| -> Result<Option<&Instance>, StoreError> {
        match c.instance_id() {
            None => Ok(None),
            Some(id) => instances.get(id).map(Some).ok_or(StoreError::NotFound {
                kind: "instance",
                id: id.to_string(),
            }),
        }
    };
    let (source_instance, target_instance) = (find(&source)?, find(&req.target)?);
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
    let mut keys: Vec<Key> = kms.list_keys(Some(&source))?;
    keys.extend(kms.list_keys(Some(&req.target))?);
    keys.retain(|k| pick(&k.id, &k.aliases));
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    let mut secrets: Vec<Secret> = Vec::new();
    if req.include_secrets {
        secrets = kms.list_secrets(Some(&source))?;
        secrets.extend(kms.list_secrets(Some(&req.target))?);
        secrets.retain(|s| pick(&s.id, std::slice::from_ref(&s.name)));
        secrets.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let where_ = format!("{source} or {}", req.target);
    if let Some((p, _)) = req.patterns.iter().zip(&hits).find(|(_, n)| **n == 0) {
        if !req.all {
            return Err(MigrateError::NoMatch {
                pattern: p.clone(),
                what: if req.include_secrets {
                    "key or secret"
                } else {
                    "key"
                },
                containers: where_,
            });
        }
    }
    let count = keys.len() + secrets.len();
    if !req.all && count > MANUAL_LIMIT {
        return Err(MigrateError::TooMany { count });
    }
    // A lock left by a dead run is taken over by this run: judge as its holder.
    let lock_held = kms.lock_is_stale(&source)? || kms.lock_is_stale(&req.target)?;
    let mut target_count = kms.list_keys(Some(&req.target))?.len() as i64;
    let mut candidates = Vec::with_capacity(count);
    let mut moving: BTreeSet<String> = BTreeSet::new();
    for key in keys {
        let decision = if key.container == req.target {
            Decision::AlreadyThere
        } else {
            let plan = MigrationPlan {
                key: &key,
                source_instance,
                target: &req.target,
                target_instance,
                target_key_count: target_count,
                lock_held,
            };
            match migration_rules::check(&plan) {
                Ok(()) => {
                    target_count += 1;
                    moving.insert(key.id.clone());
                    Decision::Move
                }
                Err(e) if is_service_key(&key) => {
                    Decision::Skip(format!("{e} (not required to move)"))
                }
                Err(e) => Decision::Refuse(e.to_string()),
            }
        };
        candidates.push(Candidate {
            id: key.id,
            kind: ObjectKind::Key,
            names: key.aliases,
            source: key.container,
            decision,
        });
    }
    for s in secrets {
        let decision = if s.container == req.target {
            Decision::AlreadyThere
        } else {
            let with_key = moving.contains(&s.encryption_key_id).then_some(&req.target);
            match kms.check_secret_movable(&s.id, &req.target, None, with_key) {
                Ok(()) => Decision::Move,
                Err(e) => Decision::Refuse(e.to_string()),
            }
        };
        candidates.push(Candidate {
            id: s.id,
            kind: ObjectKind::Secret,
            names: vec![s.name],
            source: s.container,
            decision,
        });
    }
    Ok(Selection {
        target: req.target.clone(),
        source,
        candidates,
    })
}

/// Checks the EKMS key of the source and of the target (where one is
/// configured) with a live health check: any status but `ACTIVE` is
/// [`MigrateError::UnhealthyEkms`], before anything moves.
pub fn check_health(
    kms: &Kms,
    sel: &Selection,
    keys: &dyn ExternalKeyService,
) -> Result<(), MigrateError> {
    for c in [&sel.source, &sel.target] {
        if kms.ekms_config(c)?.is_none() {
            continue;
        }
        let (info, health) = kms.ekms_health(c, keys)?;
        if !health.status.is_active() {
            return Err(MigrateError::UnhealthyEkms {
                container: c.clone(),
                arn: info.config.key_arn,
                status: health.status.as_str(),
                remediation: health.status.remediation(),
            });
        }
    }
    Ok(())
}

/// Carries out a selection: locks the source and the target recording this
/// process as the holder ([`Kms::begin_migration`], which takes over a lock
/// left by a dead process), moves every `Move` candidate (keys first, then
/// secrets, each in its own transaction), releases the locks (also when a
/// move failed) and returns one outcome per candidate, in order. `progress`
/// is called after each object. A lock held by a live run is an error and
/// nothing moves.
pub fn run(
    kms: &Kms,
    sel: &Selection,
    batch_size: usize,
    progress: &mut dyn FnMut(&Candidate),
) -> Result<Vec<Outcome>, StoreError> {
    let batch_size = batch_size.max(1);
    let lock = kms.begin_migration(&sel.source, &sel.target)?;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; sel.candidates.len()];
    let mut batch: Vec<usize> = Vec::with_capacity(batch_size);
    for (i, c) in sel.candidates.iter().enumerate() {
        if c.kind == ObjectKind::Key && c.decision == Decision::Move {
            batch.push(i);
            if batch.len() >= batch_size {
                move_batch(kms, sel, &mut batch, &mut outcomes, progress);
            }
            continue;
        }
        // Keys move before the secrets that may depend on them.
        move_batch(kms, sel, &mut batch, &mut outcomes, progress);
        outcomes[i] = Some(move_one(kms, c, &sel.target));
        progress(c);
    }
    move_batch(kms, sel, &mut batch, &mut outcomes, progress);
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("not attempted".into())))
        .collect();
    let failed = outcomes.iter().any(|o| matches!(o, Outcome::Failed(_)));
    kms.end_migration(&lock, if failed { "failed" } else { "completed" })?;
    Ok(outcomes)
}

/// Default number of keys moved per transaction (one commit, one fsync,
/// per batch).
pub const BATCH: usize = 256;

/// Moves the keys at `batch` (indices into the candidates) in one
/// transaction; when that fails, one by one so each gets its own outcome.
fn move_batch(
    kms: &Kms,
    sel: &Selection,
    batch: &mut Vec<usize>,
    outcomes: &mut [Option<Outcome>],
    progress: &mut dyn FnMut(&Candidate),
) {
    if batch.is_empty() {
        return;
    }
    let ids: Vec<String> = batch
        .iter()
        .map(|&i| sel.candidates[i].id.clone())
        .collect();
    let together = kms.migrate_keys_locked(&ids, &sel.target).is_ok();
    for &i in batch.iter() {
        let c = &sel.candidates[i];
        outcomes[i] = Some(if together {
            Outcome::Migrated
        } else {
            move_one(kms, c, &sel.target)
        });
        progress(c);
    }
    batch.clear();
}

fn move_one(kms: &Kms, c: &Candidate, target: &Container) -> Outcome {
    match &c.decision {
        Decision::AlreadyThere => Outcome::Skipped(format!("already in {target}")),
        Decision::Skip(why) | Decision::Refuse(why) => Outcome::Skipped(why.clone()),
        Decision::Move => {
            let moved = match c.kind {
                ObjectKind::Key => kms.migrate_key_locked(&c.id, target).map(drop),
                ObjectKind::Secret => kms.migrate_secret_locked(&c.id, target).map(drop),
            };
            match moved {
                Ok(()) => Outcome::Migrated,
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
    }
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
