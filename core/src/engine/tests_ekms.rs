//! EKMS engine tests against an in-memory fake of AWS KMS (the moto-backed
//! end-to-end tests live in `tests/tests/ekms.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::Kms;
use super::ekms_wrapper::{ExternalKeyService, split_external_blob};
use super::kms_ekms::EkmsRequest;
use super::preflight::Side;
use super::test_support::{inst, new_key};
use crate::aws::key_status::KeyStatus;
use crate::aws::{AwsError, AwsKeyInfo, KeyHealth};
use crate::store::{
    Container, EkmsArchitecture, InstanceType, KeySpec, StoreError, WrappingStrategy, read_with,
};

pub(super) const A: &str =
    "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111";
const B: &str = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222";
const MISSING: &str = "arn:aws:kms:us-east-1:123456789012:key/33333333-3333-3333-3333-333333333333";

/// AWS KMS in memory: key ARN → `KeyState`; "ciphertext" is a tagged XOR.
#[derive(Default)]
pub(super) struct Fake {
    states: Mutex<HashMap<String, String>>,
    down: AtomicBool,
}

impl Fake {
    pub(super) fn new() -> Arc<Fake> {
        let f = Fake::default();
        f.set(A, "Enabled");
        f.set(B, "Enabled");
        Arc::new(f)
    }
    pub(super) fn set(&self, arn: &str, state: &str) {
        self.states.lock().unwrap().insert(arn.into(), state.into());
    }
    fn describe(&self, arn: &str) -> Result<AwsKeyInfo, AwsError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(AwsError::Unreachable {
                endpoint: "http://127.0.0.1:1".into(),
                key: arn.into(),
                cause: "down".into(),
            });
        }
        let state = self
            .states
            .lock()
            .unwrap()
            .get(arn)
            .cloned()
            .ok_or(AwsError::NotFound { key: arn.into() })?;
        Ok(AwsKeyInfo {
            arn: arn.into(),
            key_id: "k".into(),
            key_state: state,
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            multi_region: false,
        })
    }
    fn enabled(&self, arn: &str) -> Result<(), AwsError> {
        let i = self.describe(arn)?;
        if i.status().is_active() {
            Ok(())
        } else {
            Err(AwsError::KeyNotUsable {
                key: arn.into(),
                status: i.status(),
                state: i.key_state,
            })
        }
    }
}

fn tag(arn: &str, container: &str) -> Vec<u8> {
    format!("{arn}|{container}|").into_bytes()
}

impl ExternalKeyService for Fake {
    fn check_usable(&self, arn: &str) -> Result<AwsKeyInfo, AwsError> {
        self.enabled(arn)?;
        self.describe(arn)
    }
    fn health(&self, arn: &str) -> KeyHealth {
        let checked_at = "2025-01-01T00:00:00Z".to_string();
        match self.describe(arn) {
            Ok(i) => KeyHealth {
                status: i.status(),
                aws_key_state: Some(i.key_state),
                checked_at,
                detail: String::new(),
            },
            Err(AwsError::NotFound { .. }) => KeyHealth {
                status: KeyStatus::Deleted,
                aws_key_state: None,
                checked_at,
                detail: String::new(),
            },
            Err(e) => KeyHealth {
                status: KeyStatus::Unavailable,
                aws_key_state: None,
                checked_at,
                detail: e.to_string(),
            },
        }
    }
    fn wrap(&self, arn: &str, plaintext: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        self.enabled(arn)?;
        let mut out = tag(arn, container);
        out.extend(plaintext.iter().map(|b| b ^ 0x5a));
        Ok(out)
    }
    fn unwrap(&self, arn: &str, blob: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        self.enabled(arn)?;
        let t = tag(arn, container);
        let body = blob.strip_prefix(t.as_slice()).ok_or(AwsError::Api {
            key: arn.into(),
            message: "InvalidCiphertextException".into(),
        })?;
        Ok(body.iter().map(|b| b ^ 0x5a).collect())
    }
    fn check_policy(&self, arn: &str, principal: &str) -> Result<(), AwsError> {
        if principal == "denied" {
            return Err(AwsError::PolicyMissing {
                key: arn.into(),
                principal: principal.into(),
                actions: vec!["kms:Decrypt".into()],
            });
        }
        Ok(())
    }
}

