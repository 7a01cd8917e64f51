//! The one migration rule: may this key move to that container?
//!
//! Used by `Kms::move_key` (the provider's in-place `instance_id` change),
//! `Kms::check_key_migratable` and the CLI's `keyshift migrate`.

use crate::store::{
    Container, Instance, InstanceStatus, InstanceType, Key, KeySpec, ProtectionLevel, StoreError,
    StoreResult,
};

/// Aliases of platform-owned service keys start with this; such keys never migrate.
pub const SERVICE_ALIAS_PREFIX: &str = "alias/acs/";

/// True if the key has a service alias (`alias/acs/...`).
pub fn is_service_key(key: &Key) -> bool {
    key.aliases
        .iter()
        .any(|a| a.starts_with(SERVICE_ALIAS_PREFIX))
}

/// Specs that can migrate at all (protection `SOFTWARE` only), and whether
/// they may hold more than one version.
pub fn migratable_spec(spec: KeySpec) -> Option<bool> {
    match spec {
        KeySpec::Aes256 => Some(true),
        KeySpec::Rsa2048 | KeySpec::EcP256 | KeySpec::EcP256k => Some(false),
        KeySpec::Rsa3072 | KeySpec::EcSm2 => None,
    }
}

/// Where a key would go and what is known about both ends.
#[derive(Debug, Clone, Copy)]
pub struct MigrationPlan<'a> {
    /// The key (with its aliases and version count).
    pub key: &'a Key,
    /// The instance the key is in now (`None` for the shared KMS).
    pub source_instance: Option<&'a Instance>,
    /// Where it should go.
    pub target: &'a Container,
    /// The target instance (`None` for the shared KMS; must be `Some` for an instance).
    pub target_instance: Option<&'a Instance>,
    /// Keys the target already holds.
    pub target_key_count: i64,
    /// True when the caller holds the migration lock (`Kms::set_migrating`),
    /// so a `migrating` status is expected rather than refused.
    pub lock_held: bool,
}

