//! Deletion windows: no key material is erased before its window has
//! passed, whatever is deleted in which order; purge, cancel and restore.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use super::Kms;
use super::deletion::{Purged, key_erasable};
use super::test_support::{inst, kms, new_key};
use crate::store::{
    Container, InstanceStatus, InstanceType, Key, KeySpec, KeyState, KeyUpdate, NewSecret,
    SecretType, StoreError,
};

fn days(n: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(n)
}

/// An instance with a 7-day and a 30-day key, an alias on the first.
fn instance_with_keys(kms: &Kms) -> (String, Key, Key) {
    let c = inst(kms, "payments", InstanceType::Software, "eu-1");
    let short = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    let mut nk = new_key(c.clone(), KeySpec::Aes256);
    nk.deletion_window_in_days = 30;
    let long = kms.create_key(nk).unwrap();
    kms.create_alias("alias/payments", &short.id).unwrap();
    (c.instance_id().unwrap().to_string(), short, long)
}

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound { .. }))
}

#[test]
fn erasable_only_once_the_date_has_passed() {
    let (_d, kms) = kms();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let now = OffsetDateTime::parse(
        "2026-06-01T12:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let pending = |date: Option<&str>| Key {
        state: KeyState::PendingDeletion,
        deletion_date: date.map(str::to_string),
        ..k.clone()
    };
    for (name, key, want) in [
        ("enabled key", k.clone(), false),
        ("future date", pending(Some("2026-06-01T12:00:01Z")), false),
        ("exactly now", pending(Some("2026-06-01T12:00:00Z")), true),
        ("past date", pending(Some("2026-05-01T00:00:00Z")), true),
        (
            "other offset, still future",
            pending(Some("2026-06-01T13:30:00+01:00")),
            false,
        ),
        ("unreadable date", pending(Some("soon")), false),
        ("no date", pending(None), false),
    ] {
        assert_eq!(key_erasable(&key, now), want, "{name}");
    }
}

#[test]
fn instance_deletion_keeps_every_key_until_its_own_window_ends() {
    type Setup = fn(&Kms, &str, &Key, &Key);
    let cases: [(&str, Setup, bool); 4] = [
        (
            "keys destroyed first, then the instance",
            |kms, _, a, b| {
                kms.schedule_key_deletion(&a.id, None).unwrap();
                kms.schedule_key_deletion(&b.id, None).unwrap();
            },
            false,
        ),
        ("force_destroy with live keys", |_, _, _, _| {}, true),
        (
            "force_destroy with one key already pending",
            |kms, _, a, _| {
                kms.schedule_key_deletion(&a.id, None).unwrap();
            },
            true,
        ),
        (
            "force_destroy with a secret",
            |kms, id, a, _| {
                let s = NewSecret {
                    name: "db".into(),
                    container: Container::Instance(id.to_string()),
                    secret_type: SecretType::Generic,
                    encryption_key_id: a.id.clone(),
                    description: String::new(),
                    tags: BTreeMap::new(),
                };
                kms.create_secret(s, b"pw").unwrap();
            },
            true,
        ),
    ];
    for (name, setup, force) in cases {
        let (_d, kms) = kms();
        let (id, short, long) = instance_with_keys(&kms);
        setup(&kms, &id, &short, &long);
        let before = kms.get_key(&short.id).unwrap().deletion_date;
        kms.delete_instance(&id, force).unwrap();

        let i = kms.get_instance(&id).unwrap();
        assert_eq!(i.status, InstanceStatus::Deleting, "{name}");
        for k in [&short, &long] {
            let now = kms.get_key(&k.id).unwrap();
            assert_eq!(now.state, KeyState::PendingDeletion, "{name}: {}", k.id);
            assert!(now.deletion_date.is_some(), "{name}");
        }
        if before.is_some() {
            assert_eq!(
                kms.get_key(&short.id).unwrap().deletion_date,
                before,
                "{name}: own date kept"
            );
        }
        assert!(
            kms.list_secrets(None).unwrap().is_empty(),
            "{name}: secrets erased by force"
        );
        assert!(
            kms.get_alias("alias/payments").is_ok(),
            "{name}: alias kept with its key"
        );

        assert_eq!(
            kms.purge_due(days(6)).unwrap(),
            Purged::default(),
            "{name}: day 6"
        );
        let day8 = kms.purge_due(days(8)).unwrap();
        assert_eq!(day8.keys, vec![short.id.clone()], "{name}: day 8");
        assert!(day8.instances.is_empty(), "{name}");
        assert!(
            not_found(kms.get_key(&short.id)) && not_found(kms.get_alias("alias/payments")),
            "{name}"
        );
        assert_eq!(
            kms.get_instance(&id).unwrap().status,
            InstanceStatus::Deleting,
            "{name}"
        );
        let day31 = kms.purge_due(days(31)).unwrap();
        assert_eq!(
            (day31.keys, day31.instances),
            (vec![long.id.clone()], vec![id.clone()]),
            "{name}"
        );
        assert!(
            not_found(kms.get_instance(&id)),
            "{name}: instance purged with its last key"
        );
        let audit = kms.audit_log(10).unwrap();
        assert!(
            audit
                .iter()
                .any(|a| a.action == "instance.purge" && a.object == id),
            "{name}"
        );
    }
}

