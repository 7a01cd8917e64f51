//! Helpers shared by the resource and data source modules: reading typed
//! attributes, building state objects, turning store errors into
//! diagnostics with attribute paths.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::framework::{AttrPath, Diagnostic, Diagnostics, Object, PlanRequest, Value};
use crate::store::{Container, StoreError};

/// The error diagnostic for a failed store call; `Invalid { field }` errors
/// point at that attribute.
pub(crate) fn store_diag(summary: &str, err: &StoreError) -> Diagnostic {
    let d = Diagnostic::error(summary, err.to_string());
    match err {
        StoreError::Invalid { field, .. } => d.at(AttrPath::attr(field)),
        _ => d,
    }
}

/// `store_diag` wrapped as the `Err` of a resource call.
pub(crate) fn store_err(summary: &str) -> impl Fn(StoreError) -> Diagnostics + '_ {
    move |e| vec![store_diag(summary, &e)]
}

/// The error for a create that found the object it would make already in
/// the store (typically after an interrupted apply or a lost state): names
/// the existing object's id and the exact `terraform import` / `import {}`
/// that adopts it. `what` is e.g. `KMS instance "app"`; `resource_type`
/// the resource (`keyshift_kms_instance`), whose address only Terraform
/// knows.
pub(crate) fn already_exists_diag(
    resource_type: &str,
    what: &str,
    existing_id: &str,
) -> Diagnostic {
    Diagnostic::error(
        format!("{what} already exists"),
        format!(
            "{what} already exists in the key store (id {existing_id}). If it is the object this \
             {resource_type} should manage (for example after an interrupted apply), adopt it \
             instead of creating it:\n\n  terraform import <address of this {resource_type}> \
             {existing_id}\n\nor add to the configuration:\n\n  import {{\n    to = <address of \
             this {resource_type}>\n    id = \"{existing_id}\"\n  }}\n\nOtherwise choose another name."
        ),
    )
}

/// The diagnostic for a failed create: when the store already holds an
/// object of that name and `existing` finds its id, the
/// [`already_exists_diag`] for it, at `attr`; otherwise [`store_diag`].
pub(crate) fn create_diag(
    summary: &str,
    err: &StoreError,
    (resource_type, what, attr): (&str, &str, &str),
    existing: impl FnOnce() -> Option<String>,
) -> Diagnostic {
    if let StoreError::AlreadyExists { .. } = err {
        if let Some(id) = existing() {
            return already_exists_diag(resource_type, what, &id).at(AttrPath::attr(attr));
        }
    }
    store_diag(summary, err)
}

/// [`already_exists_diag`] for a `keyshift_secret` whose name is taken in
/// its container by the secret `id`.
pub(crate) fn secret_exists_diag(container: &Container, name: &str, id: &str) -> Diagnostic {
    let what = format!("Secret {name:?} in {container}");
    already_exists_diag("keyshift_secret", &what, id).at(AttrPath::attr("name"))
}

/// A failed store call about an object the resource refers to through
/// `attr` (an alias's `key_id`, a key's `instance_id`): not found or not
/// usable (`NotFound`, `Conflict`) points at `attr`; anything else is a
/// plain [`store_diag`].
pub(crate) fn reference_diag(summary: &str, attr: &str, err: &StoreError) -> Diagnostic {
    match err {
        StoreError::NotFound { .. } | StoreError::Conflict(_) => {
            Diagnostic::error(summary, err.to_string()).at(AttrPath::attr(attr))
        }
        _ => store_diag(summary, err),
    }
}

/// At plan time, on create or when `attr` changes: the object a known,
/// non-null reference attribute names must pass `check` (exist, be usable),
/// so a bad reference fails `terraform plan`, not halfway through an apply.
pub(crate) fn check_reference(
    req: &PlanRequest,
    planned: &Value,
    attr: &str,
    summary: &str,
    check: impl FnOnce(&str) -> Result<(), StoreError>,
) -> Result<(), Diagnostics> {
    let Some(id) = planned.get(attr).as_str() else {
        return Ok(());
    };
    if !req.is_create() && !changed(&req.prior, planned, attr) {
        return Ok(());
    }
    check(id).map_err(|e| vec![reference_diag(summary, attr, &e)])
}

/// A known, non-null string attribute.
pub(crate) fn opt_str(v: &Value, attr: &str) -> Option<String> {
    v.get(attr).as_str().map(str::to_string)
}

/// A known string attribute, or `default` when null/unknown.
pub(crate) fn str_or(v: &Value, attr: &str, default: &str) -> String {
    opt_str(v, attr).unwrap_or_else(|| default.to_string())
}

