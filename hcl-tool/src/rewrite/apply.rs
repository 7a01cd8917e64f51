//! Turning derived targets into file edits, refusing what cannot be done
//! safely (unknown values, modules called several times with different
//! values, missing blocks).

use super::config::{Config, ModuleDir, ParsedFile};
use super::targets::{Derivation, InstanceValue, Target, module_path};
use super::{Refusal, RewriteError};
use crate::hcl::find::find_resource;
use crate::hcl::value::{count_expr, for_each_expr, literal};
use crate::hcl::{Edit, EditKind, SourceFile, apply_edits, set_attribute};
use crate::plan::InstanceKey;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// One attribute written (or to be written).
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Resource address(es) this edit serves, comma-separated.
    pub address: String,
    /// Attribute name.
    pub attr: String,
    /// Expression written.
    pub value: String,
    /// Insert or update.
    pub kind: EditKind,
    /// File edited.
    pub file: PathBuf,
    /// One-based line of the attribute in the new text.
    pub line: usize,
}

/// A file whose text changes.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// The original file.
    pub source: SourceFile,
    /// The new text (without BOM; see [`SourceFile::bytes_for`]).
    pub new_text: String,
}

/// Everything a rewrite run would do.
#[derive(Debug, Default)]
pub struct RewritePlan {
    /// Files that change.
    pub changes: Vec<FileChange>,
    /// Attribute edits.
    pub applied: Vec<Applied>,
    /// Resources that needed an edit the tool refuses to make.
    pub refusals: Vec<Refusal>,
    /// Changes left alone (not fixable by writing the attribute).
    pub skipped: Vec<Refusal>,
    /// Resources whose attribute already has the right value.
    pub unchanged: usize,
    /// What the run could not examine (see [`Config::warnings`]).
    pub warnings: Vec<String>,
}

/// An attribute to set in one resource block of one directory.
#[derive(Debug, Clone)]
struct Op {
    dir: PathBuf,
    rtype: String,
    name: String,
    attr: String,
    expr: String,
    addresses: Vec<String>,
}

/// Decides and computes all edits; nothing is written.
pub fn plan_rewrite(config: &Config, derivation: Derivation) -> Result<RewritePlan, RewriteError> {
    let mut plan = RewritePlan {
        skipped: derivation.skipped,
        ..RewritePlan::default()
    };
    let ops = decide(config, &derivation.targets, &mut plan.refusals);
    // A module an edit needed is already reported by that edit's refusal.
    plan.warnings = config
        .warnings()
        .into_iter()
        .filter(|(module, _)| {
            module.as_deref().is_none_or(|m| {
                let inside = format!("{m}.");
                !plan.refusals.iter().any(|r| r.address.starts_with(&inside))
            })
        })
        .map(|(_, text)| text)
        .collect();
    let mut by_file: BTreeMap<(PathBuf, usize), Vec<Op>> = BTreeMap::new();
    for op in ops {
        match locate(config, &op) {
            Some(idx) => by_file.entry((op.dir.clone(), idx)).or_default().push(op),
            None => plan.refusals.push(Refusal {
                address: op.addresses.join(", "),
                reason: not_found_reason(config, &op),
            }),
        }
    }
    for ((dir, idx), ops) in by_file {
        let file = &config.dirs[&dir][idx];
        let (new_text, applied, unchanged) = edit_file(file, &ops)?;
        plan.unchanged += unchanged;
        if !applied.is_empty() {
            plan.applied.extend(applied);
            plan.changes.push(FileChange {
                source: file.source.clone(),
                new_text,
            });
        }
    }
    Ok(plan)
}

type GroupKey = (PathBuf, String, String, String);
type Member<'a> = (&'a Target, Result<String, String>);

