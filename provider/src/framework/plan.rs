//! Generic planning rules shared by all resources.

use super::{AttrPath, Diagnostics, Schema, Value};

/// What `PlanResourceChange` hands a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRequest {
    /// State before the change (`Null` on create).
    pub prior: Value,
    /// Terraform's proposal: configuration merged with prior state for
    /// computed attributes (`Null` on destroy).
    pub proposed: Value,
    /// The configuration as written (may hold unknowns; `Null` on destroy).
    pub config: Value,
}

impl PlanRequest {
    /// True when planning a create.
    pub fn is_create(&self) -> bool {
        self.prior.is_null() && !self.proposed.is_null()
    }

    /// True when planning a destroy.
    pub fn is_destroy(&self) -> bool {
        self.proposed.is_null()
    }
}

/// A planned new state, the attributes that force a replacement, and
/// warnings to show with the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanResponse {
    /// The planned state (`Null` for destroy).
    pub planned: Value,
    /// Paths whose change makes this a replacement.
    pub requires_replace: Vec<AttrPath>,
    /// Warning diagnostics (what the apply will also do, or refuse).
    ///
    /// An update the apply will refuse is planned with a warning rather
    /// than refused by an error: `terraform destroy` (and `plan -destroy`)
    /// first runs a normal plan of the same configuration, and an error
    /// there would block the destroy.
    pub warnings: Diagnostics,
}

/// The default plan:
/// - destroy: planned `Null`;
/// - create and update: an attribute with a default that configuration
///   leaves null is planned as its default (so drift in the store is
///   corrected by a plain plan);
/// - create: the proposal, with every other computed attribute that
///   configuration leaves null made unknown;
/// - update: the proposal (Terraform already kept prior values for computed
///   attributes), plus `requires_replace` for each changed `force_new`
///   attribute;
/// - always: write-only attributes null.
pub fn default_plan(schema: &Schema, req: &PlanRequest) -> PlanResponse {
    if req.is_destroy() {
        return PlanResponse {
            planned: Value::Null,
            requires_replace: Vec::new(),
            warnings: Vec::new(),
        };
    }
    let mut planned = req.proposed.clone();
    let mut requires_replace = Vec::new();
    for attr in &schema.attributes {
        if attr.write_only {
            planned.set(attr.name, Value::Null);
            continue;
        }
        if let Some(d) = attr.default {
            if req.config.get(attr.name).is_null() {
                planned.set(attr.name, d.value());
            }
        }
        if req.prior.is_null() {
            if attr.computed && attr.default.is_none() && req.config.get(attr.name).is_null() {
                planned.set(attr.name, Value::Unknown);
            }
        } else if attr.force_new && req.prior.get(attr.name) != planned.get(attr.name) {
            requires_replace.push(AttrPath::attr(attr.name));
        }
    }
    PlanResponse {
        planned,
        requires_replace,
        warnings: Vec::new(),
    }
}

/// The rule for computed attributes another actor may change
/// ([`super::Attribute::volatile`]): when a plan updates an existing object
/// (its planned state differs from the prior state), each such attribute is
/// planned unknown, since the apply reports the value the store has then.
/// A plan without changes keeps the prior values, so it stays clean.
/// Called by the protocol layer after every resource's plan.
pub fn unknown_volatile_on_update(schema: &Schema, prior: &Value, planned: &mut Value) {
    if prior.is_null() || planned.is_null() || planned == prior {
        return;
    }
    for attr in schema.attributes.iter().filter(|a| a.volatile) {
        planned.set(attr.name, Value::Unknown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{AttrType, Attribute, Object};

    fn schema() -> Schema {
        Schema {
            version: 0,
            description: "t",
            attributes: vec![
                Attribute::computed("id", AttrType::String, "id"),
                Attribute::required("spec", AttrType::String, "spec").force_new(),
                Attribute::optional("description", AttrType::String, "d"),
                Attribute::optional("secret_wo", AttrType::String, "w").write_only(),
            ],
        }
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect::<Object>(),
        )
    }

    #[test]
    fn create_marks_computed_unknown_and_nulls_write_only() {
        let cfg = obj(&[
            ("id", Value::Null),
            ("spec", "AES_256".into()),
            ("description", Value::Null),
            ("secret_wo", "x".into()),
        ]);
        let req = PlanRequest {
            prior: Value::Null,
            proposed: cfg.clone(),
            config: cfg,
        };
        let p = default_plan(&schema(), &req);
        assert_eq!(p.planned.get("id"), &Value::Unknown);
        assert_eq!(p.planned.get("secret_wo"), &Value::Null);
        assert!(p.requires_replace.is_empty());
    }

    #[test]
    fn defaults_fill_null_config_on_create_and_update() {
        let mut s = schema();
        s.attributes.push(Attribute::with_default(
            "enabled",
            AttrType::Bool,
            "e",
            crate::framework::AttrDefault::Bool(true),
        ));
        let cfg = |v: Value| obj(&[("spec", "AES_256".into()), ("enabled", v)]);
        let prior = obj(&[
            ("id", "k".into()),
            ("spec", "AES_256".into()),
            ("enabled", false.into()),
        ]);
        for (name, prior, config, proposed_enabled, want) in [
            (
                "create, unset",
                Value::Null,
                cfg(Value::Null),
                Value::Null,
                Value::Bool(true),
            ),
            (
                "create, set",
                Value::Null,
                cfg(false.into()),
                false.into(),
                Value::Bool(false),
            ),
            (
                "update, unset: drift corrected",
                prior.clone(),
                cfg(Value::Null),
                false.into(),
                Value::Bool(true),
            ),
            (
                "update, set",
                prior.clone(),
                cfg(false.into()),
                false.into(),
                Value::Bool(false),
            ),
            (
                "update, unknown",
                prior,
                cfg(Value::Unknown),
                Value::Unknown,
                Value::Unknown,
            ),
        ] {
            let mut proposed = config.clone();
            proposed.set("enabled", proposed_enabled);
            let req = PlanRequest {
                prior,
                proposed,
                config,
            };
            assert_eq!(
                default_plan(&s, &req).planned.get("enabled"),
                &want,
                "{name}"
            );
        }
    }

    #[test]
    fn volatile_attributes_are_unknown_only_on_an_update() {
        let mut s = schema();
        s.attributes
            .push(Attribute::computed("version", AttrType::String, "v").volatile());
        let prior = obj(&[
            ("id", "k".into()),
            ("spec", "AES_256".into()),
            ("description", "a".into()),
            ("version", "v1".into()),
        ]);
        let mut changed = prior.clone();
        changed.set("description", "b".into());
        for (name, prior, planned, want) in [
            ("no change", prior.clone(), prior.clone(), Value::from("v1")),
            ("update", prior.clone(), changed, Value::Unknown),
            ("create", Value::Null, prior.clone(), Value::from("v1")),
        ] {
            let mut planned = planned;
            unknown_volatile_on_update(&s, &prior, &mut planned);
            assert_eq!(planned.get("version"), &want, "{name}");
        }
    }

    #[test]
    fn force_new_change_requires_replace() {
        let prior = obj(&[("id", "k".into()), ("spec", "AES_256".into())]);
        let proposed = obj(&[("id", "k".into()), ("spec", "RSA_2048".into())]);
        let req = PlanRequest {
            prior,
            proposed: proposed.clone(),
            config: proposed,
        };
        let p = default_plan(&schema(), &req);
        assert_eq!(p.requires_replace, vec![AttrPath::attr("spec")]);
    }
}
