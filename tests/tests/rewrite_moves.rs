//! `moved` blocks instead of destroyed keys, with the real terraform and the
//! keyshift provider: renaming a key's block and refactoring a `count` list
//! into `for_each` plans deletes and creates (asserted on the plan JSON);
//! `keyshift plan-check --suggest-moves` names the pairs, `keyshift rewrite
//! --add-moves --plan` writes the blocks, the next plan deletes nothing and
//! the apply keeps every key id.
//!
//! (Removing an item from the middle of a `count` list alone plans an
//! in-place update of the shifted index and a delete of the last one: no
//! delete/create pair exists, so the remedy is this `for_each` refactor.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};
use serde_json::Value as Json;

const BEFORE: &str = r#"locals {
  names = ["orders", "billing"]
}

resource "keyshift_key" "old" {
  description = "signing"
  tags        = { team = "a" }
}

resource "keyshift_key" "list" {
  count       = length(local.names)
  description = local.names[count.index]
}

module "kms" {
  source = "./kms"
}
"#;

const AFTER: &str = r#"locals {
  names = ["orders", "billing"]
}

resource "keyshift_key" "signing" {
  description = "signing"
  tags        = { team = "a" }
}

resource "keyshift_key" "list" {
  for_each    = toset(local.names)
  description = each.key
}

module "kms" {
  source = "./kms"
}
"#;

/// The `id` of the resource at `address` in a state document, in the root
/// module or a child module.
fn key_id(state: &Json, address: &str) -> String {
    fn find(module: &Json, address: &str) -> Option<String> {
        let here = module["resources"].as_array().into_iter().flatten();
        let found = here
            .filter(|r| r["address"] == address)
            .find_map(|r| r["values"]["id"].as_str().map(str::to_owned));
        found.or_else(|| {
            let children = module["child_modules"].as_array().into_iter().flatten();
            children.into_iter().find_map(|c| find(c, address))
        })
    }
    find(&state["values"]["root_module"], address)
        .unwrap_or_else(|| panic!("{address} not in state"))
}

