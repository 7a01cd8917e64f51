//! `keyshift migrate --from-store A --to-store B` against the real binary,
//! one named test per mode (default, `--force`, `--merge` equal and
//! differing, `--dry-run`, `--move`), different master keys on the two
//! sides, bad input, and resuming a run killed part way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, keyshift, keyshift_stdin, new_key, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::store::{
    Container, KeySpec, KeyUsage, NewInstance, NewKey, NewSecret, SecretType,
};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Stores {
    dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    kms_a: Kms,
}

/// Store A with content; store B not created yet.
fn stores() -> Stores {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let kms_a = Kms::open(&a, "test").unwrap();
    Stores { dir, a, b, kms_a }
}

/// Store paths without an open connection.
struct Closed {
    a: PathBuf,
    b: PathBuf,
}

impl Closed {
    fn migrate(&self, args: &[&str]) -> std::process::Output {
        migrate_cmd(&self.a, &self.b, args)
    }
}

fn migrate_cmd(a: &Path, b: &Path, args: &[&str]) -> std::process::Output {
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
    fn b(&self) -> Kms {
        Kms::open(&self.b, "test").unwrap()
    }

    /// `keyshift migrate --from-store A --to-store B ARGS…`.
    fn migrate(&self, args: &[&str]) -> std::process::Output {
        migrate_cmd(&self.a, &self.b, args)
    }
}

fn aes(kms: &Kms, c: Container, alias: &str, multi: bool) -> String {
    let k = kms
        .create_key(NewKey {
            multi_version: multi,
            ..NewKey::new(c, KeySpec::Aes256, KeyUsage::EncryptDecrypt)
        })
        .unwrap();
    kms.create_alias(alias, &k.id).unwrap();
    k.id
}

fn encrypt(store: &Path, key: &str, data: &[u8]) -> String {
    let o = keyshift_stdin(store, &["encrypt", "--key", key], data);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stdout(&o)
}

fn decrypt(store: &Path, ct: &str) -> String {
    let o = keyshift_stdin(store, &["decrypt"], ct.as_bytes());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stdout(&o)
}

/// The store's database and master key files, each with its length and a
/// hash of its bytes (SQLite's `-wal`/`-shm` scratch files are left out:
/// only call this while no connection is open).
fn files(dir: &Path) -> BTreeMap<String, (usize, u64)> {
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
fn contents(dir: &Path) -> Vec<String> {
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

fn last_line(o: &std::process::Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_string()
}

#[test]
fn default_mode_refuses_an_object_already_in_the_target() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    let other = aes(&s.kms_a, Container::Shared, "alias/other", false);
    let ct = encrypt(&s.a, "alias/app", b"hello");
    let o = s.migrate(&["alias/app"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let (a, b) = (s.a.display(), s.b.display());
    assert_eq!(
        stdout(&o),
        format!(
            "migrated      key {app} (alias/app) {a} -> {b}\n\
             migrate store {a} -> {b}: 1 migrated, 0 skipped, 0 refused, 0 failed\n"
        )
    );
    assert_eq!(
        decrypt(&s.b, &ct),
        "hello",
        "old ciphertexts decrypt against B"
    );
    let before = contents(&s.b);
    let source_before = contents(&s.a);

    let report = s.dir.path().join("report.json");
    let o = s.migrate(&["alias/*", "--report", report.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "refused       key {app} (alias/app) {a} -> {b}: already in the target store (use --force to replace it or --merge to skip identical copies)"
        )),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(&format!("migrated      key {other} (alias/other)")),
        "{}",
        stdout(&o)
    );
    let json: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    let objects = json["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    let by_id = |id: &str| objects.iter().find(|o| o["id"] == id).unwrap();
    let refused = by_id(&app);
    assert_eq!(refused["outcome"], "skipped");
    assert_eq!(refused["kind"], "key");
    assert_eq!(refused["names"], serde_json::json!(["alias/app"]));
    assert_eq!(refused["source"], a.to_string().as_str());
    assert_eq!(refused["target_instance_id"], b.to_string().as_str());
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("refused: already in the target store")
    );
    assert_eq!(by_id(&other)["outcome"], "migrated");
    // The refused key is unchanged in B; only `other` was added.
    let after = contents(&s.b);
    assert!(
        before.iter().all(|row| after.contains(row)),
        "B lost or changed rows"
    );
    assert!(after.iter().any(|row| row.contains(&other)));
    assert_eq!(contents(&s.a), source_before, "the source is untouched");
    assert_eq!(s.b().get_key(&app).unwrap(), s.kms_a.get_key(&app).unwrap());
}

#[test]
fn force_replaces_inside_the_transaction_and_warns_naming_the_key() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", true);
    let o = s.migrate(&["--all"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The source moves on: a new version the target does not have.
    s.kms_a.rotate_key(&app).unwrap();
    let ct = encrypt(&s.a, &app, b"after rotation");
    assert_eq!(s.b().get_key(&app).unwrap().version_count, 1);

    let o = s.migrate(&["--all", "--force"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "WARNING: --force OVERWROTE key {app} (alias/app) in the target store {}",
            s.b.display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("replaced the object in the target store (--force)"),
        "{}",
        stdout(&o)
    );
    let b = s.b();
    assert_eq!(b.get_key(&app).unwrap(), s.kms_a.get_key(&app).unwrap());
    assert_eq!(b.get_key(&app).unwrap().version_count, 2);
    assert_eq!(decrypt(&s.b, &ct), "after rotation");
    let audit = b.audit_log(50).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "key.import" && e.object == app && e.detail.contains("replaced")),
        "{audit:?}"
    );
}

#[test]
fn merge_skips_identical_objects() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    assert_eq!(code(&s.migrate(&["--all"])), 0);
    let before = contents(&s.b);
    let o = s.migrate(&["--all", "--merge"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "skipped       key {app} (alias/app) {} -> {}: an identical copy is already in the target store",
            s.a.display(),
            s.b.display()
        )),
        "{}",
        stdout(&o)
    );
    assert!(last_line(&o).ends_with(": 0 migrated, 1 skipped, 0 refused, 0 failed"));
    assert_eq!(contents(&s.b), before);
}

