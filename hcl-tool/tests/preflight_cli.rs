//! `keyshift preflight` against the real binary: sides from
//! `terraform show -json` states (every preflight table row and the legacy rule)
//! and from key stores without EKMS; input errors exit 2.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use keyshift_core::engine::Kms;
use keyshift_core::store::{InstanceType, NewInstance};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

const ARN_A: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ARN_B: &str = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const MRK_EAST: &str =
    "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const MRK_WEST: &str =
    "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const SRC: &str = "kst-00000000000a";
const DST: &str = "kst-00000000000b";

fn keyshift(args: &[&str]) -> Output {
    Command::cargo_bin("keyshift")
        .unwrap()
        .env_remove("KEYSHIFT_STORE")
        .env_remove("KEYSHIFT_LEGACY_SUPPORT")
        .env_remove("KEYSHIFT_AWS_ENDPOINT")
        .args(args)
        .output()
        .unwrap()
}

/// A `keyshift_ekms_config` resource as `terraform show -json` prints it.
fn ekms(instance: Option<&str>, arn: &str, wrapping: &str, status: &str, arch: &str) -> Value {
    json!({
        "address": "keyshift_ekms_config.this", "mode": "managed",
        "type": "keyshift_ekms_config", "name": "this",
        "provider_name": "registry.terraform.io/keyshift/keyshift",
        "values": {
            "id": instance.unwrap_or("shared"), "instance_id": instance,
            "aws_kms_key_arn": arn, "wrapping_strategy": wrapping, "architecture": arch,
            "allow_revert_to_internal": false, "key_status": status,
            "aws_key_state": "Enabled", "checked_at": "2025-01-01T00:00:00Z", "remediation": ""
        }
    })
}

/// A state file; configs go into a child module to exercise the walk.
fn state(dir: &Path, name: &str, configs: Vec<Value>) -> PathBuf {
    let p = dir.join(name);
    let doc = json!({
        "format_version": "1.0", "terraform_version": "1.9.0",
        "values": {"root_module": {
            "resources": [{"address": "keyshift_kms_instance.x", "mode": "managed",
                           "type": "keyshift_kms_instance", "name": "x",
                           "values": {"id": SRC}}],
            "child_modules": [{"address": "module.kms", "resources": configs}]
        }}
    });
    std::fs::write(&p, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    p
}

struct Case {
    name: &'static str,
    source: Vec<Value>,
    target: Vec<Value>,
    extra: &'static [&'static str],
    row: u64,
    supported: bool,
    text: &'static str,
}

fn run_case(dir: &Path, c: &Case) {
    let s = state(dir, &format!("{}-src.json", c.name), c.source.clone());
    let t = state(dir, &format!("{}-dst.json", c.name), c.target.clone());
    let (s, t) = (s.to_str().unwrap(), t.to_str().unwrap());
    let base = [
        "preflight",
        "--operation",
        "clone",
        "--source",
        SRC,
        "--target",
        DST,
        "--source-state",
        s,
        "--target-state",
        t,
    ];
    let mut args: Vec<&str> = base.to_vec();
    args.extend_from_slice(c.extra);
    args.extend_from_slice(&["--format", "json"]);
    let o = keyshift(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(if c.supported { 0 } else { 1 }),
        "{}: {err}",
        c.name
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1, "{}", c.name);
    assert_eq!(v["row"], c.row, "{}: {v:#}", c.name);
    assert_eq!(v["supported"], c.supported, "{}", c.name);
    assert_eq!(
        v["result"],
        if c.supported { "supported" } else { "blocked" }
    );
    assert_eq!(v["operation"], "clone");
    let reason = v["reason"].as_str().unwrap();
    let remediation = v["remediation"].as_str().unwrap();
    assert!(
        reason.contains(c.text) || remediation.contains(c.text),
        "{}: {v:#}",
        c.name
    );
    if c.supported {
        assert_eq!(remediation, "", "{}", c.name);
    } else {
        assert!(!remediation.is_empty(), "{}", c.name);
        let kb = (9..=13).contains(&c.row);
        assert_eq!(
            v["reference"].as_str() == Some("KB2540187"),
            kb,
            "{}: {v:#}",
            c.name
        );
    }
    // Text output carries the same verdict.
    let mut text_args: Vec<&str> = base.to_vec();
    text_args.extend_from_slice(c.extra);
    let o = keyshift(&text_args);
    let out = String::from_utf8_lossy(&o.stdout);
    let row = if c.row == 0 {
        "legacy rule".to_string()
    } else {
        format!("row {}", c.row)
    };
    let head = format!(
        "preflight clone {SRC} -> {DST}: {} ({row})",
        if c.supported { "supported" } else { "blocked" }
    );
    assert!(out.starts_with(&head), "{}: {out}", c.name);
    assert!(out.contains("reason: "), "{out}");
    if !c.supported {
        assert!(
            out.contains("remediation: ") && out.contains("reference: "),
            "{out}"
        );
    }
}

