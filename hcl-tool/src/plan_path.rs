//! Attribute paths of a plan (`replace_paths`), read and shown the way a
//! configuration writes them.

use serde::Deserialize;
use serde_json::Value;

/// One step of an attribute path: an attribute name or map key, or a list
/// index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PathStep {
    /// An attribute name, or a map key.
    Name(String),
    /// A list (or tuple) index.
    Index(i64),
}

/// A path the way a configuration writes it: `instance_id`,
/// `rule[0].name`, `tags["cost-center"]`.
pub fn path_text(path: &[PathStep]) -> String {
    let mut out = String::new();
    for (i, step) in path.iter().enumerate() {
        match step {
            PathStep::Index(n) => out.push_str(&format!("[{n}]")),
            PathStep::Name(name) if i == 0 => out.push_str(name),
            PathStep::Name(name) if crate::presets::is_ident(name) => {
                out.push('.');
                out.push_str(name);
            }
            PathStep::Name(key) => out.push_str(&format!("[{}]", Value::String(key.clone()))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_paths_read_as_configuration_paths() {
        let cases: &[(&str, &str, &str)] = &[
            ("attribute", r#"["instance_id"]"#, "instance_id"),
            ("list element", r#"["rule", 0, "name"]"#, "rule[0].name"),
            (
                "map key",
                r#"["tags", "cost center"]"#,
                r#"tags["cost center"]"#,
            ),
        ];
        for (name, json, want) in cases {
            let path: Vec<PathStep> = serde_json::from_str(json).unwrap();
            assert_eq!(path_text(&path), *want, "{name}");
        }
    }
}
