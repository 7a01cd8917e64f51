//! A key never leaves a container while secrets there depend on it, through
//! the real terraform and the real `keyshift`: `keyshift rewrite --select
//! keyshift_key.app --set instance_id=…` then `apply` moves the key and the
//! secret it encrypts in the same transaction (the plan warns, naming the
//! secret, and plans the secret to follow); the next plan is clean and the
//! secret reads back. Moving key and secret together in one apply works,
//! and a secret pinned to the container its key leaves is refused at plan,
//! naming the fix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_core::engine::Kms;
use keyshift_core::store::Container;
use keyshift_e2e::{Tf, planned_actions};

const VALUE: &str = "KS-DEPENDENTS-c0ffee";

/// An instance `dest`, a key `app` and a secret `db` it encrypts;
/// `key_at` / `secret_at` are their `instance_id` lines (may be empty).
fn config(key_at: &str, secret_at: &str) -> String {
    format!(
        r#"resource "keyshift_kms_instance" "dest" {{
  name = "dest"
}}

resource "keyshift_kms_instance" "other" {{
  name = "other"
}}

resource "keyshift_key" "app" {{
  description = "payments app"
{key_at}}}

resource "keyshift_secret" "db" {{
  name              = "payments/db"
  encryption_key_id = keyshift_key.app.id
  secret_data       = "{VALUE}"
{secret_at}}}
"#
    )
}

fn id_of(tf: &Tf, address: &str) -> String {
    tf.resource(address)["id"].as_str().unwrap().to_string()
}

/// Where the store has the secret `id`.
fn secret_container(tf: &Tf, id: &str) -> Container {
    Kms::open(&tf.store(), "test")
        .unwrap()
        .get_secret(id)
        .unwrap()
        .container
}

#[test]
fn rewrite_select_key_then_apply_carries_the_secret() {
    let tf = Tf::new();
    tf.write_main(&config("", ""));
    tf.apply();
    let kst = id_of(&tf, "keyshift_kms_instance.dest");
    let secret = id_of(&tf, "keyshift_secret.db");
    std::fs::write(tf.path().join("state.json"), tf.state_json().to_string()).unwrap();

    let set = format!("instance_id={kst}");
    let r = tf.keyshift(&[
        "rewrite",
        ".",
        "--select",
        "keyshift_key.app",
        "--set",
        &set,
        "--state",
        "state.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());

    // The plan says the key carries the secret, and plans the secret to follow.
    let r = tf.run(&["plan", "-out=tfplan"]).ok();
    let flat = r.flat();
    for want in [
        "Key move carries the secrets it encrypts",
        "payments/db",
        secret.as_str(),
    ] {
        assert!(flat.contains(want), "{want:?} missing: {flat}");
    }
    let plan: serde_json::Value =
        serde_json::from_str(&tf.run(&["show", "-json", "tfplan"]).ok().stdout).unwrap();
    assert_eq!(planned_actions(&plan, "keyshift_key.app"), ["update"]);
    assert_eq!(planned_actions(&plan, "keyshift_secret.db"), ["update"]);

    tf.run(&["apply", "tfplan"]).ok();
    assert_eq!(
        secret_container(&tf, &secret),
        Container::Instance(kst.clone()),
        "the secret moved with its key"
    );
    assert_eq!(
        tf.resource("keyshift_secret.db")["instance_id"],
        kst.as_str()
    );
    tf.assert_clean_plan();
    let got = tf.keyshift(&["secret", "get", "payments/db", "--instance", &kst]);
    assert_eq!((got.code, got.stdout.as_str()), (0, VALUE), "{}", got.all());

    // The next change to the secret applies (it is not stranded).
    let main = tf.read("main.tf").replace(
        "  name              = \"payments/db\"\n",
        "  name              = \"payments/db\"\n  description       = \"db\"\n",
    );
    tf.write("main.tf", &main);
    tf.apply();
    assert_eq!(tf.resource("keyshift_secret.db")["description"], "db");
    tf.assert_clean_plan();
}

#[test]
fn key_and_secret_moved_together_and_a_pinned_secret_is_refused() {
    let tf = Tf::new();
    tf.write_main(&config("", ""));
    tf.apply();
    let dest = id_of(&tf, "keyshift_kms_instance.dest");
    let secret = id_of(&tf, "keyshift_secret.db");

    // Both instance_ids in one apply: both in place, then a clean plan.
    let here = "  instance_id = keyshift_kms_instance.dest.id\n";
    tf.write_main(&config(here, here));
    tf.apply();
    assert_eq!(
        secret_container(&tf, &secret),
        Container::Instance(dest.clone())
    );
    tf.assert_clean_plan();

    // The key moves on; the configuration keeps the secret where it is:
    // refused at plan, on the secret, naming the fix; nothing moves.
    let there = "  instance_id = keyshift_kms_instance.other.id\n";
    tf.write_main(&config(there, here));
    let r = tf.plan_code();
    assert_eq!(r.code, 1, "{}", r.all());
    let flat = r.flat();
    for want in [
        "Secret cannot stay behind its encryption key",
        "payments/db",
        "Set instance_id to",
        "switch encryption_key_id",
    ] {
        assert!(flat.contains(want), "{want:?} missing: {flat}");
    }
    assert_eq!(
        secret_container(&tf, &secret),
        Container::Instance(dest.clone())
    );

    // Following the key's instance_id: key and secret move, clean plan.
    tf.write_main(&config(
        there,
        "  instance_id = keyshift_key.app.instance_id\n",
    ));
    tf.apply();
    let other = id_of(&tf, "keyshift_kms_instance.other");
    assert_eq!(secret_container(&tf, &secret), Container::Instance(other));
    tf.assert_clean_plan();
}
