//! Loading a configuration directory and its local child modules. Every
//! `.tf` file that is read must parse, otherwise the run stops before
//! anything is written.

use super::RewriteError;
use crate::hcl::SourceFile;
use crate::hcl::find::{ModuleCall, module_calls};
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
}

/// A configuration: every parsed file by directory, and the directory of
/// every module call path (`[]` is the root).
#[derive(Debug, Default)]
pub struct Config {
    /// Parsed files per directory, in name order.
    pub dirs: BTreeMap<PathBuf, Vec<ParsedFile>>,
    /// Module call path -> directory.
    pub modules: BTreeMap<Vec<String>, ModuleDir>,
}

/// Maximum module nesting followed (guards against cycles).
const MAX_DEPTH: usize = 16;

impl Config {
    /// Loads `root` and, recursively, its local module calls.
    pub fn load(root: &Path) -> Result<Self, RewriteError> {
        let mut config = Self::default();
        let mut queue = vec![(Vec::new(), normalize(root))];
        while let Some((path, dir)) = queue.pop() {
            if !config.dirs.contains_key(&dir) {
                let files = load_dir(&dir)?;
                config.dirs.insert(dir.clone(), files);
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
                    (Some(src), true) if path.len() < MAX_DEPTH => {
                        queue.push((child, normalize(&dir.join(src))));
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

fn load_dir(dir: &Path) -> Result<Vec<ParsedFile>, RewriteError> {
    let mut out = Vec::new();
    for path in tf_files(dir)? {
        let source = SourceFile::read(&path)?;
        let body = source.parse()?;
        out.push(ParsedFile { source, body });
    }
    Ok(out)
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