/// Checks every rule; `Ok(())` also when the key is already in the target
/// (nothing to move). Refusals are `Conflict` saying why, or
/// `NotFound { kind: "instance" }` for an unknown target.
pub fn check(plan: &MigrationPlan<'_>) -> StoreResult<()> {
    let key = plan.key;
    let refuse = |why: String| {
        Err(StoreError::Conflict(format!(
            "key {} cannot move to {}: {why}",
            key.id, plan.target
        )))
    };
    if key.container == *plan.target {
        return Ok(());
    }
    if let Some(alias) = key
        .aliases
        .iter()
        .find(|a| a.starts_with(SERVICE_ALIAS_PREFIX))
    {
        return refuse(format!(
            "it is a service key (alias {alias}); service keys belong to the platform and are never migrated"
        ));
    }
    let target_instance = match (plan.target, plan.target_instance) {
        (Container::Instance(id), None) => {
            return Err(StoreError::NotFound {
                kind: "instance",
                id: id.clone(),
            });
        }
        (_, t) => t,
    };
    for inst in [plan.source_instance, target_instance]
        .into_iter()
        .flatten()
    {
        let busy = match inst.status {
            InstanceStatus::Active => false,
            InstanceStatus::Migrating => !plan.lock_held,
            InstanceStatus::Deleting => true,
        };
        if busy {
            return refuse(format!("instance {} is {}", inst.id, inst.status));
        }
    }
    if let (Some(src), Some(dst)) = (plan.source_instance, target_instance) {
        if src.region != dst.region {
            return refuse(format!(
                "instance {} is in region {} but the key's instance {} is in {}; migration stays within one region",
                dst.id, dst.region, src.id, src.region
            ));
        }
    }
    if key.protection_level != ProtectionLevel::Software {
        return refuse(format!(
            "protection level {} keys cannot be migrated; only SOFTWARE keys can",
            key.protection_level
        ));
    }
    match migratable_spec(key.spec) {
        None => {
            return refuse(format!(
                "spec {} cannot be migrated; migratable specs are AES_256, RSA_2048, EC_P256 and EC_P256K",
                key.spec
            ));
        }
        Some(false) if key.version_count > 1 => {
            return refuse(format!(
                "{} keys migrate only with a single version, this key has {} versions",
                key.spec, key.version_count
            ));
        }
        Some(_) => {}
    }
    if let Some(dst) = target_instance {
        if dst.instance_type == InstanceType::Hardware
            && (key.spec != KeySpec::Aes256 || key.multi_version || key.version_count > 1)
        {
            return refuse(format!(
                "hardware instance {} accepts only single-version AES_256 keys (this key: {}{})",
                dst.id,
                key.spec,
                if key.multi_version {
                    ", multi-version"
                } else {
                    ""
                }
            ));
        }
        if plan.target_key_count >= dst.key_quota {
            return refuse(format!(
                "instance {} has no room: key quota {} is full ({} keys)",
                dst.id, dst.key_quota, plan.target_key_count
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{sample_instance, sample_key};

    fn key(spec: KeySpec, versions: i64, multi: bool) -> Key {
        let mut k = sample_key(Container::Shared);
        k.spec = spec;
        k.version_count = versions;
        k.multi_version = multi;
        k
    }

    fn inst(ty: InstanceType, region: &str) -> Instance {
        let mut i = sample_instance();
        i.instance_type = ty;
        i.region = region.into();
        i
    }

    /// Runs one case: `refusal` is `None` when the move must be allowed,
    /// else a part of the expected refusal message.
    fn case(
        name: &str,
        key: &Key,
        src: Option<&Instance>,
        dst: &Instance,
        count: i64,
        lock_held: bool,
        refusal: Option<&str>,
    ) {
        let target = Container::Instance(dst.id.clone());
        let plan = MigrationPlan {
            key,
            source_instance: src,
            target: &target,
            target_instance: Some(dst),
            target_key_count: count,
            lock_held,
        };
        match (check(&plan), refusal) {
            (Ok(()), None) => {}
            (Err(StoreError::Conflict(m)), Some(part)) => {
                assert!(m.contains(part), "case {name}: {m}")
            }
            (other, want) => unreachable!("case {name}: got {other:?}, want refusal {want:?}"),
        }
    }

    #[test]
    fn rules_table() {
        use KeySpec::*;
        let soft = inst(InstanceType::Software, "r1");
        let hard = inst(InstanceType::Hardware, "r1");
        let far = inst(InstanceType::Software, "r2");
        let mut migrating = inst(InstanceType::Software, "r1");
        migrating.status = InstanceStatus::Migrating;
        let mut hsm = key(Aes256, 1, false);
        hsm.protection_level = ProtectionLevel::Hsm;
        let mut service = key(Aes256, 1, false);
        service.aliases = vec!["alias/acs/ecs".into()];
        let mut in_soft = key(Aes256, 1, false);
        in_soft.container = Container::Instance(soft.id.clone());

        case(
            "aes single",
            &key(Aes256, 1, false),
            None,
            &soft,
            0,
            false,
            None,
        );
        case(
            "aes multi",
            &key(Aes256, 3, true),
            None,
            &soft,
            0,
            false,
            None,
        );
        case(
            "rsa2048",
            &key(Rsa2048, 1, false),
            None,
            &soft,
            0,
            false,
            None,
        );
        case("p256", &key(EcP256, 1, false), None, &soft, 0, false, None);
        case(
            "p256k",
            &key(EcP256k, 1, false),
            None,
            &soft,
            0,
            false,
            None,
        );
        case(
            "p256 multi, 1 version",
            &key(EcP256, 1, true),
            None,
            &soft,
            0,
            false,
            None,
        );
        case(
            "byok pending import",
            &key(Aes256, 0, false),
            None,
            &soft,
            0,
            false,
            None,
        );
        case(
            "rsa3072",
            &key(Rsa3072, 1, false),
            None,
            &soft,
            0,
            false,
            Some("RSA_3072"),
        );
        case(
            "sm2",
            &key(EcSm2, 1, false),
            None,
            &soft,
            0,
            false,
            Some("EC_SM2"),
        );
        case(
            "ec 2 versions",
            &key(EcP256, 2, true),
            None,
            &soft,
            0,
            false,
            Some("single version"),
        );
        case(
            "rsa 2 versions",
            &key(Rsa2048, 2, true),
            None,
            &soft,
            0,
            false,
            Some("single version"),
        );
        case("hsm", &hsm, None, &soft, 0, false, Some("HSM"));
        case(
            "service key",
            &service,
            None,
            &soft,
            0,
            false,
            Some("service key"),
        );
        case(
            "hardware aes",
            &key(Aes256, 1, false),
            None,
            &hard,
            0,
            false,
            None,
        );
        case(
            "hardware aes multi",
            &key(Aes256, 1, true),
            None,
            &hard,
            0,
            false,
            Some("hardware"),
        );
        case(
            "hardware rsa",
            &key(Rsa2048, 1, false),
            None,
            &hard,
            0,
            false,
            Some("hardware"),
        );
        case(
            "hardware p256",
            &key(EcP256, 1, false),
            None,
            &hard,
            0,
            false,
            Some("hardware"),
        );
        case(
            "quota full",
            &key(Aes256, 1, false),
            None,
            &soft,
            10,
            false,
            Some("quota"),
        );
        case(
            "target migrating",
            &key(Aes256, 1, false),
            None,
            &migrating,
            0,
            false,
            Some("migrating"),
        );
        case(
            "lock held",
            &key(Aes256, 1, false),
            None,
            &migrating,
            0,
            true,
            None,
        );
        case(
            "other region",
            &in_soft,
            Some(&soft),
            &far,
            0,
            false,
            Some("region"),
        );
        case("same region", &in_soft, Some(&soft), &hard, 0, false, None);
        case(
            "already there",
            &in_soft,
            Some(&soft),
            &soft,
            10,
            false,
            None,
        );
        case(
            "source migrating",
            &in_soft,
            Some(&migrating),
            &hard,
            0,
            false,
            Some("migrating"),
        );
    }

    #[test]
    fn back_to_shared_and_unknown_target() {
        let soft = inst(InstanceType::Software, "r1");
        let mut k = key(KeySpec::Aes256, 1, false);
        k.container = Container::Instance(soft.id.clone());
        let shared = Container::Shared;
        let plan = MigrationPlan {
            key: &k,
            source_instance: Some(&soft),
            target: &shared,
            target_instance: None,
            target_key_count: 1_000,
            lock_held: false,
        };
        assert!(check(&plan).is_ok());
        let missing = Container::Instance("kst-000000000000".into());
        let plan = MigrationPlan {
            target: &missing,
            ..plan
        };
        assert!(matches!(
            check(&plan),
            Err(StoreError::NotFound {
                kind: "instance",
                ..
            })
        ));
    }
}
