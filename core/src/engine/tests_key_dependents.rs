//! Engine tests of the key–secret dependency rule on every key move: a
//! key carries the secrets of its container it seals, in its transaction
//! (one audit entry each), or is refused naming them; secrets of other keys
//! stay; a move whose secrets do not fit in the target moves nothing.

use std::collections::BTreeMap;

use super::key_dependents::Dependents;
use super::test_support::{inst, kms, new_key};
use crate::store::{Container, InstanceType, KeySpec, NewSecret, SecretType, StoreError};

fn secret(kms: &super::Kms, c: &Container, name: &str, key: &str) -> String {
    let new = NewSecret {
        name: name.into(),
        container: c.clone(),
        secret_type: SecretType::Generic,
        encryption_key_id: key.into(),
        description: String::new(),
        tags: BTreeMap::new(),
    };
    kms.create_secret(new, name.as_bytes()).unwrap().id
}

#[test]
fn every_move_carries_or_refuses_the_secrets_of_its_key() {
    #[derive(Clone, Copy, Debug)]
    enum Via {
        MoveKey,
        Locked(Dependents),
        Batch(Dependents),
    }
    for via in [
        Via::MoveKey,
        Via::Locked(Dependents::Carry),
        Via::Locked(Dependents::Refuse),
        Via::Batch(Dependents::Carry),
        Via::Batch(Dependents::Refuse),
    ] {
        let (_d, kms) = kms();
        let shared = Container::Shared;
        let target = inst(&kms, "t", InstanceType::Software, "eu-1");
        let k = kms
            .create_key(new_key(shared.clone(), KeySpec::Aes256))
            .unwrap();
        let other = kms
            .create_key(new_key(shared.clone(), KeySpec::Aes256))
            .unwrap();
        let mine = [
            secret(&kms, &shared, "a", &k.id),
            secret(&kms, &shared, "b", &k.id),
        ];
        let theirs = secret(&kms, &shared, "c", &other.id);
        kms.set_migrating(&target, true).unwrap();
        let result = match via {
            Via::MoveKey => {
                kms.set_migrating(&target, false).unwrap();
                kms.move_key(&k.id, &target).map(drop)
            }
            Via::Locked(how) => kms.migrate_key_locked(&k.id, &target, how).map(drop),
            Via::Batch(how) => kms
                .migrate_keys_locked(std::slice::from_ref(&k.id), &target, how)
                .map(drop),
        };
        let carried = !matches!(
            via,
            Via::Locked(Dependents::Refuse) | Via::Batch(Dependents::Refuse)
        );
        let want = if carried { &target } else { &shared };
        match (&result, carried) {
            (Ok(()), true) => {}
            (Err(StoreError::Conflict(m)), false) => {
                assert!(m.contains("a (") && m.contains("b ("), "{via:?}: {m}");
            }
            other => unreachable!("{via:?}: {other:?}"),
        }
        assert_eq!(&kms.get_key(&k.id).unwrap().container, want, "{via:?}");
        for s in &mine {
            assert_eq!(&kms.get_secret(s).unwrap().container, want, "{via:?}");
            assert_eq!(
                &*kms.get_secret_value(s, None).unwrap(),
                kms.get_secret(s).unwrap().name.as_bytes()
            );
        }
        assert_eq!(
            kms.get_secret(&theirs).unwrap().container,
            shared,
            "{via:?}"
        );
        let moves = kms
            .audit_log(100)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "secret.move" && e.outcome == "ok")
            .count();
        assert_eq!(moves, if carried { 2 } else { 0 }, "{via:?}");
    }
}

#[test]
fn secrets_that_do_not_fit_keep_the_key_where_it_is() {
    let (_d, kms) = kms();
    let shared = Container::Shared;
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let there = kms
        .create_key(new_key(target.clone(), KeySpec::Aes256))
        .unwrap();
    for i in 0..4 {
        secret(&kms, &target, &format!("t{i}"), &there.id);
    }
    let k = kms
        .create_key(new_key(shared.clone(), KeySpec::Aes256))
        .unwrap();
    let s = [
        secret(&kms, &shared, "a", &k.id),
        secret(&kms, &shared, "b", &k.id),
    ];
    let check = kms
        .check_key_move(&k.id, &target, Dependents::Carry)
        .unwrap_err();
    let moved = kms.move_key(&k.id, &target).unwrap_err();
    for e in [check, moved] {
        let m = e.to_string();
        assert!(
            m.contains("secret quota 5") && m.contains("with the secrets"),
            "{m}"
        );
    }
    assert_eq!(kms.get_key(&k.id).unwrap().container, shared);
    for id in &s {
        assert_eq!(kms.get_secret(id).unwrap().container, shared);
    }
}

#[test]
fn the_plan_check_names_what_the_move_carries() {
    let (_d, kms) = kms();
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let s = secret(&kms, &Container::Shared, "db", &k.id);
    let m = kms
        .check_key_move(&k.id, &target, Dependents::Carry)
        .unwrap();
    assert_eq!(
        m.carried.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [s.as_str()]
    );
    let e = kms
        .check_key_move(&k.id, &target, Dependents::Refuse)
        .unwrap_err();
    assert!(e.to_string().contains("db ("), "{e}");
    assert_eq!(
        kms.get_key(&k.id).unwrap().container,
        Container::Shared,
        "a check changes nothing"
    );
}
