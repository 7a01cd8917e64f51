//! EKMS / BYOK (`keyshift_ekms_config`, `data.keyshift_key_status`,
//! `data.keyshift_preflight`) end to end: the real terraform CLI, the
//! release provider, and a private moto server as AWS KMS on 127.0.0.1.
//!
//! Terraform gets its AWS settings only from the harness (endpoint, dummy
//! credentials, region, no metadata service); the machine's are dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/support/moto.rs"]
mod moto;

use std::time::{Duration, Instant};

use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, WrappingStrategy};
use keyshift_e2e::{Run, Tf, planned_actions};
use moto::{Moto, REGION};

/// A Terraform dir whose provider talks to `m` and nothing else.
fn tf_for(m: &Moto) -> Tf {
    Tf::new()
        .with_env("AWS_ENDPOINT_URL_KMS", &m.endpoint())
        .with_env("AWS_ACCESS_KEY_ID", "testing")
        .with_env("AWS_SECRET_ACCESS_KEY", "testing")
        .with_env("AWS_REGION", REGION)
        .with_env("AWS_EC2_METADATA_DISABLED", "true")
        .with_env("AWS_CONFIG_FILE", "/dev/null")
        .with_env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

/// The test's view of the key store, unwrapping through moto.
fn store(tf: &Tf, m: &Moto) -> Kms {
    Kms::open(&tf.store(), "e2e")
        .unwrap()
        .with_aws(m.settings())
}

fn refresh(tf: &Tf) {
    tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
}

fn instance_ekms(arn: &str, extra: &str, keys: &str) -> String {
    format!(
        r#"resource "keyshift_kms_instance" "i" {{
  name = "ekms-a"
}}

resource "keyshift_ekms_config" "e" {{
  instance_id     = keyshift_kms_instance.i.id
  aws_kms_key_arn = "{arn}"
{extra}}}
{keys}"#
    )
}

fn key(name: &str) -> String {
    format!(
        "\nresource \"keyshift_key\" \"{name}\" {{\n  instance_id = keyshift_ekms_config.e.instance_id\n}}\n"
    )
}

#[test]
fn happy_path_disable_reenable_and_destroy_guard() {
    let m = Moto::start();
    let k = m.create_key(false);
    let tf = tf_for(&m);
    tf.write_main(&instance_ekms(&k.arn, "", &key("k1")));
    tf.apply();
    let e = tf.resource("keyshift_ekms_config.e");
    let inst = tf.resource("keyshift_kms_instance.i")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(e["id"], inst.as_str());
    assert_eq!(e["key_status"], "ACTIVE");
    assert_eq!(e["aws_key_state"], "Enabled");
    assert_eq!(e["wrapping_strategy"], "external");
    assert_eq!(e["architecture"], "current");
    assert_eq!(e["remediation"], "");
    tf.assert_clean_plan();

    let c = Container::Instance(inst.clone());
    let kms = store(&tf, &m);
    let info = kms.ekms_config(&c).unwrap().unwrap();
    assert_eq!(info.wrapping, WrappingStrategy::External);
    let k1 = tf.resource("keyshift_key.k1")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ct = kms.encrypt(&k1, b"payload").unwrap();

    // Disabled in AWS: refresh shows it; a new key in the container fails, naming key and status.
    m.disable(&k.key_id);
    refresh(&tf);
    let e = tf.resource("keyshift_ekms_config.e");
    assert_eq!(e["key_status"], "DISABLED");
    assert_eq!(e["aws_key_state"], "Disabled");
    assert!(
        e["remediation"]
            .as_str()
            .unwrap()
            .contains("Enable the key"),
        "{e}"
    );
    tf.write_main(&instance_ekms(
        &k.arn,
        "",
        &format!("{}{}", key("k1"), key("k2")),
    ));
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_ne!(r.code, 0);
    let out = r.flat();
    assert!(out.contains(&k.arn) && out.contains("DISABLED"), "{out}");
    assert_eq!(kms.list_keys(Some(&c)).unwrap().len(), 1, "store unchanged");
    assert!(
        kms.decrypt(&ct)
            .unwrap_err()
            .to_string()
            .contains("DISABLED")
    );

    // Re-enabled: everything works again, nothing lost.
    m.enable(&k.key_id);
    tf.apply();
    assert_eq!(kms.list_keys(Some(&c)).unwrap().len(), 2);
    assert_eq!(kms.decrypt(&ct).unwrap(), b"payload");
    assert_eq!(
        tf.resource("keyshift_ekms_config.e")["key_status"],
        "ACTIVE"
    );
    tf.assert_clean_plan();

    // No revert: destroy is refused with the explanation; nothing changes.
    let r = tf.destroy();
    assert_ne!(r.code, 0);
    let out = r.flat();
    assert!(
        out.contains("no revert") && out.contains("allow_revert_to_internal = true"),
        "{out}"
    );
    assert!(kms.ekms_config(&c).unwrap().is_some());
    assert_eq!(kms.list_keys(Some(&c)).unwrap().len(), 2);

    // Escape hatch applied first: destroy reverts and removes everything.
    let both = format!("{}{}", key("k1"), key("k2"));
    tf.write_main(&instance_ekms(
        &k.arn,
        "  allow_revert_to_internal = true\n",
        &both,
    ));
    tf.apply();
    tf.destroy().ok();
    assert!(kms.list_ekms_configs().unwrap().is_empty());
}

