//! CLI tests with hand-written inputs: plan-check rules (import, sensitive
//! values, EKMS revert, attribute unset, malformed input), rewrite from a
//! migration report, and `--version`/`--help`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::{Value, json};
use std::process::Output;

fn keyshift(args: &[&str]) -> Output {
    Command::cargo_bin("keyshift")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn out_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn change(
    addr: &str,
    ty: &str,
    actions: &[&str],
    before: Value,
    after: Value,
    extra: Value,
) -> Value {
    let name = addr.rsplit('.').next().unwrap();
    let mut rc = json!({
        "address": addr, "mode": "managed", "type": ty, "name": name,
        "change": {"actions": actions, "before": before, "after": after,
                   "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
    });
    for (k, v) in extra.as_object().unwrap() {
        if k == "change" {
            for (ck, cv) in v.as_object().unwrap() {
                rc["change"][ck] = cv.clone();
            }
        } else {
            rc[k] = v.clone();
        }
    }
    rc
}

fn plan_file(dir: &tempfile::TempDir, changes: Vec<Value>) -> String {
    let p = dir.path().join("plan.json");
    let plan = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": changes});
    std::fs::write(&p, serde_json::to_vec(&plan).unwrap()).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn plan_check_rules() {
    let k1 = json!({"id": "k", "instance_id": "kst-1", "name": "x"});
    let k0 = json!({"id": "k", "instance_id": null, "name": "x"});
    // (name, change, exit, must contain, must not contain)
    let cases: Vec<(&str, Value, i32, &str, &str)> = vec![
        (
            "import is not a finding",
            change(
                "keyshift_key.a",
                "keyshift_key",
                &["no-op"],
                k1.clone(),
                k1.clone(),
                json!({"change": {"importing": {"id": "k"}}}),
            ),
            0,
            "no findings",
            "error",
        ),
        (
            "attribute unset",
            change(
                "keyshift_key.a",
                "keyshift_key",
                &["update"],
                k1.clone(),
                k0.clone(),
                json!({}),
            ),
            1,
            "migration attribute instance_id would be unset (was \"kst-1\")",
            "warning:",
        ),
        (
            "sensitive value masked",
            change(
                "keyshift_secret.s",
                "keyshift_secret",
                &["update"],
                json!({"instance_id": "kst-secret-777"}),
                json!({"instance_id": null}),
                json!({"change": {"before_sensitive": {"instance_id": true}}}),
            ),
            1,
            "(sensitive value)",
            "kst-secret-777",
        ),
        (
            "whole object sensitive",
            change(
                "alicloud_kms_key.k",
                "alicloud_kms_key",
                &["update"],
                json!({"dkms_instance_id": "kst-hidden"}),
                json!({"dkms_instance_id": null}),
                json!({"change": {"before_sensitive": true}}),
            ),
            1,
            "dkms_instance_id would be unset",
            "kst-hidden",
        ),
        (
            "ekms revert",
            change(
                "keyshift_ekms_config.c",
                "keyshift_ekms_config",
                &["update"],
                json!({"wrapping_strategy": "external"}),
                json!({"wrapping_strategy": "internal"}),
                json!({}),
            ),
            1,
            "EKMS config would revert: wrapping_strategy \"external\" -> \"internal\"",
            "warning:",
        ),
        (
            "ekms deleted",
            change(
                "keyshift_ekms_config.c",
                "keyshift_ekms_config",
                &["delete"],
                json!({"wrapping_strategy": "external"}),
                Value::Null,
                json!({}),
            ),
            1,
            "EKMS config (reverts to internal wrapping) would be destroyed",
            "warning:",
        ),
        (
            "deposed delete",
            change(
                "aws_kms_key.k",
                "aws_kms_key",
                &["delete"],
                json!({}),
                Value::Null,
                json!({"deposed": "abcd1234"}),
            ),
            1,
            "(deposed object abcd1234)",
            "warning:",
        ),
        (
            "non-key type ignored",
            change(
                "aws_s3_bucket.b",
                "aws_s3_bucket",
                &["delete"],
                json!({}),
                Value::Null,
                json!({}),
            ),
            0,
            "no findings",
            "error",
        ),
        (
            "data source ignored",
            change(
                "data.aws_kms_key.k",
                "aws_kms_key",
                &["read"],
                json!({}),
                json!({}),
                json!({"mode": "data"}),
            ),
            0,
            "no findings",
            "error",
        ),
        (
            "unknown action reason tolerated",
            change(
                "google_kms_crypto_key.k",
                "google_kms_crypto_key",
                &["delete", "create"],
                json!({}),
                json!({}),
                json!({"action_reason": "replace_because_of_the_moon"}),
            ),
            1,
            "would be replaced (destroy, then create)",
            "moon",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, rc, exit, want, not) in cases {
        let plan = plan_file(&dir, vec![rc]);
        let o = keyshift(&["plan-check", &plan]);
        let t = out_text(&o);
        assert_eq!(o.status.code(), Some(exit), "{name}: {t}");
        assert!(t.contains(want), "{name}: missing {want:?}: {t}");
        assert!(!t.contains(not), "{name}: unexpected {not:?}: {t}");
        let j = keyshift(&["plan-check", &plan, "--format", "json"]);
        assert!(
            !String::from_utf8_lossy(&j.stdout).contains("kst-secret-777"),
            "{name}: leaked in JSON"
        );
        assert!(
            !String::from_utf8_lossy(&j.stdout).contains("kst-hidden"),
            "{name}: leaked in JSON"
        );
    }
}

#[test]
fn plan_check_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "truncated",
            "{\"format_version\":\"1.2\",\"resource_changes\":[{\"addr",
            "invalid plan JSON",
        ),
        (
            "format_version 2.0",
            "{\"format_version\":\"2.0\",\"resource_changes\":[]}",
            "unsupported format_version \"2.0\"",
        ),
        ("empty file", "", "file is empty"),
        ("not json", "Plan: 1 to add", "invalid plan JSON"),
    ];
    for (name, content, want) in cases {
        let p = dir.path().join("bad.json");
        std::fs::write(&p, content).unwrap();
        let o = keyshift(&["plan-check", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(want) && !err.contains("panicked"),
            "{name}: {err}"
        );
    }
    let o = keyshift(&["plan-check", "/nonexistent/plan.json"]);
    assert_eq!(o.status.code(), Some(2));
    let o = keyshift(&["plan-check"]);
    assert_eq!(o.status.code(), Some(2), "usage error");
    let o = keyshift(&[
        "rewrite",
        ".",
        "--plan",
        "/nonexistent.json",
        "--attr",
        "nodot",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn version_and_help() {
    for args in [
        &["--version"][..],
        &["--help"],
        &["rewrite", "--help"],
        &["plan-check", "--help"],
    ] {
        let o = keyshift(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(!o.stdout.is_empty());
    }
}

/// Report mode: report object ids are matched to addresses through the
/// state; only migrated objects are written.
#[test]
fn rewrite_from_report_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg");
    std::fs::create_dir(&cfg).unwrap();
    let main = "resource \"keyshift_key\" \"a\" {\n  name = \"a\"\n}\n\nresource \"keyshift_secret\" \"s\" {\n  name = \"s\"\n}\n\nresource \"keyshift_key\" \"failed\" {\n  name = \"f\"\n}\n";
    std::fs::write(cfg.join("main.tf"), main).unwrap();
    let state = json!({"format_version": "1.0", "values": {"root_module": {"resources": [
        {"address": "keyshift_key.a", "mode": "managed", "type": "keyshift_key", "name": "a", "values": {"id": "key-1", "instance_id": null}},
        {"address": "keyshift_secret.s", "mode": "managed", "type": "keyshift_secret", "name": "s", "values": {"id": "sec-1", "instance_id": null}},
        {"address": "keyshift_key.failed", "mode": "managed", "type": "keyshift_key", "name": "failed", "values": {"id": "key-2", "instance_id": null}}
    ]}}});
    let report = json!({"schema_version": 1, "objects": [
        {"id": "key-1", "kind": "key", "source": "shared", "target_instance_id": "kst-a", "outcome": "migrated"},
        {"id": "sec-1", "kind": "secret", "source": "kst-old", "target_instance_id": "kst-b", "outcome": "migrated"},
        {"id": "key-2", "kind": "key", "source": "shared", "target_instance_id": "kst-c", "outcome": "failed"}
    ]});
    let sp = dir.path().join("state.json");
    let rp = dir.path().join("report.json");
    std::fs::write(&sp, state.to_string()).unwrap();
    std::fs::write(&rp, report.to_string()).unwrap();
    let args = [
        "rewrite",
        cfg.to_str().unwrap(),
        "--report",
        rp.to_str().unwrap(),
        "--state",
        sp.to_str().unwrap(),
    ];
    let o = keyshift(&args);
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    assert!(out_text(&o).contains("skipped: object key-2: report outcome is failed"));
    let got = std::fs::read_to_string(cfg.join("main.tf")).unwrap();
    let want = main
        .replace(
            "name = \"a\"\n",
            "name = \"a\"\n\n  instance_id = \"kst-a\"\n",
        )
        .replace(
            "name = \"s\"\n",
            "name = \"s\"\n\n  instance_id = \"kst-b\"\n",
        );
    assert_eq!(got, want);
    let again = keyshift(&args);
    assert!(out_text(&again).contains("no edits needed"));
    assert_eq!(std::fs::read_to_string(cfg.join("main.tf")).unwrap(), want);

    std::fs::write(&rp, json!({"schema_version": 2, "objects": []}).to_string()).unwrap();
    assert_eq!(keyshift(&args).status.code(), Some(2));
}

/// Bulk mode writes the attribute only into types that carry it (presets,
/// `--attr`, or `--attr '*.ATTR'`), leaves every other block and file
/// byte-identical, is in `--help`, and refuses an attribute no type has.
#[test]
fn rewrite_insert_everywhere_only_into_types_that_carry_the_attribute() {
    let key_tf = "resource \"keyshift_key\" \"k\" {\n  description = \"k\"\n}\n";
    let other_tf = "resource \"keyshift_alias\" \"a\" {\n  name   = \"alias/a\"\n  key_id = \"key-1\"\n}\n\nresource \"keyshift_kms_instance\" \"i\" {\n  name = \"i\"\n}\n";
    let line = "instance_id = \"kst-0123456789ab\"";
    // name, extra args, blocks edited in other.tf (key.tf is always edited)
    let cases: &[(&str, &[&str], usize)] = &[
        ("preset types only", &[], 0),
        (
            "--attr adds a type",
            &["--attr", "keyshift_alias.instance_id"],
            1,
        ),
        (
            "--attr '*.ATTR': every type",
            &["--attr", "*.instance_id"],
            2,
        ),
    ];
    for (name, extra, other_edits) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.tf"), key_tf).unwrap();
        std::fs::write(dir.path().join("other.tf"), other_tf).unwrap();
        let mut args = vec![
            "rewrite",
            dir.path().to_str().unwrap(),
            "--insert-everywhere",
            "instance_id=\"kst-0123456789ab\"",
        ];
        args.extend_from_slice(extra);
        let o = keyshift(&args);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", out_text(&o));
        let key_now = std::fs::read_to_string(dir.path().join("key.tf")).unwrap();
        let other_now = std::fs::read_to_string(dir.path().join("other.tf")).unwrap();
        assert_eq!(key_now.matches(line).count(), 1, "{name}: {key_now}");
        assert_eq!(
            other_now.matches(line).count(),
            *other_edits,
            "{name}: {other_now}"
        );
        if *other_edits == 0 {
            assert_eq!(
                other_now, other_tf,
                "{name}: untouched file not byte-identical"
            );
        }
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.tf"), other_tf).unwrap();
    let o = keyshift(&[
        "rewrite",
        dir.path().to_str().unwrap(),
        "--insert-everywhere",
        "placement=\"x\"",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out_text(&o));
    let text = out_text(&o);
    assert!(
        text.contains("no resource type is known to have `placement`"),
        "{text}"
    );
    assert!(text.contains("keyshift_key.instance_id"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("other.tf")).unwrap(),
        other_tf
    );

    let help = out_text(&keyshift(&["rewrite", "--help"]));
    assert!(help.contains("--insert-everywhere"), "{help}");
}
