//! `data.keyshift_kms_instance`: look up an instance by id or name.

use super::ProviderCtx;
use super::common::store_err;
use super::kms_instance::{instance_attributes, instance_value};
use crate::framework::{AttrType, Attribute, DataSource, Diagnostic, Diagnostics, Schema, Value};

/// The `keyshift_kms_instance` data source type.
pub struct KmsInstanceData;

impl DataSource<ProviderCtx> for KmsInstanceData {
    fn type_name(&self) -> &'static str {
        "keyshift_kms_instance"
    }

    fn schema(&self) -> Schema {
        let attributes = instance_attributes()
            .into_iter()
            .map(|a| match a.name {
                "id" => Attribute::optional_computed(
                    "id",
                    AttrType::String,
                    "Instance id to look up (set exactly one of `id` and `name`).",
                ),
                "name" => Attribute::optional_computed(
                    "name",
                    AttrType::String,
                    "Instance name to look up (set exactly one of `id` and `name`).",
                ),
                _ => Attribute::computed(a.name, a.ty, a.description),
            })
            .collect();
        Schema {
            version: 0,
            description: "Looks up a KMS instance by id or name.",
            attributes,
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (id, name) = (config.get("id"), config.get("name"));
        if id.is_unknown() || name.is_unknown() || id.is_null() != name.is_null() {
            return Vec::new();
        }
        vec![Diagnostic::attr_error(
            "id",
            "Set exactly one of id and name",
            "data.keyshift_kms_instance needs either `id` or `name`, not both and not neither",
        )]
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, Diagnostics> {
        let inst = match (config.get("id").as_str(), config.get("name").as_str()) {
            (Some(id), _) => ctx.kms.get_instance(id),
            (None, Some(name)) => ctx.kms.find_instance_by_name(name),
            (None, None) => {
                return Err(vec![Diagnostic::attr_error(
                    "id",
                    "Set exactly one of id and name",
                    "neither was set",
                )]);
            }
        }
        .map_err(store_err("KMS instance not found"))?;
        Ok(instance_value(&inst))
    }
}
