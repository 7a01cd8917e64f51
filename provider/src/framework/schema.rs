//! Resource, data source and provider schemas.

/// The type of an attribute (a subset of Terraform's type system: what
/// Keyshift's schemas use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrType {
    /// `string`
    String,
    /// `number`
    Number,
    /// `bool`
    Bool,
    /// `list(T)`
    List(Box<AttrType>),
    /// `set(T)`
    Set(Box<AttrType>),
    /// `map(T)`
    Map(Box<AttrType>),
    /// `object({...})`
    Object(Vec<(String, AttrType)>),
}

impl AttrType {
    /// `map(string)`, the type of `tags`.
    pub fn string_map() -> Self {
        AttrType::Map(Box::new(AttrType::String))
    }

    /// `set(string)`.
    pub fn string_set() -> Self {
        AttrType::Set(Box::new(AttrType::String))
    }

    /// `list(string)`.
    pub fn string_list() -> Self {
        AttrType::List(Box::new(AttrType::String))
    }

    /// The JSON type expression Terraform expects (`"string"`,
    /// `["map","string"]`, `["object",{...}]`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            AttrType::String => json!("string"),
            AttrType::Number => json!("number"),
            AttrType::Bool => json!("bool"),
            AttrType::List(t) => json!(["list", t.to_json()]),
            AttrType::Set(t) => json!(["set", t.to_json()]),
            AttrType::Map(t) => json!(["map", t.to_json()]),
            AttrType::Object(fields) => {
                let m: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", m])
            }
        }
    }
}

/// One attribute of a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name.
    pub name: &'static str,
    /// Its type.
    pub ty: AttrType,
    /// What it means (shown by `terraform providers schema` and the docs).
    pub description: &'static str,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider (alone, or when configuration leaves it null).
    pub computed: bool,
    /// Redacted in plans and output.
    pub sensitive: bool,
    /// Terraform 1.11 write-only: in configuration only, never in plan/state.
    pub write_only: bool,
    /// A change plans a replacement (the framework adds it to `requires_replace`).
    pub force_new: bool,
}

impl Attribute {
    fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Attribute {
            name,
            ty,
            description,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            force_new: false,
        }
    }

    /// A required attribute.
    pub fn required(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Attribute {
            required: true,
            ..Self::new(name, ty, description)
        }
    }

    /// An optional attribute.
    pub fn optional(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Attribute {
            optional: true,
            ..Self::new(name, ty, description)
        }
    }

    /// A computed-only attribute.
    pub fn computed(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Attribute {
            computed: true,
            ..Self::new(name, ty, description)
        }
    }

    /// An optional attribute the provider fills in when configuration leaves it null.
    pub fn optional_computed(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Attribute {
            optional: true,
            computed: true,
            ..Self::new(name, ty, description)
        }
    }

    /// Mark as requiring replacement when changed.
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    /// Mark as sensitive.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Mark as write-only (configuration only; never stored).
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
}

/// The schema of a provider, resource or data source: a versioned list of
/// attributes (Keyshift uses no nested blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Schema version, recorded in state; `UpgradeResourceState` gets it back.
    pub version: i64,
    /// What the block is for.
    pub description: &'static str,
    /// The attributes.
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of a whole value of this schema.
    pub fn object_type(&self) -> AttrType {
        AttrType::Object(
            self.attributes
                .iter()
                .map(|a| (a.name.to_string(), a.ty.clone()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_json() {
        assert_eq!(
            AttrType::string_map().to_json().to_string(),
            r#"["map","string"]"#
        );
        let o = AttrType::Object(vec![("a".into(), AttrType::Bool)]);
        assert_eq!(o.to_json().to_string(), r#"["object",{"a":"bool"}]"#);
    }
}
