use std::collections::BTreeMap;

use super::*;
use crate::engine::test_support::{inst, new_key};
use crate::store::read_with;
use crate::store::{
    InstanceType, KeyOrigin, KeySpec, KeyState, KeyUpdate, NewKey, NewSecret, SecretType,
};

struct Two {
    _dir: tempfile::TempDir,
    a: Kms,
    b: Kms,
}

fn two() -> Two {
    let dir = tempfile::tempdir().unwrap();
    let a = Kms::open(&dir.path().join("a"), "test").unwrap();
    let b = Kms::open(&dir.path().join("b"), "test").unwrap();
    Two { _dir: dir, a, b }
}

fn req(patterns: &[&str], existing: Existing) -> StoreMoveRequest {
    StoreMoveRequest {
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        all: patterns.is_empty(),
        include_secrets: true,
        existing,
        remove_source: false,
    }
}

struct NoAws;
impl ExternalKeyService for NoAws {
    fn check_usable(&self, _: &str) -> Result<crate::aws::AwsKeyInfo, crate::aws::AwsError> {
        unreachable!("no EKMS in these tests")
    }
    fn health(&self, _: &str) -> crate::aws::KeyHealth {
        unreachable!("no EKMS in these tests")
    }
    fn wrap(&self, _: &str, _: &[u8], _: &str) -> Result<Vec<u8>, crate::aws::AwsError> {
        unreachable!("no EKMS in these tests")
    }
    fn unwrap(&self, _: &str, _: &[u8], _: &str) -> Result<Vec<u8>, crate::aws::AwsError> {
        unreachable!("no EKMS in these tests")
    }
    fn check_policy(&self, _: &str, _: &str) -> Result<(), crate::aws::AwsError> {
        unreachable!("no EKMS in these tests")
    }
}

fn go(t: &Two, r: &StoreMoveRequest) -> (StorePlan, Vec<StoreOutcome>) {
    let plan = plan(&t.a, Some(&t.b), r).unwrap();
    check_health(&t.a, Some(&t.b), &plan, &NoAws).unwrap();
    let out = run(&t.a, &t.b, &plan, 3, &NoAws, &mut |_| {})
        .unwrap()
        .objects;
    (plan, out)
}

fn secret(kms: &Kms, c: &Container, name: &str, key: &str) -> String {
    kms.create_secret(
        NewSecret {
            name: name.into(),
            container: c.clone(),
            secret_type: SecretType::Generic,
            encryption_key_id: key.into(),
            description: String::new(),
            tags: BTreeMap::new(),
        },
        format!("value of {name}").as_bytes(),
    )
    .unwrap()
    .id
}

fn action(plan: &StorePlan, id: &str) -> Action {
    plan.candidates
        .iter()
        .find(|c| c.id == id)
        .unwrap()
        .action
        .clone()
}

