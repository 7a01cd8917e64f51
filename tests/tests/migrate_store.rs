//! `keyshift migrate --from-store A --to-store B --all --include-secrets`
//! of an estate the real terraform made (instances with and without keys,
//! EKMS configurations on a private moto server, one of them on an instance
//! without keys, a key with an alias, a secret, a key in the shared KMS):
//! pointed at B, `terraform plan` is empty, so nothing of the estate was
//! left behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/support/moto.rs"]
mod moto;

use keyshift_e2e::Tf;
use moto::{Moto, REGION};
use std::path::Path;

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
        .with_env("KEYSHIFT_AWS_ENDPOINT", &m.endpoint())
        .with_env("KEYSHIFT_AWS_REGION", REGION)
}

/// The estate, with the provider on the store at `store`.
fn estate(store: &Path, arn: &str, arn_empty: &str) -> String {
    format!(
        r#"provider "keyshift" {{
  store_path = "{store}"
}}

resource "keyshift_kms_instance" "byok" {{
  name = "byok"
}}

resource "keyshift_ekms_config" "byok" {{
  instance_id     = keyshift_kms_instance.byok.id
  aws_kms_key_arn = "{arn}"
}}

resource "keyshift_kms_instance" "byok_empty" {{
  name = "byok-empty"
}}

resource "keyshift_ekms_config" "byok_empty" {{
  instance_id     = keyshift_kms_instance.byok_empty.id
  aws_kms_key_arn = "{arn_empty}"
}}

resource "keyshift_kms_instance" "spare" {{
  name = "spare"
}}

resource "keyshift_key" "app" {{
  instance_id = keyshift_ekms_config.byok.instance_id
  description = "app"
}}

resource "keyshift_alias" "app" {{
  name   = "alias/payments/app"
  key_id = keyshift_key.app.id
}}

resource "keyshift_secret" "db" {{
  name              = "payments/db"
  instance_id       = keyshift_ekms_config.byok.instance_id
  encryption_key_id = keyshift_key.app.id
  secret_data       = "s3cret"
}}

resource "keyshift_key" "shared" {{
  description = "shared"
}}

resource "keyshift_break_glass" "incident" {{
  change_request    = "CHG0030001"
  principal         = "oncall@example.com"
  key_ids           = [keyshift_key.shared.id]
  permissions       = ["decrypt"]
  ttl               = "2h"
  reason            = "INC0012345"
  credential_key_id = keyshift_key.shared.id
}}
"#,
        store = store.display()
    )
}

#[test]
fn a_whole_store_move_leaves_the_plan_against_the_new_store_empty() {
    let m = Moto::start();
    let (k1, k2) = (m.create_key(false), m.create_key(false));
    let tf = tf_for(&m);
    let (a, b) = (tf.path().join("store-a"), tf.path().join("store-b"));
    tf.write_main(&estate(&a, &k1.arn, &k2.arn));
    tf.apply();
    tf.assert_clean_plan();

    let move_args = |to: &Path, extra: &[&str]| {
        let mut args = vec![
            "migrate",
            "--from-store",
            a.to_str().unwrap(),
            "--to-store",
            to.to_str().unwrap(),
            "--all",
            "--include-secrets",
        ];
        args.extend_from_slice(extra);
        tf.keyshift(&args)
    };
    let r = move_args(&b, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    tf.write_main(&estate(&b, &k1.arn, &k2.arn));
    let r = tf.plan_code();
    assert_eq!(r.code, 0, "the plan against B is empty:\n{}", r.all());

    // A dry run lists each kind it would take.
    let r = move_args(&tf.path().join("store-c"), &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(
            "dry run: selected: 3 instance(s) (2 without keys), 2 EKMS configuration(s), 1 alias(es), 2 key(s), 2 secret(s), 1 break-glass grant(s)"
        ),
        "{}",
        r.all()
    );
}