#[test]
fn every_table_row_and_the_legacy_rule_from_states() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = |i: &str, arn: &str| ekms(Some(i), arn, "external", "ACTIVE", "current");
    #[rustfmt::skip]
    let cases = vec![
        Case { name: "row1", source: vec![], target: vec![], extra: &[], row: 1, supported: true, text: "no EKMS" },
        Case { name: "row2", source: vec![cfg(SRC, ARN_A)], target: vec![], extra: &[], row: 2, supported: true, text: ARN_A },
        Case { name: "row3", source: vec![cfg(SRC, ARN_A)], target: vec![], extra: &["--target-unsupported"], row: 3, supported: true, text: "cannot carry EKMS" },
        Case { name: "row4", source: vec![], target: vec![], extra: &["--source-unsupported"], row: 4, supported: true, text: "unsupported source" },
        Case { name: "row5", source: vec![], target: vec![], extra: &["--target-unsupported"], row: 5, supported: true, text: "unsupported target" },
        Case { name: "row6", source: vec![cfg(SRC, ARN_A)], target: vec![cfg(DST, ARN_A)], extra: &[], row: 6, supported: true, text: "matching" },
        Case { name: "row7", source: vec![cfg(SRC, MRK_EAST)], target: vec![cfg(DST, MRK_WEST)], extra: &[], row: 7, supported: true, text: "multi-Region" },
        Case { name: "row8", source: vec![ekms(Some(SRC), ARN_A, "external", "DISABLED", "current")], target: vec![cfg(DST, ARN_A)], extra: &[], row: 8, supported: false, text: "Enable the key again" },
        Case { name: "row8-target", source: vec![cfg(SRC, ARN_A)], target: vec![ekms(Some(DST), ARN_A, "external", "PENDING_DELETION", "current")], extra: &[], row: 8, supported: false, text: "Cancel the scheduled deletion" },
        Case { name: "row9", source: vec![cfg(SRC, ARN_A)], target: vec![cfg(DST, ARN_B)], extra: &[], row: 9, supported: false, text: "different keys" },
        Case { name: "row10", source: vec![ekms(Some(SRC), ARN_A, "internal", "ACTIVE", "current")], target: vec![cfg(DST, ARN_A)], extra: &[], row: 10, supported: false, text: "Switch the source to external wrapping" },
        Case { name: "row11", source: vec![cfg(SRC, ARN_A)], target: vec![ekms(Some(DST), ARN_A, "internal", "ACTIVE", "current")], extra: &[], row: 11, supported: false, text: "Switch the target to external wrapping" },
        Case { name: "row12", source: vec![], target: vec![cfg(DST, ARN_A)], extra: &[], row: 12, supported: false, text: "Activate EKMS on the source first" },
        Case { name: "row13", source: vec![], target: vec![cfg(DST, ARN_A)], extra: &["--source-unsupported"], row: 13, supported: false, text: "cannot carry EKMS" },
        Case { name: "legacy-off", source: vec![ekms(Some(SRC), ARN_A, "external", "ACTIVE", "legacy")], target: vec![cfg(DST, ARN_A)], extra: &[], row: 0, supported: false, text: "legacy support" },
        Case { name: "legacy-on", source: vec![ekms(Some(SRC), ARN_A, "external", "ACTIVE", "legacy")], target: vec![cfg(DST, ARN_A)], extra: &["--legacy-support"], row: 6, supported: true, text: "matching" },
        Case { name: "legacy-on-table-still-applies", source: vec![ekms(Some(SRC), ARN_A, "external", "ACTIVE", "legacy")], target: vec![ekms(Some(DST), ARN_B, "external", "ACTIVE", "legacy")], extra: &["--legacy-support"], row: 9, supported: false, text: "different keys" },
        // A configuration of another container in the same state is ignored.
        Case { name: "other-container", source: vec![cfg(DST, ARN_A)], target: vec![cfg(SRC, ARN_B)], extra: &[], row: 1, supported: true, text: "no EKMS" },
    ];
    for c in &cases {
        run_case(dir.path(), c);
    }
}

