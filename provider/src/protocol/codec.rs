//! `DynamicValue` codecs: msgpack (and JSON raw state) ⇄ [`Value`], driven by
//! the schema type.
//!
//! Rules (Terraform's cty encoding):
//! - msgpack `nil` is null; any msgpack extension (type 0 "unknown", type 12
//!   "refined unknown", anything else) is [`Value::Unknown`];
//! - numbers may arrive as integers, floats or strings; whole floats below
//!   2^53 become [`Value::Int`];
//! - arrays become lists or sets and maps become maps or objects, as the type
//!   says; object attributes missing from the input are null, attributes not
//!   in the type are dropped (logged by name at debug level, never by value);
//! - encoding writes every attribute of an object type (cty requires all of
//!   them), `Int` as a msgpack integer, `Float` as f64, `Unknown` as
//!   extension 0 with payload `[0]` (bytes `d4 00 00`).
//!
//! Malformed or mismatched input is a [`CodecError`] naming the attribute
//! path, never a panic.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::framework::{AttrPath, AttrType, Diagnostic, Object, PathStep, Value};

/// Why bytes could not be decoded into, or a value encoded as, a schema type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    /// Where in the value the problem is (empty: the whole value).
    pub path: AttrPath,
    /// What is wrong (never contains the value itself).
    pub message: String,
}

impl CodecError {
    fn new(path: &AttrPath, message: impl Into<String>) -> Self {
        CodecError {
            path: path.clone(),
            message: message.into(),
        }
    }

    /// An error diagnostic; `what` names the value (e.g. "configuration").
    pub fn to_diagnostic(&self, what: &str) -> Diagnostic {
        let d = Diagnostic::error(
            format!("Invalid {what} received from Terraform"),
            format!(
                "The keyshift provider could not decode the {what}: {self}. This is a \
                 bug in Terraform or the provider; please report it."
            ),
        );
        if self.path.0.is_empty() {
            d
        } else {
            d.at(self.path.clone())
        }
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.0.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CodecError {}

/// Largest magnitude below which a whole f64 is turned into an exact `Int`.
const EXACT_F64: f64 = 9_007_199_254_740_992.0; // 2^53

/// Decodes msgpack bytes into a value of type `ty`. Trailing bytes are an error.
pub fn decode_msgpack(bytes: &[u8], ty: &AttrType) -> Result<Value, CodecError> {
    let root = AttrPath::default();
    let mut rd = bytes;
    let raw = super::msgpack_read::read_value(&mut rd)
        .map_err(|e| CodecError::new(&root, format!("malformed msgpack: {e}")))?;
    if !rd.is_empty() {
        return Err(CodecError::new(
            &root,
            format!(
                "{} unexpected trailing bytes after the msgpack value",
                rd.len()
            ),
        ));
    }
    from_msgpack(&raw, ty, &root)
}

/// Encodes `v` as msgpack according to type `ty`.
pub fn encode_msgpack(v: &Value, ty: &AttrType) -> Result<Vec<u8>, CodecError> {
    let raw = to_msgpack(v, ty, &AttrPath::default())?;
    let mut out = Vec::with_capacity(64);
    rmpv::encode::write_value(&mut out, &raw)
        .map_err(|e| CodecError::new(&AttrPath::default(), format!("msgpack encoding: {e}")))?;
    Ok(out)
}

/// Decodes JSON (as in `RawState.json`) into a value of type `ty`.
pub fn decode_json(bytes: &[u8], ty: &AttrType) -> Result<Value, CodecError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        CodecError::new(
            &AttrPath::default(),
            format!("malformed JSON at line {} column {}", e.line(), e.column()),
        )
    })?;
    from_json(&raw, ty, &AttrPath::default())
}

fn child(path: &AttrPath, step: PathStep) -> AttrPath {
    let mut p = path.clone();
    p.0.push(step);
    p
}

fn type_name(ty: &AttrType) -> String {
    ty.to_json().to_string()
}

fn mismatch(path: &AttrPath, ty: &AttrType, got: &str) -> CodecError {
    CodecError::new(path, format!("expected {}, got {got}", type_name(ty)))
}

