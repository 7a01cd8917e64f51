//! Carrying out a store → store move plan (see [`super::store_migrate`]):
//! create the missing containers in the target, lock both stores, copy in
//! batches (one target transaction each), verify each batch by reading it
//! back, with `--move` remove verified objects from the source (secrets
//! before keys, each leaving its tombstones there, see
//! [`super::tombstone`]), release the locks.

use std::collections::BTreeSet;

use super::ekms_wrapper::ExternalKeyService;
use super::kms::{Kms, now, rfc3339};
use super::migrate::ObjectKind;
use super::store_migrate::{Action, StoreCandidate, StorePlan};
use super::store_migrate_image::{self as image, KeyImage, Roots, SecretImage};
use super::store_migrate_lock as lock;
use super::store_migrate_records::{self as records, RecordKind};
use super::tombstone;
use crate::store::{StoreError, StoreResult, StoreTx, read_with, write_with};

/// How one object ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// It is in the target: copied now, or found there as the exact copy
    /// an interrupted run made.
    Copied {
        /// `--force` replaced the target's own object.
        replaced: bool,
        /// The copy was made by an interrupted run.
        resumed: bool,
        /// An exact copy was already in the target (checked under the
        /// lock): nothing was written.
        present: bool,
        /// `--move`: removed from the source (`false` without `--move`).
        removed: bool,
        /// Why it stayed in the source despite `--move`, if it did.
        kept: Option<String>,
    },
    /// Not attempted (identical copy in the target with `--merge`).
    Skipped(String),
    /// Refused by a rule (see [`Action::Refuse`]).
    Refused(String),
    /// Attempted and failed; the source is unchanged and the target holds
    /// no copy (or, for a replacement, its previous object).
    Failed(String),
}

/// One object read from the source.
enum Img {
    Key(KeyImage),
    Secret(SecretImage),
}

/// The two stores of a run and what a run needs of them.
struct Sides<'a> {
    source: &'a Kms,
    target: &'a Kms,
    src_roots: Roots,
    dst_roots: Roots,
    run_id: String,
}

/// What a run did: one outcome per candidate and one per record, in the
/// plan's order.
#[derive(Debug, Clone)]
pub struct StoreRun {
    /// Per [`StorePlan::candidates`] entry.
    pub objects: Vec<StoreOutcome>,
    /// Per [`StorePlan::records`] entry.
    pub records: Vec<StoreOutcome>,
}

/// Carries out `plan` from `source` to `target`: creates the containers
/// the target lacks (with their instances and EKMS configurations), takes
/// over the plan's dead runs and locks both stores under one run id,
/// copies the objects and the grant records, then with `--move` removes
/// the verified objects from the source. `keys` wraps the root key of a
/// new target container whose source container is externally wrapped.
/// `progress` is called once per object. A lock held by a live run on
/// either store is an error and nothing moves.
pub fn run(
    source: &Kms,
    target: &Kms,
    plan: &StorePlan,
    batch_size: usize,
    keys: &dyn ExternalKeyService,
    progress: &mut dyn FnMut(&StoreCandidate),
) -> Result<StoreRun, StoreError> {
    records::create_containers(source, target, &plan.containers, keys)?;
    let run_id = lock::new_run_id();
    let (from, to) = (source.store.location(), target.store.location());
    let src_runs = lock::begin_run(source, &plan.containers, &to, &run_id, &plan.interrupted)?;
    let dst_runs =
        match lock::begin_run(target, &plan.containers, &from, &run_id, &plan.interrupted) {
            Ok(r) => r,
            Err(e) => {
                lock::end(source, &src_runs, "failed")?;
                return Err(e);
            }
        };
    let result = (|| {
        let sides = Sides {
            source,
            target,
            src_roots: Roots::load(source, &plan.containers)?,
            dst_roots: Roots::load(target, &plan.containers)?,
            run_id: run_id.clone(),
        };
        let batch_size = batch_size.max(1);
        let mut objects = sides.carry_out(plan, batch_size, progress);
        let records = sides.records(plan);
        if plan.remove_source {
            sides.remove_verified(&plan.candidates, &mut objects, batch_size);
        }
        Ok(StoreRun { objects, records })
    })();
    let failed = match &result {
        Ok(done) => done
            .objects
            .iter()
            .chain(&done.records)
            .any(|o| matches!(o, StoreOutcome::Failed(_))),
        Err(_) => true,
    };
    let outcome = if failed { "failed" } else { "completed" };
    // The target's lock goes last: a run killed before releasing it is
    // recognised as interrupted by the next run, which resumes it.
    lock::end(source, &src_runs, outcome)?;
    lock::end(target, &dst_runs, outcome)?;
    result
}

