//! The [`KeyStore`] conformance suite: every backend must pass all of it.
//!
//! Each check is a `pub fn(&dyn KeyStore) -> ConformanceResult` working on
//! fresh random ids, so the checks can share one store; the concurrency
//! checks (`conformance_concurrency.rs`) open several handles on one store.
//! The one list of checks is in `conformance_suite.rs`: a backend gets all
//! of them as `#[test]`s with one line in its test module:
//!
//! ```ignore
//! crate::keystore_conformance_tests!(|| Some((guard, StoreLocation::...)));
//! ```
//!
//! where the factory returns the store's location with a guard (e.g. a
//! temporary directory) that lives as long as the test, or `None` to skip
//! (a missing test server outside CI). [`CHECKS`] / [`run_all`] run the
//! same list outside of `cargo test`.

use std::collections::BTreeMap;

use crate::store::traits::{
    ContainerRecord, KeyStore, NewAuditEntry, SealedVersion, read_with, write_with,
};
use crate::store::{
    Alias, Container, Instance, InstanceStatus, InstanceType, Key, KeyOrigin, KeySpec, KeyState,
    KeyUsage, ProtectionLevel, StoreError, StoreResult, WrappingStrategy,
};

/// A conformance failure: which expectation did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conformance check failed: {0}")]
pub struct ConformanceFailure(pub String);

/// Result of one check.
pub type ConformanceResult = Result<(), ConformanceFailure>;

/// Returns a [`ConformanceFailure`] with the formatted message unless `$cond`.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::store::conformance::ConformanceFailure(format!($($msg)+)));
        }
    };
}
pub(super) use ensure;

pub(super) fn ok<T>(what: &str, r: StoreResult<T>) -> Result<T, ConformanceFailure> {
    r.map_err(|e| ConformanceFailure(format!("{what}: unexpected error {e}")))
}

pub(super) fn expect_err<T>(
    what: &str,
    r: StoreResult<T>,
    want: fn(&StoreError) -> bool,
) -> ConformanceResult {
    match r {
        Ok(_) => Err(ConformanceFailure(format!(
            "{what}: expected an error, got Ok"
        ))),
        Err(e) if want(&e) => Ok(()),
        Err(e) => Err(ConformanceFailure(format!(
            "{what}: wrong error variant {e:?}"
        ))),
    }
}

pub(super) fn is_not_found(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound { .. })
}
pub(super) fn is_exists(e: &StoreError) -> bool {
    matches!(e, StoreError::AlreadyExists { .. })
}
pub(super) fn is_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict(_))
}

pub(super) fn uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A sample instance with a fresh id and name.
pub fn sample_instance() -> Instance {
    let u = uid();
    Instance {
        id: format!("kst-{}", u.get(..12).unwrap_or("000000000000")),
        name: format!("conf-{u}"),
        instance_type: InstanceType::Software,
        region: "eu-central-1".into(),
        key_quota: 10,
        secret_quota: 10,
        status: InstanceStatus::Active,
        created_at: "2025-01-01T00:00:00Z".into(),
    }
}

/// A sample container record (the blob is opaque to the store).
pub fn sample_container(container: Container) -> ContainerRecord {
    ContainerRecord {
        container,
        wrapping: WrappingStrategy::Internal,
        wrapped_root_key: vec![1, 2, 3, 4],
        external_key_arn: None,
        migrating: false,
        created_at: "2025-01-01T00:00:00Z".into(),
    }
}

/// A sample key in `container` with a fresh id.
pub fn sample_key(container: Container) -> Key {
    Key {
        id: format!("key-{}", uuid::Uuid::new_v4()),
        container,
        spec: KeySpec::Aes256,
        usage: KeyUsage::EncryptDecrypt,
        protection_level: ProtectionLevel::Software,
        origin: KeyOrigin::Kms,
        multi_version: true,
        description: "conformance".into(),
        tags: BTreeMap::from([("team".to_string(), "kms".to_string())]),
        state: KeyState::Enabled,
        deletion_protection: false,
        deletion_window_in_days: 30,
        rotation_interval: None,
        current_version: String::new(),
        version_count: 0,
        creation_date: "2025-01-01T00:00:00Z".into(),
        deletion_date: None,
        aliases: vec![],
        last_rotation_date: None,
    }
}

fn sample_version(key_id: &str, seq: i64) -> SealedVersion {
    SealedVersion {
        key_id: key_id.into(),
        version_id: format!("v{seq}-{}", uid()),
        seq,
        created_at: "2025-01-01T00:00:00Z".into(),
        sealed: vec![u8::try_from(seq).unwrap_or(0); 8],
    }
}