#[test]
fn unknown_key_pending_deletion_and_unreachable_endpoint() {
    let mut m = Moto::start();
    let tf = tf_for(&m);
    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000";
    tf.write_main(&instance_ekms(missing, "", ""));
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_ne!(r.code, 0);
    let out = r.flat();
    assert!(
        out.contains("DescribeKey") && out.contains("not found") && out.contains(missing),
        "{out}"
    );
    assert!(keyshift_e2e::find_resource(&tf.state_json(), "keyshift_ekms_config.e").is_none());
    assert!(
        store(&tf, &m).list_ekms_configs().unwrap().is_empty(),
        "nothing created"
    );

    let k = m.create_key(false);
    tf.write_main(&instance_ekms(&k.arn, "", ""));
    tf.apply();
    m.schedule_deletion(&k.key_id);
    refresh(&tf);
    let e = tf.resource("keyshift_ekms_config.e");
    assert_eq!(e["key_status"], "PENDING_DELETION");
    assert!(e["remediation"].as_str().unwrap().contains("Cancel"), "{e}");

    // data.keyshift_key_status agrees, by container and by ARN.
    tf.write(
        "status.tf",
        &format!(
            "data \"keyshift_key_status\" \"by_container\" {{\n  instance_id = keyshift_kms_instance.i.id\n}}\n\
             data \"keyshift_key_status\" \"by_arn\" {{\n  aws_kms_key_arn = \"{}\"\n}}\n\
             data \"keyshift_key_status\" \"gone\" {{\n  aws_kms_key_arn = \"{missing}\"\n}}\n\
             output \"s\" {{\n  value = [data.keyshift_key_status.by_container.status, data.keyshift_key_status.by_arn.status, data.keyshift_key_status.gone.status]\n}}\n",
            k.arn
        ),
    );
    tf.apply();
    let out = tf.run(&["output", "-json", "s"]).ok().stdout;
    assert_eq!(
        out.trim(),
        r#"["PENDING_DELETION","PENDING_DELETION","DELETED"]"#
    );
    std::fs::remove_file(tf.path().join("status.tf")).unwrap();

    m.stop();
    let t = Instant::now();
    refresh(&tf);
    assert!(
        t.elapsed() < Duration::from_secs(90),
        "bounded: {:?}",
        t.elapsed()
    );
    let e = tf.resource("keyshift_ekms_config.e");
    assert_eq!(e["key_status"], "UNAVAILABLE");
    assert!(e["aws_key_state"].is_null());
}

