//! Built-in knowledge about resource types: which ones carry key material
//! and which attribute records the migration target.

use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Resource types whose deletion or replacement destroys key material
/// (the CI gate refuses plans that delete or replace them). `--key-type`
/// extends this list.
pub const KEY_BEARING_TYPES: &[&str] = &[
    "keyshift_key",
    "keyshift_secret",
    "keyshift_ekms_config",
    "aws_kms_key",
    "alicloud_kms_key",
    "alicloud_kms_secret",
    "google_kms_crypto_key",
    "azurerm_key_vault_key",
    "vault_transit_secret_backend_key",
];

/// Preset migration attributes (`TYPE.ATTR`). `--attr` adds more.
pub const MIGRATION_ATTR_PRESETS: &[(&str, &str)] = &[
    ("keyshift_key", "instance_id"),
    ("keyshift_secret", "instance_id"),
    ("alicloud_kms_key", "dkms_instance_id"),
    ("alicloud_kms_secret", "dkms_instance_id"),
];

/// The `TYPE` of `--attr '*.ATTR'`: every resource type.
pub const ANY_TYPE: &str = "*";

/// A `--attr` value that is not of the form `TYPE.ATTR`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid --attr {0:?}: expected TYPE.ATTR, e.g. keyshift_key.instance_id")]
pub struct AttrSpecError(pub String);

/// The set of migration attributes per resource type.
#[derive(Debug, Clone, Default)]
pub struct MigrationAttrs {
    by_type: BTreeMap<String, BTreeSet<String>>,
}

impl MigrationAttrs {
    /// The presets plus every `TYPE.ATTR` in `extra`. `TYPE` may be
    /// [`ANY_TYPE`] (`*.ATTR`): the user declares that every resource type
    /// carries `ATTR` (only the bulk mode `--insert-everywhere` uses that).
    pub fn with_presets<S: AsRef<str>>(extra: &[S]) -> Result<Self, AttrSpecError> {
        let mut attrs = Self::default();
        for (ty, attr) in MIGRATION_ATTR_PRESETS {
            attrs.add(ty, attr);
        }
        for spec in extra {
            let spec = spec.as_ref();
            match spec.split_once('.') {
                Some((ty, attr)) if (is_ident(ty) || ty == ANY_TYPE) && is_ident(attr) => {
                    attrs.add(ty, attr)
                }
                _ => return Err(AttrSpecError(spec.to_owned())),
            }
        }
        Ok(attrs)
    }

    /// The resource types that carry `attr` (sorted; may include
    /// [`ANY_TYPE`]).
    pub fn types_with(&self, attr: &str) -> Vec<&str> {
        self.by_type
            .iter()
            .filter(|(_, set)| set.contains(attr))
            .map(|(ty, _)| ty.as_str())
            .collect()
    }

    fn add(&mut self, ty: &str, attr: &str) {
        self.by_type
            .entry(ty.to_owned())
            .or_default()
            .insert(attr.to_owned());
    }

    /// The migration attributes of resource type `ty` (possibly none).
    pub fn for_type(&self, ty: &str) -> impl Iterator<Item = &str> {
        self.by_type
            .get(ty)
            .into_iter()
            .flat_map(|set| set.iter().map(String::as_str))
    }

    /// Whether `attr` is a migration attribute of `ty`.
    pub fn contains(&self, ty: &str, attr: &str) -> bool {
        self.by_type.get(ty).is_some_and(|set| set.contains(attr))
    }

    /// `TYPE.ATTR, ...` of every migration attribute, for messages.
    pub fn describe(&self) -> String {
        self.by_type
            .iter()
            .flat_map(|(ty, set)| set.iter().map(move |a| format!("{ty}.{a}")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether `ty` has any migration attribute.
    pub fn has_type(&self, ty: &str) -> bool {
        self.by_type.contains_key(ty)
    }
}

/// The set of key-bearing resource types.
#[derive(Debug, Clone)]
pub struct KeyTypes(BTreeSet<String>);

impl KeyTypes {
    /// [`KEY_BEARING_TYPES`] plus `extra`.
    pub fn with_defaults<S: AsRef<str>>(extra: &[S]) -> Self {
        let mut set: BTreeSet<String> = KEY_BEARING_TYPES.iter().map(|s| (*s).to_owned()).collect();
        set.extend(extra.iter().map(|s| s.as_ref().to_owned()));
        Self(set)
    }

    /// Whether `ty` is key-bearing.
    pub fn contains(&self, ty: &str) -> bool {
        self.0.contains(ty)
    }
}

/// Whether `s` is a valid HCL identifier (ASCII subset).
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_specs() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("presets only", &[], true),
            ("extra", &["terraform_data.input"], true),
            ("no dot", &["terraform_data"], false),
            ("empty attr", &["terraform_data."], false),
            ("bad ident", &["1x.y"], false),
            ("any type", &["*.placement"], true),
            ("any attr is no wildcard", &["terraform_data.*"], false),
        ];
        for (name, extra, ok) in cases {
            assert_eq!(MigrationAttrs::with_presets(extra).is_ok(), *ok, "{name}");
        }
        let attrs = MigrationAttrs::with_presets(&["terraform_data.input"]).unwrap();
        assert!(attrs.contains("keyshift_key", "instance_id"));
        assert!(attrs.contains("terraform_data", "input"));
        assert!(!attrs.contains("terraform_data", "output"));
        assert_eq!(
            attrs.types_with("instance_id"),
            ["keyshift_key", "keyshift_secret"]
        );
        assert_eq!(attrs.types_with("input"), ["terraform_data"]);
        assert!(attrs.types_with("nothing").is_empty());
    }
}
