//! Pairing a planned delete of a key-bearing resource with a planned create
//! of the same configuration at another address, so that a `moved` block
//! can turn the pair into a move instead of destroying the key.
//!
//! The rule, used by both `plan-check --suggest-moves` and
//! `rewrite --add-moves`:
//!
//! - a candidate is a managed resource instance of a key-bearing type whose
//!   only action is `delete` (the "from" side) or `create` (the "to" side,
//!   not an import), without a deposed object;
//! - both sides must be of the same type in the same module instance (a
//!   `moved` block lives in the module that declares both addresses);
//! - "same configuration": every top-level attribute present in both the
//!   delete's `before` and the create's `after` is equal, except `id` and
//!   the attributes the create marks unknown (`after_unknown`: computed
//!   values such as creation dates or version ids);
//! - a delete and a create that match only each other form a move; when a
//!   delete matches several creates or a create several deletes, the whole
//!   group is reported as ambiguous and no move is suggested for it.
//!
//! Matching buckets creates by the set of attributes they compare on and
//! looks deletes up by a canonical text of those attributes, so the cost is
//! linear in the plan size, not quadratic in the number of candidates.

use crate::plan::{Attrs, ChangeKind, Plan, ResourceChange, top_level};
use crate::presets::KeyTypes;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One suggested move, with addresses relative to its module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Move {
    /// Module instance address (`""` for the root module), e.g. `module.kms`.
    pub module: String,
    /// The address being deleted, relative to `module`.
    pub from: String,
    /// The address being created, relative to `module`.
    pub to: String,
}

impl Move {
    /// The `moved` block, fmt-clean, with `nl` line endings.
    pub fn block(&self, nl: &str) -> String {
        format!(
            "moved {{{nl}  from = {}{nl}  to   = {}{nl}}}{nl}",
            self.from, self.to
        )
    }
}

/// A group of deletes and creates that match each other in more than one
/// way: no move is suggested, a person must decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ambiguity {
    /// Module instance address (`""` for the root module).
    pub module: String,
    /// Deleted addresses of the group (relative to `module`).
    pub deletes: Vec<String>,
    /// Created addresses of the group (relative to `module`).
    pub creates: Vec<String>,
}

/// Suggested moves and ambiguous groups, in address order.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestions {
    /// Unambiguous delete/create pairs.
    pub moves: Vec<Move>,
    /// Groups with more than one possible pairing.
    pub ambiguous: Vec<Ambiguity>,
}

/// One side of a candidate pair (its values are decoded, compared and
/// dropped, so memory stays proportional to the candidates' signatures).
struct Side {
    module: String,
    address: String,
}

/// Creates of one module instance and type that compare on the same
/// attributes, indexed by the canonical text of those attributes.
type Bucket = (Vec<String>, HashMap<String, Vec<usize>>);

/// Finds the moves that would save the key-bearing resources `plan` deletes.
/// Values that cannot be decoded make a resource a non-candidate.
pub fn suggest_moves(plan: &Plan<'_>, key_types: &KeyTypes) -> Suggestions {
    let candidates = |kind: ChangeKind| {
        plan.resource_changes.iter().filter(move |rc| {
            rc.is_managed()
                && rc.deposed.is_none()
                && rc.change.kind() == kind
                && (kind != ChangeKind::Create || rc.change.importing.is_none())
                && key_types.contains(&rc.rtype)
        })
    };
    let mut buckets: BTreeMap<(String, String), Vec<Bucket>> = BTreeMap::new();
    let mut creates = Vec::new();
    for rc in candidates(ChangeKind::Create) {
        let (Ok(attrs), Some(unknown)) = (
            top_level(rc.change.after),
            unknown_attrs(rc.change.after_unknown),
        ) else {
            continue;
        };
        let keys: Vec<String> = attrs
            .keys()
            .filter(|k| *k != "id" && !unknown.contains(*k))
            .cloned()
            .collect();
        let sig = signature(&attrs, &keys);
        let list = buckets
            .entry((module_of(rc), rc.rtype.to_string()))
            .or_default();
        let slot = match list.iter().position(|(k, _)| *k == keys) {
            Some(pos) => pos,
            None => {
                list.push((keys, HashMap::new()));
                list.len() - 1
            }
        };
        list[slot].1.entry(sig).or_default().push(creates.len());
        creates.push(side(rc));
    }
    // Edges delete -> creates with the same signature on the create's keys.
    let mut deletes = Vec::new();
    let mut of_delete: Vec<Vec<usize>> = Vec::new();
    let mut of_create: Vec<Vec<usize>> = vec![Vec::new(); creates.len()];
    for rc in candidates(ChangeKind::Delete) {
        let Some(list) = buckets.get(&(module_of(rc), rc.rtype.to_string())) else {
            continue;
        };
        let Ok(attrs) = top_level(rc.change.before) else {
            continue;
        };
        let d = deletes.len();
        let mut matches = Vec::new();
        for (keys, index) in list {
            for &c in index.get(&signature(&attrs, keys)).into_iter().flatten() {
                matches.push(c);
                of_create[c].push(d);
            }
        }
        of_delete.push(matches);
        deletes.push(side(rc));
    }
    pair(&deletes, &creates, &of_delete, &of_create)
}

