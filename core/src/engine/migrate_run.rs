//! Carrying out a [`Selection`]: the run walks its objects page by page
//! (ids in id order, one page of keys per target transaction), decides per
//! object whether it moves ([`migration_rules::check`] for keys,
//! [`Kms::check_secret_movable`] for secrets), moves and reports each one
//! through a callback. A key carries the secrets of the source it seals
//! (with `include_secrets`; see `key_dependents`): they move in its
//! transaction and are reported right after it. Nothing holds the whole
//! selection: memory is one page, whatever the number of objects (a dry
//! run also keeps the ids of the keys it would move and the source's
//! secrets by key).
//!
//! Crash safety: every batch of keys is one transaction (re-sealed versions,
//! the new container and one audit entry per key commit together), and each
//! object lives in exactly one row, so a run killed at any point leaves every
//! object in exactly one container. The journal (`migration_runs`) records
//! the run that holds the locks; the store itself records the progress (an
//! object's container). Re-running the same command takes the dead run's
//! lock over and walks the source again: what already moved is reported as
//! already in the target, the rest moves.

use super::key_dependents::{self, Dependents};
use super::kms::Kms;
use super::migrate::{Candidate, Decision, ObjectKind, Outcome, Scope, Selection};
use super::migration_rules::{self, MigrationPlan, is_service_key};
use crate::store::{Container, Key, Secret, StoreReader, StoreResult, read_with};
use std::collections::{BTreeSet, HashMap};

/// Default number of keys moved per transaction (one commit, one fsync,
/// per batch), also the page size of the walk.
pub const BATCH: usize = 256;

/// Carries out `sel`: unless `dry_run`, locks the source and the target
/// recording this process as the holder ([`Kms::begin_migration`], which
/// takes over a lock left by a dead process) and releases the locks at the
/// end (also when a move failed). Keys move first, `batch_size` per
/// transaction (a batch that fails is retried key by key so each gets its
/// own outcome), each with the secrets it carries, then the other secrets;
/// with `--all`, what is already in the target is reported first.
/// `report` receives every object, in order,
/// with its outcome as soon as it is known; a dry run reports what would
/// happen and changes nothing. A lock held by a live run is an error and
/// nothing moves.
pub fn run(
    kms: &Kms,
    sel: &Selection,
    batch_size: usize,
    dry_run: bool,
    report: &mut dyn FnMut(&Candidate, &Outcome),
) -> StoreResult<()> {
    let lock = match dry_run {
        true => None,
        false => Some(kms.begin_migration(&sel.source, &sel.target)?),
    };
    let mut walk = Walk {
        kms,
        sel,
        dry_run,
        batch_size: batch_size.max(1),
        target_count: read_with(&*kms.store, |r| r.count_keys(&sel.target))?,
        how: match sel.include_secrets {
            true => Dependents::Carry,
            false => Dependents::Refuse,
        },
        moving: BTreeSet::new(),
        dependents: None,
        failed: false,
        report,
    };
    let walked = walk.walk();
    if let Some(lock) = lock {
        let outcome = match (&walked, walk.failed) {
            (Ok(()), false) => "completed",
            _ => "failed",
        };
        kms.end_migration(&lock, outcome)?;
    }
    walked
}

/// The state of one walk.
struct Walk<'a> {
    kms: &'a Kms,
    sel: &'a Selection,
    dry_run: bool,
    batch_size: usize,
    /// Keys in the target, counting those this run moves (the quota rule).
    target_count: i64,
    /// What a moving key does with the secrets it seals.
    how: Dependents,
    /// Dry run carrying secrets only: the keys that would move (their
    /// secrets were reported with them). A real run moves and reads the store.
    moving: BTreeSet<String>,
    /// Dry run carrying secrets only: the source's secrets by key.
    dependents: Option<HashMap<String, Vec<Secret>>>,
    /// Some object failed.
    failed: bool,
    report: &'a mut dyn FnMut(&Candidate, &Outcome),
}

/// Up to `n` ids of `c`'s keys or secrets after `after`.
type PageFn = fn(&dyn StoreReader, &Container, Option<&str>, usize) -> StoreResult<Vec<String>>;

