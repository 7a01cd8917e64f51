//! What the store → store move CLI tests share: two stores (A seeded
//! through the engine, B created by the run), the migrate command between
//! them, and snapshots of a store's files and rows for "unchanged" checks.

use super::{code, keyshift, keyshift_stdin, stderr, stdout};
use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, KeySpec, KeyUsage, NewKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Stores {
    pub dir: tempfile::TempDir,
    pub a: PathBuf,
    pub b: PathBuf,
    pub kms_a: Kms,
}

/// Store A with content; store B not created yet.
pub fn stores() -> Stores {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let kms_a = Kms::open(&a, "test").unwrap();
    Stores { dir, a, b, kms_a }
}

/// Store paths without an open connection.
pub struct Closed {
    pub a: PathBuf,
    pub b: PathBuf,
}

impl Closed {
    pub fn migrate(&self, args: &[&str]) -> std::process::Output {
        migrate_cmd(&self.a, &self.b, args)
    }
}

pub fn migrate_cmd(a: &Path, b: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "migrate",
        "--from-store",
        a.to_str().unwrap(),
        "--to-store",
        b.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    keyshift(a, &all)
}

impl Stores {
    pub fn b(&self) -> Kms {
        Kms::open(&self.b, "test").unwrap()
    }

    /// `keyshift migrate --from-store A --to-store B ARGS…`.
    pub fn migrate(&self, args: &[&str]) -> std::process::Output {
        migrate_cmd(&self.a, &self.b, args)
    }
}

pub fn aes(kms: &Kms, c: Container, alias: &str, multi: bool) -> String {
    let k = kms
        .create_key(NewKey {
            multi_version: multi,
            ..NewKey::new(c, KeySpec::Aes256, KeyUsage::EncryptDecrypt)
        })
        .unwrap();
    kms.create_alias(alias, &k.id).unwrap();
    k.id
}

pub fn encrypt(store: &Path, key: &str, data: &[u8]) -> String {
    let o = keyshift_stdin(store, &["encrypt", "--key", key], data);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stdout(&o)
}

pub fn decrypt(store: &Path, ct: &str) -> String {
    let o = keyshift_stdin(store, &["decrypt"], ct.as_bytes());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stdout(&o)
}

/// The store's database and master key files, each with its length and a
/// hash of its bytes (SQLite's `-wal`/`-shm` scratch files are left out:
/// only call this while no connection is open).
pub fn files(dir: &Path) -> BTreeMap<String, (usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = BTreeMap::new();
    for name in ["keyshift.db", "master.key"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            out.insert(name.to_string(), (bytes.len(), h.finish()));
        }
    }
    out
}

/// The rows of the object tables of a store (keys, versions, aliases,
/// secrets, instances), for "unchanged" checks.
pub fn contents(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("keyshift.db")).unwrap();
    let mut out = Vec::new();
    for (table, order) in [
        ("keys", "id"),
        ("key_versions", "key_id, version_id"),
        ("aliases", "name"),
        ("secrets", "id"),
        ("secret_versions", "secret_id, version_id"),
        ("instances", "id"),
        ("containers", "id"),
    ] {
        let mut st = db
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                let mut cells = Vec::new();
                for i in 0..n {
                    use rusqlite::types::ValueRef;
                    cells.push(match r.get_ref(i)? {
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        ValueRef::Blob(b) => format!("blob {b:02x?}"),
                        ValueRef::Integer(n) => n.to_string(),
                        ValueRef::Real(x) => x.to_string(),
                        ValueRef::Null => "NULL".into(),
                    });
                }
                Ok(format!("{table}: {}", cells.join("|")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

pub fn last_line(o: &std::process::Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_string()
}