#[test]
fn merge_reports_differing_material_and_never_overwrites() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", true);
    assert_eq!(code(&s.migrate(&["--all"])), 0);
    s.kms_a.rotate_key(&app).unwrap();
    let before = contents(&s.b);
    let o = s.migrate(&["--all", "--merge"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "refused       key {app} (alias/app) {} -> {}: the target store holds a key with this id and different material (not overwritten)",
            s.a.display(),
            s.b.display()
        )),
        "{}",
        stdout(&o)
    );
    assert_eq!(contents(&s.b), before, "the target is unchanged");
    assert_eq!(s.b().get_key(&app).unwrap().version_count, 1);
}

#[test]
fn dry_run_changes_nothing_in_either_store() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    let Stores {
        dir: _dir,
        a,
        b,
        kms_a,
    } = s;
    drop(kms_a); // no connection of this test stays open
    let s = Closed { a, b };
    let a_before = files(&s.a);
    // No target yet: it is not created.
    let o = s.migrate(&["--all", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "would migrate key {app} (alias/app) {a} -> {b}\n\
             dry run: migrate store {a} -> {b}: 1 would migrate, 0 skipped, 0 refused, 0 failed\n",
            a = s.a.display(),
            b = s.b.display()
        )
    );
    assert!(!s.b.exists(), "the dry run created the target");
    assert_eq!(files(&s.a), a_before);

    // An existing target with a conflicting object: both byte for byte unchanged.
    assert_eq!(code(&s.migrate(&["--all"])), 0);
    let second = {
        let kms = Kms::open(&s.a, "test").unwrap();
        aes(&kms, Container::Shared, "alias/second", false)
    };
    let (a_before, b_before) = (files(&s.a), files(&s.b));
    for mode in [&[][..], &["--force"], &["--merge"], &["--move"]] {
        let mut args = vec!["--all", "--dry-run"];
        args.extend_from_slice(mode);
        let o = s.migrate(&args);
        assert!(
            stdout(&o).contains(&format!("would migrate key {second}")),
            "{mode:?}: {}",
            stdout(&o)
        );
        assert_eq!(files(&s.a), a_before, "{mode:?}: source changed");
        assert_eq!(files(&s.b), b_before, "{mode:?}: target changed");
    }
}

