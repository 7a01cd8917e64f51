//! `keyshift migrate` against the real binary, on stores set up through the
//! engine: what moves, what is refused and why, the report, exit codes, bad
//! input rejected before anything moves, and the lock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, instance, keyshift, keyshift_stdin, new_key, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, KeySpec, KeyUsage, NewSecret, SecretType};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Fixture {
    _dir: tempfile::TempDir,
    store: PathBuf,
    kms: Kms,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    Fixture {
        _dir: dir,
        store,
        kms,
    }
}

fn aes(kms: &Kms, c: &Container, alias: &str) -> String {
    let k = new_key(kms, c.clone(), KeySpec::Aes256, KeyUsage::EncryptDecrypt);
    kms.create_alias(alias, &k.id).unwrap();
    k.id
}

fn secret(kms: &Kms, c: &Container, name: &str, key_id: &str) -> String {
    let new = NewSecret {
        name: name.into(),
        container: c.clone(),
        secret_type: SecretType::Generic,
        encryption_key_id: key_id.into(),
        description: String::new(),
        tags: BTreeMap::new(),
    };
    kms.create_secret(new, b"s3cret").unwrap().id
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

fn where_key(kms: &Kms, id: &str) -> Container {
    kms.get_key(id).unwrap().container
}

#[test]
fn moves_keys_and_secrets_reports_refusals_and_keeps_ciphertexts() {
    let f = fixture();
    let kst = instance(&f.kms, "dest");
    let app = aes(&f.kms, &Container::Shared, "alias/app");
    let db = secret(&f.kms, &Container::Shared, "db-password", &app);
    let service = aes(&f.kms, &Container::Shared, "alias/acs/ecs");
    let big = new_key(
        &f.kms,
        Container::Shared,
        KeySpec::Rsa3072,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    let ct = encrypt(&f.store, "alias/app", b"made before");
    let report = f.store.parent().unwrap().join("report.json");
    let before = f.kms.get_key(&app).unwrap();

    let o = keyshift(
        &f.store,
        &[
            "migrate",
            "--to",
            kst.instance_id().unwrap(),
            "--include-secrets",
            "--report",
            report.to_str().unwrap(),
            "alias/*",
            "db-*",
            &big,
        ],
    );
    let text = stdout(&o);
    assert_eq!(code(&o), 1, "a refusal exits 1: {text}{}", stderr(&o));
    let line = |id: &str| text.lines().find(|l| l.contains(id)).unwrap().to_string();
    assert!(line(&app).starts_with("migrated"), "{text}");
    assert!(line(&db).starts_with("migrated"), "{text}");
    assert!(
        line(&service).starts_with("skipped") && line(&service).contains("not required"),
        "{text}"
    );
    assert!(
        line(&big).starts_with("refused")
            && line(&big).contains("spec RSA_3072 cannot be migrated"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "migrate to {kst}: 2 migrated, 1 skipped, 1 refused, 0 failed\n"
        )),
        "{text}"
    );

    let after = f.kms.get_key(&app).unwrap();
    assert_eq!(after.container, kst);
    assert_eq!(
        (
            after.aliases.clone(),
            after.current_version.clone(),
            after.tags.clone()
        ),
        (before.aliases, before.current_version, before.tags)
    );
    assert_eq!(f.kms.get_secret(&db).unwrap().container, kst);
    assert_eq!(where_key(&f.kms, &service), Container::Shared);
    assert_eq!(where_key(&f.kms, &big), Container::Shared);
    assert_eq!(decrypt(&f.store, &ct), "made before");
    let o = keyshift(&f.store, &["secret", "get", &db]);
    assert_eq!(
        (code(&o), stdout(&o).trim()),
        (0, "s3cret"),
        "{}",
        stderr(&o)
    );

    let r: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["schema_version"], 1);
    let obj = |id: &str| {
        r["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(obj(&app)["outcome"], "migrated");
    assert_eq!(obj(&app)["kind"], "key");
    assert_eq!(obj(&app)["source"], "shared");
    assert_eq!(obj(&app)["target_instance_id"], kst.to_string());
    assert_eq!(obj(&app)["names"], serde_json::json!(["alias/app"]));
    assert_eq!(obj(&db)["kind"], "secret");
    assert_eq!(obj(&db)["names"], serde_json::json!(["db-password"]));
    assert_eq!(obj(&big)["outcome"], "skipped");
    assert!(
        obj(&big)["reason"]
            .as_str()
            .unwrap()
            .starts_with("refused: ")
    );
}

#[test]
fn dry_run_changes_nothing() {
    let f = fixture();
    let kst = instance(&f.kms, "dest");
    let app = aes(&f.kms, &Container::Shared, "alias/app");
    let o = keyshift(
        &f.store,
        &["migrate", "--to", &kst.to_string(), "--all", "--dry-run"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!(
            "would migrate key {app} (alias/app) shared -> {kst}"
        )),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).ends_with(&format!(
            "dry run: migrate to {kst}: 1 would migrate, 0 skipped, 0 refused, 0 failed\n"
        )),
        "{}",
        stdout(&o)
    );
    assert_eq!(where_key(&f.kms, &app), Container::Shared);
}

#[test]
fn back_to_shared_and_between_instances() {
    let f = fixture();
    let a = instance(&f.kms, "a");
    let b = instance(&f.kms, "b");
    let k = aes(&f.kms, &a, "alias/app");
    let ct = encrypt(&f.store, &k, b"x");
    let o = keyshift(
        &f.store,
        &[
            "migrate",
            "--from",
            &a.to_string(),
            "--to",
            &b.to_string(),
            "--all",
        ],
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(where_key(&f.kms, &k), b);
    let report = f.store.parent().unwrap().join("back.json");
    let o = keyshift(
        &f.store,
        &[
            "migrate",
            "--from",
            &b.to_string(),
            "--to",
            "shared",
            &k,
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(where_key(&f.kms, &k), Container::Shared);
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        doc["objects"][0]["target_instance_id"], "shared",
        "the report names the shared KMS: {doc}"
    );
    assert_eq!(doc["objects"][0]["source"], b.to_string().as_str());
    assert_eq!(decrypt(&f.store, &ct), "x");
    // Running it again finds it already there.
    let o = keyshift(
        &f.store,
        &["migrate", "--from", &b.to_string(), "--to", "shared", &k],
    );
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).contains("already in the target"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_input_is_refused_before_anything_moves() {
    let f = fixture();
    let kst = instance(&f.kms, "dest").to_string();
    let app = aes(&f.kms, &Container::Shared, "alias/app");
    for i in 0..50 {
        aes(&f.kms, &Container::Shared, &format!("alias/bulk-{i}"));
    }
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "unknown instance",
            &["--to", "kst-000000000000", "alias/app"],
            "instance kst-000000000000",
        ),
        (
            "bad container",
            &["--to", "elsewhere", "alias/app"],
            "--to \"elsewhere\"",
        ),
        (
            "no match",
            &["--to", &kst, "alias/app", "alias/nope*"],
            "pattern \"alias/nope*\" matches no key",
        ),
        (
            "over 50",
            &["--to", &kst, "alias/*"],
            "select 51 keys and secrets",
        ),
        (
            "shared without from",
            &["--to", "shared", "alias/app"],
            "--from",
        ),
        ("no selection", &["--to", &kst], "PATTERN"),
        (
            "rewrite dir missing",
            &["--to", &kst, "alias/app", "--rewrite", "/nonexistent/tf"],
            "--rewrite /nonexistent/tf: not a directory (nothing was migrated)",
        ),
        (
            "patterns with all",
            &["--to", &kst, "--all", "alias/app"],
            "cannot be used with",
        ),
    ];
    for (name, args, part) in cases {
        let mut argv = vec!["migrate"];
        argv.extend_from_slice(args);
        let o = keyshift(&f.store, &argv);
        assert_eq!(code(&o), 2, "case {name}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(part), "case {name}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "case {name}");
    }
    assert_eq!(where_key(&f.kms, &app), Container::Shared);
    assert!(
        f.kms
            .list_keys(Some(&Container::Instance(kst)))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_held_lock_refuses_management_but_not_crypto() {
    let f = fixture();
    let kst = instance(&f.kms, "dest");
    let app = aes(&f.kms, &Container::Shared, "alias/app");
    let ct = encrypt(&f.store, &app, b"still works");
    f.kms.set_migrating(&kst, true).unwrap();
    let o = keyshift(
        &f.store,
        &["migrate", "--to", &kst.to_string(), "alias/app"],
    );
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("migration in progress")
            || stderr(&o).contains("migration in progress"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(where_key(&f.kms, &app), Container::Shared);
    f.kms.set_migrating(&kst, false).unwrap();
    f.kms.set_migrating(&Container::Shared, true).unwrap();
    assert_eq!(decrypt(&f.store, &ct), "still works");
    let o = keyshift(&f.store, &["key", "disable", &app]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("migration in progress"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn status_names_the_holder_and_a_dead_holder_is_taken_over() {
    let f = fixture();
    let kst = instance(&f.kms, "dest");
    let app = aes(&f.kms, &Container::Shared, "alias/app");
    let o = keyshift(&f.store, &["migrate", "--status"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "no migration in progress or interrupted\n")
    );

    // A live holder (this test process).
    let run = f.kms.begin_migration(&Container::Shared, &kst).unwrap();
    let o = keyshift(&f.store, &["migrate", "--status"]);
    let want = format!(
        "run {} shared -> {kst}: in progress (pid {} on {}, started {}); shared holds 1 key(s) and 0 secret(s)\n",
        run.run_id, run.pid, run.host, run.started_at
    );
    assert_eq!((code(&o), stdout(&o)), (0, want));
    let o = keyshift(&f.store, &["key", "disable", &app]);
    assert_eq!(code(&o), 1);
    let want = format!(
        "migration in progress on shared (run {}, pid {} on {}, started {})",
        run.run_id, run.pid, run.host, run.started_at
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let o = keyshift(
        &f.store,
        &["migrate", "--to", &kst.to_string(), "alias/app"],
    );
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains(&run.run_id), "{}", stderr(&o));

    // Its process dies: --status says interrupted, the re-run takes over.
    let db = rusqlite::Connection::open(f.store.join("keyshift.db")).unwrap();
    db.execute("UPDATE migration_runs SET pid = 4000000000", [])
        .unwrap();
    drop(db);
    let o = keyshift(&f.store, &["migrate", "--status"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("interrupted (its process is gone; re-run to take over)"),
        "{}",
        stdout(&o)
    );
    let o = keyshift(
        &f.store,
        &["migrate", "--to", &kst.to_string(), "alias/app"],
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(where_key(&f.kms, &app), kst);
    let o = keyshift(&f.store, &["migrate", "--status"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "no migration in progress or interrupted\n")
    );
    let runs = f.kms.migration_runs().unwrap();
    assert!(
        runs[0]
            .outcome
            .as_deref()
            .unwrap()
            .starts_with("interrupted (taken over by ")
    );
    assert_eq!(runs[1].outcome.as_deref(), Some("completed"));
    let o = keyshift(&f.store, &["key", "disable", &app]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn sigkill_mid_run_loses_nothing_and_the_rerun_completes() {
    use keyshift_core::store::{InstanceType, NewInstance};
    let f = fixture();
    let kst = Container::Instance(
        f.kms
            .create_instance(NewInstance {
                name: "big".into(),
                instance_type: InstanceType::Software,
                region: "local-1".into(),
                key_quota: 1000,
                secret_quota: 10,
            })
            .unwrap()
            .id,
    );
    let n = 300;
    let ids: Vec<String> = (0..n)
        .map(|_| {
            new_key(
                &f.kms,
                Container::Shared,
                KeySpec::Aes256,
                KeyUsage::EncryptDecrypt,
            )
            .id
        })
        .collect();
    let ct = encrypt(&f.store, &ids[n - 1], b"last key");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyshift"))
        .arg("--store")
        .arg(&f.store)
        .args([
            "migrate",
            "--to",
            &kst.to_string(),
            "--all",
            "--batch-size",
            "7",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while f.kms.list_keys(Some(&kst)).unwrap().is_empty() {
        assert!(started.elapsed().as_secs() < 30, "nothing moved in 30 s");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let moved = f.kms.list_keys(Some(&kst)).unwrap().len();
    let stayed = f.kms.list_keys(Some(&Container::Shared)).unwrap().len();
    assert_eq!(moved + stayed, n, "every key in exactly one place");
    assert!(
        stayed > 0,
        "killed too late to test anything ({moved} moved)"
    );
    let o = keyshift(&f.store, &["migrate", "--status"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("interrupted"), "{}", stdout(&o));
    let o = keyshift(&f.store, &["key", "disable", &ids[0]]);
    assert_eq!(code(&o), 1, "management waits for the interrupted run");
    assert_eq!(decrypt(&f.store, &ct), "last key", "crypto keeps working");

    let report = f.store.parent().unwrap().join("resumed.json");
    let o = keyshift(
        &f.store,
        &[
            "migrate",
            "--to",
            &kst.to_string(),
            "--all",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The report of the re-run covers every key: what the killed run moved
    // as already in the target (so a rewrite pins those too), the rest migrated.
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let objects = doc["objects"].as_array().unwrap();
    assert_eq!(objects.len(), n);
    let count = |outcome: &str, reason: Option<&str>| {
        objects
            .iter()
            .filter(|o| o["outcome"] == outcome && reason.is_none_or(|r| o["reason"] == r))
            .count()
    };
    assert_eq!(count("migrated", None), stayed);
    assert_eq!(count("skipped", Some("already in the target")), moved);
    assert!(
        stdout(&o).ends_with(&format!(
            "migrate to {kst}: {stayed} migrated, {moved} skipped, 0 refused, 0 failed\n"
        )),
        "{}",
        stdout(&o).lines().last().unwrap_or_default()
    );
    assert_eq!(f.kms.list_keys(Some(&kst)).unwrap().len(), n);
    assert_eq!(decrypt(&f.store, &ct), "last key");
    let o = keyshift(&f.store, &["migrate", "--status"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "no migration in progress or interrupted\n")
    );
}
