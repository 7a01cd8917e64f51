//! The migration lock with its holder: a run records who it is (run id,
//! pid, host, start time) in the same transaction that locks its source and
//! target containers, and clears both when it ends. A lock whose holder is
//! a process of this host that no longer exists was left by a crash (or
//! `kill -9`); the next run takes it over instead of failing, marking the
//! dead run `interrupted`.

use super::kms::{Kms, container_instance, container_record, now, rfc3339};
use crate::store::{
    Container, InstanceStatus, MigrationRun, StoreError, StoreReader, StoreResult, StoreTx,
    read_with,
};

/// The open run (not finished) whose source or target is `c`.
pub fn holder<R: StoreReader + ?Sized>(r: &R, c: &Container) -> StoreResult<Option<MigrationRun>> {
    Ok(r.migration_runs()?
        .into_iter()
        .rev()
        .find(|m| m.outcome.is_none() && (m.source == *c || m.target == *c)))
}

/// ` (run …, pid … on …, started …)` for `c`'s holder, or empty.
pub(super) fn holder_text<R: StoreReader + ?Sized>(r: &R, c: &Container) -> StoreResult<String> {
    Ok(holder(r, c)?
        .map(|m| {
            format!(
                " (run {}, pid {} on {}, started {})",
                m.run_id, m.pid, m.host, m.started_at
            )
        })
        .unwrap_or_default())
}

/// This machine's host name (`unknown` when it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// True when `run`'s process is known to be gone: same host, and no such
/// process (Linux `/proc`). A run of another host is never presumed dead.
pub fn holder_is_dead(run: &MigrationRun) -> bool {
    run.host == host_name()
        && run.pid != i64::from(std::process::id())
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{}", run.pid)).exists()
}

/// `in progress` or `interrupted` for an open run; its outcome otherwise.
pub fn run_state(run: &MigrationRun) -> String {
    match (&run.outcome, holder_is_dead(run)) {
        (Some(o), _) => o.clone(),
        (None, true) => "interrupted (its process is gone; re-run to take over)".into(),
        (None, false) => "in progress".into(),
    }
}

/// Sets or clears the lock of `c` and its instance's `migrating` status.
pub(super) fn set_lock(tx: &mut dyn StoreTx, c: &Container, on: bool) -> StoreResult<()> {
    let mut rec = container_record(&*tx, c)?;
    rec.migrating = on;
    tx.put_container(&rec)?;
    if let Some(mut inst) = container_instance(&*tx, c)? {
        inst.status = if on {
            InstanceStatus::Migrating
        } else {
            InstanceStatus::Active
        };
        tx.update_instance(&inst)?;
    }
    Ok(())
}

impl Kms {
    /// True when `c` is locked by a run whose process is gone (the next
    /// [`Kms::begin_migration`] takes the lock over).
    pub fn lock_is_stale(&self, c: &Container) -> StoreResult<bool> {
        read_with(&*self.store, |r| {
            Ok(container_record(r, c)?.migrating
                && holder(r, c)?.is_some_and(|m| holder_is_dead(&m)))
        })
    }

    /// `(keys, secrets)` held by `c` (the shared KMS too): what an
    /// interrupted run still has to look at in its source.
    pub fn container_counts(&self, c: &Container) -> StoreResult<(i64, i64)> {
        read_with(&*self.store, |r| {
            container_record(r, c)?;
            Ok((r.count_keys(c)?, r.count_secrets(c)?))
        })
    }

    /// Every recorded migration run, oldest first.
    pub fn migration_runs(&self) -> StoreResult<Vec<MigrationRun>> {
        read_with(&*self.store, |r| r.migration_runs())
    }

    /// Starts a run: in one transaction, locks `source` and `target` and
    /// records this process as their holder. A container locked by a live
    /// holder (or by no recorded run) is `MigrationInProgress` naming it; one
    /// locked by a dead process of this host is taken over and that run is
    /// marked interrupted.
    pub fn begin_migration(
        &self,
        source: &Container,
        target: &Container,
    ) -> StoreResult<MigrationRun> {
        let run = MigrationRun {
            run_id: format!("mig-{}", uuid::Uuid::new_v4()),
            pid: i64::from(std::process::id()),
            host: host_name(),
            started_at: rfc3339(now())?,
            source: source.clone(),
            target: target.clone(),
            finished_at: None,
            outcome: None,
        };
        self.mutate(
            "migration.begin",
            &format!("{source} -> {target}"),
            |tx, detail| {
                let mut notes = vec![run.run_id.clone()];
                let mut dead_runs: Vec<MigrationRun> = Vec::new();
                for c in [source, target] {
                    super::deletion::accepts_new_objects(&*tx, c)?;
                    if !container_record(&*tx, c)?.migrating {
                        continue;
                    }
                    match holder(&*tx, c)? {
                        Some(dead) if holder_is_dead(&dead) => {
                            if !dead_runs.iter().any(|d| d.run_id == dead.run_id) {
                                dead_runs.push(dead);
                            }
                        }
                        _ => {
                            return Err(StoreError::MigrationInProgress {
                                container: c.to_string(),
                                holder: holder_text(&*tx, c)?,
                            });
                        }
                    }
                }
                for mut dead in dead_runs {
                    notes.push(format!("took over {} (pid {} gone)", dead.run_id, dead.pid));
                    dead.outcome = Some(format!("interrupted (taken over by {})", run.run_id));
                    tx.put_migration_run(&dead)?;
                    // Its other container is released; this run locks its own.
                    for other in [&dead.source, &dead.target] {
                        if other != source && other != target {
                            set_lock(tx, other, false)?;
                        }
                    }
                }
                for c in [source, target] {
                    set_lock(tx, c, true)?;
                }
                tx.put_migration_run(&run)?;
                *detail = notes.join(", ");
                Ok(run.clone())
            },
        )
    }

    /// Ends a run: releases its locks and records `outcome` (e.g.
    /// `completed`). A run that was taken over keeps its outcome and
    /// releases nothing.
    pub fn end_migration(&self, run: &MigrationRun, outcome: &str) -> StoreResult<()> {
        self.mutate("migration.end", &run.run_id, |tx, detail| {
            let current = tx
                .migration_runs()?
                .into_iter()
                .find(|m| m.run_id == run.run_id);
            let Some(mut current) = current.filter(|m| m.outcome.is_none()) else {
                *detail = "already ended".into();
                return Ok(());
            };
            for c in [&run.source, &run.target] {
                set_lock(tx, c, false)?;
            }
            current.finished_at = Some(rfc3339(now())?);
            current.outcome = Some(outcome.to_string());
            tx.put_migration_run(&current)?;
            *detail = outcome.to_string();
            Ok(())
        })
    }
}
