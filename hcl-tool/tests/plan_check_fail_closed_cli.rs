//! `keyshift plan-check` fails closed: anything that is not a complete plan
//! is an input error (exit 2) saying what it is, and an action list the gate
//! does not know on a key-bearing resource is a finding (exit 1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::json;
use std::path::Path;
use std::process::Output;

fn plan_check(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::cargo_bin("keyshift").unwrap();
    cmd.arg("plan-check").args(args).write_stdin(stdin.to_vec());
    cmd.timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A complete plan destroying nothing: one no-op key.
fn good_plan(actions: serde_json::Value) -> String {
    json!({
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
        "resource_changes": [{
            "address": "keyshift_key.k", "mode": "managed", "type": "keyshift_key",
            "name": "k", "change": {"actions": actions, "before": {"id": "key-1"}, "after": {"id": "key-1"}}
        }],
        "applyable": true, "complete": true, "errored": false
    })
    .to_string()
}

#[test]
fn inputs_that_are_not_a_complete_plan_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let zero = dir.path().join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.path().join("fifo.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let state = r#"{"format_version":"1.0","terraform_version":"1.11.4","values":{"root_module":{"resources":[]}}}"#;
    let errored = r#"{"format_version":"1.2","planned_values":{},"errored":true,"complete":false}"#;
    let incomplete =
        r#"{"format_version":"1.2","planned_values":{},"errored":false,"complete":false}"#;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "state",
            file("state.json", state.as_bytes()),
            "is a state (`terraform show -json` without a plan file), not a plan",
        ),
        (
            "empty object",
            file("o.json", b"{}"),
            "unsupported format_version",
        ),
        (
            "format only",
            file("f.json", br#"{"format_version":"1.2"}"#),
            "without planned_values, not a plan",
        ),
        (
            "provider schemas",
            file(
                "s.json",
                br#"{"format_version":"1.0","provider_schemas":{}}"#,
            ),
            "is provider schemas",
        ),
        ("array", file("a.json", br#"["1.2"]"#), "is a JSON array"),
        (
            "binary plan",
            file("tfplan", b"PK\x03\x04\x14\x00binary"),
            "is a binary plan file; convert it first: terraform show -json",
        ),
        (
            "errored plan",
            file("e.json", errored.as_bytes()),
            "the plan errored",
        ),
        (
            "incomplete plan",
            file("i.json", incomplete.as_bytes()),
            "the plan is incomplete",
        ),
        (
            "not utf-8",
            file("u.json", b"{\"a\":\n\"\xc3\x28\"}"),
            "is not UTF-8 text (line 2, column 2)",
        ),
        (
            "directory",
            dir.path().to_str().unwrap().to_owned(),
            "is a directory, not a regular file",
        ),
        (
            "link to /dev/zero",
            zero.to_str().unwrap().to_owned(),
            "is a character device",
        ),
        (
            "fifo without a writer",
            fifo.to_str().unwrap().to_owned(),
            "is a named pipe",
        ),
    ];
    for (name, path, want) in cases {
        let o = plan_check(&[&path], b"");
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains(want), "{name}: {}", text(&o));
    }
    let o = plan_check(
        &[
            "--allow-incomplete",
            &file("i2.json", incomplete.as_bytes()),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "--allow-incomplete: {}", text(&o));
}

#[test]
fn a_plan_truncated_anywhere_exits_2() {
    let plan = good_plan(json!(["no-op"]));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.json");
    let step = (plan.len() / 23).max(1);
    for cut in (1..plan.len()).step_by(step) {
        std::fs::write(&p, &plan.as_bytes()[..cut]).unwrap();
        let o = plan_check(&[p.to_str().unwrap()], b"");
        assert_eq!(o.status.code(), Some(2), "cut at {cut}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "cut at {cut}");
    }
}

#[test]
fn stdin_and_the_count_of_key_bearing_resources() {
    let o = plan_check(&["-"], good_plan(json!(["no-op"])).as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("no findings (1 resource changes checked, 1 of them key-bearing)"),
        "{}",
        text(&o)
    );
    let o = plan_check(
        &["-", "--format", "json"],
        good_plan(json!(["no-op"])).as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["key_bearing"], 1);
    let o = plan_check(&["-"], b"");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("-: file is empty"), "{}", text(&o));
    assert!(!Path::new("-").exists());
}

#[test]
fn unknown_action_lists_on_a_key_are_findings() {
    let cases: &[(&str, serde_json::Value, &str)] = &[
        (
            "create then forget",
            json!(["create", "forget"]),
            "the old one is forgotten",
        ),
        (
            "forget then create",
            json!(["forget", "create"]),
            "the old one is forgotten",
        ),
        (
            "delete twice",
            json!(["delete", "delete"]),
            r#"action list ["delete","delete"]"#,
        ),
        ("wrong case", json!(["Delete"]), r#"action list ["Delete"]"#),
        (
            "unknown word",
            json!(["destroy"]),
            r#"action list ["destroy"]"#,
        ),
        ("empty list", json!([]), "action list []"),
        (
            "read then delete",
            json!(["read", "delete"]),
            r#"["read","delete"]"#,
        ),
        (
            "no-op then delete",
            json!(["no-op", "delete"]),
            r#"["no-op","delete"]"#,
        ),
    ];
    for (name, actions, want) in cases {
        let o = plan_check(&["-"], good_plan(actions.clone()).as_bytes());
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        assert!(
            text(&o).contains("error: keyshift_key.k:"),
            "{name}: {}",
            text(&o)
        );
        assert!(text(&o).contains(want), "{name}: {}", text(&o));
    }
}
