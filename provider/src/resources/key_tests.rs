//! Unit tests of `keyshift_key` validation and helpers.

use super::*;
use crate::framework::AttrPath;
use crate::resources::common::object;
use crate::store::KeyUsage;

fn cfg(pairs: Vec<(&str, Value)>) -> Value {
    object(pairs)
}

#[test]
fn validation_names_the_attribute() {
    let material = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("default AES", cfg(vec![]), None),
        (
            "bad spec",
            cfg(vec![("spec", "AES_128".into())]),
            Some("spec"),
        ),
        (
            "window 40",
            cfg(vec![("deletion_window_in_days", Value::Int(40))]),
            Some("deletion_window_in_days"),
        ),
        (
            "window 6",
            cfg(vec![("deletion_window_in_days", Value::Int(6))]),
            Some("deletion_window_in_days"),
        ),
        (
            "window 7",
            cfg(vec![("deletion_window_in_days", Value::Int(7))]),
            None,
        ),
        (
            "sign on AES",
            cfg(vec![
                ("spec", "AES_256".into()),
                ("usage", "SIGN/VERIFY".into()),
            ]),
            Some("usage"),
        ),
        (
            "sign on default spec",
            cfg(vec![("usage", "SIGN/VERIFY".into())]),
            Some("usage"),
        ),
        (
            "encrypt on EC",
            cfg(vec![
                ("spec", "EC_P256".into()),
                ("usage", "ENCRYPT/DECRYPT".into()),
            ]),
            Some("usage"),
        ),
        (
            "RSA sign ok",
            cfg(vec![
                ("spec", "RSA_2048".into()),
                ("usage", "SIGN/VERIFY".into()),
            ]),
            None,
        ),
        (
            "unknown spec skipped",
            cfg(vec![
                ("spec", Value::Unknown),
                ("usage", "SIGN/VERIFY".into()),
            ]),
            None,
        ),
        (
            "bad instance id",
            cfg(vec![("instance_id", "kst-XYZ".into())]),
            Some("instance_id"),
        ),
        (
            "rotation 1d",
            cfg(vec![("rotation_interval", "1d".into())]),
            Some("rotation_interval"),
        ),
        (
            "rotation 30d multi-version",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("multi_version", Value::Bool(true)),
            ]),
            None,
        ),
        (
            "rotation on a single-version key",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("multi_version", Value::Bool(false)),
            ]),
            Some("rotation_interval"),
        ),
        (
            "rotation with multi_version unset: decided at plan",
            cfg(vec![("rotation_interval", "30d".into())]),
            None,
        ),
        (
            "rotation on RSA",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("spec", "RSA_2048".into()),
            ]),
            Some("rotation_interval"),
        ),
        (
            "rotation on EXTERNAL",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("origin", "EXTERNAL".into()),
                ("multi_version", Value::Bool(true)),
            ]),
            Some("rotation_interval"),
        ),
        (
            "rotation with unknown multi_version skipped",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("multi_version", Value::Unknown),
            ]),
            None,
        ),
        (
            "material on KMS key",
            cfg(vec![
                ("key_material_wo", material.clone().into()),
                ("key_material_wo_version", Value::Int(1)),
            ]),
            Some("key_material_wo"),
        ),
        (
            "material ok",
            cfg(vec![
                ("origin", "EXTERNAL".into()),
                ("key_material_wo", material.into()),
                ("key_material_wo_version", Value::Int(1)),
            ]),
            None,
        ),
        (
            "material short",
            cfg(vec![
                ("origin", "EXTERNAL".into()),
                ("key_material_wo", short.into()),
                ("key_material_wo_version", Value::Int(1)),
            ]),
            Some("key_material_wo"),
        ),
        (
            "external RSA",
            cfg(vec![
                ("origin", "EXTERNAL".into()),
                ("spec", "RSA_2048".into()),
            ]),
            Some("origin"),
        ),
        (
            "multi-version EC",
            cfg(vec![
                ("spec", "EC_P256".into()),
                ("multi_version", Value::Bool(true)),
            ]),
            Some("multi_version"),
        ),
    ];
    for (name, c, expect) in cases {
        let d = KeyResource.validate(&c);
        match expect {
            None => assert!(d.is_empty(), "{name}: {d:?}"),
            Some(a) => assert_eq!(
                d.first().and_then(|d| d.path.clone()),
                Some(AttrPath::attr(a)),
                "{name}: {d:?}"
            ),
        }
    }
}

#[test]
fn material_never_in_messages() {
    let secret = base64::engine::general_purpose::STANDARD.encode(*b"0123456789abcdef");
    let c = cfg(vec![
        ("origin", "EXTERNAL".into()),
        ("key_material_wo", secret.clone().into()),
        ("key_material_wo_version", Value::Int(1)),
    ]);
    for d in KeyResource.validate(&c) {
        assert!(!d.detail.contains(&secret) && !d.summary.contains(&secret));
    }
}

#[test]
fn rotation_refusal_says_why_and_how_to_fix() {
    let d = KeyResource.validate(&cfg(vec![
        ("rotation_interval", "90d".into()),
        ("multi_version", Value::Bool(false)),
    ]));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].summary, "Key cannot rotate");
    assert!(
        d[0].detail.contains("single-version") && d[0].detail.contains("multi_version = true"),
        "{}",
        d[0].detail
    );
}

/// A full configuration: every attribute null, then `pairs`.
fn full(pairs: Vec<(&str, Value)>) -> Value {
    let mut v = object(
        key_attributes()
            .iter()
            .map(|a| (a.name, Value::Null))
            .collect(),
    );
    for (k, x) in pairs {
        v.set(k, x);
    }
    v
}

