//! Serde model of `terraform show -json` for a state (format_version 1.x).

use crate::plan::{InputError, InstanceKey, check_format_version, check_not_array};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A state document; unknown keys are ignored.
#[derive(Debug, Deserialize)]
pub struct State {
    /// e.g. "1.0".
    pub format_version: String,
    /// Absent for an empty state.
    #[serde(default)]
    pub values: Option<StateValues>,
}

/// `values`.
#[derive(Debug, Deserialize)]
pub struct StateValues {
    /// The root module.
    pub root_module: StateModule,
}

/// `root_module` / `child_modules[]`.
#[derive(Debug, Default, Deserialize)]
pub struct StateModule {
    /// Module instance address (absent for the root).
    #[serde(default)]
    pub address: Option<String>,
    /// Resources of this module.
    #[serde(default)]
    pub resources: Vec<StateResource>,
    /// Nested modules.
    #[serde(default)]
    pub child_modules: Vec<StateModule>,
}

/// One resource instance in the state.
#[derive(Debug, Deserialize)]
pub struct StateResource {
    /// Full instance address.
    pub address: String,
    /// "managed" or "data".
    #[serde(default)]
    pub mode: Option<String>,
    /// Resource type.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Resource name.
    pub name: String,
    /// Instance key.
    #[serde(default)]
    pub index: Option<InstanceKey>,
    /// Attribute values.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
}

impl State {
    /// Parses and validates state JSON text.
    pub fn parse(path: &Path, text: &str) -> Result<Self, InputError> {
        check_not_array(path, text, "state")?;
        let state: Self = serde_json::from_str(text).map_err(|source| InputError::Json {
            path: path.to_owned(),
            what: "state",
            source,
        })?;
        check_format_version(path, &state.format_version)?;
        Ok(state)
    }

    /// Every managed resource instance with its module address ("" = root).
    pub fn resources(&self) -> Vec<(&str, &StateResource)> {
        let mut out = Vec::new();
        if let Some(values) = &self.values {
            collect(&values.root_module, &mut out);
        }
        out
    }
}

fn collect<'a>(module: &'a StateModule, out: &mut Vec<(&'a str, &'a StateResource)>) {
    let addr = module.address.as_deref().unwrap_or("");
    for r in &module.resources {
        if r.mode.as_deref().is_none_or(|m| m == "managed") {
            out.push((addr, r));
        }
    }
    for child in &module.child_modules {
        collect(child, out);
    }
}
