//! Deletion windows hold through `terraform destroy`: keys and the instance
//! holding them stay in the store (instance status `deleting`) until every
//! window has passed, and `keyshift key cancel-deletion` / `key enable` /
//! `instance restore` bring them back, so earlier ciphertexts decrypt again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Run, Tf, planned_actions};
use serde_json::Value as Json;

/// Like the quickstart: an instance, two keys in it (7-day and default
/// window), an alias, and a shared key.
const QUICKSTART_LIKE: &str = r#"
resource "keyshift_kms_instance" "payments" {
  name      = "payments"
  key_quota = 100
}

resource "keyshift_key" "shared" {
  description = "application data key (shared KMS)"
}

resource "keyshift_key" "payments_data" {
  instance_id             = keyshift_kms_instance.payments.id
  description             = "payments data key"
  deletion_window_in_days = 7
}

resource "keyshift_key" "payments_signing" {
  instance_id = keyshift_kms_instance.payments.id
  spec        = "EC_P256"
  usage       = "SIGN/VERIFY"
}

resource "keyshift_alias" "payments_data" {
  name   = "alias/payments/data"
  key_id = keyshift_key.payments_data.id
}
"#;

/// The release `keyshift` on the test's store, with `stdin`.
fn keyshift(tf: &Tf, args: &[&str], stdin: &[u8]) -> Run {
    let store = tf.store().display().to_string();
    tf.keyshift_stdin(&[&["--store", store.as_str()], args].concat(), stdin)
}

fn json(tf: &Tf, args: &[&str]) -> Json {
    let r = keyshift(tf, args, b"");
    assert_eq!(r.code, 0, "keyshift {args:?}: {}", r.all());
    serde_json::from_str(&r.stdout).unwrap()
}

fn id_of(tf: &Tf, address: &str) -> String {
    tf.resource(address)["id"].as_str().unwrap().to_string()
}

#[test]
fn ciphertext_survives_destroy_and_decrypts_after_cancel_deletion() {
    let tf = Tf::new();
    tf.write_main(QUICKSTART_LIKE);
    tf.apply();
    let instance = id_of(&tf, "keyshift_kms_instance.payments");
    let data_key = id_of(&tf, "keyshift_key.payments_data");
    let signing = id_of(&tf, "keyshift_key.payments_signing");
    let plain = b"order 1234: card ending 4242";
    let enc = keyshift(&tf, &["encrypt", "--key", "alias/payments/data"], plain);
    assert_eq!(enc.code, 0, "{}", enc.all());

    tf.destroy().ok();
    assert!(
        tf.state_json()
            .pointer("/values/root_module/resources")
            .is_none(),
        "destroy leaves nothing in state"
    );

    // The store still holds the instance (deleting) and its keys.
    let inst = json(
        &tf,
        &["instance", "describe", &instance, "--format", "json"],
    );
    assert_eq!(inst["status"], "deleting", "{inst}");
    assert_eq!(inst["keys"], 2, "{inst}");
    let key = json(&tf, &["key", "describe", &data_key, "--format", "json"]);
    assert_eq!(
        (&key["state"], &key["enabled"]),
        (&Json::from("PendingDeletion"), &Json::from(false)),
        "{key}"
    );
    let sign = json(&tf, &["key", "describe", &signing, "--format", "json"]);
    assert_eq!(
        inst["purge_after"], sign["deletion_date"],
        "purged with its last key (the 30-day one)"
    );
    assert!(
        key["deletion_date"].as_str().unwrap() < sign["deletion_date"].as_str().unwrap(),
        "each key keeps its own window: {key} {sign}"
    );
    let dec = keyshift(&tf, &["decrypt"], enc.stdout.as_bytes());
    assert_eq!(dec.code, 1, "{}", dec.all());
    assert!(dec.stderr.contains("PendingDeletion"), "{}", dec.stderr);
    assert!(
        dec.stderr.contains(&format!(
            "to use it again: `keyshift key cancel-deletion {data_key}`, then `keyshift key enable {data_key}`"
        )),
        "{}",
        dec.stderr
    );

    // Cancel + enable: the earlier ciphertext decrypts again.
    let c = keyshift(&tf, &["key", "cancel-deletion", &data_key], b"");
    assert_eq!(c.code, 0, "{}", c.all());
    assert_eq!(
        c.stdout,
        format!(
            "deletion of key {data_key} cancelled: it is Disabled (enable it with `keyshift key enable {data_key}`)\n"
        )
    );
    let inst = json(
        &tf,
        &["instance", "describe", &instance, "--format", "json"],
    );
    assert_eq!(
        inst["status"], "active",
        "cancelling a key restores its instance"
    );
    let e = keyshift(&tf, &["key", "enable", &data_key], b"");
    assert_eq!(
        (e.code, e.stdout.as_str()),
        (0, format!("key {data_key} is Enabled\n").as_str())
    );
    let dec = keyshift(&tf, &["decrypt"], enc.stdout.as_bytes());
    assert_eq!(dec.code, 0, "{}", dec.all());
    assert_eq!(dec.stdout.as_bytes(), plain);
    let sign = json(&tf, &["key", "describe", &signing, "--format", "json"]);
    assert_eq!(
        sign["state"], "PendingDeletion",
        "the other key is still scheduled"
    );
}