fn is_copy(a: &Action) -> bool {
    matches!(a, Action::Copy | Action::Replace { .. })
}

/// An exact copy is already in the target (made by an interrupted run, or
/// found there): checked again under the lock, not written.
fn is_present(a: &Action) -> bool {
    matches!(a, Action::Resume | Action::InTarget)
}

fn is_replace(a: &Action) -> bool {
    matches!(a, Action::Replace { .. })
}

impl Sides<'_> {
    /// The outcome of each record: instances and EKMS configurations were
    /// created with their containers; grants are copied now.
    fn records(&self, plan: &StorePlan) -> Vec<StoreOutcome> {
        let grants: Vec<&str> = plan
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Grant && r.action == Action::Copy)
            .map(|r| r.id.as_str())
            .collect();
        let copied_grants = match grants.is_empty() {
            true => Ok(Vec::new()),
            false => records::copy_grants(self.source, self.target, &grants, &self.run_id),
        };
        let mut copied_grants = match copied_grants {
            Ok(v) => v.into_iter(),
            Err(e) => vec![Some(format!("cannot copy it: {e}")); grants.len()].into_iter(),
        };
        plan.records
            .iter()
            .map(|r| match &r.action {
                Action::Copy if r.kind == RecordKind::Grant => match copied_grants.next() {
                    Some(None) => copied(false, false, false),
                    Some(Some(why)) => StoreOutcome::Failed(why),
                    None => StoreOutcome::Failed("not attempted".into()),
                },
                Action::Refuse(why) => StoreOutcome::Refused(why.clone()),
                Action::InTarget => StoreOutcome::Skipped("already in the target store".into()),
                _ => copied(false, false, false),
            })
            .collect()
    }

    fn carry_out(
        &self,
        plan: &StorePlan,
        batch_size: usize,
        progress: &mut dyn FnMut(&StoreCandidate),
    ) -> Vec<StoreOutcome> {
        let cands = &plan.candidates;
        let mut outcomes: Vec<StoreOutcome> = cands
            .iter()
            .map(|c| match &c.action {
                Action::Copy | Action::Replace { .. } | Action::Resume | Action::InTarget => {
                    StoreOutcome::Failed("not attempted".into())
                }
                Action::SkipIdentical => {
                    StoreOutcome::Skipped("an identical copy is already in the target store".into())
                }
                Action::Refuse(why) => StoreOutcome::Refused(why.clone()),
            })
            .collect();
        let mut batch = Vec::with_capacity(batch_size);
        let mut present = Vec::with_capacity(batch_size);
        for (i, c) in cands.iter().enumerate() {
            if is_copy(&c.action) {
                batch.push(i);
            } else if is_present(&c.action) {
                present.push(i);
            } else {
                progress(c);
            }
            if batch.len() >= batch_size {
                self.copy_batch(cands, &batch, &mut outcomes, progress);
                batch.clear();
            }
            if present.len() >= batch_size {
                self.check_present(cands, &present, &mut outcomes, progress);
                present.clear();
            }
        }
        self.copy_batch(cands, &batch, &mut outcomes, progress);
        self.check_present(cands, &present, &mut outcomes, progress);
        outcomes
    }

    /// Copies the candidates at `batch` in one target transaction (one by
    /// one when that fails, so each gets its own outcome), then verifies.
    fn copy_batch(
        &self,
        cands: &[StoreCandidate],
        batch: &[usize],
        outcomes: &mut [StoreOutcome],
        progress: &mut dyn FnMut(&StoreCandidate),
    ) {
        if batch.is_empty() {
            return;
        }
        let images = match self.read_images(cands, batch) {
            Ok(images) => images,
            Err(e) => {
                for &i in batch {
                    outcomes[i] =
                        StoreOutcome::Failed(format!("cannot read it from the source: {e}"));
                    progress(&cands[i]);
                }
                return;
            }
        };
        let together: Vec<(usize, &Img)> = batch.iter().copied().zip(&images).collect();
        let written: Vec<(usize, &Img)> = if self.write(cands, &together).is_ok() {
            together
        } else {
            let mut ok = Vec::new();
            for one in together {
                match self.write(cands, std::slice::from_ref(&one)) {
                    Ok(()) => ok.push(one),
                    Err(e) => outcomes[one.0] = StoreOutcome::Failed(e.to_string()),
                }
            }
            ok
        };
        self.verify(cands, &written, outcomes);
        for &i in batch {
            progress(&cands[i]);
        }
    }

    /// Checks, under the lock, that the target still holds an exact copy
    /// of each candidate at `batch` (an interrupted run's copy, or one found
    /// there): only then does it count as copied (and may leave the source
    /// with `--move`).
    fn check_present(
        &self,
        cands: &[StoreCandidate],
        batch: &[usize],
        outcomes: &mut [StoreOutcome],
        progress: &mut dyn FnMut(&StoreCandidate),
    ) {
        if batch.is_empty() {
            return;
        }
        let checked = self.read_images(cands, batch).and_then(|images| {
            let items: Vec<(usize, &Img)> = batch.iter().copied().zip(&images).collect();
            self.same_in_target(cands, &items)
        });
        for (n, &i) in batch.iter().enumerate() {
            let resumed = cands[i].action == Action::Resume;
            outcomes[i] = match &checked {
                Ok(same) if same.get(n) == Some(&true) => copied(false, resumed, !resumed),
                Ok(_) => StoreOutcome::Failed(
                    "its copy in the target store is no longer exact (changed since the plan); not removed from the source"
                        .into(),
                ),
                Err(e) => StoreOutcome::Failed(format!(
                    "cannot check its copy in the target store: {e}"
                )),
            };
            progress(&cands[i]);
        }
    }

    /// Per item: the target holds an exact copy of it.
    fn same_in_target(
        &self,
        cands: &[StoreCandidate],
        items: &[(usize, &Img)],
    ) -> StoreResult<Vec<bool>> {
        read_with(&*self.target.store, |r| {
            let mut same = Vec::with_capacity(items.len());
            for (i, img) in items {
                let c = &cands[*i];
                same.push(match img {
                    Img::Key(ours) => image::load_key(r, &self.dst_roots, &c.id)?
                        .is_some_and(|t| image::same_key_copy(ours, &t)),
                    Img::Secret(ours) => image::load_secret(self.target, r, &c.id)?
                        .is_some_and(|t| image::same_secret_copy(ours, &t)),
                });
            }
            Ok(same)
        })
    }

    fn read_images(&self, cands: &[StoreCandidate], batch: &[usize]) -> StoreResult<Vec<Img>> {
        read_with(&*self.source.store, |r| {
            let mut out = Vec::with_capacity(batch.len());
            for &i in batch {
                let c = &cands[i];
                let gone = || StoreError::NotFound {
                    kind: "object in the source store",
                    id: c.id.clone(),
                };
                out.push(match c.kind {
                    ObjectKind::Key => {
                        Img::Key(image::load_key(r, &self.src_roots, &c.id)?.ok_or_else(gone)?)
                    }
                    ObjectKind::Secret => {
                        Img::Secret(image::load_secret(self.source, r, &c.id)?.ok_or_else(gone)?)
                    }
                });
            }
            Ok(out)
        })
    }

    /// Writes `items` into the target in one transaction, with one audit
    /// entry each, removing the tombstones the target holds for them.
    fn write(&self, cands: &[StoreCandidate], items: &[(usize, &Img)]) -> StoreResult<()> {
        let at = rfc3339(now())?;
        let from = self.source.store.location();
        write_with(&*self.target.store, |tx: &mut dyn StoreTx| {
            let mut arrived = Vec::with_capacity(items.len() * 2);
            for (i, img) in items {
                let c = &cands[*i];
                let replace = is_replace(&c.action);
                arrived.extend(match img {
                    Img::Key(k) => {
                        image::write_key(tx, self.dst_roots.get(&c.container)?, k, replace)?;
                        tombstone::key_names(&k.key.id, k.aliases.iter().map(|a| a.name.as_str()))
                    }
                    Img::Secret(s) => {
                        image::write_secret(tx, s, replace)?;
                        tombstone::secret_names(&s.secret)
                    }
                });
                let detail = format!(
                    "from store {from} (run {}){}",
                    self.run_id,
                    if replace {
                        ", replaced the existing object"
                    } else {
                        ""
                    }
                );
                let action = match c.kind {
                    ObjectKind::Key => "key.import",
                    ObjectKind::Secret => "secret.import",
                };
                tx.append_audit(&self.target.audit_entry(&at, action, &c.id, "ok", detail))?;
            }
            tombstone::clear_arrived(tx, &arrived)
        })
    }

    /// Reads the written objects back from the target and compares them
    /// with what was read from the source; a fresh copy that does not match
    /// is removed again (a replacement cannot be undone and is reported).
    fn verify(
        &self,
        cands: &[StoreCandidate],
        written: &[(usize, &Img)],
        outcomes: &mut [StoreOutcome],
    ) {
        let checked = self.same_in_target(cands, written);
        for (n, (i, _)) in written.iter().enumerate() {
            let c = &cands[*i];
            let replaced = is_replace(&c.action);
            outcomes[*i] = match &checked {
                Ok(same) if same.get(n) == Some(&true) => copied(replaced, false, false),
                Ok(_) => {
                    if !replaced {
                        let _ = write_with(&*self.target.store, |tx| match c.kind {
                            ObjectKind::Key => tx.delete_key(&c.id),
                            ObjectKind::Secret => tx.delete_secret(&c.id),
                        });
                    }
                    StoreOutcome::Failed(
                        "its copy in the target store did not read back identical".into(),
                    )
                }
                Err(e) => {
                    StoreOutcome::Failed(format!("cannot verify its copy in the target store: {e}"))
                }
            };
        }
    }

    /// `--move`: removes every verified object from the source, secrets
    /// first, in batches (one source transaction each). A key still used by
    /// a secret left in the source stays there.
    fn remove_verified(
        &self,
        cands: &[StoreCandidate],
        outcomes: &mut [StoreOutcome],
        batch_size: usize,
    ) {
        let done = |o: &StoreOutcome| matches!(o, StoreOutcome::Copied { .. });
        let order: Vec<usize> = (0..cands.len())
            .filter(|&i| cands[i].kind == ObjectKind::Secret && done(&outcomes[i]))
            .chain(
                (0..cands.len())
                    .filter(|&i| cands[i].kind == ObjectKind::Key && done(&outcomes[i])),
            )
            .collect();
        for chunk in order.chunks(batch_size) {
            let result = self.remove(cands, chunk);
            match result {
                Ok(kept) => {
                    for (&i, kept) in chunk.iter().zip(kept) {
                        if let StoreOutcome::Copied {
                            removed, kept: k, ..
                        } = &mut outcomes[i]
                        {
                            *removed = kept.is_none();
                            *k = kept;
                        }
                    }
                }
                Err(e) => {
                    for &i in chunk {
                        if let StoreOutcome::Copied { kept, .. } = &mut outcomes[i] {
                            *kept = Some(format!("not removed from the source: {e}"));
                        }
                    }
                }
            }
        }
    }

    /// Removes `chunk` from the source in one transaction; returns, per
    /// object, why it was kept (`None`: removed).
    fn remove(
        &self,
        cands: &[StoreCandidate],
        chunk: &[usize],
    ) -> StoreResult<Vec<Option<String>>> {
        let at = rfc3339(now())?;
        let to = self.target.store.location();
        let departure = tombstone::Departure {
            to: tombstone::store_name(&to),
            at: at.clone(),
            run_id: self.run_id.clone(),
        };
        write_with(&*self.source.store, |tx| {
            let mut kept = Vec::with_capacity(chunk.len());
            for &i in chunk {
                let c = &cands[i];
                if c.kind == ObjectKind::Secret {
                    tombstone::remove_moved(tx, c.kind, &c.id, &departure)?;
                }
            }
            let in_use: BTreeSet<String> =
                if chunk.iter().any(|&i| cands[i].kind == ObjectKind::Key) {
                    tx.secrets(None)?
                        .into_iter()
                        .map(|s| s.encryption_key_id)
                        .collect()
                } else {
                    BTreeSet::new()
                };
            for &i in chunk {
                let c = &cands[i];
                if c.kind == ObjectKind::Key {
                    if in_use.contains(&c.id) {
                        kept.push(Some(
                            "kept in the source: secrets there still use it".into(),
                        ));
                        continue;
                    }
                    tombstone::remove_moved(tx, c.kind, &c.id, &departure)?;
                }
                let action = match c.kind {
                    ObjectKind::Key => "key.export",
                    ObjectKind::Secret => "secret.export",
                };
                let detail = format!("moved to store {to} (run {})", self.run_id);
                tx.append_audit(&self.source.audit_entry(&at, action, &c.id, "ok", detail))?;
                kept.push(None);
            }
            Ok(kept)
        })
    }
}

fn copied(replaced: bool, resumed: bool, present: bool) -> StoreOutcome {
    StoreOutcome::Copied {
        replaced,
        resumed,
        present,
        removed: false,
        kept: None,
    }
}
