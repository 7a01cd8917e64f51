//! All-or-nothing, atomic writing of changed files.
//!
//! - A symlinked `.tf` file is written through: the link's target is
//!   replaced, the link stays a link.
//! - Right before each rename the file is read again; if someone changed it
//!   since keyshift read it, the run stops and puts back what it already
//!   replaced instead of overwriting their edit with a stale copy.

use super::RewriteError;
use super::apply::FileChange;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file a write to `path` must replace: the target of a symlink, else
/// `path` itself.
fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        std::fs::canonicalize(path)
    } else {
        Ok(path.to_owned())
    }
}

/// Writes `bytes` to a temporary file next to `path` (same permissions as
/// `path`), synced, ready to be renamed over it.
fn stage(path: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut tmp = crate::scratch::file_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let perms = std::fs::metadata(path)?.permissions();
    std::fs::set_permissions(tmp.path(), perms)?;
    Ok(tmp)
}

/// Whether the file still holds what was read (a read error counts as
/// changed).
fn unchanged_since_read(change: &FileChange, real: &Path) -> bool {
    std::fs::read(real).is_ok_and(|now| now == change.source.bytes_for(&change.source.text))
}

/// Puts the original bytes back into the files already replaced; returns
/// the ones that could not be restored.
fn restore(done: &[(&FileChange, PathBuf)]) -> Vec<PathBuf> {
    done.iter()
        .filter(|(c, real)| {
            let original = c.source.bytes_for(&c.source.text);
            stage(real, &original)
                .and_then(|tmp| tmp.persist(real).map_err(|e| e.error))
                .is_err()
        })
        .map(|(c, _)| c.source.path.clone())
        .collect()
}

/// Undoes a committed rewrite (a `--verify` whose `terraform plan` could not
/// run): every file `changes` wrote gets its original bytes back. A file
/// that no longer holds what the run wrote (someone edited it since) is left
/// alone; it is returned, like one that cannot be written.
pub fn revert(changes: &[FileChange]) -> Vec<PathBuf> {
    changes
        .iter()
        .filter(|c| !revert_one(c))
        .map(|c| c.source.path.clone())
        .collect()
}

/// Puts one file back; false when it was not.
fn revert_one(change: &FileChange) -> bool {
    let Ok(real) = real_path(&change.source.path) else {
        return false;
    };
    let written = change.source.bytes_for(&change.new_text);
    if !std::fs::read(&real).is_ok_and(|now| now == written) {
        return false;
    }
    let original = change.source.bytes_for(&change.source.text);
    stage(&real, &original)
        .and_then(|tmp| tmp.persist(&real).map_err(|e| e.error))
        .is_ok()
}

/// Why one file could not be replaced.
enum Failure {
    Io(std::io::Error),
    Changed,
}

/// Writes every change: first all temporary files (next to their real
/// targets, with the original permissions), then renames them over the
/// originals. If any temporary file cannot be written, no original is
/// touched; if a rename fails or a file changed on disk since it was read,
/// the files already replaced are restored.
pub fn commit(changes: &[FileChange]) -> Result<(), RewriteError> {
    let mut staged = Vec::with_capacity(changes.len());
    for change in changes {
        let path = &change.source.path;
        let write_err = |source| RewriteError::Write {
            path: path.clone(),
            source,
        };
        let real = real_path(path).map_err(write_err)?;
        let tmp = stage(&real, &change.source.bytes_for(&change.new_text)).map_err(write_err)?;
        staged.push((tmp, change, real));
    }
    let mut done: Vec<(&FileChange, PathBuf)> = Vec::with_capacity(staged.len());
    for (tmp, change, real) in staged {
        let result = if unchanged_since_read(change, &real) {
            tmp.persist(&real)
                .map(drop)
                .map_err(|e| Failure::Io(e.error))
        } else {
            Err(Failure::Changed)
        };
        if let Err(failure) = result {
            let not_restored = restore(&done);
            let path = change.source.path.clone();
            return Err(match failure {
                Failure::Changed => RewriteError::Changed { path, not_restored },
                Failure::Io(source) if not_restored.is_empty() => {
                    RewriteError::Write { path, source }
                }
                Failure::Io(source) => RewriteError::PartialWrite {
                    path,
                    source,
                    not_restored,
                },
            });
        }
        done.push((change, real));
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
    fn a_failure_midway_puts_back_the_files_already_written() {
        let dir = tempfile::tempdir().unwrap();
        let a = change(&dir.path().join("a.tf"), "a = 1\n", "a = 2\n");
        let b = change(&dir.path().join("b.tf"), "b = 1\n", "b = 2\n");
        // b.tf is replaced by a directory after its change was read, so the
        // second file fails after a.tf was already renamed.
        std::fs::remove_file(dir.path().join("b.tf")).unwrap();
        std::fs::create_dir(dir.path().join("b.tf")).unwrap();
        std::fs::write(dir.path().join("b.tf").join("keep"), "x").unwrap();
        let err = commit(&[a, b]).unwrap_err();
        assert!(matches!(err, RewriteError::Changed { .. }), "{err}");
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
    fn a_file_edited_by_someone_else_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let a = change(&dir.path().join("a.tf"), "a = 1\n", "a = 2\n");
        let b = change(&dir.path().join("b.tf"), "b = 1\n", "b = 2\n");
        std::fs::write(dir.path().join("b.tf"), "b = 1 # theirs\n").unwrap();
        let err = commit(&[a, b]).unwrap_err().to_string();
        assert!(
            err.contains("b.tf changed on disk while keyshift was running"),
            "{err}"
        );
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert_eq!(read("a.tf"), "a = 1\n");
        assert_eq!(read("b.tf"), "b = 1 # theirs\n");
    }

    #[test]
    fn a_symlinked_file_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("shared");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("keys.tf"), "k = 1\n").unwrap();
        let link = dir.path().join("keys.tf");
        std::os::unix::fs::symlink(real.join("keys.tf"), &link).unwrap();
        let c = FileChange {
            source: SourceFile::read(&link).unwrap(),
            new_text: "k = 2\n".to_string(),
        };
        commit(&[c]).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(real.join("keys.tf")).unwrap(),
            "k = 2\n"
        );
    }

    #[test]
    fn revert_restores_the_original_bytes_and_spares_files_edited_since() {
        let dir = tempfile::tempdir().unwrap();
        let bom = "\u{feff}a = 1\r\n";
        std::fs::write(dir.path().join("a.tf"), bom).unwrap();
        let a = FileChange {
            source: SourceFile::read(&dir.path().join("a.tf")).unwrap(),
            new_text: "a = 2\r\n".to_string(),
        };
        let b = change(&dir.path().join("b.tf"), "b = 1\n", "b = 2\n");
        commit(&[a.clone(), b.clone()]).unwrap();
        std::fs::write(dir.path().join("b.tf"), "b = 3 # theirs\n").unwrap();
        let left = revert(&[a, b]);
        assert_eq!(left, vec![dir.path().join("b.tf")]);
        assert_eq!(
            std::fs::read(dir.path().join("a.tf")).unwrap(),
            bom.as_bytes()
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b.tf")).unwrap(),
            "b = 3 # theirs\n"
        );
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
