//! Engine tests: instances, key lifecycle, aliases, audit.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use super::Kms;
use super::test_support::{inst, kms, new_instance, new_key};
use crate::store::{
    Container, InstanceStatus, InstanceType, InstanceUpdate, KeyOrigin, KeySpec, KeyState,
    KeyUpdate, KeyUsage, NewKey, ProtectionLevel, StoreError,
};

#[test]
fn store_files_are_private() {
    let (dir, _kms) = kms();
    let store = dir.path().join("store");
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let mk = std::fs::metadata(store.join("master.key")).unwrap();
    assert_eq!(mk.permissions().mode() & 0o777, 0o600);
    assert_eq!(mk.len(), 32);
}

#[test]
fn instance_lifecycle() {
    let (_d, kms) = kms();
    let i = kms
        .create_instance(new_instance("prod", InstanceType::Software, "eu-1"))
        .unwrap();
    assert!(i.id.starts_with("kst-") && i.id.len() == 16, "{}", i.id);
    assert!(
        i.id[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(i.status, InstanceStatus::Active);
    assert_eq!(kms.get_instance(&i.id).unwrap(), i);
    assert_eq!(kms.find_instance_by_name("prod").unwrap(), i);
    assert_eq!(kms.list_instances().unwrap(), vec![i.clone()]);
    let dup = kms.create_instance(new_instance("prod", InstanceType::Hardware, "eu-1"));
    assert!(
        matches!(
            dup,
            Err(StoreError::AlreadyExists {
                kind: "instance",
                ..
            })
        ),
        "{dup:?}"
    );

    let mut bad = new_instance("q", InstanceType::Software, "eu-1");
    bad.key_quota = 0;
    assert!(matches!(
        kms.create_instance(bad.clone()),
        Err(StoreError::Invalid {
            field: "key_quota",
            ..
        })
    ));
    bad.key_quota = 1;
    bad.secret_quota = -1;
    assert!(matches!(
        kms.create_instance(bad),
        Err(StoreError::Invalid {
            field: "secret_quota",
            ..
        })
    ));
    let missing = kms.get_instance("kst-000000000000");
    assert!(matches!(
        missing,
        Err(StoreError::NotFound {
            kind: "instance",
            ..
        })
    ));

    let c = Container::Instance(i.id.clone());
    kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    assert_eq!(kms.instance_usage(&i.id).unwrap(), (2, 0));
    let low = kms.update_instance(
        &i.id,
        InstanceUpdate {
            key_quota: Some(1),
            secret_quota: None,
        },
    );
    assert!(
        matches!(
            low,
            Err(StoreError::Invalid {
                field: "key_quota",
                ..
            })
        ),
        "{low:?}"
    );
    let up = kms
        .update_instance(
            &i.id,
            InstanceUpdate {
                key_quota: Some(9),
                secret_quota: Some(3),
            },
        )
        .unwrap();
    assert_eq!((up.key_quota, up.secret_quota), (9, 3));
}

#[test]
fn create_key_rules() {
    let (_d, kms) = kms();
    let soft = inst(&kms, "soft", InstanceType::Software, "eu-1");
    let hard = inst(&kms, "hard", InstanceType::Hardware, "eu-1");
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    assert!(
        k.id.starts_with("key-") && uuid::Uuid::parse_str(&k.id[4..]).is_ok(),
        "{}",
        k.id
    );
    assert_eq!((k.state, k.version_count), (KeyState::Enabled, 1));
    assert!(!k.current_version.is_empty());
    assert_eq!(k.tags.get("env").map(String::as_str), Some("test"));

    let mut disabled = new_key(Container::Shared, KeySpec::EcP256);
    disabled.enabled = false;
    assert_eq!(kms.create_key(disabled).unwrap().state, KeyState::Disabled);

    let mut ext = new_key(soft.clone(), KeySpec::Aes256);
    ext.origin = KeyOrigin::External;
    let ext = kms.create_key(ext).unwrap();
    assert_eq!(
        (ext.state, ext.version_count, ext.current_version.as_str()),
        (KeyState::PendingImport, 0, "")
    );

    let mut hsm_hard = new_key(hard.clone(), KeySpec::Aes256);
    hsm_hard.protection_level = ProtectionLevel::Hsm;
    assert_eq!(
        kms.create_key(hsm_hard).unwrap().protection_level,
        ProtectionLevel::Hsm
    );

    let with = |f: &dyn Fn(&mut NewKey)| {
        let mut n = new_key(soft.clone(), KeySpec::Aes256);
        f(&mut n);
        kms.create_key(n)
    };
    let cases: Vec<(&str, Result<_, _>, &str)> = vec![
        (
            "window 6",
            with(&|n| n.deletion_window_in_days = 6),
            "deletion_window_in_days",
        ),
        (
            "window 31",
            with(&|n| n.deletion_window_in_days = 31),
            "deletion_window_in_days",
        ),
        (
            "aes sign",
            with(&|n| n.usage = KeyUsage::SignVerify),
            "usage",
        ),
        (
            "ec encrypt",
            with(&|n| {
                n.spec = KeySpec::EcP256;
                n.usage = KeyUsage::EncryptDecrypt
            }),
            "usage",
        ),
        (
            "hsm in software",
            with(&|n| n.protection_level = ProtectionLevel::Hsm),
            "protection_level",
        ),
        (
            "rsa in hardware",
            with(&|n| {
                n.container = hard.clone();
                n.spec = KeySpec::Rsa2048
            }),
            "spec",
        ),
        (
            "hsm in shared",
            with(&|n| {
                n.container = Container::Shared;
                n.protection_level = ProtectionLevel::Hsm
            }),
            "protection_level",
        ),
    ];
    for (name, r, field) in cases {
        match r {
            Err(StoreError::Invalid { field: f, .. }) => assert_eq!(f, field, "case {name}"),
            other => unreachable!("case {name}: {other:?}"),
        }
    }
    let nowhere = kms.create_key(new_key(
        Container::Instance("kst-000000000000".into()),
        KeySpec::Aes256,
    ));
    assert!(
        matches!(
            nowhere,
            Err(StoreError::NotFound {
                kind: "instance",
                ..
            })
        ),
        "{nowhere:?}"
    );
}

#[test]
fn key_quota_is_enforced() {
    let (_d, kms) = kms();
    let c = inst(&kms, "small", InstanceType::Software, "eu-1");
    for _ in 0..5 {
        kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    }
    let err = kms
        .create_key(new_key(c.clone(), KeySpec::Aes256))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("quota")),
        "{err:?}"
    );
    assert_eq!(kms.list_keys(Some(&c)).unwrap().len(), 5);
    assert_eq!(kms.list_keys(Some(&Container::Shared)).unwrap().len(), 0);
    assert_eq!(kms.list_keys(None).unwrap().len(), 5);
}