fn float_value(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < EXACT_F64 {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

/// Terraform sends a number as a string when neither an `i64` nor an `f64`
/// holds it exactly (`1e300`): it becomes a [`Value::Float`], which the
/// whole-number check refuses for an integer attribute.
fn number_from_str(s: &str, path: &AttrPath) -> Result<Value, CodecError> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    match s.parse::<f64>() {
        Ok(f) if !f.is_nan() => Ok(float_value(f)),
        _ => Err(CodecError::new(
            path,
            "a string that is not a number where a number is expected",
        )),
    }
}

fn msgpack_kind(v: &rmpv::Value) -> &'static str {
    use rmpv::Value as M;
    match v {
        M::Nil => "nil",
        M::Boolean(_) => "a bool",
        M::Integer(_) | M::F32(_) | M::F64(_) => "a number",
        M::String(_) => "a string",
        M::Binary(_) => "binary data",
        M::Array(_) => "an array",
        M::Map(_) => "a map",
        M::Ext(..) => "an extension",
    }
}

fn msgpack_str<'a>(v: &'a rmpv::Value, path: &AttrPath) -> Result<&'a str, CodecError> {
    match v {
        rmpv::Value::String(s) => s
            .as_str()
            .ok_or_else(|| CodecError::new(path, "string is not valid UTF-8")),
        other => Err(CodecError::new(
            path,
            format!("expected a string key, got {}", msgpack_kind(other)),
        )),
    }
}

fn from_msgpack(v: &rmpv::Value, ty: &AttrType, path: &AttrPath) -> Result<Value, CodecError> {
    use rmpv::Value as M;
    match (v, ty) {
        (M::Nil, _) => Ok(Value::Null),
        (M::Ext(..), _) => Ok(Value::Unknown),
        (M::String(_), AttrType::String) => Ok(Value::String(msgpack_str(v, path)?.to_string())),
        (M::Boolean(b), AttrType::Bool) => Ok(Value::Bool(*b)),
        (M::Integer(i), AttrType::Number) => Ok(match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::Float(u as f64),
            (None, None) => return Err(CodecError::new(path, "integer out of range")),
        }),
        (M::F32(f), AttrType::Number) => Ok(float_value(f64::from(*f))),
        (M::F64(f), AttrType::Number) => Ok(float_value(*f)),
        (M::String(_), AttrType::Number) => number_from_str(msgpack_str(v, path)?, path),
        (M::Array(items), AttrType::List(el)) => {
            Ok(Value::List(decode_items(items, el, path, from_msgpack)?))
        }
        (M::Array(items), AttrType::Set(el)) => Ok(Value::Set(normalize_set(decode_items(
            items,
            el,
            path,
            from_msgpack,
        )?))),
        (M::Map(entries), AttrType::Map(el)) => {
            let mut out = BTreeMap::new();
            for (k, item) in entries {
                let key = msgpack_str(k, path)?;
                let v = from_msgpack(item, el, &child(path, PathStep::Key(key.to_string())))?;
                out.insert(key.to_string(), v);
            }
            Ok(Value::Map(out))
        }
        (M::Map(entries), AttrType::Object(fields)) => {
            let mut seen: BTreeMap<&str, &rmpv::Value> = BTreeMap::new();
            for (k, item) in entries {
                seen.insert(msgpack_str(k, path)?, item);
            }
            let mut out = Object::new();
            for (name, fty) in fields {
                let v = match seen.remove(name.as_str()) {
                    Some(item) => {
                        from_msgpack(item, fty, &child(path, PathStep::Attr(name.clone())))?
                    }
                    None => Value::Null,
                };
                out.insert(name.clone(), v);
            }
            for extra in seen.keys() {
                tracing::debug!(attribute = %extra, "dropping msgpack attribute not in the schema");
            }
            Ok(Value::Object(out))
        }
        (other, _) => Err(mismatch(path, ty, msgpack_kind(other))),
    }
}

fn to_msgpack(v: &Value, ty: &AttrType, path: &AttrPath) -> Result<rmpv::Value, CodecError> {
    use rmpv::Value as M;
    Ok(match (v, ty) {
        (Value::Null, _) => M::Nil,
        (Value::Unknown, _) => M::Ext(0, vec![0]),
        (Value::String(s), AttrType::String) => M::from(s.as_str()),
        (Value::Bool(b), AttrType::Bool) => M::Boolean(*b),
        (Value::Int(i), AttrType::Number) => M::from(*i),
        (Value::Float(f), AttrType::Number) => M::F64(*f),
        (Value::List(items), AttrType::List(el)) => M::Array(encode_items(items, el, path)?),
        (Value::Set(items), AttrType::Set(el)) => {
            let sorted = normalize_set(items.clone());
            M::Array(encode_items(&sorted, el, path)?)
        }
        (Value::Map(m), AttrType::Map(el)) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, item) in m {
                let p = child(path, PathStep::Key(k.clone()));
                out.push((M::from(k.as_str()), to_msgpack(item, el, &p)?));
            }
            M::Map(out)
        }
        (Value::Object(o), AttrType::Object(fields)) => {
            let mut out = Vec::with_capacity(fields.len());
            for (name, fty) in fields {
                let p = child(path, PathStep::Attr(name.clone()));
                let item = o.get(name).unwrap_or(&Value::Null);
                out.push((M::from(name.as_str()), to_msgpack(item, fty, &p)?));
            }
            for extra in o.keys().filter(|k| !fields.iter().any(|(n, _)| n == *k)) {
                tracing::debug!(attribute = %extra, "not encoding attribute missing from the schema");
            }
            M::Map(out)
        }
        (other, _) => {
            return Err(CodecError::new(
                path,
                format!(
                    "the provider produced {} where the schema says {}",
                    value_kind(other),
                    type_name(ty)
                ),
            ));
        }
    })
}