#[test]
fn every_kind_of_key_keeps_id_versions_aliases_state_and_material() {
    let t = two();
    let kst = inst(&t.a, "payments", InstanceType::Software, "eu-1");
    let rotated =
        t.a.create_key(NewKey {
            multi_version: true,
            rotation_interval: Some("30d".into()),
            deletion_protection: true,
            ..new_key(kst.clone(), KeySpec::Aes256)
        })
        .unwrap()
        .id;
    t.a.rotate_key(&rotated).unwrap();
    t.a.create_alias("alias/rotated", &rotated).unwrap();
    let signer =
        t.a.create_key(new_key(Container::Shared, KeySpec::EcP256))
            .unwrap()
            .id;
    let rsa =
        t.a.create_key(new_key(Container::Shared, KeySpec::Rsa2048))
            .unwrap()
            .id;
    let disabled =
        t.a.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    t.a.update_key(
        &disabled,
        KeyUpdate {
            enabled: Some(false),
            ..KeyUpdate::default()
        },
    )
    .unwrap();
    let pending =
        t.a.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    t.a.schedule_key_deletion(&pending, Some(7)).unwrap();
    let byok =
        t.a.create_key(NewKey {
            origin: KeyOrigin::External,
            ..new_key(Container::Shared, KeySpec::Aes256)
        })
        .unwrap()
        .id;
    t.a.import_key_material(&byok, &[7u8; 32]).unwrap();
    let awaiting =
        t.a.create_key(NewKey {
            origin: KeyOrigin::External,
            ..new_key(Container::Shared, KeySpec::Aes256)
        })
        .unwrap()
        .id;
    let ct = t.a.encrypt("alias/rotated", b"data").unwrap();
    let sig = t.a.sign(&signer, b"message").unwrap();

    let (plan, out) = go(&t, &req(&[], Existing::Error));
    assert_eq!(plan.candidates.len(), 7);
    assert!(
        out.iter().all(|o| matches!(
            o,
            StoreOutcome::Copied {
                replaced: false,
                ..
            }
        )),
        "{out:?}"
    );
    for id in [
        &rotated, &signer, &rsa, &disabled, &pending, &byok, &awaiting,
    ] {
        assert_eq!(t.b.get_key(id).unwrap(), t.a.get_key(id).unwrap(), "{id}");
        assert_eq!(t.b.material_for_test(id), t.a.material_for_test(id), "{id}");
    }
    assert_eq!(t.b.get_key(&rotated).unwrap().version_count, 2);
    assert_eq!(
        t.b.get_key(&pending).unwrap().state,
        KeyState::PendingDeletion
    );
    assert_eq!(
        t.b.get_key(&awaiting).unwrap().state,
        KeyState::PendingImport
    );
    assert_eq!(
        t.b.get_instance(kst.instance_id().unwrap()).unwrap().name,
        "payments"
    );
    assert_eq!(t.b.decrypt(&ct).unwrap(), b"data");
    assert!(t.b.verify(&signer, b"message", &sig).unwrap());
    assert!(
        t.b.migration_runs()
            .unwrap()
            .iter()
            .all(|r| r.outcome.as_deref() == Some("completed"))
    );
    assert!(
        t.a.migration_runs()
            .unwrap()
            .iter()
            .all(|r| r.outcome.as_deref() == Some("completed"))
    );
}

#[test]
fn a_secret_brings_its_encryption_key_along() {
    let t = two();
    let key =
        t.a.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    let other =
        t.a.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    let sec = secret(&t.a, &Container::Shared, "db", &key);
    let (plan, out) = go(&t, &req(&["db"], Existing::Error));
    let ids: Vec<&str> = plan.candidates.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec![key.as_str(), sec.as_str()]);
    assert_eq!(out.len(), 2);
    assert_eq!(
        t.b.get_secret_value(&sec, None).unwrap().as_slice(),
        b"value of db"
    );
    assert!(t.b.get_key(&other).is_err(), "unselected keys stay behind");
}

#[test]
fn conflicts_in_the_target_are_refused_per_object() {
    let t = two();
    let kst = inst(&t.a, "payments", InstanceType::Software, "eu-1");
    inst(&t.b, "payments", InstanceType::Software, "eu-1"); // same name, another id
    let in_inst =
        t.a.create_key(new_key(kst.clone(), KeySpec::Aes256))
            .unwrap()
            .id;
    let aliased =
        t.a.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    t.a.create_alias("alias/taken", &aliased).unwrap();
    let theirs =
        t.b.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    t.b.create_alias("alias/taken", &theirs).unwrap();
    let fine =
        t.a.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    let p = plan(&t.a, Some(&t.b), &req(&[], Existing::Force)).unwrap();
    let refused = |id: &str, want: &str| match action(&p, id) {
        Action::Refuse(why) => assert!(why.contains(want), "{why}"),
        other => panic!("{id}: {other:?}"),
    };
    refused(&in_inst, "its name payments is taken there by");
    refused(
        &aliased,
        &format!("alias alias/taken belongs to key {theirs} in the target store"),
    );
    assert_eq!(action(&p, &fine), Action::Copy);
}

