//! Tests of `keyshift_secret`: validation, planning and applying against a
//! real (temporary) key store.

use super::*;
use crate::framework::Provider;
use crate::resources::KeyshiftProvider;
use crate::resources::common::object;
use crate::store::{InstanceType, KeySpec, KeyUsage, NewInstance, NewKey};

const MARKER: &str = "SECRET-MARKER-d41d8cd98f00";

/// The id of a secret's state, through the resource's own model.
fn id_of(state: &Value) -> String {
    SecretModel::from_value(state).unwrap().id
}

/// A full configuration object: every attribute null, then `pairs`.
fn cfg(pairs: Vec<(&str, Value)>) -> Value {
    let mut v = object(attributes().iter().map(|a| (a.name, Value::Null)).collect());
    for (k, x) in pairs {
        v.set(k, x);
    }
    v
}

fn first_path(d: &Diagnostics) -> Option<AttrPath> {
    d.first().and_then(|d| d.path.clone())
}

#[test]
fn validation_names_the_attribute() {
    let base = || {
        vec![
            ("name", Value::from("app/db")),
            ("encryption_key_id", Value::from("key-1")),
        ]
    };
    let with = |extra: Vec<(&str, Value)>| cfg(base().into_iter().chain(extra).collect());
    let wo = || {
        vec![
            ("secret_data_wo", Value::from(MARKER)),
            ("secret_data_wo_version", Value::Int(1)),
        ]
    };
    let huge = "x".repeat(70_000);
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("write-only ok", with(wo()), None),
        (
            "secret_data ok",
            with(vec![("secret_data", MARKER.into())]),
            None,
        ),
        (
            "both values",
            with([wo(), vec![("secret_data", MARKER.into())]].concat()),
            Some("secret_data"),
        ),
        ("no value (adopting an existing secret)", with(vec![]), None),
        (
            "write-only without version",
            with(vec![("secret_data_wo", MARKER.into())]),
            Some("secret_data_wo_version"),
        ),
        (
            "version without write-only",
            with(vec![
                ("secret_data", MARKER.into()),
                ("secret_data_wo_version", Value::Int(1)),
            ]),
            Some("secret_data_wo_version"),
        ),
        (
            "unknown write-only",
            with(vec![
                ("secret_data_wo", Value::Unknown),
                ("secret_data_wo_version", Value::Int(1)),
            ]),
            None,
        ),
        (
            "both unknown",
            with(vec![
                ("secret_data_wo", Value::Unknown),
                ("secret_data", Value::Unknown),
                ("secret_data_wo_version", Value::Int(1)),
            ]),
            None,
        ),
        (
            "bad type",
            with([wo(), vec![("type", "Kerberos".into())]].concat()),
            Some("type"),
        ),
        (
            "RDS type",
            with([wo(), vec![("type", "RDS".into())]].concat()),
            None,
        ),
        (
            "bad name",
            cfg([wo(), vec![("name", "my secret".into())]].concat()),
            Some("name"),
        ),
        (
            "bad instance id",
            with([wo(), vec![("instance_id", "kst-XYZ".into())]].concat()),
            Some("instance_id"),
        ),
        (
            "too large",
            with(vec![("secret_data", huge.into())]),
            Some("secret_data"),
        ),
    ];
    for (name, c, expect) in cases {
        let d = SecretResource.validate(&c);
        assert!(
            d.iter()
                .all(|d| !d.summary.contains(MARKER) && !d.detail.contains(MARKER)),
            "{name}: value leaked"
        );
        match expect {
            None => assert!(d.is_empty(), "{name}: {d:?}"),
            Some(a) => assert_eq!(first_path(&d), Some(AttrPath::attr(a)), "{name}: {d:?}"),
        }
    }
}

fn ctx() -> (tempfile::TempDir, ProviderCtx) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let c = KeyshiftProvider.configure(
        &object(vec![("store_path", Value::string(store))]),
        "1.11.0",
    );
    (dir, c.unwrap_or_else(|_| panic!("configure failed")))
}

/// A second provider context on the same store, with its own plan memory.
fn ctx_sharing(ctx: &ProviderCtx) -> ProviderCtx {
    let store = ctx.config.store.to_string();
    KeyshiftProvider
        .configure(
            &object(vec![("store_path", Value::string(store))]),
            "1.11.0",
        )
        .unwrap_or_else(|_| panic!("configure failed"))
}

fn key(ctx: &ProviderCtx, container: Container, spec: KeySpec, usage: KeyUsage) -> String {
    let new = NewKey {
        deletion_window_in_days: 7,
        ..NewKey::new(container, spec, usage)
    };
    ctx.kms.create_key(new).unwrap().id
}

