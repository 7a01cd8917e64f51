//! Framework schemas, diagnostics and attribute paths → tfplugin5 protobuf.

use super::proto::tfplugin5 as pb;
use crate::framework::{AttrPath, Diagnostic, PathStep, Schema, Severity};

/// A framework schema as a tfplugin5 `Schema` (one block, no nested blocks).
pub(crate) fn schema(s: &Schema) -> pb::Schema {
    let attributes = s
        .attributes
        .iter()
        .map(|a| pb::schema::Attribute {
            name: a.name.to_string(),
            r#type: a.ty.to_json().to_string().into_bytes(),
            description: a.full_description(),
            required: a.required,
            optional: a.optional,
            computed: a.computed,
            sensitive: a.sensitive,
            description_kind: pb::StringKind::Plain as i32,
            deprecated: false,
            write_only: a.write_only,
        })
        .collect();
    pb::Schema {
        version: s.version,
        block: Some(pb::schema::Block {
            version: s.version,
            attributes,
            block_types: Vec::new(),
            description: s.description.to_string(),
            description_kind: pb::StringKind::Plain as i32,
            deprecated: false,
        }),
    }
}

/// An attribute path as a tfplugin5 `AttributePath`.
pub(crate) fn path(p: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::{Step, step::Selector};
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| Step {
                selector: Some(match s {
                    PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// A diagnostic as a tfplugin5 `Diagnostic`.
pub(crate) fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        } as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.path.as_ref().filter(|p| !p.0.is_empty()).map(path),
    }
}

/// Several diagnostics.
pub(crate) fn diagnostics(ds: &[Diagnostic]) -> Vec<pb::Diagnostic> {
    ds.iter().map(diagnostic).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{AttrType, Attribute};
    use pb::attribute_path::step::Selector;

    #[test]
    fn schema_carries_types_flags_and_descriptions() {
        let s = Schema {
            version: 3,
            description: "A key.",
            attributes: vec![
                Attribute::required("spec", AttrType::String, "Key spec.").force_new(),
                Attribute::optional("tags", AttrType::string_map(), "Tags."),
                Attribute::optional("material_wo", AttrType::String, "Material.")
                    .write_only()
                    .sensitive(),
                Attribute::computed("id", AttrType::String, "Id."),
            ],
        };
        let p = schema(&s);
        assert_eq!(p.version, 3);
        let block = p.block.unwrap();
        assert_eq!(block.version, 3);
        assert_eq!(block.description, "A key.");
        assert_eq!(block.description_kind, pb::StringKind::Plain as i32);
        let names: Vec<_> = block.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["spec", "tags", "material_wo", "id"]);
        let cases: Vec<(&str, &str, [bool; 5])> = vec![
            // name, type json, [required, optional, computed, sensitive, write_only]
            ("spec", r#""string""#, [true, false, false, false, false]),
            (
                "tags",
                r#"["map","string"]"#,
                [false, true, false, false, false],
            ),
            (
                "material_wo",
                r#""string""#,
                [false, true, false, true, true],
            ),
            ("id", r#""string""#, [false, false, true, false, false]),
        ];
        for (name, ty, flags) in cases {
            let a = block.attributes.iter().find(|a| a.name == name).unwrap();
            assert_eq!(std::str::from_utf8(&a.r#type).unwrap(), ty, "case {name}");
            let got = [
                a.required,
                a.optional,
                a.computed,
                a.sensitive,
                a.write_only,
            ];
            assert_eq!(got, flags, "case {name}");
            assert!(!a.description.is_empty(), "case {name}");
        }
    }

    #[test]
    fn paths_convert_step_by_step() {
        let cases: Vec<(&str, AttrPath, Vec<Selector>)> = vec![
            (
                "attr",
                AttrPath::attr("spec"),
                vec![Selector::AttributeName("spec".into())],
            ),
            (
                "map key",
                AttrPath::attr("tags").key("env"),
                vec![
                    Selector::AttributeName("tags".into()),
                    Selector::ElementKeyString("env".into()),
                ],
            ),
            (
                "list index",
                AttrPath::attr("grants").index(2),
                vec![
                    Selector::AttributeName("grants".into()),
                    Selector::ElementKeyInt(2),
                ],
            ),
        ];
        for (name, p, want) in cases {
            let got: Vec<_> = path(&p)
                .steps
                .into_iter()
                .filter_map(|s| s.selector)
                .collect();
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn diagnostics_keep_severity_and_path() {
        let e = Diagnostic::attr_error("spec", "Bad spec", "Use AES_256.");
        let w = Diagnostic::warning("Heads up", "");
        let out = diagnostics(&[e, w]);
        assert_eq!(out[0].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(out[0].summary, "Bad spec");
        assert_eq!(out[0].detail, "Use AES_256.");
        let steps = &out[0].attribute.as_ref().unwrap().steps;
        assert_eq!(
            steps[0].selector,
            Some(Selector::AttributeName("spec".into()))
        );
        assert_eq!(out[1].severity, pb::diagnostic::Severity::Warning as i32);
        assert!(out[1].attribute.is_none());
    }
}