fn setup() -> (tempfile::TempDir, Kms, Arc<Fake>) {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new();
    let kms = Kms::open(&dir.path().join("store"), "test")
        .unwrap()
        .with_external_keys(fake.clone());
    (dir, kms, fake)
}

fn req(arn: &str) -> EkmsRequest {
    EkmsRequest {
        key_arn: arn.into(),
        architecture: EkmsArchitecture::Current,
        wrapping: WrappingStrategy::External,
        allow_revert_to_internal: false,
    }
}

fn wrapping(kms: &Kms, c: &Container) -> (WrappingStrategy, Vec<u8>) {
    let rec = read_with(kms.store(), |r| r.container(c)).unwrap().unwrap();
    (rec.wrapping, rec.wrapped_root_key)
}

#[test]
fn activation_wraps_root_and_material_ops_go_through_aws() {
    let (_d, kms, fake) = setup();
    let c = Container::Shared;
    let before = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    let ct_before = kms.encrypt(&before.id, b"hello").unwrap();
    let info = kms
        .activate_ekms(&c, &req(A), Some("arn:aws:iam::1:role/x"), &*fake)
        .unwrap();
    assert_eq!(info.wrapping, WrappingStrategy::External);
    assert_eq!(info.config.last_status.as_deref(), Some("ACTIVE"));
    let (w, blob) = wrapping(&kms, &c);
    assert_eq!(w, WrappingStrategy::External);
    assert_eq!(split_external_blob(&blob).unwrap().0, A);
    let after = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    assert_eq!(kms.decrypt(&ct_before).unwrap(), b"hello");
    let ct_after = kms.encrypt(&after.id, b"world").unwrap();

    // Disabled key: every material operation fails naming key and status; nothing changes.
    fake.set(A, "Disabled");
    let n = kms.list_keys(Some(&c)).unwrap().len();
    let err = kms
        .create_key(new_key(c.clone(), KeySpec::Aes256))
        .unwrap_err()
        .to_string();
    assert!(err.contains(A) && err.contains("DISABLED"), "{err}");
    assert_eq!(kms.list_keys(Some(&c)).unwrap().len(), n, "store unchanged");
    assert!(
        kms.decrypt(&ct_after)
            .unwrap_err()
            .to_string()
            .contains("DISABLED")
    );
    let (h_info, h) = kms.ekms_health(&c, &*fake).unwrap();
    assert_eq!(h.status, KeyStatus::Disabled);
    assert_eq!(h_info.config.last_aws_state.as_deref(), Some("Disabled"));
    assert_eq!(
        kms.ekms_config(&c)
            .unwrap()
            .unwrap()
            .config
            .last_status
            .as_deref(),
        Some("DISABLED")
    );

    // Re-enabled: nothing lost.
    fake.set(A, "Enabled");
    assert_eq!(kms.decrypt(&ct_after).unwrap(), b"world");
    assert_eq!(kms.decrypt(&ct_before).unwrap(), b"hello");
    kms.create_key(new_key(c, KeySpec::Aes256)).unwrap();
}

#[test]
fn activation_failures_change_nothing() {
    let (_d, kms, fake) = setup();
    let c = inst(&kms, "e1", InstanceType::Software, "r");
    let before = wrapping(&kms, &c);
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        (
            "syntax",
            "arn:aws:s3:::bucket".into(),
            None,
            "aws_kms_key_arn",
        ),
        ("missing", MISSING.into(), None, "not found"),
        ("policy", A.into(), Some("denied"), "kms:Decrypt"),
    ];
    for (name, arn, principal, want) in cases {
        let err = kms
            .activate_ekms(&c, &req(&arn), principal, &*fake)
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "aws_kms_key_arn",
                    ..
                }
            ),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
    fake.set(B, "Disabled");
    let err = kms
        .activate_ekms(&c, &req(B), None, &*fake)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("DISABLED") && err.contains("DescribeKey"),
        "{err}"
    );
    fake.down.store(true, Ordering::SeqCst);
    let err = kms.activate_ekms(&c, &req(A), None, &*fake).unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)) && err.to_string().contains("127.0.0.1:1"),
        "{err:?}"
    );
    assert_eq!(wrapping(&kms, &c), before);
    assert!(kms.ekms_config(&c).unwrap().is_none());
    assert!(kms.list_ekms_configs().unwrap().is_empty());
}

