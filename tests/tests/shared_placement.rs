//! `instance_id = "shared"` names the shared KMS explicitly, through the
//! real terraform and the real `keyshift`: `keyshift rewrite --set
//! instance_id=shared` writes it, the plan moves a key and its secret back
//! to the shared KMS in place, the apply does, the state reads `"shared"`
//! back (also after a refresh) and the next plans are clean; a key created
//! with `"shared"` lands there with a clean plan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_core::engine::Kms;
use keyshift_core::store::Container;
use keyshift_e2e::{Tf, planned_actions};

const CONFIG: &str = r#"resource "keyshift_kms_instance" "dest" {
  name = "dest"
}

resource "keyshift_key" "app" {
  description = "app"
  instance_id = keyshift_kms_instance.dest.id
}

resource "keyshift_secret" "db" {
  name              = "db-password"
  encryption_key_id = keyshift_key.app.id
  secret_data       = "s3cret"
  instance_id       = keyshift_kms_instance.dest.id
}
"#;

fn id_of(tf: &Tf, address: &str) -> String {
    tf.resource(address)["id"].as_str().unwrap().to_string()
}

#[test]
fn rewrite_set_shared_moves_back_in_place_and_round_trips() {
    let tf = Tf::new();
    tf.write_main(CONFIG);
    tf.apply();
    let (key, secret) = (
        id_of(&tf, "keyshift_key.app"),
        id_of(&tf, "keyshift_secret.db"),
    );
    std::fs::write(tf.path().join("state.json"), tf.state_json().to_string()).unwrap();

    let r = tf.keyshift(&[
        "rewrite",
        ".",
        "--select",
        "keyshift_key.app",
        "--select",
        "keyshift_secret.db",
        "--set",
        "instance_id=shared",
        "--state",
        "state.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let main = tf.read("main.tf");
    assert_eq!(
        main.matches("instance_id       = \"shared\"").count(),
        1,
        "{main}"
    );
    assert_eq!(
        main.matches("instance_id = \"shared\"").count(),
        1,
        "{main}"
    );

    let plan = tf.plan_json();
    for address in ["keyshift_key.app", "keyshift_secret.db"] {
        assert_eq!(planned_actions(&plan, address), ["update"], "{address}");
    }
    tf.apply();
    let kms = Kms::open(&tf.store(), "test").unwrap();
    assert_eq!(kms.get_key(&key).unwrap().container, Container::Shared);
    assert_eq!(
        kms.get_secret(&secret).unwrap().container,
        Container::Shared
    );
    for address in ["keyshift_key.app", "keyshift_secret.db"] {
        assert_eq!(tf.resource(address)["instance_id"], "shared", "{address}");
    }
    tf.assert_clean_plan();
    tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
    assert_eq!(tf.resource("keyshift_key.app")["instance_id"], "shared");
    tf.assert_clean_plan();
    let got = tf.keyshift(&["secret", "get", "db-password"]);
    assert_eq!(
        (got.code, got.stdout.as_str()),
        (0, "s3cret"),
        "{}",
        got.all()
    );

    // Created with "shared": placed there, read back as written.
    tf.write(
        "more.tf",
        "resource \"keyshift_key\" \"more\" {\n  instance_id = \"shared\"\n}\n",
    );
    tf.apply();
    let more = id_of(&tf, "keyshift_key.more");
    assert_eq!(kms.get_key(&more).unwrap().container, Container::Shared);
    assert_eq!(tf.resource("keyshift_key.more")["instance_id"], "shared");
    tf.assert_clean_plan();
}
