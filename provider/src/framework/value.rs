//! Terraform values as the framework sees them.

use std::collections::BTreeMap;

/// The attributes of an object value, by name.
pub type Object = BTreeMap<String, Value>;

/// A Terraform value: known, null or unknown, of any schema type.
///
/// Numbers keep Terraform's arbitrary precision where it matters to us:
/// integers are exact (`Int`), everything else is an `f64`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// A null value.
    #[default]
    Null,
    /// A value not known until apply (plan time only).
    Unknown,
    /// A boolean.
    Bool(bool),
    /// An integer number.
    Int(i64),
    /// A non-integer number.
    Float(f64),
    /// A string.
    String(String),
    /// A list (ordered).
    List(Vec<Value>),
    /// A set (order not significant; kept sorted by the codec).
    Set(Vec<Value>),
    /// A map of strings to values of one type.
    Map(BTreeMap<String, Value>),
    /// An object with a fixed set of attributes.
    Object(Object),
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Self {
        Value::String(s.into())
    }

    /// `Value::String` for `Some`, `Value::Null` for `None`.
    pub fn opt_string(s: Option<impl Into<String>>) -> Self {
        s.map_or(Value::Null, |s| Value::String(s.into()))
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for `Unknown` (only the top level; see [`Value::is_wholly_known`]).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) => v.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// The string, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is a known boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is a known whole number.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    /// The attributes, if this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Mutable attributes, if this is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Attribute `name` of an object; `Null` when absent or not an object.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.as_object().and_then(|o| o.get(name)).unwrap_or(&NULL)
    }

    /// Sets attribute `name` of an object (no-op on other values).
    pub fn set(&mut self, name: &str, v: Value) {
        if let Some(o) = self.as_object_mut() {
            o.insert(name.to_string(), v);
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wholly_known_looks_inside_collections() {
        let mut o = Object::new();
        o.insert("a".into(), Value::List(vec![Value::Int(1), Value::Unknown]));
        assert!(!Value::Object(o.clone()).is_wholly_known());
        o.insert("a".into(), Value::List(vec![Value::Int(1)]));
        assert!(Value::Object(o).is_wholly_known());
    }

    #[test]
    fn get_on_missing_is_null() {
        assert!(Value::Null.get("x").is_null());
        assert_eq!(Value::Float(3.0).as_i64(), Some(3));
        assert_eq!(Value::Float(3.5).as_i64(), None);
    }
}
