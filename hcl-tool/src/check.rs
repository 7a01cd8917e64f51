//! The rules of `keyshift plan-check`: which planned changes endanger keys.

use crate::plan::{ChangeKind, Plan, ResourceChange, marks_attr, top_level};
use crate::presets::{KeyTypes, MigrationAttrs};
use serde::Serialize;
use serde_json::Value;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the gate (exit 1) unless allowed.
    Error,
    /// Reported, never fails the gate.
    Warning,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A key-bearing resource would be destroyed.
    Delete,
    /// A key-bearing resource would be replaced (either order).
    Replace,
    /// A migration attribute would go from a value to null.
    AttributeUnset,
    /// An EKMS config would revert to internal wrapping.
    EkmsRevert,
    /// A key-bearing resource would be removed from state only.
    Forget,
    /// A key-bearing resource has an action list the gate does not know;
    /// it fails closed rather than pass what it cannot judge.
    UnknownActions,
    /// A block still carries the `ignore_changes` entry `keyshift rewrite
    /// --prepare` added (`plan-check --config`).
    Prepared,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Category.
    pub kind: FindingKind,
    /// Instance address (the new one for moved resources).
    pub address: String,
    /// The address before a `moved` block, if any.
    pub previous_address: Option<String>,
    /// Human explanation; never contains a sensitive value.
    pub message: String,
    /// Whether `--allow` covers this finding.
    pub allowed: bool,
    /// For a replacement: the attributes whose change forces it (from the
    /// plan's `replace_paths`, as configuration paths); empty otherwise.
    pub replace_paths: Vec<String>,
}

/// Settings of a check run.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// Key-bearing types.
    pub key_types: KeyTypes,
    /// Migration attributes per type.
    pub attrs: MigrationAttrs,
    /// Addresses whose findings are intentional.
    pub allow: Vec<String>,
}

/// Placeholder printed instead of a sensitive value.
pub const SENSITIVE: &str = "(sensitive value)";

/// What a check run found, and how many managed resource changes were
/// key-bearing (printed on every run, so a gate that examined nothing is
/// visible in CI logs).
#[derive(Debug, Default)]
pub struct CheckResult {
    /// The findings, in plan order.
    pub findings: Vec<Finding>,
    /// Key-bearing managed resource changes examined.
    pub key_bearing: usize,
}

/// Runs every rule over `plan`.
pub fn check_plan(plan: &Plan<'_>, cfg: &CheckConfig) -> CheckResult {
    let mut out = CheckResult::default();
    for rc in plan.resource_changes.iter().filter(|rc| rc.is_managed()) {
        let key_bearing = cfg.key_types.contains(&rc.rtype);
        out.key_bearing += usize::from(key_bearing);
        check_change(rc, cfg, key_bearing, &mut out.findings);
    }
    out
}

fn check_change(
    rc: &ResourceChange<'_>,
    cfg: &CheckConfig,
    key_bearing: bool,
    out: &mut Vec<Finding>,
) {
    let kind = rc.change.kind();
    let mut push = |severity, fkind, message: String| {
        out.push(new_finding(rc, cfg, severity, fkind, message));
    };
    if key_bearing {
        let what = if rc.rtype == "keyshift_ekms_config" {
            "EKMS config (reverts to internal wrapping)"
        } else {
            "key-bearing resource"
        };
        let deposed = rc
            .deposed
            .as_deref()
            .map(|d| format!(" (deposed object {d})"))
            .unwrap_or_default();
        match kind {
            ChangeKind::Delete => push(
                Severity::Error,
                FindingKind::Delete,
                format!("{what} would be destroyed{deposed}{}", reason(rc)),
            ),
            ChangeKind::ReplaceDeleteFirst => push(
                Severity::Error,
                FindingKind::Replace,
                format!(
                    "{what} would be replaced (destroy, then create){}{}{}",
                    reason(rc),
                    forced_by(rc),
                    crate::check_hint::unset_forces_replacement(rc, &cfg.attrs)
                ),
            ),
            ChangeKind::ReplaceCreateFirst => push(
                Severity::Error,
                FindingKind::Replace,
                format!(
                    "{what} would be replaced (create, then destroy the old one){}{}{}",
                    reason(rc),
                    forced_by(rc),
                    crate::check_hint::unset_forces_replacement(rc, &cfg.attrs)
                ),
            ),
            ChangeKind::Forget => push(
                Severity::Warning,
                FindingKind::Forget,
                "would be removed from state (forget) but not destroyed; \
                 Terraform stops managing it"
                    .to_owned(),
            ),
            ChangeKind::ReplaceForget => push(
                Severity::Error,
                FindingKind::Replace,
                format!(
                    "{what} would be replaced: a new object is created and the old one is \
                     forgotten (left in place, no longer managed), so this configuration \
                     points at new key material{}{}",
                    reason(rc),
                    forced_by(rc)
                ),
            ),
            ChangeKind::Other => push(
                Severity::Error,
                FindingKind::UnknownActions,
                format!(
                    "{what} has the action list {}, which plan-check does not recognise; \
                     refusing to pass it",
                    rc.change.actions_text()
                ),
            ),
            ChangeKind::NoOp | ChangeKind::Create | ChangeKind::Update => {}
        }
    }
    if matches!(
        kind,
        ChangeKind::Update | ChangeKind::ReplaceDeleteFirst | ChangeKind::ReplaceCreateFirst
    ) {
        check_attrs(rc, cfg, &mut push);
    }
}