#[test]
fn key_change_needs_both_keys_active_and_keeps_data() {
    let (_d, kms, fake) = setup();
    let c = inst(&kms, "e2", InstanceType::Software, "r");
    kms.activate_ekms(&c, &req(A), None, &*fake).unwrap();
    let k = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    let ct = kms.encrypt(&k.id, b"data").unwrap();
    let before = wrapping(&kms, &c);
    for (bad, which) in [(A, "old"), (B, "new")] {
        fake.set(bad, "Disabled");
        let err = kms
            .change_ekms_key(&c, B, None, &*fake)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(which) && err.contains(bad) && err.contains("DISABLED"),
            "{err}"
        );
        assert_eq!(wrapping(&kms, &c), before, "unchanged");
        assert_eq!(kms.ekms_config(&c).unwrap().unwrap().config.key_arn, A);
        fake.set(bad, "Enabled");
    }
    let info = kms.change_ekms_key(&c, B, None, &*fake).unwrap();
    assert_eq!(info.config.key_arn, B);
    assert_eq!(split_external_blob(&wrapping(&kms, &c).1).unwrap().0, B);
    fake.set(A, "Disabled"); // the old key is no longer needed
    assert_eq!(kms.decrypt(&ct).unwrap(), b"data");
}

#[test]
fn revert_needs_the_escape_hatch() {
    let (_d, kms, fake) = setup();
    let c = inst(&kms, "e3", InstanceType::Software, "r");
    kms.activate_ekms(&c, &req(A), None, &*fake).unwrap();
    let k = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    let ct = kms.encrypt(&k.id, b"data").unwrap();
    let err = kms
        .revert_ekms_to_internal(&c, &*fake)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no revert") && err.contains("allow_revert_to_internal"),
        "{err}"
    );
    let info = kms
        .set_ekms_options(&c, Some(EkmsArchitecture::Legacy), Some(true))
        .unwrap();
    assert!(info.config.allow_revert_to_internal);
    kms.revert_ekms_to_internal(&c, &*fake).unwrap();
    assert!(kms.ekms_config(&c).unwrap().is_none());
    fake.down.store(true, Ordering::SeqCst); // AWS no longer needed
    assert_eq!(wrapping(&kms, &c).0, WrappingStrategy::Internal);
    assert_eq!(kms.decrypt(&ct).unwrap(), b"data");
}

#[test]
fn registered_internal_config_then_external_and_preflight_sides() {
    let (_d, kms, fake) = setup();
    let c = inst(&kms, "e4", InstanceType::Software, "r");
    assert_eq!(kms.preflight_side(&c, &*fake).unwrap(), Side::NotConfigured);
    let mut r = req(A);
    r.wrapping = WrappingStrategy::Internal;
    let info = kms.activate_ekms(&c, &r, None, &*fake).unwrap();
    assert_eq!(info.wrapping, WrappingStrategy::Internal);
    assert_eq!(wrapping(&kms, &c).0, WrappingStrategy::Internal);
    let err = kms.activate_ekms(&c, &req(A), None, &*fake).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    match kms.preflight_side(&c, &*fake).unwrap() {
        Side::Configured(s) => {
            assert_eq!((s.key_arn.as_str(), s.key_status), (A, KeyStatus::Active))
        }
        other => panic!("{other:?}"),
    }
    kms.enable_external_wrapping(&c, None, &*fake).unwrap();
    assert_eq!(wrapping(&kms, &c).0, WrappingStrategy::External);
    fake.set(A, "PendingDeletion");
    match kms.preflight_side(&c, &*fake).unwrap() {
        Side::Configured(s) => assert_eq!(s.key_status, KeyStatus::PendingDeletion),
        other => panic!("{other:?}"),
    }
    fake.set(A, "Enabled");
    // A registered-only configuration is removed without the escape hatch.
    let d = inst(&kms, "e5", InstanceType::Software, "r");
    kms.activate_ekms(&d, &r, None, &*fake).unwrap();
    kms.revert_ekms_to_internal(&d, &*fake).unwrap();
    assert!(kms.ekms_config(&d).unwrap().is_none());
    // Deleting an instance removes its configuration.
    kms.delete_instance(d.instance_id().unwrap(), false)
        .unwrap();
    kms.activate_ekms(&Container::Shared, &r, None, &*fake)
        .unwrap();
    assert_eq!(kms.list_ekms_configs().unwrap().len(), 2);
}

