//! The typed views of a `keyshift_secret` object: what validate and plan
//! read ([`SecretConfig`], any attribute may be null or unknown), what apply
//! reads from a planned value and a prior state holds ([`SecretArgs`],
//! [`SecretModel`]); and the state encoded from a store [`Secret`].

use super::common::{Tags, object, placement_value, tags_value, text_value};
use crate::framework::{Attr, Decoder, Model, ToValue, Value};
use crate::store::{Secret, SecretType};

crate::string_enum_value!(SecretType => SecretType::Generic);

/// A secret's configuration, or its planned value while planning.
pub(super) struct SecretConfig {
    pub(super) name: Attr<String>,
    pub(super) instance_id: Attr<String>,
    pub(super) secret_type: Attr<SecretType>,
    pub(super) encryption_key_id: Attr<String>,
    /// Write-only: only a configuration carries it.
    pub(super) secret_data_wo: Attr<String>,
    pub(super) secret_data_wo_version: Attr<i64>,
    pub(super) secret_data: Attr<String>,
}

impl Model for SecretConfig {
    fn decode(d: &mut Decoder<'_>) -> Self {
        SecretConfig {
            name: d.attr("name"),
            instance_id: d.attr("instance_id"),
            secret_type: d.attr("type"),
            encryption_key_id: d.attr("encryption_key_id"),
            secret_data_wo: d.attr("secret_data_wo"),
            secret_data_wo_version: d.attr("secret_data_wo_version"),
            secret_data: d.attr("secret_data"),
        }
    }
}

/// A secret's arguments: its planned value at apply, or a prior state's.
pub(super) struct SecretArgs {
    pub(super) name: String,
    pub(super) instance_id: Option<String>,
    pub(super) secret_type: SecretType,
    pub(super) encryption_key_id: String,
    pub(super) description: Option<String>,
    pub(super) tags: Option<Tags>,
    pub(super) secret_data_wo_version: Option<i64>,
    pub(super) secret_data: Option<String>,
}

impl Model for SecretArgs {
    fn decode(d: &mut Decoder<'_>) -> Self {
        SecretArgs {
            name: d.required("name"),
            instance_id: d.optional("instance_id"),
            secret_type: d.required("type"),
            encryption_key_id: d.required("encryption_key_id"),
            description: d.optional("description"),
            tags: d.optional("tags"),
            secret_data_wo_version: d.optional("secret_data_wo_version"),
            secret_data: d.optional("secret_data"),
        }
    }
}

/// A secret's prior state.
pub(super) struct SecretModel {
    pub(super) id: String,
    pub(super) args: SecretArgs,
}

impl Model for SecretModel {
    fn decode(d: &mut Decoder<'_>) -> Self {
        SecretModel {
            id: d.required("id"),
            args: SecretArgs::decode(d),
        }
    }
}

/// The state object of `s`. Values never come from the store: `shape` (the
/// prior or planned arguments) carries `secret_data` and
/// `secret_data_wo_version`, and decides null versus empty.
pub(super) fn secret_state(s: &Secret, shape: Option<&SecretArgs>) -> Value {
    let keep_empty_text = shape.is_some_and(|a| a.description.as_deref() == Some(""));
    let keep_empty_tags = shape.is_some_and(|a| a.tags.is_some());
    object(vec![
        ("id", s.id.to_value()),
        ("name", s.name.to_value()),
        (
            "instance_id",
            placement_value(&s.container, shape.map(|a| a.instance_id.as_deref())),
        ),
        ("type", s.secret_type.to_value()),
        ("encryption_key_id", s.encryption_key_id.to_value()),
        ("description", text_value(&s.description, keep_empty_text)),
        ("tags", tags_value(&s.tags, keep_empty_tags)),
        ("secret_data_wo", Value::Null),
        (
            "secret_data_wo_version",
            shape.and_then(|a| a.secret_data_wo_version).to_value(),
        ),
        (
            "secret_data",
            shape.and_then(|a| a.secret_data.clone()).to_value(),
        ),
        ("version_id", s.current_version_id.to_value()),
    ])
}
