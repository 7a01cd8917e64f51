//! Conformance checks for the secret records of a [`KeyStore`]; registered
//! in [`crate::store::conformance::CHECKS`] like every other check.

use std::collections::BTreeMap;

use crate::store::conformance::{
    ConformanceFailure, ConformanceResult, ensure, expect_err, is_conflict, is_exists,
    is_not_found, ok, sample_container, sample_instance,
};
use crate::store::traits::{KeyStore, read_with, write_with};
use crate::store::{Container, SealedSecretVersion, Secret, SecretType};

/// A sample secret in `container` with a fresh id and name.
pub fn sample_secret(container: Container) -> Secret {
    let u = uuid::Uuid::new_v4();
    Secret {
        id: format!("sec-{u}"),
        name: format!("conf/{u}"),
        container,
        secret_type: SecretType::Generic,
        encryption_key_id: "key-conformance".into(),
        description: "conformance".into(),
        tags: BTreeMap::from([("team".to_string(), "kms".to_string())]),
        current_version_id: String::new(),
        versions: vec![],
        created_at: "2025-01-01T00:00:00Z".into(),
    }
}

fn sample_version(secret_id: &str, seq: i64, stages: &[&str]) -> SealedSecretVersion {
    SealedSecretVersion {
        secret_id: secret_id.into(),
        version_id: format!("v{seq}-{}", uuid::Uuid::new_v4().simple()),
        seq,
        stages: stages.iter().map(|s| (*s).to_string()).collect(),
        created_at: "2025-01-01T00:00:00Z".into(),
        key_id: "key-conformance".into(),
        key_version_id: format!("kv{seq}"),
        sealed: vec![u8::try_from(seq).unwrap_or(0); 8],
    }
}

fn setup(store: &dyn KeyStore) -> Result<Container, ConformanceFailure> {
    let inst = sample_instance();
    let c = Container::Instance(inst.id.clone());
    ok(
        "setup instance",
        write_with(store, |tx| {
            tx.insert_instance(&inst)?;
            tx.put_container(&sample_container(c.clone()))
        }),
    )?;
    Ok(c)
}

/// Insert, look up (by id and by name), list, count, update, version
/// upserts with stages, and delete (versions go too) of secrets.
pub fn secrets_round_trip(store: &dyn KeyStore) -> ConformanceResult {
    let c = setup(store)?;
    let mut s = sample_secret(c.clone());
    let v1 = sample_version(&s.id, 1, &["ACSCurrent"]);
    ok("insert", write_with(store, |tx| tx.insert_secret(&s)))?;
    ok(
        "version 1",
        write_with(store, |tx| tx.put_secret_version(&v1)),
    )?;
    let got = ok("get", read_with(store, |r| r.secret(&s.id)))?;
    let got = got.ok_or_else(|| ConformanceFailure("inserted secret not found".into()))?;
    ensure!(
        got.name == s.name && got.container == c && got.tags == s.tags,
        "fields kept",
    );
    ensure!(got.secret_type == SecretType::Generic, "type kept");
    ensure!(
        got.versions.len() == 1 && got.versions[0].stages == ["ACSCurrent"],
        "versions filled in",
    );
    let by_name = ok(
        "by name",
        read_with(store, |r| r.secret_by_name(&c, &s.name)),
    )?;
    ensure!(by_name.map(|x| x.id) == Some(s.id.clone()), "found by name");
    let elsewhere = ok(
        "by name, other container",
        read_with(store, |r| r.secret_by_name(&Container::Shared, &s.name)),
    )?;
    ensure!(elsewhere.is_none(), "name is per container");
    ensure!(
        ok("count", read_with(store, |r| r.count_secrets(&c)))? == 1,
        "count 1",
    );
    let listed = ok("list", read_with(store, |r| r.secrets(Some(&c))))?;
    ensure!(
        listed.len() == 1 && listed[0].id == s.id,
        "listed in its container",
    );
    let all = ok("list all", read_with(store, |r| r.secrets(None)))?;
    ensure!(all.iter().any(|x| x.id == s.id), "listed in all");
    let key = s.encryption_key_id.clone();
    let sealed = ok(
        "sealed by its key",
        read_with(store, |r| r.secrets_sealed_by(&c, &key)),
    )?;
    ensure!(
        sealed.len() == 1 && sealed[0].id == s.id && sealed[0].versions.len() == 1,
        "found by its key, with versions",
    );
    for (what, container, key) in [
        ("other key", &c, "key-other"),
        ("other container", &Container::Shared, key.as_str()),
    ] {
        let none = ok(
            what,
            read_with(store, |r| r.secrets_sealed_by(container, key)),
        )?;
        ensure!(none.is_empty(), "sealed by: {what}");
    }

    // A second version demotes the first; upsert replaces stages.
    let v2 = sample_version(&s.id, 2, &["ACSCurrent"]);
    let v1b = SealedSecretVersion {
        stages: vec!["ACSPrevious".into()],
        ..v1.clone()
    };
    s.current_version_id = v2.version_id.clone();
    s.description = "changed".into();
    s.secret_type = SecretType::Rds;
    ok(
        "second version",
        write_with(store, |tx| {
            tx.put_secret_version(&v2)?;
            tx.put_secret_version(&v1b)?;
            tx.update_secret(&s)
        }),
    )?;
    let vs = ok("versions", read_with(store, |r| r.secret_versions(&s.id)))?;
    ensure!(
        vs.len() == 2 && vs[0] == v1b && vs[1] == v2,
        "versions oldest first, stages replaced, blobs kept",
    );
    let got = ok("get", read_with(store, |r| r.secret(&s.id)))?
        .ok_or_else(|| ConformanceFailure("gone".into()))?;
    ensure!(
        got.current_version_id == v2.version_id && got.description == "changed",
        "update kept",
    );
    ensure!(got.secret_type == SecretType::Rds, "type updated");

    ok("delete", write_with(store, |tx| tx.delete_secret(&s.id)))?;
    ensure!(
        ok("gone", read_with(store, |r| r.secret(&s.id)))?.is_none(),
        "deleted",
    );
    ensure!(
        ok(
            "versions gone",
            read_with(store, |r| r.secret_versions(&s.id)),
        )?
        .is_empty(),
        "versions cascade",
    );
    ensure!(
        ok("count", read_with(store, |r| r.count_secrets(&c)))? == 0,
        "count 0",
    );
    Ok(())
}

