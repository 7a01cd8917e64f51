//! Deriving, per resource, the migration attribute value that makes the
//! plan clean.

use super::Refusal;
use crate::plan::{ChangeKind, InstanceKey, Plan, ResourceChange, marks_attr, top_level};
use crate::presets::MigrationAttrs;
use crate::report::Report;
use crate::state::State;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The value an instance must have.
#[derive(Debug, Clone, PartialEq)]
pub enum InstanceValue {
    /// A known value.
    Known(Value),
    /// Unknown until apply: no literal can be written.
    Unknown,
}

/// One resource (all instances of it within one module instance) and the
/// value of one migration attribute per instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Module instance address; "" for the root module.
    pub module_address: String,
    /// Resource type.
    pub rtype: String,
    /// Resource name.
    pub name: String,
    /// Migration attribute.
    pub attr: String,
    /// Value per instance key (`None` for a single-instance resource).
    pub instances: BTreeMap<Option<InstanceKey>, InstanceValue>,
    /// Whether at least one instance needs a different value than today.
    pub needs_edit: bool,
}

impl Target {
    /// A target for `attr` of one resource (grouped by `(module, type,
    /// name)`), with no instances yet.
    fn new((module, rtype, name): &GroupKey, attr: &str) -> Self {
        Target {
            module_address: module.clone(),
            rtype: rtype.clone(),
            name: name.clone(),
            attr: attr.to_owned(),
            instances: BTreeMap::new(),
            needs_edit: false,
        }
    }

    /// `module.x.TYPE.NAME`.
    pub fn address(&self) -> String {
        if self.module_address.is_empty() {
            format!("{}.{}", self.rtype, self.name)
        } else {
            format!("{}.{}.{}", self.module_address, self.rtype, self.name)
        }
    }
}

/// Targets plus the resource changes that were looked at and left alone.
#[derive(Debug, Default)]
pub struct Derivation {
    /// Resources to edit (or check).
    pub targets: Vec<Target>,
    /// Changes that involve a migration attribute but cannot be fixed by
    /// writing it (e.g. other attributes change too).
    pub skipped: Vec<Refusal>,
}

type GroupKey = (String, String, String);

/// Derives targets from a plan.
pub fn from_plan(plan: &Plan<'_>, attrs: &MigrationAttrs) -> Derivation {
    let mut groups: BTreeMap<GroupKey, Vec<&ResourceChange<'_>>> = BTreeMap::new();
    for rc in &plan.resource_changes {
        if rc.is_managed() && rc.deposed.is_none() && attrs.has_type(&rc.rtype) {
            let module = rc.module_address.as_deref().unwrap_or("").to_owned();
            let key = (module, rc.rtype.to_string(), rc.name.to_string());
            groups.entry(key).or_default().push(rc);
        }
    }
    let mut out = Derivation::default();
    for (group, changes) in groups {
        for attr in attrs.for_type(&group.1) {
            let mut target = Target::new(&group, attr);
            for rc in &changes {
                derive_instance(rc, attrs, &mut target, &mut out.skipped);
            }
            out.targets.push(target);
        }
    }
    out
}

fn derive_instance(
    rc: &ResourceChange<'_>,
    attrs: &MigrationAttrs,
    target: &mut Target,
    skipped: &mut Vec<Refusal>,
) {
    let kind = rc.change.kind();
    if matches!(kind, ChangeKind::Delete | ChangeKind::Forget) {
        return;
    }
    let attr = target.attr.as_str();
    let (Ok(before), Ok(after)) = (top_level(rc.change.before), top_level(rc.change.after)) else {
        skipped.push(refusal(rc, "before/after values are not objects"));
        return;
    };
    let unknown = |k: &str| marks_attr(rc.change.after_unknown, k);
    let null = Value::Null;
    let was = before.get(attr).unwrap_or(&null);
    let now = after.get(attr).unwrap_or(&null);
    let value = if unknown(attr) {
        InstanceValue::Unknown
    } else {
        InstanceValue::Known(now.clone())
    };
    let changing = matches!(
        kind,
        ChangeKind::Update | ChangeKind::ReplaceDeleteFirst | ChangeKind::ReplaceCreateFirst
    );
    if !changing || was.is_null() || (was == now && !unknown(attr)) {
        target.instances.insert(rc.index.clone(), value);
        return;
    }
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let others: Vec<&str> = keys
        .into_iter()
        .filter(|k| !attrs.contains(&rc.rtype, k) && !unknown(k))
        .filter(|k| before.get(*k).unwrap_or(&null) != after.get(*k).unwrap_or(&null))
        .map(String::as_str)
        .collect();
    if others.is_empty() {
        target
            .instances
            .insert(rc.index.clone(), InstanceValue::Known(was.clone()));
        target.needs_edit = true;
    } else {
        target.instances.insert(rc.index.clone(), value);
        let reason = format!(
            "{attr} changes, but so do other attributes ({}); not rewriting this instance",
            others.join(", ")
        );
        skipped.push(refusal(rc, &reason));
    }
}

