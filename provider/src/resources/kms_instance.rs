//! `keyshift_kms_instance`: a dedicated KMS instance.

use super::ProviderCtx;
use super::common::{create_diag, default_if_null, object, store_diag, store_err};
use crate::engine::validate;
use crate::framework::{
    ApplyRequest, Attr, AttrType, Attribute, Decoder, Diagnostic, Diagnostics, Model, PlanRequest,
    PlanResponse, Resource, Schema, ToValue, Value, default_plan,
};
use crate::store::{
    Instance, InstanceStatus, InstanceType, InstanceUpdate, NewInstance, StoreError,
};

/// Default key quota of a new instance.
pub(crate) const DEFAULT_KEY_QUOTA: i64 = 1000;
/// Default secret quota of a new instance.
pub(crate) const DEFAULT_SECRET_QUOTA: i64 = 100;

/// The `keyshift_kms_instance` resource type.
pub struct KmsInstance;

/// The attributes of an instance, shared with the data source.
pub(crate) fn instance_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("id", AttrType::String, "Instance id, `kst-` followed by 12 lowercase hex digits."),
        Attribute::required("name", AttrType::String, "Display name, unique in the key store. Changing it replaces the instance.").force_new(),
        Attribute::optional_computed("type", AttrType::String, "`software` (default) or `hardware` (accepts only single-version AES_256 keys by migration). Changing it replaces the instance.").force_new(),
        Attribute::optional_computed("region", AttrType::String, "Region of the instance. Default: the provider's `region`. Changing it replaces the instance.").force_new(),
        Attribute::optional_computed("key_quota", AttrType::Number, "Maximum number of keys (default 1000). Updatable; not below the number of keys held."),
        Attribute::optional_computed("secret_quota", AttrType::Number, "Maximum number of secrets (default 100). Updatable; not below the number of secrets held."),
        Attribute::computed("status", AttrType::String, "`active`, `migrating` or `deleting`.").volatile(),
        Attribute::computed("created_at", AttrType::String, "Creation time (RFC 3339)."),
    ]
}

crate::string_enum_value!(InstanceType => InstanceType::Software, InstanceStatus => InstanceStatus::Active);

/// An instance's configuration (validate and plan).
struct InstanceConfig {
    name: Attr<String>,
    instance_type: Attr<InstanceType>,
    region: Attr<String>,
    key_quota: Attr<i64>,
    secret_quota: Attr<i64>,
    force_destroy: Attr<bool>,
}

impl Model for InstanceConfig {
    fn decode(d: &mut Decoder<'_>) -> Self {
        InstanceConfig {
            name: d.attr("name"),
            instance_type: d.attr("type"),
            region: d.attr("region"),
            key_quota: d.attr("key_quota"),
            secret_quota: d.attr("secret_quota"),
            force_destroy: d.attr("force_destroy"),
        }
    }
}

/// An instance's planned value at apply (every default filled in).
struct InstanceArgs {
    name: String,
    instance_type: InstanceType,
    region: String,
    key_quota: i64,
    secret_quota: i64,
    force_destroy: bool,
}

impl Model for InstanceArgs {
    fn decode(d: &mut Decoder<'_>) -> Self {
        InstanceArgs {
            name: d.required("name"),
            instance_type: d.required("type"),
            region: d.required("region"),
            key_quota: d.required("key_quota"),
            secret_quota: d.required("secret_quota"),
            force_destroy: d.required("force_destroy"),
        }
    }
}

/// An instance's prior state.
struct InstanceModel {
    id: String,
    force_destroy: bool,
}

impl Model for InstanceModel {
    fn decode(d: &mut Decoder<'_>) -> Self {
        InstanceModel {
            id: d.required("id"),
            force_destroy: d.required("force_destroy"),
        }
    }
}

/// The state object of an instance (without the resource's `force_destroy`).
pub(crate) fn instance_value(i: &Instance) -> Value {
    object(vec![
        ("id", i.id.to_value()),
        ("name", i.name.to_value()),
        ("type", i.instance_type.to_value()),
        ("region", i.region.to_value()),
        ("key_quota", i.key_quota.to_value()),
        ("secret_quota", i.secret_quota.to_value()),
        ("status", i.status.to_value()),
        ("created_at", i.created_at.to_value()),
    ])
}

fn state_of(i: &Instance, force_destroy: bool) -> Value {
    let mut v = instance_value(i);
    v.set("force_destroy", Value::Bool(force_destroy));
    v
}

/// Quotas must be positive (the engine's rule), on `attr`.
fn check_quota(attr: &'static str, v: &Attr<i64>, diags: &mut Diagnostics) {
    if let Some(Err(_)) = v.known().map(|&n| validate::quota(attr, n)) {
        diags.push(Diagnostic::attr_error(
            attr,
            format!("Invalid {attr}"),
            "must be a whole number greater than 0",
        ));
    }
}

