//! The store's master key file, `<dir>/master.key`.
//!
//! - Reading is bounded and type-checked: the file (a symlink is followed)
//!   must be a regular file of exactly [`KEY_LEN`] bytes; a device, FIFO or
//!   directory is refused before it is opened, and at most `KEY_LEN + 1`
//!   bytes are ever read.
//! - Creation is race-free: the key is written to a private temporary file
//!   and hard-linked into place, so a process losing the race reads the
//!   winner's complete file. Whether a key may be created at all is decided
//!   by the store (only together with a new, empty store).
//! - The **check value** (the sealed constant [`CHECK_PLAINTEXT`]) is stored
//!   once in the store: it tells a wrong master key apart from one damaged
//!   container root key.
//! - Permissions that let group or others read or write the key file or the
//!   store directory produce warnings (as ssh does for private keys).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sm2::elliptic_curve::zeroize::Zeroizing;

use crate::store::crypto::{KEY_LEN, SecretKey32, random_fill, seal, unseal};
use crate::store::{StoreError, StoreResult};

pub use crate::store::crypto::MASTER_KEY_FILE;

/// AAD of the master-key check value.
const CHECK_AAD: &[u8] = b"keyshift/master-key-check/v1";
/// What the check value seals.
pub const CHECK_PLAINTEXT: &[u8] = b"keyshift master key check";

/// Reads the master key at `path`: `Ok(None)` when there is no such file.
pub fn read(path: &Path) -> StoreResult<Option<SecretKey32>> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(path, e)),
    };
    require_regular(path, &meta.file_type())?;
    let f = fs::File::open(path).map_err(|e| unreadable(path, e))?;
    // The file may have been swapped between the two looks: check again.
    let meta = f.metadata().map_err(|e| unreadable(path, e))?;
    require_regular(path, &meta.file_type())?;
    let mut buf = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
    f.take(KEY_LEN as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| unreadable(path, e))?;
    if buf.len() != KEY_LEN {
        return Err(invalid(
            path,
            format!(
                "it must hold exactly {KEY_LEN} bytes, but holds {}",
                if buf.len() > KEY_LEN {
                    "more".to_string()
                } else {
                    buf.len().to_string()
                }
            ),
        ));
    }
    SecretKey32::from_slice(&buf).map(Some)
}

fn require_regular(path: &Path, ft: &fs::FileType) -> StoreResult<()> {
    if ft.is_file() {
        return Ok(());
    }
    let kind = if ft.is_dir() {
        "a directory"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(invalid(
        path,
        format!("it is {kind}; it must be a regular file of {KEY_LEN} bytes"),
    ))
}

fn invalid(path: &Path, problem: String) -> StoreError {
    StoreError::MasterKeyInvalid {
        path: path.display().to_string(),
        problem,
    }
}

fn unreadable(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Unreadable {
        path: path.display().to_string(),
        error,
    }
}

/// Creates a fresh master key at `dir/master.key` (mode 0600) and returns
/// the key the file holds afterwards: ours, or the one of a process that
/// created it first.
pub fn create(dir: &Path) -> StoreResult<SecretKey32> {
    create_file(&dir.join(MASTER_KEY_FILE))
}

/// Creates a fresh master key file at `path` (mode 0600; its directory
/// must exist) and returns the key the file holds afterwards: ours, or the
/// one of a process that created it first.
pub fn create_file(path: &Path) -> StoreResult<SecretKey32> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| MASTER_KEY_FILE.to_string());
    let key = SecretKey32::generate()?;
    let mut suffix = [0u8; 8];
    random_fill(&mut suffix)?;
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(key.bytes())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&tmp, &e));
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(key)
        }
        // Another process won the race: its file is complete; use it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path)?
            .ok_or_else(|| io_err(path, &std::io::Error::from(std::io::ErrorKind::NotFound))),
        Err(e) => Err(io_err(path, &e)),
    }
}

fn io_err(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The check value of `master`, to store once in the store.
pub fn check_value(master: &SecretKey32) -> StoreResult<Vec<u8>> {
    seal(master, CHECK_AAD, CHECK_PLAINTEXT)
}

/// True when `blob` is the check value of `master`.
pub fn verifies(master: &SecretKey32, blob: &[u8]) -> bool {
    unseal(master, CHECK_AAD, blob).is_ok_and(|p| p.as_slice() == CHECK_PLAINTEXT)
}

/// Warnings about the store directory and the master key file when group
/// or others have any access to them.
pub fn permission_warnings(dir: &Path) -> Vec<String> {
    let key = dir.join(MASTER_KEY_FILE);
    mode_warnings(&[
        (dir, "key store directory", "700"),
        (key.as_path(), "master key file", "600"),
    ])
}

/// Warnings about a master key file named explicitly (not in a store
/// directory) when group or others have any access to it.
pub fn key_file_warnings(path: &Path) -> Vec<String> {
    mode_warnings(&[(path, "master key file", "600")])
}

fn mode_warnings(items: &[(&Path, &str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for &(path, what, wanted) in items {
        let Ok(meta) = fs::metadata(path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            out.push(format!(
                "{what} {} is accessible by group or others (mode {mode:03o}): anyone who can \
                 read the master key and the store can read every key; run `chmod {wanted} {}`",
                path.display(),
                path.display()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_is_0600_readable_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let made = create(dir.path()).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_LEN as u64);
        assert_eq!(read(&path).unwrap().unwrap().bytes(), made.bytes());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(permission_warnings(dir.path()).is_empty());
    }

    #[test]
    fn creation_race_yields_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<[u8; KEY_LEN]> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| *create(dir.path()).unwrap().bytes()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn unusable_files_are_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        type Make = fn(&Path);
        let cases: Vec<(&str, Make, &str)> = vec![
            ("short", |p| fs::write(p, b"short").unwrap(), "holds 5"),
            ("long", |p| fs::write(p, [7u8; 40]).unwrap(), "holds more"),
            (
                "symlink to /dev/zero",
                |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap(),
                "a device",
            ),
            ("directory", |p| fs::create_dir(p).unwrap(), "a directory"),
            (
                "FIFO (opening it would block)",
                |p| {
                    let made = std::process::Command::new("mkfifo").arg(p).status();
                    assert!(made.unwrap().success(), "mkfifo");
                },
                "a FIFO",
            ),
        ];
        for (name, make, want) in cases {
            let path = dir
                .path()
                .join(format!("{}.key", name.replace([' ', '/', '(', ')'], "_")));
            make(&path);
            let err = read(&path).err();
            assert!(
                matches!(&err, Some(StoreError::MasterKeyInvalid { problem, .. }) if problem.contains(want)),
                "case {name}: {err:?}"
            );
        }
        assert!(read(&dir.path().join("absent")).unwrap().is_none());
    }

    #[test]
    fn check_value_tells_keys_apart() {
        let a = SecretKey32::generate().unwrap();
        let b = SecretKey32::generate().unwrap();
        let check = check_value(&a).unwrap();
        assert!(verifies(&a, &check));
        assert!(!verifies(&b, &check));
        assert!(!verifies(&a, &check[..10]));
    }

    #[test]
    fn open_permissions_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        create(dir.path()).unwrap();
        let key = dir.path().join(MASTER_KEY_FILE);
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        let w = permission_warnings(dir.path());
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("mode 750") && w[0].contains("chmod 700"),
            "{w:?}"
        );
        assert!(
            w[1].contains("mode 644") && w[1].contains("chmod 600"),
            "{w:?}"
        );
    }
}
