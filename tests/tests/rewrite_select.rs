//! Migration as code with the real terraform and the keyshift provider:
//! `keyshift rewrite --select … --set instance_id=… --state … --verify`
//! writes the target placement of one for_each instance before any
//! migration; the plan shows exactly one in-place update (verified by the
//! tool, which says what it verified, and asserted here on the plan JSON),
//! the apply migrates the key, and the next plan is clean. A plan that fails
//! inside `--verify` rolls the edit back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};

#[test]
fn select_set_plans_an_in_place_migration_of_only_the_selected_instance() {
    let tf = Tf::new();
    tf.write_main(
        r#"resource "keyshift_kms_instance" "a" {
  name = "team-a"
}

resource "keyshift_kms_instance" "b" {
  name = "team-b"
}

resource "keyshift_key" "app" {
  for_each    = toset(["orders", "billing"])
  description = each.key
  instance_id = keyshift_kms_instance.a.id
}
"#,
    );
    tf.apply();
    let kst_b = tf.resource("keyshift_kms_instance.b")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let orders_id = tf.resource(r#"keyshift_key.app["orders"]"#)["id"].clone();
    std::fs::write(tf.path().join("state.json"), tf.state_json().to_string()).unwrap();

    let set = format!("instance_id={kst_b}");
    let run = tf.keyshift(&[
        "rewrite",
        ".",
        "--select",
        r#"keyshift_key.app["orders"]"#,
        "--set",
        &set,
        "--state",
        "state.json",
        "--verify",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains(
            "verify: terraform plan has only the intended changes: 1 in-place update(s) of \
             instance_id, 0 to add, 0 to replace, 0 to destroy"
        ),
        "{}",
        run.all()
    );
    let main = std::fs::read_to_string(tf.path().join("main.tf")).unwrap();
    assert!(
        main.contains(&format!("\"orders\" = \"{kst_b}\"")),
        "{main}"
    );
    // Again, as JSON: nothing left to write, the same plan verified.
    let again = tf.keyshift(&[
        "rewrite",
        ".",
        "--select",
        r#"keyshift_key.app["orders"]"#,
        "--set",
        &set,
        "--state",
        "state.json",
        "--verify",
        "--format",
        "json",
    ]);
    assert_eq!(again.code, 0, "{}", again.all());
    let summary: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(summary["verified"], true, "{summary}");
    assert_eq!(summary["planned_updates"], 1, "{summary}");

    let plan = tf.plan_json();
    assert_eq!(
        planned_actions(&plan, r#"keyshift_key.app["orders"]"#),
        ["update"]
    );
    for other in [
        r#"keyshift_key.app["billing"]"#,
        "keyshift_kms_instance.a",
        "keyshift_kms_instance.b",
    ] {
        assert_eq!(planned_actions(&plan, other), ["no-op"], "{other}");
    }

    tf.apply();
    let orders = tf.resource(r#"keyshift_key.app["orders"]"#);
    assert_eq!(orders["instance_id"], kst_b.as_str());
    assert_eq!(orders["id"], orders_id, "the key keeps its id");
    tf.assert_clean_plan();
}

/// When `terraform plan` fails inside `--verify` (here: the placement names
/// an instance that does not exist), the edit is rolled back: every file
/// is byte-identical to before, and the run is an error (exit 2).
#[test]
fn a_plan_error_inside_verify_rolls_the_edit_back() {
    let tf = Tf::new();
    tf.write_main(
        r#"resource "keyshift_kms_instance" "a" {
  name = "team-a"
}

resource "keyshift_key" "app" {
  description = "app"
  instance_id = keyshift_kms_instance.a.id
}
"#,
    );
    tf.apply();
    let before = std::fs::read(tf.path().join("main.tf")).unwrap();
    let run = tf.keyshift(&[
        "rewrite",
        ".",
        "--select",
        "keyshift_key.app",
        "--set",
        "instance_id=kst-000000000000",
        "--verify",
    ]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("--verify could not run terraform plan, so the edits were rolled back; no file was changed"),
        "{}",
        run.all()
    );
    assert_eq!(
        std::fs::read(tf.path().join("main.tf")).unwrap(),
        before,
        "main.tf is byte-identical to before the run"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tf.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".keyshift-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    tf.assert_clean_plan();
}
