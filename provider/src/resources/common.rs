//! Helpers shared by the resource and data source modules: building state
//! objects, turning store errors into
//! diagnostics with attribute paths.

use std::collections::BTreeMap;

use crate::engine::validate;
use crate::framework::{Attr, AttrPath, Diagnostic, Diagnostics, Object, ToValue, Value};
use crate::store::{Container, StoreError};

/// The error diagnostic for a failed store call; `Invalid { field }` errors
/// point at that attribute. A store that cannot be reached is said so in
/// the summary instead of `summary`, whatever the call was about: it says
/// nothing about the resource or its attributes. An object a store move
/// took to another store (`Moved`, found through the tombstone it left)
/// says so in the summary, and its detail names the new store: a refresh or
/// import against the old store fails on it rather than dropping it from
/// state, so no later apply re-creates it with new material.
pub(crate) fn store_diag(summary: &str, err: &StoreError) -> Diagnostic {
    match err {
        StoreError::Unreachable(_) => Diagnostic::error("Key store unreachable", err.to_string()),
        StoreError::Invalid { field, .. } => {
            Diagnostic::error(summary, err.to_string()).at(AttrPath::attr(field))
        }
        StoreError::Moved(_) => Diagnostic::error(
            format!("{summary}: it was moved to another key store"),
            err.to_string(),
        ),
        _ => Diagnostic::error(summary, err.to_string()),
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

/// At plan time, on create or when the reference changes (`due`): the
/// object a known, non-null reference attribute `attr` names must pass
/// `check` (exist, be usable), so a bad reference fails `terraform plan`,
/// not halfway through an apply.
pub(crate) fn check_reference(
    planned: &Attr<String>,
    due: bool,
    (attr, summary): (&str, &str),
    check: impl FnOnce(&str) -> Result<(), StoreError>,
) -> Result<(), Diagnostics> {
    match planned.known() {
        Some(id) if due => check(id).map_err(|e| vec![reference_diag(summary, attr, &e)]),
        _ => Ok(()),
    }
}

/// A `map(string)` attribute's entries.
pub(crate) type Tags = BTreeMap<String, String>;

/// A `map(string)` value for `tags`: null when empty, unless
/// `keep_empty` (the prior or planned value was a map, even an empty one),
/// so read-back matches the configuration.
pub(crate) fn tags_value(tags: &Tags, keep_empty: bool) -> Value {
    if tags.is_empty() && !keep_empty {
        return Value::Null;
    }
    tags.to_value()
}

/// A string value that is null when empty, unless `keep_empty` (the prior
/// or planned value was `""`).
pub(crate) fn text_value(s: &str, keep_empty: bool) -> Value {
    if s.is_empty() && !keep_empty {
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

/// In a plan, sets `attr` to `default` when the configuration leaves it
/// null (`config_null`; Optional+Computed attributes with a known default).
pub(crate) fn default_if_null(planned: &mut Value, config_null: bool, attr: &str, default: Value) {
    if config_null {
        planned.set(attr, default);
    }
}

/// The container a planned `instance_id` names (null and `"shared"`: the
/// shared KMS); `None` while it is unknown.
pub(crate) fn planned_container(instance_id: &Attr<String>) -> Option<Container> {
    match instance_id {
        Attr::Unknown => None,
        a => Some(Container::from_instance_id(a.known().map(String::as_str))),
    }
}

/// Adds the engine's instance-id rule's error when a known `attr` breaks it.
pub(crate) fn check_instance_id(attr: &'static str, v: &Attr<String>, diags: &mut Diagnostics) {
    if let Some(Err(e)) = v.known().map(|s| validate::instance_id(attr, s)) {
        diags.push(store_diag("Invalid instance id", &e));
    }
}

/// Adds the engine's container rule's error when a known placement `attr`
/// (a key's or secret's `instance_id`: an instance id, or `"shared"` for
/// the shared KMS) breaks it.
pub(crate) fn check_placement(attr: &'static str, v: &Attr<String>, diags: &mut Diagnostics) {
    if let Some(Err(e)) = v.known().map(|s| validate::container(attr, s)) {
        diags.push(store_diag("Invalid instance id", &e));
    }
}

/// The `instance_id` a key or secret in `container` has in state: the
/// instance id; for the shared KMS `"shared"` when `shape` (the planned or
/// prior `instance_id`) names a container, so a configuration that says
/// `"shared"` reads back as written and an object moved to the shared KMS
/// from an instance reads as `"shared"`, else null (never placed; import).
pub(crate) fn placement_value(container: &Container, shape: Option<Option<&str>>) -> Value {
    match (container, shape) {
        (Container::Instance(id), _) => Value::string(id),
        (Container::Shared, Some(Some(_))) => Value::string(Container::SHARED),
        (Container::Shared, _) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_follow_the_engine_rule() {
        for (name, id, ok) in [
            ("valid", Attr::Known("kst-0123456789ab".to_string()), true),
            (
                "uppercase",
                Attr::Known("kst-0123456789AB".to_string()),
                false,
            ),
            ("unknown", Attr::Unknown, true),
            ("null", Attr::Null, true),
        ] {
            let mut d = Vec::new();
            check_instance_id("instance_id", &id, &mut d);
            assert_eq!(d.is_empty(), ok, "{name}");
            if let Some(d) = d.first() {
                assert_eq!(d.path, Some(AttrPath::attr("instance_id")), "{name}");
            }
        }
    }

    #[test]
    fn placement_reads_back_as_configured() {
        let kst = Container::Instance("kst-0123456789ab".into());
        for (name, c, shape, want) in [
            ("instance", &kst, None, Value::string("kst-0123456789ab")),
            ("shared, imported", &Container::Shared, None, Value::Null),
            ("shared, null", &Container::Shared, Some(None), Value::Null),
            (
                "shared, said so",
                &Container::Shared,
                Some(Some("shared")),
                Value::string("shared"),
            ),
            (
                "moved to shared",
                &Container::Shared,
                Some(Some("kst-0123456789ab")),
                Value::string("shared"),
            ),
        ] {
            assert_eq!(placement_value(c, shape), want, "{name}");
        }
        let mut d = Vec::new();
        for ok in ["shared", "kst-0123456789ab"] {
            check_placement("instance_id", &Attr::Known(ok.to_string()), &mut d);
        }
        assert!(d.is_empty(), "{d:?}");
        check_placement("instance_id", &Attr::Known(String::new()), &mut d);
        assert_eq!(d.len(), 1);
        assert_eq!(
            planned_container(&Attr::Known("shared".to_string())),
            Some(Container::Shared)
        );
    }

    #[test]
    fn empty_tags_follow_shape() {
        let empty = BTreeMap::new();
        assert_eq!(tags_value(&empty, false), Value::Null);
        assert_eq!(tags_value(&empty, true), Value::Map(BTreeMap::new()));
        assert_eq!(text_value("", false), Value::Null);
        assert_eq!(text_value("", true), Value::string(""));
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

    #[test]
    fn an_unreachable_store_is_named_as_the_cause() {
        let down = || StoreError::unreachable("cannot connect", std::io::Error::other("refused"));
        for d in [
            store_diag("Cannot read key", &down()),
            reference_diag("Invalid instance_id", "instance_id", &down()),
        ] {
            assert_eq!(d.summary, "Key store unreachable");
            assert_eq!(d.path, None);
            assert!(!d.detail.contains("Invalid"), "{}", d.detail);
        }
    }
}