#[test]
fn key_change_needs_both_keys_active_and_keeps_data() {
    let m = Moto::start();
    let (a, b) = (m.create_key(false), m.create_key(false));
    let tf = tf_for(&m);
    let cfg = |arn: &str| {
        format!(
            "resource \"keyshift_ekms_config\" \"e\" {{\n  aws_kms_key_arn = \"{arn}\"\n}}\n\n\
             resource \"keyshift_key\" \"k\" {{\n  description = keyshift_ekms_config.e.id\n}}\n"
        )
    };
    tf.write_main(&cfg(&a.arn));
    tf.apply();
    assert_eq!(tf.resource("keyshift_ekms_config.e")["id"], "shared");
    let kms = store(&tf, &m);
    let kid = tf.resource("keyshift_key.k")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ct = kms.encrypt(&kid, b"before").unwrap();

    // The old key is disabled: refused before anything changes.
    m.disable(&a.key_id);
    tf.write_main(&cfg(&b.arn));
    assert_eq!(
        planned_actions(&tf.plan_json(), "keyshift_ekms_config.e"),
        ["update"]
    );
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_ne!(r.code, 0);
    let out = r.flat();
    assert!(
        out.contains(&a.arn) && out.contains("old") && out.contains("DISABLED"),
        "{out}"
    );
    assert_eq!(
        tf.resource("keyshift_ekms_config.e")["aws_kms_key_arn"],
        a.arn.as_str()
    );
    assert_eq!(
        kms.ekms_config(&Container::Shared)
            .unwrap()
            .unwrap()
            .config
            .key_arn,
        a.arn
    );

    // Both ACTIVE: re-wrapped in place; earlier data still decrypts, even without the old key.
    m.enable(&a.key_id);
    tf.apply();
    let e = tf.resource("keyshift_ekms_config.e");
    assert_eq!(e["aws_kms_key_arn"], b.arn.as_str());
    assert_eq!(e["key_status"], "ACTIVE");
    tf.assert_clean_plan();
    m.disable(&a.key_id);
    assert_eq!(kms.decrypt(&ct).unwrap(), b"before");

    // Import by container id gives the same state and a clean plan.
    tf.run(&["state", "rm", "keyshift_ekms_config.e"]).ok();
    tf.run(&["import", "keyshift_ekms_config.e", "shared"]).ok();
    assert_eq!(
        tf.resource("keyshift_ekms_config.e")["aws_kms_key_arn"],
        b.arn.as_str()
    );
    tf.assert_clean_plan();
}

#[test]
fn plan_time_validation() {
    let m = Moto::start();
    let tf = tf_for(&m);
    tf.write_main("resource \"keyshift_ekms_config\" \"e\" {\n  aws_kms_key_arn = \"arn:aws:s3:::my-bucket\"\n}\n");
    let r = tf.run(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let out = r.flat();
    assert!(
        out.contains("aws_kms_key_arn") && out.contains("Invalid AWS KMS key ARN"),
        "{out}"
    );
    tf.write_main("resource \"keyshift_ekms_config\" \"e\" {\n  aws_kms_key_arn = \"arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000\"\n  wrapping_strategy = \"sideways\"\n}\n");
    let out = tf.run(&["plan"]).flat();
    assert!(out.contains("wrapping_strategy"), "{out}");
}

/// Writes `preflight.tf` (data source + a gated `terraform_data`) and plans.
fn preflight(tf: &Tf, args: &str) -> Run {
    tf.write(
        "preflight.tf",
        &format!(
            r#"data "keyshift_preflight" "x" {{
{args}
}}

resource "terraform_data" "gate" {{
  lifecycle {{
    precondition {{
      condition     = data.keyshift_preflight.x.result == "supported"
      error_message = "Preflight row ${{data.keyshift_preflight.x.row}}: ${{data.keyshift_preflight.x.reason}}. Remediation: ${{data.keyshift_preflight.x.remediation}}"
    }}
  }}
}}

output "preflight_row" {{
  value = data.keyshift_preflight.x.row
}}
"#
        ),
    );
    tf.run(&["plan"])
}

fn supported(tf: &Tf, args: &str, row: u8) {
    let r = preflight(tf, args);
    assert_eq!(r.code, 0, "row {row} should pass:\n{}", r.all());
    assert!(
        r.flat().contains(&format!("preflight_row = {row}")),
        "row {row}:\n{}",
        r.all()
    );
}

fn blocked(tf: &Tf, args: &str, row: u8, want: &str) {
    let r = preflight(tf, args);
    assert_eq!(r.code, 1, "row {row} should block:\n{}", r.all());
    let out = r.flat();
    assert!(out.contains("Resource precondition failed"), "{out}");
    assert!(
        out.contains(&format!("Preflight row {row}:")) && out.contains(want),
        "row {row}: {out}"
    );
    if row != 8 {
        assert!(out.contains("KB2540187"), "row {row}: {out}");
    }
}

