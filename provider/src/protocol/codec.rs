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
//!
//! Values are read in one pass by `msgpack_read` and written with
//! `rmp`'s low-level encoders (the crate `rmpv` itself is built on): no
//! intermediate msgpack tree on either side, because decoding through one
//! was the largest single cost of every provider call. Attribute paths are
//! built only when an error travels up (`CodecError::under`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::msgpack_read::{self, Token};
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
    /// An error about the value as a whole; [`CodecError::under`] adds the
    /// steps leading to it as the error travels up, so a successful decode
    /// never builds a path.
    fn at_root(message: impl Into<String>) -> Self {
        CodecError {
            path: AttrPath::default(),
            message: message.into(),
        }
    }

    /// This error, one step further down: `step` goes in front of the path.
    fn under(mut self, step: PathStep) -> Self {
        self.path.0.insert(0, step);
        self
    }

    /// Input that is not msgpack at all (truncated, a reserved marker).
    fn malformed(e: String) -> Self {
        CodecError::at_root(format!("malformed msgpack: {e}"))
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

/// Decodes msgpack bytes into a value of type `ty`, in one pass (see
/// `msgpack_read`). Trailing bytes are an error.
pub fn decode_msgpack(bytes: &[u8], ty: &AttrType) -> Result<Value, CodecError> {
    // A cheap first pass (no allocation) checks the structure, so malformed
    // input is reported as such whatever the type says, and nothing is
    // decoded from a value that turns out truncated.
    let mut rest = bytes;
    msgpack_read::skip(&mut rest).map_err(CodecError::malformed)?;
    if !rest.is_empty() {
        return Err(CodecError::at_root(format!(
            "{} unexpected trailing bytes after the msgpack value",
            rest.len()
        )));
    }
    from_msgpack(&mut &bytes[..], ty)
}

/// Encodes `v` as msgpack according to type `ty`, written straight into
/// the output buffer.
pub fn encode_msgpack(v: &Value, ty: &AttrType) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(256);
    to_msgpack(&mut out, v, ty)?;
    Ok(out)
}

/// Decodes JSON (as in `RawState.json`) into a value of type `ty`.
pub fn decode_json(bytes: &[u8], ty: &AttrType) -> Result<Value, CodecError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        CodecError::at_root(format!(
            "malformed JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    from_json(&raw, ty)
}

fn type_name(ty: &AttrType) -> String {
    ty.to_json().to_string()
}

fn mismatch(ty: &AttrType, got: &str) -> CodecError {
    CodecError::at_root(format!("expected {}, got {got}", type_name(ty)))
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
fn number_from_str(s: &str) -> Result<Value, CodecError> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    match s.parse::<f64>() {
        Ok(f) if !f.is_nan() => Ok(float_value(f)),
        _ => Err(CodecError::at_root(
            "a string that is not a number where a number is expected",
        )),
    }
}

/// A string's bytes as `&str`.
fn utf8(bytes: &[u8]) -> Result<&str, CodecError> {
    std::str::from_utf8(bytes).map_err(|_| CodecError::at_root("string is not valid UTF-8"))
}

/// Reads a map key, which must be a string.
fn msgpack_key<'a>(rd: &mut &'a [u8]) -> Result<&'a str, CodecError> {
    match msgpack_read::next(rd).map_err(CodecError::malformed)? {
        Token::Str(s) => utf8(s),
        other => Err(CodecError::at_root(format!(
            "expected a string key, got {}",
            other.kind()
        ))),
    }
}

