//! The quickstart example (what `make demo` applies) works as documented:
//! an instance, three keys (one shared, two in the instance) and an alias,
//! ids as outputs, a clean second plan, and a clean destroy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::Tf;

#[test]
fn quickstart_applies_and_replans_clean() {
    let tf = Tf::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart/main.tf"
    );
    tf.write("main.tf", &std::fs::read_to_string(example).unwrap());
    tf.apply();
    let out = tf.run(&["output", "-json"]).ok();
    let outputs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let instance = outputs["instance_id"]["value"].as_str().unwrap();
    assert!(instance.starts_with("kst-"), "{outputs}");
    let keys = outputs["key_ids"]["value"].as_object().unwrap();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.values()
            .all(|k| k.as_str().unwrap().starts_with("key-"))
    );
    assert_eq!(outputs["alias"]["value"], "alias/payments/data");
    assert_eq!(
        tf.resource("keyshift_key.shared")["instance_id"],
        serde_json::Value::Null
    );
    assert_eq!(
        tf.resource("keyshift_key.payments_signing")["instance_id"],
        instance
    );
    assert!(tf.store().join("keyshift.db").exists());
    tf.assert_clean_plan();
    tf.destroy().ok();
}