impl Resource<ProviderCtx> for KmsInstance {
    fn type_name(&self) -> &'static str {
        "keyshift_kms_instance"
    }

    fn schema(&self) -> Schema {
        let mut attributes = instance_attributes();
        attributes.push(Attribute::optional_computed(
            "force_destroy",
            AttrType::Bool,
            "Allow `terraform destroy` of an instance that still holds keys or secrets: its secrets are erased (dangerous) and its keys are scheduled for deletion with their own `deletion_window_in_days`. Default false.",
        ));
        Schema {
            version: 0,
            description: "A dedicated KMS instance: a container for keys and secrets. Destroy never erases key material early: an instance still holding keys pending deletion goes to status `deleting` and leaves Terraform state; it takes no new keys or secrets, and its name stays taken, until it is purged with its last key once every key's deletion window has passed. `keyshift instance restore ID` brings it back with its keys (as `Disabled`). An instance in status `deleting` is removed from state on refresh.",
            attributes,
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (c, mut diags) = InstanceConfig::from_value_partial(config);
        check_quota("key_quota", &c.key_quota, &mut diags);
        check_quota("secret_quota", &c.secret_quota, &mut diags);
        if let Some(Err(e)) = c.name.known().map(|n| validate::non_blank("name", n)) {
            diags.push(store_diag("Invalid name", &e));
        }
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut resp = default_plan(&self.schema(), req);
        if req.is_create() {
            let c = InstanceConfig::from_value(&req.config)?;
            let p = &mut resp.planned;
            let software = InstanceType::Software.to_value();
            default_if_null(p, c.instance_type.is_null(), "type", software);
            let region = ctx.config.region.to_value();
            default_if_null(p, c.region.is_null(), "region", region);
            let keys = Value::Int(DEFAULT_KEY_QUOTA);
            default_if_null(p, c.key_quota.is_null(), "key_quota", keys);
            let secrets = Value::Int(DEFAULT_SECRET_QUOTA);
            default_if_null(p, c.secret_quota.is_null(), "secret_quota", secrets);
            default_if_null(
                p,
                c.force_destroy.is_null(),
                "force_destroy",
                Value::Bool(false),
            );
            p.set("status", InstanceStatus::Active.to_value());
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        if req.is_destroy() {
            let prior = InstanceModel::from_value(&req.prior)?;
            return match ctx.kms.delete_instance(&prior.id, prior.force_destroy) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(store_err("Cannot destroy KMS instance")(e)),
            };
        }
        let p = InstanceArgs::from_value(&req.planned)?;
        let inst = if req.is_create() {
            let name = p.name.clone();
            let new = NewInstance {
                name: p.name,
                instance_type: p.instance_type,
                region: p.region,
                key_quota: p.key_quota,
                secret_quota: p.secret_quota,
            };
            ctx.kms.create_instance(new).map_err(|e| {
                let what = format!("KMS instance {name:?}");
                let find = || ctx.kms.find_instance_by_name(&name).ok().map(|i| i.id);
                let kind = ("keyshift_kms_instance", what.as_str(), "name");
                vec![create_diag("Cannot create KMS instance", &e, kind, find)]
            })?
        } else {
            let prior = InstanceModel::from_value(&req.prior)?;
            let upd = InstanceUpdate {
                key_quota: Some(p.key_quota),
                secret_quota: Some(p.secret_quota),
            };
            ctx.kms
                .update_instance(&prior.id, upd)
                .map_err(store_err("Cannot update KMS instance"))?
        };
        Ok(state_of(&inst, p.force_destroy))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        let prior = InstanceModel::from_value(state)?;
        match ctx.kms.get_instance(&prior.id) {
            Ok(i) if i.status == InstanceStatus::Deleting => Ok(Value::Null),
            Ok(i) => Ok(state_of(&i, prior.force_destroy)),
            Err(StoreError::NotFound { .. }) => Ok(Value::Null),
            Err(e) => Err(store_err("Cannot read KMS instance")(e)),
        }
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, Diagnostics> {
        let i = ctx
            .kms
            .get_instance(id)
            .map_err(store_err("Cannot import KMS instance"))?;
        if i.status == InstanceStatus::Deleting {
            return Err(vec![Diagnostic::error(
                "Cannot import KMS instance",
                format!(
                    "instance {} is being deleted; restore it first with `keyshift instance restore {}`",
                    i.id, i.id
                ),
            )]);
        }
        Ok(state_of(&i, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::common::object;

    #[test]
    fn validation_cases() {
        let r = KmsInstance;
        for (name, cfg, expect) in [
            (
                "ok",
                object(vec![("name", "a".into()), ("type", "hardware".into())]),
                None,
            ),
            (
                "bad type",
                object(vec![("name", "a".into()), ("type", "quantum".into())]),
                Some("type"),
            ),
            (
                "zero quota",
                object(vec![("name", "a".into()), ("key_quota", Value::Int(0))]),
                Some("key_quota"),
            ),
            (
                "unknown quota skipped",
                object(vec![("name", "a".into()), ("key_quota", Value::Unknown)]),
                None,
            ),
            (
                "empty name",
                object(vec![("name", " ".into())]),
                Some("name"),
            ),
        ] {
            let d = r.validate(&cfg);
            match expect {
                None => assert!(d.is_empty(), "{name}: {d:?}"),
                Some(attr) => assert_eq!(
                    d.first().and_then(|d| d.path.clone()),
                    Some(crate::framework::AttrPath::attr(attr)),
                    "{name}"
                ),
            }
        }
    }
}
