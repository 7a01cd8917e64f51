//! Conformance checks for the break-glass grant records of a [`KeyStore`];
//! registered in [`crate::store::conformance::CHECKS`].

use crate::store::GrantRecord;
use crate::store::conformance::{
    ConformanceResult, ensure, expect_err, is_exists, is_not_found, ok, uid,
};
use crate::store::traits::{KeyStore, read_with, write_with};

/// A sample grant with a fresh id.
pub fn sample_grant() -> GrantRecord {
    GrantRecord {
        id: format!("bg-{}", &uid()[..16]),
        change_request: "CHG0030001".into(),
        principal: "oncall@example.com".into(),
        key_ids: vec!["key-a".into(), "key-b".into()],
        instance_id: Some("kst-000000000001".into()),
        permissions: vec!["decrypt".into(), "sign".into()],
        reason: "conformance".into(),
        created_at: "2025-01-01T00:00:00Z".into(),
        expires_at: "2025-01-01T01:00:00Z".into(),
        credential_hash: vec![7; 32],
        credential_secret_id: Some("sec-conformance".into()),
        revoked_at: None,
        pending_repair: None,
    }
}

/// Insert, read back, list, update the mutable fields, duplicate and
/// missing ids.
pub fn grants_round_trip(store: &dyn KeyStore) -> ConformanceResult {
    let g = sample_grant();
    ok("insert_grant", write_with(store, |tx| tx.insert_grant(&g)))?;
    let back = ok("grant", read_with(store, |r| r.grant(&g.id)))?;
    ensure!(
        back.as_ref() == Some(&g),
        "grant reads back as written: {back:?}"
    );
    expect_err(
        "duplicate insert_grant",
        write_with(store, |tx| tx.insert_grant(&g)),
        is_exists,
    )?;
    let mut upd = g.clone();
    upd.credential_secret_id = None;
    upd.revoked_at = Some("2025-01-01T00:30:00Z".into());
    upd.pending_repair = Some("store busy".into());
    ok(
        "update_grant",
        write_with(store, |tx| tx.update_grant(&upd)),
    )?;
    let back = ok("grant after update", read_with(store, |r| r.grant(&g.id)))?;
    ensure!(back.as_ref() == Some(&upd), "update_grant kept: {back:?}");
    let all = ok("grants", read_with(store, |r| r.grants()))?;
    ensure!(all.iter().any(|x| x.id == g.id), "grants lists the grant");
    let missing = GrantRecord {
        id: "bg-missing".into(),
        ..g.clone()
    };
    expect_err(
        "update_grant of a missing grant",
        write_with(store, |tx| tx.update_grant(&missing)),
        is_not_found,
    )?;
    let none = ok("missing grant", read_with(store, |r| r.grant("bg-missing")))?;
    ensure!(none.is_none(), "a missing grant reads as None");
    Ok(())
}
