//! Migration as code with the real terraform and the keyshift provider:
//! `keyshift rewrite --select … --set instance_id=… --state … --verify`
//! writes the target placement of one for_each instance before any
//! migration; the plan shows exactly one in-place update (verified by the
//! tool and asserted here on the plan JSON), the apply migrates the key, and
//! the next plan is clean.
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
    let main = std::fs::read_to_string(tf.path().join("main.tf")).unwrap();
    assert!(
        main.contains(&format!("\"orders\" = \"{kst_b}\"")),
        "{main}"
    );

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
