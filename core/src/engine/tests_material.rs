//! Engine tests: material (encrypt/decrypt, import, rotation), in-place
//! migration, and material never at rest in plaintext.

use super::key_dependents::Dependents;
use super::test_support::{inst, kms, new_key};
use crate::store::{
    Container, InstanceType, KeyOrigin, KeySpec, KeyState, KeyUpdate, ProtectionLevel, StoreError,
};

#[test]
fn encrypt_decrypt_round_trip() {
    let (_d, kms) = kms();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.create_alias("alias/data", &k.id).unwrap();
    let large = vec![0xABu8; 100_000];
    for (name, via, pt) in [
        ("by id", k.id.as_str(), b"hello".as_slice()),
        ("by alias", "alias/data", b"".as_slice()),
        ("large", k.id.as_str(), large.as_slice()),
    ] {
        let ct = kms.encrypt(via, pt).unwrap();
        assert_eq!(kms.decrypt(&ct).unwrap(), pt, "case {name}");
        assert!(
            ct.windows(k.id.len()).any(|w| w == k.id.as_bytes()),
            "self-describing: {name}"
        );
    }
    let ct = kms.encrypt(&k.id, b"secret").unwrap();
    assert_ne!(ct, kms.encrypt(&k.id, b"secret").unwrap(), "random nonce");
    let mut tampered = ct.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(kms.decrypt(&tampered), Err(StoreError::Crypto(_))));
    for garbage in [&b""[..], &[9, 1, 2][..], &[1, 200][..], &ct[..20]] {
        assert!(kms.decrypt(garbage).is_err(), "{garbage:?}");
    }
    // Re-labelling the ciphertext with another key id fails authentication.
    let other = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let pos = ct
        .windows(k.id.len())
        .position(|w| w == k.id.as_bytes())
        .unwrap();
    let mut relabelled = ct.clone();
    relabelled[pos..pos + k.id.len()].copy_from_slice(other.id.as_bytes());
    assert!(kms.decrypt(&relabelled).is_err());

    let ec = kms
        .create_key(new_key(Container::Shared, KeySpec::EcP256))
        .unwrap();
    assert!(matches!(
        kms.encrypt(&ec.id, b"x"),
        Err(StoreError::Invalid {
            field: "key_id",
            ..
        })
    ));
    kms.update_key(
        &k.id,
        KeyUpdate {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        kms.encrypt(&k.id, b"x"),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(kms.decrypt(&ct), Err(StoreError::Conflict(_))));
}

#[test]
fn move_key_keeps_identity_and_ciphertexts() {
    let (_d, kms) = kms();
    let target = inst(&kms, "dest", InstanceType::Software, "eu-1");
    let mut nk = new_key(Container::Shared, KeySpec::Aes256);
    nk.multi_version = true;
    nk.deletion_protection = true;
    let k = kms.create_key(nk).unwrap();
    kms.create_alias("alias/moving", &k.id).unwrap();
    let ct1 = kms.encrypt(&k.id, b"before rotation").unwrap();
    kms.rotate_key(&k.id).unwrap();
    let ct2 = kms.encrypt("alias/moving", b"after rotation").unwrap();
    let before = kms.get_key(&k.id).unwrap();
    let material = kms.material_for_test(&k.id);

    let moved = kms.move_key(&k.id, &target).unwrap();
    assert_eq!(moved.container, target);
    let mut expect = before.clone();
    expect.container = target.clone();
    assert_eq!(moved, expect, "only the container changes");
    assert_eq!(kms.material_for_test(&k.id), material);
    assert_eq!(kms.decrypt(&ct1).unwrap(), b"before rotation");
    assert_eq!(kms.decrypt(&ct2).unwrap(), b"after rotation");
    assert_eq!(kms.list_keys(Some(&target)).unwrap().len(), 1);
    assert_eq!(kms.move_key(&k.id, &target).unwrap(), moved, "idempotent");
    assert!(
        kms.audit_log(3)
            .unwrap()
            .iter()
            .any(|a| a.action == "key.move" && a.detail.contains("shared ->"))
    );

    // And back to the shared KMS.
    let back = kms.move_key(&k.id, &Container::Shared).unwrap();
    assert_eq!(back.container, Container::Shared);
    assert_eq!(kms.decrypt(&ct1).unwrap(), b"before rotation");
}

