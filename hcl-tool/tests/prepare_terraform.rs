//! The two-phase flow with real Terraform: `terraform_data.triggers_replace`
//! forces replacement and is not computed, like
//! `alicloud_kms_secret.dkms_instance_id`. The out-of-band migration is
//! simulated by changing the placement in the state, as a refresh after a
//! migration done elsewhere would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const TERRAFORM: &str = "/usr/local/bin/terraform";
const ORIGINAL: &str = "resource \"terraform_data\" \"secret\" {\n  input = \"db\"\n}\n";
const ATTR: &[&str] = &[
    "--attr",
    "terraform_data.triggers_replace",
    "--key-type",
    "terraform_data",
];

fn tf(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(TERRAFORM)
        .args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = tf(dir, args);
    assert!(
        out.status.success(),
        "terraform {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn plan_exit(dir: &Path) -> Option<i32> {
    tf(
        dir,
        &["plan", "-detailed-exitcode", "-input=false", "-no-color"],
    )
    .status
    .code()
}

fn plan_json(dir: &Path) -> String {
    ok(dir, &["plan", "-out=p.tfplan", "-input=false", "-no-color"]);
    let out = ok(dir, &["show", "-json", "p.tfplan"]);
    let path = dir.join("plan.json");
    std::fs::write(&path, &out.stdout).unwrap();
    path.display().to_string()
}

fn keyshift(args: &[&str], extra: &[&str]) -> (i32, String) {
    let o = Command::cargo_bin("keyshift")
        .unwrap()
        .args(args)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

/// What a refresh shows after the placement moved elsewhere.
fn migrate_in_state(dir: &Path, value: &str) {
    let path = dir.join("terraform.tfstate");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["serial"] = (state["serial"].as_u64().unwrap() + 1).into();
    state["resources"][0]["instances"][0]["attributes"]["triggers_replace"] =
        serde_json::json!({"value": value, "type": "string"});
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
}

#[test]
fn prepare_migrate_finalize_with_real_terraform() {
    if !Path::new(TERRAFORM).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{TERRAFORM} is missing (CI=true)"
        );
        eprintln!("notice: {TERRAFORM} absent; skipping");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = dir.to_str().unwrap();
    std::fs::write(dir.join("main.tf"), ORIGINAL).unwrap();
    ok(dir, &["init", "-input=false", "-no-color"]);
    ok(
        dir,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );

    // Phase 1, before the migration.
    let (code, out) = keyshift(
        &[
            "rewrite",
            d,
            "--prepare",
            "--select",
            "terraform_data.secret",
        ],
        &ATTR[..2],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(plan_exit(dir), Some(0), "prepare alone changes no resource");
    migrate_in_state(dir, "kst-new");
    assert_eq!(plan_exit(dir), Some(0), "the migrated placement is ignored");
    let prepared_plan = plan_json(dir);
    let (code, out) = keyshift(&["plan-check", &prepared_plan, "--config", d], ATTR);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning: terraform_data.secret: prepared for a migration but not finalized"),
        "{out}"
    );

    // Phase 2, after it.
    let (code, out) = keyshift(
        &["rewrite", d, "--finalize", "--plan", &prepared_plan],
        &ATTR[..2],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("main.tf")).unwrap(),
        "resource \"terraform_data\" \"secret\" {\n  input = \"db\"\n\n  triggers_replace = \"kst-new\"\n}\n"
    );
    assert_eq!(plan_exit(dir), Some(0), "finalized plan is clean");
    assert!(tf(dir, &["fmt", "-check"]).status.success());

    // Without the two phases, the omitted placement replaces the object,
    // and plan-check says how to fix it.
    std::fs::write(dir.join("main.tf"), ORIGINAL).unwrap();
    let replace_plan = plan_json(dir);
    let (code, out) = keyshift(&["plan-check", &replace_plan], ATTR);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("key-bearing resource would be replaced")
            && out.contains("the only change is triggers_replace going from a value to null")
            && out.contains("`keyshift rewrite DIR --plan PLAN.json`"),
        "{out}"
    );
}
