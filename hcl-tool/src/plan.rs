//! Serde model of `terraform show -json PLANFILE` (format_version 1.x).
//!
//! The model borrows from the input text: `before`/`after` and the
//! sensitivity/unknown marks stay [`RawValue`]s and are only decoded for the
//! few resources that need a closer look, so a 50,000-resource plan costs
//! little more memory than its own text.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a plan or state document could not be used.
#[derive(Debug, Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: file is empty (expected `terraform show -json` output)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The JSON is malformed or truncated, or its shape is not a plan/state.
    #[error("{path}: invalid {what} JSON")]
    Json {
        /// The file.
        path: PathBuf,
        /// "plan", "state" or "report".
        what: &'static str,
        /// The cause, with line and column.
        source: serde_json::Error,
    },
    /// `format_version` is missing or its major version is not 1.
    #[error("{path}: unsupported format_version {version:?} (keyshift reads major version 1)")]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: String,
    },
}

/// Reads a whole file, rejecting empty ones.
pub fn read_input(path: &Path) -> Result<String, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Io {
        path: path.to_owned(),
        source,
    })?;
    if text.trim().is_empty() {
        return Err(InputError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

/// Checks that `version` has major version 1.
pub fn check_format_version(path: &Path, version: &str) -> Result<(), InputError> {
    if version.split('.').next() == Some("1") {
        Ok(())
    } else {
        Err(InputError::FormatVersion {
            path: path.to_owned(),
            version: version.to_owned(),
        })
    }
}

/// A plan document; unknown keys are ignored.
#[derive(Debug, Deserialize)]
pub struct Plan<'a> {
    /// e.g. "1.2".
    #[serde(borrow)]
    pub format_version: Cow<'a, str>,
    /// One entry per resource instance (including no-op ones).
    #[serde(default, borrow)]
    pub resource_changes: Vec<ResourceChange<'a>>,
}

impl<'a> Plan<'a> {
    /// Parses and validates plan JSON text.
    pub fn parse(path: &Path, text: &'a str) -> Result<Self, InputError> {
        #[derive(Deserialize)]
        struct Version<'b> {
            #[serde(borrow)]
            format_version: Option<Cow<'b, str>>,
        }
        match serde_json::from_str::<Plan<'a>>(text) {
            Ok(plan) => {
                check_format_version(path, &plan.format_version)?;
                Ok(plan)
            }
            Err(source) => {
                // A document of another major version may have another
                // shape: report the version rather than the shape.
                if let Ok(v) = serde_json::from_str::<Version<'_>>(text) {
                    check_format_version(path, v.format_version.as_deref().unwrap_or("(missing)"))?;
                }
                Err(InputError::Json {
                    path: path.to_owned(),
                    what: "plan",
                    source,
                })
            }
        }
    }
}

/// A resource instance key: `count.index` or `each.key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    /// `count` index.
    Int(i64),
    /// `for_each` key.
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i) => write!(f, "[{i}]"),
            Self::Str(s) => write!(f, "[{}]", Value::String(s.clone())),
        }
    }
}

/// `resource_changes[]`.
#[derive(Debug, Deserialize)]
pub struct ResourceChange<'a> {
    /// Full instance address.
    #[serde(borrow)]
    pub address: Cow<'a, str>,
    /// Address before a `moved` block.
    #[serde(default, borrow)]
    pub previous_address: Option<Cow<'a, str>>,
    /// e.g. `module.kms` or `module.a["x"].module.b`.
    #[serde(default, borrow)]
    pub module_address: Option<Cow<'a, str>>,
    /// "managed" or "data".
    #[serde(default, borrow)]
    pub mode: Option<Cow<'a, str>>,
    /// Resource type.
    #[serde(rename = "type", borrow)]
    pub rtype: Cow<'a, str>,
    /// Resource name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Instance key.
    #[serde(default)]
    pub index: Option<InstanceKey>,
    /// Deposed object key, when this change concerns a deposed object.
    #[serde(default, borrow)]
    pub deposed: Option<Cow<'a, str>>,
    /// Why Terraform chose this action (unknown reasons are kept verbatim).
    #[serde(default, borrow)]
    pub action_reason: Option<Cow<'a, str>>,
    /// The change itself.
    #[serde(borrow)]
    pub change: Change<'a>,
}

impl ResourceChange<'_> {
    /// Whether this is a managed resource (data sources are ignored).
    pub fn is_managed(&self) -> bool {
        self.mode.as_deref().is_none_or(|m| m == "managed")
    }
}

/// One planned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing to do.
    NoOp,
    /// Create.
    Create,
    /// Read (data source).
    Read,
    /// Update in place.
    Update,
    /// Delete.
    Delete,
    /// Remove from state without destroying.
    Forget,
    /// An action this version does not know.
    #[serde(other)]
    Other,
}