fn plan(ctx: &ProviderCtx, prior: &Value, config: &Value) -> Result<PlanResponse, Diagnostics> {
    // Terraform's proposal: configuration, plus prior values of computed attributes left null.
    let mut proposed = config.clone();
    for a in attributes()
        .iter()
        .filter(|a| a.computed && config.get(a.name).is_null())
    {
        proposed.set(a.name, prior.get(a.name).clone());
    }
    if prior.is_null() {
        proposed = config.clone();
    }
    SecretResource.plan(
        ctx,
        &PlanRequest {
            prior: prior.clone(),
            proposed,
            config: config.clone(),
        },
    )
}

fn plan_apply(ctx: &ProviderCtx, prior: &Value, config: &Value) -> Value {
    let planned = plan(ctx, prior, config).unwrap().planned;
    SecretResource
        .apply(
            ctx,
            &ApplyRequest {
                prior: prior.clone(),
                planned,
                config: config.clone(),
            },
        )
        .unwrap()
}

#[test]
fn write_only_lifecycle_import_and_adoption() {
    let (_d, ctx) = ctx();
    let k = key(
        &ctx,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let conf = |v: i64| {
        cfg(vec![
            ("name", "app/db".into()),
            ("encryption_key_id", k.as_str().into()),
            ("secret_data_wo", MARKER.into()),
            ("secret_data_wo_version", Value::Int(v)),
        ])
    };
    let planned = plan(&ctx, &Value::Null, &conf(1)).unwrap().planned;
    assert_eq!(planned.get("secret_data_wo"), &Value::Null);
    assert_eq!(planned.get("version_id"), &Value::Unknown);
    assert_eq!(planned.get("type"), &Value::string("Generic"));
    let s1 = plan_apply(&ctx, &Value::Null, &conf(1));
    assert!(!format!("{s1:?}").contains(MARKER));
    let id = id_of(&s1);
    assert_eq!(
        ctx.kms.get_secret_value(&id, None).unwrap().as_slice(),
        MARKER.as_bytes()
    );
    assert_eq!(SecretResource.read(&ctx, &s1).unwrap(), s1);
    let clean = plan(&ctx, &s1, &conf(1)).unwrap();
    assert_eq!(clean.planned, s1, "no changes");

    // Bumping the version writes a new version.
    assert_eq!(
        plan(&ctx, &s1, &conf(2)).unwrap().planned.get("version_id"),
        &Value::Unknown
    );
    let s2 = plan_apply(&ctx, &s1, &conf(2));
    assert_ne!(s2.get("version_id"), s1.get("version_id"));
    assert_eq!(ctx.kms.get_secret(&id).unwrap().versions.len(), 2);

    // Import (by id and by container/name): no value, no version; the first
    // configured version is adopted without writing.
    let imported = SecretResource.import(&ctx, &id).unwrap();
    assert_eq!(
        SecretResource.import(&ctx, "shared/app/db").unwrap(),
        imported
    );
    assert_eq!(imported.get("secret_data_wo_version"), &Value::Null);
    assert_eq!(imported.get("version_id"), s2.get("version_id"));
    let adopted = plan_apply(&ctx, &imported, &conf(2));
    assert_eq!(adopted, s2);
    assert_eq!(ctx.kms.get_secret(&id).unwrap().versions.len(), 2);
    for bad in ["nope", "kst-XYZ/app", "shared/missing"] {
        assert!(SecretResource.import(&ctx, bad).is_err(), "{bad}");
    }

    // Destroy, then read: gone.
    assert_eq!(
        SecretResource
            .apply(
                &ctx,
                &ApplyRequest {
                    prior: s2.clone(),
                    planned: Value::Null,
                    config: Value::Null
                }
            )
            .unwrap(),
        Value::Null
    );
    assert_eq!(SecretResource.read(&ctx, &s2).unwrap(), Value::Null);
}

#[test]
fn secret_data_updates_and_import_compares() {
    let (_d, ctx) = ctx();
    let k = key(
        &ctx,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let conf = |v: &str| {
        cfg(vec![
            ("name", "plain".into()),
            ("encryption_key_id", k.as_str().into()),
            ("secret_data", v.into()),
        ])
    };
    let s1 = plan_apply(&ctx, &Value::Null, &conf("one"));
    assert_eq!(
        s1.get("secret_data"),
        &Value::string("one"),
        "Terraform keeps the configured value"
    );
    let id = id_of(&s1);
    let s2 = plan_apply(&ctx, &s1, &conf("two"));
    assert_ne!(s2.get("version_id"), s1.get("version_id"));
    assert_eq!(
        ctx.kms.get_secret_value(&id, None).unwrap().as_slice(),
        b"two"
    );
    // Read never fetches the value: an out-of-band write is not pulled into state.
    ctx.kms.put_secret_value(&id, b"three", None).unwrap();
    assert_eq!(
        SecretResource.read(&ctx, &s2).unwrap().get("secret_data"),
        &Value::string("two")
    );
    // Import leaves secret_data null; the same value is adopted, another one written.
    let imported = SecretResource.import(&ctx, &id).unwrap();
    assert_eq!(imported.get("secret_data"), &Value::Null);
    let same = plan_apply(&ctx, &imported, &conf("three"));
    assert_eq!(same.get("version_id"), imported.get("version_id"));
    let other = plan_apply(&ctx, &imported, &conf("four"));
    assert_ne!(other.get("version_id"), imported.get("version_id"));
}

#[test]
fn plan_refuses_bad_keys_moves_and_name_clashes() {
    let (_d, ctx) = ctx();
    let inst = ctx
        .kms
        .create_instance(NewInstance {
            name: "i".into(),
            instance_type: InstanceType::Software,
            region: "r".into(),
            key_quota: 5,
            secret_quota: 5,
        })
        .unwrap();
    let shared_key = key(
        &ctx,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let inst_key = key(
        &ctx,
        Container::Instance(inst.id.clone()),
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let sign_key = key(
        &ctx,
        Container::Shared,
        KeySpec::EcP256,
        KeyUsage::SignVerify,
    );
    let conf = |name: &str, key: &str, inst: Option<&str>| {
        cfg(vec![
            ("name", name.into()),
            ("encryption_key_id", key.into()),
            ("secret_data", "v".into()),
            ("instance_id", Value::opt_string(inst)),
        ])
    };
    for (case, c) in [
        ("SIGN/VERIFY key", conf("a", &sign_key, None)),
        ("key in another container", conf("b", &inst_key, None)),
        ("missing key", conf("c", "key-missing", None)),
    ] {
        let e = plan(&ctx, &Value::Null, &c).unwrap_err();
        assert_eq!(
            first_path(&e),
            Some(AttrPath::attr("encryption_key_id")),
            "{case}: {e:?}"
        );
    }
    let s = plan_apply(&ctx, &Value::Null, &conf("a", &shared_key, None));
    let e = plan(&ctx, &Value::Null, &conf("a", &shared_key, None)).unwrap_err();
    assert_eq!(first_path(&e), Some(AttrPath::attr("name")));
    // Moving while the key stays behind: refused at plan, on instance_id,
    // with the rule the apply would enforce.
    let alone = conf("a", &shared_key, Some(&inst.id));
    let e = plan(&ctx, &s, &alone).unwrap_err();
    assert_eq!(first_path(&e), Some(AttrPath::attr("instance_id")));
    assert!(
        e[0].detail.contains(&shared_key) && e[0].detail.contains("same apply"),
        "{e:?}"
    );
    // The apply refuses it the same way (a plan made without the check).
    let mut planned = s.clone();
    planned.set("instance_id", Value::string(&inst.id));
    let e = SecretResource
        .apply(
            &ctx,
            &ApplyRequest {
                prior: s.clone(),
                planned,
                config: alone.clone(),
            },
        )
        .unwrap_err();
    assert_eq!(first_path(&e), Some(AttrPath::attr("instance_id")));
    assert!(e[0].detail.contains(&shared_key), "{e:?}");
    // When the key's own plan (earlier in the same walk) moves it there,
    // the secret's move plans cleanly as an in-place update.
    let other_ctx = ctx_sharing(&ctx);
    other_ctx
        .planned_key_moves
        .record(&shared_key, &Container::Instance(inst.id.clone()));
    let r = plan(&other_ctx, &s, &alone).unwrap();
    assert!(r.requires_replace.is_empty());
    assert_eq!(r.planned.get("instance_id"), &Value::string(&inst.id));
    let rekey = plan(&ctx, &s, &conf("a", &sign_key, None)).unwrap_err();
    assert_eq!(
        first_path(&rekey),
        Some(AttrPath::attr("encryption_key_id"))
    );
    // Another shared key: in-place update that re-seals, same version.
    let other = key(
        &ctx,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let r = plan(&ctx, &s, &conf("a", &other, None)).unwrap();
    assert!(r.requires_replace.is_empty());
    let s2 = plan_apply(&ctx, &s, &conf("a", &other, None));
    assert_eq!(s2.get("version_id"), s.get("version_id"));
    assert_eq!(s2.get("encryption_key_id"), &Value::string(&other));
    assert_eq!(
        ctx.kms
            .get_secret_value(&id_of(&s), None)
            .unwrap()
            .as_slice(),
        b"v"
    );
    // Moving together with a switch to a key of the target: one update.
    let moved = plan_apply(&ctx, &s2, &conf("a", &inst_key, Some(&inst.id)));
    assert_eq!(moved.get("instance_id"), &Value::string(&inst.id));
    assert_eq!(moved.get("encryption_key_id"), &Value::string(&inst_key));
    assert_eq!(moved.get("version_id"), s.get("version_id"));
    assert_eq!(
        ctx.kms
            .get_secret_value(&id_of(&s), None)
            .unwrap()
            .as_slice(),
        b"v"
    );
}

#[test]
fn rotation_interval_is_gone_and_old_state_upgrades() {
    let schema = SecretResource.schema();
    assert_eq!(schema.version, 1);
    assert!(
        schema
            .attributes
            .iter()
            .all(|a| a.name != "rotation_interval")
    );
    let old = object(vec![
        ("id", "sec-1".into()),
        ("rotation_interval", "30d".into()),
    ]);
    let up = SecretResource.upgrade_state(0, old).unwrap();
    assert_eq!(up, object(vec![("id", "sec-1".into())]));
}

#[test]
fn type_changes_in_place_and_adoption_without_a_value() {
    let (_d, ctx) = ctx();
    let k = key(
        &ctx,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let conf = |pairs: Vec<(&str, Value)>| {
        let base = vec![
            ("name", Value::from("typed")),
            ("encryption_key_id", Value::from(k.as_str())),
        ];
        cfg(base.into_iter().chain(pairs).collect())
    };
    // A new secret needs a value: refused at plan on secret_data_wo.
    let e = plan(&ctx, &Value::Null, &conf(vec![])).unwrap_err();
    assert_eq!(first_path(&e), Some(AttrPath::attr("secret_data_wo")));
    let s1 = plan_apply(
        &ctx,
        &Value::Null,
        &conf(vec![("secret_data", MARKER.into())]),
    );
    let id = id_of(&s1);
    // Changing the type: an in-place update (no replacement), versions kept.
    let rds = conf(vec![("secret_data", MARKER.into()), ("type", "RDS".into())]);
    let r = plan(&ctx, &s1, &rds).unwrap();
    assert!(r.requires_replace.is_empty(), "{:?}", r.requires_replace);
    assert_eq!(r.planned.get("version_id"), s1.get("version_id"));
    let s2 = plan_apply(&ctx, &s1, &rds);
    assert_eq!(s2.get("type"), &Value::string("RDS"));
    assert_eq!(s2.get("id"), s1.get("id"));
    assert_eq!(s2.get("version_id"), s1.get("version_id"));
    assert_eq!(
        ctx.kms.get_secret(&id).unwrap().secret_type,
        SecretType::Rds
    );
    // Imported and configured without a value: clean plan, value untouched.
    let imported = SecretResource.import(&ctx, &id).unwrap();
    let bare = conf(vec![("type", "RDS".into())]);
    let r = plan(&ctx, &imported, &bare).unwrap();
    assert_eq!(r.planned, imported, "no changes");
    let after = plan_apply(&ctx, &imported, &bare);
    assert_eq!(after.get("version_id"), s1.get("version_id"));
    assert_eq!(
        ctx.kms.get_secret_value(&id, None).unwrap().as_slice(),
        MARKER.as_bytes()
    );
    // A new value while the encryption key is disabled: refused at plan on
    // encryption_key_id (the apply could not seal it); metadata still plans.
    let off = crate::store::KeyUpdate {
        enabled: Some(false),
        ..Default::default()
    };
    ctx.kms.update_key(&k, off).unwrap();
    let write = conf(vec![("type", "RDS".into()), ("secret_data", "new".into())]);
    let e = plan(&ctx, &after, &write).unwrap_err();
    assert_eq!(first_path(&e), Some(AttrPath::attr("encryption_key_id")));
    assert!(e[0].detail.contains("Enabled"), "{e:?}");
    let described = conf(vec![("type", "RDS".into()), ("description", "d".into())]);
    assert!(plan(&ctx, &after, &described).is_ok());
}

#[test]
fn move_with_a_key_switch_checks_the_target_at_plan() {
    let (_d, ctx) = ctx();
    let full = ctx
        .kms
        .create_instance(NewInstance {
            name: "full".into(),
            instance_type: InstanceType::Software,
            region: "r".into(),
            key_quota: 5,
            secret_quota: 1,
        })
        .unwrap();
    let there = Container::Instance(full.id.clone());
    let aes = |c: Container| key(&ctx, c, KeySpec::Aes256, KeyUsage::EncryptDecrypt);
    let (shared_key, inst_key) = (aes(Container::Shared), aes(there.clone()));
    let conf = |name: &str, key: &str, inst: Option<&str>| {
        cfg(vec![
            ("name", name.into()),
            ("encryption_key_id", key.into()),
            ("secret_data", "v".into()),
            ("instance_id", Value::opt_string(inst)),
        ])
    };
    plan_apply(
        &ctx,
        &Value::Null,
        &conf("taken", &inst_key, Some(&full.id)),
    );
    let s = plan_apply(&ctx, &Value::Null, &conf("mover", &shared_key, None));
    let cases = [
        ("target full", &inst_key, "instance_id", "quota"),
        (
            "new key elsewhere",
            &shared_key,
            "instance_id",
            "same apply",
        ),
    ];
    for (case, k, attr, want) in cases {
        let e = plan(&ctx, &s, &conf("mover", k, Some(&full.id))).unwrap_err();
        assert_eq!(first_path(&e), Some(AttrPath::attr(attr)), "{case}: {e:?}");
        assert!(e[0].detail.contains(want), "{case}: {e:?}");
    }
    // With room in the target, a switch to an unusable key fails on the key.
    let roomy = ctx
        .kms
        .create_instance(NewInstance {
            name: "roomy".into(),
            instance_type: InstanceType::Software,
            region: "r".into(),
            key_quota: 5,
            secret_quota: 5,
        })
        .unwrap();
    let sign = key(
        &ctx,
        Container::Instance(roomy.id.clone()),
        KeySpec::EcP256,
        KeyUsage::SignVerify,
    );
    let e = plan(&ctx, &s, &conf("mover", &sign, Some(&roomy.id))).unwrap_err();
    assert_eq!(first_path(&e), Some(AttrPath::attr("encryption_key_id")));
}

#[test]
fn a_secret_follows_its_keys_planned_move_or_is_refused_when_pinned() {
    let (_d, ctx) = ctx();
    let inst = ctx
        .kms
        .create_instance(NewInstance {
            name: "dest".into(),
            instance_type: InstanceType::Software,
            region: "r".into(),
            key_quota: 5,
            secret_quota: 5,
        })
        .unwrap();
    let k = key(
        &ctx,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let conf = |placement: Value| {
        cfg(vec![
            ("name", "db".into()),
            ("encryption_key_id", k.as_str().into()),
            ("secret_data", "v".into()),
            ("instance_id", placement),
        ])
    };
    let s = plan_apply(&ctx, &Value::Null, &conf(Value::Null));
    // Before the key's plan: nothing to follow.
    let p = plan(&ctx, &s, &conf(Value::Null)).unwrap();
    assert_eq!(p.planned.get("instance_id"), &Value::Null);
    // The key's plan moved it: unset follows, pinned elsewhere is refused.
    let target = Container::Instance(inst.id.clone());
    ctx.planned_key_moves.record(&k, &target);
    let p = plan(&ctx, &s, &conf(Value::Null)).unwrap();
    assert_eq!(
        p.planned.get("instance_id").as_str(),
        Some(inst.id.as_str())
    );
    for pinned in ["shared", "kst-0123456789ab"] {
        let e = plan(&ctx, &s, &conf(pinned.into())).unwrap_err();
        assert_eq!(
            first_path(&e),
            Some(AttrPath::attr("instance_id")),
            "{pinned}"
        );
        assert!(
            e[0].detail.contains("Set instance_id to"),
            "{pinned}: {e:?}"
        );
    }
    let p = plan(&ctx, &s, &conf(inst.id.as_str().into())).unwrap();
    assert_eq!(
        p.planned.get("instance_id").as_str(),
        Some(inst.id.as_str())
    );
    // The key's move carries it; the secret's own apply then finds it there.
    ctx.kms.move_key(&k, &target).unwrap();
    let req = ApplyRequest {
        prior: s.clone(),
        planned: p.planned,
        config: conf(Value::Null),
    };
    let after = SecretResource.apply(&ctx, &req).unwrap();
    assert_eq!(after.get("instance_id").as_str(), Some(inst.id.as_str()));
    assert_eq!(ctx.kms.get_secret(&id_of(&s)).unwrap().container, target);
}
