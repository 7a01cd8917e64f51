//! `keyshift_secret` end to end through the real terraform CLI, including
//! the guarantee that a write-only value appears nowhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Run, Tf, planned_actions};
use serde_json::Value as Json;

/// The write-only value: must never show up anywhere Terraform writes.
const MARKER: &str = "KS-E2E-WO-MARKER-93c1f0a7";

fn wo_config(version: i64) -> String {
    format!(
        r#"variable "secret" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

resource "keyshift_key" "k" {{
  description = "secrets key"
}}

resource "keyshift_secret" "s" {{
  name                   = "app/db-password"
  type                   = "RDS"
  encryption_key_id      = keyshift_key.k.id
  description            = "db password"
  secret_data_wo         = var.secret
  secret_data_wo_version = {version}
  tags = {{
    team = "platform"
  }}
}}
"#
    )
}

/// Everything Terraform printed or wrote, for the leak check.
#[derive(Default)]
struct Seen(String);

impl Seen {
    fn run(&mut self, r: Run) -> Run {
        self.0.push_str(&r.all());
        r
    }

    fn add(&mut self, text: &str) {
        self.0.push_str(text);
    }
}

/// `terraform <args>` with TF_LOG=TRACE written to `log` (the harness
/// strips TF_LOG, so this runs terraform itself with the same CLI config).
/// The secret comes from `TF_VAR_secret`, not `-var`, because Terraform
/// echoes its own command line into the log.
fn traced(tf: &Tf, log: &std::path::Path, args: &[&str]) -> Run {
    let out = tf
        .command(args)
        .env("TF_VAR_secret", MARKER)
        .env("TF_LOG", "TRACE")
        .env("TF_LOG_PATH", log)
        .output()
        .unwrap();
    Run::from(out).ok()
}

fn without(mut v: Json, attr: &str) -> Json {
    if let Some(o) = v.as_object_mut() {
        o.remove(attr);
    }
    v
}

#[test]
fn write_only_value_lifecycle_import_and_no_leaks() {
    let tf = Tf::new();
    let mut seen = Seen::default();
    let var = format!("-var=secret={MARKER}");
    tf.write_main(&wo_config(1));
    seen.run(tf.run(&["apply", "-auto-approve", &var]).ok());
    let s1 = tf.resource("keyshift_secret.s");
    let id = s1["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sec-"), "{id}");
    assert_eq!(s1["type"], "RDS");
    assert_eq!(s1["secret_data_wo"], Json::Null);
    assert_eq!(s1["secret_data"], Json::Null);
    assert_eq!(s1["secret_data_wo_version"], 1);
    assert_eq!(s1["instance_id"], Json::Null);
    assert!(!s1["version_id"].as_str().unwrap().is_empty());
    seen.add(&tf.raw_state());
    seen.add(&serde_json::to_string(&tf.state_json()).unwrap());

    // Read-back plan is clean.
    let clean = seen.run(tf.run(&["plan", "-detailed-exitcode", &var]));
    assert_eq!(clean.code, 0, "{}", clean.all());

    // Bumping the version plans an update and writes a new version; this
    // run is traced, and the trace log must not hold the value either.
    tf.write_main(&wo_config(2));
    seen.run(tf.run(&["plan", "-out=tfplan", &var]).ok());
    let plan_json = seen.run(tf.run(&["show", "-json", "tfplan"]).ok()).stdout;
    let plan: Json = serde_json::from_str(&plan_json).unwrap();
    assert_eq!(planned_actions(&plan, "keyshift_secret.s"), ["update"]);
    let log = tf.path().join("trace.log");
    seen.run(traced(&tf, &log, &["apply", "-auto-approve"]));
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(
        trace.contains("ApplyResourceChange"),
        "sanity: the trace covers the provider calls"
    );
    let leaks: Vec<&str> = trace.lines().filter(|l| l.contains(MARKER)).collect();
    assert!(
        leaks.is_empty(),
        "value leaked into the TRACE log: {leaks:#?}"
    );
    let s2 = tf.resource("keyshift_secret.s");
    assert_ne!(s2["version_id"], s1["version_id"]);
    assert_eq!(s2["id"], id.as_str());
    assert_eq!(s2["secret_data_wo_version"], 2);
    seen.add(&tf.raw_state());
    seen.add(&serde_json::to_string(&tf.state_json()).unwrap());
    let clean = seen.run(tf.run(&["plan", "-detailed-exitcode", &var]));
    assert_eq!(clean.code, 0, "{}", clean.all());

    // terraform import (by id, then by <container>/<name>): everything but
    // the write-only version number comes back; the next apply adopts the
    // version without writing a new value.
    let key_id = tf.resource("keyshift_key.k")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for import_id in [id.clone(), "shared/app/db-password".to_string()] {
        tf.forget_state();
        seen.run(tf.run(&["import", &var, "keyshift_key.k", &key_id]).ok());
        seen.run(
            tf.run(&["import", &var, "keyshift_secret.s", &import_id])
                .ok(),
        );
        let imported = tf.resource("keyshift_secret.s");
        assert_eq!(imported["secret_data_wo_version"], Json::Null);
        assert_eq!(
            without(imported, "secret_data_wo_version"),
            without(s2.clone(), "secret_data_wo_version")
        );
        seen.run(tf.run(&["apply", "-auto-approve", &var]).ok());
        assert_eq!(
            tf.resource("keyshift_secret.s"),
            s2,
            "adopted, not rewritten"
        );
    }

    // An import {} block reproduces the state too.
    tf.forget_state();
    tf.write(
        "import.tf",
        &format!(
            "import {{\n  to = keyshift_key.k\n  id = \"{key_id}\"\n}}\n\nimport {{\n  to = keyshift_secret.s\n  id = \"{id}\"\n}}\n"
        ),
    );
    seen.run(tf.run(&["apply", "-auto-approve", &var]).ok());
    assert_eq!(tf.resource("keyshift_secret.s"), s2);
    let clean = seen.run(tf.run(&["plan", "-detailed-exitcode", &var]));
    assert_eq!(clean.code, 0, "{}", clean.all());
    std::fs::remove_file(tf.path().join("import.tf")).unwrap();
    seen.add(&tf.raw_state());
    seen.add(&serde_json::to_string(&tf.state_json()).unwrap());

    seen.run(tf.run(&["destroy", "-auto-approve", &var]).ok());
    assert!(
        tf.state_json()
            .pointer("/values/root_module/resources")
            .is_none()
    );
    assert!(
        !seen.0.contains(MARKER),
        "the write-only value leaked into terraform output, plan or state"
    );
}