#[test]
fn rename_and_count_to_for_each_become_moves_that_keep_the_keys() {
    let tf = Tf::new();
    tf.write_main(BEFORE);
    std::fs::create_dir(tf.path().join("kms")).unwrap();
    let module = |name: &str| {
        let text = format!(
            "terraform {{\n  required_providers {{\n    keyshift = {{ source = \"keyshift/keyshift\" }}\n  }}\n}}\n\nresource \"keyshift_key\" \"{name}\" {{\n  description = \"module key\"\n}}\n"
        );
        tf.write("kms/keys.tf", &text);
    };
    module("main");
    // Installs the local module only (`init` would look the provider up in
    // the registry; it comes from dev_overrides).
    tf.run(&["get", "-no-color"]).ok();
    tf.apply();
    let id = |a: &str| key_id(&tf.state_json(), a);
    let ids = [
        id("keyshift_key.old"),
        id("keyshift_key.list[0]"),
        id("keyshift_key.list[1]"),
        id("module.kms.keyshift_key.main"),
    ];

    tf.write_main(AFTER);
    module("primary");
    let plan = tf.plan_json();
    for deleted in [
        "keyshift_key.old",
        "keyshift_key.list[0]",
        "keyshift_key.list[1]",
    ] {
        assert_eq!(planned_actions(&plan, deleted), ["delete"], "{deleted}");
    }
    std::fs::write(tf.path().join("plan.json"), plan.to_string()).unwrap();

    let check = tf.keyshift(&["plan-check", "plan.json", "--suggest-moves"]);
    assert_eq!(
        check.code,
        1,
        "the plan still destroys keys: {}",
        check.all()
    );
    assert!(
        check.stdout.contains(
            "moved {\n  from = keyshift_key.list[0]\n  to   = keyshift_key.list[\"orders\"]\n}\n"
        ),
        "{}",
        check.all()
    );

    let run = tf.keyshift(&["rewrite", ".", "--add-moves", "--plan", "plan.json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("(4 added, 0 already present, 0 ambiguous, 0 refused)"),
        "{}",
        run.all()
    );
    let keys = std::fs::read_to_string(tf.path().join("kms/keys.tf")).unwrap();
    assert!(
        keys.ends_with("\nmoved {\n  from = keyshift_key.main\n  to   = keyshift_key.primary\n}\n"),
        "{keys}"
    );
    let fmt = tf.run(&["fmt", "-check", "-recursive"]);
    assert_eq!(fmt.code, 0, "not fmt-clean: {}", fmt.all());

    let plan = tf.plan_json();
    let changes = plan["resource_changes"].as_array().unwrap();
    let deletes: Vec<&str> = changes
        .iter()
        .filter(|rc| {
            rc["change"]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "delete")
        })
        .map(|rc| rc["address"].as_str().unwrap())
        .collect();
    assert!(deletes.is_empty(), "still deletes {deletes:?}");
    for (to, from) in [
        ("keyshift_key.signing", "keyshift_key.old"),
        (r#"keyshift_key.list["orders"]"#, "keyshift_key.list[0]"),
        (r#"keyshift_key.list["billing"]"#, "keyshift_key.list[1]"),
        (
            "module.kms.keyshift_key.primary",
            "module.kms.keyshift_key.main",
        ),
    ] {
        assert_eq!(planned_actions(&plan, to), ["no-op"], "{to}");
        let rc = changes.iter().find(|rc| rc["address"] == to).unwrap();
        assert_eq!(rc["previous_address"], from, "{to}");
    }

    tf.apply();
    assert_eq!(
        [
            id("keyshift_key.signing"),
            id(r#"keyshift_key.list["orders"]"#),
            id(r#"keyshift_key.list["billing"]"#),
            id("module.kms.keyshift_key.primary"),
        ],
        ids,
        "every key keeps its id"
    );
    tf.assert_clean_plan();
    let again = tf.keyshift(&["rewrite", ".", "--add-moves", "--plan", "plan.json"]);
    assert!(
        again
            .stdout
            .contains("no moved blocks needed (0 added, 4 already present"),
        "{}",
        again.all()
    );
}

/// Removing the middle item of a `count` list: Terraform updates the
/// shifted index in place (another key now carries the removed item's
/// configuration) and destroys the last key. Refactoring to `for_each` in
/// the same change and adding the moves destroys exactly the removed item's
/// key and keeps the others.
#[test]
fn a_count_shift_refactored_to_for_each_destroys_only_the_removed_key() {
    let tf = Tf::new();
    let count = |names: &str| {
        format!(
            "resource \"keyshift_key\" \"list\" {{\n  count       = length({names})\n  description = {names}[count.index]\n}}\n"
        )
    };
    tf.write_main(&count(r#"["orders", "legacy", "billing"]"#));
    tf.apply();
    let id = |a: &str| key_id(&tf.state_json(), a);
    let (orders, legacy, billing) = (
        id("keyshift_key.list[0]"),
        id("keyshift_key.list[1]"),
        id("keyshift_key.list[2]"),
    );

    tf.write_main(&count(r#"["orders", "billing"]"#));
    let shifted = tf.plan_json();
    assert_eq!(
        planned_actions(&shifted, "keyshift_key.list[1]"),
        ["update"]
    );
    assert_eq!(
        planned_actions(&shifted, "keyshift_key.list[2]"),
        ["delete"]
    );

    tf.write_main(
        "resource \"keyshift_key\" \"list\" {\n  for_each    = toset([\"orders\", \"billing\"])\n  description = each.key\n}\n",
    );
    std::fs::write(tf.path().join("plan.json"), tf.plan_json().to_string()).unwrap();
    let run = tf.keyshift(&["rewrite", ".", "--add-moves", "--plan", "plan.json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("(2 added, 0 already present"),
        "{}",
        run.all()
    );

    let plan = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.list[1]"), ["delete"]);
    for kept in [
        r#"keyshift_key.list["orders"]"#,
        r#"keyshift_key.list["billing"]"#,
    ] {
        assert_eq!(planned_actions(&plan, kept), ["no-op"], "{kept}");
    }
    tf.apply();
    assert_eq!(id(r#"keyshift_key.list["orders"]"#), orders);
    assert_eq!(id(r#"keyshift_key.list["billing"]"#), billing);
    let state = tf.state_json().to_string();
    assert!(
        !state.contains(&legacy),
        "the removed item's key is destroyed"
    );
}