fn module_of(rc: &ResourceChange<'_>) -> String {
    rc.module_address.as_deref().unwrap_or("").to_owned()
}

fn side(rc: &ResourceChange<'_>) -> Side {
    let module = module_of(rc);
    let address = relative(&rc.address, &module).to_owned();
    Side { module, address }
}

/// `keyshift_key.a` for `module.kms.keyshift_key.a` in `module.kms`.
fn relative<'a>(address: &'a str, module: &str) -> &'a str {
    if module.is_empty() {
        return address;
    }
    address
        .strip_prefix(module)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(address)
}

/// Top-level attributes `after_unknown` marks (anywhere inside them).
fn unknown_attrs(raw: Option<&serde_json::value::RawValue>) -> Option<BTreeSet<String>> {
    let Some(raw) = raw else {
        return Some(BTreeSet::new());
    };
    match serde_json::from_str::<Value>(raw.get()).ok()? {
        Value::Object(map) => Some(
            map.into_iter()
                .filter(|(_, v)| any_true(v))
                .map(|(k, _)| k)
                .collect(),
        ),
        Value::Bool(false) | Value::Null => Some(BTreeSet::new()),
        // The whole object unknown: nothing to compare on.
        _ => None,
    }
}

fn any_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Array(a) => a.iter().any(any_true),
        Value::Object(o) => o.values().any(any_true),
        _ => false,
    }
}

/// Canonical text of `attrs` restricted to `keys` (absent keys are
/// skipped: only attributes known on both sides are compared). Object keys
/// are sorted because serde_json's map is ordered.
fn signature(attrs: &Attrs, keys: &[String]) -> String {
    let picked: BTreeMap<&str, &Value> = keys
        .iter()
        .filter_map(|k| attrs.get(k).map(|v| (k.as_str(), v)))
        .collect();
    serde_json::to_string(&picked).unwrap_or_default()
}

/// Turns the match graph into moves (one-to-one components) and
/// ambiguities (every larger component).
fn pair(
    deletes: &[Side],
    creates: &[Side],
    of_delete: &[Vec<usize>],
    of_create: &[Vec<usize>],
) -> Suggestions {
    let mut out = Suggestions::default();
    let mut seen = vec![false; deletes.len()];
    for d in 0..deletes.len() {
        if seen[d] || of_delete[d].is_empty() {
            continue;
        }
        let (ds, cs) = component(d, of_delete, of_create, &mut seen);
        let module = deletes[d].module.clone();
        if let ([d], [c]) = (ds.as_slice(), cs.as_slice()) {
            out.moves.push(Move {
                module,
                from: deletes[*d].address.clone(),
                to: creates[*c].address.clone(),
            });
        } else {
            out.ambiguous.push(Ambiguity {
                module,
                deletes: ds.iter().map(|&i| deletes[i].address.clone()).collect(),
                creates: cs.iter().map(|&i| creates[i].address.clone()).collect(),
            });
        }
    }
    out.moves.sort();
    out.ambiguous
        .sort_by(|a, b| (&a.module, &a.deletes).cmp(&(&b.module, &b.deletes)));
    out
}

/// The deletes and creates connected to delete `start` (sorted indexes).
fn component(
    start: usize,
    of_delete: &[Vec<usize>],
    of_create: &[Vec<usize>],
    seen: &mut [bool],
) -> (Vec<usize>, Vec<usize>) {
    let mut ds = BTreeSet::new();
    let mut cs = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(d) = todo.pop() {
        if !ds.insert(d) {
            continue;
        }
        seen[d] = true;
        for &c in &of_delete[d] {
            if cs.insert(c) {
                todo.extend(of_create[c].iter().copied().filter(|x| !ds.contains(x)));
            }
        }
    }
    (ds.into_iter().collect(), cs.into_iter().collect())
}

#[cfg(test)]
#[path = "moves_tests.rs"]
mod tests;