/// Reads one value of type `ty` from the front of `rd`. Recursion follows
/// the schema type, which is finite; unknown attributes are skipped with
/// [`msgpack_read::skip`], whose depth is bounded.
fn from_msgpack(rd: &mut &[u8], ty: &AttrType) -> Result<Value, CodecError> {
    let token = msgpack_read::next(rd).map_err(CodecError::malformed)?;
    match (token, ty) {
        (Token::Nil, _) => Ok(Value::Null),
        (Token::Ext(..), _) => Ok(Value::Unknown),
        (Token::Str(s), AttrType::String) => Ok(Value::String(utf8(s)?.to_string())),
        (Token::Bool(b), AttrType::Bool) => Ok(Value::Bool(b)),
        (Token::Int(i), AttrType::Number) => Ok(Value::Int(i)),
        (Token::UInt(u), AttrType::Number) => Ok(Value::Float(u as f64)),
        (Token::F32(f), AttrType::Number) => Ok(float_value(f64::from(f))),
        (Token::F64(f), AttrType::Number) => Ok(float_value(f)),
        (Token::Str(s), AttrType::Number) => number_from_str(utf8(s)?),
        (Token::Array(n), AttrType::List(el)) => Ok(Value::List(msgpack_items(rd, n, el)?)),
        (Token::Array(n), AttrType::Set(el)) => {
            Ok(Value::Set(normalize_set(msgpack_items(rd, n, el)?)))
        }
        (Token::Map(n), AttrType::Map(el)) => {
            let mut out = BTreeMap::new();
            for _ in 0..n {
                let key = msgpack_key(rd)?;
                let v =
                    from_msgpack(rd, el).map_err(|e| e.under(PathStep::Key(key.to_string())))?;
                out.insert(key.to_string(), v);
            }
            Ok(Value::Map(out))
        }
        (Token::Map(n), AttrType::Object(fields)) => msgpack_object(rd, n, fields),
        (other, _) => Err(mismatch(ty, other.kind())),
    }
}

/// The `n` elements of a list or set, each of type `el`.
fn msgpack_items(rd: &mut &[u8], n: usize, el: &AttrType) -> Result<Vec<Value>, CodecError> {
    // Never preallocate from an untrusted length: every element takes at
    // least one byte, so the input's length bounds the capacity.
    let mut items = Vec::with_capacity(n.min(rd.len()));
    for i in 0..n {
        items.push(from_msgpack(rd, el).map_err(|e| e.under(PathStep::Index(i as i64)))?);
    }
    Ok(items)
}

/// An object's `n` attributes: each known one decoded with its type (the
/// last wins if Terraform sent a name twice), unknown ones skipped and
/// logged by name, missing ones null.
fn msgpack_object(
    rd: &mut &[u8],
    n: usize,
    fields: &[(String, AttrType)],
) -> Result<Value, CodecError> {
    let mut out = Object::new();
    for _ in 0..n {
        let name = msgpack_key(rd)?;
        match fields.iter().find(|(f, _)| f == name) {
            Some((field, fty)) => {
                let v =
                    from_msgpack(rd, fty).map_err(|e| e.under(PathStep::Attr(field.clone())))?;
                out.insert(field.clone(), v);
            }
            None => {
                tracing::debug!(attribute = %name, "dropping msgpack attribute not in the schema");
                msgpack_read::skip(rd).map_err(CodecError::malformed)?;
            }
        }
    }
    if out.len() < fields.len() {
        for (name, _) in fields {
            out.entry(name.clone()).or_insert(Value::Null);
        }
    }
    Ok(Value::Object(out))
}

/// Writing into a `Vec` cannot fail; the error type is still carried, not
/// unwrapped.
fn write_failed(e: impl std::fmt::Display) -> CodecError {
    CodecError::at_root(format!("msgpack encoding: {e}"))
}

