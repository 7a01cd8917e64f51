//! Bulk mode: set one attribute in every `resource` block of the types that
//! carry it, in every `.tf` file under a directory
//! (`keyshift rewrite --insert-everywhere ATTR=EXPR`). Writing an attribute
//! into a type whose schema lacks it would break `terraform validate`, so
//! the caller names the types (the presets and `--attr`, or `*` when the
//! user says every type has it). Files are processed in parallel.

use super::RewriteError;
use super::apply::FileChange;
use crate::hcl::find::resource_blocks;
use crate::hcl::{Edit, SourceFile, apply_edits, set_attribute};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which resource blocks bulk mode edits.
#[derive(Debug, Clone, Copy)]
pub enum Types<'a> {
    /// Every resource type.
    All,
    /// Only these types.
    Only(&'a [&'a str]),
}

impl Types<'_> {
    fn includes(&self, rtype: &str) -> bool {
        match self {
            Types::All => true,
            Types::Only(list) => list.contains(&rtype),
        }
    }
}

/// Sets `key = value` in every resource block of `types` in `source`;
/// returns the new text (BOM excluded; equal to `source.text` when nothing
/// changes).
pub fn insert_attribute_everywhere(
    source: &SourceFile,
    types: Types<'_>,
    key: &str,
    value: &str,
) -> Result<String, RewriteError> {
    let body = source.parse()?;
    let mut edits: Vec<Edit> = Vec::new();
    for rb in resource_blocks(&body).filter(|rb| types.includes(rb.rtype)) {
        let edit =
            set_attribute(&source.text, rb.block, key, value).map_err(|e| RewriteError::Edit {
                path: source.path.clone(),
                source: e,
            })?;
        edits.extend(edit.map(|e| e.edit));
    }
    Ok(apply_edits(&source.text, &edits))
}

/// Every `.tf` file under `root`, recursively, sorted; hidden directories
/// (`.terraform`, `.git`) are skipped.
pub fn tf_files_recursive(root: &Path) -> Result<Vec<PathBuf>, RewriteError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let list_err = |source| RewriteError::ListDir {
            path: dir.clone(),
            source,
        };
        for entry in std::fs::read_dir(&dir).map_err(list_err)? {
            let path = entry.map_err(list_err)?.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_dir() && !hidden {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "tf") && path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs [`insert_attribute_everywhere`] over `files` on all cores. Fails
/// (with the first error in file order) if any file cannot be read or
/// parsed; returns only the files that change.
pub fn plan_everywhere(
    files: &[PathBuf],
    types: Types<'_>,
    key: &str,
    value: &str,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<FileChange>, RewriteError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, FileResult)>> = Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads.min(files.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let r = one_file(path, types, key, value);
                    progress.inc(1);
                    if let Ok(mut guard) = results.lock() {
                        guard.push((i, r));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut out = Vec::new();
    for (_, r) in results {
        out.extend(r?);
    }
    Ok(out)
}

type FileResult = Result<Option<FileChange>, RewriteError>;

fn one_file(path: &Path, types: Types<'_>, key: &str, value: &str) -> FileResult {
    let source = SourceFile::read(path)?;
    let new_text = insert_attribute_everywhere(&source, types, key, value)?;
    Ok((new_text != source.text).then_some(FileChange { source, new_text }))
}
