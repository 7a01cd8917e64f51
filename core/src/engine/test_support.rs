//! Fixtures shared by the engine's test modules: a fresh store in a temp
//! dir, and `NewInstance` / `NewKey` values with sensible defaults.

use std::collections::BTreeMap;

use super::Kms;
use crate::store::{Container, InstanceType, KeySpec, KeyUsage, NewInstance, NewKey};

pub(super) fn kms() -> (tempfile::TempDir, Kms) {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(&dir.path().join("store"), "test").unwrap();
    (dir, kms)
}

pub(super) fn new_instance(name: &str, ty: InstanceType, region: &str) -> NewInstance {
    NewInstance {
        name: name.into(),
        instance_type: ty,
        region: region.into(),
        key_quota: 5,
        secret_quota: 5,
    }
}

pub(super) fn new_key(container: Container, spec: KeySpec) -> NewKey {
    let usage = if spec == KeySpec::Aes256 || spec == KeySpec::Rsa2048 {
        KeyUsage::EncryptDecrypt
    } else {
        KeyUsage::SignVerify
    };
    NewKey {
        description: "test key".into(),
        tags: BTreeMap::from([("env".to_string(), "test".to_string())]),
        deletion_window_in_days: 7,
        ..NewKey::new(container, spec, usage)
    }
}

pub(super) fn inst(kms: &Kms, name: &str, ty: InstanceType, region: &str) -> Container {
    Container::Instance(
        kms.create_instance(new_instance(name, ty, region))
            .unwrap()
            .id,
    )
}