#[test]
fn update_and_deletion() {
    let (_d, kms) = kms();
    let mut rotatable = new_key(Container::Shared, KeySpec::Aes256);
    rotatable.multi_version = true;
    let k = kms.create_key(rotatable).unwrap();
    let upd = KeyUpdate {
        description: Some("new".into()),
        tags: Some(BTreeMap::new()),
        enabled: Some(false),
        deletion_protection: Some(true),
        deletion_window_in_days: Some(30),
        rotation_interval: Some(Some("30d".into())),
    };
    let u = kms.update_key(&k.id, upd).unwrap();
    assert_eq!(u.description, "new");
    assert!(u.tags.is_empty() && u.deletion_protection);
    assert_eq!(
        (u.state, u.deletion_window_in_days),
        (KeyState::Disabled, 30)
    );
    assert_eq!(u.rotation_interval.as_deref(), Some("30d"));
    let bad = kms.update_key(
        &k.id,
        KeyUpdate {
            deletion_window_in_days: Some(3),
            ..Default::default()
        },
    );
    assert!(matches!(
        bad,
        Err(StoreError::Invalid {
            field: "deletion_window_in_days",
            ..
        })
    ));

    let err = kms.schedule_key_deletion(&k.id, None).unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("deletion protection is on")),
        "{err:?}"
    );
    assert_eq!(
        kms.get_key(&k.id).unwrap().state,
        KeyState::Disabled,
        "unchanged"
    );

    kms.update_key(
        &k.id,
        KeyUpdate {
            deletion_protection: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    let bad_window = kms.schedule_key_deletion(&k.id, Some(40));
    assert!(matches!(
        bad_window,
        Err(StoreError::Invalid {
            field: "deletion_window_in_days",
            ..
        })
    ));
    let p = kms.schedule_key_deletion(&k.id, Some(7)).unwrap();
    assert_eq!(p.state, KeyState::PendingDeletion);
    let date = p.deletion_date.clone().unwrap();
    assert!(date.ends_with('Z') && date > p.creation_date, "{date}");
    assert_eq!(
        kms.schedule_key_deletion(&k.id, Some(30)).unwrap(),
        p,
        "idempotent"
    );
    let en = kms.update_key(
        &k.id,
        KeyUpdate {
            enabled: Some(true),
            ..Default::default()
        },
    );
    assert!(matches!(en, Err(StoreError::Conflict(_))), "{en:?}");
    let c = kms.cancel_key_deletion(&k.id).unwrap();
    assert_eq!((c.state, c.deletion_date), (KeyState::Disabled, None));
    assert!(matches!(
        kms.cancel_key_deletion(&k.id),
        Err(StoreError::Conflict(_))
    ));

    let mut ext = new_key(Container::Shared, KeySpec::Aes256);
    ext.origin = KeyOrigin::External;
    let ext = kms.create_key(ext).unwrap();
    let en = kms.update_key(
        &ext.id,
        KeyUpdate {
            enabled: Some(true),
            ..Default::default()
        },
    );
    assert!(matches!(en, Err(StoreError::Conflict(_))), "{en:?}");
}

#[test]
fn expired_pending_deletion_is_erased_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), "test").unwrap();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let keep = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.schedule_key_deletion(&keep.id, None).unwrap();
    let mut pending = kms.schedule_key_deletion(&k.id, None).unwrap();
    pending.deletion_date = Some("2000-01-01T00:00:00Z".into());
    crate::store::write_with(kms.store(), |tx| tx.update_key(&pending)).unwrap();
    let reopened = Kms::open(dir.path(), "test").unwrap();
    assert!(matches!(
        reopened.get_key(&k.id),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        reopened.get_key(&keep.id).unwrap().state,
        KeyState::PendingDeletion
    );
    assert!(
        reopened
            .audit_log(5)
            .unwrap()
            .iter()
            .any(|a| a.action == "key.erase" && a.object == k.id)
    );
}

