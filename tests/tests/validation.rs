//! Invalid configurations fail at `terraform plan`, naming the attribute,
//! and change nothing (the key store is not even opened).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_core::engine::Kms;
use keyshift_e2e::Tf;

#[test]
fn invalid_configs_fail_at_plan_with_the_attribute() {
    let cases = [
        (
            "bad spec",
            "resource \"keyshift_key\" \"k\" {\n  spec = \"AES_128\"\n}\n",
            "spec = \"AES_128\"",
            "Invalid spec",
        ),
        (
            "window 40",
            "resource \"keyshift_key\" \"k\" {\n  deletion_window_in_days = 40\n}\n",
            "deletion_window_in_days = 40",
            "from 7 to 30",
        ),
        (
            "alias without prefix",
            "resource \"keyshift_alias\" \"a\" {\n  name   = \"app\"\n  key_id = \"key-x\"\n}\n",
            "name = \"app\"",
            "must start with \"alias/\"",
        ),
        (
            "sign/verify on AES",
            "resource \"keyshift_key\" \"k\" {\n  spec  = \"AES_256\"\n  usage = \"SIGN/VERIFY\"\n}\n",
            "usage = \"SIGN/VERIFY\"",
            "Invalid usage for this key spec",
        ),
        (
            "instance type",
            "resource \"keyshift_kms_instance\" \"i\" {\n  name = \"x\"\n  type = \"quantum\"\n}\n",
            "type = \"quantum\"",
            "Invalid type",
        ),
    ];
    for (name, hcl, source_line, message) in cases {
        let tf = Tf::new();
        tf.write_main(hcl);
        let r = tf.run(&["plan"]);
        let all = r.flat();
        assert_eq!(r.code, 1, "{name}: {all}");
        // Terraform quotes the offending line only when the diagnostic has
        // the attribute's path.
        assert!(
            all.contains(source_line),
            "{name}: no attribute path in:\n{all}"
        );
        assert!(all.contains(message), "{name}: {all}");
        assert!(!tf.store().exists(), "{name}: the store was touched");
    }
}

/// A reference to an object that does not exist fails `terraform apply` at
/// its plan, on the referring attribute, before any other resource of the
/// same configuration is created.
#[test]
fn dangling_references_fail_at_plan_before_anything_is_created() {
    let cases = [
        (
            "alias to a missing key",
            "resource \"keyshift_alias\" \"a\" {\n  name   = \"alias/app\"\n  key_id = \"key-00000000-0000-0000-0000-000000000000\"\n}\n",
            "key_id = \"key-00000000-0000-0000-0000-000000000000\"",
            "key key-00000000-0000-0000-0000-000000000000 not found",
        ),
        (
            "key in a missing instance",
            "resource \"keyshift_key\" \"k\" {\n  instance_id = \"kst-000000000000\"\n}\n",
            "instance_id = \"kst-000000000000\"",
            "instance kst-000000000000 not found",
        ),
    ];
    for (name, hcl, source_line, message) in cases {
        let tf = Tf::new();
        tf.write_main(&format!("resource \"keyshift_key\" \"fine\" {{}}\n\n{hcl}"));
        let r = tf.run(&["apply", "-auto-approve"]);
        let all = r.flat();
        assert_eq!(r.code, 1, "{name}: {all}");
        assert!(
            all.contains(source_line),
            "{name}: no attribute path in:\n{all}"
        );
        assert!(all.contains(message), "{name}: {all}");
        assert!(!all.contains("Creation complete"), "{name}: {all}");
        let kms = Kms::open(&tf.store(), "test").unwrap();
        assert!(
            kms.list_keys(None).unwrap().is_empty(),
            "{name}: a key was created"
        );
    }
}

/// A store that cannot be opened fails the plan on `store_path`, naming the
/// path once and the reason.
#[test]
fn unusable_store_path_fails_on_the_attribute() {
    let tf = Tf::new();
    tf.write("afile", "not a directory");
    tf.write_main(
        "provider \"keyshift\" {\n  store_path = \"afile/sub\"\n}\n\nresource \"keyshift_key\" \"k\" {}\n",
    );
    let r = tf.run(&["plan"]);
    let all = r.flat();
    assert_eq!(r.code, 1, "{all}");
    assert!(all.contains("Cannot open the key store"), "{all}");
    assert!(all.contains("store_path = \"afile/sub\""), "{all}");
    assert!(all.contains("Not a directory"), "{all}");
    let detail = all.split("Not a directory").nth(1).unwrap_or_default();
    assert!(!detail.contains("afile/sub"), "path repeated: {all}");
}

#[test]
fn providers_schema_has_every_description() {
    let tf = Tf::new();
    tf.write_main("provider \"keyshift\" {}\n");
    let out = tf.run(&["providers", "schema", "-json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let p = &doc["provider_schemas"]["registry.terraform.io/keyshift/keyshift"];
    let mut blocks = vec![&p["provider"]["block"]];
    for kind in ["resource_schemas", "data_source_schemas"] {
        for (_, s) in p[kind].as_object().unwrap() {
            blocks.push(&s["block"]);
        }
    }
    assert!(blocks.len() >= 6, "{p}");
    for b in blocks {
        for (name, a) in b["attributes"].as_object().unwrap() {
            let d = a["description"].as_str().unwrap_or_default();
            assert!(!d.is_empty(), "{name} has no description");
        }
    }
    for t in ["keyshift_kms_instance", "keyshift_key", "keyshift_alias"] {
        assert!(p["resource_schemas"].get(t).is_some(), "{t} missing");
    }
}
