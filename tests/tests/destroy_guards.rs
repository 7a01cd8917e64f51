//! Refusals that guard an update never block a destroy, and say what the
//! applied state allows, through the real terraform (moto as AWS KMS for
//! EKMS): `terraform destroy -target` of a break-glass grant whose `ttl`
//! changed in the configuration repairs glass; the changed grant plans
//! with a warning and its apply fails changing nothing. With
//! `allow_revert_to_internal = true` applied, `wrapping_strategy =
//! "internal"` warns that destroy is the way (not to set the flag), its
//! apply changes nothing, and `plan -destroy` / `destroy` work; without the
//! flag, destroy is refused by its own guard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/support/moto.rs"]
mod moto;

use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, WrappingStrategy};
use keyshift_e2e::{Tf, planned_actions};
use moto::{Moto, REGION};
use serde_json::Value as Json;

fn grant(ttl: &str) -> String {
    format!(
        r#"resource "keyshift_key" "k" {{}}

resource "keyshift_break_glass" "g" {{
  change_request    = "CHG0040001"
  principal         = "oncall@example.com"
  key_ids           = [keyshift_key.k.id]
  permissions       = ["decrypt"]
  ttl               = "{ttl}"
  credential_key_id = keyshift_key.k.id
}}
"#
    )
}

/// The store's record of grant `id`: its status.
fn grant_status(tf: &Tf, id: &str) -> String {
    let list = tf
        .keyshift(&["break-glass", "list", "--format", "json"])
        .ok()
        .stdout;
    let doc: Json = serde_json::from_str(&list).unwrap();
    let g = doc["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == id)
        .cloned()
        .unwrap();
    g["status"].as_str().unwrap().to_string()
}

#[test]
fn a_changed_grant_warns_fails_at_apply_and_still_destroys() {
    let tf = Tf::new();
    tf.write_main(&grant("1h"));
    tf.apply();
    let id = tf.resource("keyshift_break_glass.g")["id"]
        .as_str()
        .unwrap()
        .to_string();

    tf.write_main(&grant("2h"));
    // The pending change does not block planning the grant's destroy.
    let r = tf.run(&["plan", "-destroy", "-target", "keyshift_break_glass.g"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.flat()
            .contains("keyshift_break_glass.g will be destroyed"),
        "{}",
        r.all()
    );
    let r = tf.plan_code();
    assert_eq!(r.code, 2, "a warning, not an error: {}", r.all());
    let flat = r.flat();
    for want in [
        "Warning: A break-glass grant cannot be changed",
        "ttl cannot change",
        "will fail on this grant and change nothing",
        "use a new change_request",
    ] {
        assert!(flat.contains(want), "{want:?} missing: {flat}");
    }
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.flat()
            .contains("Error: A break-glass grant cannot be changed"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("inconsistent result"), "{}", r.all());
    assert_eq!(tf.resource("keyshift_break_glass.g")["ttl"], "1h");
    assert_eq!(grant_status(&tf, &id), "active");

    let r = tf.run(&[
        "destroy",
        "-auto-approve",
        "-target",
        "keyshift_break_glass.g",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(grant_status(&tf, &id), "revoked");
}

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

fn ekms(arn: &str, extra: &str) -> String {
    format!(
        r#"resource "keyshift_kms_instance" "i" {{
  name = "guards"
}}

resource "keyshift_ekms_config" "e" {{
  instance_id     = keyshift_kms_instance.i.id
  aws_kms_key_arn = "{arn}"
{extra}}}
"#
    )
}

#[test]
fn internal_wrapping_in_the_config_never_blocks_a_destroy() {
    let m = Moto::start();
    let k = m.create_key(false);
    let tf = tf_for(&m);
    tf.write_main(&ekms(&k.arn, ""));
    tf.apply();
    let inst = tf.resource("keyshift_kms_instance.i")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = Container::Instance(inst);
    let kms = Kms::open(&tf.store(), "e2e")
        .unwrap()
        .with_aws(m.settings());

    // Without the escape hatch: the update warns to set it; destroy is
    // refused by its own guard (no revert), not by the update's.
    tf.write_main(&ekms(&k.arn, "  wrapping_strategy = \"internal\"\n"));
    let r = tf.plan_code();
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.flat().contains("set allow_revert_to_internal = true"),
        "{}",
        r.all()
    );
    let r = tf.run(&["plan", "-destroy"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.flat().contains("EKMS configuration cannot be destroyed"),
        "{}",
        r.all()
    );
    assert!(!r.flat().contains("Cannot switch back"), "{}", r.all());

    // The escape hatch applied; the config then says internal.
    tf.write_main(&ekms(&k.arn, "  allow_revert_to_internal = true\n"));
    tf.apply();
    tf.write_main(&ekms(
        &k.arn,
        "  allow_revert_to_internal = true\n  wrapping_strategy        = \"internal\"\n",
    ));
    let r = tf.plan_code();
    assert_eq!(r.code, 2, "{}", r.all());
    let flat = r.flat();
    assert!(
        flat.contains("allow_revert_to_internal = true is already applied"),
        "{flat}"
    );
    assert!(flat.contains("destroy this keyshift_ekms_config"), "{flat}");
    assert!(
        !flat.contains("set allow_revert_to_internal = true, apply"),
        "{flat}"
    );
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!r.all().contains("inconsistent result"), "{}", r.all());
    let info = kms.ekms_config(&c).unwrap().unwrap();
    assert_eq!(info.wrapping, WrappingStrategy::External, "nothing changed");

    let r = tf.run(&["plan", "-destroy", "-out=destroy.tfplan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let plan: Json =
        serde_json::from_str(&tf.run(&["show", "-json", "destroy.tfplan"]).ok().stdout).unwrap();
    assert_eq!(planned_actions(&plan, "keyshift_ekms_config.e"), ["delete"]);
    let r = tf.run(&[
        "destroy",
        "-auto-approve",
        "-target",
        "keyshift_ekms_config.e",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(kms.ekms_config(&c).unwrap().is_none());
}
