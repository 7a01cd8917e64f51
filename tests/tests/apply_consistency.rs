//! An apply never contradicts its plan when another actor changes a key in
//! between, through the real terraform and the real `keyshift`: a key
//! rotated, or migrated, between `terraform plan -out` and `apply` of an
//! update applies (no "Provider produced inconsistent result"), and a
//! `keyshift key rotate` loop running during several applies of updates
//! causes no such error either; afterwards the plan is clean.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use keyshift_core::engine::Kms;
use keyshift_core::store::Container;
use keyshift_e2e::Tf;

/// `count` rotatable keys described `label`, and an instance.
fn config(count: usize, label: &str) -> String {
    format!(
        r#"resource "keyshift_kms_instance" "dest" {{
  name = "dest"
}}

resource "keyshift_key" "k" {{
  count         = {count}
  multi_version = true
  description   = "{label} ${{count.index}}"
}}
"#
    )
}

const INCONSISTENT: &str = "inconsistent result";

fn key_id(tf: &Tf, i: usize) -> String {
    tf.resource(&format!("keyshift_key.k[{i}]"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn rotated_or_migrated_between_plan_and_apply() {
    let tf = Tf::new();
    tf.write_main(&config(1, "v0"));
    tf.apply();
    let id = key_id(&tf, 0);
    let kst = tf.resource("keyshift_kms_instance.dest")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kms = Kms::open(&tf.store(), "test").unwrap();

    let cases: [(&str, &[&str]); 2] = [
        ("rotated", &["key", "rotate", &id]),
        ("migrated", &["migrate", "--to", &kst, &id]),
    ];
    for (n, (name, between)) in cases.iter().enumerate() {
        tf.write_main(&config(1, &format!("v{}", n + 1)));
        tf.run(&["plan", "-out=tfplan"]).ok();
        let r = tf.keyshift(between);
        assert_eq!(r.code, 0, "{name}: {}", r.all());
        let r = tf.run(&["apply", "tfplan"]);
        assert_eq!(r.code, 0, "{name}: {}", r.all());
        assert!(!r.all().contains(INCONSISTENT), "{name}: {}", r.all());
        let key = kms.get_key(&id).unwrap();
        assert_eq!(key.description, format!("v{} 0", n + 1), "{name}");
        tf.assert_clean_plan();
        tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
        let state = tf.resource("keyshift_key.k[0]");
        assert_eq!(
            state["current_version"],
            key.current_version.as_str(),
            "{name}"
        );
    }
    assert_eq!(
        kms.get_key(&id).unwrap().container,
        Container::Instance(kst.clone())
    );
    assert_eq!(
        tf.resource("keyshift_key.k[0]")["instance_id"],
        kst.as_str()
    );
}

#[test]
fn a_rotation_loop_during_applies_causes_no_inconsistent_result() {
    const KEYS: usize = 8;
    const APPLIES: usize = 6;
    /// Bound on the rotations of the whole test.
    const MAX_ROTATIONS: usize = 2_000;
    let tf = Tf::new();
    tf.write_main(&config(KEYS, "v0"));
    tf.apply();
    let ids: Vec<String> = (0..KEYS).map(|i| key_id(&tf, i)).collect();
    let rotations = AtomicUsize::new(0);
    for round in 1..=APPLIES {
        tf.write_main(&config(KEYS, &format!("v{round}")));
        let done = AtomicBool::new(false);
        let before = rotations.load(Ordering::SeqCst);
        let apply = std::thread::scope(|s| {
            s.spawn(|| {
                for id in ids.iter().cycle() {
                    let n = rotations.load(Ordering::SeqCst);
                    if done.load(Ordering::SeqCst) || n >= MAX_ROTATIONS {
                        break;
                    }
                    let r = tf.keyshift(&["key", "rotate", id]);
                    assert_eq!(r.code, 0, "{}", r.all());
                    rotations.fetch_add(1, Ordering::SeqCst);
                }
            });
            let r = tf.run(&["apply", "-auto-approve"]);
            done.store(true, Ordering::SeqCst);
            r
        });
        assert!(
            !apply.all().contains(INCONSISTENT),
            "apply {round}: {}",
            apply.all()
        );
        assert_eq!(apply.code, 0, "apply {round}: {}", apply.all());
        assert!(
            rotations.load(Ordering::SeqCst) > before,
            "apply {round} ran without a rotation"
        );
    }
    let kms = Kms::open(&tf.store(), "test").unwrap();
    for id in &ids {
        let k = kms.get_key(id).unwrap();
        assert!(k.description.starts_with(&format!("v{APPLIES} ")), "{id}");
    }
    tf.assert_clean_plan();
}