fn check_attrs(
    rc: &ResourceChange<'_>,
    cfg: &CheckConfig,
    push: &mut impl FnMut(Severity, FindingKind, String),
) {
    let is_ekms = rc.rtype == "keyshift_ekms_config";
    if !is_ekms && !cfg.attrs.has_type(&rc.rtype) {
        return;
    }
    let (before, after) = match (top_level(rc.change.before), top_level(rc.change.after)) {
        (Ok(b), Ok(a)) => (b, a),
        _ => {
            push(
                Severity::Error,
                FindingKind::AttributeUnset,
                "before/after values are not objects; cannot check migration attributes".to_owned(),
            );
            return;
        }
    };
    let null = Value::Null;
    for attr in cfg.attrs.for_type(&rc.rtype) {
        let was = before.get(attr).unwrap_or(&null);
        let now = after.get(attr).unwrap_or(&null);
        if !was.is_null() && now.is_null() && !marks_attr(rc.change.after_unknown, attr) {
            let shown = shown(was, marks_attr(rc.change.before_sensitive, attr));
            push(
                Severity::Error,
                FindingKind::AttributeUnset,
                format!("migration attribute {attr} would be unset (was {shown})"),
            );
        }
    }
    if is_ekms {
        let was = before.get("wrapping_strategy").and_then(Value::as_str);
        let now = after.get("wrapping_strategy").and_then(Value::as_str);
        if was == Some("external") && now != Some("external") {
            let unknown = marks_attr(rc.change.after_unknown, "wrapping_strategy");
            let now = if unknown {
                "(known after apply)".to_owned()
            } else {
                let v = after.get("wrapping_strategy").unwrap_or(&null);
                shown(
                    v,
                    marks_attr(rc.change.after_sensitive, "wrapping_strategy"),
                )
            };
            push(
                Severity::Error,
                FindingKind::EkmsRevert,
                format!("EKMS config would revert: wrapping_strategy \"external\" -> {now}"),
            );
        }
    }
}

fn shown(v: &Value, sensitive: bool) -> String {
    if sensitive {
        SENSITIVE.to_owned()
    } else {
        v.to_string()
    }
}

fn reason(rc: &ResourceChange<'_>) -> String {
    let known = [
        (
            "replace_because_cannot_update",
            "an argument cannot be updated in place",
        ),
        ("replace_because_tainted", "the object is tainted"),
        ("replace_by_request", "replacement was requested (-replace)"),
        ("replace_by_triggers", "replace_triggered_by"),
        (
            "delete_because_no_resource_config",
            "its configuration was removed",
        ),
        ("delete_because_no_module", "its module was removed"),
        ("delete_because_wrong_repetition", "count/for_each changed"),
        ("delete_because_count_index", "count was reduced"),
        ("delete_because_each_key", "its for_each key was removed"),
        (
            "delete_because_no_move_target",
            "its moved target does not exist",
        ),
    ];
    match rc.action_reason.as_deref() {
        None => String::new(),
        Some(r) => match known.iter().find(|(k, _)| *k == r) {
            Some((_, text)) => format!(": {text}"),
            None => String::new(),
        },
    }
}

/// Most attributes named in a message; the JSON lists them all.
const FORCED_SHOWN: usize = 10;

/// `; instance_id forces the replacement` from the plan's `replace_paths`
/// (empty when the plan names none, e.g. a tainted object).
fn forced_by(rc: &ResourceChange<'_>) -> String {
    let attrs = rc.change.replace_attrs();
    let (shown, more) = match attrs.len() {
        0 => return String::new(),
        n if n > FORCED_SHOWN => (
            &attrs[..FORCED_SHOWN],
            format!(" and {} more", n - FORCED_SHOWN),
        ),
        _ => (&attrs[..], String::new()),
    };
    let verb = if attrs.len() == 1 { "forces" } else { "force" };
    format!("; {}{more} {verb} the replacement", shown.join(", "))
}

fn new_finding(
    rc: &ResourceChange<'_>,
    cfg: &CheckConfig,
    severity: Severity,
    kind: FindingKind,
    mut message: String,
) -> Finding {
    let previous = rc.previous_address.as_deref().map(str::to_owned);
    if let Some(prev) = &previous {
        message.push_str(&format!(" (moved from {prev})"));
    }
    if rc.change.importing.is_some() {
        message.push_str(" (while being imported)");
    }
    let allowed = cfg.allow.iter().any(|a| {
        allow_matches(a, &rc.address) || previous.as_deref().is_some_and(|p| allow_matches(a, p))
    });
    let replace_paths = if kind == FindingKind::Replace {
        rc.change.replace_attrs()
    } else {
        Vec::new()
    };
    Finding {
        severity,
        kind,
        address: rc.address.to_string(),
        previous_address: previous,
        message,
        allowed,
        replace_paths,
    }
}

/// `--allow` matches an exact instance address, or a resource address
/// without instance key (covering all its instances).
pub fn allow_matches(allow: &str, address: &str) -> bool {
    address == allow
        || address.strip_prefix(allow).is_some_and(|rest| {
            rest.starts_with('[') && rest.ends_with(']') && !rest.contains("].")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_matching() {
        let cases = [
            ("exact", "a.b", "a.b", true),
            ("instance", "a.b", "a.b[0]", true),
            ("keyed instance", "a.b", "a.b[\"x\"]", true),
            ("other name", "a.b", "a.bc", false),
            ("nested module", "module.m", "module.m[0].a.b", false),
            ("exact instance", "a.b[1]", "a.b[0]", false),
        ];
        for (name, allow, addr, want) in cases {
            assert_eq!(allow_matches(allow, addr), want, "{name}");
        }
    }
}
