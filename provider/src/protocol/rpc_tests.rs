//! The `Provider` service over a fake provider, called directly (no network).

use std::sync::Arc;

use tonic::Request;

use crate::framework::{
    ApplyRequest, AttrType, Attribute, DataSource, Diagnostic, Diagnostics, EphemeralResource,
    Provider, Resource, Schema, Value,
};
use crate::protocol::ProviderService;
use crate::protocol::codec::{decode_msgpack, encode_msgpack};
use crate::protocol::proto::tfplugin5 as pb;
use pb::provider_server::Provider as _;

struct Fake;
struct Widget;

fn widget_schema() -> Schema {
    Schema {
        version: 1,
        description: "A widget.",
        attributes: vec![
            Attribute::computed("id", AttrType::String, "Id."),
            Attribute::required("spec", AttrType::String, "Spec.").force_new(),
            Attribute::optional("secret_wo", AttrType::String, "Secret.").write_only(),
        ],
    }
}

impl Resource<String> for Widget {
    fn type_name(&self) -> &'static str {
        "fake_widget"
    }
    fn schema(&self) -> Schema {
        widget_schema()
    }
    fn validate(&self, config: &Value) -> Diagnostics {
        match config.get("spec").as_str() {
            Some("bad") => vec![Diagnostic::attr_error("spec", "Bad spec", "no")],
            _ => Vec::new(),
        }
    }
    fn apply(&self, _: &String, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        if req.planned.get("spec").as_str() == Some("fail") {
            return Err(Diagnostic::error("Apply failed", "boom").into());
        }
        let mut v = req.planned.clone();
        v.set("id", "w-1".into());
        // A buggy resource leaking a write-only value: the layer scrubs it.
        v.set("secret_wo", req.config.get("secret_wo").clone());
        Ok(v)
    }
    fn read(&self, _: &String, state: &Value) -> Result<Value, Diagnostics> {
        Ok(if state.get("id").as_str() == Some("gone") {
            Value::Null
        } else {
            state.clone()
        })
    }
    fn import(&self, ctx: &String, id: &str) -> Result<Value, Diagnostics> {
        Ok(obj(&[("id", id.into()), ("spec", ctx.as_str().into())]))
    }
    fn upgrade_state(&self, version: i64, mut state: Value) -> Result<Value, Diagnostics> {
        if version == 0 {
            state.set("spec", "upgraded".into());
        }
        Ok(state)
    }
}

impl Provider for Fake {
    type Ctx = String;
    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "Fake.",
            attributes: vec![Attribute::optional(
                "store_path",
                AttrType::String,
                "Store.",
            )],
        }
    }
    fn configure(&self, config: &Value, _: &str) -> Result<String, Diagnostics> {
        Ok(config
            .get("store_path")
            .as_str()
            .unwrap_or("default")
            .to_string())
    }
    fn resources(&self) -> Vec<Arc<dyn Resource<String>>> {
        vec![Arc::new(Widget)]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<String>>> {
        Vec::new()
    }
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource<String>>> {
        vec![Arc::new(Token)]
    }
}

/// A fake ephemeral resource: `token` is the context and `name` joined.
struct Token;

fn token_schema() -> Schema {
    Schema {
        version: 0,
        description: "A token.",
        attributes: vec![
            Attribute::required("name", AttrType::String, "Name."),
            Attribute::computed("token", AttrType::String, "Token.").sensitive(),
        ],
    }
}

impl EphemeralResource<String> for Token {
    fn type_name(&self) -> &'static str {
        "fake_token"
    }
    fn schema(&self) -> Schema {
        token_schema()
    }
    fn validate(&self, config: &Value) -> Diagnostics {
        match config.get("name").as_str() {
            Some("bad") => vec![Diagnostic::attr_error("name", "Bad name", "no")],
            _ => Vec::new(),
        }
    }
    fn open(&self, ctx: &String, config: &Value) -> Result<Value, Diagnostics> {
        let name = config.get("name").as_str().unwrap_or_default();
        if name == "missing" {
            return Err(vec![Diagnostic::attr_error("name", "Not found", "none")]);
        }
        Ok(obj(&[
            ("name", name.into()),
            ("token", format!("{ctx}:{name}").as_str().into()),
        ]))
    }
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

fn dv(v: &Value) -> Option<pb::DynamicValue> {
    let msgpack = encode_msgpack(v, &widget_schema().object_type()).unwrap();
    Some(pb::DynamicValue {
        msgpack,
        json: Vec::new(),
    })
}

fn val(d: &Option<pb::DynamicValue>) -> Value {
    decode_msgpack(&d.as_ref().unwrap().msgpack, &widget_schema().object_type()).unwrap()
}