#[test]
fn move_removes_from_the_source_only_what_the_target_holds() {
    let s = stores();
    let kst = Container::Instance(
        s.kms_a
            .create_instance(NewInstance {
                name: "payments".into(),
                instance_type: keyshift_core::store::InstanceType::Software,
                region: "local-1".into(),
                key_quota: 5,
                secret_quota: 5,
            })
            .unwrap()
            .id,
    );
    let app = aes(&s.kms_a, kst.clone(), "alias/app", false);
    let stay = aes(&s.kms_a, Container::Shared, "alias/stay", false);
    let sec = s
        .kms_a
        .create_secret(
            NewSecret {
                name: "db-password".into(),
                container: kst.clone(),
                secret_type: SecretType::Generic,
                encryption_key_id: app.clone(),
                description: String::new(),
                tags: BTreeMap::new(),
            },
            b"s3cret",
        )
        .unwrap()
        .id;
    let ct = encrypt(&s.a, "alias/app", b"moved data");

    // Without its secret, --move refuses the key: the secret would be orphaned.
    let o = s.migrate(&["alias/app", "--move"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("--move would leave secret(s) db-password in the source"),
        "{}",
        stdout(&o)
    );
    assert!(s.kms_a.get_key(&app).is_ok());

    let o = s.migrate(&["db-password", "--include-secrets", "--move"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("migrated      key {app} (alias/app)"))
            && stdout(&o).contains("removed from the source"),
        "{}",
        stdout(&o)
    );
    assert!(s.kms_a.get_key(&app).is_err(), "the key left the source");
    assert!(
        s.kms_a.get_secret(&sec).is_err(),
        "the secret left the source"
    );
    assert!(s.kms_a.get_key(&stay).is_ok(), "unselected keys stay");
    let b = s.b();
    assert_eq!(b.get_key(&app).unwrap().container, kst);
    assert_eq!(
        b.get_instance(kst.instance_id().unwrap()).unwrap().name,
        "payments"
    );
    assert_eq!(decrypt(&s.b, &ct), "moved data");
    let o = keyshift(&s.b, &["secret", "get", &sec]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "s3cret"),
        "{}",
        stderr(&o)
    );
    assert!(
        s.kms_a
            .audit_log(20)
            .unwrap()
            .iter()
            .any(|e| e.action == "key.export" && e.object == app)
    );
    // No migration lock is left on either side.
    for store in [&s.a, &s.b] {
        let o = keyshift(store, &["migrate", "--status"]);
        assert_eq!(stdout(&o), "no migration in progress or interrupted\n");
    }
}

