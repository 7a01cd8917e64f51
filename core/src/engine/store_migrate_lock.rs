//! The migration lock of a store → store move, on each of the two stores.
//!
//! A store move locks, in each store, every container it reads from or
//! writes to, with the same machinery as a container move (management
//! operations there fail fast with "migration in progress", crypto keeps
//! working). Each locked container gets one run record whose source and
//! target are both that container: that is how a store move's record is
//! told apart from a container move's (which never has source = target).
//!
//! One move has one run id (`mig-<uuid>`), the same in both stores; its
//! record for container `c` is `<run id>/<c>`. A lock whose holder is a
//! dead process of this host is taken over and its run marked interrupted,
//! as for container moves, and a run takes over a dead move as a whole:
//! every record of that move, in both stores, is marked interrupted and its
//! lock released, whichever containers the new run selects. A dead move is
//! this pair's when it locked one of the run's containers or when both
//! stores hold records of it, so a re-run whose selection shrank (a killed
//! `--move` that had emptied the source selects nothing) still releases
//! everything the dead run held.

use std::collections::BTreeSet;

use super::kms::{Kms, container_record, now, rfc3339};
use super::migration_lock::{holder, holder_is_dead, host_name, set_lock};
use crate::store::{
    Container, MigrationRun, StoreError, StoreReader, StoreResult, StoreTx, read_with, write_with,
};

/// True when `run` is the record of a store → store move.
pub fn is_store_move(run: &MigrationRun) -> bool {
    run.source == run.target
}

/// The run id of a store move's record: `mig-<uuid>` of `mig-<uuid>/<c>`
/// (a record written before run ids were shared is its own run).
pub fn move_id(run: &MigrationRun) -> &str {
    run.run_id
        .split_once('/')
        .map_or(run.run_id.as_str(), |(id, _)| id)
}

/// A fresh run id for one store move.
pub fn new_run_id() -> String {
    format!("mig-{}", uuid::Uuid::new_v4())
}

/// Open store-move records of `r` whose process is gone.
fn dead_records<R: StoreReader + ?Sized>(r: &R) -> StoreResult<Vec<MigrationRun>> {
    Ok(r.migration_runs()?
        .into_iter()
        .filter(|m| m.outcome.is_none() && is_store_move(m) && holder_is_dead(m))
        .collect())
}

/// The run ids of every store move `source` ↔ `target` whose process is
/// gone while it still holds locks in either store: those holding one of
/// `containers`, and those with records in both stores. A new run of the
/// pair takes them over whole (see the module docs).
pub fn dead_runs(
    source: &Kms,
    target: Option<&Kms>,
    containers: &[Container],
) -> StoreResult<BTreeSet<String>> {
    let ids = |kms: &Kms| -> StoreResult<(Vec<MigrationRun>, BTreeSet<String>)> {
        read_with(&*kms.store, |r| {
            let all = r.migration_runs()?;
            let ids = all.iter().map(|m| move_id(m).to_string()).collect();
            Ok((dead_records(r)?, ids))
        })
    };
    let (src_dead, src_ids) = ids(source)?;
    let (dst_dead, dst_ids) = match target {
        Some(t) => ids(t)?,
        None => (Vec::new(), BTreeSet::new()),
    };
    let mut out = BTreeSet::new();
    for (dead, other) in [(&src_dead, &dst_ids), (&dst_dead, &src_ids)] {
        for m in dead {
            if containers.contains(&m.source) || other.contains(move_id(m)) {
                out.insert(move_id(m).to_string());
            }
        }
    }
    Ok(out)
}

/// Locks `containers` of `kms`'s store for a new store move with `peer`
/// (the other store, for the audit log) and takes over nothing but the
/// dead holders of those containers. See [`begin_run`].
pub fn begin(kms: &Kms, containers: &[Container], peer: &str) -> StoreResult<Vec<MigrationRun>> {
    begin_run(kms, containers, peer, &new_run_id(), &BTreeSet::new())
}

/// Locks `containers` of `kms`'s store for the store move `run_id` with
/// `peer`, in one transaction: first every record of the dead moves
/// `take_over` (see [`dead_runs`]) is marked interrupted and its lock
/// released, then each container gets one record `<run_id>/<container>`
/// with this process as holder. A container locked by a live holder is
/// `MigrationInProgress` and nothing changes.
pub fn begin_run(
    kms: &Kms,
    containers: &[Container],
    peer: &str,
    run_id: &str,
    take_over: &BTreeSet<String>,
) -> StoreResult<Vec<MigrationRun>> {
    let started_at = rfc3339(now())?;
    let runs: Vec<MigrationRun> = containers
        .iter()
        .map(|c| MigrationRun {
            run_id: format!("{run_id}/{}", c.instance_id().unwrap_or("shared")),
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
        let mut notes = release_dead(tx, take_over, run_id)?;
        for run in &runs {
            let c = &run.source;
            if container_record(&*tx, c)?.migrating {
                notes.push(take_over_holder(tx, c, containers, run_id)?);
            }
            set_lock(tx, c, true)?;
            tx.put_migration_run(run)?;
            notes.push(format!("{} locks {c}", run.run_id));
        }
        *detail = notes.join(", ");
        Ok(runs.clone())
    })
}

/// Marks every open record of the dead moves `ids` interrupted (taken over
/// by `by`) and releases its lock; a record whose holder turns out to be
/// alive is left alone.
fn release_dead(
    tx: &mut dyn StoreTx,
    ids: &BTreeSet<String>,
    by: &str,
) -> StoreResult<Vec<String>> {
    let mut notes = Vec::new();
    for mut dead in dead_records(&*tx)? {
        if !ids.contains(move_id(&dead)) {
            continue;
        }
        notes.push(format!("took over {} (pid {} gone)", dead.run_id, dead.pid));
        dead.outcome = Some(format!("interrupted (taken over by {by})"));
        tx.put_migration_run(&dead)?;
        if tx.container(&dead.source)?.is_some() {
            set_lock(tx, &dead.source, false)?;
        }
    }
    Ok(notes)
}

/// Takes over the lock of `c` from its dead holder (any migration run):
/// marks it interrupted and releases its other container unless this run
/// locks it too. A live holder (or none recorded) is
/// `MigrationInProgress`.
fn take_over_holder(
    tx: &mut dyn StoreTx,
    c: &Container,
    containers: &[Container],
    by: &str,
) -> StoreResult<String> {
    match holder(&*tx, c)? {
        Some(mut dead) if holder_is_dead(&dead) => {
            let note = format!("took over {} (pid {} gone)", dead.run_id, dead.pid);
            dead.outcome = Some(format!("interrupted (taken over by {by})"));
            tx.put_migration_run(&dead)?;
            for other in [&dead.source, &dead.target] {
                if !containers.contains(other) {
                    set_lock(tx, other, false)?;
                }
            }
            Ok(note)
        }
        _ => Err(StoreError::MigrationInProgress {
            container: c.to_string(),
            holder: super::migration_lock::holder_text(&*tx, c)?,
        }),
    }
}

/// Ends the runs of [`begin_run`]: releases their locks and records
/// `outcome`. A run that was taken over meanwhile keeps its outcome.
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
