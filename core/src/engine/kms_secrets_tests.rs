//! Engine tests for secrets: the encryption-key rule, names, quota,
//! versions and stages, key rotation and re-sealing, locks, no plaintext at rest.

use std::collections::BTreeMap;

use super::*;
use crate::engine::test_support::{inst, kms, new_key};
use crate::store::{InstanceType, InstanceUpdate, KeyOrigin, KeyUpdate, SecretType};

const MARKER: &[u8] = b"KEYSHIFT-SECRET-MARKER-7f3a9c";

fn new_secret(container: Container, name: &str, key_id: &str) -> NewSecret {
    NewSecret {
        name: name.into(),
        container,
        secret_type: SecretType::Generic,
        encryption_key_id: key_id.into(),
        description: "db password".into(),
        tags: BTreeMap::from([("env".to_string(), "test".to_string())]),
    }
}

fn aes(kms: &Kms, c: &Container) -> Key {
    kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap()
}

fn invalid_field(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::Invalid { field, .. } => Some(field),
        _ => None,
    }
}

#[test]
fn secret_names() {
    let long = "a".repeat(192);
    let too_long = "a".repeat(193);
    for (case, name, ok) in [
        ("plain", "db-password", true),
        ("all punctuation", "app/db_user+x=y.z@corp-1", true),
        ("max length", long.as_str(), true),
        ("too long", too_long.as_str(), false),
        ("empty", "", false),
        ("space", "db password", false),
        ("colon", "db:password", false),
        ("unicode", "clé", false),
    ] {
        let r = secret_name(name);
        assert_eq!(r.is_ok(), ok, "case {case}");
        if let Err(e) = r {
            assert_eq!(invalid_field(&e), Some("name"), "case {case}");
        }
    }
}

#[test]
fn create_rules() {
    let (_d, kms) = kms();
    let shared = Container::Shared;
    let other = inst(&kms, "other", InstanceType::Software, "eu-1");
    let good = aes(&kms, &shared);
    let elsewhere = aes(&kms, &other);
    let sign = kms
        .create_key(new_key(shared.clone(), KeySpec::EcP256))
        .unwrap();
    let rsa = kms
        .create_key(new_key(shared.clone(), KeySpec::Rsa2048))
        .unwrap();
    let disabled = aes(&kms, &shared);
    kms.update_key(
        &disabled.id,
        KeyUpdate {
            enabled: Some(false),
            ..KeyUpdate::default()
        },
    )
    .unwrap();
    let mut ext = new_key(shared.clone(), KeySpec::Aes256);
    ext.origin = KeyOrigin::External;
    let pending = kms.create_key(ext).unwrap();
    kms.create_secret(new_secret(shared.clone(), "taken", &good.id), b"v")
        .unwrap();

    let cases: Vec<(&str, NewSecret, Option<&str>)> = vec![
        ("ok", new_secret(shared.clone(), "ok", &good.id), None),
        (
            "key in another container",
            new_secret(shared.clone(), "a", &elsewhere.id),
            Some("same container"),
        ),
        (
            "SIGN/VERIFY key",
            new_secret(shared.clone(), "b", &sign.id),
            Some("AES_256"),
        ),
        (
            "RSA key",
            new_secret(shared.clone(), "c", &rsa.id),
            Some("AES_256"),
        ),
        (
            "disabled key",
            new_secret(shared.clone(), "d", &disabled.id),
            Some("Enabled"),
        ),
        (
            "key pending import",
            new_secret(shared.clone(), "e", &pending.id),
            Some("Enabled"),
        ),
        (
            "missing key",
            new_secret(shared.clone(), "f", "key-missing"),
            Some("does not exist"),
        ),
    ];
    for (case, new, rule) in cases {
        let r = kms.create_secret(new, MARKER);
        match rule {
            None => assert!(r.is_ok(), "case {case}: {r:?}"),
            Some(words) => {
                let e = r.unwrap_err();
                assert_eq!(
                    invalid_field(&e),
                    Some("encryption_key_id"),
                    "case {case}: {e:?}"
                );
                assert!(e.to_string().contains(words), "case {case}: {e}");
            }
        }
    }
    let bad_name = kms
        .create_secret(new_secret(shared.clone(), "bad name", &good.id), b"v")
        .unwrap_err();
    assert_eq!(invalid_field(&bad_name), Some("name"));
    let dup = kms
        .create_secret(new_secret(shared.clone(), "taken", &good.id), b"v")
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::AlreadyExists { kind: "secret", .. }),
        "{dup:?}"
    );
    // Same name in another container is fine.
    kms.create_secret(new_secret(other.clone(), "taken", &elsewhere.id), b"v")
        .unwrap();
    let gone = Container::Instance("kst-000000000000".into());
    let e = kms
        .create_secret(new_secret(gone, "x", &good.id), b"v")
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::NotFound {
                kind: "instance",
                ..
            }
        ),
        "{e:?}"
    );
    let huge = vec![0u8; MAX_SECRET_VALUE + 1];
    let e = kms
        .create_secret(new_secret(shared.clone(), "huge", &good.id), &huge)
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("secret_data"));
    // Failed creates left nothing behind.
    let names: Vec<String> = kms
        .list_secrets(Some(&shared))
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["taken", "ok"]);
    assert_eq!(
        kms.check_secret_encryption_key(&good.id, &shared, None)
            .ok(),
        Some(())
    );
    assert!(
        kms.check_secret_encryption_key(&good.id, &other, None)
            .is_err()
    );
    assert!(
        kms.check_secret_encryption_key(&good.id, &other, Some(&other))
            .is_ok()
    );
}