#[test]
fn move_refusals_leave_key_unchanged() {
    let (_d, kms) = kms();
    let soft = inst(&kms, "soft", InstanceType::Software, "eu-1");
    let hard = inst(&kms, "hard", InstanceType::Hardware, "eu-1");
    let far = inst(&kms, "far", InstanceType::Software, "us-1");

    let rsa3072 = kms
        .create_key(new_key(Container::Shared, KeySpec::Rsa3072))
        .unwrap();
    let rsa2048 = kms
        .create_key(new_key(Container::Shared, KeySpec::Rsa2048))
        .unwrap();
    let service = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.create_alias("alias/acs/ecs", &service.id).unwrap();
    let mut hsm = new_key(hard.clone(), KeySpec::Aes256);
    hsm.protection_level = ProtectionLevel::Hsm;
    let hsm = kms.create_key(hsm).unwrap();
    let mut ec = new_key(Container::Shared, KeySpec::EcP256);
    ec.multi_version = true;
    let ec = kms.create_key(ec).unwrap();
    kms.add_version_for_test(&ec.id).unwrap();
    let in_soft = kms
        .create_key(new_key(soft.clone(), KeySpec::Aes256))
        .unwrap();

    let cases = [
        ("rsa3072", &rsa3072.id, &soft, "RSA_3072"),
        ("hsm", &hsm.id, &soft, "HSM"),
        ("service key", &service.id, &soft, "service key"),
        ("rsa2048 to hardware", &rsa2048.id, &hard, "hardware"),
        ("multi-version ec", &ec.id, &soft, "single version"),
        ("other region", &in_soft.id, &far, "region"),
    ];
    for (name, id, target, part) in cases {
        let before = kms.get_key(id).unwrap();
        let check = kms.check_key_migratable(&before, target);
        assert!(
            matches!(&check, Err(StoreError::Conflict(m)) if m.contains(part)),
            "case {name}: {check:?}"
        );
        let err = kms.move_key(id, target).unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(m) if m.contains(part)),
            "case {name}: {err:?}"
        );
        assert_eq!(kms.get_key(id).unwrap(), before, "case {name}: unchanged");
    }
    // Allowed ones pass the same rule.
    kms.check_key_migratable(&kms.get_key(&rsa2048.id).unwrap(), &soft)
        .unwrap();
    kms.move_key(&rsa2048.id, &soft).unwrap();
    let unknown = Container::Instance("kst-000000000000".into());
    let plain = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    assert!(matches!(
        kms.move_key(&plain.id, &unknown),
        Err(StoreError::NotFound {
            kind: "instance",
            ..
        })
    ));
}

#[test]
fn move_refused_when_target_full_or_locked_and_lock_holder_moves() {
    let (_d, kms) = kms();
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.set_migrating(&target, true).unwrap();
    let locked = kms.move_key(&k.id, &target);
    assert!(
        matches!(locked, Err(StoreError::MigrationInProgress { .. })),
        "{locked:?}"
    );
    let moved = kms
        .migrate_key_locked(&k.id, &target, Dependents::Refuse)
        .unwrap();
    assert_eq!(moved.key.container, target);
    kms.set_migrating(&target, false).unwrap();
    let k2 = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let no_lock = kms.migrate_key_locked(&k2.id, &target, Dependents::Refuse);
    assert!(
        matches!(no_lock, Err(StoreError::Conflict(_))),
        "{no_lock:?}"
    );
    for _ in 0..4 {
        kms.create_key(new_key(target.clone(), KeySpec::Aes256))
            .unwrap();
    }
    let full = kms.move_key(&k2.id, &target);
    assert!(
        matches!(&full, Err(StoreError::Conflict(m)) if m.contains("quota")),
        "{full:?}"
    );
}

