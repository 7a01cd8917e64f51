//! Fixture tests of `keyshift rewrite --plan`: each directory under
//! `tests/fixtures/rewrite/` holds `input.tf` (or an `input/` tree),
//! `plan.json`, `expected.tf` (or an `expected/` tree with only the files
//! that change) and `case.json` (extra args, exit code, stdout snippets).
//! Every file without an expected version must come back byte-identical,
//! `--check` must agree with the write, and a second run must change nothing.
//! `case.json` may list `stdout_absent` snippets that must not appear.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rewrite");

/// Relative path -> bytes of every file under `root`.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// (input tree, expected tree) of a case.
fn case_trees(case: &Path) -> (BTreeMap<PathBuf, Vec<u8>>, BTreeMap<PathBuf, Vec<u8>>) {
    if case.join("input.tf").exists() {
        let input = BTreeMap::from([(
            "main.tf".into(),
            std::fs::read(case.join("input.tf")).unwrap(),
        )]);
        let mut expected = BTreeMap::new();
        if let Ok(bytes) = std::fs::read(case.join("expected.tf")) {
            expected.insert("main.tf".into(), bytes);
        }
        (input, expected)
    } else {
        let expected = if case.join("expected").exists() {
            tree(&case.join("expected"))
        } else {
            BTreeMap::new()
        };
        (tree(&case.join("input")), expected)
    }
}

/// Files `terraform fmt` would change under `dir` (None without terraform).
fn fmt_unclean(dir: &Path) -> Option<Vec<String>> {
    let tf = Path::new("/usr/local/bin/terraform");
    if !tf.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "terraform is missing (CI=true): fmt-cleanliness cannot be checked"
        );
        return None;
    }
    let out = std::process::Command::new(tf)
        .args(["fmt", "-check", "-list=true", "-recursive"])
        .arg(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

fn keyshift(dir: &Path, plan: &Path, extra: &[String]) -> Command {
    let mut cmd = Command::cargo_bin("keyshift").unwrap();
    cmd.arg("rewrite")
        .arg(dir)
        .arg("--plan")
        .arg(plan)
        .args(extra);
    cmd
}

fn run_case(case: &Path) {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let meta: Value =
        serde_json::from_slice(&std::fs::read(case.join("case.json")).unwrap()).unwrap();
    let args: Vec<String> = meta["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let exit = meta["exit"].as_i64().unwrap() as i32;
    let (input, expected) = case_trees(case);
    let tmp = tempfile::tempdir().unwrap();
    for (rel, bytes) in &input {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let plan = case.join("plan.json");
    let unclean_before = fmt_unclean(tmp.path());
    let changes = !expected.is_empty();

    // --check: no write, diff shown, exit 1 iff edits (or refusals) are needed.
    let check = keyshift(
        tmp.path(),
        &plan,
        &[args.clone(), vec!["--check".into()]].concat(),
    )
    .output()
    .unwrap();
    let check_exit = if changes { 1 } else { exit };
    assert_eq!(
        check.status.code(),
        Some(check_exit),
        "{name}: --check exit; {check:?}"
    );
    assert_eq!(tree(tmp.path()), input, "{name}: --check wrote something");
    if changes {
        let out = String::from_utf8_lossy(&check.stdout);
        assert!(
            out.contains("--- a/") && out.contains("+++ b/") && out.contains("@@"),
            "{name}: no diff:\n{out}"
        );
    }

    // The write.
    let run = keyshift(tmp.path(), &plan, &args).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(exit),
        "{name}: exit\nstdout: {stdout}\nstderr: {stderr}"
    );
    for want in meta["stdout"].as_array().unwrap() {
        assert!(
            stdout.contains(want.as_str().unwrap()),
            "{name}: stdout lacks {want}:\n{stdout}"
        );
    }
    for absent in meta
        .get("stdout_absent")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let absent = absent.as_str().unwrap();
        assert!(
            !stdout.contains(absent),
            "{name}: stdout has {absent:?}:\n{stdout}"
        );
    }
    if let Some(want) = meta.get("stderr").and_then(Value::as_str) {
        assert!(
            stderr.contains(want),
            "{name}: stderr lacks {want}:\n{stderr}"
        );
    }
    let got = tree(tmp.path());
    for (rel, bytes) in &input {
        let want = expected.get(rel).unwrap_or(bytes);
        assert_eq!(
            String::from_utf8_lossy(&got[rel]),
            String::from_utf8_lossy(want),
            "{name}: {}",
            rel.display()
        );
    }
    assert_eq!(got.len(), input.len(), "{name}: stray files left behind");
    if let (Some(before), Some(after)) = (unclean_before, fmt_unclean(tmp.path())) {
        for f in &after {
            assert!(
                before.contains(f),
                "{name}: {f} was fmt-clean before, not after"
            );
        }
    }

    // Idempotent: a second run changes nothing.
    let again = keyshift(tmp.path(), &plan, &args).output().unwrap();
    assert_eq!(tree(tmp.path()), got, "{name}: second run changed files");
    if exit == 0 {
        assert_eq!(again.status.code(), Some(0), "{name}: second run exit");
        assert!(
            String::from_utf8_lossy(&again.stdout).contains("no edits needed"),
            "{name}"
        );
    }
}

#[test]
fn rewrite_fixtures() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "fixtures missing");
    for case in &cases {
        run_case(case);
    }
}