#[test]
fn moving_keys_between_external_and_internal_containers() {
    let (_d, kms, fake) = setup();
    let c = inst(&kms, "e6", InstanceType::Software, "r");
    kms.activate_ekms(&c, &req(A), None, &*fake).unwrap();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let ct = kms.encrypt(&k.id, b"m").unwrap();
    fake.set(A, "Disabled");
    let n = kms.list_keys(Some(&c)).unwrap().len();
    assert!(kms.move_key(&k.id, &c).unwrap_err().to_string().contains(A));
    assert_eq!(kms.list_keys(Some(&c)).unwrap().len(), n);
    fake.set(A, "Enabled");
    kms.move_key(&k.id, &c).unwrap();
    assert_eq!(kms.decrypt(&ct).unwrap(), b"m");
}

#[test]
fn an_instance_being_deleted_takes_no_ekms_configuration() {
    let (_d, kms, fake) = setup();
    let c = inst(&kms, "going", InstanceType::Software, "r");
    let Container::Instance(id) = &c else {
        panic!("inst returns an instance container")
    };
    kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    kms.delete_instance(id, true).unwrap();
    let err = kms.activate_ekms(&c, &req(A), None, &*fake).unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("is being deleted")
            && m.contains("EKMS configuration")),
        "{err}"
    );
    assert!(
        read_with(kms.store(), |r| r.ekms_config(&c))
            .unwrap()
            .is_none()
    );
}

#[test]
fn migration_refuses_an_unhealthy_ekms_key_before_anything_moves() {
    use crate::engine::migrate::{self, MigrateError, Request};
    let (_d, kms, fake) = setup();
    let c = Container::Shared;
    let k = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    kms.activate_ekms(&c, &req(A), None, &*fake).unwrap();
    let t = inst(&kms, "dest", InstanceType::Software, "eu-1");
    let sel = migrate::select(
        &kms,
        &Request {
            target: t.clone(),
            from: None,
            patterns: vec![k.id.clone()],
            all: false,
            include_secrets: false,
        },
    )
    .unwrap();
    migrate::check_health(&kms, &sel, &*fake).unwrap();
    fake.set(A, "Disabled");
    match migrate::check_health(&kms, &sel, &*fake) {
        Err(e @ MigrateError::UnhealthyEkms { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains(A) && m.contains("DISABLED") && m.contains("nothing was migrated"),
                "{m}"
            );
        }
        other => unreachable!("{other:?}"),
    }
    assert_eq!(kms.get_key(&k.id).unwrap().container, c);
}

/// A store whose master key is wrapped by an AWS key opens with that key
/// only; another ARN or an unusable key is an error and changes nothing.
#[test]
fn master_key_wrapped_by_aws_opens_only_with_its_key() {
    use super::ekms_master::AwsMasterKeyWrapper;
    use crate::store::{OpenOptions, StoreLocation};
    let dir = tempfile::tempdir().unwrap();
    let loc = StoreLocation::dir(&dir.path().join("store"));
    let fake = Fake::new();
    let open = |arn: &str| {
        let opts = OpenOptions {
            create: true,
            master_key_file: None,
            master_key_wrapper: Some(Arc::new(AwsMasterKeyWrapper::new(fake.clone(), arn))),
        };
        Kms::open_location(&loc, &opts, "test").map(|(kms, _)| kms)
    };
    let kms = open(A).unwrap();
    let key = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let ct = kms.encrypt(&key.id, b"hello").unwrap();
    drop(kms);
    assert!(!dir.path().join("store/master.key").exists(), "no key file");

    let kms = open(A).unwrap();
    assert_eq!(kms.decrypt(&ct).unwrap(), b"hello");
    drop(kms);
    let wrong = open(B).err().unwrap().to_string();
    assert!(
        wrong.contains(&format!("wrapped by AWS KMS key {A}, not by {B}")),
        "{wrong}"
    );
    fake.set(A, "Disabled");
    let disabled = open(A).err().unwrap().to_string();
    assert!(
        disabled.contains(A) && disabled.contains("nothing was changed"),
        "{disabled}"
    );
    fake.set(A, "Enabled");
    let kms = open(A).unwrap();
    assert_eq!(kms.get_key(&key.id).unwrap().id, key.id);
}