/// A known boolean attribute, or `default`.
pub(crate) fn bool_or(v: &Value, attr: &str, default: bool) -> bool {
    v.get(attr).as_bool().unwrap_or(default)
}

/// A known integer attribute, or `default`.
pub(crate) fn int_or(v: &Value, attr: &str, default: i64) -> i64 {
    v.get(attr).as_i64().unwrap_or(default)
}

/// Parses a known string attribute into `T`; the error names the attribute.
pub(crate) fn parse_attr<T: FromStr<Err = String>>(
    v: &Value,
    attr: &str,
    default: T,
) -> Result<T, Diagnostics> {
    match v.get(attr).as_str() {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|e: String| vec![Diagnostic::attr_error(attr, format!("Invalid {attr}"), e)]),
    }
}

/// Adds a diagnostic when a known string attribute is not a valid `T`.
pub(crate) fn check_enum<T: FromStr<Err = String>>(
    config: &Value,
    attr: &str,
    diags: &mut Diagnostics,
) {
    if let Some(s) = config.get(attr).as_str() {
        if let Err(e) = s.parse::<T>() {
            diags.push(Diagnostic::attr_error(attr, format!("Invalid {attr}"), e));
        }
    }
}

/// The entries of a known `map(string)` attribute (empty when null).
pub(crate) fn tags_of(v: &Value, attr: &str) -> BTreeMap<String, String> {
    v.get(attr)
        .as_map()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A `map(string)` value for `tags`: null when empty, unless `shape` (the
/// prior or planned value) was an empty map, so read-back matches config.
pub(crate) fn tags_value(tags: &BTreeMap<String, String>, shape: &Value) -> Value {
    if tags.is_empty() && !matches!(shape, Value::Map(_)) {
        return Value::Null;
    }
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::string(v)))
            .collect(),
    )
}

/// A string value that is null when empty, unless `shape` held `""`.
pub(crate) fn text_value(s: &str, shape: &Value) -> Value {
    if s.is_empty() && shape.as_str() != Some("") {
        Value::Null
    } else {
        Value::string(s)
    }
}

/// An object value from `(name, value)` pairs.
pub(crate) fn object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Object>(),
    )
}

/// In a plan, sets `attr` to `default` when the configuration leaves it null
/// (Optional+Computed attributes with a known default).
pub(crate) fn default_if_null(planned: &mut Value, config: &Value, attr: &str, default: Value) {
    if config.get(attr).is_null() {
        planned.set(attr, default);
    }
}

/// True when an attribute's planned value differs from its prior value.
pub(crate) fn changed(prior: &Value, planned: &Value, attr: &str) -> bool {
    prior.get(attr) != planned.get(attr)
}

/// Checks `kst-` + 12 lowercase hex digits.
pub(crate) fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("kst-")
        .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Adds an error when a known `instance_id`-style attribute is malformed.
pub(crate) fn check_instance_id(config: &Value, attr: &str, diags: &mut Diagnostics) {
    if let Some(s) = config.get(attr).as_str() {
        if !is_instance_id(s) {
            diags.push(Diagnostic::attr_error(
                attr,
                "Invalid instance id",
                format!("{s:?} is not a KMS instance id (expected kst- followed by 12 lowercase hex digits)"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids() {
        for (name, id, ok) in [
            ("valid", "kst-0123456789ab", true),
            ("uppercase", "kst-0123456789AB", false),
            ("short", "kst-0123", false),
            ("prefix", "key-0123456789ab", false),
        ] {
            assert_eq!(is_instance_id(id), ok, "{name}");
        }
    }

    #[test]
    fn empty_tags_follow_shape() {
        let empty = BTreeMap::new();
        assert_eq!(tags_value(&empty, &Value::Null), Value::Null);
        assert_eq!(
            tags_value(&empty, &Value::Map(BTreeMap::new())),
            Value::Map(BTreeMap::new())
        );
        assert_eq!(text_value("", &Value::Null), Value::Null);
        assert_eq!(text_value("", &Value::string("")), Value::string(""));
    }

    #[test]
    fn already_exists_names_the_id_and_the_import() {
        let d = already_exists_diag("keyshift_alias", "Alias \"alias/app\"", "alias/app");
        assert_eq!(d.summary, "Alias \"alias/app\" already exists");
        for want in [
            "(id alias/app)",
            "terraform import <address of this keyshift_alias> alias/app",
            "id = \"alias/app\"",
        ] {
            assert!(d.detail.contains(want), "{want}: {}", d.detail);
        }
    }

    #[test]
    fn invalid_field_gets_a_path() {
        let e = StoreError::Invalid {
            field: "spec",
            message: "bad".into(),
        };
        assert_eq!(store_diag("x", &e).path, Some(AttrPath::attr("spec")));
    }
}