async fn configured() -> ProviderService<Fake> {
    let svc = ProviderService::new(Fake);
    let cfg = encode_msgpack(
        &obj(&[("store_path", "/s".into())]),
        &Fake.schema().object_type(),
    )
    .unwrap();
    let r = svc
        .configure(Request::new(pb::configure::Request {
            terraform_version: "1.11.4".into(),
            config: Some(pb::DynamicValue {
                msgpack: cfg,
                json: Vec::new(),
            }),
            client_capabilities: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty());
    svc
}

fn summaries(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter().map(|d| d.summary.clone()).collect()
}

#[tokio::test]
async fn calls_before_configure_are_diagnosed() {
    let svc = ProviderService::new(Fake);
    let r = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "fake_widget".into(),
            current_state: dv(&obj(&[("id", "w".into())])),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&r.diagnostics), ["Provider not configured"]);
}

#[tokio::test]
async fn unknown_type_and_garbage_become_diagnostics() {
    let svc = configured().await;
    let r = svc
        .validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
            type_name: "fake_nope".into(),
            config: dv(&Value::Null),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&r.diagnostics), ["Unknown resource type"]);
    let r = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "fake_widget".into(),
            config: Some(pb::DynamicValue {
                msgpack: vec![0xc1, 0x00],
                json: Vec::new(),
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summaries(&r.diagnostics),
        ["Invalid configuration received from Terraform"]
    );
    assert!(r.planned_state.is_none());
}

#[tokio::test]
async fn validate_points_at_the_attribute() {
    let svc = configured().await;
    let r = svc
        .validate_resource_type_config(Request::new(pb::validate_resource_type_config::Request {
            type_name: "fake_widget".into(),
            config: dv(&obj(&[("spec", "bad".into()), ("id", Value::Unknown)])),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&r.diagnostics), ["Bad spec"]);
    let step = r.diagnostics[0].attribute.as_ref().unwrap().steps[0]
        .selector
        .clone();
    assert_eq!(
        step,
        Some(pb::attribute_path::step::Selector::AttributeName(
            "spec".into()
        ))
    );
}

#[tokio::test]
async fn plan_marks_unknowns_replacements_and_scrubs_write_only() {
    let svc = configured().await;
    let config = obj(&[("spec", "a".into()), ("secret_wo", "s3cret".into())]);
    let r = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "fake_widget".into(),
            prior_state: dv(&Value::Null),
            proposed_new_state: dv(&config),
            config: dv(&config),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let planned = val(&r.planned_state);
    assert_eq!(planned.get("id"), &Value::Unknown);
    assert_eq!(planned.get("secret_wo"), &Value::Null);

    let prior = obj(&[("id", "w-1".into()), ("spec", "a".into())]);
    let changed = obj(&[("id", "w-1".into()), ("spec", "b".into())]);
    let r = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "fake_widget".into(),
            prior_state: dv(&prior),
            proposed_new_state: dv(&changed),
            config: dv(&changed),
            prior_private: b"keep".to_vec(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.requires_replace.len(), 1);
    assert_eq!(r.planned_private, b"keep");
}

#[tokio::test]
async fn apply_scrubs_write_only_and_keeps_prior_on_failure() {
    let svc = configured().await;
    let config = obj(&[("spec", "a".into()), ("secret_wo", "s3cret".into())]);
    let planned = obj(&[("id", Value::Unknown), ("spec", "a".into())]);
    let r = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "fake_widget".into(),
            prior_state: dv(&Value::Null),
            planned_state: dv(&planned),
            config: dv(&config),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let new = val(&r.new_state);
    assert_eq!(new.get("id"), &Value::from("w-1"));
    assert_eq!(
        new.get("secret_wo"),
        &Value::Null,
        "write-only never reaches state"
    );

    let prior = obj(&[("id", "w-1".into()), ("spec", "a".into())]);
    let fail = obj(&[("id", "w-1".into()), ("spec", "fail".into())]);
    let r = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "fake_widget".into(),
            prior_state: dv(&prior),
            planned_state: dv(&fail),
            config: dv(&fail),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&r.diagnostics), ["Apply failed"]);
    let mut kept = prior;
    kept.set("secret_wo", Value::Null);
    assert_eq!(
        val(&r.new_state),
        kept,
        "a failed apply reports the prior state"
    );
}