#[test]
fn force_never_breaks_secrets_of_the_target() {
    let t = two();
    let key =
        t.a.create_key(NewKey {
            multi_version: true,
            ..new_key(Container::Shared, KeySpec::Aes256)
        })
        .unwrap()
        .id;
    go(&t, &req(&[&key], Existing::Error));
    secret(&t.b, &Container::Shared, "only-in-b", &key);
    t.a.rotate_key(&key).unwrap();
    let p = plan(&t.a, Some(&t.b), &req(&[&key], Existing::Force)).unwrap();
    assert_eq!(
        action(&p, &key),
        Action::Refuse(
            "replacing it would make secret(s) only-in-b of the target store unreadable".into()
        )
    );
    // --merge reports the difference and never overwrites.
    let p = plan(&t.a, Some(&t.b), &req(&[&key], Existing::Merge)).unwrap();
    assert!(matches!(action(&p, &key), Action::Refuse(why) if why.contains("different material")));
}

#[test]
fn target_quota_is_respected() {
    let t = two();
    let kst = inst(&t.a, "payments", InstanceType::Software, "eu-1");
    for _ in 0..3 {
        t.a.create_key(new_key(kst.clone(), KeySpec::Aes256))
            .unwrap();
    }
    go(&t, &req(&[], Existing::Error)); // the instance now exists in B with quota 5
    t.a.update_instance(
        kst.instance_id().unwrap(),
        crate::store::InstanceUpdate {
            key_quota: Some(6),
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..3 {
        t.a.create_key(new_key(kst.clone(), KeySpec::Aes256))
            .unwrap();
    }
    let p = plan(&t.a, Some(&t.b), &req(&[], Existing::Merge)).unwrap();
    let (copy, full): (Vec<_>, Vec<_>) = p
        .candidates
        .iter()
        .filter(|c| !matches!(c.action, Action::SkipIdentical))
        .partition(|c| c.action == Action::Copy);
    assert_eq!((copy.len(), full.len()), (2, 1), "{:?}", p.candidates);
    assert!(
        matches!(&full[0].action, Action::Refuse(why) if why.contains("full (key quota reached)"))
    );
}

#[test]
fn a_live_lock_on_the_target_stops_the_run_before_anything_moves() {
    let t = two();
    let key =
        t.a.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap()
            .id;
    let held =
        super::super::store_migrate_lock::begin(&t.b, &[Container::Shared], "elsewhere").unwrap();
    let p = plan(&t.a, Some(&t.b), &req(&[], Existing::Error)).unwrap();
    let err = run(&t.a, &t.b, &p, 10, &NoAws, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains(&held[0].run_id), "{err}");
    assert!(t.b.get_key(&key).is_err());
    // The source's lock was released again.
    assert!(
        t.a.migration_runs()
            .unwrap()
            .iter()
            .all(|r| r.outcome.is_some())
    );
    t.a.update_key(
        &key,
        KeyUpdate {
            description: Some("x".into()),
            ..KeyUpdate::default()
        },
    )
    .unwrap();
}

#[test]
fn an_ekms_container_travels_wrapped_by_its_aws_key_and_is_health_checked_first() {
    use crate::engine::kms_ekms::EkmsRequest;
    use crate::engine::tests_ekms::{A, Fake};
    use crate::store::{EkmsArchitecture, WrappingStrategy};
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new();
    let a = Kms::open(&dir.path().join("a"), "test")
        .unwrap()
        .with_external_keys(fake.clone());
    let b = Kms::open(&dir.path().join("b"), "test")
        .unwrap()
        .with_external_keys(fake.clone());
    let kst = inst(&a, "ekms", InstanceType::Software, "eu-1");
    let req_ekms = EkmsRequest {
        key_arn: A.into(),
        architecture: EkmsArchitecture::Current,
        wrapping: WrappingStrategy::External,
        allow_revert_to_internal: false,
    };
    a.activate_ekms(&kst, &req_ekms, None, &*fake).unwrap();
    let key = a
        .create_key(new_key(kst.clone(), KeySpec::Aes256))
        .unwrap()
        .id;
    let ct = a.encrypt(&key, b"wrapped").unwrap();

    // An unhealthy AWS key stops the run before anything moves.
    fake.set(A, "Disabled");
    // Planning needs no root key when the target holds none of the objects.
    let p = plan(&a, Some(&b), &req(&[], Existing::Error)).unwrap();
    let err = check_health(&a, Some(&b), &p, &*fake).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "the EKMS key {A} of {kst} in the source store is "
        )),
        "{err}"
    );
    fake.set(A, "Enabled");

    check_health(&a, Some(&b), &p, &*fake).unwrap();
    let out = run(&a, &b, &p, 10, &*fake, &mut |_| {}).unwrap().objects;
    assert!(matches!(out[0], StoreOutcome::Copied { .. }), "{out:?}");
    let rec = read_with(b.store(), |r| r.container(&kst))
        .unwrap()
        .unwrap();
    assert_eq!(rec.wrapping, WrappingStrategy::External);
    assert_eq!(rec.external_key_arn.as_deref(), Some(A));
    assert_eq!(b.ekms_config(&kst).unwrap().unwrap().config.key_arn, A);
    assert_eq!(b.decrypt(&ct).unwrap(), b"wrapped");
}