#[test]
fn shared_container_and_legacy_env() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(
        dir.path(),
        "s.json",
        vec![ekms(None, ARN_A, "external", "ACTIVE", "legacy")],
    );
    let t = state(
        dir.path(),
        "t.json",
        vec![ekms(Some(DST), ARN_A, "external", "ACTIVE", "current")],
    );
    let args = [
        "preflight",
        "--operation",
        "move",
        "--source",
        "shared",
        "--target",
        DST,
        "--source-state",
        s.to_str().unwrap(),
        "--target-state",
        t.to_str().unwrap(),
    ];
    let o = keyshift(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("(legacy rule)"));
    // KEYSHIFT_LEGACY_SUPPORT reads booleans as the provider does.
    let cases = [
        ("true", 0, "supported (row 6)"),
        ("1", 0, "supported (row 6)"),
        ("TRUE", 0, "supported (row 6)"),
        ("false", 1, "(legacy rule)"),
        ("0", 1, "(legacy rule)"),
        ("yes", 2, "\"yes\" is not a boolean (true, false, 1 or 0)"),
    ];
    for (value, want, says) in cases {
        let o = Command::cargo_bin("keyshift")
            .unwrap()
            .env("KEYSHIFT_LEGACY_SUPPORT", value)
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(want), "{value}: {all}");
        assert!(all.contains(says), "{value}: {all}");
    }
}

#[test]
fn bad_state_inputs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = state(dir.path(), "good.json", vec![]);
    let no_status = state(
        dir.path(),
        "nostatus.json",
        vec![{
            let mut r = ekms(Some(SRC), ARN_A, "external", "ACTIVE", "current");
            r["values"]["key_status"] = Value::Null;
            r
        }],
    );
    let bad_status = state(
        dir.path(),
        "badstatus.json",
        vec![ekms(Some(SRC), ARN_A, "external", "active", "current")],
    );
    let twice = state(
        dir.path(),
        "twice.json",
        vec![
            ekms(Some(SRC), ARN_A, "external", "ACTIVE", "current"),
            ekms(Some(SRC), ARN_B, "external", "ACTIVE", "current"),
        ],
    );
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, r#"{"format_version":"1.0","values":{"root_mod"#).unwrap();
    let wrong_version = dir.path().join("v2.json");
    std::fs::write(&wrong_version, r#"{"format_version":"2.0"}"#).unwrap();
    let configured = state(
        dir.path(),
        "configured.json",
        vec![ekms(Some(SRC), ARN_A, "external", "ACTIVE", "current")],
    );
    let cases: Vec<(PathBuf, &[&str], &str)> = vec![
        (no_status, &[], "run `terraform refresh`"),
        (bad_status, &[], "unknown key status"),
        (twice, &[], "expected at most one"),
        (truncated, &[], "invalid state JSON"),
        (wrong_version, &[], "unsupported format_version"),
        (dir.path().join("absent.json"), &[], "cannot read"),
        (
            configured,
            &["--source-unsupported"],
            "cannot be declared unsupported",
        ),
    ];
    for (src, extra, want) in cases {
        let mut args = vec![
            "preflight",
            "--operation",
            "copy",
            "--source",
            SRC,
            "--target",
            DST,
            "--source-state",
            src.to_str().unwrap(),
            "--target-state",
            good.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = keyshift(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", src.display());
        assert!(
            err.contains(want),
            "{}: want {want:?} in {err}",
            src.display()
        );
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn sides_from_key_stores_without_ekms() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let kms = Kms::open(&a, "test").unwrap();
    let inst = kms
        .create_instance(NewInstance {
            name: "one".into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: 5,
            secret_quota: 5,
        })
        .unwrap();
    Kms::open(&b, "test").unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o = keyshift(&[
        "--store",
        a,
        "preflight",
        "--operation",
        "toggle",
        "--source",
        "shared",
        "--target",
        &inst.id,
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["row"].as_u64(), v["source"]["kind"].as_str()),
        (Some(1), Some("not_configured"))
    );
    assert_eq!(v["target"]["from"], format!("store:{a}"));

    // Target in another store, declared unsupported there: row 5.
    let o = keyshift(&[
        "preflight",
        "--store",
        a,
        "--target-store",
        b,
        "--operation",
        "backup_restore",
        "--source",
        "shared",
        "--target",
        "shared",
        "--target-unsupported",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("supported (row 5)"));

    // The instance does not exist in store b: input error naming it.
    let o = keyshift(&[
        "preflight",
        "--store",
        a,
        "--target-store",
        b,
        "--operation",
        "clone",
        "--source",
        "shared",
        "--target",
        &inst.id,
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&inst.id) && err.contains("not found"), "{err}");

    // A missing store is an input error and is not created.
    let missing = dir.path().join("missing");
    let o = keyshift(&[
        "preflight",
        "--store",
        missing.to_str().unwrap(),
        "--operation",
        "clone",
        "--source",
        "shared",
        "--target",
        "shared",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!missing.exists());
}
