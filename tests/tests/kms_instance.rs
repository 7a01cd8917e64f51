//! `keyshift_kms_instance` end to end through the real terraform CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};

fn instance(extra: &str) -> String {
    format!(
        "resource \"keyshift_kms_instance\" \"a\" {{\n  name      = \"payments\"\n  key_quota = 10\n{extra}}}\n"
    )
}

#[test]
fn lifecycle_create_update_import_destroy() {
    let tf = Tf::new();
    tf.write_main(&instance(""));
    tf.apply();
    let created = tf.resource("keyshift_kms_instance.a");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("kst-") && id.len() == 16, "{id}");
    assert_eq!(created["status"], "active");
    assert_eq!(created["type"], "software");
    assert_eq!(created["region"], "local-1");
    assert_eq!(created["key_quota"], 10);
    assert_eq!(created["secret_quota"], 100);
    tf.assert_clean_plan();

    // Quota change: in-place update.
    tf.write_main(&instance("  secret_quota = 5\n"));
    assert_eq!(
        planned_actions(&tf.plan_json(), "keyshift_kms_instance.a"),
        ["update"]
    );
    tf.apply();
    let updated = tf.resource("keyshift_kms_instance.a");
    assert_eq!(updated["secret_quota"], 5);
    assert_eq!(updated["id"], id.as_str());

    // Name change: replacement.
    tf.write_main(&instance("  secret_quota = 5\n").replace("payments", "payments-2"));
    assert_eq!(
        planned_actions(&tf.plan_json(), "keyshift_kms_instance.a"),
        ["delete", "create"]
    );
    tf.write_main(&instance("  secret_quota = 5\n"));

    // terraform import reproduces the state.
    tf.forget_state();
    tf.run(&["import", "keyshift_kms_instance.a", &id]).ok();
    assert_eq!(tf.resource("keyshift_kms_instance.a"), updated);
    tf.assert_clean_plan();

    // So does an import {} block.
    tf.forget_state();
    tf.write(
        "import.tf",
        &format!("import {{\n  to = keyshift_kms_instance.a\n  id = \"{id}\"\n}}\n"),
    );
    tf.apply();
    assert_eq!(tf.resource("keyshift_kms_instance.a"), updated);
    tf.assert_clean_plan();
    std::fs::remove_file(tf.path().join("import.tf")).unwrap();

    // refresh keeps the state as it is.
    tf.run(&["refresh"]).ok();
    assert_eq!(tf.resource("keyshift_kms_instance.a"), updated);

    // The data source finds it by name and by id.
    tf.write(
        "data.tf",
        &format!(
            "data \"keyshift_kms_instance\" \"by_name\" {{\n  name = \"payments\"\n}}\n\ndata \"keyshift_kms_instance\" \"by_id\" {{\n  id = \"{id}\"\n}}\n\noutput \"found\" {{\n  value = [data.keyshift_kms_instance.by_name.id, data.keyshift_kms_instance.by_id.name, tostring(data.keyshift_kms_instance.by_id.secret_quota)]\n}}\n"
        ),
    );
    tf.apply();
    let found = tf.run(&["output", "-json", "found"]).ok();
    let found: serde_json::Value = serde_json::from_str(&found.stdout).unwrap();
    assert_eq!(found, serde_json::json!([id, "payments", "5"]));
    std::fs::remove_file(tf.path().join("data.tf")).unwrap();

    tf.destroy().ok();
    let after = tf.state_json();
    assert!(
        after.pointer("/values/root_module/resources").is_none(),
        "{after}"
    );
    // Gone from the store too: importing it again fails.
    let r = tf.run(&["import", "keyshift_kms_instance.a", &id]);
    assert_ne!(r.code, 0);
    assert!(r.all().contains("not found"), "{}", r.all());
}

#[test]
fn destroy_refused_while_holding_keys_unless_force_destroy() {
    let tf = Tf::new();
    tf.write_main(&instance(""));
    tf.apply();
    let id = tf.resource("keyshift_kms_instance.a")["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A key placed in the instance by literal id (no dependency edge).
    let key = format!("resource \"keyshift_key\" \"k\" {{\n  instance_id = \"{id}\"\n}}\n");
    tf.write_main(&format!("{}\n{key}", instance("")));
    tf.apply();

    // Dropping the instance from config while it holds a key is refused.
    tf.write_main(&key);
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_ne!(r.code, 0);
    assert!(r.all().contains("force_destroy"), "{}", r.all());
    assert_eq!(tf.resource("keyshift_kms_instance.a")["id"], id.as_str());

    // With force_destroy applied first, it goes.
    tf.write_main(&format!("{}\n{key}", instance("  force_destroy = true\n")));
    tf.apply();
    tf.write_main(&key);
    tf.apply();
    let state = tf.state_json();
    let addrs: Vec<_> = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(addrs, ["keyshift_key.k"]);
}
