//! The fix plan-check names when a replacement comes only from a migration
//! attribute going from a value to null.
//!
//! Some providers' placement attributes force replacement and are not
//! computed (`alicloud_kms_secret.dkms_instance_id` is Optional+ForceNew,
//! not Computed). After a migration done outside Terraform, the state holds
//! the new placement while a configuration that omits the attribute asks
//! for null: Terraform plans to destroy and recreate the secret. Writing
//! the value into the configuration turns that plan clean.

use crate::plan::{ResourceChange, marks_attr, top_level};
use crate::presets::MigrationAttrs;
use serde_json::Value;
use std::collections::BTreeSet;

/// A sentence to append to a replacement finding when the replacement
/// comes only from migration attributes going from a value to null (else
/// empty).
pub fn unset_forces_replacement(rc: &ResourceChange<'_>, attrs: &MigrationAttrs) -> String {
    let (Ok(before), Ok(after)) = (top_level(rc.change.before), top_level(rc.change.after)) else {
        return String::new();
    };
    let null = Value::Null;
    let unknown = |k: &str| marks_attr(rc.change.after_unknown, k);
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let changed: Vec<&str> = keys
        .into_iter()
        .filter(|k| !unknown(k))
        .filter(|k| before.get(*k).unwrap_or(&null) != after.get(*k).unwrap_or(&null))
        .map(String::as_str)
        .collect();
    let unset = |k: &&str| {
        attrs.contains(&rc.rtype, k)
            && !before.get(*k).unwrap_or(&null).is_null()
            && after.get(*k).unwrap_or(&null).is_null()
    };
    if changed.is_empty() || !changed.iter().all(unset) {
        return String::new();
    }
    let names = changed.join(", ");
    format!(
        "; the only change is {names} going from a value to null: the configuration omits \
         {names}, which forces replacement and is not computed, so after a migration done \
         outside Terraform the plan replaces the object. Fix: write the migrated value into \
         the configuration with `keyshift rewrite DIR --plan PLAN.json` (or, if the blocks \
         were prepared with --prepare, `keyshift rewrite DIR --finalize --plan PLAN.json`)"
    )
}
