#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use super::*;
use crate::framework::Object;

/// A model with one field of each accessor kind.
#[derive(Debug, PartialEq)]
struct Sample {
    id: String,
    count: Option<i64>,
    enabled: Attr<bool>,
    tags: Option<BTreeMap<String, String>>,
}

impl Model for Sample {
    fn decode(d: &mut Decoder<'_>) -> Self {
        Sample {
            id: d.required("id"),
            count: d.optional("count"),
            enabled: d.attr("enabled"),
            tags: d.optional("tags"),
        }
    }
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Object>(),
    )
}

/// (case, object, expected (path, summary) of each diagnostic).
type Case = (&'static str, Value, Vec<(&'static str, &'static str)>);

#[test]
fn decoding_reports_each_bad_attribute_with_its_path() {
    let good = [("id", Value::string("x")), ("count", Value::Int(3))];
    let cases: Vec<Case> = vec![
        ("all good", obj(&good), vec![]),
        ("missing required", obj(&[]), vec![("id", "Missing id")]),
        (
            "required is unknown",
            obj(&[("id", Value::Unknown)]),
            vec![("id", "Unknown id")],
        ),
        (
            "required of the wrong type",
            obj(&[("id", Value::Int(1))]),
            vec![("id", "Invalid id")],
        ),
        (
            "optional of the wrong type",
            obj(&[("id", "x".into()), ("count", "three".into())]),
            vec![("count", "Invalid count")],
        ),
        (
            "optional is unknown",
            obj(&[("id", "x".into()), ("count", Value::Unknown)]),
            vec![("count", "Unknown count")],
        ),
        (
            "attr of the wrong type",
            obj(&[("id", "x".into()), ("enabled", "yes".into())]),
            vec![("enabled", "Invalid enabled")],
        ),
        (
            "map entry of the wrong type",
            obj(&[
                ("id", "x".into()),
                ("tags", Value::Map([("a".into(), Value::Int(1))].into())),
            ]),
            vec![("tags", "Invalid tags")],
        ),
        (
            "list with an unknown element",
            obj(&[("id", Value::List(vec![Value::Unknown]))]),
            vec![("id", "Unknown id")],
        ),
        (
            "every problem at once",
            obj(&[("count", Value::Bool(true))]),
            vec![("id", "Missing id"), ("count", "Invalid count")],
        ),
    ];
    for (name, v, want) in cases {
        let got = match Sample::from_value(&v) {
            Ok(_) => Vec::new(),
            Err(d) => d,
        };
        let got: Vec<(String, String)> = got
            .iter()
            .map(|d| {
                assert!(d.is_error(), "{name}");
                let path = d.path.as_ref().map(ToString::to_string);
                (path.unwrap_or_default(), d.summary.clone())
            })
            .collect();
        let want: Vec<(String, String)> = want
            .into_iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn unknown_and_null_are_explicit_at_plan_time() {
    let cases = [
        ("null", Value::Null, Attr::Null),
        ("unknown", Value::Unknown, Attr::Unknown),
        ("known", Value::Bool(false), Attr::Known(false)),
    ];
    for (name, v, want) in cases {
        let m = Sample::from_value(&obj(&[("id", "x".into()), ("enabled", v)])).unwrap();
        assert_eq!(m.enabled, want, "{name}");
    }
    let cases = [
        ("null takes the default", Attr::Null, Some(true)),
        ("unknown stays unknown", Attr::Unknown, None),
        ("known wins", Attr::Known(false), Some(false)),
    ];
    for (name, a, want) in cases {
        assert_eq!(a.known_or_null_as(true), want, "{name}");
    }
}

#[test]
fn a_mistyped_attr_reads_as_unknown_in_a_partial_decode() {
    let (m, d) = Sample::from_value_partial(&obj(&[("id", "x".into()), ("enabled", "y".into())]));
    assert_eq!(m.enabled, Attr::Unknown);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, Some(AttrPath::attr("enabled")));
}

#[test]
fn a_non_object_is_one_error() {
    let d = Sample::from_value(&Value::Null).unwrap_err();
    assert_eq!(d[0].summary, "Invalid object");
    assert!(d.iter().any(|d| d.summary == "Missing id"));
}

#[test]
fn values_round_trip() {
    let tags: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
    let v = tags.to_value();
    assert_eq!(BTreeMap::<String, String>::from_value(&v).unwrap(), tags);
    let list = Value::Set(vec!["a".into(), "b".into()]);
    assert_eq!(
        Vec::<String>::from_value(&list).unwrap(),
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(Some(3i64).to_value(), Value::Int(3));
    assert_eq!(None::<String>.to_value(), Value::Null);
    assert_eq!(Attr::<bool>::Unknown.to_value(), Value::Unknown);
    assert_eq!(
        i64::from_value(&Value::string("1")).unwrap_err(),
        "expected a whole number, got a string"
    );
}

#[test]
fn changes_compares_planned_with_prior() {
    let cases = [
        ("null to none", Attr::Null, None, false),
        ("same value", Attr::Known(1), Some(1), false),
        ("other value", Attr::Known(2), Some(1), true),
        ("set", Attr::Known(1), None, true),
        ("unset", Attr::Null, Some(1), true),
        ("unknown", Attr::Unknown, Some(1), true),
    ];
    for (name, planned, prior, want) in cases {
        assert_eq!(planned.changes(prior.as_ref()), want, "{name}");
    }
}
