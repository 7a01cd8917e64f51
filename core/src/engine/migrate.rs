//! Container → container migration runs (`keyshift migrate`): select the
//! objects, decide per object whether it moves and why not, lock the
//! containers, move, unlock, report.
//!
//! [`select`] decides which objects a run takes (a whole container, or the
//! ids the patterns match) and checks the input before anything moves,
//! including the key–secret dependency rule ([`key_dependents::check`]): a
//! key never leaves its container without the secrets there it seals, so
//! with `include_secrets` they move with it, and without, the run is
//! refused naming them;
//! [`run`] (in `migrate_run.rs`) walks them page by page under the
//! migration lock ([`Kms::begin_migration`]), deciding per object with the
//! one per-key rule [`super::migration_rules::check`] and the per-secret
//! rule [`Kms::check_secret_movable`]. While the lock is held, management
//! operations on the locked containers fail fast and scheduled rotation
//! waits, while encrypt, decrypt, sign and verify keep working.

use super::ekms_wrapper::ExternalKeyService;
use super::key_dependents::{self, Dependents, KeysHoldSecrets};
use super::kms::Kms;
use crate::store::{Container, Instance, Key, Secret, StoreError, read_with};
use std::collections::{BTreeSet, HashMap};
use thiserror::Error;

pub use super::migrate_run::{BATCH, run};

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
    /// Also migrate secrets: the secrets the patterns match, and the
    /// secrets of the source the selected keys seal (otherwise only keys,
    /// and a key that seals secrets there is refused).
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
    /// A secret that moves with its encryption key: that key's id.
    pub with_key: Option<String>,
}

/// Which objects a run takes.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every key (and, with `include_secrets`, every secret) of the source,
    /// and those already in the target; walked page by page, never loaded
    /// whole.
    All {
        /// Secrets too.
        include_secrets: bool,
    },
    /// The keys and secrets (ids, sorted) the patterns matched in the source
    /// or the target, with the secrets the selected keys carry: at most
    /// [`MANUAL_LIMIT`] in all.
    Ids {
        /// Key ids.
        keys: Vec<String>,
        /// Secret ids, without those that move with a selected key (the
        /// key's move reports them); with `include_secrets`, the secrets of
        /// the source sealed by a selected key already in the target.
        secrets: Vec<String>,
    },
}

/// What a run takes, from where, to where. Per-object decisions are made
/// while the run walks it ([`run`]), in pages, so memory does not grow
/// with the number of objects.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Where they go.
    pub target: Container,
    /// The source container (locked during the run with the target).
    pub source: Container,
    /// The objects.
    pub scope: Scope,
    /// Keys carry the secrets of the source they seal (`--include-secrets`).
    pub include_secrets: bool,
    /// The source's instance (`None` for the shared KMS).
    pub source_instance: Option<Instance>,
    /// The target's instance (`None` for the shared KMS).
    pub target_instance: Option<Instance>,
    /// A lock left by a dead run is on the source or the target: this run
    /// takes it over, so its decisions are made as the lock's holder.
    pub stale_lock: bool,
}

impl Selection {
    /// Whether secrets are part of the run.
    pub fn has_secrets(&self) -> bool {
        match &self.scope {
            Scope::All { include_secrets } => *include_secrets,
            Scope::Ids { secrets, .. } => self.include_secrets || !secrets.is_empty(),
        }
    }

    /// How many objects the run will report (for a progress bar): counted,
    /// not loaded.
    pub fn total(&self, kms: &Kms) -> Result<u64, StoreError> {
        let n = match &self.scope {
            Scope::Ids { keys, secrets } => keys.len() + secrets.len(),
            Scope::All { include_secrets } => read_with(&*kms.store, |r| {
                let (s, t) = (&self.source, &self.target);
                let mut n = r.count_keys(s)? + r.count_keys(t)?;
                if *include_secrets {
                    n += r.count_secrets(s)? + r.count_secrets(t)?;
                }
                Ok(usize::try_from(n).unwrap_or(0))
            })?,
        };
        Ok(n as u64)
    }
}

/// How one object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Moved to the target.
    Migrated,
    /// Dry run: it would move.
    WouldMigrate,
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
        "the patterns select {count} keys and secrets (with the secrets the selected keys carry); a run selected by pattern takes at most {MANUAL_LIMIT} (use --all to migrate a whole container)"
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
    /// Selected keys seal secrets of the source and `include_secrets` is off.
    #[error("{0}; nothing was migrated")]
    KeysHoldSecrets(#[from] KeysHoldSecrets),
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

/// Decides which objects a run takes: a whole source container (`all`),
/// or the keys and secrets whose id, alias or name a pattern matches in the
/// source or the target. Bad input (no selection, unknown instance, a
/// pattern that matches nothing, more than [`MANUAL_LIMIT`] objects by
/// pattern) is an error; nothing is changed either way.
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
    let find = |c: &Container| -> Result<Option<Instance>, StoreError> {
        match c.instance_id() {
            None => Ok(None),
            Some(id) => kms.get_instance(id).map(Some),
        }
    };
    let (source_instance, target_instance) = (find(&source)?, find(&req.target)?);
    let scope = if req.all {
        if !req.include_secrets {
            refuse_all_holders(kms, &source)?;
        }
        Scope::All {
            include_secrets: req.include_secrets,
        }
    } else {
        match_patterns(kms, req, &source)?
    };
    // A lock left by a dead run is taken over by this run: judge as its holder.
    let stale_lock = kms.lock_is_stale(&source)? || kms.lock_is_stale(&req.target)?;
    Ok(Selection {
        target: req.target.clone(),
        source,
        scope,
        include_secrets: req.include_secrets,
        source_instance,
        target_instance,
        stale_lock,
    })
}