impl Walk<'_> {
    /// The whole walk: listed keys then listed secrets; or, for `--all`,
    /// the target's keys and secrets (already there), then the source's
    /// keys (with the secrets they carry) and the source's other secrets.
    fn walk(&mut self) -> StoreResult<()> {
        let sel = self.sel;
        match &sel.scope {
            Scope::Ids { keys, secrets } => {
                self.listed(keys, &mut |w, ids| w.key_page(&ids))?;
                self.listed(secrets, &mut |w, ids| w.secret_page(&ids))
            }
            Scope::All { include_secrets } => {
                let keys: PageFn = |r, c, after, n| r.key_ids_page(c, after, n);
                let secrets: PageFn = |r, c, after, n| r.secret_ids_page(c, after, n);
                for c in [&sel.target, &sel.source] {
                    self.pages(c, keys, &mut |w, ids| w.key_page(&ids))?;
                    if *include_secrets {
                        self.pages(c, secrets, &mut |w, ids| w.secret_page(&ids))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Calls `f` with the listed ids in chunks.
    fn listed(
        &mut self,
        ids: &[String],
        f: &mut dyn FnMut(&mut Self, Vec<String>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        for chunk in ids.chunks(self.batch_size) {
            f(self, chunk.to_vec())?;
        }
        Ok(())
    }

    /// Calls `f` with each page of ids of one kind in container `c`.
    fn pages(
        &mut self,
        c: &Container,
        page: PageFn,
        f: &mut dyn FnMut(&mut Self, Vec<String>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut after: Option<String> = None;
        loop {
            let n = self.batch_size;
            let ids = read_with(&*self.kms.store, |r| page(r, c, after.as_deref(), n))?;
            let Some(last) = ids.last().cloned() else {
                return Ok(());
            };
            f(self, ids)?;
            after = Some(last);
        }
    }

    /// Decides, moves (one transaction) and reports one page of keys, each
    /// followed by the secrets it carries.
    fn key_page(&mut self, ids: &[String]) -> StoreResult<()> {
        let keys: Vec<Key> = read_with(&*self.kms.store, |r| {
            let mut keys = Vec::with_capacity(ids.len());
            for id in ids {
                keys.extend(r.key(id)?);
            }
            Ok(keys)
        })?;
        let page: Vec<Candidate> = keys.into_iter().map(|k| self.decide_key(k)).collect();
        let moving: Vec<String> = page
            .iter()
            .filter(|c| c.decision == Decision::Move)
            .map(|c| c.id.clone())
            .collect();
        if self.dry_run {
            return self.planned_key_page(&page, moving);
        }
        let together = match moving.is_empty() {
            true => None,
            false => self
                .kms
                .migrate_keys_locked(&moving, &self.sel.target, self.how)
                .ok(),
        };
        for c in &page {
            let (o, carried) = match (&c.decision, &together) {
                (Decision::Move, Some(moves)) => {
                    let m = moves.iter().find(|m| m.key.id == c.id);
                    (
                        Outcome::Migrated,
                        m.map(|m| m.carried.clone()).unwrap_or_default(),
                    )
                }
                _ => self.move_key(c),
            };
            self.emit(c, o.clone());
            for s in carried {
                self.emit(&carried_candidate(s, &c.id, &c.source), o.clone());
            }
        }
        if together.is_none() && !moving.is_empty() {
            // Some may have failed: count what the target really holds.
            self.target_count = read_with(&*self.kms.store, |r| r.count_keys(&self.sel.target))?;
        }
        Ok(())
    }

    /// A dry run's page of keys: each reported as it would end, a key that
    /// would move followed by the secrets it would carry.
    fn planned_key_page(&mut self, page: &[Candidate], moving: Vec<String>) -> StoreResult<()> {
        let carry = self.how == Dependents::Carry && !moving.is_empty();
        if carry && self.dependents.is_none() {
            let source = &self.sel.source;
            self.dependents = Some(read_with(&*self.kms.store, |r| {
                key_dependents::by_key(r, source)
            })?);
        }
        if carry {
            self.moving.extend(moving);
        }
        for c in page {
            self.emit(c, planned(c));
            let carried = match (&c.decision, &mut self.dependents) {
                (Decision::Move, Some(d)) => d.remove(&c.id).unwrap_or_default(),
                _ => Vec::new(),
            };
            for s in carried {
                self.emit(
                    &carried_candidate(s, &c.id, &c.source),
                    Outcome::WouldMigrate,
                );
            }
        }
        Ok(())
    }

    /// Decides, moves (each in its own transaction) and reports one page of
    /// secrets.
    fn secret_page(&mut self, ids: &[String]) -> StoreResult<()> {
        let secrets: Vec<Secret> = read_with(&*self.kms.store, |r| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                found.extend(r.secret(id)?);
            }
            Ok(found)
        })?;
        for s in secrets {
            if self.dry_run && self.moving.contains(&s.encryption_key_id) {
                continue; // reported with the key that would carry it
            }
            let c = self.decide_secret(s);
            let o = match self.dry_run {
                true => planned(&c),
                false => self.move_one(&c),
            };
            self.emit(&c, o);
        }
        Ok(())
    }

    fn emit(&mut self, c: &Candidate, o: Outcome) {
        self.failed |= matches!(o, Outcome::Failed(_));
        (self.report)(c, &o);
    }

    /// Whether `key` moves, counting the keys this run moved before it.
    fn decide_key(&mut self, key: Key) -> Candidate {
        let sel = self.sel;
        let decision = if key.container == sel.target {
            Decision::AlreadyThere
        } else if key.container != sel.source {
            Decision::Refuse(format!("it is in {}, not in {}", key.container, sel.source))
        } else {
            let plan = MigrationPlan {
                key: &key,
                source_instance: sel.source_instance.as_ref(),
                target: &sel.target,
                target_instance: sel.target_instance.as_ref(),
                target_key_count: self.target_count,
                lock_held: !self.dry_run || sel.stale_lock,
            };
            match migration_rules::check(&plan) {
                Ok(()) => {
                    self.target_count += 1;
                    Decision::Move
                }
                Err(e) if is_service_key(&key) => {
                    Decision::Skip(format!("{e} (not required to move)"))
                }
                Err(e) => Decision::Refuse(e.to_string()),
            }
        };
        Candidate {
            id: key.id,
            kind: ObjectKind::Key,
            names: key.aliases,
            source: key.container,
            decision,
            with_key: None,
        }
    }

    /// Whether secret `s` moves: its encryption key must be in the target
    /// (already, or moving in this dry run).
    fn decide_secret(&self, s: Secret) -> Candidate {
        let target = &self.sel.target;
        let decision = if s.container == *target {
            Decision::AlreadyThere
        } else if s.container != self.sel.source {
            Decision::Refuse(format!(
                "it is in {}, not in {}",
                s.container, self.sel.source
            ))
        } else {
            let with_key = self.moving.contains(&s.encryption_key_id).then_some(target);
            match self.kms.check_secret_movable(&s.id, target, None, with_key) {
                Ok(()) => Decision::Move,
                Err(e) => Decision::Refuse(e.to_string()),
            }
        };
        Candidate {
            id: s.id,
            kind: ObjectKind::Secret,
            names: vec![s.name],
            source: s.container,
            decision,
            with_key: None,
        }
    }

    /// The outcome of one key moved on its own, and the secrets it carried.
    fn move_key(&self, c: &Candidate) -> (Outcome, Vec<Secret>) {
        if c.decision != Decision::Move {
            return (self.move_one(c), Vec::new());
        }
        match self
            .kms
            .migrate_key_locked(&c.id, &self.sel.target, self.how)
        {
            Ok(m) => (Outcome::Migrated, m.carried),
            Err(e) => (Outcome::Failed(e.to_string()), Vec::new()),
        }
    }

    /// The outcome of one object moved on its own (a key without the
    /// secrets it carries: see [`Walk::move_key`]).
    fn move_one(&self, c: &Candidate) -> Outcome {
        let target = &self.sel.target;
        match (&c.decision, c.kind) {
            (Decision::AlreadyThere, _) => Outcome::Skipped(format!("already in {target}")),
            (Decision::Skip(why) | Decision::Refuse(why), _) => Outcome::Skipped(why.clone()),
            (Decision::Move, ObjectKind::Key) => self.move_key(c).0,
            (Decision::Move, ObjectKind::Secret) => {
                match self.kms.migrate_secret_locked(&c.id, target) {
                    Ok(_) => Outcome::Migrated,
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        }
    }
}

/// The candidate of a secret that moves with its encryption key `key_id`.
fn carried_candidate(s: Secret, key_id: &str, source: &Container) -> Candidate {
    Candidate {
        id: s.id,
        kind: ObjectKind::Secret,
        names: vec![s.name],
        source: source.clone(),
        decision: Decision::Move,
        with_key: Some(key_id.to_string()),
    }
}

/// A dry run's outcome: what the run would do.
fn planned(c: &Candidate) -> Outcome {
    match &c.decision {
        Decision::Move => Outcome::WouldMigrate,
        Decision::AlreadyThere => Outcome::Skipped("already in the target".into()),
        Decision::Skip(why) | Decision::Refuse(why) => Outcome::Skipped(why.clone()),
    }
}
