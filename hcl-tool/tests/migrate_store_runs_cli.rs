//! `keyshift migrate --from-store A --to-store B`: bad input refused before
//! anything moves, a run killed part way resumed by the same command, and a
//! live lock on the target naming its holder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::store_move::{Closed, Stores, aes, decrypt, encrypt, files, last_line, stores};
use support::{code, keyshift, new_key, stderr, stdout};

use keyshift_core::store::{Container, KeySpec, KeyUsage};

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

/// Containers locked by a migration in the store at `dir` (read-only).
fn locked(dir: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("keyshift.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row(
        "SELECT count(*) FROM containers WHERE migrating != 0",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// `SELECT count(*) …` on the store at `dir`, 0 while it cannot be read.
fn count(dir: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open_with_flags(
        dir.join("keyshift.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .and_then(|db| db.query_row(sql, [], |r| r.get(0)))
    .unwrap_or(0)
}

/// A `--move` killed after it emptied the source: this test holds the
/// target's write lock from the moment the copy is complete, so the run
/// empties the source, ends its run there and then waits for the target,
/// where it is killed with its locks held. Re-running the same command
/// (whose selection is now empty: a pattern matches nothing) takes the
/// dead run over whole: `--status` is empty and nothing is locked in
/// either store.
#[test]
fn a_move_killed_after_emptying_the_source_is_taken_over_by_the_rerun() {
    let cases: [(&str, &[&str]); 2] = [
        ("--all", &["--all", "--include-secrets", "--move"]),
        ("pattern", &["alias/*", "--include-secrets", "--move"]),
    ];
    for (name, args) in cases {
        let s = stores();
        let inst = support::instance(&s.kms_a, "payments");
        let n = 80;
        for i in 0..n {
            let c = if i % 10 != 0 {
                Container::Shared
            } else {
                inst.clone()
            };
            aes(&s.kms_a, c, &format!("alias/k{i}"), false);
        }
        drop(s.b()); // B exists: its write lock can be held
        let mut argv = args.to_vec();
        argv.extend(["--batch-size", "1"]);
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyshift"))
            .args(["migrate", "--from-store"])
            .arg(&s.a)
            .arg("--to-store")
            .arg(&s.b)
            .args(&argv)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while count(&s.b, "SELECT count(*) FROM keys") < n {
            assert!(started.elapsed().as_secs() < 30, "{name}: copy not done");
            assert!(child.try_wait().unwrap().is_none(), "{name}: run ended");
        }
        let gate = rusqlite::Connection::open(s.b.join("keyshift.db")).unwrap();
        gate.execute_batch("BEGIN IMMEDIATE").unwrap();
        let open_in_a = "SELECT count(*) FROM migration_runs WHERE outcome IS NULL";
        while count(&s.a, "SELECT count(*) FROM keys") > 0 || count(&s.a, open_in_a) > 0 {
            assert!(
                started.elapsed().as_secs() < 30,
                "{name}: source not emptied"
            );
            assert!(child.try_wait().unwrap().is_none(), "{name}: run ended");
        }
        child.kill().unwrap(); // SIGKILL, waiting for B's write lock
        child.wait().unwrap();
        gate.execute_batch("ROLLBACK").unwrap();
        drop(gate);
        assert!(locked(&s.b) > 0, "{name}: the killed run holds B");
        let o = keyshift(&s.b, &["migrate", "--status"]);
        assert_eq!(code(&o), 1, "{name}: {}", stdout(&o));
        assert!(stdout(&o).contains("interrupted"), "{name}: {}", stdout(&o));

        let o = s.migrate(&argv);
        assert_eq!(code(&o), 0, "{name}: {}{}", stdout(&o), stderr(&o));
        for store in [&s.a, &s.b] {
            let o = keyshift(store, &["migrate", "--status"]);
            assert_eq!(
                (code(&o), stdout(&o).as_str()),
                (0, "no migration in progress or interrupted\n"),
                "{name}: {}",
                store.display()
            );
            assert_eq!(locked(store), 0, "{name}: {}", store.display());
        }
        assert!(
            stderr(&o).contains("taking over the interrupted store move mig-"),
            "{name}: {}",
            stderr(&o)
        );
        assert_eq!(s.b().list_keys(None).unwrap().len(), n as usize, "{name}");
        assert!(s.kms_a.list_keys(None).unwrap().is_empty(), "{name}");
        let o = keyshift(&s.b, &["key", "disable", "alias/k1"]);
        assert_eq!(code(&o), 0, "{name}: management works in B: {}", stderr(&o));
    }
}
