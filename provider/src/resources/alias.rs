//! `keyshift_alias`: an `alias/...` name for one key; re-pointing is an update.

use super::ProviderCtx;
use super::common::{check_reference, create_diag, object, reference_diag, store_err};
use crate::engine::migration_rules::SERVICE_ALIAS_PREFIX;
use crate::engine::validate;
use crate::framework::{
    ApplyRequest, Attr, AttrType, Attribute, Decoder, Diagnostic, Diagnostics, Model, PlanRequest,
    PlanResponse, Resource, Schema, ToValue, Value, default_plan,
};
use crate::store::{Alias, StoreError};

/// The `keyshift_alias` resource type.
pub struct AliasResource;

/// Checks an alias name: the engine's rule ([`validate::alias_name`]), and
/// the service-key prefix `alias/acs/` is not for Terraform-managed aliases.
pub(crate) fn check_alias_name(name: &str) -> Result<(), String> {
    validate::alias_name(name).map_err(|e| match e {
        StoreError::Invalid { message, .. } => message,
        other => other.to_string(),
    })?;
    if name.starts_with(SERVICE_ALIAS_PREFIX) {
        return Err(format!(
            "{name:?}: the {SERVICE_ALIAS_PREFIX} prefix is reserved for service keys"
        ));
    }
    Ok(())
}

/// An alias's configuration, or its planned value while planning.
struct AliasConfig {
    name: Attr<String>,
    key_id: Attr<String>,
}

impl Model for AliasConfig {
    fn decode(d: &mut Decoder<'_>) -> Self {
        AliasConfig {
            name: d.attr("name"),
            key_id: d.attr("key_id"),
        }
    }
}

/// An alias's state, or its planned value at apply.
struct AliasModel {
    name: String,
    key_id: String,
}

impl Model for AliasModel {
    fn decode(d: &mut Decoder<'_>) -> Self {
        AliasModel {
            name: d.required("name"),
            key_id: d.required("key_id"),
        }
    }
}

fn state_of(a: &Alias) -> Value {
    object(vec![
        ("id", a.name.to_value()),
        ("name", a.name.to_value()),
        ("key_id", a.key_id.to_value()),
    ])
}

impl Resource<ProviderCtx> for AliasResource {
    fn type_name(&self) -> &'static str {
        "keyshift_alias"
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "An alias (`alias/...`) pointing at one key. Re-pointing the alias at another key is an in-place update.",
            attributes: vec![
                Attribute::computed("id", AttrType::String, "Same as `name`."),
                Attribute::required("name", AttrType::String, "Alias name, starting with `alias/` (7 to 255 characters: letters, digits, `/`, `_`, `-`; `alias/acs/` is reserved). Changing it replaces the alias.").force_new(),
                Attribute::required("key_id", AttrType::String, "Id of the key the alias points at. Updatable."),
            ],
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (c, mut diags) = AliasConfig::from_value_partial(config);
        if let Some(Err(e)) = c.name.known().map(String::as_str).map(check_alias_name) {
            diags.push(Diagnostic::attr_error("name", "Invalid alias name", e));
        }
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let resp = default_plan(&self.schema(), req);
        if req.is_destroy() {
            return Ok(resp);
        }
        let planned = AliasConfig::from_value(&resp.planned)?;
        let due = if req.is_create() {
            true
        } else {
            let prior = AliasModel::from_value(&req.prior)?;
            planned.key_id.changes(Some(&prior.key_id))
        };
        check_reference(&planned.key_id, due, ("key_id", "Invalid key_id"), |id| {
            ctx.kms.check_alias_target(id)
        })?;
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        if req.is_destroy() {
            let prior = AliasModel::from_value(&req.prior)?;
            return match ctx.kms.delete_alias(&prior.name) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(store_err("Cannot delete alias")(e)),
            };
        }
        let AliasModel { name, key_id } = AliasModel::from_value(&req.planned)?;
        let a = if req.is_create() {
            ctx.kms.create_alias(&name, &key_id).map_err(|e| match e {
                StoreError::AlreadyExists { .. } => {
                    let what = format!("Alias {name:?}");
                    let kind = ("keyshift_alias", what.as_str(), "name");
                    vec![create_diag("Cannot create alias", &e, kind, || {
                        Some(name.clone())
                    })]
                }
                _ => vec![reference_diag("Cannot create alias", "key_id", &e)],
            })?
        } else {
            ctx.kms
                .update_alias(&name, &key_id)
                .map_err(|e| vec![reference_diag("Cannot update alias", "key_id", &e)])?
        };
        Ok(state_of(&a))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        let prior = AliasModel::from_value(state)?;
        match ctx.kms.get_alias(&prior.name) {
            Ok(a) => Ok(state_of(&a)),
            Err(StoreError::NotFound { .. }) => Ok(Value::Null),
            Err(e) => Err(store_err("Cannot read alias")(e)),
        }
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, Diagnostics> {
        let a = ctx
            .kms
            .get_alias(id)
            .map_err(store_err("Cannot import alias"))?;
        Ok(state_of(&a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        for (case, name, ok) in [
            ("plain", "alias/app", true),
            ("nested", "alias/team/app-1_x", true),
            ("no prefix", "app", false),
            ("too short", "alias/", false),
            ("bad char", "alias/a b", false),
            ("reserved", "alias/acs/rds", false),
        ] {
            assert_eq!(check_alias_name(name).is_ok(), ok, "{case}");
        }
    }
}
