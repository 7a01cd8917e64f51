//! `keyshift migrate` on objects created by the real terraform: keys and a
//! secret move out of band, the plan stays clean (instance_id is
//! Optional+Computed), old ciphertexts decrypt, `--rewrite . --verify` pins
//! the placement in main.tf, and an apply touching a container held by a
//! migration gets the "migration in progress" diagnostic while decrypt keeps
//! working. A killed `migrate --report --rewrite` resumed by the same
//! command pins every key and leaves no temporary file; `--rewrite` into a
//! directory without state says that nothing could be pinned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_core::engine::Kms;
use keyshift_core::store::Container;
use keyshift_e2e::{Run, Tf, release_dir};
use std::io::Write;
use std::process::{Command, Stdio};

fn config(description: &str) -> String {
    format!(
        r#"resource "keyshift_kms_instance" "dest" {{
  name = "dest"
}}

resource "keyshift_key" "first" {{
  description = "{description}"
}}

resource "keyshift_alias" "first" {{
  name   = "alias/first"
  key_id = keyshift_key.first.id
}}

resource "keyshift_key" "second" {{
  description = "second"
}}

resource "keyshift_secret" "db" {{
  name              = "db-password"
  encryption_key_id = keyshift_key.second.id
  secret_data       = "s3cret"
}}
"#
    )
}

/// The release `keyshift` in `tf`'s directory with `stdin`; (code, stdout, stderr).
fn keyshift_stdin(tf: &Tf, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(release_dir().join("keyshift"))
        .current_dir(tf.path())
        .env_remove("KEYSHIFT_STORE")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn id(tf: &Tf, address: &str) -> String {
    tf.resource(address)["id"].as_str().unwrap().to_string()
}

#[test]
fn out_of_band_migration_keeps_plans_clean_and_rewrite_pins_it() {
    let tf = Tf::new();
    tf.write_main(&config("first"));
    tf.apply();
    let kst = id(&tf, "keyshift_kms_instance.dest");
    let (first, second) = (
        id(&tf, "keyshift_key.first"),
        id(&tf, "keyshift_key.second"),
    );
    let (code, ct, err) = keyshift_stdin(&tf, &["encrypt", "--key", "alias/first"], "before");
    assert_eq!(code, 0, "{err}");

    // Out of band, no rewrite: the plan is still clean.
    let r = tf.keyshift(&["migrate", "--to", &kst, "alias/first"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&format!(
            "migrated      key {first} (alias/first) shared -> {kst}"
        )),
        "{}",
        r.all()
    );
    tf.assert_clean_plan();
    let (code, plain, err) = keyshift_stdin(&tf, &["decrypt"], &ct);
    assert_eq!((code, plain.as_str()), (0, "before"), "{err}");

    // Migrate and pin in one run: main.tf gets instance_id, the plan stays clean.
    let r = tf.keyshift(&[
        "migrate",
        "--to",
        &kst,
        "--include-secrets",
        &second,
        "db-password",
        "--rewrite",
        ".",
        "--verify",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let main = std::fs::read_to_string(tf.path().join("main.tf")).unwrap();
    let pinned = format!("  description = \"second\"\n  instance_id = \"{kst}\"\n");
    assert!(main.contains(&pinned), "{main}");
    let pinned = format!("  secret_data       = \"s3cret\"\n  instance_id       = \"{kst}\"\n");
    assert!(main.contains(&pinned), "{main}");
    assert!(
        !main.contains("description = \"first\"\n  instance_id"),
        "{main}"
    );
    tf.assert_clean_plan();
    tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
    for address in [
        "keyshift_key.first",
        "keyshift_key.second",
        "keyshift_secret.db",
    ] {
        assert_eq!(
            tf.resource(address)["instance_id"],
            kst.as_str(),
            "{address}"
        );
    }

    // A held migration lock: an apply touching the container fails fast,
    // decrypt keeps working, the store is intact afterwards.
    let kms = Kms::open(&tf.store(), "test").unwrap();
    let inst = Container::Instance(kst.clone());
    let run = kms.begin_migration(&Container::Shared, &inst).unwrap();
    let main_changed = main.replace("description = \"first\"", "description = \"changed\"");
    std::fs::write(tf.path().join("main.tf"), &main_changed).unwrap();
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let want = format!("migration in progress on {kst} (run {}, pid ", run.run_id);
    assert!(r.flat().contains(&want), "{}", r.all());
    // keyshift migrate --status shows the run.
    let st = tf.keyshift(&["migrate", "--status"]);
    assert_eq!(st.code, 0, "{}", st.all());
    assert!(
        st.stdout
            .contains(&format!("run {} shared -> {kst}: in progress", run.run_id)),
        "{}",
        st.all()
    );
    let (code, plain, err) = keyshift_stdin(&tf, &["decrypt"], &ct);
    assert_eq!((code, plain.as_str()), (0, "before"), "{err}");
    kms.end_migration(&run, "completed").unwrap();
    assert_eq!(kms.get_key(&first).unwrap().description, "first");
    tf.apply();
    assert_eq!(kms.get_key(&first).unwrap().description, "changed");
    tf.assert_clean_plan();
}

/// Scratch and temporary files the CLI may leave in `dir` (`.tmp…`,
/// `.keyshift-…tmp`).
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp") || (n.starts_with(".keyshift-") && n.ends_with(".tmp")))
        .collect()
}

/// Keys in `kst` (read-only: the run holds the write lock).
fn keys_in(tf: &Tf, kst: &str) -> usize {
    rusqlite::Connection::open_with_flags(
        tf.store().join("keyshift.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .and_then(|db| {
        db.query_row(
            "SELECT count(*) FROM keys WHERE container_id = ?1",
            [kst],
            |r| r.get::<_, i64>(0),
        )
    })
    .map_or(0, |n| n as usize)
}

/// `kill -9` of `migrate --all --report FILE --rewrite DIR` part way, then
/// the same command again: the re-run's report places every key (those the
/// killed run moved too), the rewrite pins all of them, the plan is clean,
/// and no temporary file is left in DIR or in the temporary directory.
#[test]
fn a_killed_migrate_with_rewrite_resumes_pinning_every_key_and_leaves_no_temp_file() {
    let tf = Tf::new();
    let n = 150;
    tf.write_main(&format!(
        "resource \"keyshift_kms_instance\" \"dest\" {{\n  name = \"dest\"\n}}\n\n\
         resource \"keyshift_key\" \"k\" {{\n  count       = {n}\n  description = \"k${{count.index}}\"\n}}\n"
    ));
    tf.apply();
    let kst = id(&tf, "keyshift_kms_instance.dest");
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "migrate",
        "--to",
        &kst,
        "--all",
        "--batch-size",
        "1",
        "--report",
        "report.json",
        "--rewrite",
        ".",
    ];
    let mut child = tf
        .keyshift_command(&args)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while keys_in(&tf, &kst) < 10 {
        assert!(started.elapsed().as_secs() < 60, "nothing moved");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended too soon"
        );
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let moved = keys_in(&tf, &kst);
    assert!(moved < n, "killed too late to test anything");

    let r = Run::from(
        tf.keyshift_command(&args)
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(temp_files(tf.path()), Vec::<String>::new());
    let report: serde_json::Value = serde_json::from_str(&tf.read("report.json")).unwrap();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), n);
    let placed = objects
        .iter()
        .filter(|o| o["outcome"] == "migrated" || o["in_target"] == true)
        .count();
    assert_eq!(placed, n, "{moved} moved by the killed run: {report:#}");
    let main = tf.read("main.tf");
    assert!(
        main.contains(&format!("instance_id = \"{kst}\"")),
        "every key pinned: {main}"
    );
    tf.assert_clean_plan();
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the temporary directory is empty"
    );
}