#[test]
fn alias_rules() {
    let (_d, kms) = kms();
    let k1 = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let k2 = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let a = kms.create_alias("alias/app", &k1.id).unwrap();
    assert_eq!(
        (a.name.as_str(), a.key_id.as_str()),
        ("alias/app", k1.id.as_str())
    );
    assert_eq!(kms.get_alias("alias/app").unwrap(), a);
    assert_eq!(kms.resolve_key("alias/app").unwrap().id, k1.id);
    assert_eq!(
        kms.resolve_key(&k1.id).unwrap().aliases,
        vec!["alias/app".to_string()]
    );
    let dup = kms.create_alias("alias/app", &k2.id);
    assert!(matches!(
        dup,
        Err(StoreError::AlreadyExists { kind: "alias", .. })
    ));
    for bad in ["app", "alias/", "alias/has space", "alias/a.b"] {
        let r = kms.create_alias(bad, &k1.id);
        assert!(
            matches!(r, Err(StoreError::Invalid { field: "name", .. })),
            "{bad}: {r:?}"
        );
    }
    let r = kms.create_alias("alias/nokey", "key-missing");
    assert!(
        matches!(r, Err(StoreError::NotFound { kind: "key", .. })),
        "{r:?}"
    );
    assert!(matches!(
        kms.resolve_key("alias/none"),
        Err(StoreError::NotFound { kind: "alias", .. })
    ));

    let moved = kms.update_alias("alias/app", &k2.id).unwrap();
    assert_eq!(moved.key_id, k2.id);
    assert!(kms.get_key(&k1.id).unwrap().aliases.is_empty());
    kms.schedule_key_deletion(&k1.id, None).unwrap();
    let r = kms.create_alias("alias/doomed", &k1.id);
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    // The plan-time check applies the same rule without writing.
    assert!(matches!(
        kms.check_alias_target(&k1.id),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        kms.check_alias_target("key-missing"),
        Err(StoreError::NotFound { kind: "key", .. })
    ));
    kms.check_alias_target(&k2.id).unwrap();
    assert!(matches!(
        kms.update_alias("alias/app", &k1.id),
        Err(StoreError::Conflict(_))
    ));
    kms.delete_alias("alias/app").unwrap();
    assert!(matches!(
        kms.delete_alias("alias/app"),
        Err(StoreError::NotFound { kind: "alias", .. })
    ));
}

#[test]
fn audit_records_successes_and_failures() {
    let (_d, kms) = kms();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.create_alias("alias/audit", &k.id).unwrap();
    let _ = kms.create_alias("alias/audit", &k.id);
    let log = kms.audit_log(10).unwrap();
    let [failed, alias, create] = &log[..3] else {
        unreachable!("{log:?}")
    };
    assert!(
        failed.seq > alias.seq && alias.seq > create.seq,
        "newest first"
    );
    assert_eq!(
        (
            create.action.as_str(),
            create.object.as_str(),
            create.outcome.as_str()
        ),
        ("key.create", k.id.as_str(), "ok")
    );
    assert_eq!(
        (alias.action.as_str(), alias.actor.as_str()),
        ("alias.create", "test")
    );
    assert!(
        failed.outcome.starts_with("error:") && failed.outcome.contains("already exists"),
        "{failed:?}"
    );
    assert_eq!(kms.audit_log(1).unwrap().len(), 1);
    let material = hex::encode(kms.material_for_test(&k.id));
    assert!(log.iter().all(|e| !format!("{e:?}").contains(&material)));
}