#[test]
fn versions_and_stages() {
    let (_d, kms) = kms();
    let key = aes(&kms, &Container::Shared);
    let s = kms
        .create_secret(new_secret(Container::Shared, "app/db", &key.id), b"one")
        .unwrap();
    assert!(s.id.starts_with("sec-") && s.id.len() == 40, "{}", s.id);
    assert_eq!(s.versions.len(), 1);
    assert_eq!(s.versions[0].stages, [STAGE_CURRENT]);
    assert_eq!(s.current_version_id, s.versions[0].version_id);
    let v1 = s.current_version_id.clone();
    let s2 = kms.put_secret_value(&s.id, b"two", None).unwrap();
    let s3 = kms.put_secret_value(&s.id, b"three", Some("v3")).unwrap();
    assert_eq!(s3.current_version_id, "v3");
    let stages: Vec<(String, Vec<String>)> = s3
        .versions
        .iter()
        .map(|v| (v.version_id.clone(), v.stages.clone()))
        .collect();
    assert_eq!(
        stages,
        vec![
            (v1.clone(), vec![]),
            (
                s2.current_version_id.clone(),
                vec![STAGE_PREVIOUS.to_string()]
            ),
            ("v3".to_string(), vec![STAGE_CURRENT.to_string()]),
        ]
    );
    let read = |sel: Option<&str>| kms.get_secret_value(&s.id, sel).unwrap().to_vec();
    for (case, sel, want) in [
        ("default is current", None, &b"three"[..]),
        ("current stage", Some(STAGE_CURRENT), b"three"),
        ("previous stage", Some(STAGE_PREVIOUS), b"two"),
        ("first version by id", Some(v1.as_str()), b"one"),
    ] {
        assert_eq!(read(sel), want, "case {case}");
    }
    // Same version id again: same value is a no-op, another value a conflict.
    let again = kms.put_secret_value(&s.id, b"three", Some("v3")).unwrap();
    assert_eq!(again.versions.len(), 3);
    let e = kms
        .put_secret_value(&s.id, b"other", Some("v3"))
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    let e = kms
        .put_secret_value(&s.id, b"x", Some("bad id!"))
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("version_id"));
    let e = kms.get_secret_value(&s.id, Some("nope")).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::NotFound {
                kind: "secret version",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        kms.find_secret(&Container::Shared, "app/db").unwrap().id,
        s.id
    );
}