fn to_msgpack(out: &mut Vec<u8>, v: &Value, ty: &AttrType) -> Result<(), CodecError> {
    use rmp::encode as w;
    match (v, ty) {
        (Value::Null, _) => w::write_nil(out).map_err(write_failed)?,
        // Unknown: extension 0 with payload [0] (fixext1).
        (Value::Unknown, _) => out.extend_from_slice(&[0xd4, 0x00, 0x00]),
        (Value::String(s), AttrType::String) => w::write_str(out, s).map_err(write_failed)?,
        (Value::Bool(b), AttrType::Bool) => w::write_bool(out, *b).map_err(write_failed)?,
        (Value::Int(i), AttrType::Number) => {
            w::write_sint(out, *i).map_err(write_failed)?;
        }
        (Value::Float(f), AttrType::Number) => w::write_f64(out, *f).map_err(write_failed)?,
        (Value::List(items), AttrType::List(el)) => encode_items(out, items, el)?,
        (Value::Set(items), AttrType::Set(el)) => {
            encode_items(out, &normalize_set(items.clone()), el)?;
        }
        (Value::Map(m), AttrType::Map(el)) => {
            w::write_map_len(out, len_u32(m.len())?).map_err(write_failed)?;
            for (k, item) in m {
                w::write_str(out, k).map_err(write_failed)?;
                to_msgpack(out, item, el).map_err(|e| e.under(PathStep::Key(k.clone())))?;
            }
        }
        (Value::Object(o), AttrType::Object(fields)) => {
            w::write_map_len(out, len_u32(fields.len())?).map_err(write_failed)?;
            for (name, fty) in fields {
                w::write_str(out, name).map_err(write_failed)?;
                let item = o.get(name).unwrap_or(&Value::Null);
                to_msgpack(out, item, fty).map_err(|e| e.under(PathStep::Attr(name.clone())))?;
            }
            if tracing::enabled!(tracing::Level::DEBUG) {
                for extra in o.keys().filter(|k| !fields.iter().any(|(n, _)| n == *k)) {
                    tracing::debug!(attribute = %extra, "not encoding attribute missing from the schema");
                }
            }
        }
        (other, _) => {
            return Err(CodecError::at_root(format!(
                "the provider produced {} where the schema says {}",
                value_kind(other),
                type_name(ty)
            )));
        }
    }
    Ok(())
}

fn len_u32(n: usize) -> Result<u32, CodecError> {
    u32::try_from(n).map_err(|_| CodecError::at_root("too many elements for msgpack"))
}

fn encode_items(out: &mut Vec<u8>, items: &[Value], el: &AttrType) -> Result<(), CodecError> {
    rmp::encode::write_array_len(out, len_u32(items.len())?).map_err(write_failed)?;
    for (i, item) in items.iter().enumerate() {
        to_msgpack(out, item, el).map_err(|e| e.under(PathStep::Index(i as i64)))?;
    }
    Ok(())
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

fn from_json(v: &serde_json::Value, ty: &AttrType) -> Result<Value, CodecError> {
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
            (None, None) => Err(CodecError::at_root("number out of range")),
        },
        (J::String(s), AttrType::Number) => number_from_str(s),
        (J::Array(items), AttrType::List(el)) => Ok(Value::List(json_items(items, el)?)),
        (J::Array(items), AttrType::Set(el)) => {
            Ok(Value::Set(normalize_set(json_items(items, el)?)))
        }
        (J::Object(m), AttrType::Map(el)) => {
            let mut out = BTreeMap::new();
            for (k, item) in m {
                let v = from_json(item, el).map_err(|e| e.under(PathStep::Key(k.clone())))?;
                out.insert(k.clone(), v);
            }
            Ok(Value::Map(out))
        }
        (J::Object(m), AttrType::Object(fields)) => {
            let mut out = Object::new();
            for (name, fty) in fields {
                let v = match m.get(name) {
                    Some(item) => {
                        from_json(item, fty).map_err(|e| e.under(PathStep::Attr(name.clone())))?
                    }
                    None => Value::Null,
                };
                out.insert(name.clone(), v);
            }
            for extra in m.keys().filter(|k| !fields.iter().any(|(n, _)| n == *k)) {
                tracing::debug!(attribute = %extra, "dropping raw-state attribute not in the schema");
            }
            Ok(Value::Object(out))
        }
        (other, _) => Err(mismatch(ty, json_kind(other))),
    }
}

/// The elements of a JSON list or set, each of type `el`.
fn json_items(items: &[serde_json::Value], el: &AttrType) -> Result<Vec<Value>, CodecError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| from_json(item, el).map_err(|e| e.under(PathStep::Index(i as i64))))
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