#[test]
fn preflight_rows_gate_plans() {
    let m = Moto::start();
    let (a, b) = (m.create_key(false), m.create_key(false));
    let tf = tf_for(&m);
    let ekms = |name: &str, arn: &str| {
        format!(
            "resource \"keyshift_kms_instance\" \"{name}\" {{\n  name = \"{name}\"\n}}\n\n\
             resource \"keyshift_ekms_config\" \"{name}\" {{\n  instance_id     = keyshift_kms_instance.{name}.id\n  aws_kms_key_arn = \"{arn}\"\n}}\n\n"
        )
    };
    tf.write_main(&format!(
        "{}{}{}resource \"keyshift_kms_instance\" \"plain\" {{\n  name = \"plain\"\n}}\n",
        ekms("src", &a.arn),
        ekms("same", &a.arn),
        ekms("other", &b.arn)
    ));
    tf.apply();
    let ids = |s: &str, t: &str| {
        format!(
            "  source_instance_id = keyshift_kms_instance.{s}.id\n  target_instance_id = keyshift_kms_instance.{t}.id"
        )
    };
    let op = |o: &str, rest: String| format!("  operation = \"{o}\"\n{rest}");
    supported(&tf, &op("move", ids("src", "plain")), 2);
    supported(&tf, &op("clone", ids("src", "same")), 6);
    supported(
        &tf,
        &op(
            "copy",
            format!("{}\n  target_ekms_support = false", ids("src", "plain")),
        ),
        3,
    );
    blocked(&tf, &op("move", ids("src", "other")), 9, "different keys");
    blocked(
        &tf,
        &op("toggle", ids("plain", "src")),
        12,
        "not configured",
    );
    blocked(
        &tf,
        &op(
            "backup_restore",
            format!("{}\n  source_ekms_support = false", ids("plain", "src")),
        ),
        13,
        "cannot carry EKMS",
    );

    // The target in another store (here: the same store opened a second time).
    let other = format!(
        "{}\n  target_store_path = \"{}\"",
        ids("src", "same"),
        tf.store().display()
    );
    supported(&tf, &op("clone", other), 6);
    let r = preflight(
        &tf,
        &op(
            "clone",
            format!(
                "{}\n  target_store_path = \"/nonexistent\"",
                ids("src", "same")
            ),
        ),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.flat().contains("target_store_path") && r.flat().contains("No key store there"),
        "{}",
        r.all()
    );

    // Row 8: the source key is disabled in AWS.
    m.disable(&a.key_id);
    blocked(&tf, &op("move", ids("src", "plain")), 8, "DISABLED");
    m.enable(&a.key_id);
    supported(&tf, &op("move", ids("src", "plain")), 2);

    // Bad operation: a diagnostic on `operation` at plan time.
    let r = preflight(&tf, &op("teleport", ids("src", "plain")));
    assert_eq!(r.code, 1);
    let out = r.flat();
    assert!(
        out.contains("operation") && out.contains("teleport"),
        "{out}"
    );
}

#[test]
fn key_policy_must_grant_the_service_principal() {
    let m = Moto::start();
    let principal = "arn:aws:iam::123456789012:role/keyshift-service";
    let tf = tf_for(&m).with_env("KEYSHIFT_SERVICE_PRINCIPAL", principal);
    let k = m.create_key(false);
    // A policy that lets the principal encrypt only.
    let partial = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":["kms:Encrypt"],"Resource":"*"}}]}}"#
    );
    m.put_policy(&k.key_id, &partial);
    tf.write_main(&instance_ekms(&k.arn, "", ""));
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_ne!(r.code, 0, "{}", r.all());
    let out = r.flat();
    assert!(
        out.contains(principal)
            && out.contains("kms:Decrypt")
            && out.contains("kms:GenerateDataKey"),
        "the diagnostic names the principal and the missing actions: {out}"
    );
    assert!(
        !out.contains("kms:Encrypt,"),
        "granted actions are not reported missing: {out}"
    );
    assert!(
        store(&tf, &m).list_ekms_configs().unwrap().is_empty(),
        "nothing activated"
    );
    // Granting everything needed lets the same configuration apply.
    let full = partial.replace(
        r#"["kms:Encrypt"]"#,
        r#"["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey","kms:DescribeKey","kms:GetKeyPolicy"]"#,
    );
    m.put_policy(&k.key_id, &full);
    tf.apply();
    assert_eq!(
        tf.resource("keyshift_ekms_config.e")["key_status"],
        "ACTIVE"
    );
}
