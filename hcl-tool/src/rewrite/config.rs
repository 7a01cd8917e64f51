//! Loading a configuration directory and its local child modules. Every
//! `.tf` file that is read must parse, otherwise the run stops before
//! anything is written, with two exceptions that block only the edits that
//! need them (each is reported as a warning otherwise):
//!
//! - a local module whose `source` directory does not exist, or that calls
//!   itself (directly or through other modules: a cycle), is recorded as
//!   [`ModuleDir::Missing`] / [`ModuleDir::Cycle`] and not followed;
//! - a file that is valid HCL but nested deeper than the parser reads (64
//!   levels, 128 chained operators) is listed in [`Config::unread`].
//!
//! The walk visits each module call path once, never follows a call into a
//! directory already on its own path, and stops at
//! [`MAX_MODULE_PATHS`], so neither cycles nor diamonds can make it grow
//! without bound.

use super::RewriteError;
use crate::hcl::find::{ModuleCall, module_calls};
use crate::hcl::{ParseError, SourceFile};
use hcl_edit::structure::Body;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// A parsed `.tf` file.
#[derive(Debug)]
pub struct ParsedFile {
    /// The text.
    pub source: SourceFile,
    /// Its syntax tree (spans index `source.text`).
    pub body: Body,
}

/// Where a module call path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleDir {
    /// A local directory.
    Local(PathBuf),
    /// A registry/git/... source that cannot be edited here.
    Remote(String),
    /// A local source whose directory does not exist.
    Missing(PathBuf),
    /// A local source already on the call path that leads to it.
    Cycle(PathBuf),
}

/// A configuration: every parsed file by directory, and the directory of
/// every module call path (`[]` is the root).
#[derive(Debug, Default)]
pub struct Config {
    /// Parsed files per directory, in name order.
    pub dirs: BTreeMap<PathBuf, Vec<ParsedFile>>,
    /// Module call path -> directory.
    pub modules: BTreeMap<Vec<String>, ModuleDir>,
    /// Valid files the parser cannot read (nesting limits), per directory.
    pub unread: BTreeMap<PathBuf, Vec<ParseError>>,
}

/// The most module call paths a configuration may have (Terraform expands
/// every one of them too).
pub const MAX_MODULE_PATHS: usize = 10_000;

impl Config {
    /// Loads `root` and, recursively, its local module calls.
    pub fn load(root: &Path) -> Result<Self, RewriteError> {
        let mut config = Self::default();
        let root = normalize(root);
        // (call path, directory, directories on the way there)
        let mut queue = vec![(Vec::new(), root.clone(), vec![root])];
        while let Some((path, dir, chain)) = queue.pop() {
            if config.modules.len() >= MAX_MODULE_PATHS {
                return Err(RewriteError::TooManyModules {
                    limit: MAX_MODULE_PATHS,
                });
            }
            if !config.dirs.contains_key(&dir) {
                let (files, unread) = load_dir(&dir)?;
                config.dirs.insert(dir.clone(), files);
                if !unread.is_empty() {
                    config.unread.insert(dir.clone(), unread);
                }
            }
            let calls: Vec<ModuleCall> = config.dirs[&dir]
                .iter()
                .flat_map(|f| module_calls(&f.body))
                .collect();
            config
                .modules
                .insert(path.clone(), ModuleDir::Local(dir.clone()));
            for call in calls {
                let mut child = path.clone();
                child.push(call.name.clone());
                match (&call.source, call.is_local()) {
                    (Some(src), true) => {
                        let target = normalize(&dir.join(src));
                        if chain.contains(&target) {
                            config.modules.insert(child, ModuleDir::Cycle(target));
                        } else if !target.is_dir() {
                            config.modules.insert(child, ModuleDir::Missing(target));
                        } else {
                            let mut next = chain.clone();
                            next.push(target.clone());
                            queue.push((child, target, next));
                        }
                    }
                    (src, _) => {
                        let src = src.clone().unwrap_or_else(|| "(non-literal)".into());
                        config.modules.insert(child, ModuleDir::Remote(src));
                    }
                }
            }
        }
        Ok(config)
    }

    /// How many module call paths lead to `dir`.
    pub fn calls_of(&self, dir: &Path) -> usize {
        self.modules
            .values()
            .filter(|m| matches!(m, ModuleDir::Local(d) if d == dir))
            .count()
    }

    /// What the run could not examine: unread files, missing modules and
    /// module cycles, one line each, with the module address a line is
    /// about (so a caller can drop it when an edit there was refused anyway).
    pub fn warnings(&self) -> Vec<(Option<String>, String)> {
        let mut out: Vec<(Option<String>, String)> = self
            .unread
            .values()
            .flatten()
            .map(|e| {
                let text = format!("{e}; resources and module calls in it were not examined");
                (None, text)
            })
            .collect();
        for (path, m) in &self.modules {
            let at = module_address(path);
            let text = match m {
                ModuleDir::Missing(dir) => format!(
                    "{at}: its source directory {} does not exist; nothing in it was examined",
                    dir.display()
                ),
                ModuleDir::Cycle(dir) => format!(
                    "{at}: calls {}, which is already on its own call path (a module cycle); \
                     not followed",
                    dir.display()
                ),
                ModuleDir::Local(_) | ModuleDir::Remote(_) => continue,
            };
            out.push((Some(at), text));
        }
        out
    }
}

/// `module.a.module.b` for the call path `["a", "b"]`.
pub fn module_address(path: &[String]) -> String {
    path.iter()
        .map(|n| format!("module.{n}"))
        .collect::<Vec<_>>()
        .join(".")
}

/// The `.tf` files directly in `dir`, sorted by name.
pub fn tf_files(dir: &Path) -> Result<Vec<PathBuf>, RewriteError> {
    let list_err = |source| RewriteError::ListDir {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_err)? {
        let path = entry.map_err(list_err)?.path();
        if path.extension().is_some_and(|e| e == "tf") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn load_dir(dir: &Path) -> Result<(Vec<ParsedFile>, Vec<ParseError>), RewriteError> {
    let mut out = Vec::new();
    let mut unread = Vec::new();
    for path in tf_files(dir)? {
        let source = SourceFile::read(&path)?;
        match source.parse() {
            Ok(body) => out.push(ParsedFile { source, body }),
            Err(e) if e.is_parser_limit() => unread.push(e),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((out, unread))
}

/// Lexically normalizes `a/./b/../c` to `a/c`.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