#[test]
fn sensitive_secret_data_update_path_and_in_place_migration() {
    let tf = Tf::new();
    let config = |value: &str, placement: &str| {
        format!(
            "resource \"keyshift_kms_instance\" \"i\" {{\n  name = \"secrets\"\n}}\n\nresource \"keyshift_key\" \"k\" {{\n{placement}}}\n\nresource \"keyshift_secret\" \"s\" {{\n  name              = \"api-token\"\n  encryption_key_id = keyshift_key.k.id\n  secret_data       = \"{value}\"\n{placement}}}\n"
        )
    };
    tf.write_main(&config("token-one", ""));
    let r = tf.apply();
    assert!(
        !r.all().contains("token-one"),
        "sensitive values are redacted in output"
    );
    let s1 = tf.resource("keyshift_secret.s");
    assert_eq!(s1["type"], "Generic");
    tf.assert_clean_plan();

    tf.write_main(&config("token-two", ""));
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_secret.s"), ["update"]);
    let r = tf.apply();
    assert!(!r.all().contains("token-two"));
    let s2 = tf.resource("keyshift_secret.s");
    assert_ne!(s2["version_id"], s1["version_id"]);
    assert_eq!(s2["id"], s1["id"]);
    tf.assert_clean_plan();

    // Key and secret move to the instance in one apply: in-place updates
    // (the key first, the secret references it), never replacements.
    let inst = tf.resource("keyshift_kms_instance.i")["id"]
        .as_str()
        .unwrap()
        .to_string();
    tf.write_main(&config(
        "token-two",
        "  instance_id = keyshift_kms_instance.i.id\n",
    ));
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.k"), ["update"]);
    assert_eq!(planned_actions(&plan, "keyshift_secret.s"), ["update"]);
    tf.apply();
    let s3 = tf.resource("keyshift_secret.s");
    assert_eq!(s3["instance_id"], inst.as_str());
    assert_eq!(s3["id"], s2["id"]);
    assert_eq!(s3["version_id"], s2["version_id"], "no new version");
    assert_eq!(tf.resource("keyshift_key.k")["instance_id"], inst.as_str());
    tf.assert_clean_plan();
    // The value moved with it: a new value writes a version in the instance.
    tf.write_main(&config(
        "token-three",
        "  instance_id = keyshift_kms_instance.i.id\n",
    ));
    tf.apply();
    assert_ne!(
        tf.resource("keyshift_secret.s")["version_id"],
        s2["version_id"]
    );
    tf.destroy().ok();
}

#[test]
fn unusable_encryption_keys_fail_naming_the_attribute() {
    let tf = Tf::new();
    let keys = "resource \"keyshift_kms_instance\" \"i\" {\n  name = \"other\"\n}\n\nresource \"keyshift_key\" \"sign\" {\n  spec = \"EC_P256\"\n}\n\nresource \"keyshift_key\" \"elsewhere\" {\n  instance_id = keyshift_kms_instance.i.id\n}\n";
    tf.write_main(keys);
    tf.apply();
    let secret = |key: &str| {
        format!(
            "{keys}\nresource \"keyshift_secret\" \"s\" {{\n  name              = \"x\"\n  encryption_key_id = keyshift_key.{key}.id\n  secret_data       = \"v\"\n}}\n"
        )
    };
    for (case, key, rule) in [
        ("SIGN/VERIFY key", "sign", "AES_256 ENCRYPT/DECRYPT"),
        ("key in another container", "elsewhere", "same container"),
    ] {
        tf.write_main(&secret(key));
        let r = tf.plan_code();
        assert_eq!(r.code, 1, "{case}: {}", r.all());
        let flat = r.flat();
        assert!(
            flat.contains("encryption_key_id = keyshift_key."),
            "{case}: {flat}"
        );
        assert!(flat.contains(rule), "{case}: {flat}");
    }
    // Static rules fail at validate.
    tf.write_main(&format!(
        "{keys}\nresource \"keyshift_secret\" \"s\" {{\n  name              = \"bad name\"\n  encryption_key_id = keyshift_key.sign.id\n  secret_data       = \"v\"\n}}\n"
    ));
    let r = tf.run(&["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.flat().contains("name = \"bad name\""), "{}", r.flat());
    tf.write_main(keys);
    tf.destroy().ok();
}