/// Marks every open record of `kms` as held by a process that is gone.
fn kill_holders(kms: &Kms) {
    crate::store::write_with(&*kms.store, |tx| {
        for mut m in tx.migration_runs()? {
            if m.outcome.is_none() {
                m.pid = 0x7fff_fff0; // above Linux's pid_max: never alive
                tx.put_migration_run(&m)?;
            }
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_dead_move_is_taken_over_whole_whatever_the_new_run_selects() {
    use super::super::store_migrate_lock::{begin_run, dead_runs, end, new_run_id};
    let t = two();
    let c = inst(&t.a, "payments", InstanceType::Software, "local-1");
    let p = plan(&t.a, Some(&t.b), &req(&[], Existing::Error)).unwrap();
    run(&t.a, &t.b, &p, 10, &NoAws, &mut |_| {}).unwrap();
    // A dead move that ended in A and still holds both containers in B.
    let id = new_run_id();
    let both = [Container::Shared, c.clone()];
    let in_a = begin_run(&t.a, &both, "b", &id, &Default::default()).unwrap();
    end(&t.a, &in_a, "completed").unwrap();
    begin_run(&t.b, &both, "a", &id, &Default::default()).unwrap();
    kill_holders(&t.b);
    // Selecting nothing, the run of the pair still finds it; another pair
    // (no record in the other store, no container in common) does not.
    let dead = dead_runs(&t.a, Some(&t.b), &[]).unwrap();
    assert_eq!(dead.iter().collect::<Vec<_>>(), vec![&id]);
    let dir = tempfile::tempdir().unwrap();
    let other = Kms::open(dir.path(), "test").unwrap();
    assert!(dead_runs(&other, Some(&t.b), &[]).unwrap().is_empty());

    let runs = begin_run(&t.a, &[], "b", &new_run_id(), &dead).unwrap();
    begin_run(&t.b, &[], "a", &new_run_id(), &dead).unwrap();
    assert!(runs.is_empty());
    for kms in [&t.a, &t.b] {
        assert!(
            kms.migration_runs()
                .unwrap()
                .iter()
                .all(|m| m.outcome.is_some())
        );
        for c in &both {
            let rec = read_with(&*kms.store, |r| r.container(c)).unwrap().unwrap();
            assert!(!rec.migrating, "{c} is released");
        }
    }
}
