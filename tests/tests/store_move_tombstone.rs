//! A Terraform configuration still pointing at a store that `keyshift
//! migrate --from-store A --to-store B --move` took its objects out of:
//! the refresh of every moved resource (key, alias, secret), a data source
//! reading one and an import of one fail with a diagnostic naming B and how
//! to point the configuration at it, so the plan never drops them from
//! state and never plans to create them again (with new material) in A.
//! Pointed at B (`store_url`), the same state plans clean.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use keyshift_e2e::Tf;
use serde_json::Value as Json;

/// The estate, with the provider on the store at `store`.
fn config(store: &Path) -> String {
    format!(
        r#"provider "keyshift" {{
  store_url = "{}"
}}

resource "keyshift_kms_instance" "payments" {{
  name = "payments"
  type = "software"
}}

resource "keyshift_key" "app" {{
  instance_id = keyshift_kms_instance.payments.id
  description = "payments app"
}}

resource "keyshift_alias" "app" {{
  name   = "alias/payments/app"
  key_id = keyshift_key.app.id
}}

resource "keyshift_secret" "db" {{
  name              = "payments/db"
  instance_id       = keyshift_kms_instance.payments.id
  encryption_key_id = keyshift_key.app.id
  secret_data       = "example-token"
}}

resource "keyshift_key" "shared" {{
  count       = 2
  description = "shared ${{count.index}}"
}}
"#,
        store.display()
    )
}

/// Every resource of the state: address → id.
fn state_ids(tf: &Tf) -> BTreeMap<String, String> {
    let state = tf.state_json();
    state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["values"]["id"].as_str().or(r["values"]["name"].as_str());
            (
                r["address"].as_str().unwrap().to_string(),
                id.unwrap().to_string(),
            )
        })
        .collect()
}

/// Ids of the keys in `store`, as `keyshift key list` shows them.
fn keys_in(tf: &Tf, store: &Path) -> Vec<String> {
    let store = store.to_str().unwrap();
    let r = tf
        .keyshift(&["--store", store, "key", "list", "--format", "json"])
        .ok();
    let list: Json = serde_json::from_str(&r.stdout).unwrap();
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Asserts `run` failed (exit 1) with the moved diagnostic naming `to`.
fn assert_moved(what: &str, run: &keyshift_e2e::Run, to: &str) {
    let flat = run.flat();
    assert_eq!(run.code, 1, "{what}: {}", run.all());
    for want in [
        "it was moved to another key store".to_string(),
        format!("was moved to the key store {to} at "),
        "(run mig-".to_string(),
        "`store_url` in the provider block, or KEYSHIFT_STORE".to_string(),
    ] {
        assert!(flat.contains(&want), "{what}: missing {want:?} in {flat}");
    }
    assert!(!flat.contains("to add"), "{what}: planned creates: {flat}");
}

#[test]
fn a_plan_against_the_store_moved_out_of_fails_naming_the_new_store() {
    let tf = Tf::new();
    let (a, b) = (tf.path().join("store-a"), tf.path().join("store-b"));
    tf.write_main(&config(&a));
    tf.apply();
    let before = state_ids(&tf);
    assert_eq!(before.len(), 6, "{before:?}");
    let moved_keys = keys_in(&tf, &a);

    let (a_arg, b_arg) = (a.to_str().unwrap(), b.to_str().unwrap());
    tf.keyshift(&[
        "migrate",
        "--from-store",
        a_arg,
        "--to-store",
        b_arg,
        "--all",
        "--include-secrets",
        "--move",
    ])
    .ok();
    assert_eq!(keys_in(&tf, &b), moved_keys);
    let b_name = std::fs::canonicalize(&b).unwrap();
    let b_name = b_name.to_str().unwrap();

    // Still on A: the refresh fails on every moved key (Terraform does not
    // refresh the alias and the secret, which depend on a failed one; the
    // imports below look them up).
    let plan = tf.plan_code();
    assert_moved("plan on A", &plan, b_name);
    for address in [
        "keyshift_key.app",
        "keyshift_key.shared[0]",
        "keyshift_key.shared[1]",
    ] {
        assert!(
            plan.flat().contains(&format!("with {address},")),
            "{address}: {}",
            plan.flat()
        );
    }
    let apply = tf.run(&["apply", "-auto-approve"]);
    assert_moved("apply on A", &apply, b_name);
    assert_eq!(keys_in(&tf, &a), Vec::<String>::new(), "nothing re-created");
    assert_eq!(state_ids(&tf), before, "nothing dropped from state");

    // Data sources reading a moved key, and imports of each moved kind.
    let key = &before["keyshift_key.app"];
    let provider = format!(
        "provider \"keyshift\" {{\n  store_url = \"{}\"\n}}\n",
        a.display()
    );
    let data = [
        ("data source by id", format!("id = \"{key}\"")),
        (
            "data source by alias",
            "alias = \"alias/payments/app\"".into(),
        ),
    ];
    for (name, arg) in data {
        let other = Tf::new();
        other.write_main(&format!(
            "{provider}\ndata \"keyshift_key\" \"k\" {{\n  {arg}\n}}\n"
        ));
        assert_moved(name, &other.plan_code(), b_name);
    }
    let instance = &before["keyshift_kms_instance.payments"];
    let imports = [
        ("keyshift_key", String::new(), key.as_str()),
        (
            "keyshift_alias",
            format!("name = \"alias/payments/app\"\n  key_id = \"{key}\""),
            "alias/payments/app",
        ),
        (
            "keyshift_secret",
            format!(
                "name = \"payments/db\"\n  instance_id = \"{instance}\"\n  \
                 encryption_key_id = \"{key}\""
            ),
            before["keyshift_secret.db"].as_str(),
        ),
    ];
    for (ty, args, id) in imports {
        let other = Tf::new();
        other.write_main(&format!(
            "{provider}\nresource \"{ty}\" \"adopted\" {{\n  {args}\n}}\n"
        ));
        let address = format!("{ty}.adopted");
        let import = other.run(&["import", &address, id]);
        assert_moved(&format!("import {ty}"), &import, b_name);
        let listed = other.run(&["state", "list"]);
        assert!(
            !listed.stdout.contains(&address),
            "{ty}: nothing imported: {}",
            listed.all()
        );
    }

    // Pointed at B, the same state plans clean.
    tf.write_main(&config(&b));
    tf.assert_clean_plan();
    assert_eq!(state_ids(&tf), before);
}
