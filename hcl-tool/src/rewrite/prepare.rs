//! The guarded two-phase flow for providers whose placement attribute
//! forces replacement (`alicloud_kms_key.dkms_instance_id`,
//! `alicloud_kms_secret.dkms_instance_id`).
//!
//! - [`plan_prepare`] (`keyshift rewrite --prepare --select GLOB…`), before
//!   the out-of-band migration: adds each selected block's migration
//!   attribute to its `lifecycle { ignore_changes = [...] }`, so that the
//!   plan stays clean once the placement changed elsewhere.
//! - [`plan_finalize`] (`keyshift rewrite --finalize --plan P | --report R
//!   --state S`), after it: writes the real values and removes exactly the
//!   entries `--prepare` added. A block keeps its entry (and is refused)
//!   unless its value was written, so finalizing never exposes a block to a
//!   replacement.

use super::apply::{Applied, FileChange, RewritePlan, plan_rewrite, resolve_dir};
use super::config::{Config, ModuleDir, module_address};
use super::select::Selection;
use super::targets::{Derivation, InstanceValue};
use super::{Refusal, RewriteError};
use crate::hcl::EditKind;
use crate::hcl::SourceFile;
use crate::hcl::find::{find_resource, resource_blocks};
use crate::hcl::layout::line_of;
use crate::hcl::lifecycle::{ignore_in_text, prepared_attrs, unignore_in_text};
use crate::presets::MigrationAttrs;
use hcl_edit::Span;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What `--prepare` writes, as shown in its report.
pub const IGNORED: &str = "lifecycle ignore_changes";
/// The `value` of a `--finalize` edit that removed a prepared entry (its
/// `line` is the resource block's line in the file as read).
pub const REMOVED: &str = "(removed from lifecycle ignore_changes)";

/// A resource block: directory, type, name.
type BlockKey = (PathBuf, String, String);

/// A selection `--prepare` cannot carry out (exit 2).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrepareError {
    /// A glob matched no resource block.
    #[error("--select {0:?} matches no resource in the configuration")]
    NoMatch(String),
    /// A glob names single instances.
    #[error(
        "--select {0:?} selects single instances, but ignore_changes applies to a whole block: \
         select the block (without [...])"
    )]
    Instance(String),
}

/// Plans `--prepare`: one `ignore_changes` entry per selected block and
/// migration attribute of its type.
pub fn plan_prepare(
    config: &Config,
    globs: &[String],
    attrs: &MigrationAttrs,
) -> Result<RewritePlan, PrepareError> {
    if let Some(g) = globs.iter().find(|g| g.contains('[')) {
        return Err(PrepareError::Instance(g.clone()));
    }
    let mut plan = RewritePlan::default();
    let chosen = select_blocks(config, globs, attrs, &mut plan)?;
    let mut texts = Texts::new(config);
    for ((dir, rtype, name), addresses) in chosen {
        let Some(path) = texts.file_of(config, &dir, &rtype, &name) else {
            continue;
        };
        for attr in attrs.for_type(&rtype) {
            let text = texts.get(&path);
            match ignore_in_text(text, &rtype, &name, attr) {
                Ok(None) => plan.unchanged += 1,
                Ok(Some(new)) => {
                    plan.applied
                        .push(applied(&addresses, attr, &path, text, &new));
                    texts.set(&path, new);
                }
                Err(e) => plan.refusals.push(Refusal {
                    address: addresses.join(", "),
                    reason: format!("{}: {e}", path.display()),
                }),
            }
        }
    }
    plan.changes = texts.changes();
    Ok(plan)
}

