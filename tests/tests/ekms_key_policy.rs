//! `data.keyshift_ekms_key_policy` end to end: rendered through the real
//! terraform CLI, put on an AWS KMS key (a private moto server), and
//! accepted by the EKMS key-policy check of `keyshift_ekms_config`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/support/moto.rs"]
mod moto;

use keyshift_e2e::Tf;
use moto::{Moto, REGION};
use serde_json::Value as Json;

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/keyshift-service";
const ADMIN: &str = "arn:aws:iam::123456789012:root";

fn tf_for(m: &Moto) -> Tf {
    Tf::new()
        .with_env("AWS_ENDPOINT_URL_KMS", &m.endpoint())
        .with_env("AWS_ACCESS_KEY_ID", "testing")
        .with_env("AWS_SECRET_ACCESS_KEY", "testing")
        .with_env("AWS_REGION", REGION)
        .with_env("AWS_EC2_METADATA_DISABLED", "true")
        .with_env("AWS_CONFIG_FILE", "/dev/null")
        .with_env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .with_env("KEYSHIFT_SERVICE_PRINCIPAL", PRINCIPAL)
}

const POLICY: &str = r#"
data "keyshift_ekms_key_policy" "p" {
  key_admin_principal = "arn:aws:iam::123456789012:root"
}

output "json" {
  value = data.keyshift_ekms_key_policy.p.json
}

output "statement" {
  value = jsondecode(data.keyshift_ekms_key_policy.p.statement_json)
}

output "actions" {
  value = data.keyshift_ekms_key_policy.p.actions
}
"#;

fn outputs(tf: &Tf) -> Json {
    let r = tf.run(&["output", "-json"]).ok();
    serde_json::from_str(&r.stdout).unwrap()
}

#[test]
fn rendered_policy_is_accepted_by_the_ekms_check() {
    let m = Moto::start();
    let tf = tf_for(&m);
    tf.write_main(POLICY);
    tf.apply();
    let out = outputs(&tf);
    let actions = &out["actions"]["value"];
    assert_eq!(
        actions,
        &serde_json::json!([
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
            "kms:GetKeyPolicy"
        ])
    );
    let statement = &out["statement"]["value"];
    assert_eq!(statement["Principal"]["AWS"], PRINCIPAL);
    assert_eq!(&statement["Action"], actions);
    let doc: Json = serde_json::from_str(out["json"]["value"].as_str().unwrap()).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"], ADMIN);
    assert_eq!(&doc["Statement"][1], statement);

    // The rendered document on the AWS key satisfies the apply-time check.
    let k = m.create_key(false);
    m.put_policy(&k.key_id, out["json"]["value"].as_str().unwrap());
    tf.write_main(&format!(
        "{POLICY}\nresource \"keyshift_kms_instance\" \"i\" {{\n  name = \"ekms-policy\"\n}}\n\nresource \"keyshift_ekms_config\" \"e\" {{\n  instance_id     = keyshift_kms_instance.i.id\n  aws_kms_key_arn = \"{}\"\n}}\n",
        k.arn
    ));
    tf.apply();
    assert_eq!(
        tf.resource("keyshift_ekms_config.e")["key_status"],
        "ACTIVE"
    );
}

#[test]
fn principal_from_the_data_source_or_a_clear_error() {
    let tf = Tf::new();
    tf.write_main(
        "data \"keyshift_ekms_key_policy\" \"p\" {}\n\noutput \"j\" {\n  value = data.keyshift_ekms_key_policy.p.json\n}\n",
    );
    let r = tf.plan_code();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.flat().contains("No service principal") && r.flat().contains("service_principal"),
        "{}",
        r.flat()
    );
    tf.write_main(
        "data \"keyshift_ekms_key_policy\" \"p\" {\n  service_principal = \"keyshift.example.com\"\n}\n\noutput \"s\" {\n  value = jsondecode(data.keyshift_ekms_key_policy.p.statement_json)\n}\n",
    );
    tf.apply();
    let out = outputs(&tf);
    assert_eq!(
        out["s"]["value"]["Principal"]["Service"],
        "keyshift.example.com"
    );
}