#[test]
fn values_survive_key_rotation_and_key_change() {
    let (_d, kms) = kms();
    let c = Container::Shared;
    let mut nk = new_key(c.clone(), KeySpec::Aes256);
    nk.multi_version = true;
    let key = kms.create_key(nk).unwrap();
    let s = kms
        .create_secret(new_secret(c.clone(), "rotating", &key.id), b"before")
        .unwrap();
    let rotated = kms.rotate_key(&key.id).unwrap();
    assert_ne!(rotated.current_version, key.current_version);
    kms.put_secret_value(&s.id, b"after", None).unwrap();
    let sealed_by: Vec<String> = read_with(kms.store(), |r| r.secret_versions(&s.id))
        .unwrap()
        .into_iter()
        .map(|v| v.key_version_id)
        .collect();
    assert_eq!(
        sealed_by,
        [key.current_version.clone(), rotated.current_version.clone()]
    );
    assert_eq!(
        kms.get_secret_value(&s.id, Some(STAGE_PREVIOUS))
            .unwrap()
            .as_slice(),
        b"before"
    );
    assert_eq!(
        kms.get_secret_value(&s.id, None).unwrap().as_slice(),
        b"after"
    );

    // Changing the encryption key re-seals every version under the new key.
    let other = aes(&kms, &c);
    let foreign_c = inst(&kms, "foreign", InstanceType::Software, "eu-1");
    let foreign = aes(&kms, &foreign_c);
    let to = |k: &str| SecretUpdate {
        encryption_key_id: Some(k.to_string()),
        ..SecretUpdate::default()
    };
    let e = kms.update_secret(&s.id, to(&foreign.id)).unwrap_err();
    assert_eq!(invalid_field(&e), Some("encryption_key_id"));
    let up = kms.update_secret(&s.id, to(&other.id)).unwrap();
    assert_eq!(up.encryption_key_id, other.id);
    assert_eq!(up.versions, kms.get_secret(&s.id).unwrap().versions);
    let keys: Vec<String> = read_with(kms.store(), |r| r.secret_versions(&s.id))
        .unwrap()
        .into_iter()
        .map(|v| v.key_id)
        .collect();
    assert_eq!(keys, [other.id.clone(), other.id.clone()]);
    // The old key is no longer needed.
    kms.update_key(
        &key.id,
        KeyUpdate {
            enabled: Some(false),
            ..KeyUpdate::default()
        },
    )
    .unwrap();
    assert_eq!(
        kms.get_secret_value(&s.id, Some(STAGE_PREVIOUS))
            .unwrap()
            .as_slice(),
        b"before"
    );
    // A disabled encryption key blocks reads and writes.
    kms.update_key(
        &other.id,
        KeyUpdate {
            enabled: Some(false),
            ..KeyUpdate::default()
        },
    )
    .unwrap();
    assert!(matches!(
        kms.get_secret_value(&s.id, None),
        Err(StoreError::Conflict(_))
    ));
    let e = kms.put_secret_value(&s.id, b"x", None).unwrap_err();
    assert_eq!(invalid_field(&e), Some("encryption_key_id"));
}

#[test]
fn quota_usage_and_instance_deletion() {
    let (_d, kms) = kms();
    let c = inst(&kms, "small", InstanceType::Software, "eu-1");
    let id = c.instance_id().unwrap().to_string();
    let key = aes(&kms, &c);
    kms.update_instance(
        &id,
        InstanceUpdate {
            secret_quota: Some(1),
            ..InstanceUpdate::default()
        },
    )
    .unwrap();
    kms.create_secret(new_secret(c.clone(), "one", &key.id), b"1")
        .unwrap();
    let e = kms
        .create_secret(new_secret(c.clone(), "two", &key.id), b"2")
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict(m) if m.contains("secret quota")),
        "{e:?}"
    );
    assert_eq!(kms.instance_usage(&id).unwrap(), (1, 1));
    let e = kms.update_instance(
        &id,
        InstanceUpdate {
            secret_quota: Some(0),
            ..InstanceUpdate::default()
        },
    );
    assert_eq!(
        e.err().as_ref().and_then(invalid_field),
        Some("secret_quota")
    );

    // The key cannot be scheduled for deletion while the secret uses it,
    // so the instance stays non-empty until forced.
    assert!(kms.schedule_key_deletion(&key.id, None).is_err());
    let e = kms.delete_instance(&id, false).unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict(m) if m.contains("force_destroy")),
        "{e:?}"
    );
    kms.delete_instance(&id, true).unwrap();
    assert!(kms.list_secrets(None).unwrap().is_empty());
}

