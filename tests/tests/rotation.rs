//! Key rotation end to end: `rotation_interval` on a multi-version key
//! applies with computed `last_rotation_date`/`next_rotation_date`;
//! rotations made with the `keyshift` CLI (`key rotate`, `rotate --due`)
//! show after a refresh with an empty plan; interval changes plan the next
//! date as unknown; keys that can never rotate are refused at plan time on
//! `rotation_interval`; `keyshift_secret` no longer takes one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use keyshift_core::engine::rotation::{format_time, parse_time};
use keyshift_e2e::{Tf, planned_actions};
use serde_json::Value as Json;

fn config(interval: Option<&str>) -> String {
    let line = interval
        .map(|i| format!("  rotation_interval = \"{i}\"\n"))
        .unwrap_or_default();
    format!(
        r#"resource "keyshift_key" "data" {{
  description   = "rotating data key"
  multi_version = true
{line}}}

data "keyshift_key" "data" {{
  id = keyshift_key.data.id
}}
"#
    )
}

/// `from` (RFC 3339) plus `days`.
fn plus_days(from: &Json, days: u64) -> String {
    let t = parse_time("date", from.as_str().unwrap()).unwrap();
    format_time(t + Duration::from_secs(days * 86_400))
}

#[test]
fn rotation_interval_applies_and_cli_rotations_refresh_clean() {
    let tf = Tf::new();
    tf.write_main(&config(Some("30d")));
    tf.apply();
    let key = tf.resource("keyshift_key.data");
    let id = key["id"].as_str().unwrap().to_string();
    assert_eq!(key["last_rotation_date"], Json::Null);
    assert_eq!(
        key["next_rotation_date"],
        plus_days(&key["creation_date"], 30)
    );
    tf.assert_clean_plan();

    // On demand, out of band: the refresh shows it, the plan stays empty.
    let r = tf.keyshift(&["key", "rotate", &id]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("version 2"), "{}", r.stdout);
    tf.assert_clean_plan();
    tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
    let rotated = tf.resource("keyshift_key.data");
    assert_ne!(rotated["current_version"], key["current_version"]);
    assert!(rotated["last_rotation_date"].is_string(), "{rotated}");
    assert_eq!(
        rotated["next_rotation_date"],
        plus_days(&rotated["last_rotation_date"], 30)
    );
    let seen = tf.resource("data.keyshift_key.data");
    assert_eq!(seen["last_rotation_date"], rotated["last_rotation_date"]);
    assert_eq!(seen["next_rotation_date"], rotated["next_rotation_date"]);

    // Scheduled: due once 30 days have passed (evaluated at a later time).
    let later = plus_days(&rotated["last_rotation_date"], 31);
    let r = tf.keyshift(&["rotate", "--due", "--now", &later, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let report: Json = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["keys"][0]["key_id"], id.as_str());
    assert_eq!(report["keys"][0]["outcome"], "rotated");
    tf.assert_clean_plan();
    tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
    let scheduled = tf.resource("keyshift_key.data");
    assert_eq!(
        scheduled["current_version"],
        report["keys"][0]["current_version"]
    );
    assert_ne!(scheduled["last_rotation_date"], Json::Null);

    // A new interval: update in place, next date unknown until applied.
    tf.write_main(&config(Some("60d")));
    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.data"), ["update"]);
    let change = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "keyshift_key.data")
        .unwrap();
    assert_eq!(
        change["change"]["after_unknown"]["next_rotation_date"],
        true
    );
    tf.apply();
    let longer = tf.resource("keyshift_key.data");
    assert_eq!(
        longer["next_rotation_date"],
        plus_days(&scheduled["last_rotation_date"], 60)
    );
    assert_eq!(longer["current_version"], scheduled["current_version"]);
    tf.assert_clean_plan();

    // No interval: no next date; rotations stay recorded.
    tf.write_main(&config(None));
    tf.apply();
    let off = tf.resource("keyshift_key.data");
    assert_eq!(off["next_rotation_date"], Json::Null);
    assert_eq!(off["last_rotation_date"], scheduled["last_rotation_date"]);
    tf.assert_clean_plan();
}

#[test]
fn keys_that_can_never_rotate_are_refused_at_plan() {
    let tf = Tf::new();
    let single = r#"resource "keyshift_key" "single" {
  rotation_interval = "90d"
}
"#;
    let others = r#"resource "keyshift_key" "rsa" {
  spec              = "RSA_2048"
  rotation_interval = "90d"
}

resource "keyshift_key" "byok" {
  origin            = "EXTERNAL"
  multi_version     = true
  rotation_interval = "90d"
}
"#;
    // Explicit attributes fail validation; the defaulted single-version
    // key fails the plan (multi_version is only known there).
    for (body, cases) in [
        (
            single,
            &[("keyshift_key.single", "the key is single-version")][..],
        ),
        (
            others,
            &[
                ("keyshift_key.rsa", "RSA_2048 keys do not rotate"),
                ("keyshift_key.byok", "origin EXTERNAL"),
            ][..],
        ),
    ] {
        tf.write_main(body);
        let r = tf.run(&["plan"]);
        assert_eq!(r.code, 1, "{}", r.all());
        let flat = r.flat();
        for (resource, why) in cases {
            assert!(
                flat.contains(&format!("with {resource}, on main.tf"))
                    && flat.contains("rotation_interval = \"90d\"")
                    && flat.contains(why),
                "{resource}: {flat}"
            );
        }
        assert_eq!(
            flat.matches("Error: Key cannot rotate").count(),
            cases.len(),
            "{flat}"
        );
    }

    tf.write_main(
        r#"resource "keyshift_secret" "s" {
  name              = "db"
  encryption_key_id = "key-00000000-0000-0000-0000-000000000000"
  secret_data       = "x"
  rotation_interval = "30d"
}
"#,
    );
    let r = tf.run(&["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let flat = r.flat();
    assert!(
        flat.contains("Unsupported argument") && flat.contains("rotation_interval"),
        "{flat}"
    );
}

#[test]
fn quickstart_data_key_rotates_by_alias_and_replans_clean() {
    let tf = Tf::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart/main.tf"
    );
    tf.write("main.tf", &std::fs::read_to_string(example).unwrap());
    tf.apply();
    let before = tf.resource("keyshift_key.payments_data");
    assert_eq!(
        before["next_rotation_date"],
        plus_days(&before["creation_date"], 90)
    );
    let r = tf.keyshift(&["key", "rotate", "alias/payments/data"]);
    assert_eq!(r.code, 0, "{}", r.all());
    tf.assert_clean_plan();
}