#[tokio::test]
async fn read_of_a_gone_object_is_msgpack_nil() {
    let svc = configured().await;
    let r = svc
        .read_resource(Request::new(pb::read_resource::Request {
            type_name: "fake_widget".into(),
            current_state: dv(&obj(&[("id", "gone".into())])),
            private: b"p".to_vec(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty());
    assert_eq!(r.new_state.unwrap().msgpack, vec![0xc0]);
    assert_eq!(r.private, b"p");
}

#[tokio::test]
async fn upgrade_json_state_and_refuse_flatmap() {
    let svc = configured().await;
    let r = svc
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "fake_widget".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: br#"{"id":"w-1","spec":"old","dropped":1}"#.to_vec(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let up = val(&r.upgraded_state);
    assert_eq!(
        up,
        obj(&[
            ("id", "w-1".into()),
            ("spec", "upgraded".into()),
            ("secret_wo", Value::Null)
        ])
    );

    let r = svc
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "fake_widget".into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: Vec::new(),
                flatmap: [("id".to_string(), "w".to_string())].into_iter().collect(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summaries(&r.diagnostics),
        ["Legacy state format not supported"]
    );
}

#[tokio::test]
async fn import_uses_the_configured_context() {
    let svc = configured().await;
    let r = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: "fake_widget".into(),
            id: "w-9".into(),
            client_capabilities: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.imported_resources.len(), 1);
    assert_eq!(r.imported_resources[0].type_name, "fake_widget");
    let state = val(&r.imported_resources[0].state);
    assert_eq!(state.get("id"), &Value::from("w-9"));
    assert_eq!(state.get("spec"), &Value::from("/s"));
}

#[tokio::test]
async fn unsupported_features_and_stop() {
    let svc = configured().await;
    let m = svc
        .move_resource_state(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        m.diagnostics[0]
            .summary
            .contains("not supported by the keyshift provider")
    );
    let e = svc
        .open_ephemeral_resource(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.diagnostics[0].summary, "Unknown ephemeral resource type");
    assert!(e.result.is_none());
    let f = svc
        .get_functions(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(f.functions.is_empty() && f.diagnostics.is_empty());
    let c = svc
        .call_function(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        c.error
            .unwrap()
            .text
            .contains("not supported by the keyshift provider")
    );
    let s = svc
        .get_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(s.resource_schemas.contains_key("fake_widget"));
    assert!(s.server_capabilities.unwrap().plan_destroy);
    assert!(!svc.is_stopped());
    let stop = svc
        .stop(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(stop.error.is_empty());
    assert!(svc.is_stopped());
}

fn token_dv(name: &str) -> Option<pb::DynamicValue> {
    let v = obj(&[("name", name.into()), ("token", Value::Null)]);
    let msgpack = encode_msgpack(&v, &token_schema().object_type()).unwrap();
    Some(pb::DynamicValue {
        msgpack,
        json: Vec::new(),
    })
}

#[tokio::test]
async fn ephemeral_resources_are_listed_validated_and_opened() {
    let unconfigured = ProviderService::new(Fake);
    let open = |name: &str| pb::open_ephemeral_resource::Request {
        type_name: "fake_token".into(),
        config: token_dv(name),
        client_capabilities: None,
    };
    let early = unconfigured
        .open_ephemeral_resource(Request::new(open("a")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&early.diagnostics), ["Provider not configured"]);

    let svc = configured().await;
    let meta = svc
        .get_metadata(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(meta.ephemeral_resources[0].type_name, "fake_token");
    let schema = svc
        .get_schema(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    let block = schema.ephemeral_resource_schemas["fake_token"]
        .block
        .clone()
        .unwrap();
    assert!(
        block
            .attributes
            .iter()
            .any(|a| a.name == "token" && a.sensitive)
    );

    let v = svc
        .validate_ephemeral_resource_config(Request::new(
            pb::validate_ephemeral_resource_config::Request {
                type_name: "fake_token".into(),
                config: token_dv("bad"),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&v.diagnostics), ["Bad name"]);
    assert!(v.diagnostics[0].attribute.is_some());

    let ok = svc
        .open_ephemeral_resource(Request::new(open("a")))
        .await
        .unwrap()
        .into_inner();
    assert!(
        ok.diagnostics.is_empty(),
        "{:?}",
        summaries(&ok.diagnostics)
    );
    assert!(ok.renew_at.is_none() && ok.private.is_none());
    let result =
        decode_msgpack(&ok.result.unwrap().msgpack, &token_schema().object_type()).unwrap();
    assert_eq!(result.get("token"), &Value::from("/s:a"));

    let failed = svc
        .open_ephemeral_resource(Request::new(open("missing")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&failed.diagnostics), ["Not found"]);
    assert!(failed.result.is_none());

    let renew = svc
        .renew_ephemeral_resource(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(renew.diagnostics.is_empty());
    let close = svc
        .close_ephemeral_resource(Request::new(Default::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(close.diagnostics.is_empty());
}