#[test]
fn force_destroy_schedules_keys_and_the_deleting_instance_refuses_reuse() {
    let tf = Tf::new();
    let config = r#"
resource "keyshift_kms_instance" "i" {
  name          = "batch"
  force_destroy = true
}

resource "keyshift_key" "k" {
  instance_id = keyshift_kms_instance.i.id
}
"#;
    tf.write_main(config);
    tf.apply();
    let instance = id_of(&tf, "keyshift_kms_instance.i");
    let key = id_of(&tf, "keyshift_key.k");
    // Terraform forgets the key: only the instance is destroyed, by force.
    tf.run(&["state", "rm", "keyshift_key.k"]).ok();
    tf.destroy().ok();
    let k = json(&tf, &["key", "describe", &key, "--format", "json"]);
    assert_eq!(k["state"], "PendingDeletion", "{k}");
    let list = json(&tf, &["instance", "list", "--format", "json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        (&list[0]["id"], &list[0]["status"], &list[0]["purge_after"]),
        (
            &Json::from(instance.as_str()),
            &Json::from("deleting"),
            &k["deletion_date"]
        ),
        "{list}"
    );

    // A key planned into the deleting instance fails at plan, on instance_id.
    tf.write_main(&format!(
        "resource \"keyshift_key\" \"k\" {{\n  instance_id = \"{instance}\"\n}}\n"
    ));
    let r = tf.run(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let flat = r.flat();
    assert!(
        flat.contains(&format!("instance {instance} (batch) is being deleted"))
            && flat.contains(&format!("keyshift instance restore {instance}"))
            && flat.contains("instance_id"),
        "{flat}"
    );
    // Its name stays taken until the purge.
    tf.write_main(config);
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.flat().contains(&format!(
            "the name batch is held by instance {instance}, which is being deleted"
        )),
        "{}",
        r.flat()
    );

    // Restored, it can be adopted again with its key.
    let r = keyshift(&tf, &["instance", "restore", &instance], b"");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .starts_with(&format!("instance {instance} (batch) is active")),
        "{}",
        r.stdout
    );
    let k = json(&tf, &["key", "describe", &key, "--format", "json"]);
    assert_eq!(
        (&k["state"], &k["deletion_date"]),
        (&Json::from("Disabled"), &Json::Null)
    );
    tf.forget_state();
    tf.write_main(&format!(
        "{config}\nimport {{\n  to = keyshift_kms_instance.i\n  id = \"{instance}\"\n}}\n\nimport {{\n  to = keyshift_key.k\n  id = \"{key}\"\n}}\n"
    ));
    let plan = tf.plan_json();
    assert_eq!(
        planned_actions(&plan, "keyshift_key.k"),
        ["update"],
        "enabled false -> true"
    );
    tf.apply();
    assert_eq!(tf.resource("keyshift_key.k")["state"], "Enabled");
    tf.assert_clean_plan();
}

#[test]
fn key_scheduled_out_of_band_leaves_state_until_cancelled() {
    let tf = Tf::new();
    tf.write_main("resource \"keyshift_key\" \"k\" {\n  description = \"app\"\n}\n");
    tf.apply();
    let key = id_of(&tf, "keyshift_key.k");
    let r = keyshift(&tf, &["key", "schedule-deletion", &key, "--days", "7"], b"");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .starts_with(&format!("key {key} is PendingDeletion: erased after ")),
        "{}",
        r.stdout
    );

    // The resource drops a key pending deletion from state on refresh (as
    // the AWS provider does), so the plan proposes a new key; the data
    // source still shows it, never as enabled.
    tf.write(
        "data.tf",
        &format!("data \"keyshift_key\" \"d\" {{\n  id = \"{key}\"\n}}\n\noutput \"d\" {{\n  value = [data.keyshift_key.d.state, tostring(data.keyshift_key.d.enabled), data.keyshift_key.d.deletion_date]\n}}\n"),
    );
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.k"), ["create"]);
    let described = json(&tf, &["key", "describe", &key, "--format", "json"]);
    assert_eq!(
        plan["planned_values"]["outputs"]["d"]["value"],
        serde_json::json!(["PendingDeletion", "false", described["deletion_date"]]),
        "{plan}"
    );
    std::fs::remove_file(tf.path().join("data.tf")).unwrap();

    // Cancelled and enabled again, it is the same key and the plan is clean.
    assert_eq!(
        keyshift(&tf, &["key", "cancel-deletion", &key], b"").code,
        0
    );
    assert_eq!(keyshift(&tf, &["key", "enable", &key], b"").code, 0);
    tf.assert_clean_plan();
    assert_eq!(id_of(&tf, "keyshift_key.k"), key);
}