#[test]
fn delete_and_migration_lock() {
    let (_d, kms) = kms();
    let c = Container::Shared;
    let key = aes(&kms, &c);
    let s = kms
        .create_secret(new_secret(c.clone(), "locked", &key.id), b"v")
        .unwrap();
    kms.set_migrating(&c, true).unwrap();
    let upd = SecretUpdate {
        description: Some("x".into()),
        ..SecretUpdate::default()
    };
    let attempts: Vec<(&str, StoreResult<()>)> = vec![
        (
            "create",
            kms.create_secret(new_secret(c.clone(), "new", &key.id), b"v")
                .map(|_| ()),
        ),
        ("update", kms.update_secret(&s.id, upd).map(|_| ())),
        ("put", kms.put_secret_value(&s.id, b"w", None).map(|_| ())),
        ("delete", kms.delete_secret(&s.id)),
    ];
    for (case, r) in attempts {
        assert!(
            matches!(r, Err(StoreError::MigrationInProgress { .. })),
            "case {case}: {r:?}"
        );
    }
    kms.set_migrating(&c, false).unwrap();
    kms.delete_secret(&s.id).unwrap();
    assert!(matches!(
        kms.get_secret(&s.id),
        Err(StoreError::NotFound { kind: "secret", .. })
    ));
    assert!(matches!(
        kms.delete_secret(&s.id),
        Err(StoreError::NotFound { .. })
    ));
    let actions: Vec<String> = kms
        .audit_log(50)
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for a in ["secret.create", "secret.put_value", "secret.delete"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

#[test]
fn no_plaintext_at_rest_or_in_audit() {
    let (dir, kms) = kms();
    let key = aes(&kms, &Container::Shared);
    let s = kms
        .create_secret(new_secret(Container::Shared, "leak-check", &key.id), MARKER)
        .unwrap();
    let second = [MARKER, b"-2"].concat();
    kms.put_secret_value(&s.id, &second, None).unwrap();
    let _ = kms.put_secret_value(&s.id, MARKER, Some(&s.current_version_id));
    let audit = kms.audit_log(100).unwrap();
    let marker = String::from_utf8_lossy(MARKER).to_string();
    assert!(audit.iter().all(|a| !format!("{a:?}").contains(&marker)));
    let sealed = read_with(kms.store(), |r| r.secret_versions(&s.id)).unwrap();
    assert!(
        !format!("{sealed:?}").contains(&marker),
        "Debug is redacted"
    );
    drop(kms);
    for entry in std::fs::read_dir(dir.path().join("store")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER),
            "plaintext found at rest"
        );
    }
}

