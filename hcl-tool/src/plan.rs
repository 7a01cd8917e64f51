//! Serde model of `terraform show -json PLANFILE` (format_version 1.x).
//!
//! The model borrows from the input text: `before`/`after` and the
//! sensitivity/unknown marks stay [`RawValue`]s and are only decoded for the
//! few resources that need a closer look, so a 50,000-resource plan costs
//! little more memory than its own text.

use serde::Deserialize;
use serde::de::IgnoredAny;
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
    /// A JSON array where an object is expected.
    #[error("{path} is a JSON array; expected a {what} JSON object")]
    Shape {
        /// The file.
        path: PathBuf,
        /// "plan", "state" or "report".
        what: &'static str,
    },
    /// Not a regular file (a directory, FIFO, device, ...).
    #[error("{path} is {kind}, not a regular file (pass a file, or - for standard input)")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// More than the input size limit.
    #[error("{path} is larger than {limit} bytes; refusing to read it whole")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A binary plan file (`terraform plan -out`), not its JSON rendering.
    #[error(
        "{path} is a binary plan file; convert it first: terraform show -json {path} > plan.json"
    )]
    BinaryPlan {
        /// The path.
        path: PathBuf,
    },
    /// Bytes that are not UTF-8 text.
    #[error(
        "{path} is not UTF-8 text (line {line}, column {column}); expected `terraform show -json` output"
    )]
    NotUtf8 {
        /// The path.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based byte column of the first invalid byte.
        column: usize,
    },
    /// Valid JSON, but not a plan (a state, a provider schema, a stub).
    #[error(
        "{path} is {found}, not a plan; run `terraform plan -out tfplan` and pass the output of `terraform show -json tfplan`"
    )]
    NotAPlan {
        /// The file.
        path: PathBuf,
        /// What the document looks like instead.
        found: &'static str,
    },
    /// Terraform reported errors while planning.
    #[error(
        "{path}: the plan errored (\"errored\": true): Terraform could not plan every change, so it cannot be checked; fix the errors `terraform plan` reports"
    )]
    Errored {
        /// The file.
        path: PathBuf,
    },
    /// Terraform marked the plan incomplete (`-target`, deferred changes).
    #[error(
        "{path}: the plan is incomplete (\"complete\": false, e.g. made with -target or with deferred changes): resources it leaves out are not checked; plan without -target, or pass --allow-incomplete"
    )]
    Incomplete {
        /// The file.
        path: PathBuf,
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

pub use crate::input::{read_input, read_input_or_stdin};
pub use crate::plan_path::{PathStep, path_text};

/// Refuses a JSON array before serde sees it: derived structs also accept
/// sequences (`["1.2"]` would read as `format_version = "1.2"`), and every
/// document keyshift reads is an object.
pub fn check_not_array(path: &Path, text: &str, what: &'static str) -> Result<(), InputError> {
    if text.trim_start().starts_with('[') {
        return Err(InputError::Shape {
            path: path.to_owned(),
            what,
        });
    }
    Ok(())
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
    /// Whether Terraform planned every change (absent before Terraform 1.8).
    #[serde(default)]
    pub complete: Option<bool>,
    #[serde(default)]
    errored: bool,
    /// Every plan has it (even an empty one); states and schemas do not.
    #[serde(default)]
    planned_values: Option<IgnoredAny>,
    #[serde(default)]
    values: Option<IgnoredAny>,
    #[serde(default)]
    provider_schemas: Option<IgnoredAny>,
}

impl<'a> Plan<'a> {
    /// Parses plan JSON text and checks it is a plan Terraform finished:
    /// not a state or another document, not errored.
    pub fn parse(path: &Path, text: &'a str) -> Result<Self, InputError> {
        #[derive(Deserialize)]
        struct Version<'b> {
            #[serde(borrow)]
            format_version: Option<Cow<'b, str>>,
        }
        check_not_array(path, text, "plan")?;
        match serde_json::from_str::<Plan<'a>>(text) {
            Ok(plan) => {
                check_format_version(path, &plan.format_version)?;
                plan.check_is_plan(path)?;
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

    fn check_is_plan(&self, path: &Path) -> Result<(), InputError> {
        let not_a_plan = |found| InputError::NotAPlan {
            path: path.to_owned(),
            found,
        };
        if self.planned_values.is_none() {
            return Err(not_a_plan(if self.values.is_some() {
                "a state (`terraform show -json` without a plan file)"
            } else if self.provider_schemas.is_some() {
                "provider schemas (`terraform providers schema -json`)"
            } else {
                "a document without planned_values"
            }));
        }
        if self.errored {
            return Err(InputError::Errored {
                path: path.to_owned(),
            });
        }
        Ok(())
    }

    /// Refuses a plan Terraform marked incomplete (`-target`, deferred
    /// changes): a gate cannot vouch for changes the plan leaves out.
    pub fn require_complete(&self, path: &Path) -> Result<(), InputError> {
        if self.complete == Some(false) {
            return Err(InputError::Incomplete {
                path: path.to_owned(),
            });
        }
        Ok(())
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// An action this version does not know (words are case-sensitive).
    Other,
}

/// One word of an action list: the action, and the word itself when it is
/// not one Terraform writes (kept for messages; known words allocate
/// nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionWord(pub Action, Option<Box<str>>);

impl<'de> Deserialize<'de> for ActionWord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ActionWord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an action word")
            }
            fn visit_str<E: serde::de::Error>(self, word: &str) -> Result<ActionWord, E> {
                let action = Action::from_word(word);
                let raw = (action == Action::Other).then(|| word.into());
                Ok(ActionWord(action, raw))
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl serde::Serialize for ActionWord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.1.as_deref().unwrap_or(self.0.word()))
    }
}

