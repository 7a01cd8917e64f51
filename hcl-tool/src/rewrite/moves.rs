//! Writing suggested `moved` blocks into the module that declares both
//! addresses.
//!
//! Each block is appended to the end of the file that holds the
//! destination resource block (`to`), so the move sits next to the code that
//! caused it and no new file is created. A block whose `from`/`to` pair is
//! already in that module's files is not written again (idempotent); a
//! module whose files already move `from` elsewhere, a module that cannot
//! be edited here (remote, missing, a cycle) or a destination without a
//! resource block is refused for that move, with the reason.

use super::Refusal;
use super::apply::FileChange;
use super::config::{Config, ModuleDir, ParsedFile};
use crate::hcl::find::find_resource;
use crate::hcl::layout::line_of;
use crate::moves::Move;
use hcl_edit::structure::Body;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One `moved` block that will be (or, with `--check`, would be) written.
#[derive(Debug, Clone, Serialize)]
pub struct AddedMove {
    /// Module instance address the move came from (`""` for the root).
    pub module: String,
    /// `from` address, relative to the module.
    pub from: String,
    /// `to` address, relative to the module.
    pub to: String,
    /// The file the block goes into.
    pub file: PathBuf,
    /// 1-based line where the block starts in the new text.
    pub line: usize,
}

/// The edits for a set of moves.
#[derive(Debug, Default)]
pub struct MovesPlan {
    /// Files to write.
    pub changes: Vec<FileChange>,
    /// Blocks added.
    pub added: Vec<AddedMove>,
    /// Moves already written in the configuration.
    pub present: usize,
    /// Moves that cannot be written, and why.
    pub refusals: Vec<Refusal>,
}

/// Decides where each move goes; writes nothing.
pub fn plan_moves(config: &Config, moves: &[Move]) -> MovesPlan {
    let mut out = MovesPlan::default();
    // (dir, from) -> (to, module), deduplicated across module instances.
    let mut wanted: BTreeMap<(PathBuf, String), BTreeSet<(String, String)>> = BTreeMap::new();
    for m in moves {
        let refuse = |reason: String| Refusal {
            address: describe(m),
            reason,
        };
        let Some(path) = call_path(&m.module) else {
            out.refusals
                .push(refuse("cannot read the module address".into()));
            continue;
        };
        match config.modules.get(&path) {
            Some(ModuleDir::Local(dir)) => {
                let key = (dir.clone(), m.from.clone());
                let entry = wanted.entry(key).or_default();
                entry.insert((m.to.clone(), m.module.clone()));
            }
            Some(ModuleDir::Remote(src)) => out.refusals.push(refuse(format!(
                "its module comes from {src}, which cannot be edited here; add the moved block \
                 in that module's source"
            ))),
            Some(ModuleDir::Missing(dir) | ModuleDir::Cycle(dir)) => out.refusals.push(refuse(
                format!("its module directory {} cannot be read", dir.display()),
            )),
            None => out.refusals.push(refuse(
                "no module call in the configuration has this address".into(),
            )),
        }
    }
    // file index -> appended text, per directory
    let mut appends: BTreeMap<(PathBuf, usize), Vec<Move>> = BTreeMap::new();
    for ((dir, from), tos) in wanted {
        let files = config.dirs.get(&dir).map(Vec::as_slice).unwrap_or_default();
        let describe_all = || {
            tos.iter()
                .map(|(to, module)| {
                    describe(&Move {
                        module: module.clone(),
                        from: from.clone(),
                        to: to.clone(),
                    })
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let distinct: BTreeSet<&String> = tos.iter().map(|(to, _)| to).collect();
        if distinct.len() > 1 {
            out.refusals.push(Refusal {
                address: describe_all(),
                reason: format!(
                    "{from} moves to different addresses in different instances of the module; \
                     one moved block cannot express that"
                ),
            });
            continue;
        }
        let Some((to, module)) = tos.iter().next() else {
            continue;
        };
        let existing = existing_moves(files);
        match existing.get(&squash(&from)) {
            Some(prev) if *prev == squash(to) => {
                out.present += 1;
                continue;
            }
            Some(_) => {
                out.refusals.push(Refusal {
                    address: describe_all(),
                    reason: format!(
                        "a moved block in {} already moves {from} elsewhere",
                        dir.display()
                    ),
                });
                continue;
            }
            None => {}
        }
        let Some(index) = holder(files, to) else {
            out.refusals.push(Refusal {
                address: describe_all(),
                reason: format!("no resource block for {to} in {}", dir.display()),
            });
            continue;
        };
        appends.entry((dir.clone(), index)).or_default().push(Move {
            module: module.clone(),
            from: from.clone(),
            to: to.clone(),
        });
    }
    append_blocks(config, appends, &mut out);
    out
}

/// Appends the blocks to their files (one [`FileChange`] per file).
fn append_blocks(
    config: &Config,
    appends: BTreeMap<(PathBuf, usize), Vec<Move>>,
    out: &mut MovesPlan,
) {
    for ((dir, index), list) in appends {
        let Some(file) = config.dirs.get(&dir).and_then(|f| f.get(index)) else {
            continue;
        };
        let source = &file.source;
        let nl = source.newline();
        let mut text = source.text.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push_str(nl);
        }
        for m in list {
            if !text.is_empty() {
                text.push_str(nl);
            }
            let line = line_of(&text, text.len()) + 1;
            text.push_str(&m.block(nl));
            out.added.push(AddedMove {
                module: m.module,
                from: m.from,
                to: m.to,
                file: source.path.clone(),
                line,
            });
        }
        out.changes.push(FileChange {
            source: source.clone(),
            new_text: text,
        });
    }
}

/// `module.kms: keyshift_key.a -> keyshift_key.b` (module omitted for root).
pub fn describe(m: &Move) -> String {
    let at = if m.module.is_empty() {
        String::new()
    } else {
        format!("{}: ", m.module)
    };
    format!("{at}{} -> {}", m.from, m.to)
}

/// The module call path of a module instance address:
/// `module.a["x"].module.b` -> `["a", "b"]`.
pub fn call_path(module: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = module;
    while !rest.is_empty() {
        rest = rest.strip_prefix("module.")?;
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
        if rest.starts_with('[') {
            rest = &rest[key_len(rest)?..];
        }
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        }
    }
    Some(out)
}

/// Length of a leading `[0]` or `["k\"ey"]` instance key.
fn key_len(s: &str) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (in_str, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_str = false,
            (false, _, '"') => in_str = true,
            (false, _, ']') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The address without whitespace, for comparing with written expressions.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `from` -> `to` of the `moved` blocks already in `files` (squashed).
fn existing_moves(files: &[ParsedFile]) -> BTreeMap<String, String> {
    files.iter().flat_map(|f| moved_blocks(&f.body)).collect()
}

fn moved_blocks(body: &Body) -> Vec<(String, String)> {
    body.blocks()
        .filter(|b| b.ident.as_str() == "moved")
        .filter_map(|b| {
            let get = |k: &str| {
                b.body
                    .get_attribute(k)
                    .map(|a| squash(&a.value.to_string()))
            };
            Some((get("from")?, get("to")?))
        })
        .collect()
}

/// The index of the file declaring the resource of instance address `to`.
fn holder(files: &[ParsedFile], to: &str) -> Option<usize> {
    let (rtype, rest) = to.split_once('.')?;
    let name = rest.split('[').next()?;
    files
        .iter()
        .position(|f| find_resource(&f.body, rtype, name).is_some())
}

#[cfg(test)]
#[path = "moves_tests.rs"]
mod tests;
