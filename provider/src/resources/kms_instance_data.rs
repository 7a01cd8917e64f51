//! `data.keyshift_kms_instance`: look up an instance by id or name.

use super::ProviderCtx;
use super::common::store_err;
use super::kms_instance::{instance_attributes, instance_value};
use crate::framework::{
    Attr, AttrType, Attribute, DataSource, Decoder, Diagnostic, Diagnostics, Model, Schema, Value,
};

/// The `keyshift_kms_instance` data source type.
pub struct KmsInstanceData;

/// What the data source is asked for: an instance by `id` or by `name`.
struct InstanceLookup {
    id: Attr<String>,
    name: Attr<String>,
}

impl Model for InstanceLookup {
    fn decode(d: &mut Decoder<'_>) -> Self {
        InstanceLookup {
            id: d.attr("id"),
            name: d.attr("name"),
        }
    }
}

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
        let (c, mut diags) = InstanceLookup::from_value_partial(config);
        let (id, name) = (&c.id, &c.name);
        if id.is_unknown() || name.is_unknown() || id.is_null() != name.is_null() {
            return diags;
        }
        diags.push(Diagnostic::attr_error(
            "id",
            "Set exactly one of id and name",
            "data.keyshift_kms_instance needs either `id` or `name`, not both and not neither",
        ));
        diags
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, Diagnostics> {
        let c = InstanceLookup::from_value(config)?;
        let inst = match (c.id.known(), c.name.known()) {
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