fn decide(config: &Config, targets: &[Target], refusals: &mut Vec<Refusal>) -> Vec<Op> {
    let mut groups: BTreeMap<GroupKey, Vec<Member<'_>>> = BTreeMap::new();
    for t in targets.iter() {
        let dir = match resolve_dir(config, &t.module_address) {
            Ok(dir) => dir,
            Err(reason) => {
                if t.needs_edit {
                    refusals.push(Refusal {
                        address: t.address(),
                        reason,
                    });
                }
                continue;
            }
        };
        let key = (dir, t.rtype.clone(), t.name.clone(), t.attr.clone());
        groups.entry(key).or_default().push((t, expression(t)));
    }
    let mut ops = Vec::new();
    for ((dir, rtype, name, attr), members) in groups {
        if !members.iter().any(|(t, _)| t.needs_edit) {
            continue;
        }
        let addresses: Vec<String> = members.iter().map(|(t, _)| t.address()).collect();
        let refuse = |reason: String| Refusal {
            address: addresses.join(", "),
            reason,
        };
        if let Some((_, Err(reason))) = members.iter().find(|(_, e)| e.is_err()) {
            refusals.push(refuse(reason.clone()));
            continue;
        }
        let exprs: BTreeSet<&str> = members
            .iter()
            .filter_map(|(_, e)| e.as_deref().ok())
            .collect();
        let Some(expr) = exprs.first().filter(|_| exprs.len() == 1) else {
            let shown: Vec<&str> = exprs.iter().copied().collect();
            refusals.push(refuse(format!(
                "the module in {} is instantiated {} times ({}) and the instances need \
                 different values for {attr} ({}); keyshift will not guess. Add a variable \
                 to the module (e.g. `variable \"{attr}\" {{}}`), use `{attr} = var.{attr}` \
                 in `resource \"{rtype}\" \"{name}\"`, and set it in each module block",
                dir.display(),
                config.calls_of(&dir).max(members.len()),
                module_names(&members),
                shown.join(" vs ")
            )));
            continue;
        };
        ops.push(Op {
            expr: (*expr).to_owned(),
            dir,
            rtype,
            name,
            attr,
            addresses,
        });
    }
    ops
}