/// A fresh instance with its container, committed.
fn setup_instance(store: &dyn KeyStore) -> Result<(Instance, Container), ConformanceFailure> {
    let inst = sample_instance();
    let c = Container::Instance(inst.id.clone());
    ok(
        "setup instance",
        write_with(store, |tx| {
            tx.insert_instance(&inst)?;
            tx.put_container(&sample_container(c.clone()))
        }),
    )?;
    Ok((inst, c))
}

/// Insert, look up (by id and name), list, update and delete an instance.
pub fn instances_round_trip(store: &dyn KeyStore) -> ConformanceResult {
    let mut inst = sample_instance();
    ok("insert", write_with(store, |tx| tx.insert_instance(&inst)))?;
    let got = ok("get", read_with(store, |r| r.instance(&inst.id)))?;
    ensure!(
        got.as_ref() == Some(&inst),
        "get returns what was inserted: {got:?}"
    );
    let by_name = ok(
        "by name",
        read_with(store, |r| r.instance_by_name(&inst.name)),
    )?;
    ensure!(by_name.as_ref() == Some(&inst), "lookup by name");
    let all = ok("list", read_with(store, |r| r.instances()))?;
    ensure!(all.contains(&inst), "list contains the instance");
    inst.key_quota = 77;
    inst.status = InstanceStatus::Migrating;
    ok("update", write_with(store, |tx| tx.update_instance(&inst)))?;
    let got = ok(
        "get after update",
        read_with(store, |r| r.instance(&inst.id)),
    )?;
    ensure!(got.as_ref() == Some(&inst), "update is visible");
    ok(
        "delete",
        write_with(store, |tx| tx.delete_instance(&inst.id)),
    )?;
    let gone = ok(
        "get after delete",
        read_with(store, |r| r.instance(&inst.id)),
    )?;
    ensure!(gone.is_none(), "deleted instance is gone");
    expect_err(
        "update missing",
        write_with(store, |tx| tx.update_instance(&inst)),
        is_not_found,
    )?;
    expect_err(
        "delete missing",
        write_with(store, |tx| tx.delete_instance(&inst.id)),
        is_not_found,
    )
}

/// Duplicate instance id or name is `AlreadyExists`.
pub fn instance_duplicates(store: &dyn KeyStore) -> ConformanceResult {
    let inst = sample_instance();
    ok("insert", write_with(store, |tx| tx.insert_instance(&inst)))?;
    expect_err(
        "same id",
        write_with(store, |tx| tx.insert_instance(&inst)),
        is_exists,
    )?;
    let mut same_name = sample_instance();
    same_name.name = inst.name.clone();
    expect_err(
        "same name",
        write_with(store, |tx| tx.insert_instance(&same_name)),
        is_exists,
    )
}

/// Container records round-trip; the migrating flag and blob are kept.
pub fn containers_round_trip(store: &dyn KeyStore) -> ConformanceResult {
    let c = Container::Instance(sample_instance().id);
    let mut rec = sample_container(c.clone());
    ok("put", write_with(store, |tx| tx.put_container(&rec)))?;
    ensure!(
        ok("get", read_with(store, |r| r.container(&c)))? == Some(rec.clone()),
        "round trip"
    );
    rec.migrating = true;
    rec.external_key_arn = Some("arn:aws:kms:eu-central-1:111122223333:key/x".into());
    rec.wrapping = WrappingStrategy::External;
    ok("put again", write_with(store, |tx| tx.put_container(&rec)))?;
    ensure!(
        ok("get", read_with(store, |r| r.container(&c)))? == Some(rec.clone()),
        "upsert"
    );
    ok("delete", write_with(store, |tx| tx.delete_container(&c)))?;
    ensure!(
        ok("get", read_with(store, |r| r.container(&c)))?.is_none(),
        "deleted"
    );
    expect_err(
        "delete missing",
        write_with(store, |tx| tx.delete_container(&c)),
        is_not_found,
    )
}

