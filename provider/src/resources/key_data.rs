//! `data.keyshift_key`: look up a key by id or alias.

use super::ProviderCtx;
use super::common::store_err;
use super::key::{key_attributes, key_value};
use crate::framework::{
    Attr, AttrType, Attribute, DataSource, Decoder, Diagnostic, Diagnostics, Model, Schema,
    ToValue, Value,
};

/// The `keyshift_key` data source type.
pub struct KeyData;

/// What the data source is asked for: a key by `id` or by `alias`.
struct KeyLookup {
    id: Attr<String>,
    alias: Attr<String>,
}

impl Model for KeyLookup {
    fn decode(d: &mut Decoder<'_>) -> Self {
        KeyLookup {
            id: d.attr("id"),
            alias: d.attr("alias"),
        }
    }
}

fn one_of_id_and_alias(detail: &str) -> Diagnostics {
    vec![Diagnostic::attr_error(
        "id",
        "Set exactly one of id and alias",
        detail,
    )]
}

impl DataSource<ProviderCtx> for KeyData {
    fn type_name(&self) -> &'static str {
        "keyshift_key"
    }

    fn schema(&self) -> Schema {
        let mut attributes: Vec<Attribute> = key_attributes()
            .into_iter()
            .filter(|a| !a.write_only && a.name != "id")
            .map(|a| Attribute::computed(a.name, a.ty, a.description))
            .collect();
        attributes.push(Attribute::optional_computed(
            "id",
            AttrType::String,
            "Key id to look up (set exactly one of `id` and `alias`).",
        ));
        attributes.push(Attribute::optional(
            "alias",
            AttrType::String,
            "Alias (`alias/...`) of the key to look up (set exactly one of `id` and `alias`).",
        ));
        Schema {
            version: 0,
            description: "Looks up a key by id or alias.",
            attributes,
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (c, mut diags) = KeyLookup::from_value_partial(config);
        let (id, alias) = (&c.id, &c.alias);
        if !(id.is_unknown() || alias.is_unknown() || id.is_null() != alias.is_null()) {
            diags.extend(one_of_id_and_alias(
                "data.keyshift_key needs either `id` or `alias`, not both and not neither",
            ));
        }
        diags
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, Diagnostics> {
        let c = KeyLookup::from_value(config)?;
        let Some(wanted) = c.id.known().or(c.alias.known()) else {
            return Err(one_of_id_and_alias("neither was set"));
        };
        let key = ctx
            .kms
            .resolve_key(wanted)
            .map_err(store_err("Key not found"))?;
        let mut v = key_value(&key, None);
        if let Some(o) = v.as_object_mut() {
            o.remove("key_material_wo");
            o.remove("key_material_wo_version");
        }
        v.set("alias", c.alias.to_value());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Container, KeySpec, KeyState, KeyUsage, NewKey};

    #[test]
    fn enabled_is_true_only_for_enabled_keys() {
        let dir = tempfile::tempdir().unwrap();
        let kms = crate::engine::Kms::open(dir.path(), "test").unwrap();
        let key = kms
            .create_key(NewKey::new(
                Container::Shared,
                KeySpec::Aes256,
                KeyUsage::EncryptDecrypt,
            ))
            .unwrap();
        let pending = kms.schedule_key_deletion(&key.id, Some(7)).unwrap();
        for (name, k, enabled, date) in [
            ("enabled", key.clone(), true, None),
            (
                "disabled",
                crate::store::Key {
                    state: KeyState::Disabled,
                    ..key.clone()
                },
                false,
                None,
            ),
            (
                "pending deletion",
                pending.clone(),
                false,
                pending.deletion_date.clone(),
            ),
        ] {
            let v = key_value(&k, None);
            assert_eq!(v.get("enabled"), &Value::Bool(enabled), "{name}");
            assert_eq!(v.get("deletion_date"), &Value::opt_string(date), "{name}");
        }
    }
}
