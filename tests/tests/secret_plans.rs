//! "Plans that pass must apply" for secrets and BYOK keys, through the real
//! terraform CLI: a secret's type changes in place, a secret that would
//! leave its key behind is refused at plan, a secret is adopted without its
//! value, and a BYOK key refuses other material at plan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};
use serde_json::Value as Json;

const VALUE: &str = "KS-PLANS-VALUE-5be0c7d1";

fn secret_config(ty: &str, secret_placement: &str, key_placement: &str) -> String {
    format!(
        r#"variable "secret" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

resource "keyshift_kms_instance" "i" {{
  name = "plans"
}}

resource "keyshift_key" "k" {{
{key_placement}}}

resource "keyshift_secret" "s" {{
  name                   = "app/token"
  type                   = "{ty}"
  encryption_key_id      = keyshift_key.k.id
  secret_data_wo         = var.secret
  secret_data_wo_version = 1
{secret_placement}}}
"#
    )
}

fn str_of(v: &Json, attr: &str) -> String {
    v[attr].as_str().unwrap_or_default().to_string()
}

/// `keyshift secret get` of `secret` in the test's store: the stored value.
fn stored(tf: &Tf, secret: &str) -> String {
    let r = tf.keyshift(&["secret", "get", secret]);
    assert_eq!(r.code, 0, "{}", r.all());
    r.stdout
}

#[test]
fn type_change_and_moves_plan_what_applies() {
    let tf = Tf::new().with_env("TF_VAR_secret", VALUE);
    tf.write_main(&secret_config("Generic", "", ""));
    tf.apply();
    let s1 = tf.resource("keyshift_secret.s");
    let key_id = str_of(&tf.resource("keyshift_key.k"), "id");

    // type: an in-place update keeping id, versions and value.
    tf.write_main(&secret_config("RDS", "", ""));
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_secret.s"), ["update"]);
    tf.apply();
    let s2 = tf.resource("keyshift_secret.s");
    assert_eq!(s2["type"], "RDS");
    assert_eq!(
        (&s2["id"], &s2["version_id"]),
        (&s1["id"], &s1["version_id"])
    );
    assert_eq!(stored(&tf, "app/token"), VALUE);
    tf.assert_clean_plan();

    // instance_id on the secret alone: refused at plan, on instance_id,
    // naming the key left behind and how to fix it; nothing changes.
    let here = "  instance_id = keyshift_kms_instance.i.id\n";
    tf.write_main(&secret_config("RDS", here, ""));
    let r = tf.plan_code();
    assert_eq!(r.code, 1, "{}", r.all());
    let flat = r.flat();
    for want in [
        "Secret cannot be migrated",
        "instance_id = keyshift_kms_instance.i.id",
        key_id.as_str(),
        "same apply",
    ] {
        assert!(flat.contains(want), "{want:?} missing: {flat}");
    }
    // Key and secret together: both in-place updates, and the apply works.
    tf.write_main(&secret_config("RDS", here, here));
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.k"), ["update"]);
    assert_eq!(planned_actions(&plan, "keyshift_secret.s"), ["update"]);
    tf.apply();
    let inst = str_of(&tf.resource("keyshift_kms_instance.i"), "id");
    assert_eq!(
        tf.resource("keyshift_secret.s")["instance_id"],
        inst.as_str()
    );
    assert_eq!(
        tf.keyshift(&["secret", "get", "app/token", "--instance", &inst])
            .stdout,
        VALUE
    );
    tf.assert_clean_plan();
    tf.destroy().ok();
}

#[test]
fn import_adopts_a_secret_without_its_value() {
    let tf = Tf::new().with_env("TF_VAR_secret", VALUE);
    tf.write_main(&secret_config("Generic", "", ""));
    tf.apply();
    let key_id = str_of(&tf.resource("keyshift_key.k"), "id");
    let id = str_of(&tf.resource("keyshift_secret.s"), "id");
    let version = str_of(&tf.resource("keyshift_secret.s"), "version_id");

    // A fresh state and a configuration that does not know the value.
    tf.forget_state();
    let bare = format!(
        "resource \"keyshift_key\" \"k\" {{}}\n\nresource \"keyshift_secret\" \"s\" {{\n  name              = \"app/token\"\n  encryption_key_id = keyshift_key.k.id\n}}\n\nimport {{\n  to = keyshift_key.k\n  id = \"{key_id}\"\n}}\n\nimport {{\n  to = keyshift_secret.s\n  id = \"{id}\"\n}}\n"
    );
    tf.write_main(&bare);
    let plan = tf.plan_json();
    for address in ["keyshift_key.k", "keyshift_secret.s"] {
        assert_eq!(planned_actions(&plan, address), ["no-op"], "{address}");
    }
    tf.apply();
    tf.assert_clean_plan();
    let s = tf.resource("keyshift_secret.s");
    assert_eq!(
        (str_of(&s, "id"), str_of(&s, "version_id")),
        (id.clone(), version.clone())
    );
    assert_eq!(stored(&tf, &id), VALUE, "the stored value is untouched");

    // Taking the value over later: the first version number is adopted
    // (an honest update of secret_data_wo_version only), still no write.
    let with_value = secret_config("Generic", "", "").replace(
        "resource \"keyshift_kms_instance\" \"i\" {\n  name = \"plans\"\n}\n",
        "",
    );
    tf.write_main(&with_value);
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_secret.s"), ["update"]);
    let tf = tf.with_env("TF_VAR_secret", "a-new-value");
    tf.apply();
    assert_eq!(
        str_of(&tf.resource("keyshift_secret.s"), "version_id"),
        version
    );
    assert_eq!(stored(&tf, "app/token"), VALUE);
    tf.destroy().ok();
}

fn byok_config(version: i64) -> String {
    "variable \"material\" {\n  type      = string\n  sensitive = true\n  ephemeral = true\n}\n\nresource \"keyshift_key\" \"b\" {\n  origin                  = \"EXTERNAL\"\n  key_material_wo         = var.material\n  key_material_wo_version = VERSION\n}\n"
        .replace("VERSION", &version.to_string())
}

#[test]
fn byok_reimport_same_material_applies_other_material_fails_at_plan() {
    let a = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="; // 32 x 'A'
    let b = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="; // 32 x 'B'
    let tf = Tf::new().with_env("TF_VAR_material", a);
    tf.write_main(&byok_config(1));
    tf.apply();
    let k1 = tf.resource("keyshift_key.b");
    assert_eq!(k1["state"], "Enabled");

    // Same material under a new version number: plans and applies (no-op).
    tf.write_main(&byok_config(2));
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.b"), ["update"]);
    tf.apply();
    let k2 = tf.resource("keyshift_key.b");
    assert_eq!(k2["key_material_wo_version"], 2);
    assert_eq!(k2["current_version"], k1["current_version"]);
    tf.assert_clean_plan();

    // Other material: refused at plan, on key_material_wo, with the reason.
    let tf = tf.with_env("TF_VAR_material", b);
    tf.write_main(&byok_config(3));
    let r = tf.plan_code();
    assert_eq!(r.code, 1, "{}", r.all());
    let flat = r.flat();
    assert!(
        flat.contains("Key material cannot be imported")
            && flat.contains("key_material_wo")
            && flat.contains("different key material"),
        "{flat}"
    );
    assert!(
        !flat.contains(b) && !flat.contains(a),
        "material never shown"
    );
    assert_eq!(tf.resource("keyshift_key.b")["key_material_wo_version"], 2);
    tf.write_main(&byok_config(2));
    tf.destroy().ok();
}
