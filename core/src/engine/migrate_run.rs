//! Carrying out a [`Selection`]: the run walks its objects page by page
//! (ids in id order, one page of keys per target transaction), decides per
//! object whether it moves ([`migration_rules::check`] for keys,
//! [`Kms::check_secret_movable`] for secrets), moves and reports each one
//! through a callback. Nothing holds the whole selection: memory is one
//! page, whatever the number of objects.
//!
//! Crash safety: every batch of keys is one transaction (re-sealed versions,
//! the new container and one audit entry per key commit together), and each
//! object lives in exactly one row, so a run killed at any point leaves every
//! object in exactly one container. The journal (`migration_runs`) records
//! the run that holds the locks; the store itself records the progress (an
//! object's container). Re-running the same command takes the dead run's
//! lock over and walks the source again: what already moved is reported as
//! already in the target, the rest moves.

use super::kms::Kms;
use super::migrate::{Candidate, Decision, ObjectKind, Outcome, Scope, Selection};
use super::migration_rules::{self, MigrationPlan, is_service_key};
use crate::store::{Container, Key, Secret, StoreReader, StoreResult, read_with};
use std::collections::BTreeSet;

/// Default number of keys moved per transaction (one commit, one fsync,
/// per batch), also the page size of the walk.
pub const BATCH: usize = 256;

/// Carries out `sel`: unless `dry_run`, locks the source and the target
/// recording this process as the holder ([`Kms::begin_migration`], which
/// takes over a lock left by a dead process) and releases the locks at the
/// end (also when a move failed). Keys move first, `batch_size` per
/// transaction (a batch that fails is retried key by key so each gets its
/// own outcome), then secrets. `report` receives every object, in order,
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
        moving: BTreeSet::new(),
        failed: false,
        report,
    };
    let walked = walk.keys().and_then(|()| walk.secrets());
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
    /// Dry run with secrets only: the keys that would move (a secret may
    /// follow its key). A real run moves keys first and reads the store.
    moving: BTreeSet<String>,
    /// Some object failed.
    failed: bool,
    report: &'a mut dyn FnMut(&Candidate, &Outcome),
}

/// Up to `n` ids of `c`'s keys or secrets after `after`.
type PageFn = fn(&dyn StoreReader, &Container, Option<&str>, usize) -> StoreResult<Vec<String>>;

impl Walk<'_> {
    /// Calls `f` with each page of ids of one kind: the listed ids in
    /// chunks, or every id of the target then of the source.
    fn pages(
        &mut self,
        listed: Option<&[String]>,
        page: PageFn,
        f: &mut dyn FnMut(&mut Self, Vec<String>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        if let Some(ids) = listed {
            for chunk in ids.chunks(self.batch_size) {
                f(self, chunk.to_vec())?;
            }
            return Ok(());
        }
        let store = &*self.kms.store;
        for c in [&self.sel.target, &self.sel.source] {
            let mut after: Option<String> = None;
            loop {
                let n = self.batch_size;
                let ids = read_with(store, |r| page(r, c, after.as_deref(), n))?;
                let Some(last) = ids.last().cloned() else {
                    break;
                };
                f(self, ids)?;
                after = Some(last);
            }
        }
        Ok(())
    }

    fn keys(&mut self) -> StoreResult<()> {
        let listed = match &self.sel.scope {
            Scope::All { .. } => None,
            Scope::Ids { keys, .. } => Some(keys.as_slice()),
        };
        let page: PageFn = |r, c, after, n| r.key_ids_page(c, after, n);
        self.pages(listed, page, &mut |w, ids| w.key_page(&ids))
    }

    fn secrets(&mut self) -> StoreResult<()> {
        let listed = match &self.sel.scope {
            Scope::All {
                include_secrets: false,
            } => return Ok(()),
            Scope::All { .. } => None,
            Scope::Ids { secrets, .. } => Some(secrets.as_slice()),
        };
        let page: PageFn = |r, c, after, n| r.secret_ids_page(c, after, n);
        self.pages(listed, page, &mut |w, ids| w.secret_page(&ids))
    }

    /// Decides, moves (one transaction) and reports one page of keys.
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
            if self.sel.has_secrets() {
                self.moving.extend(moving);
            }
            for c in &page {
                self.emit(c, planned(c));
            }
            return Ok(());
        }
        let together = !moving.is_empty()
            && self
                .kms
                .migrate_keys_locked(&moving, &self.sel.target)
                .is_ok();
        for c in &page {
            let o = match (&c.decision, together) {
                (Decision::Move, true) => Outcome::Migrated,
                _ => self.move_one(c),
            };
            self.emit(c, o);
        }
        if !together && !moving.is_empty() {
            // Some may have failed: count what the target really holds.
            self.target_count = read_with(&*self.kms.store, |r| r.count_keys(&self.sel.target))?;
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
        }
    }

    /// The outcome of one object moved on its own.
    fn move_one(&self, c: &Candidate) -> Outcome {
        let target = &self.sel.target;
        match &c.decision {
            Decision::AlreadyThere => Outcome::Skipped(format!("already in {target}")),
            Decision::Skip(why) | Decision::Refuse(why) => Outcome::Skipped(why.clone()),
            Decision::Move => {
                let moved = match c.kind {
                    ObjectKind::Key => self.kms.migrate_key_locked(&c.id, target).map(drop),
                    ObjectKind::Secret => self.kms.migrate_secret_locked(&c.id, target).map(drop),
                };
                match moved {
                    Ok(()) => Outcome::Migrated,
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        }
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
