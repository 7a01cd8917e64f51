//! Scratch files and directories: every temporary file the CLI writes (a
//! report being written, a `.tf` file staged before its rename, the state
//! a `--rewrite` reads) is named `.keyshift-<pid>-<random>.tmp`, after the
//! process that writes it. A process that ends normally removes its own; a
//! process killed (`kill -9`) cannot, so every creation first removes,
//! from the directory it writes into, the scratch entries of processes of
//! this host that no longer exist. A killed run's leftovers thus live only
//! until the next run writes there (the same command run again, in
//! particular), and a live process's files are never touched.

use std::path::Path;

/// The name prefix of this process's scratch entries.
fn prefix() -> String {
    format!(".keyshift-{}-", std::process::id())
}

/// The pid a scratch entry's name belongs to, if it is one.
fn owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".keyshift-")?.strip_suffix(".tmp")?;
    let (pid, random) = rest.split_once('-')?;
    if random.is_empty() || !random.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    pid.parse().ok()
}

/// True when no process `pid` exists on this host (Linux `/proc`; where
/// that cannot be told, every process is presumed alive).
fn gone(pid: u32) -> bool {
    pid != std::process::id()
        && Path::new("/proc/self").exists()
        && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes from `dir` the scratch entries of processes that no longer
/// exist; returns how many it removed. Best effort: an entry that cannot
/// be removed is left (and removal is tried again next time).
pub fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner) else {
            continue;
        };
        if !gone(pid) {
            continue;
        }
        let path = entry.path();
        let done = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        removed += usize::from(done.is_ok());
    }
    removed
}

/// A scratch file in `dir` (removed when dropped; see the module docs),
/// after sweeping `dir`.
pub fn file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    sweep(dir);
    tempfile::Builder::new()
        .prefix(&prefix())
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// A scratch directory in the system's temporary directory (removed with
/// its contents when dropped), after sweeping it.
pub fn dir() -> std::io::Result<tempfile::TempDir> {
    let tmp = std::env::temp_dir();
    sweep(&tmp);
    tempfile::Builder::new()
        .prefix(&prefix())
        .suffix(".tmp")
        .tempdir_in(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognised_by_their_pid() {
        let cases = [
            (".keyshift-42-AbC123.tmp", Some(42)),
            (".keyshift-42-.tmp", None),
            (".keyshift-x-abc.tmp", None),
            (".keyshift-42-abc", None),
            ("main.tf", None),
            (".tmpAbC123", None),
        ];
        for (name, want) in cases {
            assert_eq!(owner(name), want, "{name}");
        }
    }

    #[test]
    fn sweep_removes_dead_processes_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0x7fff_fff0 is above Linux's pid_max: never a live process.
        let dead = dir.path().join(".keyshift-2147483632-abc123.tmp");
        std::fs::write(&dead, b"left by a killed run").unwrap();
        let dead_dir = dir.path().join(".keyshift-2147483632-def456.tmp");
        std::fs::create_dir(&dead_dir).unwrap();
        std::fs::write(dead_dir.join("state.json"), b"{}").unwrap();
        let mine = file_in(dir.path()).unwrap();
        let other = dir.path().join("main.tf");
        std::fs::write(&other, b"").unwrap();
        assert_eq!(sweep(dir.path()), 0, "already swept by file_in");
        assert!(!dead.exists() && !dead_dir.exists());
        assert!(mine.path().exists() && other.exists());
    }
}
