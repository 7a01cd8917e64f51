//! All-or-nothing, atomic writing of changed files.

use super::RewriteError;
use super::apply::FileChange;
use std::io::Write;

/// Writes every change: first all temporary files (next to their targets,
/// with the original permissions), then renames them over the originals.
/// If any temporary file cannot be written, no original is touched.
pub fn commit(changes: &[FileChange]) -> Result<(), RewriteError> {
    let mut staged = Vec::with_capacity(changes.len());
    for change in changes {
        let path = &change.source.path;
        let werr = |source| RewriteError::Write {
            path: path.clone(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| std::path::Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".keyshift-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(werr)?;
        tmp.write_all(&change.source.bytes_for(&change.new_text))
            .map_err(werr)?;
        tmp.as_file().sync_all().map_err(werr)?;
        let perms = std::fs::metadata(path).map_err(werr)?.permissions();
        std::fs::set_permissions(tmp.path(), perms).map_err(werr)?;
        staged.push((tmp, path.clone()));
    }
    for (tmp, path) in staged {
        tmp.persist(&path).map_err(|e| RewriteError::Write {
            path: path.clone(),
            source: e.error,
        })?;
    }
    Ok(())
}
