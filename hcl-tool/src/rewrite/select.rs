//! Migration as code: `keyshift rewrite --select GLOB… --set ATTR=VALUE`
//! writes a new placement into the selected resource blocks *before* a
//! migration, so `terraform plan` shows it as an in-place update and
//! `terraform apply` carries it out.
//!
//! Without a state, a glob selects resource blocks by their static address
//! (`module.kms.keyshift_key.app`; every instance of a `count`/`for_each`
//! block gets the value). With `--state` (`terraform show -json`), globs
//! also select single instances (`keyshift_key.app["orders"]`,
//! `module.kms[0].keyshift_key.app`); the other instances keep their
//! current value through a keyed expression, and a module directory shared
//! by instances that need different values is refused with the usual
//! advice to add a module variable.

use super::Refusal;
use super::config::{Config, ModuleDir, module_address};
use super::targets::{Derivation, InstanceValue, Target};
use crate::glob;
use crate::hcl::find::resource_blocks;
use crate::presets::MigrationAttrs;
use crate::state::State;
use serde_json::Value;
use std::collections::BTreeMap;
use thiserror::Error;

/// What to write where.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Address globs (see [`crate::glob`]).
    pub globs: Vec<String>,
    /// The migration attribute.
    pub attr: String,
    /// Its new value (written as a string literal).
    pub value: String,
}

impl Selection {
    /// Whether a resource instance address is selected.
    pub fn matches(&self, address: &str) -> bool {
        selected(&self.globs, address, &mut vec![false; self.globs.len()])
    }
}

/// A selection that cannot be carried out at all (exit 2).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SelectError {
    /// A glob matched no resource.
    #[error("--select {glob:?} matches no resource {where_}")]
    NoMatch {
        /// The glob.
        glob: String,
        /// "in the configuration" or "in the state".
        where_: &'static str,
    },
    /// A glob names instances, which only a state can list.
    #[error(
        "--select {0:?} selects single instances; pass --state STATE.json (terraform show -json) so the other instances keep their placement"
    )]
    NeedsState(String),
}

