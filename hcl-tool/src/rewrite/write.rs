//! All-or-nothing, atomic writing of changed files.

use super::RewriteError;
use super::apply::FileChange;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to a temporary file next to `path` (same permissions as
/// `path`), synced, ready to be renamed over it.
fn stage(path: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".keyshift-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let perms = std::fs::metadata(path)?.permissions();
    std::fs::set_permissions(tmp.path(), perms)?;
    Ok(tmp)
}

/// Puts the original bytes back into the files already replaced; returns
/// the ones that could not be restored.
fn restore(done: &[&FileChange]) -> Vec<PathBuf> {
    done.iter()
        .filter(|c| {
            let original = c.source.bytes_for(&c.source.text);
            stage(&c.source.path, &original)
                .and_then(|tmp| tmp.persist(&c.source.path).map_err(|e| e.error))
                .is_err()
        })
        .map(|c| c.source.path.clone())
        .collect()
}

/// Writes every change: first all temporary files (next to their targets,
/// with the original permissions), then renames them over the originals.
/// If any temporary file cannot be written, no original is touched; if a
/// rename fails, the files already replaced are restored.
pub fn commit(changes: &[FileChange]) -> Result<(), RewriteError> {
    let mut staged = Vec::with_capacity(changes.len());
    for change in changes {
        let path = &change.source.path;
        let tmp = stage(path, &change.source.bytes_for(&change.new_text)).map_err(|source| {
            RewriteError::Write {
                path: path.clone(),
                source,
            }
        })?;
        staged.push((tmp, change));
    }
    let mut done: Vec<&FileChange> = Vec::with_capacity(staged.len());
    for (tmp, change) in staged {
        if let Err(e) = tmp.persist(&change.source.path) {
            let not_restored = restore(&done);
            let path = change.source.path.clone();
            return Err(if not_restored.is_empty() {
                RewriteError::Write {
                    path,
                    source: e.error,
                }
            } else {
                RewriteError::PartialWrite {
                    path,
                    source: e.error,
                    not_restored,
                }
            });
        }
        done.push(change);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcl::source::SourceFile;

    fn change(path: &Path, old: &str, new: &str) -> FileChange {
        std::fs::write(path, old).unwrap();
        FileChange {
            source: SourceFile::read(path).unwrap(),
            new_text: new.to_string(),
        }
    }

    #[test]
    fn a_failed_rename_puts_back_the_files_already_written() {
        let dir = tempfile::tempdir().unwrap();
        let a = change(&dir.path().join("a.tf"), "a = 1\n", "a = 2\n");
        let b = change(&dir.path().join("b.tf"), "b = 1\n", "b = 2\n");
        // Renaming onto a non-empty directory fails: b.tf is replaced by one
        // after its change was read, so its rename (the second) fails.
        std::fs::remove_file(dir.path().join("b.tf")).unwrap();
        std::fs::create_dir(dir.path().join("b.tf")).unwrap();
        std::fs::write(dir.path().join("b.tf").join("keep"), "x").unwrap();
        let err = commit(&[a, b]).unwrap_err();
        assert!(matches!(err, RewriteError::Write { .. }), "{err}");
        assert!(err.to_string().contains("no file was changed"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.tf")).unwrap(),
            "a = 1\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".keyshift-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");
    }

    #[test]
    fn all_files_are_written_when_nothing_fails() {
        let dir = tempfile::tempdir().unwrap();
        let a = change(&dir.path().join("a.tf"), "a = 1\n", "a = 2\n");
        let b = change(&dir.path().join("b.tf"), "b = 1\n", "b = 2\n");
        commit(&[a, b]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.tf")).unwrap(),
            "a = 2\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b.tf")).unwrap(),
            "b = 2\n"
        );
    }
}
