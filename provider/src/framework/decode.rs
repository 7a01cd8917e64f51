//! Typed decoding of configuration, plan and state objects.
//!
//! A resource decodes each object it is handed once, at the top of an
//! operation, into a model struct of its own (the role the plugin
//! framework's `tfsdk` structs play), instead of reading attributes by name
//! with a default for whatever is missing. A [`Decoder`] reads the fields
//! and records a [`Diagnostic`] with the attribute's path for every one
//! that is missing, not known yet where it must be, or of the wrong type;
//! [`Decoder::finish`] then hands back the model or those diagnostics.
//!
//! Which accessor a model uses says what it expects of the attribute:
//! - [`Decoder::required`]: known and non-null (ids in state, arguments
//!   with a default in a planned value);
//! - [`Decoder::optional`]: known, null allowed (`Option<T>`);
//! - [`Decoder::attr`]: anything, null and unknown included ([`Attr`]),
//!   for configurations at validate time and plans, where Terraform may not
//!   know a value yet.

use std::collections::BTreeMap;

use super::{AttrPath, Diagnostic, Diagnostics, Value};

/// An attribute as Terraform may hand it before apply: null, not yet known,
/// or a known value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Attr<T> {
    /// Null: not set.
    #[default]
    Null,
    /// Not known until apply (plan time only).
    Unknown,
    /// A known value.
    Known(T),
}

impl<T> Attr<T> {
    /// The value, if known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Attr::Known(v) => Some(v),
            _ => None,
        }
    }

    /// True for [`Attr::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Attr::Null)
    }

    /// True for [`Attr::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Attr::Unknown)
    }

    /// The value the attribute stands for when null means `default` (an
    /// Optional attribute whose default the provider fills in): the known
    /// value, `default` for null, `None` while unknown.
    pub fn known_or_null_as(&self, default: T) -> Option<T>
    where
        T: Clone,
    {
        match self {
            Attr::Known(v) => Some(v.clone()),
            Attr::Null => Some(default),
            Attr::Unknown => None,
        }
    }
}

impl<T: PartialEq> Attr<T> {
    /// Whether this planned value changes the prior one (`None`: null):
    /// true unless both are null or both the same known value.
    pub fn changes(&self, prior: Option<&T>) -> bool {
        match (self, prior) {
            (Attr::Null, None) => false,
            (Attr::Known(a), Some(b)) => a != b,
            _ => true,
        }
    }
}

impl<T> From<Option<T>> for Attr<T> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Attr::Null, Attr::Known)
    }
}

/// A Rust type that a known, non-null Terraform value decodes into.
pub trait FromValue: Sized {
    /// Decodes `v` (known, not null); the error is the diagnostic's detail
    /// and must not echo the value (it may be sensitive).
    fn from_value(v: &Value) -> Result<Self, String>;

    /// What [`Decoder::required`] returns alongside a recorded error; never
    /// seen by callers, since [`Decoder::finish`] then fails.
    fn placeholder() -> Self;
}

/// A Rust value that encodes into a Terraform value.
pub trait ToValue {
    /// The Terraform value.
    fn to_value(&self) -> Value;
}

/// The kind of `v` in a diagnostic ("a string", "a number", ...).
pub fn kind_of(v: &Value) -> &'static str {
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

fn expected(what: &str, v: &Value) -> String {
    format!("expected {what}, got {}", kind_of(v))
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| expected("a string", v))
    }
    fn placeholder() -> Self {
        String::new()
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        v.as_bool().ok_or_else(|| expected("a bool", v))
    }
    fn placeholder() -> Self {
        false
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        v.as_i64().ok_or_else(|| expected("a whole number", v))
    }
    fn placeholder() -> Self {
        0
    }
}

impl FromValue for BTreeMap<String, String> {
    fn from_value(v: &Value) -> Result<Self, String> {
        let m = v.as_map().ok_or_else(|| expected("a map of strings", v))?;
        m.iter()
            .map(|(k, item)| match item.as_str() {
                Some(s) => Ok((k.clone(), s.to_string())),
                None => Err(format!("[{k:?}]: {}", expected("a string", item))),
            })
            .collect()
    }
    fn placeholder() -> Self {
        BTreeMap::new()
    }
}

