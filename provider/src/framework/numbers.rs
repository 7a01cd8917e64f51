//! Every `number` attribute in Keyshift's schemas holds a whole number of
//! 64 bits (a quota, a day count, a version). Terraform numbers have
//! arbitrary precision, so a configuration can say `1.5`, `1e300` or
//! `9223372036854775808`; such a value cannot be kept exactly, and handing
//! Terraform back anything else than it sent makes it report an invalid or
//! inconsistent plan. [`check_whole_numbers`] turns them into an error on
//! the attribute at validate and plan time instead.

use super::{AttrPath, AttrType, Diagnostic, Diagnostics, PathStep, Schema, Value};

/// Largest magnitude below which an `f64` still counts every whole number.
const EXACT_F64: f64 = 9_007_199_254_740_992.0; // 2^53

/// An error for every known number in `config` that is not a whole number
/// in the 64-bit range (the decoder keeps those as [`Value::Float`]).
pub fn check_whole_numbers(schema: &Schema, config: &Value) -> Diagnostics {
    let mut out = Vec::new();
    // One path, pushed and popped on the way down: it is cloned only for a
    // diagnostic, so the common case (no bad number) allocates nothing.
    let mut path = AttrPath::default();
    for a in schema.attributes.iter().filter(|a| holds_numbers(&a.ty)) {
        path.0.push(PathStep::Attr(a.name.to_string()));
        walk(config.get(a.name), &a.ty, &mut path, &mut out);
        path.0.pop();
    }
    out
}

/// Whether a value of type `ty` can contain a number at all.
fn holds_numbers(ty: &AttrType) -> bool {
    match ty {
        AttrType::Number => true,
        AttrType::String | AttrType::Bool => false,
        AttrType::List(el) | AttrType::Set(el) | AttrType::Map(el) => holds_numbers(el),
        AttrType::Object(fields) => fields.iter().any(|(_, t)| holds_numbers(t)),
    }
}

fn walk(v: &Value, ty: &AttrType, path: &mut AttrPath, out: &mut Diagnostics) {
    let mut below = |step: PathStep, item: &Value, ty: &AttrType, out: &mut Diagnostics| {
        path.0.push(step);
        walk(item, ty, path, out);
        path.0.pop();
    };
    match (v, ty) {
        (Value::Float(f), AttrType::Number) => out.push(not_whole(*f, path)),
        (Value::List(items) | Value::Set(items), AttrType::List(el) | AttrType::Set(el)) => {
            for (i, item) in items.iter().enumerate() {
                below(PathStep::Index(i as i64), item, el, out);
            }
        }
        (Value::Map(m), AttrType::Map(el)) => {
            for (k, item) in m {
                below(PathStep::Key(k.clone()), item, el, out);
            }
        }
        (Value::Object(o), AttrType::Object(fields)) => {
            for (name, fty) in fields {
                if let Some(item) = o.get(name) {
                    below(PathStep::Attr(name.clone()), item, fty, out);
                }
            }
        }
        _ => {}
    }
}

fn not_whole(f: f64, path: &AttrPath) -> Diagnostic {
    let detail = if f.is_finite() && f.abs() < EXACT_F64 && f.fract() != 0.0 {
        format!("{path} must be a whole number, not {f}.")
    } else {
        format!(
            "{path} is not a whole number from {} to {}.",
            i64::MIN,
            i64::MAX
        )
    };
    Diagnostic::error("Invalid number", detail).at(path.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Attribute;

    #[test]
    fn only_non_whole_or_huge_numbers_are_refused() {
        let schema = Schema {
            version: 0,
            description: "T.",
            attributes: vec![
                Attribute::optional("n", AttrType::Number, "N."),
                Attribute::optional("l", AttrType::List(Box::new(AttrType::Number)), "L."),
            ],
        };
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            ("int", Value::Int(i64::MAX), None),
            ("negative int", Value::Int(-3), None),
            ("null", Value::Null, None),
            ("unknown", Value::Unknown, None),
            (
                "fraction",
                Value::Float(1.5),
                Some("must be a whole number, not 1.5"),
            ),
            (
                "2^63",
                Value::Float(9.223_372_036_854_776e18),
                Some("not a whole number from"),
            ),
            (
                "1e300",
                Value::Float(1e300),
                Some("not a whole number from"),
            ),
            (
                "infinity",
                Value::Float(f64::INFINITY),
                Some("not a whole number from"),
            ),
            (
                "whole float",
                Value::Float(1.0),
                Some("not a whole number from"),
            ),
        ];
        for (name, n, want) in cases {
            let mut cfg = crate::framework::Object::new();
            cfg.insert("n".into(), n);
            let d = check_whole_numbers(&schema, &Value::Object(cfg));
            match want {
                None => assert!(d.is_empty(), "{name}: {d:?}"),
                Some(text) => {
                    assert_eq!(d.len(), 1, "{name}");
                    assert_eq!(d[0].path, Some(AttrPath::attr("n")), "{name}");
                    assert!(d[0].detail.contains(text), "{name}: {}", d[0].detail);
                }
            }
        }
        let mut cfg = crate::framework::Object::new();
        cfg.insert(
            "l".into(),
            Value::List(vec![Value::Int(1), Value::Float(0.5)]),
        );
        let d = check_whole_numbers(&schema, &Value::Object(cfg));
        assert_eq!(d[0].path, Some(AttrPath::attr("l").index(1)));
    }
}