fn encode_items(
    items: &[Value],
    el: &AttrType,
    path: &AttrPath,
) -> Result<Vec<rmpv::Value>, CodecError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| to_msgpack(item, el, &child(path, PathStep::Index(i as i64))))
        .collect()
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "an unknown value",
        Value::Bool(_) => "a bool",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value as J;
    match v {
        J::Null => "null",
        J::Bool(_) => "a bool",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    }
}

fn from_json(v: &serde_json::Value, ty: &AttrType, path: &AttrPath) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    match (v, ty) {
        (J::Null, _) => Ok(Value::Null),
        (J::String(s), AttrType::String) => Ok(Value::String(s.clone())),
        (J::Bool(b), AttrType::Bool) => Ok(Value::Bool(*b)),
        (J::String(s), AttrType::Bool) if s == "true" || s == "false" => {
            Ok(Value::Bool(s == "true"))
        }
        (J::Number(n), AttrType::Number) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Value::Int(i)),
            (None, Some(f)) => Ok(float_value(f)),
            (None, None) => Err(CodecError::new(path, "number out of range")),
        },
        (J::String(s), AttrType::Number) => number_from_str(s, path),
        (J::Array(items), AttrType::List(el)) => {
            Ok(Value::List(decode_items(items, el, path, from_json)?))
        }
        (J::Array(items), AttrType::Set(el)) => Ok(Value::Set(normalize_set(decode_items(
            items, el, path, from_json,
        )?))),
        (J::Object(m), AttrType::Map(el)) => {
            let mut out = BTreeMap::new();
            for (k, item) in m {
                out.insert(
                    k.clone(),
                    from_json(item, el, &child(path, PathStep::Key(k.clone())))?,
                );
            }
            Ok(Value::Map(out))
        }
        (J::Object(m), AttrType::Object(fields)) => {
            let mut out = Object::new();
            for (name, fty) in fields {
                let v = match m.get(name) {
                    Some(item) => from_json(item, fty, &child(path, PathStep::Attr(name.clone())))?,
                    None => Value::Null,
                };
                out.insert(name.clone(), v);
            }
            for extra in m.keys().filter(|k| !fields.iter().any(|(n, _)| n == *k)) {
                tracing::debug!(attribute = %extra, "dropping raw-state attribute not in the schema");
            }
            Ok(Value::Object(out))
        }
        (other, _) => Err(mismatch(path, ty, json_kind(other))),
    }
}

/// Decodes the elements of a list or set with `decode` (msgpack or JSON),
/// each at its index below `path`.
fn decode_items<T>(
    items: &[T],
    el: &AttrType,
    path: &AttrPath,
    decode: fn(&T, &AttrType, &AttrPath) -> Result<Value, CodecError>,
) -> Result<Vec<Value>, CodecError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| decode(item, el, &child(path, PathStep::Index(i as i64))))
        .collect()
}

/// Sorts set elements into a canonical order and drops duplicates.
fn normalize_set(mut items: Vec<Value>) -> Vec<Value> {
    items.sort_by(compare);
    items.dedup();
    items
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Unknown => 1,
        Value::Bool(_) => 2,
        Value::Int(_) | Value::Float(_) => 3,
        Value::String(_) => 4,
        Value::List(_) => 5,
        Value::Set(_) => 6,
        Value::Map(_) => 7,
        Value::Object(_) => 8,
    }
}

/// A total order on values (used to keep sets canonical).
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Int(x), Value::Float(y)) => (*x as f64).total_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.total_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => {
            for (l, r) in x.iter().zip(y) {
                let o = compare(l, r);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => {
            for ((lk, lv), (rk, rv)) in x.iter().zip(y) {
                let o = lk.cmp(rk).then_with(|| compare(lv, rv));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
