//! The migration lock of a store → store move, on each of the two stores.
//!
//! A store move locks, in each store, every container it reads from or
//! writes to, with the same machinery as a container move (management
//! operations there fail fast with "migration in progress", crypto keeps
//! working). Each locked container gets one run record whose source and
//! target are both that container: that is how a store move's record is
//! told apart from a container move's (which never has source = target).
//! A lock whose holder is a dead process of this host is taken over and its
//! run marked interrupted, as for container moves.

use super::kms::{Kms, container_record, now, rfc3339};
use super::migration_lock::{holder, holder_is_dead, host_name, set_lock};
use crate::store::{Container, MigrationRun, StoreError, StoreResult, read_with, write_with};

/// True when `run` is the record of a store → store move.
pub fn is_store_move(run: &MigrationRun) -> bool {
    run.source == run.target
}

/// True when one of `containers` is locked by a store move whose process is
/// gone: the next run resumes it.
pub fn interrupted_store_move(kms: &Kms, containers: &[Container]) -> StoreResult<bool> {
    read_with(&*kms.store, |r| {
        for c in containers {
            if !r.container(c)?.is_some_and(|rec| rec.migrating) {
                continue;
            }
            if holder(r, c)?.is_some_and(|m| is_store_move(&m) && holder_is_dead(&m)) {
                return Ok(true);
            }
        }
        Ok(false)
    })
}

/// Locks `containers` of `kms`'s store for a store move with `peer` (the
/// other store, for the audit log), in one transaction: one run record per
/// container, all with this process as holder. A container locked by a
/// live holder is `MigrationInProgress` and nothing is locked.
pub fn begin(kms: &Kms, containers: &[Container], peer: &str) -> StoreResult<Vec<MigrationRun>> {
    let started_at = rfc3339(now())?;
    let runs: Vec<MigrationRun> = containers
        .iter()
        .map(|c| MigrationRun {
            run_id: format!("mig-{}", uuid::Uuid::new_v4()),
            pid: i64::from(std::process::id()),
            host: host_name(),
            started_at: started_at.clone(),
            source: c.clone(),
            target: c.clone(),
            finished_at: None,
            outcome: None,
        })
        .collect();
    let object = format!("store move with {peer}");
    kms.mutate("migration.begin", &object, |tx, detail| {
        let mut notes = Vec::new();
        let mut released: Vec<Container> = Vec::new();
        for run in &runs {
            let c = &run.source;
            if container_record(&*tx, c)?.migrating {
                match holder(&*tx, c)? {
                    None if released.contains(c) => {}
                    Some(mut dead) if holder_is_dead(&dead) => {
                        released.extend([dead.source.clone(), dead.target.clone()]);
                        notes.push(format!("took over {} (pid {} gone)", dead.run_id, dead.pid));
                        dead.outcome = Some(format!("interrupted (taken over by {})", run.run_id));
                        tx.put_migration_run(&dead)?;
                        for other in [&dead.source, &dead.target] {
                            if !containers.contains(other) {
                                set_lock(tx, other, false)?;
                            }
                        }
                    }
                    _ => {
                        return Err(StoreError::MigrationInProgress {
                            container: c.to_string(),
                            holder: super::migration_lock::holder_text(&*tx, c)?,
                        });
                    }
                }
            }
            set_lock(tx, c, true)?;
            tx.put_migration_run(run)?;
            notes.push(format!("{} locks {c}", run.run_id));
        }
        *detail = notes.join(", ");
        Ok(runs.clone())
    })
}

/// Ends the runs of [`begin`]: releases their locks and records `outcome`.
/// A run that was taken over meanwhile keeps its outcome.
pub fn end(kms: &Kms, runs: &[MigrationRun], outcome: &str) -> StoreResult<()> {
    let finished = rfc3339(now())?;
    write_with(&*kms.store, |tx| {
        let all = tx.migration_runs()?;
        for run in runs {
            let open = all
                .iter()
                .find(|m| m.run_id == run.run_id && m.outcome.is_none());
            let Some(current) = open else { continue };
            set_lock(tx, &run.source, false)?;
            tx.put_migration_run(&MigrationRun {
                finished_at: Some(finished.clone()),
                outcome: Some(outcome.to_string()),
                ..current.clone()
            })?;
        }
        Ok(())
    })
}
