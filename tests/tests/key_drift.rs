//! Drift on `keyshift_key` is corrected by a plain plan: `enabled`,
//! `deletion_protection` and `deletion_window_in_days` have defaults
//! (true, false, 30) that a plan restores when configuration omits them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};

const KEY: &str = "resource \"keyshift_key\" \"k\" {\n  description = \"app\"\n}\n";

#[test]
fn key_disabled_out_of_band_is_re_enabled_by_a_plain_plan() {
    let tf = Tf::new();
    tf.write_main(KEY);
    tf.apply();
    let key = tf.resource("keyshift_key.k");
    let id = key["id"].as_str().unwrap().to_string();
    assert_eq!(
        (
            &key["enabled"],
            &key["deletion_protection"],
            &key["deletion_window_in_days"],
            &key["deletion_date"]
        ),
        (
            &true.into(),
            &false.into(),
            &30.into(),
            &serde_json::Value::Null
        )
    );
    tf.assert_clean_plan();

    let store = tf.store();
    let off = tf.keyshift(&["--store", store.to_str().unwrap(), "key", "disable", &id]);
    assert_eq!(
        (off.code, off.stdout.as_str()),
        (0, format!("key {id} is Disabled\n").as_str()),
        "{}",
        off.all()
    );

    let plan = tf.plan_code();
    assert_eq!(
        plan.code,
        2,
        "drift must show in a plain plan:\n{}",
        plan.all()
    );
    assert!(
        plan.stdout.contains("~ enabled ") && plan.flat().contains("enabled = false -> true"),
        "{}",
        plan.stdout
    );
    tf.apply();
    let key = tf.resource("keyshift_key.k");
    assert_eq!(
        (&key["enabled"], &key["state"]),
        (&true.into(), &"Enabled".into())
    );
    tf.assert_clean_plan();
}

#[test]
fn values_set_then_removed_from_config_go_back_to_the_defaults() {
    let tf = Tf::new();
    tf.write_main(&KEY.replace(
        "}\n",
        "  enabled                 = false\n  deletion_protection     = true\n  deletion_window_in_days = 7\n}\n",
    ));
    tf.apply();
    tf.assert_clean_plan();
    tf.write_main(KEY);
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.k"), ["update"]);
    let after = &plan["resource_changes"][0]["change"]["after"];
    assert_eq!(
        (
            &after["enabled"],
            &after["deletion_protection"],
            &after["deletion_window_in_days"],
            &after["state"]
        ),
        (&true.into(), &false.into(), &30.into(), &"Enabled".into()),
        "{after}"
    );
    tf.apply();
    let key = tf.resource("keyshift_key.k");
    assert_eq!(
        (
            &key["enabled"],
            &key["deletion_protection"],
            &key["deletion_window_in_days"]
        ),
        (&true.into(), &false.into(), &30.into())
    );
    tf.assert_clean_plan();
    tf.destroy().ok();
}