/// Duplicate ids and names, missing objects, and a container holding
/// secrets that cannot be deleted.
pub fn secrets_errors_and_guard(store: &dyn KeyStore) -> ConformanceResult {
    let c = setup(store)?;
    let s = sample_secret(c.clone());
    ok("insert", write_with(store, |tx| tx.insert_secret(&s)))?;
    expect_err(
        "duplicate id",
        write_with(store, |tx| tx.insert_secret(&s)),
        is_exists,
    )?;
    let same_name = Secret {
        id: format!("sec-{}", uuid::Uuid::new_v4()),
        ..s.clone()
    };
    expect_err(
        "duplicate name",
        write_with(store, |tx| tx.insert_secret(&same_name)),
        is_exists,
    )?;
    let other = setup(store)?;
    let moved = Secret {
        container: other.clone(),
        ..same_name.clone()
    };
    ok(
        "same name, other container",
        write_with(store, |tx| tx.insert_secret(&moved)),
    )?;
    let clash = Secret {
        container: c.clone(),
        ..moved.clone()
    };
    expect_err(
        "update into a taken name",
        write_with(store, |tx| tx.update_secret(&clash)),
        is_exists,
    )?;
    let nowhere = sample_secret(Container::Instance("kst-ffffffffffff".into()));
    expect_err(
        "unknown container",
        write_with(store, |tx| tx.insert_secret(&nowhere)),
        is_not_found,
    )?;
    expect_err(
        "update missing",
        write_with(store, |tx| tx.update_secret(&nowhere)),
        is_not_found,
    )?;
    expect_err(
        "delete missing",
        write_with(store, |tx| tx.delete_secret(&nowhere.id)),
        is_not_found,
    )?;
    let orphan = sample_version(&nowhere.id, 1, &[]);
    expect_err(
        "version of missing secret",
        write_with(store, |tx| tx.put_secret_version(&orphan)),
        is_not_found,
    )?;
    expect_err(
        "container with secrets",
        write_with(store, |tx| tx.delete_container(&c)),
        is_conflict,
    )?;
    ok(
        "emptied container is deletable",
        write_with(store, |tx| {
            tx.delete_secret(&s.id)?;
            tx.delete_container(&c)
        }),
    )?;
    ok(
        "cleanup",
        write_with(store, |tx| tx.delete_secret(&moved.id)),
    )
}