/// Keys and their sealed versions: insert, get, list, count, update.
pub fn keys_and_versions(store: &dyn KeyStore) -> ConformanceResult {
    let (_inst, c) = setup_instance(store)?;
    let mut key = sample_key(c.clone());
    let v1 = sample_version(&key.id, 1);
    let v2 = sample_version(&key.id, 2);
    key.current_version = v2.version_id.clone();
    ok(
        "insert key + versions",
        write_with(store, |tx| {
            tx.insert_key(&key)?;
            tx.put_version(&v2)?;
            tx.put_version(&v1)
        }),
    )?;
    let got = ok("get", read_with(store, |r| r.key(&key.id)))?
        .ok_or_else(|| ConformanceFailure("inserted key not found".into()))?;
    ensure!(
        got.version_count == 2,
        "version_count computed: {}",
        got.version_count
    );
    ensure!(got.aliases.is_empty(), "no aliases");
    ensure!(
        got.last_rotation_date.as_deref() == Some(v2.created_at.as_str()),
        "last_rotation_date is the newest version's time: {:?}",
        got.last_rotation_date
    );
    let mut expect = key.clone();
    expect.version_count = 2;
    expect.last_rotation_date = Some(v2.created_at.clone());
    ensure!(got == expect, "key round trip: {got:?}");
    let vs = ok("versions", read_with(store, |r| r.versions(&key.id)))?;
    ensure!(vs == vec![v1.clone(), v2.clone()], "versions oldest first");
    let one = ok(
        "version",
        read_with(store, |r| r.version(&key.id, &v1.version_id)),
    )?;
    ensure!(one == Some(v1.clone()), "one version");
    ensure!(
        ok("count", read_with(store, |r| r.count_keys(&c)))? == 1,
        "count_keys"
    );
    let listed = ok("keys", read_with(store, |r| r.keys(Some(&c))))?;
    ensure!(
        listed.len() == 1 && listed.iter().all(|k| k.id == key.id),
        "keys(container)"
    );
    let all = ok("all keys", read_with(store, |r| r.keys(None)))?;
    ensure!(all.iter().any(|k| k.id == key.id), "keys(None)");

    key.description = "changed".into();
    key.state = KeyState::Disabled;
    key.container = Container::Shared;
    ok(
        "shared container",
        write_with(store, |tx| {
            tx.put_container(&sample_container(Container::Shared))
        }),
    )?;
    ok("update", write_with(store, |tx| tx.update_key(&key)))?;
    let got = ok("get", read_with(store, |r| r.key(&key.id)))?;
    ensure!(
        got.as_ref()
            .is_some_and(|g| g.description == "changed" && g.container == Container::Shared),
        "update (incl. container) visible"
    );
    ensure!(
        ok("count", read_with(store, |r| r.count_keys(&c)))? == 0,
        "moved out"
    );

    expect_err(
        "duplicate key",
        write_with(store, |tx| tx.insert_key(&key)),
        is_exists,
    )?;
    let orphan = sample_key(Container::Instance("kst-ffffffffffff".into()));
    expect_err(
        "unknown container",
        write_with(store, |tx| tx.insert_key(&orphan)),
        is_not_found,
    )?;
    expect_err(
        "update missing",
        write_with(store, |tx| tx.update_key(&orphan)),
        is_not_found,
    )?;
    let stray = sample_version(&orphan.id, 1);
    expect_err(
        "version of missing key",
        write_with(store, |tx| tx.put_version(&stray)),
        is_not_found,
    )?;
    ensure!(
        ok("missing", read_with(store, |r| r.key(&orphan.id)))?.is_none(),
        "missing key is None"
    );
    Ok(())
}

/// Aliases: insert, list on the key, re-point, delete, errors.
pub fn aliases_round_trip(store: &dyn KeyStore) -> ConformanceResult {
    let (_inst, c) = setup_instance(store)?;
    let (k1, k2) = (sample_key(c.clone()), sample_key(c));
    ok(
        "keys",
        write_with(store, |tx| {
            tx.insert_key(&k1)?;
            tx.insert_key(&k2)
        }),
    )?;
    let mut alias = Alias {
        name: format!("alias/conf-{}", uid()),
        key_id: k1.id.clone(),
        created_at: "2025-01-01T00:00:00Z".into(),
    };
    ok("insert", write_with(store, |tx| tx.insert_alias(&alias)))?;
    ensure!(
        ok("get", read_with(store, |r| r.alias(&alias.name)))? == Some(alias.clone()),
        "round trip"
    );
    let key = ok("key", read_with(store, |r| r.key(&k1.id)))?;
    ensure!(
        key.is_some_and(|k| k.aliases == vec![alias.name.clone()]),
        "key lists its alias"
    );
    expect_err(
        "duplicate",
        write_with(store, |tx| tx.insert_alias(&alias)),
        is_exists,
    )?;
    alias.key_id = k2.id.clone();
    ok("re-point", write_with(store, |tx| tx.update_alias(&alias)))?;
    ensure!(
        ok("get", read_with(store, |r| r.alias(&alias.name)))? == Some(alias.clone()),
        "re-pointed"
    );
    let mut dangling = alias.clone();
    dangling.name = format!("alias/conf-{}", uid());
    dangling.key_id = "key-missing".into();
    expect_err(
        "alias to missing key",
        write_with(store, |tx| tx.insert_alias(&dangling)),
        is_not_found,
    )?;
    ok(
        "delete",
        write_with(store, |tx| tx.delete_alias(&alias.name)),
    )?;
    ensure!(
        ok("get", read_with(store, |r| r.alias(&alias.name)))?.is_none(),
        "deleted"
    );
    expect_err(
        "delete missing",
        write_with(store, |tx| tx.delete_alias(&alias.name)),
        is_not_found,
    )
}