impl FromValue for Vec<String> {
    fn from_value(v: &Value) -> Result<Self, String> {
        let (Value::List(xs) | Value::Set(xs)) = v else {
            return Err(expected("a list or set of strings", v));
        };
        xs.iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("[{i}]: {}", expected("a string", x)))
            })
            .collect()
    }
    fn placeholder() -> Self {
        Vec::new()
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::string(self)
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl ToValue for BTreeMap<String, String> {
    fn to_value(&self) -> Value {
        Value::Map(
            self.iter()
                .map(|(k, v)| (k.clone(), Value::string(v)))
                .collect(),
        )
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: ToValue> ToValue for Attr<T> {
    fn to_value(&self) -> Value {
        match self {
            Attr::Null => Value::Null,
            Attr::Unknown => Value::Unknown,
            Attr::Known(v) => v.to_value(),
        }
    }
}

/// Implements [`FromValue`] and [`ToValue`] for enums written as strings:
/// `FromStr<Err = String>` to decode (its error is the detail), `as_str()`
/// to encode, and the named variant as the placeholder.
#[macro_export]
macro_rules! string_enum_value {
    ($($ty:ty => $placeholder:expr),* $(,)?) => {$(
        impl $crate::framework::FromValue for $ty {
            fn from_value(v: &$crate::framework::Value) -> Result<Self, String> {
                let s = <String as $crate::framework::FromValue>::from_value(v)?;
                s.parse()
            }
            fn placeholder() -> Self {
                $placeholder
            }
        }
        impl $crate::framework::ToValue for $ty {
            fn to_value(&self) -> $crate::framework::Value {
                $crate::framework::Value::string(self.as_str())
            }
        }
    )*};
}

/// Reads the attributes of one object value into typed fields, collecting
/// a diagnostic (with the attribute path) for each bad one.
#[derive(Debug)]
pub struct Decoder<'a> {
    value: &'a Value,
    diags: Diagnostics,
}

impl<'a> Decoder<'a> {
    /// A decoder over `value`, which must be an object (anything else,
    /// null included, is one diagnostic and every field then reads as null).
    pub fn new(value: &'a Value) -> Self {
        let mut diags = Vec::new();
        if value.as_object().is_none() {
            diags.push(Diagnostic::error(
                "Invalid object",
                format!(
                    "the provider expected an object here, got {}",
                    kind_of(value)
                ),
            ));
        }
        Decoder { value, diags }
    }

    fn error(&mut self, name: &str, summary: String, detail: String) {
        self.diags
            .push(Diagnostic::error(summary, detail).at(AttrPath::attr(name)));
    }

    fn decode<T: FromValue>(&mut self, name: &str, v: &Value) -> Option<T> {
        match T::from_value(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.error(name, format!("Invalid {name}"), e);
                None
            }
        }
    }

    /// A known, non-null attribute; null or (even partly) unknown is an error.
    pub fn required<T: FromValue>(&mut self, name: &str) -> T {
        let v = self.value.get(name);
        let t = match v {
            Value::Null => {
                let detail = format!("attribute {name} must be set here, but it is null");
                self.error(name, format!("Missing {name}"), detail);
                None
            }
            v if !v.is_wholly_known() => {
                self.not_known(name);
                None
            }
            v => self.decode(name, v),
        };
        t.unwrap_or_else(T::placeholder)
    }

    /// A known attribute that may be null; unknown is an error.
    pub fn optional<T: FromValue>(&mut self, name: &str) -> Option<T> {
        match self.value.get(name) {
            Value::Null => None,
            v if !v.is_wholly_known() => {
                self.not_known(name);
                None
            }
            v => self.decode(name, v),
        }
    }

    /// An attribute that may be null or unknown (a collection with an
    /// unknown element counts as unknown). A mistyped value is an
    /// error and reads as [`Attr::Unknown`], so that rules about the
    /// attribute skip it rather than report it twice.
    pub fn attr<T: FromValue>(&mut self, name: &str) -> Attr<T> {
        match self.value.get(name) {
            Value::Null => Attr::Null,
            v if !v.is_wholly_known() => Attr::Unknown,
            v => self.decode(name, v).map_or(Attr::Unknown, Attr::Known),
        }
    }

    fn not_known(&mut self, name: &str) {
        let detail = format!("attribute {name} must be known here, but its value is not known yet");
        self.error(name, format!("Unknown {name}"), detail);
    }

    /// `model` when every field decoded; else the diagnostics.
    pub fn finish<M>(self, model: M) -> Result<M, Diagnostics> {
        if self.diags.is_empty() {
            Ok(model)
        } else {
            Err(self.diags)
        }
    }

    /// `model` (bad fields read as unknown or placeholders) and the
    /// diagnostics, for validation, which reports every problem at once.
    pub fn partial<M>(self, model: M) -> (M, Diagnostics) {
        (model, self.diags)
    }
}

/// A resource's typed view of one object value.
pub trait Model: Sized {
    /// Reads the fields; every problem goes to `d`.
    fn decode(d: &mut Decoder<'_>) -> Self;

    /// Decodes `v`, failing with a diagnostic per bad attribute.
    fn from_value(v: &Value) -> Result<Self, Diagnostics> {
        let mut d = Decoder::new(v);
        let m = Self::decode(&mut d);
        d.finish(m)
    }

    /// Decodes `v` as far as it goes: the model and the diagnostics.
    fn from_value_partial(v: &Value) -> (Self, Diagnostics) {
        let mut d = Decoder::new(v);
        let m = Self::decode(&mut d);
        d.partial(m)
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
