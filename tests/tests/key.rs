//! `keyshift_key` end to end through the real terraform CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};

const INSTANCE: &str = r#"resource "keyshift_kms_instance" "i" {
  name = "kms-a"
}
"#;

fn config(shared_extra: &str, rsa_extra: &str) -> String {
    format!(
        r#"{INSTANCE}
resource "keyshift_key" "shared" {{
  description = "app key"
  tags = {{
    team = "platform"
  }}
{shared_extra}}}

resource "keyshift_key" "rsa" {{
  instance_id = keyshift_kms_instance.i.id
  spec        = "RSA_2048"
{rsa_extra}}}
"#
    )
}

#[test]
fn lifecycle_create_update_migrate_import_destroy() {
    let tf = Tf::new();
    tf.write_main(&config("", ""));
    tf.apply();
    let shared = tf.resource("keyshift_key.shared");
    let rsa = tf.resource("keyshift_key.rsa");
    let inst = tf.resource("keyshift_kms_instance.i")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key_id = shared["id"].as_str().unwrap().to_string();
    assert!(key_id.starts_with("key-"), "{key_id}");
    assert_eq!(shared["state"], "Enabled");
    assert_eq!(shared["spec"], "AES_256");
    assert_eq!(shared["usage"], "ENCRYPT/DECRYPT");
    assert_eq!(shared["instance_id"], serde_json::Value::Null);
    assert_eq!(shared["deletion_window_in_days"], 30);
    assert_eq!(shared["tags"]["team"], "platform");
    assert!(!shared["current_version"].as_str().unwrap().is_empty());
    assert_eq!(rsa["instance_id"], inst.as_str());
    assert_eq!(rsa["spec"], "RSA_2048");
    tf.assert_clean_plan();

    // Update in place: description, enabled, window.
    let cfg = config(
        "  enabled                 = false\n  deletion_window_in_days = 7\n",
        "",
    )
    .replace("app key", "app key v2");
    tf.write_main(&cfg);
    assert_eq!(
        planned_actions(&tf.plan_json(), "keyshift_key.shared"),
        ["update"]
    );
    tf.apply();
    let updated = tf.resource("keyshift_key.shared");
    assert_eq!(updated["state"], "Disabled");
    assert_eq!(updated["description"], "app key v2");
    assert_eq!(updated["deletion_window_in_days"], 7);
    assert_eq!(updated["id"], key_id.as_str());
    tf.assert_clean_plan();

    // Changing instance_id migrates in place: update, never replace.
    let migrated_cfg = cfg.replacen(
        "  enabled",
        "  instance_id             = keyshift_kms_instance.i.id\n  enabled",
        1,
    );
    tf.write_main(&migrated_cfg);
    assert_eq!(
        planned_actions(&tf.plan_json(), "keyshift_key.shared"),
        ["update"]
    );
    tf.apply();
    let migrated = tf.resource("keyshift_key.shared");
    assert_eq!(migrated["instance_id"], inst.as_str());
    assert_eq!(migrated["id"], key_id.as_str());
    assert_eq!(migrated["current_version"], updated["current_version"]);
    tf.assert_clean_plan();

    // A spec change is a replacement.
    tf.write_main(&migrated_cfg.replace("\"RSA_2048\"", "\"RSA_3072\""));
    assert_eq!(
        planned_actions(&tf.plan_json(), "keyshift_key.rsa"),
        ["delete", "create"]
    );
    tf.write_main(&migrated_cfg);

    // terraform import (by id and by alias-free id) and an import {} block.
    tf.forget_state();
    tf.run(&["import", "keyshift_kms_instance.i", &inst]).ok();
    tf.run(&["import", "keyshift_key.shared", &key_id]).ok();
    tf.run(&["import", "keyshift_key.rsa", rsa["id"].as_str().unwrap()])
        .ok();
    assert_eq!(tf.resource("keyshift_key.shared"), migrated);
    assert_eq!(tf.resource("keyshift_key.rsa"), rsa);
    tf.assert_clean_plan();

    tf.forget_state();
    tf.write(
        "import.tf",
        &format!(
            "import {{\n  to = keyshift_kms_instance.i\n  id = \"{inst}\"\n}}\n\nimport {{\n  to = keyshift_key.shared\n  id = \"{key_id}\"\n}}\n\nimport {{\n  to = keyshift_key.rsa\n  id = \"{}\"\n}}\n",
            rsa["id"].as_str().unwrap()
        ),
    );
    tf.apply();
    assert_eq!(tf.resource("keyshift_key.shared"), migrated);
    tf.assert_clean_plan();
    std::fs::remove_file(tf.path().join("import.tf")).unwrap();

    // The instance goes last: it leaves state and waits, in status
    // `deleting`, for the windows of the keys destroy scheduled inside it.
    tf.destroy().ok();
    assert!(
        tf.state_json()
            .pointer("/values/root_module/resources")
            .is_none()
    );
}

