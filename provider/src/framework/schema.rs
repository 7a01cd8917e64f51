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

/// A static default for an Optional+Computed attribute: the plan uses it
/// whenever configuration leaves the attribute null (see
/// [`super::default_plan`]), so a value changed outside Terraform shows as
/// drift in a plain plan and the apply sets it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrDefault {
    /// A boolean default.
    Bool(bool),
    /// A whole-number default.
    Int(i64),
    /// A string default.
    Str(&'static str),
}

impl AttrDefault {
    /// The default as a value.
    pub fn value(self) -> super::Value {
        match self {
            AttrDefault::Bool(b) => super::Value::Bool(b),
            AttrDefault::Int(i) => super::Value::Int(i),
            AttrDefault::Str(s) => super::Value::string(s),
        }
    }
}

impl std::fmt::Display for AttrDefault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrDefault::Bool(b) => write!(f, "{b}"),
            AttrDefault::Int(i) => write!(f, "{i}"),
            AttrDefault::Str(s) => write!(f, "{s:?}"),
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
    /// Planned when configuration leaves the attribute null (Optional+Computed).
    pub default: Option<AttrDefault>,
    /// Computed, and another actor may change it at any time (a rotation
    /// by `keyshift key rotate`, an expiry): planned unknown whenever the
    /// resource is updated, so an apply never contradicts its plan (see
    /// [`super::plan::unknown_volatile_on_update`]).
    pub volatile: bool,
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
            default: None,
            volatile: false,
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

    /// An optional attribute that plans `default` whenever configuration
    /// leaves it null (on create and on every update).
    pub fn with_default(
        name: &'static str,
        ty: AttrType,
        description: &'static str,
        default: AttrDefault,
    ) -> Self {
        Attribute {
            default: Some(default),
            ..Self::optional_computed(name, ty, description)
        }
    }

    /// The description as shown to users: with `Default: ...` appended when
    /// the attribute has a default, and what a plan shows of a volatile one.
    pub fn full_description(&self) -> String {
        let mut s = match self.default {
            Some(d) => format!("{} Default: `{d}`.", self.description),
            None => self.description.to_string(),
        };
        if self.volatile {
            s.push_str(
                " Known after apply whenever the resource is updated: another actor may change it between plan and apply.",
            );
        }
        s
    }

    /// Mark as requiring replacement when changed.
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    /// Mark a computed attribute as one another actor may change: planned
    /// unknown on every update of the resource.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
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
    fn default_is_optional_computed_and_described() {
        let a = Attribute::with_default(
            "enabled",
            AttrType::Bool,
            "Usable.",
            AttrDefault::Bool(true),
        );
        assert!(a.optional && a.computed && !a.required);
        assert_eq!(a.full_description(), "Usable. Default: `true`.");
        let s = Attribute::with_default("t", AttrType::String, "T.", AttrDefault::Str("x"));
        assert_eq!(s.full_description(), "T. Default: `\"x\"`.");
        assert_eq!(
            Attribute::optional("d", AttrType::String, "D.").full_description(),
            "D."
        );
    }

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
