//! `keyshift rewrite` on plans made by real Terraform (built-in
//! `terraform_data` only, no network): migration attributes restored from
//! a plan (and `--verify`), a local module edited in its own files, and the
//! two-phase `--prepare` / `--finalize` flow. `terraform_data.triggers_replace`
//! forces replacement and is not computed, like
//! `alicloud_kms_secret.dkms_instance_id`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Run, Tf};
use serde_json::Value;

const APPLIED: &str = r#"resource "terraform_data" "single" {
  input = "kst-1"
}

resource "terraform_data" "counted" {
  count = 3
  input = count.index == 1 ? "kst-shared" : "kst-${count.index}"
}

resource "terraform_data" "keyed" {
  for_each = toset(["db", "web"])
  input    = "kst-${each.key}"
}

resource "terraform_data" "replaced" {
  triggers_replace = "kst-9"

  lifecycle {
    create_before_destroy = true
  }
}
"#;

/// `terraform init` + `apply` of what is in the directory.
fn init_apply(tf: &Tf) {
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    tf.apply();
}

/// Migration attributes removed from the config give update and replace
/// plans; `rewrite --plan ... --verify` restores them and the plan is clean.
#[test]
fn rewrite_from_real_plan_makes_plan_clean() {
    let tf = Tf::new();
    tf.write("main.tf", APPLIED);
    init_apply(&tf);
    let stripped = "# attributes removed\nresource \"terraform_data\" \"single\" {}\n\n\
        resource \"terraform_data\" \"counted\" {\n  count = 3\n}\n\n\
        resource \"terraform_data\" \"keyed\" {\n  for_each = toset([\"db\", \"web\"])\n}\n\n\
        resource \"terraform_data\" \"replaced\" {\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n";
    tf.write("main.tf", stripped);
    assert_eq!(tf.plan_code().code, 2, "plan should show changes");
    let plan = tf.save_plan_json("plan.json");
    let dir = tf.path().to_str().unwrap();
    let args = [
        "rewrite",
        dir,
        "--plan",
        plan.to_str().unwrap(),
        "--attr",
        "terraform_data.input",
        "--attr",
        "terraform_data.triggers_replace",
    ];
    let check = tf.keyshift(&[&args[..], &["--check"]].concat());
    assert_eq!(check.code, 1, "{}", check.all());
    assert_eq!(tf.read("main.tf"), stripped, "--check must not write");

    let out = tf.keyshift(&[&args[..], &["--verify"]].concat());
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("verify: terraform plan is clean"),
        "{}",
        out.all()
    );
    let main = tf.read("main.tf");
    for want in [
        "resource \"terraform_data\" \"single\" {\n  input = \"kst-1\"\n}",
        "input = [\"kst-0\", \"kst-shared\", \"kst-2\"][count.index]",
        "input    = { \"db\" = \"kst-db\", \"web\" = \"kst-web\" }[each.key]",
        "triggers_replace = \"kst-9\"\n  lifecycle",
        "# attributes removed\n",
    ] {
        assert!(main.contains(want), "missing {want:?} in:\n{main}");
    }
    tf.assert_clean_plan();
    assert_eq!(tf.run(&["fmt", "-check"]).code, 0, "not fmt-clean:\n{main}");
    // Second run with the same (now stale) plan: nothing to do.
    let again = tf.keyshift(&args);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(tf.read("main.tf"), main);
}

/// A local module called once is edited in the module's own files.
#[test]
fn rewrite_module_called_once() {
    let tf = Tf::new();
    let root = "module \"kms\" {\n  source = \"./modules/kms\"\n}\n";
    tf.write("main.tf", root);
    tf.write(
        "modules/kms/main.tf",
        "resource \"terraform_data\" \"this\" {\n  input = \"kst-m\"\n}\n",
    );
    init_apply(&tf);
    tf.write(
        "modules/kms/main.tf",
        "resource \"terraform_data\" \"this\" {\n}\n",
    );
    let plan = tf.save_plan_json("plan.json");
    let out = tf.keyshift(&[
        "rewrite",
        tf.path().to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--attr",
        "terraform_data.input",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        tf.read("modules/kms/main.tf"),
        "resource \"terraform_data\" \"this\" {\n  input = \"kst-m\"\n}\n"
    );
    assert_eq!(tf.read("main.tf"), root);
    tf.assert_clean_plan();
}

const ORIGINAL: &str = "resource \"terraform_data\" \"secret\" {\n  input = \"db\"\n}\n";
const ATTR: &[&str] = &[
    "--attr",
    "terraform_data.triggers_replace",
    "--key-type",
    "terraform_data",
];

/// What a refresh shows after the placement moved elsewhere: the
/// out-of-band migration is simulated by changing it in the state.
fn migrate_in_state(tf: &Tf, value: &str) {
    let path = tf.path().join("terraform.tfstate");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["serial"] = (state["serial"].as_u64().unwrap() + 1).into();
    state["resources"][0]["instances"][0]["attributes"]["triggers_replace"] =
        serde_json::json!({"value": value, "type": "string"});
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
}

/// `keyshift ARGS EXTRA`.
fn keyshift(tf: &Tf, args: &[&str], extra: &[&str]) -> Run {
    tf.keyshift(&[args, extra].concat())
}

#[test]
fn prepare_migrate_finalize_with_real_terraform() {
    let tf = Tf::new();
    let d = tf.path().to_str().unwrap();
    tf.write("main.tf", ORIGINAL);
    init_apply(&tf);

    // Phase 1, before the migration.
    let out = keyshift(
        &tf,
        &[
            "rewrite",
            d,
            "--prepare",
            "--select",
            "terraform_data.secret",
        ],
        &ATTR[..2],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(tf.plan_code().code, 0, "prepare alone changes no resource");
    migrate_in_state(&tf, "kst-new");
    assert_eq!(tf.plan_code().code, 0, "the migrated placement is ignored");
    let prepared_plan = tf.save_plan_json("prepared.json");
    let prepared = prepared_plan.to_str().unwrap();
    let out = keyshift(&tf, &["plan-check", prepared, "--config", d], ATTR);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all()
            .contains("warning: terraform_data.secret: prepared for a migration but not finalized"),
        "{}",
        out.all()
    );

    // Phase 2, after it.
    let out = keyshift(
        &tf,
        &["rewrite", d, "--finalize", "--plan", prepared],
        &ATTR[..2],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        tf.read("main.tf"),
        "resource \"terraform_data\" \"secret\" {\n  input = \"db\"\n\n  triggers_replace = \"kst-new\"\n}\n"
    );
    assert_eq!(tf.plan_code().code, 0, "finalized plan is clean");
    assert_eq!(tf.run(&["fmt", "-check"]).code, 0);

    // Without the two phases, the omitted placement replaces the object,
    // and plan-check says how to fix it.
    tf.write("main.tf", ORIGINAL);
    let replace_plan = tf.save_plan_json("replace.json");
    let out = keyshift(&tf, &["plan-check", replace_plan.to_str().unwrap()], ATTR);
    assert_eq!(out.code, 1, "{}", out.all());
    let all = out.all();
    assert!(
        all.contains("key-bearing resource would be replaced")
            && all.contains("the only change is triggers_replace going from a value to null")
            && all.contains("`keyshift rewrite DIR --plan PLAN.json`"),
        "{all}"
    );
}