#[test]
fn byok_import() {
    let (_d, kms) = kms();
    let mut nk = new_key(Container::Shared, KeySpec::Aes256);
    nk.origin = KeyOrigin::External;
    let k = kms.create_key(nk).unwrap();
    assert!(
        matches!(kms.encrypt(&k.id, b"x"), Err(StoreError::Conflict(_))),
        "PendingImport"
    );
    let short = kms.import_key_material(&k.id, &[1u8; 16]);
    assert!(
        matches!(
            short,
            Err(StoreError::Invalid {
                field: "key_material_wo",
                ..
            })
        ),
        "{short:?}"
    );
    let material = [42u8; 32];
    let imported = kms.import_key_material(&k.id, &material).unwrap();
    assert_eq!(
        (imported.state, imported.version_count),
        (KeyState::Enabled, 1)
    );
    assert_eq!(kms.material_for_test(&k.id), material);
    assert_eq!(
        kms.import_key_material(&k.id, &material).unwrap(),
        imported,
        "same material: no-op"
    );
    let other = kms.import_key_material(&k.id, &[43u8; 32]);
    assert!(matches!(other, Err(StoreError::Conflict(_))), "{other:?}");
    let ct = kms.encrypt(&k.id, b"byok").unwrap();
    assert_eq!(kms.decrypt(&ct).unwrap(), b"byok");
    let err = kms.rotate_key(&k.id).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let native = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let r = kms.import_key_material(&native.id, &material);
    assert!(
        matches!(&r, Err(StoreError::Conflict(m)) if m.contains("EXTERNAL")),
        "{r:?}"
    );
    // Messages never echo material.
    for e in [short.unwrap_err(), other.unwrap_err(), r.unwrap_err()] {
        assert!(
            !e.to_string().contains(&hex::encode(material)) && !e.to_string().contains("42, 42")
        );
    }
}

#[test]
fn rotation() {
    let (_d, kms) = kms();
    let single = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    assert!(matches!(
        kms.rotate_key(&single.id),
        Err(StoreError::Conflict(_))
    ));
    let mut nk = new_key(Container::Shared, KeySpec::Aes256);
    nk.multi_version = true;
    let k = kms.create_key(nk).unwrap();
    let ct = kms.encrypt(&k.id, b"v1").unwrap();
    let m1 = kms.material_for_test(&k.id);
    let r = kms.rotate_key(&k.id).unwrap();
    assert_eq!(r.version_count, 2);
    assert_ne!(r.current_version, k.current_version);
    assert_ne!(kms.material_for_test(&k.id), m1);
    assert_eq!(kms.decrypt(&ct).unwrap(), b"v1");
    kms.update_key(
        &k.id,
        KeyUpdate {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        kms.rotate_key(&k.id),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn database_holds_no_plaintext_material() {
    let dir = tempfile::tempdir().unwrap();
    let kms = crate::engine::Kms::open(dir.path(), "test").unwrap();
    let aes = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let rsa = kms
        .create_key(new_key(Container::Shared, KeySpec::Rsa2048))
        .unwrap();
    let ct = kms.encrypt(&aes.id, b"payload").unwrap();
    assert_eq!(kms.decrypt(&ct).unwrap(), b"payload");
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    kms.move_key(&aes.id, &target).unwrap();

    let aes_m = kms.material_for_test(&aes.id);
    let rsa_m = kms.material_for_test(&rsa.id);
    assert_eq!(aes_m.len(), 32);
    let master = std::fs::read(dir.path().join("master.key")).unwrap();
    let mut raw = Vec::new();
    for f in ["keyshift.db", "keyshift.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(f)) {
            raw.extend(b);
        }
    }
    assert!(
        raw.windows(aes.id.len()).any(|w| w == aes.id.as_bytes()),
        "sanity: ids are there"
    );
    for (what, needle) in [
        ("aes", &aes_m[..]),
        ("rsa (prefix)", &rsa_m[rsa_m.len() - 64..]),
        ("master", &master[..]),
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "{what} material found in the database"
        );
        let hexed = hex::encode(needle);
        assert!(
            !raw.windows(hexed.len()).any(|w| w == hexed.as_bytes()),
            "{what} material (hex) found"
        );
    }
}