/// The ids the patterns of a manual selection match in the source or the
/// target; every pattern must match, and at most [`MANUAL_LIMIT`] in all,
/// counting the secrets the selected keys carry ([`with_dependents`]).
fn match_patterns(kms: &Kms, req: &Request, source: &Container) -> Result<Scope, MigrateError> {
    let mut hits = vec![0usize; req.patterns.len()];
    let mut pick = |id: &str, names: &[String]| {
        let mut any = false;
        for (n, p) in hits.iter_mut().zip(&req.patterns) {
            if glob_matches(p, id) || names.iter().any(|x| glob_matches(p, x)) {
                *n += 1;
                any = true;
            }
        }
        any
    };
    let mut keys: Vec<Key> = Vec::new();
    let mut secrets: Vec<String> = Vec::new();
    for c in [source, &req.target] {
        let found = kms.list_keys(Some(c))?;
        keys.extend(found.into_iter().filter(|k| pick(&k.id, &k.aliases)));
        if req.include_secrets {
            let found = kms.list_secrets(Some(c))?;
            let matched = found
                .into_iter()
                .filter(|s| pick(&s.id, std::slice::from_ref(&s.name)));
            secrets.extend(matched.map(|s| s.id));
        }
    }
    if let Some((p, _)) = req.patterns.iter().zip(&hits).find(|(_, n)| **n == 0) {
        return Err(MigrateError::NoMatch {
            pattern: p.clone(),
            what: if req.include_secrets {
                "key or secret"
            } else {
                "key"
            },
            containers: format!("{source} or {}", req.target),
        });
    }
    let carried = with_dependents(kms, req, source, &keys, &mut secrets)?;
    let count = keys.len() + secrets.len() + carried;
    if count > MANUAL_LIMIT {
        return Err(MigrateError::TooMany { count });
    }
    let mut keys: Vec<String> = keys.into_iter().map(|k| k.id).collect();
    keys.sort();
    Ok(Scope::Ids { keys, secrets })
}

/// The dependency rule for the selected `keys`: those leaving `source`
/// carry the secrets of `source` they seal (which leave `secrets`: the
/// key's move reports them), or, without `include_secrets`, the selection
/// is refused naming them. With `include_secrets`, the secrets of `source`
/// sealed by a selected key already in the target join `secrets` (they
/// were left behind; now they follow). Returns how many secrets are
/// carried; `secrets` ends sorted, without duplicates.
fn with_dependents(
    kms: &Kms,
    req: &Request,
    source: &Container,
    keys: &[Key],
    secrets: &mut Vec<String>,
) -> Result<usize, MigrateError> {
    // Per selected key, the secrets of the source it seals: carried when
    // the key leaves the source, left behind when it is already elsewhere.
    let sealed: Vec<(&Key, Vec<Secret>)> = read_with(&*kms.store, |r| {
        let mut sealed = Vec::with_capacity(keys.len());
        for k in keys {
            sealed.push((k, r.secrets_sealed_by(source, &k.id)?));
        }
        Ok(sealed)
    })?;
    let (held, behind): (Vec<_>, Vec<_>) = sealed
        .into_iter()
        .partition(|(k, _)| k.container == *source);
    let pairs: Vec<(&Key, &[Secret])> = held.iter().map(|(k, s)| (*k, s.as_slice())).collect();
    let how = match req.include_secrets {
        true => Dependents::Carry,
        false => Dependents::Refuse,
    };
    key_dependents::check(source, &pairs, how)?;
    let carried: BTreeSet<&str> = held
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.id.as_str()))
        .collect();
    secrets.retain(|id| !carried.contains(id.as_str()));
    if req.include_secrets {
        let left = behind
            .into_iter()
            .filter(|(k, _)| k.container == req.target);
        secrets.extend(left.flat_map(|(_, s)| s).map(|s| s.id));
    }
    secrets.sort();
    secrets.dedup();
    Ok(carried.len())
}

/// `--all` without `include_secrets`: refused when a key of `source` seals
/// secrets there (they would be stranded), naming them.
fn refuse_all_holders(kms: &Kms, source: &Container) -> Result<(), MigrateError> {
    let held: Vec<(Key, Vec<Secret>)> = read_with(&*kms.store, |r| {
        let index: HashMap<String, Vec<Secret>> = key_dependents::by_key(r, source)?;
        let mut held = Vec::new();
        for (key_id, secrets) in index {
            match r.key(&key_id)? {
                Some(k) if k.container == *source => held.push((k, secrets)),
                _ => {}
            }
        }
        held.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(held)
    })?;
    let pairs: Vec<(&Key, &[Secret])> = held.iter().map(|(k, s)| (k, s.as_slice())).collect();
    key_dependents::check(source, &pairs, Dependents::Refuse)?;
    Ok(())
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

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
