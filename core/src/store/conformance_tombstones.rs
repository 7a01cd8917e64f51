//! Conformance checks for the tombstones of a [`KeyStore`]; registered in
//! [`crate::store::conformance::CHECKS`] like every other check.

use crate::store::conformance::{
    ConformanceResult, ensure, ok, sample_container, sample_key, setup_instance, uid,
};
use crate::store::traits::{KeyStore, read_with, write_with};
use crate::store::{StoreError, Tombstone, TombstoneKind};

fn sample(kind: TombstoneKind, id: &str) -> Tombstone {
    Tombstone {
        kind,
        id: id.to_string(),
        moved_to: "postgres://ks:***@db.example/keys".into(),
        moved_at: "2026-01-01T00:00:00Z".into(),
        run_id: format!("mig-{}", uid()),
    }
}

/// Tombstones: put in the transaction that deletes the object, read back
/// by (kind, id) only (the same id under another kind is another record),
/// replaced by a later put, listed, cleared several at once (missing ones
/// are no error), gone with a failed write, and independent of a live
/// object with the same id.
pub fn tombstones_round_trip(store: &dyn KeyStore) -> ConformanceResult {
    let (_inst, c) = setup_instance(store)?;
    let key = sample_key(c.clone());
    ok("insert key", write_with(store, |tx| tx.insert_key(&key)))?;
    let mut stone = sample(TombstoneKind::Key, &key.id);
    ok(
        "delete with tombstone",
        write_with(store, |tx| {
            tx.put_tombstone(&stone)?;
            tx.delete_key(&key.id)
        }),
    )?;
    let got = ok(
        "read",
        read_with(store, |r| r.tombstone(TombstoneKind::Key, &key.id)),
    )?;
    ensure!(got.as_ref() == Some(&stone), "round trip: {got:?}");
    let other_kind = ok(
        "other kind",
        read_with(store, |r| r.tombstone(TombstoneKind::Secret, &key.id)),
    )?;
    ensure!(other_kind.is_none(), "kind is part of the identity");
    stone.moved_to = "/srv/keyshift/b".into();
    stone.run_id = format!("mig-{}", uid());
    ok("replace", write_with(store, |tx| tx.put_tombstone(&stone)))?;
    let all = ok("list", read_with(store, |r| r.tombstones()))?;
    let mine: Vec<_> = all.iter().filter(|t| t.id == key.id).collect();
    ensure!(mine == vec![&stone], "listed once, replaced: {mine:?}");

    // A live object with the same id beside its tombstone (brought back).
    ok("bring back", write_with(store, |tx| tx.insert_key(&key)))?;
    let both = ok(
        "both",
        read_with(store, |r| {
            Ok((r.key(&key.id)?, r.tombstone(TombstoneKind::Key, &key.id)?))
        }),
    )?;
    ensure!(
        both.0.is_some() && both.1.is_some(),
        "a key and its tombstone coexist"
    );
    let alias = sample(TombstoneKind::Alias, &format!("alias/conf-{}", uid()));
    ok(
        "put alias",
        write_with(store, |tx| tx.put_tombstone(&alias)),
    )?;
    let names = [
        (TombstoneKind::Key, key.id.clone()),
        (TombstoneKind::Alias, alias.id.clone()),
        (TombstoneKind::Secret, key.id.clone()),
    ];
    let cleared = ok("clear", write_with(store, |tx| tx.clear_tombstones(&names)))?;
    ensure!(cleared == 2, "cleared the two that exist, not {cleared}");
    let again = ok(
        "clear again",
        write_with(store, |tx| tx.clear_tombstones(&names)),
    )?;
    ensure!(again == 0, "clearing missing tombstones is no error");
    let none = ok(
        "clear nothing",
        write_with(store, |tx| tx.clear_tombstones(&[])),
    )?;
    ensure!(none == 0, "an empty list clears nothing");
    let gone = ok(
        "read cleared",
        read_with(store, |r| r.tombstone(TombstoneKind::Key, &key.id)),
    )?;
    ensure!(gone.is_none(), "cleared: {gone:?}");

    // A failed write keeps none of its tombstones.
    let failed = write_with(store, |tx| {
        tx.put_tombstone(&alias)?;
        tx.put_container(&sample_container(c.clone()))?;
        Err::<(), _>(StoreError::Conflict("rolled back".into()))
    });
    ensure!(failed.is_err(), "the write failed");
    let kept = ok(
        "read after failure",
        read_with(store, |r| r.tombstone(TombstoneKind::Alias, &alias.id)),
    )?;
    ensure!(kept.is_none(), "a failed write leaves no tombstone");
    Ok(())
}