impl Action {
    /// The JSON word of a known action (`"(unknown)"` for [`Action::Other`]).
    pub fn word(self) -> &'static str {
        match self {
            Self::NoOp => "no-op",
            Self::Create => "create",
            Self::Read => "read",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Forget => "forget",
            Self::Other => "(unknown)",
        }
    }

    /// The action Terraform's JSON word names.
    pub fn from_word(word: &str) -> Self {
        match word {
            "no-op" => Self::NoOp,
            "create" => Self::Create,
            "read" => Self::Read,
            "update" => Self::Update,
            "delete" => Self::Delete,
            "forget" => Self::Forget,
            _ => Self::Other,
        }
    }
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
    /// Replace, creating the new object and forgetting (not destroying) the
    /// old one (`["create","forget"]`, Terraform's CreateThenForget), or
    /// forgetting first.
    ReplaceForget,
    /// Anything else, including an empty or unknown action list.
    Other,
}

/// `change`.
#[derive(Debug, Deserialize)]
pub struct Change<'a> {
    /// The actions, in order (see [`Action::from_word`]).
    pub actions: Vec<ActionWord>,
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
    /// The attributes whose change forces a replacement (`replace_paths`:
    /// one path per attribute, each a list of steps).
    #[serde(default)]
    pub replace_paths: Vec<Vec<PathStep>>,
}

impl Change<'_> {
    /// The attributes forcing a replacement, as configuration paths
    /// (see [`path_text`]), in plan order.
    pub fn replace_attrs(&self) -> Vec<String> {
        self.replace_paths.iter().map(|p| path_text(p)).collect()
    }

    /// The action list as Terraform wrote it, e.g. `["delete","create"]`.
    pub fn actions_text(&self) -> String {
        serde_json::to_string(&self.actions).unwrap_or_else(|_| "(unreadable)".to_owned())
    }

    /// Classifies the action list.
    pub fn kind(&self) -> ChangeKind {
        use Action as A;
        let action = |i: usize| self.actions.get(i).map(|w| w.0);
        match (self.actions.len(), action(0), action(1)) {
            (1, Some(A::NoOp | A::Read), _) => ChangeKind::NoOp,
            (1, Some(A::Create), _) => ChangeKind::Create,
            (1, Some(A::Update), _) => ChangeKind::Update,
            (1, Some(A::Delete), _) => ChangeKind::Delete,
            (2, Some(A::Delete), Some(A::Create)) => ChangeKind::ReplaceDeleteFirst,
            (2, Some(A::Create), Some(A::Delete)) => ChangeKind::ReplaceCreateFirst,
            (1, Some(A::Forget), _) => ChangeKind::Forget,
            (2, Some(A::Create), Some(A::Forget)) | (2, Some(A::Forget), Some(A::Create)) => {
                ChangeKind::ReplaceForget
            }
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
                r#"{"format_version":"1.2","planned_values":{},"resource_chan"#,
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
            (
                "not an object",
                "[]",
                "is a JSON array; expected a plan JSON object",
            ),
            ("array of a version", r#"["1.2"]"#, "is a JSON array"),
            ("empty object", "{}", "unsupported format_version"),
            (
                "format only",
                r#"{"format_version":"1.2"}"#,
                "is a document without planned_values, not a plan",
            ),
            (
                "state",
                r#"{"format_version":"1.0","terraform_version":"1.11.4","values":{"root_module":{}}}"#,
                "is a state (`terraform show -json` without a plan file), not a plan",
            ),
            (
                "provider schemas",
                r#"{"format_version":"1.0","provider_schemas":{}}"#,
                "is provider schemas",
            ),
            (
                "errored plan",
                r#"{"format_version":"1.2","planned_values":{},"errored":true}"#,
                "the plan errored",
            ),
            (
                "bad change",
                r#"{"format_version":"1.2","planned_values":{},"resource_changes":[{}]}"#,
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
    fn classifies_action_lists() {
        let cases: &[(&str, &str, ChangeKind)] = &[
            ("no-op", r#"["no-op"]"#, ChangeKind::NoOp),
            (
                "create then forget",
                r#"["create","forget"]"#,
                ChangeKind::ReplaceForget,
            ),
            (
                "forget then create",
                r#"["forget","create"]"#,
                ChangeKind::ReplaceForget,
            ),
            ("empty list", "[]", ChangeKind::Other),
            ("delete twice", r#"["delete","delete"]"#, ChangeKind::Other),
            ("wrong case", r#"["Delete"]"#, ChangeKind::Other),
            ("unknown word", r#"["destroy"]"#, ChangeKind::Other),
            (
                "read then delete",
                r#"["read","delete"]"#,
                ChangeKind::Other,
            ),
            (
                "no-op then delete",
                r#"["no-op","delete"]"#,
                ChangeKind::Other,
            ),
        ];
        for (name, actions, want) in cases {
            let text = format!(r#"{{"actions":{actions}}}"#);
            let change: Change<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(change.kind(), *want, "{name}");
        }
    }

    #[test]
    fn parses_and_classifies() {
        let text = r#"{"format_version":"1.2","planned_values":{},"extra":1,"resource_changes":[
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
        assert!(plan.require_complete(Path::new("p")).is_ok());
        let incomplete = r#"{"format_version":"1.2","planned_values":{},"complete":false}"#;
        let err = parse(incomplete).unwrap().require_complete(Path::new("p"));
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("the plan is incomplete")
        );
        assert_eq!(
            rc[1].index.as_ref().map(ToString::to_string).as_deref(),
            Some("[0]")
        );
    }
}
