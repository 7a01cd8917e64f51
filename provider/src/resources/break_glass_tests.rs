//! Tests of `keyshift_break_glass` planning against a real (temporary)
//! key store: a grant is fixed under its change request, a ttl written
//! differently but of the same length keeps the plan clean, a new change
//! request replaces.

use super::*;
use crate::framework::Provider;
use crate::resources::KeyshiftProvider;
use crate::store::{Container, KeySpec, KeyUsage, NewKey};

fn ctx() -> (tempfile::TempDir, ProviderCtx) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let c = KeyshiftProvider.configure(
        &object(vec![("store_path", Value::string(store))]),
        "1.11.0",
    );
    (dir, c.unwrap_or_else(|_| panic!("configure failed")))
}

fn cfg(key: &str, pairs: Vec<(&str, Value)>) -> Value {
    let mut v = object(attributes().iter().map(|a| (a.name, Value::Null)).collect());
    v.set("change_request", Value::string("CHG0030001"));
    v.set("principal", Value::string("oncall"));
    v.set("key_ids", Value::Set(vec![Value::string(key)]));
    v.set("permissions", Value::Set(vec![Value::string("decrypt")]));
    v.set("ttl", Value::string("1h"));
    v.set("credential_key_id", Value::string(key));
    for (k, x) in pairs {
        v.set(k, x);
    }
    v
}

fn plan(ctx: &ProviderCtx, prior: &Value, config: &Value) -> Result<PlanResponse, Diagnostics> {
    let mut proposed = config.clone();
    if !prior.is_null() {
        for a in attributes()
            .iter()
            .filter(|a| a.computed && config.get(a.name).is_null())
        {
            proposed.set(a.name, prior.get(a.name).clone());
        }
    }
    BreakGlassResource.plan(
        ctx,
        &PlanRequest {
            prior: prior.clone(),
            proposed,
            config: config.clone(),
        },
    )
}

#[test]
fn a_grant_is_fixed_under_its_change_request() {
    let (_d, ctx) = ctx();
    let key = ctx
        .kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap()
        .id;
    let config = cfg(&key, vec![]);
    let planned = plan(&ctx, &Value::Null, &config).unwrap().planned;
    assert!(planned.get("status").is_unknown());
    let state = BreakGlassResource
        .apply(
            &ctx,
            &ApplyRequest {
                prior: Value::Null,
                planned,
                config: config.clone(),
            },
        )
        .unwrap_or_else(|_| panic!("apply failed"));
    assert_eq!(state.get("status").as_str(), Some("active"));
    assert_eq!(
        BreakGlassResource.read(&ctx, &state).ok(),
        Some(state.clone()),
        "refresh is stable"
    );

    let same_len = plan(
        &ctx,
        &state,
        &cfg(&key, vec![("ttl", Value::string("60m"))]),
    )
    .unwrap();
    assert_eq!(
        same_len.planned.get("ttl").as_str(),
        Some("1h"),
        "same length: no change"
    );
    assert!(same_len.requires_replace.is_empty());

    let cases: Vec<(&str, Value)> = vec![
        ("ttl", Value::string("2h")),
        ("principal", Value::string("someone-else")),
        (
            "permissions",
            Value::Set(vec![Value::string("decrypt"), Value::string("encrypt")]),
        ),
        ("reason", Value::string("more")),
    ];
    // A change under the same change request: a warning at plan (an error
    // would block a destroy), refused at apply.
    for (attr, v) in cases {
        let config = cfg(&key, vec![(attr, v)]);
        let p = plan(&ctx, &state, &config).unwrap_or_else(|_| panic!("{attr}: plan failed"));
        let w = &p.warnings;
        assert_eq!(w.len(), 1, "{attr}: {w:?}");
        assert_eq!(w[0].severity, crate::framework::Severity::Warning, "{attr}");
        let req = ApplyRequest {
            prior: state.clone(),
            planned: p.planned,
            config,
        };
        let d = BreakGlassResource
            .apply(&ctx, &req)
            .err()
            .unwrap_or_else(|| panic!("{attr}: applied"));
        for d in [&w[0], &d[0]] {
            assert_eq!(d.path, Some(AttrPath::attr(attr)), "{attr}");
            assert!(
                d.detail.contains("use a new change_request"),
                "{attr}: {}",
                d.detail
            );
        }
        assert_eq!(d[0].severity, crate::framework::Severity::Error, "{attr}");
    }
    let new_cr = plan(
        &ctx,
        &state,
        &cfg(&key, vec![("change_request", Value::string("CHG0030002"))]),
    )
    .unwrap();
    assert_eq!(
        new_cr.requires_replace,
        vec![AttrPath::attr("change_request")]
    );
    // The same change request and principal again (state lost): refused at plan.
    let d = plan(&ctx, &Value::Null, &config)
        .err()
        .unwrap_or_else(|| panic!("re-issue accepted"));
    assert!(
        d[0].detail
            .contains("breaking glass again needs a new change request"),
        "{}",
        d[0].detail
    );
}