/// The address forms a glob is tried against: the full instance address,
/// without the resource's instance key, and without any instance key.
fn forms(address: &str) -> Vec<String> {
    let mut out = vec![address.to_owned()];
    if let Some(i) = address.rfind('[').filter(|_| address.ends_with(']')) {
        out.push(address[..i].to_owned());
    }
    let mut bare = String::with_capacity(address.len());
    let mut depth = 0usize;
    let mut in_string = false;
    for c in address.chars() {
        match c {
            '"' if depth > 0 => in_string = !in_string,
            '[' if !in_string => depth += 1,
            ']' if !in_string => depth = depth.saturating_sub(1),
            _ if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    out.push(bare);
    out
}

fn selected(globs: &[String], address: &str, hits: &mut [bool]) -> bool {
    let forms = forms(address);
    let mut any = false;
    for (g, hit) in globs.iter().zip(hits.iter_mut()) {
        if forms.iter().any(|f| glob::matches(g, f)) {
            *hit = true;
            any = true;
        }
    }
    any
}

fn check_all_matched(
    sel: &Selection,
    hits: &[bool],
    where_: &'static str,
) -> Result<(), SelectError> {
    match sel.globs.iter().zip(hits).find(|(_, hit)| !**hit) {
        Some((g, _)) => Err(SelectError::NoMatch {
            glob: g.clone(),
            where_,
        }),
        None => Ok(()),
    }
}

/// Targets for a selection, from the configuration alone or from a state.
pub fn from_selection(
    sel: &Selection,
    config: &Config,
    state: Option<&State>,
    attrs: &MigrationAttrs,
) -> Result<Derivation, SelectError> {
    match state {
        Some(state) => Ok(from_state(sel, state, attrs)?),
        None => {
            if let Some(g) = sel.globs.iter().find(|g| g.contains('[')) {
                return Err(SelectError::NeedsState(g.clone()));
            }
            from_config(sel, config, attrs)
        }
    }
}

fn wrong_type(address: String, rtype: &str, attr: &str) -> Refusal {
    Refusal {
        address,
        reason: format!(
            "{rtype} has no migration attribute {attr} (add --attr {rtype}.{attr} if it has one)"
        ),
    }
}

fn from_config(
    sel: &Selection,
    config: &Config,
    attrs: &MigrationAttrs,
) -> Result<Derivation, SelectError> {
    let mut out = Derivation::default();
    let mut hits = vec![false; sel.globs.len()];
    // Every call path of a directory, to refuse selecting only some of them.
    let mut paths_of: BTreeMap<&std::path::Path, Vec<String>> = BTreeMap::new();
    for (path, m) in &config.modules {
        if let ModuleDir::Local(dir) = m {
            paths_of
                .entry(dir.as_path())
                .or_default()
                .push(module_address(path));
        }
    }
    for (dir, modules) in &paths_of {
        let Some(files) = config.dirs.get(*dir) else {
            continue;
        };
        for rb in files.iter().flat_map(|f| resource_blocks(&f.body)) {
            let addr = |m: &str| {
                if m.is_empty() {
                    format!("{}.{}", rb.rtype, rb.name)
                } else {
                    format!("{m}.{}.{}", rb.rtype, rb.name)
                }
            };
            let chosen: Vec<&String> = modules
                .iter()
                .filter(|m| selected(&sel.globs, &addr(m), &mut hits))
                .collect();
            if chosen.is_empty() {
                continue;
            }
            if !attrs.contains(rb.rtype, &sel.attr) {
                out.skipped
                    .push(wrong_type(addr(chosen[0]), rb.rtype, &sel.attr));
                continue;
            }
            for m in modules {
                let value = if chosen.contains(&m) {
                    InstanceValue::Known(Value::String(sel.value.clone()))
                } else {
                    // Not selected, and its current value is unknown without a
                    // state: decide() refuses to write a literal it shares.
                    InstanceValue::Unknown
                };
                out.targets.push(Target {
                    module_address: m.clone(),
                    rtype: rb.rtype.to_owned(),
                    name: rb.name.to_owned(),
                    attr: sel.attr.clone(),
                    instances: BTreeMap::from([(None, value)]),
                    needs_edit: chosen.contains(&m),
                });
            }
        }
    }
    check_all_matched(sel, &hits, "in the configuration")?;
    Ok(out)
}

fn from_state(
    sel: &Selection,
    state: &State,
    attrs: &MigrationAttrs,
) -> Result<Derivation, SelectError> {
    let mut out = Derivation::default();
    let mut hits = vec![false; sel.globs.len()];
    let mut groups: BTreeMap<(String, String, String), Target> = BTreeMap::new();
    for (module, r) in state.resources() {
        let is_selected = selected(&sel.globs, &r.address, &mut hits);
        if !attrs.contains(&r.rtype, &sel.attr) {
            if is_selected {
                out.skipped
                    .push(wrong_type(r.address.clone(), &r.rtype, &sel.attr));
            }
            continue;
        }
        let current = r.values.get(&sel.attr).cloned().unwrap_or(Value::Null);
        let wanted = Value::String(sel.value.clone());
        let key = (module.to_owned(), r.rtype.clone(), r.name.clone());
        let target = groups.entry(key).or_insert_with(|| Target {
            module_address: module.to_owned(),
            rtype: r.rtype.clone(),
            name: r.name.clone(),
            attr: sel.attr.clone(),
            instances: BTreeMap::new(),
            needs_edit: false,
        });
        let value = if is_selected { wanted } else { current };
        target.needs_edit |= is_selected;
        target
            .instances
            .insert(r.index.clone(), InstanceValue::Known(value));
    }
    check_all_matched(sel, &hits, "in the state")?;
    out.targets = groups.into_values().collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        let cases: &[(&str, &[&str])] = &[
            ("keyshift_key.a", &["keyshift_key.a", "keyshift_key.a"]),
            (
                r#"module.m["x.y"].keyshift_key.a[0]"#,
                &[
                    r#"module.m["x.y"].keyshift_key.a[0]"#,
                    r#"module.m["x.y"].keyshift_key.a"#,
                    "module.m.keyshift_key.a",
                ],
            ),
        ];
        for (addr, want) in cases {
            let got = forms(addr);
            for w in *want {
                assert!(got.iter().any(|g| g == w), "{addr}: {got:?} lacks {w}");
            }
        }
    }
}
