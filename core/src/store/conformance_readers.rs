//! Readers never wait for a writer: while one handle holds a write
//! transaction open, a read on that same handle, a store opened anew and a
//! read on it all complete, see only committed data, and a
//! [`KeyStore::try_write`] returns at once without running its closure.
//!
//! The writer waits (boundedly) for the reads to finish before it commits;
//! a backend whose reads wait for the writer makes the writer give up first,
//! and the check fails on that, not on a measured time.

use std::sync::mpsc;
use std::time::Duration;

use crate::store::conformance::{
    ConformanceFailure, ConformanceResult, Target, ensure, ok, sample_instance,
};
use crate::store::traits::{KeyStore, read_with, try_write_with, write_with};
use crate::store::{Instance, StoreError};

/// How long the writer holds its transaction waiting for the readers: a
/// bound against hangs, never a measured expectation.
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

/// The reads (and the put-off write) done while the writer holds the lock.
fn while_held(
    target: &Target,
    writer: &dyn KeyStore,
    committed: &Instance,
    pending: &Instance,
) -> ConformanceResult {
    let seen = ok(
        "read on the writer's own handle",
        read_with(writer, |r| {
            Ok((r.instance(&committed.id)?, r.instance(&pending.id)?))
        }),
    )?;
    ensure!(
        seen.0.is_some() && seen.1.is_none(),
        "a read during a write sees the last commit only (got {seen:?})"
    );
    let fresh = target.handle()?;
    let seen = ok(
        "read on a store opened while the write lock is held",
        read_with(&*fresh, |r| r.instance(&committed.id)),
    )?;
    ensure!(seen.is_some(), "the new handle sees committed data");
    let mut ran = false;
    let put_off = ok(
        "try_write while the write lock is held",
        try_write_with(&*fresh, |_| {
            ran = true;
            Ok(())
        }),
    )?;
    ensure!(
        put_off.is_none() && !ran,
        "try_write ran its closure while another writer held the lock"
    );
    Ok(())
}

/// See the module docs.
pub fn reads_do_not_wait_for_a_writer(target: &Target) -> ConformanceResult {
    let writer = target.handle()?;
    let committed = sample_instance();
    ok(
        "setup",
        write_with(&*writer, |tx| tx.insert_instance(&committed)),
    )?;
    let pending = sample_instance();
    let (held_tx, held_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let outcome = std::thread::scope(|s| {
        let (w, p) = (&*writer, &pending);
        let holder = s.spawn(move || {
            write_with(w, |tx| {
                tx.insert_instance(p)?;
                let _ = held_tx.send(());
                done_rx.recv_timeout(HOLD_AT_MOST).map_err(|_| {
                    StoreError::Conflict("the reads did not finish while the lock was held".into())
                })
            })
        });
        let reads = match held_rx.recv_timeout(HOLD_AT_MOST) {
            Ok(()) => while_held(target, &*writer, &committed, &pending),
            Err(_) => Err(ConformanceFailure("the writer never began".into())),
        };
        let _ = done_tx.send(());
        let wrote = holder
            .join()
            .unwrap_or_else(|_| Err(StoreError::Conflict("writer thread panicked".into())));
        reads.and(ok("the writer, held during the reads", wrote))
    });
    outcome?;
    let seen = ok(
        "pending after commit",
        read_with(&*writer, |r| r.instance(&pending.id)),
    )?;
    ensure!(seen.is_some(), "the writer's commit is visible afterwards");
    let ran = ok(
        "try_write once the lock is free",
        try_write_with(&*writer, |tx| tx.insert_instance(&sample_instance())),
    )?;
    ensure!(ran.is_some(), "try_write runs when the lock is free");
    Ok(())
}