/// What a set of actions amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// No-op or read.
    NoOp,
    /// Create only.
    Create,
    /// Update in place.
    Update,
    /// Delete only.
    Delete,
    /// Replace, destroying first.
    ReplaceDeleteFirst,
    /// Replace, creating first (`create_before_destroy`).
    ReplaceCreateFirst,
    /// Forget (remove from state).
    Forget,
    /// Anything else.
    Other,
}

/// `change`.
#[derive(Debug, Deserialize)]
pub struct Change<'a> {
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// Prior value (null on create).
    #[serde(default, borrow)]
    pub before: Option<&'a RawValue>,
    /// Planned value (null on delete).
    #[serde(default, borrow)]
    pub after: Option<&'a RawValue>,
    /// Marks of values unknown until apply.
    #[serde(default, borrow)]
    pub after_unknown: Option<&'a RawValue>,
    /// Sensitivity marks of `before`.
    #[serde(default, borrow)]
    pub before_sensitive: Option<&'a RawValue>,
    /// Sensitivity marks of `after`.
    #[serde(default, borrow)]
    pub after_sensitive: Option<&'a RawValue>,
    /// Present when the resource is being imported.
    #[serde(default, borrow)]
    pub importing: Option<&'a RawValue>,
}

impl Change<'_> {
    /// Classifies the action list.
    pub fn kind(&self) -> ChangeKind {
        use Action as A;
        match self.actions.as_slice() {
            [] | [A::NoOp] | [A::Read] => ChangeKind::NoOp,
            [A::Create] => ChangeKind::Create,
            [A::Update] => ChangeKind::Update,
            [A::Delete] => ChangeKind::Delete,
            [A::Delete, A::Create] => ChangeKind::ReplaceDeleteFirst,
            [A::Create, A::Delete] => ChangeKind::ReplaceCreateFirst,
            [A::Forget] => ChangeKind::Forget,
            _ => ChangeKind::Other,
        }
    }
}

/// The top-level attributes of an object value, decoded one level deep.
pub type Attrs = BTreeMap<String, Value>;

/// Decodes the top level of an object value; null or absent gives an empty map.
pub fn top_level(raw: Option<&RawValue>) -> Result<Attrs, serde_json::Error> {
    match raw {
        None => Ok(Attrs::new()),
        Some(raw) => {
            let value: Option<Attrs> = serde_json::from_str(raw.get())?;
            Ok(value.unwrap_or_default())
        }
    }
}

/// Whether a mark tree (`after_unknown`, `*_sensitive`) marks attribute
/// `key` (or anything inside it, or the whole object).
pub fn marks_attr(marks: Option<&RawValue>, key: &str) -> bool {
    let Some(raw) = marks else { return false };
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Bool(b)) => b,
        Ok(Value::Object(map)) => map.get(key).is_some_and(any_true),
        // Unreadable marks: assume marked (safe for sensitivity).
        Ok(_) | Err(_) => true,
    }
}

fn any_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Array(a) => a.iter().any(any_true),
        Value::Object(o) => o.values().any(any_true),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Plan<'_>, InputError> {
        Plan::parse(Path::new("plan.json"), text)
    }

    #[test]
    fn rejects_bad_input() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "truncated",
                r#"{"format_version":"1.2","resource_chan"#,
                "invalid plan JSON",
            ),
            (
                "major 2",
                r#"{"format_version":"2.0"}"#,
                "unsupported format_version",
            ),
            (
                "missing version",
                r#"{"resource_changes":[]}"#,
                "unsupported format_version",
            ),
            ("not an object", "[]", "invalid plan JSON"),
            (
                "bad change",
                r#"{"format_version":"1.2","resource_changes":[{}]}"#,
                "missing field",
            ),
        ];
        for (name, text, want) in cases {
            let err = parse(text).unwrap_err();
            let mut err: String =
                std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
                    .map(|e| format!("{e}: "))
                    .collect();
            err.pop();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn parses_and_classifies() {
        let text = r#"{"format_version":"1.2","extra":1,"resource_changes":[
          {"address":"a.b[\"x\"]","type":"a","name":"b","index":"x","mode":"managed",
           "change":{"actions":["create","delete"],"before":{"k":"v"},"after":null,
           "before_sensitive":{"k":true},"new_key":[1]}},
          {"address":"a.c[0]","type":"a","name":"c","index":0,
           "change":{"actions":["forget"],"before":null,"after":null}}]}"#;
        let plan = parse(text).unwrap();
        let rc = &plan.resource_changes;
        assert_eq!(rc[0].change.kind(), ChangeKind::ReplaceCreateFirst);
        assert_eq!(rc[0].index, Some(InstanceKey::Str("x".into())));
        assert!(marks_attr(rc[0].change.before_sensitive, "k"));
        assert!(!marks_attr(rc[0].change.after_sensitive, "k"));
        assert_eq!(top_level(rc[0].change.before).unwrap()["k"], "v");
        assert!(top_level(rc[0].change.after).unwrap().is_empty());
        assert_eq!(rc[1].change.kind(), ChangeKind::Forget);
        assert_eq!(
            rc[1].index.as_ref().map(ToString::to_string).as_deref(),
            Some("[0]")
        );
    }
}
