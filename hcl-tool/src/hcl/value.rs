//! Rendering JSON values as HCL expressions, including the keyed
//! expressions used for `count` and `for_each` resources.

use crate::presets::is_ident;
use hcl_edit::expr::Expression;
use serde_json::Value;
use std::collections::BTreeMap;

/// Renders `v` as a one-line HCL literal (`terraform fmt`-clean).
pub fn literal(v: &Value) -> String {
    let mut out = String::new();
    write_literal(&mut out, v);
    out
}

fn write_literal(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_literal(out, item);
            }
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{ ");
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_key(out, k);
                out.push_str(" = ");
                write_literal(out, item);
            }
            out.push_str(" }");
        }
    }
}

fn write_key(out: &mut String, k: &str) {
    if is_ident(k) && !k.contains('-') && !matches!(k, "null" | "true" | "false") {
        out.push_str(k);
    } else {
        write_string(out, k);
    }
}

/// Writes a quoted HCL string: JSON-style escapes plus `$${` and `%%{` so
/// that no template sequence is interpreted.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `[v0, v1, ...][count.index]` for instances 0..n (missing indexes are null).
pub fn count_expr(values: &BTreeMap<i64, Value>) -> String {
    let len = values.keys().max().map_or(0, |m| m + 1);
    let items: Vec<Value> = (0..len)
        .map(|i| values.get(&i).cloned().unwrap_or(Value::Null))
        .collect();
    format!("{}[count.index]", literal(&Value::Array(items)))
}

/// `{ "a" = v, ... }[each.key]`.
pub fn for_each_expr(values: &BTreeMap<String, Value>) -> String {
    let mut out = String::from("{ ");
    for (i, (k, v)) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(&mut out, k);
        out.push_str(" = ");
        write_literal(&mut out, v);
    }
    out.push_str(" }[each.key]");
    out
}

/// Whether the parsed expression `expr` (whose source text is `text`)
/// already denotes `rendered`: same text, or a literal with the same value.
pub fn same_value(expr: &Expression, text: &str, rendered: &str) -> bool {
    if text.trim() == rendered {
        return true;
    }
    match hcl_edit::parser::parse_expr(rendered) {
        Ok(target) => primitive_eq(expr, &target),
        Err(_) => false,
    }
}

fn primitive_eq(a: &Expression, b: &Expression) -> bool {
    match (a, b) {
        (Expression::String(x), Expression::String(y)) => x.value() == y.value(),
        (Expression::Bool(x), Expression::Bool(y)) => x.value() == y.value(),
        (Expression::Number(x), Expression::Number(y)) => x.value() == y.value(),
        (Expression::Null(_), Expression::Null(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals() {
        let cases = [
            ("string", json!("kst-1"), r#""kst-1""#),
            ("template chars", json!("a${b}%{c}$d"), r#""a$${b}%%{c}$d""#),
            ("escapes", json!("q\"\\\n\t"), r#""q\"\\\n\t""#),
            ("number", json!(42), "42"),
            ("bool", json!(true), "true"),
            ("null", json!(null), "null"),
            ("list", json!(["a", 1]), r#"["a", 1]"#),
            (
                "object",
                json!({"a": 1, "b-c": "x", "null": 2}),
                r#"{ a = 1, "b-c" = "x", "null" = 2 }"#,
            ),
            ("empty object", json!({}), "{}"),
        ];
        for (name, v, want) in cases {
            assert_eq!(literal(&v), want, "{name}");
            assert!(hcl_edit::parser::parse_expr(want).is_ok(), "{name} parses");
        }
    }

    #[test]
    fn keyed_expressions() {
        let counts = BTreeMap::from([(0, json!("a")), (2, json!("c"))]);
        assert_eq!(count_expr(&counts), r#"["a", null, "c"][count.index]"#);
        let keys = BTreeMap::from([("x".to_owned(), json!("a")), ("y z".to_owned(), json!("b"))]);
        assert_eq!(
            for_each_expr(&keys),
            r#"{ "x" = "a", "y z" = "b" }[each.key]"#
        );
    }

    #[test]
    fn sameness() {
        let e = hcl_edit::parser::parse_expr(r#""kst-1""#).unwrap();
        assert!(same_value(&e, r#""kst-1""#, r#""kst-1""#));
        assert!(!same_value(&e, r#""kst-1""#, r#""kst-2""#));
        let e = hcl_edit::parser::parse_expr("var.x").unwrap();
        assert!(!same_value(&e, "var.x", r#""kst-1""#));
    }
}