#[test]
fn secrets_migrate_with_or_after_their_key_and_pin_it_against_deletion() {
    let (_d, kms) = kms();
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let k = aes(&kms, &Container::Shared);
    let s = kms
        .create_secret(new_secret(Container::Shared, "db", &k.id), MARKER)
        .unwrap();
    // The key cannot be scheduled for deletion while it encrypts the secret.
    let msg = kms
        .schedule_key_deletion(&k.id, None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("encrypts 1 secret(s) (db)"), "{msg}");
    // The secret cannot go ahead of its key.
    for err in [
        kms.check_secret_movable(&s.id, &target, None, None)
            .unwrap_err(),
        kms.check_secret_movable(&s.id, &target, None, Some(&Container::Shared))
            .unwrap_err(),
        kms.move_secret(&s.id, &target, None).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(
            matches!(err, StoreError::Conflict(_)) && msg.contains(&k.id),
            "{msg}"
        );
    }
    // A plan that also moves the key there passes the same rule.
    kms.check_secret_movable(&s.id, &target, None, Some(&target))
        .unwrap();
    // The key's move carries the secret (sealed under the key's material).
    kms.move_key(&k.id, &target).unwrap();
    assert_eq!(kms.get_secret(&s.id).unwrap().container, target);
    assert_eq!(&*kms.get_secret_value(&s.id, None).unwrap(), MARKER);
    kms.check_secret_movable(&s.id, &target, None, None)
        .unwrap();
    let moved = kms.move_secret(&s.id, &target, None).unwrap();
    assert_eq!(moved.container, target);
    assert_eq!(moved.id, s.id);
    assert_eq!(moved.current_version_id, s.current_version_id);
    assert_eq!(&*kms.get_secret_value(&s.id, None).unwrap(), MARKER);
    kms.put_secret_value(&s.id, b"next", None).unwrap();
    // Moving again is a no-op; without dependent secrets the key may go.
    assert_eq!(
        kms.move_secret(&s.id, &target, None).unwrap().container,
        target
    );
    kms.delete_secret(&s.id).unwrap();
    kms.schedule_key_deletion(&k.id, None).unwrap();
}

#[test]
fn secret_move_respects_name_and_quota_in_the_target() {
    let (_d, kms) = kms();
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let shared_key = aes(&kms, &Container::Shared);
    let target_key = aes(&kms, &target);
    kms.create_secret(new_secret(target.clone(), "db", &target_key.id), MARKER)
        .unwrap();
    let s = kms
        .create_secret(new_secret(Container::Shared, "db", &shared_key.id), MARKER)
        .unwrap();
    // The key would carry "db" into a container that has one: refused, nothing moves.
    let e = kms
        .move_key(&shared_key.id, &target)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("with the secrets it encrypts") && e.contains("db"),
        "{e}"
    );
    assert_eq!(
        kms.get_key(&shared_key.id).unwrap().container,
        Container::Shared
    );
    // A secret moving on its own hits the same name rule.
    let other_key = aes(&kms, &Container::Shared);
    kms.update_secret(
        &s.id,
        SecretUpdate {
            encryption_key_id: Some(other_key.id.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    kms.move_key(&shared_key.id, &target).unwrap();
    assert!(matches!(
        kms.move_secret(&s.id, &target, Some(&target_key.id)),
        Err(StoreError::AlreadyExists { kind: "secret", .. })
    ));
}

#[test]
fn secret_moves_and_switches_to_a_key_of_the_target_at_once() {
    let (_d, kms) = kms();
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let old_key = aes(&kms, &Container::Shared);
    let new_key = aes(&kms, &target);
    let s = kms
        .create_secret(new_secret(Container::Shared, "db", &old_key.id), MARKER)
        .unwrap();
    let moved = kms.move_secret(&s.id, &target, Some(&new_key.id)).unwrap();
    assert_eq!(moved.container, target);
    assert_eq!(moved.encryption_key_id, new_key.id);
    assert_eq!(moved.current_version_id, s.current_version_id);
    // Sealed under the new key now: the old one can go.
    kms.schedule_key_deletion(&old_key.id, None).unwrap();
    assert_eq!(&*kms.get_secret_value(&s.id, None).unwrap(), MARKER);
    // Moving on while the key stays behind is refused and changes nothing,
    // and so is switching to a key outside the target.
    let other = inst(&kms, "o", InstanceType::Software, "eu-1");
    let e = kms
        .move_secret(&s.id, &other, Some(&new_key.id))
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    let shared_key = aes(&kms, &Container::Shared);
    let e = kms
        .move_secret(&s.id, &other, Some(&shared_key.id))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Invalid {
                field: "encryption_key_id",
                ..
            }
        ),
        "{e}"
    );
    let now = kms.get_secret(&s.id).unwrap();
    assert_eq!((now.container, now.encryption_key_id), (target, new_key.id));
}