/// Deleting a key removes its versions and aliases; a container or
/// instance holding keys cannot be deleted.
pub fn deletes_cascade_and_guard(store: &dyn KeyStore) -> ConformanceResult {
    let (inst, c) = setup_instance(store)?;
    let key = sample_key(c.clone());
    let alias = Alias {
        name: format!("alias/conf-{}", uid()),
        key_id: key.id.clone(),
        created_at: "t".into(),
    };
    ok(
        "setup",
        write_with(store, |tx| {
            tx.insert_key(&key)?;
            tx.put_version(&sample_version(&key.id, 1))?;
            tx.insert_alias(&alias)
        }),
    )?;
    expect_err(
        "instance with keys",
        write_with(store, |tx| tx.delete_instance(&inst.id)),
        is_conflict,
    )?;
    expect_err(
        "container with keys",
        write_with(store, |tx| tx.delete_container(&c)),
        is_conflict,
    )?;
    ok("delete key", write_with(store, |tx| tx.delete_key(&key.id)))?;
    ensure!(
        ok("versions", read_with(store, |r| r.versions(&key.id)))?.is_empty(),
        "versions gone"
    );
    ensure!(
        ok("alias", read_with(store, |r| r.alias(&alias.name)))?.is_none(),
        "alias gone"
    );
    expect_err(
        "delete missing key",
        write_with(store, |tx| tx.delete_key(&key.id)),
        is_not_found,
    )?;
    ok(
        "now deletable",
        write_with(store, |tx| {
            tx.delete_container(&c)?;
            tx.delete_instance(&inst.id)
        }),
    )
}

/// A write whose closure fails (by itself or on a store error midway)
/// leaves nothing behind.
pub fn failed_write_leaves_nothing(store: &dyn KeyStore) -> ConformanceResult {
    let inst = sample_instance();
    let c = Container::Instance(inst.id.clone());
    let key = sample_key(c.clone());
    let r = write_with(store, |tx| {
        tx.insert_instance(&inst)?;
        tx.put_container(&sample_container(c.clone()))?;
        tx.insert_key(&key)?;
        tx.append_audit(&audit_entry("should vanish"))?;
        Err::<(), _>(StoreError::Conflict("abort".into()))
    });
    expect_err("closure error is returned", r, is_conflict)?;
    ensure!(
        ok("instance", read_with(store, |r| r.instance(&inst.id)))?.is_none(),
        "instance rolled back"
    );
    ensure!(
        ok("container", read_with(store, |r| r.container(&c)))?.is_none(),
        "container rolled back"
    );
    ensure!(
        ok("key", read_with(store, |r| r.key(&key.id)))?.is_none(),
        "key rolled back"
    );
    let audit = ok("audit", read_with(store, |r| r.audit(50)))?;
    ensure!(
        audit.iter().all(|a| a.object != "should vanish"),
        "audit rolled back"
    );

    // A store error halfway (duplicate name) also undoes the first insert.
    let first = sample_instance();
    ok(
        "existing",
        write_with(store, |tx| tx.insert_instance(&first)),
    )?;
    let fresh = sample_instance();
    let mut dup = sample_instance();
    dup.name = first.name.clone();
    let r = write_with(store, |tx| {
        tx.insert_instance(&fresh)?;
        tx.insert_instance(&dup)
    });
    expect_err("duplicate midway", r, is_exists)?;
    ensure!(
        ok("fresh", read_with(store, |r| r.instance(&fresh.id)))?.is_none(),
        "first insert undone"
    );
    Ok(())
}

fn audit_entry(object: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: "2025-01-01T00:00:00Z".into(),
        actor: "conformance".into(),
        action: "test.append".into(),
        object: object.into(),
        outcome: "ok".into(),
        detail: String::new(),
    }
}

/// Audit entries get increasing sequence numbers and list newest first.
pub fn audit_append_and_order(store: &dyn KeyStore) -> ConformanceResult {
    let tag = uid();
    let mut seqs = Vec::new();
    for i in 0..3 {
        let e = audit_entry(&format!("{tag}-{i}"));
        seqs.push(ok("append", write_with(store, |tx| tx.append_audit(&e)))?);
    }
    ensure!(
        seqs.windows(2).all(|w| w.first() < w.get(1)),
        "increasing seq {seqs:?}"
    );
    let newest = ok("audit", read_with(store, |r| r.audit(2)))?;
    let objects: Vec<&str> = newest.iter().map(|a| a.object.as_str()).collect();
    ensure!(
        objects == vec![format!("{tag}-2"), format!("{tag}-1")],
        "newest first, limited: {objects:?}"
    );
    ensure!(
        newest
            .iter()
            .all(|a| a.actor == "conformance" && a.outcome == "ok"),
        "fields kept"
    );
    Ok(())
}

pub use crate::store::conformance_suite::{CHECKS, Check, Target, open_raw, run_all};
