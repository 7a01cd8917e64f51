//! Registry-format documentation (`docs/`) generated from the live schemas
//! and the `examples/` files, in the layout `tfplugindocs` produces.
//!
//! The test `docs_are_current` fails when a file under `docs/` differs from
//! what the schemas say; run it with `KEYSHIFT_UPDATE_DOCS=1` to rewrite them.
//! Lists that the hand-written guides repeat (the key-policy actions an
//! EKMS key must allow, `crate::aws::REQUIRED_ACTIONS`) are checked against
//! the code the same way.

use std::fmt::Write as _;
use std::path::Path;

use crate::framework::{AttrType, Attribute, Provider, Schema};
use crate::resources::KeyshiftProvider;

/// One documentation page: its path under `docs/` and its text.
pub struct Page {
    /// Path relative to the `docs/` directory.
    pub path: String,
    /// Markdown text.
    pub text: String,
}

fn type_label(t: &AttrType) -> String {
    match t {
        AttrType::String => "String".into(),
        AttrType::Number => "Number".into(),
        AttrType::Bool => "Boolean".into(),
        AttrType::List(e) => format!("List of {}", type_label(e)),
        AttrType::Set(e) => format!("Set of {}", type_label(e)),
        AttrType::Map(e) => format!("Map of {}", type_label(e)),
        AttrType::Object(_) => "Object".into(),
    }
}

fn attr_line(a: &Attribute) -> String {
    let mut flags = type_label(&a.ty);
    if a.sensitive {
        flags.push_str(", Sensitive");
    }
    if a.write_only {
        flags.push_str(", Write-only");
    }
    format!("- `{}` ({flags}) {}\n", a.name, a.full_description())
}

fn schema_section(schema: &Schema) -> String {
    type Pick = fn(&Attribute) -> bool;
    let groups: [(&str, Pick); 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional),
    ];
    let mut out = String::from("## Schema\n");
    for (title, pick) in groups {
        let mut attrs: Vec<&Attribute> = schema.attributes.iter().filter(|a| pick(a)).collect();
        if attrs.is_empty() {
            continue;
        }
        attrs.sort_by_key(|a| a.name);
        let _ = write!(out, "\n### {title}\n\n");
        for a in attrs {
            out.push_str(&attr_line(a));
        }
    }
    out
}

fn read_example(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
}

fn page(root: &Path, kind: &str, name: &str, schema: &Schema) -> Page {
    let (dir, label, example) = match kind {
        "resource" => (
            "resources",
            "Resource",
            format!("examples/resources/{name}/resource.tf"),
        ),
        "ephemeral" => (
            "ephemeral-resources",
            "Ephemeral Resource",
            format!("examples/ephemeral-resources/{name}/ephemeral-resource.tf"),
        ),
        _ => (
            "data-sources",
            "Data Source",
            format!("examples/data-sources/{name}/data-source.tf"),
        ),
    };
    let mut text = format!(
        "---\npage_title: \"{name} {label} - terraform-provider-keyshift\"\nsubcategory: \"\"\ndescription: |-\n  {}\n---\n\n# {name} ({label})\n\n{}\n\n",
        schema.description, schema.description
    );
    if let Some(ex) = read_example(root, &example) {
        let _ = write!(text, "## Example Usage\n\n```terraform\n{ex}```\n\n");
    }
    text.push_str(&schema_section(schema));
    if let Some(imp) = read_example(root, &format!("examples/resources/{name}/import.sh")) {
        let _ = write!(
            text,
            "\n## Import\n\nImport is supported using the following syntax:\n\n```shell\n{imp}```\n"
        );
    }
    let short = name.strip_prefix("keyshift_").unwrap_or(name);
    Page {
        path: format!("{dir}/{short}.md"),
        text,
    }
}

/// Every page, rendered from the provider's schemas; `root` is the
/// repository root (for `examples/`).
pub fn render_all(root: &Path) -> Vec<Page> {
    let p = KeyshiftProvider;
    let ps = p.schema();
    let mut index = format!(
        "---\npage_title: \"keyshift Provider\"\ndescription: |-\n  {}\n---\n\n# keyshift Provider\n\n{}\n\n",
        ps.description, ps.description
    );
    if let Some(ex) = read_example(root, "examples/provider/provider.tf") {
        let _ = write!(index, "## Example Usage\n\n```terraform\n{ex}```\n\n");
    }
    index.push_str(&schema_section(&ps));
    let mut pages = vec![Page {
        path: "index.md".into(),
        text: index,
    }];
    pages.extend(
        p.resources()
            .iter()
            .map(|r| page(root, "resource", r.type_name(), &r.schema())),
    );
    pages.extend(
        p.data_sources()
            .iter()
            .map(|d| page(root, "data", d.type_name(), &d.schema())),
    );
    pages.extend(
        p.ephemeral_resources()
            .iter()
            .map(|e| page(root, "ephemeral", e.type_name(), &e.schema())),
    );
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let update = std::env::var_os("KEYSHIFT_UPDATE_DOCS").is_some();
        let mut stale = Vec::new();
        for p in render_all(&root) {
            let path = root.join("docs").join(&p.path);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &p.text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(p.text.as_str()) {
                stale.push(p.path);
            }
        }
        assert!(
            stale.is_empty(),
            "stale docs (run with KEYSHIFT_UPDATE_DOCS=1): {stale:?}"
        );
    }

    /// The hand-written pages that list the key-policy actions an EKMS key
    /// must allow list exactly the ones the check and the data source use.
    #[test]
    fn written_pages_list_the_required_key_policy_actions() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let want = crate::aws::required_actions_text();
        for page in ["docs/guides/design.md", "README.md"] {
            let text = std::fs::read_to_string(root.join(page)).unwrap();
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat.contains(&want),
                "{page} does not list the required key-policy actions as {want}"
            );
        }
    }
}