fn ctx() -> (tempfile::TempDir, ProviderCtx) {
    use crate::framework::Provider;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let c = crate::resources::KeyshiftProvider.configure(
        &object(vec![("store_path", Value::string(store))]),
        "1.11.0",
    );
    (dir, c.unwrap_or_else(|_| panic!("configure failed")))
}

/// Plans like Terraform: the proposal is the configuration plus prior
/// values of computed attributes the configuration leaves null.
fn plan(ctx: &ProviderCtx, prior: &Value, config: &Value) -> Result<Value, Diagnostics> {
    let mut proposed = config.clone();
    if !prior.is_null() {
        for a in key_attributes()
            .iter()
            .filter(|a| a.computed && config.get(a.name).is_null())
        {
            proposed.set(a.name, prior.get(a.name).clone());
        }
    }
    let req = PlanRequest {
        prior: prior.clone(),
        proposed,
        config: config.clone(),
    };
    KeyResource.plan(ctx, &req).map(|r| r.planned)
}

#[test]
fn plan_refuses_intervals_that_can_never_rotate_and_plans_rotation_dates() {
    let (_d, ctx) = ctx();
    let interval = || ("rotation_interval", Value::from("30d"));
    let refused = plan(&ctx, &Value::Null, &full(vec![interval()])).unwrap_err();
    assert_eq!(refused[0].path, Some(AttrPath::attr("rotation_interval")));
    assert!(refused[0].detail.contains("single-version"), "{refused:?}");

    let multi = ("multi_version", Value::Bool(true));
    let p = plan(&ctx, &Value::Null, &full(vec![interval(), multi.clone()])).unwrap();
    assert_eq!(p.get("last_rotation_date"), &Value::Null);
    assert_eq!(p.get("next_rotation_date"), &Value::Unknown);
    let p = plan(&ctx, &Value::Null, &full(vec![])).unwrap();
    assert_eq!(p.get("next_rotation_date"), &Value::Null);

    // An existing multi-version key whose configuration omits multi_version
    // (e.g. after an import): the interval is fine, the next date unknown.
    let mut nk = NewKey::new(Container::Shared, KeySpec::Aes256, KeyUsage::EncryptDecrypt);
    nk.multi_version = true;
    let key = ctx.kms.create_key(nk).unwrap();
    let prior = key_value(&key, None);
    let p = plan(&ctx, &prior, &full(vec![interval()])).unwrap();
    assert_eq!(p.get("multi_version"), &Value::Bool(true));
    assert_eq!(p.get("next_rotation_date"), &Value::Unknown);
    assert_eq!(p.get("current_version"), prior.get("current_version"));
    // Unchanged interval: the next date stays as it is.
    let rotating = ctx
        .kms
        .update_key(
            &key.id,
            KeyUpdate {
                rotation_interval: Some(Some("30d".into())),
                ..KeyUpdate::default()
            },
        )
        .unwrap();
    let prior = key_value(&rotating, None);
    assert!(prior.get("next_rotation_date").as_str().is_some());
    let p = plan(&ctx, &prior, &full(vec![interval()])).unwrap();
    assert_eq!(p.get("next_rotation_date"), prior.get("next_rotation_date"));

    // A single-version key gaining an interval: refused at plan.
    let single = ctx
        .kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap();
    let prior = key_value(&single, None);
    let refused = plan(&ctx, &prior, &full(vec![interval()])).unwrap_err();
    assert_eq!(refused[0].path, Some(AttrPath::attr("rotation_interval")));
}

/// A state the provider cannot read is an error on the attribute, never a
/// default: a key whose state lost its id is not silently dropped from
/// state (refresh) or reported destroyed (apply) as `get_key("")` would.
#[test]
fn a_bad_state_is_a_diagnostic_on_the_attribute() {
    let (_d, ctx) = ctx();
    let key = ctx
        .kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap();
    let good = key_value(&key, None);
    assert_eq!(KeyResource.read(&ctx, &good).unwrap(), good);
    let with = |attr: &str, v: Value| {
        let mut s = good.clone();
        s.set(attr, v);
        s
    };
    let cases = [
        ("no id", with("id", Value::Null), "id", "Missing id"),
        ("unknown id", with("id", Value::Unknown), "id", "Unknown id"),
        (
            "mistyped enabled",
            with("enabled", "yes".into()),
            "enabled",
            "Invalid enabled",
        ),
        (
            "spec not a spec",
            with("spec", "AES_128".into()),
            "spec",
            "Invalid spec",
        ),
        (
            "tags not strings",
            with("tags", Value::Map([("a".into(), Value::Int(1))].into())),
            "tags",
            "Invalid tags",
        ),
    ];
    for (name, state, attr, summary) in cases {
        let destroy = ApplyRequest {
            prior: state.clone(),
            planned: Value::Null,
            config: Value::Null,
        };
        for (op, r) in [
            ("read", KeyResource.read(&ctx, &state)),
            ("destroy", KeyResource.apply(&ctx, &destroy)),
        ] {
            let d = r.unwrap_err();
            assert_eq!(d.len(), 1, "{name} {op}: {d:?}");
            assert_eq!(d[0].path, Some(AttrPath::attr(attr)), "{name} {op}");
            assert_eq!(d[0].summary, summary, "{name} {op}");
        }
    }
    assert_eq!(ctx.kms.get_key(&key.id).unwrap().state, KeyState::Enabled);
}