fn module_names(members: &[Member<'_>]) -> String {
    let names: BTreeSet<&str> = members
        .iter()
        .map(|(t, _)| t.module_address.as_str())
        .collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}

pub(super) fn resolve_dir(config: &Config, module_address: &str) -> Result<PathBuf, String> {
    let path = module_path(module_address)
        .ok_or_else(|| format!("cannot read module address {module_address:?}"))?;
    match config.modules.get(&path) {
        Some(ModuleDir::Local(dir)) => Ok(dir.clone()),
        Some(ModuleDir::Remote(src)) => Err(format!(
            "{module_address} comes from {src:?}, not a local directory; \
             set the attribute where that module is maintained or pass it as a variable"
        )),
        Some(ModuleDir::Missing(dir)) => Err(format!(
            "{module_address}: its source directory {} does not exist; \
             fix the module's source (or run terraform init) and run keyshift again",
            dir.display()
        )),
        Some(ModuleDir::Cycle(dir)) => Err(format!(
            "{module_address} calls {}, which is already on its own call path \
             (a module cycle Terraform refuses too)",
            dir.display()
        )),
        None => Err(format!(
            "{module_address} is not called from the configuration"
        )),
    }
}

/// The expression giving every instance its value.
fn expression(t: &Target) -> Result<String, String> {
    let mut values = Vec::new();
    for (key, v) in &t.instances {
        match v {
            InstanceValue::Known(v) => values.push((key, v)),
            InstanceValue::Unknown => {
                let key = key.as_ref().map(ToString::to_string).unwrap_or_default();
                return Err(format!(
                    "the value of {}{key}.{} is unknown until apply; cannot write a literal",
                    t.address(),
                    t.attr
                ));
            }
        }
    }
    let Some((_, first)) = values.first() else {
        return Err("no instance left to derive a value from".into());
    };
    if values.iter().all(|(_, v)| v == first) {
        return Ok(literal(first));
    }
    let mut ints: BTreeMap<i64, Value> = BTreeMap::new();
    let mut strs: BTreeMap<String, Value> = BTreeMap::new();
    for (key, v) in &values {
        match key {
            Some(InstanceKey::Int(i)) => ints.insert(*i, (*v).clone()),
            Some(InstanceKey::Str(s)) => strs.insert(s.clone(), (*v).clone()),
            None => return Err("instances mix keyed and unkeyed addresses".into()),
        };
    }
    match (ints.is_empty(), strs.is_empty()) {
        (false, true) => Ok(count_expr(&ints)),
        (true, false) => Ok(for_each_expr(&strs)),
        _ => Err("instances mix count indexes and for_each keys".into()),
    }
}

fn not_found_reason(config: &Config, op: &Op) -> String {
    let mut reason = format!(
        "no `resource \"{}\" \"{}\"` block in a .tf file of {}",
        op.rtype,
        op.name,
        op.dir.display()
    );
    if let Some(unread) = config.unread.get(&op.dir) {
        let files: Vec<String> = unread.iter().map(ToString::to_string).collect();
        reason.push_str(&format!(
            " that keyshift could read; it may be in a file too deeply nested for its \
             parser ({}): set the attribute there by hand",
            files.join("; ")
        ));
    }
    reason
}

fn locate(config: &Config, op: &Op) -> Option<usize> {
    config
        .dirs
        .get(&op.dir)?
        .iter()
        .position(|f| find_resource(&f.body, &op.rtype, &op.name).is_some())
}

/// Applies `ops` to one file in rounds (one edit per block per round, so two
/// attributes of the same block see each other's layout).
fn edit_file(file: &ParsedFile, ops: &[Op]) -> Result<(String, Vec<Applied>, usize), RewriteError> {
    let path = &file.source.path;
    let mut text = file.source.text.clone();
    let mut reparsed = None;
    let mut pending: Vec<&Op> = ops.iter().collect();
    let mut applied = Vec::new();
    let mut unchanged = 0;
    while !pending.is_empty() {
        let body = reparsed.as_ref().unwrap_or(&file.body);
        let mut seen = HashSet::new();
        let mut edits: Vec<(Edit, Applied)> = Vec::new();
        let mut next = Vec::new();
        for op in pending {
            if !seen.insert((&op.rtype, &op.name)) {
                next.push(op);
                continue;
            }
            let Some(rb) = find_resource(body, &op.rtype, &op.name) else {
                continue;
            };
            let edit = set_attribute(&text, rb.block, &op.attr, &op.expr).map_err(|source| {
                RewriteError::Edit {
                    path: path.clone(),
                    source,
                }
            })?;
            match edit {
                None => unchanged += 1,
                Some(e) => edits.push((
                    e.edit,
                    Applied {
                        address: op.addresses.join(", "),
                        attr: op.attr.clone(),
                        value: op.expr.clone(),
                        kind: e.kind,
                        file: path.clone(),
                        line: e.line,
                    },
                )),
            }
        }
        shift_lines(&text, &mut edits);
        let plain: Vec<Edit> = edits.iter().map(|(e, _)| e.clone()).collect();
        text = apply_edits(&text, &plain);
        applied.extend(edits.into_iter().map(|(_, a)| a));
        pending = next;
        if !pending.is_empty() {
            reparsed = Some(reparse(path, &text)?);
        }
    }
    Ok((text, applied, unchanged))
}

/// Adjusts reported lines for the lines other edits add before them.
fn shift_lines(text: &str, edits: &mut [(Edit, Applied)]) {
    let deltas: Vec<(usize, isize)> = edits
        .iter()
        .map(|(e, _)| {
            let added = e.text.matches('\n').count() as isize;
            let removed = text[e.range.clone()].matches('\n').count() as isize;
            (e.range.start, added - removed)
        })
        .collect();
    for (e, a) in edits.iter_mut() {
        let shift: isize = deltas
            .iter()
            .filter(|(start, _)| *start < e.range.start)
            .map(|(_, d)| d)
            .sum();
        a.line = a.line.saturating_add_signed(shift);
    }
}

fn reparse(path: &Path, text: &str) -> Result<hcl_edit::structure::Body, RewriteError> {
    let source = SourceFile::from_bytes(path, text.as_bytes().to_vec())?;
    Ok(source.parse()?)
}