#[test]
fn different_master_keys_reseal_under_the_target() {
    let s = stores();
    let _b = s.b(); // its own, different master key
    assert_ne!(
        std::fs::read(s.a.join("master.key")).unwrap(),
        std::fs::read(s.b.join("master.key")).unwrap()
    );
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    let ct = encrypt(&s.a, &app, b"resealed");
    let o = s.migrate(&["--all"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(decrypt(&s.b, &ct), "resealed");
    let sealed = |dir: &Path| -> Vec<u8> {
        rusqlite::Connection::open(dir.join("keyshift.db"))
            .unwrap()
            .query_row(
                "SELECT sealed FROM key_versions WHERE key_id = ?1",
                [&app],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_ne!(sealed(&s.a), sealed(&s.b), "resealed under B's root key");
}

#[test]
fn bad_input_is_refused_before_anything_moves() {
    let s = stores();
    aes(&s.kms_a, Container::Shared, "alias/app", false);
    let Stores { dir, a, b, kms_a } = s;
    drop(kms_a); // no connection of this test stays open
    let s = Closed { a, b };
    let missing = dir.path().join("nope");
    let bad_key = dir.path().join("bad.key");
    std::fs::write(&bad_key, b"not a master key").unwrap();
    let a = s.a.to_str().unwrap().to_string();
    let b = s.b.to_str().unwrap().to_string();
    let m = missing.to_str().unwrap().to_string();
    let k = bad_key.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "unknown source",
            vec!["--from-store", &m, "--to-store", &b, "--all"],
            "does not exist",
        ),
        (
            "no match",
            vec!["--from-store", &a, "--to-store", &b, "alias/none"],
            "pattern \"alias/none\" matches no key in the source store",
        ),
        (
            "force and merge",
            vec![
                "--from-store",
                &a,
                "--to-store",
                &b,
                "--all",
                "--force",
                "--merge",
            ],
            "cannot be used with",
        ),
        (
            "same store",
            vec!["--from-store", &a, "--to-store", &a, "--all"],
            "are the same store",
        ),
        (
            "nothing selected",
            vec!["--from-store", &a, "--to-store", &b],
            "required",
        ),
        (
            "missing master key file",
            vec![
                "--from-store",
                &a,
                "--to-store",
                &b,
                "--all",
                "--from-master-key-file",
                &m,
            ],
            "cannot read --from-master-key-file",
        ),
        (
            "bad master key file",
            vec![
                "--from-store",
                &a,
                "--to-store",
                &b,
                "--all",
                "--from-master-key-file",
                &k,
            ],
            "cannot open the source store",
        ),
        (
            "store flags with --to",
            vec![
                "--from-store",
                &a,
                "--to-store",
                &b,
                "--all",
                "--to",
                "shared",
            ],
            "cannot be used with",
        ),
    ];
    let before = files(&s.a);
    for (name, args, want) in cases {
        let mut all = vec!["migrate"];
        all.extend(args);
        let o = keyshift(&s.a, &all);
        assert_eq!(code(&o), 2, "{name}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(want), "{name}: {}", stderr(&o));
        assert!(!s.b.exists(), "{name}: the target was created");
        assert_eq!(files(&s.a), before, "{name}: the source changed");
    }
}

#[test]
fn a_killed_run_resumes_and_completes() {
    let s = stores();
    let n = 300;
    let ids: Vec<String> = (0..n)
        .map(|_| {
            new_key(
                &s.kms_a,
                Container::Shared,
                KeySpec::Aes256,
                KeyUsage::EncryptDecrypt,
            )
            .id
        })
        .collect();
    let ct = encrypt(&s.a, &ids[n - 1], b"last key");
    let b = s.b();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyshift"))
        .args(["migrate", "--from-store"])
        .arg(&s.a)
        .arg("--to-store")
        .arg(&s.b)
        .args(["--all", "--batch-size", "7"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while b.list_keys(None).unwrap().is_empty() {
        assert!(started.elapsed().as_secs() < 30, "nothing copied in 30 s");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let copied = b.list_keys(None).unwrap().len();
    assert!(copied < n, "killed too late to test anything");
    assert_eq!(
        s.kms_a.list_keys(None).unwrap().len(),
        n,
        "every key stays in the source"
    );
    let o = keyshift(&s.b, &["migrate", "--status"]);
    assert!(stdout(&o).contains("interrupted"), "{}", stdout(&o));

    let o = s.migrate(&["--all"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        last_line(&o).ends_with(&format!(": {n} migrated, 0 skipped, 0 refused, 0 failed")),
        "{}",
        last_line(&o)
    );
    assert!(
        stdout(&o).contains("copied by an interrupted run"),
        "{}",
        stdout(&o)
    );
    assert_eq!(b.list_keys(None).unwrap().len(), n);
    assert_eq!(decrypt(&s.b, &ct), "last key");
    for store in [&s.a, &s.b] {
        let o = keyshift(store, &["migrate", "--status"]);
        assert_eq!(stdout(&o), "no migration in progress or interrupted\n");
    }
}

#[test]
fn a_live_lock_on_the_target_stops_the_run_and_names_its_holder() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    let b = s.b();
    let held =
        keyshift_core::engine::store_migrate_lock::begin(&b, &[Container::Shared], "elsewhere")
            .unwrap();
    let o = s.migrate(&["--all"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "migration in progress on shared (run {}, pid {} on {}, started {})",
            held[0].run_id, held[0].pid, held[0].host, held[0].started_at
        )),
        "{}",
        stderr(&o)
    );
    assert!(b.get_key(&app).is_err(), "nothing was copied");
    let o = keyshift(&s.a, &["migrate", "--status"]);
    assert_eq!(
        stdout(&o),
        "no migration in progress or interrupted\n",
        "the source's lock was released"
    );
}