/// `migrate --rewrite DIR` where DIR has no state: the migration is done
/// (exit 0) and the run says, on both streams, that nothing could be pinned
/// and why; the configuration is untouched.
#[test]
fn migrate_rewrite_into_a_directory_without_state_says_nothing_was_pinned() {
    let tf = Tf::new();
    tf.write_main("resource \"keyshift_kms_instance\" \"dest\" {\n  name = \"dest\"\n}\n");
    tf.apply();
    let kst = id(&tf, "keyshift_kms_instance.dest");
    let kms = Kms::open(&tf.store(), "test").unwrap();
    let key = kms
        .create_key(keyshift_core::store::NewKey::new(
            Container::Shared,
            keyshift_core::store::KeySpec::Aes256,
            keyshift_core::store::KeyUsage::EncryptDecrypt,
        ))
        .unwrap()
        .id;
    drop(kms);
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("main.tf"), "# nothing here\n").unwrap();
    let store = tf.store();
    let r = tf.keyshift(&[
        "--store",
        store.to_str().unwrap(),
        "migrate",
        "--to",
        &kst,
        &key,
        "--rewrite",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    for text in [&r.stdout, &r.stderr] {
        assert!(
            text.contains("nothing could be pinned")
                && text.contains("has no Terraform state with resources"),
            "{}",
            r.all()
        );
    }
    assert!(
        r.stdout.contains(&format!("migrated      key {key}")),
        "{}",
        r.all()
    );
    assert_eq!(
        std::fs::read_to_string(empty.path().join("main.tf")).unwrap(),
        "# nothing here\n"
    );
}