fn refusal(rc: &ResourceChange<'_>, reason: &str) -> Refusal {
    Refusal {
        address: rc.address.to_string(),
        reason: reason.to_owned(),
    }
}

/// Derives targets from a migration report matched to a state by object id.
pub fn from_report(report: &Report, state: &State, attrs: &MigrationAttrs) -> Derivation {
    let mut out = Derivation::default();
    let migrated: BTreeMap<&str, &crate::report::ReportObject> = report
        .objects
        .iter()
        .filter(|o| o.placed())
        .map(|o| (o.id.as_str(), o))
        .collect();
    for o in report.objects.iter().filter(|o| !o.placed()) {
        out.skipped.push(Refusal {
            address: format!("object {}", o.id),
            reason: format!("report outcome is {:?}; nothing to write", o.outcome).to_lowercase(),
        });
    }
    let mut groups: BTreeMap<GroupKey, Vec<&crate::state::StateResource>> = BTreeMap::new();
    for (module, r) in state.resources() {
        if attrs.has_type(&r.rtype) {
            let key = (module.to_owned(), r.rtype.clone(), r.name.clone());
            groups.entry(key).or_default().push(r);
        }
    }
    let mut matched = BTreeSet::new();
    for (group, resources) in groups {
        for attr in attrs.for_type(&group.1) {
            let mut target = Target::new(&group, attr);
            for r in &resources {
                let current = r.values.get(attr).cloned().unwrap_or(Value::Null);
                let id = r.values.get("id").and_then(Value::as_str);
                let object = id.and_then(|id| migrated.get(id)).filter(|o| {
                    !r.rtype.starts_with("keyshift_") || o.kind.resource_type() == r.rtype
                });
                let value = match object {
                    Some(o) => {
                        matched.insert(o.id.as_str());
                        let v = placement(&o.target_instance_id, &current);
                        target.needs_edit |= v != current;
                        v
                    }
                    None => current,
                };
                target
                    .instances
                    .insert(r.index.clone(), InstanceValue::Known(value));
            }
            out.targets.push(target);
        }
    }
    for id in migrated.keys().filter(|id| !matched.contains(*id)) {
        out.skipped.push(Refusal {
            address: format!("object {id}"),
            reason: "no resource with this id (and a migration attribute) in the state".into(),
        });
    }
    out
}

/// The value pinning an object to `target` (a report's
/// `target_instance_id`): the instance id, or for the shared KMS
/// `"shared"`, which the provider moves an object to (`null` plans
/// nothing); an object that is already in the shared KMS without naming
/// it (`current` null) keeps null, so its plan stays clean.
fn placement(target: &str, current: &Value) -> Value {
    match (target, current) {
        ("shared", Value::Null) => Value::Null,
        (id, _) => Value::String(id.to_owned()),
    }
}

/// The module call names of a module instance address:
/// `module.a["x"].module.b[0]` gives `["a", "b"]`.
pub fn module_path(address: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = address;
    while !rest.is_empty() {
        rest = rest.strip_prefix("module.")?;
        let end = rest.find(['[', '.']).unwrap_or(rest.len());
        names.push(rest[..end].to_owned());
        rest = &rest[end..];
        if rest.starts_with('[') {
            rest = skip_index(rest)?;
        }
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(names)
}

/// Skips `[...]` (with quoted keys that may contain `]`).
fn skip_index(s: &str) -> Option<&str> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            ']' if !in_str => return Some(&s[i + 1..]),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths() {
        let cases: &[(&str, &str, Option<&[&str]>)] = &[
            ("root", "", Some(&[])),
            ("simple", "module.kms", Some(&["kms"])),
            ("count", "module.kms[0]", Some(&["kms"])),
            (
                "nested keyed",
                r#"module.a["x.]y"].module.b"#,
                Some(&["a", "b"]),
            ),
            ("garbage", "resource.x", None),
        ];
        for (name, addr, want) in cases {
            let want = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
            assert_eq!(module_path(addr), want, "{name}");
        }
    }

    #[test]
    fn the_shared_kms_is_pinned_as_shared_unless_already_null() {
        let kst = Value::String("kst-0123456789ab".into());
        let shared = Value::String("shared".into());
        for (name, target, current, want) in [
            ("to an instance", "kst-0123456789ab", Value::Null, &kst),
            ("back to shared", "shared", kst.clone(), &shared),
            ("shared, said so", "shared", shared.clone(), &shared),
            ("shared, left null", "shared", Value::Null, &Value::Null),
        ] {
            assert_eq!(&placement(target, &current), want, "{name}");
        }
    }
}
