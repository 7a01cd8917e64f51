//! The typed views of a `keyshift_key` object: what validate and plan read
//! ([`KeyConfig`], any attribute may be null or unknown), what apply reads
//! from a planned value ([`KeyArgs`], every argument known) and what a
//! prior state holds ([`KeyModel`]); and the state encoded from a store
//! [`Key`].

use super::common::{Tags, object, placement_value, tags_value, text_value};
use crate::engine::rotation;
use crate::framework::{Attr, Decoder, Model, ToValue, Value};
use crate::store::{Key, KeyOrigin, KeySpec, KeyState, KeyUsage, ProtectionLevel};

crate::string_enum_value!(
    KeySpec => KeySpec::Aes256,
    KeyUsage => KeyUsage::EncryptDecrypt,
    ProtectionLevel => ProtectionLevel::Software,
    KeyOrigin => KeyOrigin::Kms,
    KeyState => KeyState::Enabled,
);

/// A key's configuration, or its planned value while planning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyConfig {
    pub instance_id: Attr<String>,
    pub spec: Attr<KeySpec>,
    pub usage: Attr<KeyUsage>,
    pub protection_level: Attr<ProtectionLevel>,
    pub origin: Attr<KeyOrigin>,
    pub multi_version: Attr<bool>,
    pub description: Attr<String>,
    pub tags: Attr<Tags>,
    pub enabled: Attr<bool>,
    pub rotation_interval: Attr<String>,
    pub deletion_protection: Attr<bool>,
    pub deletion_window_in_days: Attr<i64>,
    /// Write-only: only a configuration carries it.
    pub key_material_wo: Attr<String>,
    pub key_material_wo_version: Attr<i64>,
}

impl Model for KeyConfig {
    fn decode(d: &mut Decoder<'_>) -> Self {
        KeyConfig {
            instance_id: d.attr("instance_id"),
            spec: d.attr("spec"),
            usage: d.attr("usage"),
            protection_level: d.attr("protection_level"),
            origin: d.attr("origin"),
            multi_version: d.attr("multi_version"),
            description: d.attr("description"),
            tags: d.attr("tags"),
            enabled: d.attr("enabled"),
            rotation_interval: d.attr("rotation_interval"),
            deletion_protection: d.attr("deletion_protection"),
            deletion_window_in_days: d.attr("deletion_window_in_days"),
            key_material_wo: d.attr("key_material_wo"),
            key_material_wo_version: d.attr("key_material_wo_version"),
        }
    }
}

/// A key's arguments as apply reads them from the planned value (the plan
/// filled in every default) and as a prior state records them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyArgs {
    pub instance_id: Option<String>,
    pub spec: KeySpec,
    pub usage: KeyUsage,
    pub protection_level: ProtectionLevel,
    pub origin: KeyOrigin,
    pub multi_version: bool,
    pub description: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: bool,
    pub rotation_interval: Option<String>,
    pub deletion_protection: bool,
    pub deletion_window_in_days: i64,
    pub key_material_wo_version: Option<i64>,
}

impl Model for KeyArgs {
    fn decode(d: &mut Decoder<'_>) -> Self {
        KeyArgs {
            instance_id: d.optional("instance_id"),
            spec: d.required("spec"),
            usage: d.required("usage"),
            protection_level: d.required("protection_level"),
            origin: d.required("origin"),
            multi_version: d.required("multi_version"),
            description: d.optional("description"),
            tags: d.optional("tags"),
            enabled: d.required("enabled"),
            rotation_interval: d.optional("rotation_interval"),
            deletion_protection: d.required("deletion_protection"),
            deletion_window_in_days: d.required("deletion_window_in_days"),
            key_material_wo_version: d.optional("key_material_wo_version"),
        }
    }
}

/// A key's prior state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyModel {
    pub id: String,
    pub state: KeyState,
    pub args: KeyArgs,
}

impl Model for KeyModel {
    fn decode(d: &mut Decoder<'_>) -> Self {
        KeyModel {
            id: d.required("id"),
            state: d.required("state"),
            args: KeyArgs::decode(d),
        }
    }
}

/// The state object of `key`. `shape` (the prior or planned arguments;
/// `None` on import and for the data source) decides null versus empty for
/// optional attributes, carries `key_material_wo_version`, and keeps
/// `enabled` as asked while the key waits for its material.
pub(crate) fn key_value(key: &Key, shape: Option<&KeyArgs>) -> Value {
    let enabled = match key.state {
        KeyState::Disabled | KeyState::PendingDeletion => false,
        KeyState::PendingImport => shape.is_none_or(|s| s.enabled),
        KeyState::Enabled => true,
    };
    let keep_empty_text = shape.is_some_and(|s| s.description.as_deref() == Some(""));
    let keep_empty_tags = shape.is_some_and(|s| s.tags.is_some());
    object(vec![
        ("id", key.id.to_value()),
        (
            "instance_id",
            placement_value(&key.container, shape.map(|s| s.instance_id.as_deref())),
        ),
        ("spec", key.spec.to_value()),
        ("usage", key.usage.to_value()),
        ("protection_level", key.protection_level.to_value()),
        ("origin", key.origin.to_value()),
        ("multi_version", key.multi_version.to_value()),
        ("description", text_value(&key.description, keep_empty_text)),
        ("tags", tags_value(&key.tags, keep_empty_tags)),
        ("enabled", enabled.to_value()),
        ("rotation_interval", key.rotation_interval.to_value()),
        ("deletion_protection", key.deletion_protection.to_value()),
        (
            "deletion_window_in_days",
            key.deletion_window_in_days.to_value(),
        ),
        ("key_material_wo", Value::Null),
        (
            "key_material_wo_version",
            shape.and_then(|s| s.key_material_wo_version).to_value(),
        ),
        ("state", key.state.to_value()),
        ("deletion_date", key.deletion_date.to_value()),
        ("current_version", key.current_version.to_value()),
        ("creation_date", key.creation_date.to_value()),
        ("last_rotation_date", key.last_rotation_date.to_value()),
        ("next_rotation_date", next_rotation_value(key)),
    ])
}

/// `next_rotation_date` of a key: null without an interval or when the key
/// cannot rotate.
fn next_rotation_value(key: &Key) -> Value {
    match rotation::next_rotation(key) {
        Ok(Some(t)) => Value::string(rotation::format_time(t)),
        Ok(None) => Value::Null,
        Err(e) => {
            tracing::warn!(key = %key.id, error = %e, "cannot compute the next rotation date");
            Value::Null
        }
    }
}
