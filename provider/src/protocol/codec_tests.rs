//! Table-driven tests of the msgpack and JSON codecs.

use super::*;
use rmpv::Value as M;

fn mp(v: M) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &v).unwrap();
    out
}

fn mmap(pairs: Vec<(&str, M)>) -> M {
    M::Map(pairs.into_iter().map(|(k, v)| (M::from(k), v)).collect())
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

fn key_type() -> AttrType {
    AttrType::Object(vec![
        ("id".into(), AttrType::String),
        ("tags".into(), AttrType::string_map()),
        ("window".into(), AttrType::Number),
    ])
}

#[test]
fn msgpack_decode_cases() {
    let unknown_ext0 = vec![0xd4, 0x00, 0x00];
    let refined_ext12 = mp(M::Ext(12, vec![0x81, 0x01, 0xc3]));
    let cases: Vec<(&str, Vec<u8>, AttrType, Value)> = vec![
        ("null", vec![0xc0], AttrType::String, Value::Null),
        (
            "unknown ext 0",
            unknown_ext0,
            AttrType::String,
            Value::Unknown,
        ),
        (
            "refined unknown ext 12",
            refined_ext12,
            AttrType::Number,
            Value::Unknown,
        ),
        (
            "unknown list",
            mp(M::Ext(0, vec![0])),
            AttrType::string_list(),
            Value::Unknown,
        ),
        ("string", mp(M::from("abc")), AttrType::String, s("abc")),
        (
            "bool",
            mp(M::Boolean(true)),
            AttrType::Bool,
            Value::Bool(true),
        ),
        ("int", mp(M::from(-7)), AttrType::Number, Value::Int(-7)),
        (
            "whole float is int",
            mp(M::F64(3.0)),
            AttrType::Number,
            Value::Int(3),
        ),
        (
            "fraction float",
            mp(M::F64(1.5)),
            AttrType::Number,
            Value::Float(1.5),
        ),
        ("f32", mp(M::F32(0.5)), AttrType::Number, Value::Float(0.5)),
        (
            "number as int string",
            mp(M::from("42")),
            AttrType::Number,
            Value::Int(42),
        ),
        (
            "number as float string",
            mp(M::from("2.25")),
            AttrType::Number,
            Value::Float(2.25),
        ),
        (
            "number as exp string",
            mp(M::from("1e3")),
            AttrType::Number,
            Value::Int(1000),
        ),
        (
            "huge u64",
            mp(M::from(u64::MAX)),
            AttrType::Number,
            Value::Float(u64::MAX as f64),
        ),
        (
            "array as list keeps order",
            mp(M::Array(vec![M::from("b"), M::from("a")])),
            AttrType::string_list(),
            Value::List(vec![s("b"), s("a")]),
        ),
        (
            "array as set is sorted and deduplicated",
            mp(M::Array(vec![M::from("b"), M::from("a"), M::from("b")])),
            AttrType::string_set(),
            Value::Set(vec![s("a"), s("b")]),
        ),
        (
            "map as map",
            mp(mmap(vec![("env", M::from("prod"))])),
            AttrType::string_map(),
            Value::Map([("env".to_string(), s("prod"))].into_iter().collect()),
        ),
        (
            "map as object, missing attributes null, extra dropped",
            mp(mmap(vec![("id", M::from("k1")), ("bogus", M::from(1))])),
            key_type(),
            obj(&[
                ("id", s("k1")),
                ("tags", Value::Null),
                ("window", Value::Null),
            ]),
        ),
        (
            "nested unknown",
            mp(mmap(vec![
                ("id", M::Ext(0, vec![0])),
                ("tags", mmap(vec![("a", M::Ext(12, vec![]))])),
                ("window", M::from(7)),
            ])),
            key_type(),
            obj(&[
                ("id", Value::Unknown),
                (
                    "tags",
                    Value::Map([("a".to_string(), Value::Unknown)].into_iter().collect()),
                ),
                ("window", Value::Int(7)),
            ]),
        ),
    ];
    for (name, bytes, ty, want) in cases {
        let got = decode_msgpack(&bytes, &ty);
        assert_eq!(got, Ok(want), "case {name:?}");
    }
}

#[test]
fn msgpack_decode_errors() {
    let cases: Vec<(&str, Vec<u8>, AttrType, &str)> = vec![
        ("empty input", vec![], AttrType::String, "malformed msgpack"),
        (
            "reserved marker 0xc1",
            vec![0xc1],
            AttrType::String,
            "malformed msgpack",
        ),
        (
            "truncated array",
            vec![0x92, 0x01],
            AttrType::string_list(),
            "malformed msgpack",
        ),
        (
            "trailing bytes",
            vec![0xc0, 0xc0],
            AttrType::String,
            "trailing bytes",
        ),
        (
            "string for number",
            mp(M::from("abc")),
            AttrType::Number,
            "not a number",
        ),
        (
            "number for string",
            mp(M::from(1)),
            AttrType::String,
            "expected \"string\"",
        ),
        (
            "array for object",
            mp(M::Array(vec![])),
            key_type(),
            "got an array",
        ),
        (
            "non-string map key",
            mp(M::Map(vec![(M::from(1), M::from("x"))])),
            AttrType::string_map(),
            "string key",
        ),
        (
            "bad UTF-8",
            vec![0xa2, 0xff, 0xfe],
            AttrType::String,
            "UTF-8",
        ),
    ];
    for (name, bytes, ty, want) in cases {
        match decode_msgpack(&bytes, &ty) {
            Err(e) => assert!(e.to_string().contains(want), "case {name:?}: {e}"),
            Ok(v) => panic!("case {name:?}: expected an error, got {v:?}"),
        }
    }
}

#[test]
fn msgpack_error_carries_attribute_path() {
    let bytes = mp(mmap(vec![("tags", mmap(vec![("env", M::from(3))]))]));
    let err = decode_msgpack(&bytes, &key_type()).unwrap_err();
    assert_eq!(err.path, AttrPath::attr("tags").key("env"));
    let d = err.to_diagnostic("configuration");
    assert!(d.is_error());
    assert_eq!(d.path, Some(AttrPath::attr("tags").key("env")));
}

#[test]
fn msgpack_encode_exact_bytes() {
    let cases: Vec<(&str, Value, AttrType, Vec<u8>)> = vec![
        ("null", Value::Null, AttrType::String, vec![0xc0]),
        (
            "unknown is ext 0 [0]",
            Value::Unknown,
            AttrType::String,
            vec![0xd4, 0x00, 0x00],
        ),
        ("small int", Value::Int(5), AttrType::Number, vec![0x05]),
        (
            "float is f64",
            Value::Float(1.5),
            AttrType::Number,
            mp(M::F64(1.5)),
        ),
        ("bool", Value::Bool(false), AttrType::Bool, vec![0xc2]),
        (
            "object writes every attribute in type order",
            obj(&[("window", Value::Int(7)), ("ignored", s("x"))]),
            key_type(),
            mp(mmap(vec![
                ("id", M::Nil),
                ("tags", M::Nil),
                ("window", M::from(7)),
            ])),
        ),
        (
            "set is sorted",
            Value::Set(vec![s("z"), s("a")]),
            AttrType::string_set(),
            mp(M::Array(vec![M::from("a"), M::from("z")])),
        ),
    ];
    for (name, v, ty, want) in cases {
        assert_eq!(encode_msgpack(&v, &ty), Ok(want), "case {name:?}");
    }
}

#[test]
fn msgpack_encode_type_mismatch_is_error_with_path() {
    let v = obj(&[("window", s("seven"))]);
    let err = encode_msgpack(&v, &key_type()).unwrap_err();
    assert_eq!(err.path, AttrPath::attr("window"));
    assert!(err.message.contains("a string"), "{err}");
}

#[test]
fn msgpack_round_trips() {
    let nested = AttrType::Object(vec![
        ("l".into(), AttrType::List(Box::new(AttrType::Number))),
        ("s".into(), AttrType::Set(Box::new(AttrType::Bool))),
        (
            "o".into(),
            AttrType::Object(vec![("x".into(), AttrType::String)]),
        ),
    ]);
    let cases: Vec<(&str, Value, AttrType)> = vec![
        ("string", s("héllo"), AttrType::String),
        ("empty string", s(""), AttrType::String),
        ("negative int", Value::Int(i64::MIN), AttrType::Number),
        ("fraction", Value::Float(-0.125), AttrType::Number),
        ("unknown", Value::Unknown, AttrType::Number),
        ("empty list", Value::List(vec![]), AttrType::string_list()),
        (
            "map with unknown",
            Value::Map([("k".to_string(), Value::Unknown)].into_iter().collect()),
            AttrType::string_map(),
        ),
        (
            "nested object",
            obj(&[
                (
                    "l",
                    Value::List(vec![Value::Int(1), Value::Float(2.5), Value::Unknown]),
                ),
                ("s", Value::Set(vec![Value::Bool(false), Value::Bool(true)])),
                ("o", obj(&[("x", Value::Null)])),
            ]),
            nested,
        ),
    ];
    for (name, v, ty) in cases {
        let bytes = encode_msgpack(&v, &ty).unwrap();
        assert_eq!(decode_msgpack(&bytes, &ty), Ok(v), "case {name:?}");
    }
}

#[test]
fn json_raw_state_cases() {
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "all attributes",
            r#"{"id":"k1","tags":{"a":"b"},"window":30}"#,
            obj(&[
                ("id", s("k1")),
                (
                    "tags",
                    Value::Map([("a".to_string(), s("b"))].into_iter().collect()),
                ),
                ("window", Value::Int(30)),
            ]),
        ),
        (
            "extra keys dropped, missing keys null",
            r#"{"id":"k1","removed_attr":"x"}"#,
            obj(&[
                ("id", s("k1")),
                ("tags", Value::Null),
                ("window", Value::Null),
            ]),
        ),
        (
            "number as string, explicit nulls",
            r#"{"id":null,"tags":null,"window":"7"}"#,
            obj(&[
                ("id", Value::Null),
                ("tags", Value::Null),
                ("window", Value::Int(7)),
            ]),
        ),
        ("null state", "null", Value::Null),
    ];
    for (name, json, want) in cases {
        assert_eq!(
            decode_json(json.as_bytes(), &key_type()),
            Ok(want),
            "case {name:?}"
        );
    }
}

#[test]
fn json_errors() {
    let cases: Vec<(&str, &str, &str)> = vec![
        ("garbage", "{not json", "malformed JSON"),
        ("truncated", r#"{"id":"#, "malformed JSON"),
        (
            "wrong type",
            r#"{"window":true}"#,
            "expected \"number\", got a bool",
        ),
        ("array for object", "[]", "got an array"),
    ];
    for (name, json, want) in cases {
        match decode_json(json.as_bytes(), &key_type()) {
            Err(e) => assert!(e.to_string().contains(want), "case {name:?}: {e}"),
            Ok(v) => panic!("case {name:?}: expected an error, got {v:?}"),
        }
    }
}
