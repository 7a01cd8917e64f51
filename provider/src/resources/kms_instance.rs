//! `keyshift_kms_instance`: a dedicated KMS instance.

use super::ProviderCtx;
use super::common::{
    bool_or, check_enum, create_diag, default_if_null, int_or, object, opt_str, parse_attr,
    store_diag, store_err, str_or,
};
use crate::engine::validate;
use crate::framework::{
    ApplyRequest, AttrType, Attribute, Diagnostic, Diagnostics, PlanRequest, PlanResponse,
    Resource, Schema, Value, default_plan,
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
        Attribute::computed("status", AttrType::String, "`active`, `migrating` or `deleting`."),
        Attribute::computed("created_at", AttrType::String, "Creation time (RFC 3339)."),
    ]
}

/// The state object of an instance (`force_destroy` taken from `shape`).
pub(crate) fn instance_value(i: &Instance) -> Value {
    object(vec![
        ("id", Value::string(&i.id)),
        ("name", Value::string(&i.name)),
        ("type", Value::string(i.instance_type.as_str())),
        ("region", Value::string(&i.region)),
        ("key_quota", Value::Int(i.key_quota)),
        ("secret_quota", Value::Int(i.secret_quota)),
        ("status", Value::string(i.status.as_str())),
        ("created_at", Value::string(&i.created_at)),
    ])
}

fn state_of(i: &Instance, force_destroy: bool) -> Value {
    let mut v = instance_value(i);
    v.set("force_destroy", Value::Bool(force_destroy));
    v
}

/// Quotas must be positive whole numbers.
pub(crate) fn check_quota(config: &Value, attr: &'static str, diags: &mut Diagnostics) {
    match config.get(attr) {
        Value::Null | Value::Unknown => {}
        v => {
            if v.as_i64().is_none_or(|n| validate::quota(attr, n).is_err()) {
                diags.push(Diagnostic::attr_error(
                    attr,
                    format!("Invalid {attr}"),
                    "must be a whole number greater than 0",
                ));
            }
        }
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
        let mut diags = Vec::new();
        check_enum::<InstanceType>(config, "type", &mut diags);
        check_quota(config, "key_quota", &mut diags);
        check_quota(config, "secret_quota", &mut diags);
        if let Some(Err(e)) = config
            .get("name")
            .as_str()
            .map(|n| validate::non_blank("name", n))
        {
            diags.push(store_diag("Invalid name", &e));
        }
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut resp = default_plan(&self.schema(), req);
        if req.is_create() {
            let p = &mut resp.planned;
            default_if_null(p, &req.config, "type", Value::string("software"));
            default_if_null(p, &req.config, "region", Value::string(&ctx.config.region));
            default_if_null(p, &req.config, "key_quota", Value::Int(DEFAULT_KEY_QUOTA));
            default_if_null(
                p,
                &req.config,
                "secret_quota",
                Value::Int(DEFAULT_SECRET_QUOTA),
            );
            default_if_null(p, &req.config, "force_destroy", Value::Bool(false));
            p.set("status", Value::string("active"));
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        let force = bool_or(&req.planned, "force_destroy", false);
        if req.is_destroy() {
            let id = str_or(&req.prior, "id", "");
            let force = bool_or(&req.prior, "force_destroy", false);
            return match ctx.kms.delete_instance(&id, force) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(store_err("Cannot destroy KMS instance")(e)),
            };
        }
        let p = &req.planned;
        let inst = if req.is_create() {
            let name = str_or(p, "name", "");
            let new = NewInstance {
                name: name.clone(),
                instance_type: parse_attr(p, "type", InstanceType::Software)?,
                region: str_or(p, "region", &ctx.config.region),
                key_quota: int_or(p, "key_quota", DEFAULT_KEY_QUOTA),
                secret_quota: int_or(p, "secret_quota", DEFAULT_SECRET_QUOTA),
            };
            ctx.kms.create_instance(new).map_err(|e| {
                let what = format!("KMS instance {name:?}");
                let find = || ctx.kms.find_instance_by_name(&name).ok().map(|i| i.id);
                let kind = ("keyshift_kms_instance", what.as_str(), "name");
                vec![create_diag("Cannot create KMS instance", &e, kind, find)]
            })?
        } else {
            let id = str_or(&req.prior, "id", "");
            let upd = InstanceUpdate {
                key_quota: p.get("key_quota").as_i64(),
                secret_quota: p.get("secret_quota").as_i64(),
            };
            ctx.kms
                .update_instance(&id, upd)
                .map_err(store_err("Cannot update KMS instance"))?
        };
        Ok(state_of(&inst, force))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        let id = opt_str(state, "id").unwrap_or_default();
        match ctx.kms.get_instance(&id) {
            Ok(i) if i.status == InstanceStatus::Deleting => Ok(Value::Null),
            Ok(i) => Ok(state_of(&i, bool_or(state, "force_destroy", false))),
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