/// The resource blocks the globs select (with the addresses that selected
/// them); types without a migration attribute go to `plan.skipped`, blocks
/// shared with unselected call paths get a warning.
fn select_blocks(
    config: &Config,
    globs: &[String],
    attrs: &MigrationAttrs,
    plan: &mut RewritePlan,
) -> Result<BTreeMap<BlockKey, Vec<String>>, PrepareError> {
    let mut hits = vec![false; globs.len()];
    // Selected blocks, with the addresses that selected them.
    let mut chosen: BTreeMap<BlockKey, Vec<String>> = BTreeMap::new();
    let mut unselected: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (path, m) in &config.modules {
        let ModuleDir::Local(dir) = m else { continue };
        let module = module_address(path);
        for rb in config.dirs[dir]
            .iter()
            .flat_map(|f| resource_blocks(&f.body))
        {
            let address = match module.as_str() {
                "" => format!("{}.{}", rb.rtype, rb.name),
                m => format!("{m}.{}.{}", rb.rtype, rb.name),
            };
            let mut any = false;
            for (g, hit) in globs.iter().zip(hits.iter_mut()) {
                let one = Selection {
                    globs: vec![g.clone()],
                    attr: String::new(),
                    value: String::new(),
                };
                if one.matches(&address) {
                    *hit = true;
                    any = true;
                }
            }
            let key = (dir.clone(), rb.rtype.to_owned(), rb.name.to_owned());
            if !any {
                unselected.entry(dir.clone()).or_default().push(address);
            } else if attrs.has_type(rb.rtype) {
                chosen.entry(key).or_default().push(address);
            } else {
                plan.skipped.push(Refusal {
                    address,
                    reason: format!(
                        "{} has no migration attribute (add --attr {}.ATTR if it has one)",
                        rb.rtype, rb.rtype
                    ),
                });
            }
        }
    }
    if let Some((g, _)) = globs.iter().zip(&hits).find(|(_, h)| !**h) {
        return Err(PrepareError::NoMatch(g.clone()));
    }
    for ((dir, rtype, name), addresses) in &chosen {
        let others: Vec<&String> = unselected
            .get(dir)
            .into_iter()
            .flatten()
            .filter(|a| {
                a.ends_with(&format!(".{rtype}.{name}")) || **a == format!("{rtype}.{name}")
            })
            .collect();
        if !others.is_empty() {
            plan.warnings.push(format!(
                "{}: the block in {} also serves {} (not selected); ignore_changes applies there too",
                addresses.join(", "),
                dir.display(),
                others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(chosen)
}

fn applied(addresses: &[String], attr: &str, path: &Path, old: &str, new: &str) -> Applied {
    let first = old
        .bytes()
        .zip(new.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(old.len().min(new.len()));
    Applied {
        address: addresses.join(", "),
        attr: attr.to_owned(),
        value: IGNORED.to_owned(),
        kind: EditKind::Inserted,
        file: path.to_owned(),
        line: line_of(new, first) + 1,
    }
}

/// The current text of every file, starting from what was read.
struct Texts {
    original: BTreeMap<PathBuf, SourceFile>,
    now: BTreeMap<PathBuf, String>,
}

impl Texts {
    fn new(config: &Config) -> Self {
        let original = config
            .dirs
            .values()
            .flatten()
            .map(|f| (f.source.path.clone(), f.source.clone()))
            .collect();
        Self {
            original,
            now: BTreeMap::new(),
        }
    }

    fn file_of(&self, config: &Config, dir: &Path, rtype: &str, name: &str) -> Option<PathBuf> {
        config
            .dirs
            .get(dir)?
            .iter()
            .find(|f| find_resource(&f.body, rtype, name).is_some())
            .map(|f| f.source.path.clone())
    }

    fn get(&self, path: &Path) -> &str {
        match self.now.get(path) {
            Some(t) => t,
            None => self.original.get(path).map_or("", |s| s.text.as_str()),
        }
    }

    fn set(&mut self, path: &Path, text: String) {
        self.now.insert(path.to_owned(), text);
    }

    /// Changed files, each against the bytes originally read.
    fn changes(&self) -> Vec<FileChange> {
        self.now
            .iter()
            .filter_map(|(path, text)| {
                let source = self.original.get(path)?;
                (source.text != *text).then(|| FileChange {
                    source: source.clone(),
                    new_text: text.clone(),
                })
            })
            .collect()
    }
}

/// A prepared entry: block and attribute.
type Prepared = (PathBuf, String, String, String);

/// Every entry `--prepare` added in the configuration, with its file and
/// the line of its resource block.
fn find_prepared(config: &Config, attrs: &MigrationAttrs) -> BTreeMap<Prepared, (PathBuf, usize)> {
    let mut out = BTreeMap::new();
    for (dir, files) in &config.dirs {
        for f in files {
            for rb in resource_blocks(&f.body) {
                let all: Vec<&str> = attrs.for_type(rb.rtype).collect();
                for attr in prepared_attrs(&f.source.text, rb.block, &all) {
                    let key = (dir.clone(), rb.rtype.into(), rb.name.into(), attr.into());
                    let at = rb.block.span().map_or(0, |s| s.start);
                    let line = line_of(&f.source.text, at) + 1;
                    out.insert(key, (f.source.path.clone(), line));
                }
            }
        }
    }
    out
}

/// Plans `--finalize`: the values the plan/report derivation gives, written
/// into the blocks, and the prepared entries of every block whose value was
/// written removed. `config` is changed (its texts are the unprepared ones
/// afterwards); the returned changes are against the bytes read from disk.
pub fn plan_finalize(
    config: &mut Config,
    mut derivation: Derivation,
    attrs: &MigrationAttrs,
) -> Result<RewritePlan, RewriteError> {
    let texts = Texts::new(config);
    let prepared = find_prepared(config, attrs);
    let mut refusals = Vec::new();
    let mut addresses: BTreeMap<Prepared, Vec<String>> = BTreeMap::new();
    for t in &mut derivation.targets {
        let Ok(dir) = resolve_dir(config, &t.module_address) else {
            continue;
        };
        let key = (dir, t.rtype.clone(), t.name.clone(), t.attr.clone());
        if !prepared.contains_key(&key) {
            continue;
        }
        addresses.entry(key).or_default().push(t.address());
        let null = t
            .instances
            .values()
            .any(|v| *v == InstanceValue::Known(serde_json::Value::Null));
        if null {
            refusals.push(Refusal {
                address: t.address(),
                reason: format!(
                    "no value for {} (null); has the migration happened? its ignore_changes \
                     entry stays",
                    t.attr
                ),
            });
        } else {
            // With the entry in place, the plan shows no change: the value
            // to write is the one the resource has now.
            t.needs_edit = true;
        }
    }
    let label = |key: &Prepared| {
        addresses
            .get(key)
            .map(|a| a.join(", "))
            .unwrap_or_else(|| format!("{}.{} in {}", key.1, key.2, key.0.display()))
    };
    // An entry edited since --prepare stays, and is reported.
    let mut all: BTreeSet<&Prepared> = BTreeSet::new();
    for (key, (path, _)) in &prepared {
        match unignore_in_text(texts.get(path), &key.1, &key.2, &key.3) {
            Err(e) => refusals.push(Refusal {
                address: label(key),
                reason: format!("{}: {e}", path.display()),
            }),
            Ok(_) => {
                all.insert(key);
            }
        }
    }
    // Pass 1: which prepared blocks end up with their value written.
    let trial = finalize_pass(config, &texts, &prepared, &all, clone(&derivation))?;
    let done: BTreeSet<&Prepared> = prepared
        .iter()
        .filter(|(key, _)| all.contains(key))
        .filter(|(key, (path, _))| {
            let (_, rtype, name, attr) = key;
            let text = trial
                .changes
                .iter()
                .find(|c| c.source.path == **path)
                .map_or_else(|| texts_now(config, path), |c| c.new_text.clone());
            has_attr(&text, rtype, name, attr)
        })
        .map(|(key, _)| key)
        .collect();
    // Pass 2: only those lose their entry.
    let mut plan = finalize_pass(config, &texts, &prepared, &done, derivation)?;
    for key in all.difference(&done) {
        let address = label(key);
        if !refusals.iter().any(|r| r.address == address) {
            refusals.push(Refusal {
                address,
                reason: format!(
                    "prepared by keyshift rewrite --prepare, but no value for {} was written \
                     (not in the plan/report, or refused); its ignore_changes entry stays",
                    key.3
                ),
            });
        }
    }
    plan.refusals.extend(refusals);
    for key in &done {
        let (path, line) = &prepared[*key];
        plan.applied.push(Applied {
            address: label(key),
            attr: key.3.clone(),
            value: REMOVED.to_owned(),
            kind: EditKind::Updated,
            file: path.clone(),
            line: *line,
        });
    }
    Ok(plan)
}

fn clone(d: &Derivation) -> Derivation {
    Derivation {
        targets: d.targets.clone(),
        skipped: d.skipped.clone(),
    }
}

fn texts_now(config: &Config, path: &Path) -> String {
    config
        .dirs
        .values()
        .flatten()
        .find(|f| f.source.path == path)
        .map(|f| f.source.text.clone())
        .unwrap_or_default()
}

fn has_attr(text: &str, rtype: &str, name: &str, attr: &str) -> bool {
    hcl_edit::parser::parse_body(text).is_ok_and(|body| {
        find_resource(&body, rtype, name).is_some_and(|rb| rb.block.body.has_attribute(attr))
    })
}

/// Puts the unprepared text of the `chosen` entries into `config`, runs the
/// value rewrite on it, and returns its changes against the original bytes.
fn finalize_pass(
    config: &mut Config,
    texts: &Texts,
    prepared: &BTreeMap<Prepared, (PathBuf, usize)>,
    chosen: &BTreeSet<&Prepared>,
    derivation: Derivation,
) -> Result<RewritePlan, RewriteError> {
    let mut unprepared: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut refusals = Vec::new();
    for key in chosen {
        let (path, _) = &prepared[*key];
        let (_, rtype, name, attr) = key;
        let text = unprepared
            .get(path)
            .cloned()
            .unwrap_or_else(|| texts.get(path).to_owned());
        match unignore_in_text(&text, rtype, name, attr) {
            Ok(Some(t)) => {
                unprepared.insert(path.clone(), t);
            }
            Ok(None) => {}
            Err(e) => refusals.push(Refusal {
                address: format!("{rtype}.{name}"),
                reason: format!("{}: {e}", path.display()),
            }),
        }
    }
    for file in config.dirs.values_mut().flatten() {
        let path = file.source.path.clone();
        let original = texts.get(&path);
        let want = unprepared.get(&path).map_or(original, String::as_str);
        if file.source.text != want {
            let source = SourceFile::from_bytes(&path, file.source.bytes_for(want))?;
            file.body = source.parse()?;
            file.source = source;
        }
    }
    let mut plan = plan_rewrite(config, derivation)?;
    plan.refusals.extend(refusals);
    let mut changes: BTreeMap<PathBuf, FileChange> = unprepared
        .into_iter()
        .filter_map(|(path, text)| {
            let source = texts.original.get(&path)?.clone();
            Some((
                path,
                FileChange {
                    source,
                    new_text: text,
                },
            ))
        })
        .collect();
    for c in plan.changes.drain(..) {
        if let Some(source) = texts.original.get(&c.source.path) {
            changes.insert(
                c.source.path.clone(),
                FileChange {
                    source: source.clone(),
                    new_text: c.new_text,
                },
            );
        }
    }
    plan.changes = changes
        .into_values()
        .filter(|c| c.source.text != c.new_text)
        .collect();
    Ok(plan)
}

/// A block that still carries an entry `--prepare` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedBlock {
    /// Static address (`module.kms.alicloud_kms_secret.s`), one per call path.
    pub address: String,
    /// The ignored attribute.
    pub attr: String,
    /// The file.
    pub file: PathBuf,
    /// One-based line of the resource block.
    pub line: usize,
}

/// Every block of the configuration that `--prepare` edited and
/// `--finalize` has not yet restored.
pub fn prepared_blocks(config: &Config, attrs: &MigrationAttrs) -> Vec<PreparedBlock> {
    let mut out = Vec::new();
    for (path, m) in &config.modules {
        let ModuleDir::Local(dir) = m else { continue };
        let module = module_address(path);
        for f in config.dirs.get(dir).into_iter().flatten() {
            for rb in resource_blocks(&f.body) {
                let all: Vec<&str> = attrs.for_type(rb.rtype).collect();
                for attr in prepared_attrs(&f.source.text, rb.block, &all) {
                    let address = match module.as_str() {
                        "" => format!("{}.{}", rb.rtype, rb.name),
                        m => format!("{m}.{}.{}", rb.rtype, rb.name),
                    };
                    let at = rb.block.span().map_or(0, |s| s.start);
                    out.push(PreparedBlock {
                        address,
                        attr: attr.to_owned(),
                        file: f.source.path.clone(),
                        line: line_of(&f.source.text, at) + 1,
                    });
                }
            }
        }
    }
    out
}