#[test]
fn deleting_instance_refuses_new_objects_and_its_name() {
    let (_d, kms) = kms();
    let (id, short, long) = instance_with_keys(&kms);
    let c = Container::Instance(id.clone());
    kms.delete_instance(&id, true).unwrap();
    let why = |r: Result<(), StoreError>| match r {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    };
    let key = why(kms
        .create_key(new_key(c.clone(), KeySpec::Aes256))
        .map(drop));
    assert!(
        key.contains(&format!("instance {id} (payments) is being deleted")),
        "{key}"
    );
    assert!(
        key.contains(&format!("keyshift instance restore {id}")),
        "{key}"
    );
    assert!(key.contains("purged after"), "{key}");
    let name = why(kms
        .create_instance(super::test_support::new_instance(
            "payments",
            InstanceType::Software,
            "eu-1",
        ))
        .map(drop));
    assert!(
        name.contains(&format!(
            "the name payments is held by instance {id}, which is being deleted (purged after 20"
        )) && name.contains(&format!("keyshift instance restore {id}"))
            && name.contains("choose another name"),
        "{name}"
    );
    why(kms.instance_for_new_objects(&id).map(drop));
    why(kms.set_migrating(&c, true));
    // Deleting again changes nothing; the keys keep their dates.
    let dates: Vec<_> = [&short, &long]
        .iter()
        .map(|k| kms.get_key(&k.id).unwrap().deletion_date)
        .collect();
    kms.delete_instance(&id, true).unwrap();
    let again: Vec<_> = [&short, &long]
        .iter()
        .map(|k| kms.get_key(&k.id).unwrap().deletion_date)
        .collect();
    assert_eq!(dates, again);
}

#[test]
fn restore_brings_back_the_instance_and_its_keys() {
    let (_d, kms) = kms();
    let (id, short, long) = instance_with_keys(&kms);
    let ct = kms.encrypt(&short.id, b"before destroy").unwrap();
    kms.schedule_key_deletion(&short.id, None).unwrap();
    kms.delete_instance(&id, true).unwrap();
    assert!(kms.decrypt(&ct).is_err(), "pending deletion cannot decrypt");

    let i = kms.restore_instance(&id).unwrap();
    assert_eq!(i.status, InstanceStatus::Active);
    for k in [&short, &long] {
        let k = kms.get_key(&k.id).unwrap();
        assert_eq!((k.state, k.deletion_date), (KeyState::Disabled, None));
    }
    let enable = KeyUpdate {
        enabled: Some(true),
        ..KeyUpdate::default()
    };
    kms.update_key(&short.id, enable).unwrap();
    assert_eq!(kms.decrypt(&ct).unwrap(), b"before destroy");
    assert!(kms.purge_due(days(60)).unwrap().is_empty());
    assert!(
        matches!(kms.restore_instance(&id), Err(StoreError::Conflict(m)) if m.contains("not deleting"))
    );
}

#[test]
fn cancelling_one_key_reactivates_its_deleting_instance() {
    let (_d, kms) = kms();
    let (id, short, long) = instance_with_keys(&kms);
    kms.delete_instance(&id, true).unwrap();
    let k = kms.cancel_key_deletion(&long.id).unwrap();
    assert_eq!((k.state, k.deletion_date), (KeyState::Disabled, None));
    assert_eq!(
        kms.get_instance(&id).unwrap().status,
        InstanceStatus::Active
    );
    assert_eq!(
        kms.get_key(&short.id).unwrap().state,
        KeyState::PendingDeletion
    );
    let p = kms.purge_due(days(40)).unwrap();
    assert_eq!((p.keys, p.instances), (vec![short.id.clone()], vec![]));
    assert!(kms.get_instance(&id).is_ok() && kms.get_key(&long.id).is_ok());
}

#[test]
fn instance_deletion_without_force_and_empty_instances() {
    let (_d, kms) = kms();
    let (id, short, long) = instance_with_keys(&kms);
    kms.schedule_key_deletion(&short.id, None).unwrap();
    let msg = kms.delete_instance(&id, false).unwrap_err().to_string();
    assert!(
        msg.contains("1 key(s) not scheduled for deletion") && msg.contains("force_destroy"),
        "{msg}"
    );
    assert_eq!(
        kms.get_instance(&id).unwrap().status,
        InstanceStatus::Active,
        "nothing changed"
    );
    assert_eq!(kms.get_key(&long.id).unwrap().state, KeyState::Enabled);
    // An instance that holds no key at all is erased at once.
    let e = inst(&kms, "empty", InstanceType::Software, "eu-1");
    let e = e.instance_id().unwrap();
    kms.delete_instance(e, false).unwrap();
    assert!(not_found(kms.get_instance(e)));
}