/// Reads a key's state through `data.keyshift_key` in a fresh config.
fn state_via_data_source(tf: &Tf, key_id: &str) -> keyshift_e2e::Run {
    tf.write_main(&format!(
        "data \"keyshift_key\" \"k\" {{\n  id = \"{key_id}\"\n}}\n\noutput \"state\" {{\n  value = data.keyshift_key.k.state\n}}\n"
    ));
    tf.run(&["apply", "-auto-approve"])
}

#[test]
fn deletion_protection_refuses_destroy() {
    let tf = Tf::new();
    tf.write_main("resource \"keyshift_key\" \"p\" {\n  deletion_protection = true\n}\n");
    tf.apply();
    let r = tf.destroy();
    assert_ne!(r.code, 0);
    assert!(r.all().contains("deletion_protection"), "{}", r.all());
    assert_eq!(tf.resource("keyshift_key.p")["state"], "Enabled");
    tf.write_main("resource \"keyshift_key\" \"p\" {\n  deletion_protection = false\n}\n");
    tf.apply();
    let id = tf.resource("keyshift_key.p")["id"]
        .as_str()
        .unwrap()
        .to_string();
    tf.destroy().ok();
    // Destroy scheduled deletion: the key is PendingDeletion, not erased.
    state_via_data_source(&tf, &id).ok();
    assert_eq!(
        tf.run(&["output", "-raw", "state"]).ok().stdout,
        "PendingDeletion"
    );
}

#[test]
fn byok_material_is_write_only_and_never_stored() {
    let tf = Tf::new();
    // 32 bytes, base64; the marker must never appear in state or plans.
    let material = "S0VZU0hJRlQtU0VDUkVULU1BVEVSSUFMLTAwMDAwMDA=";
    tf.write_main(
        "variable \"m\" {\n  type      = string\n  sensitive = true\n  ephemeral = true\n}\n\nresource \"keyshift_key\" \"byok\" {\n  origin                  = \"EXTERNAL\"\n  key_material_wo         = var.m\n  key_material_wo_version = 1\n}\n\nresource \"keyshift_key\" \"pending\" {\n  origin = \"EXTERNAL\"\n}\n",
    );
    let var = format!("-var=m={material}");
    let r = tf.run(&["apply", "-auto-approve", &var]).ok();
    assert!(!r.all().contains(material));
    let byok = tf.resource("keyshift_key.byok");
    assert_eq!(byok["state"], "Enabled");
    assert_eq!(byok["key_material_wo"], serde_json::Value::Null);
    assert_eq!(
        tf.resource("keyshift_key.pending")["state"],
        "PendingImport"
    );
    assert!(!tf.raw_state().contains(material));
    let plan = tf.run(&["plan", "-detailed-exitcode", &var]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(!plan.all().contains(material));
    tf.run(&["destroy", "-auto-approve", &var]).ok();
}
