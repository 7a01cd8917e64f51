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
"#;

#[test]
fn rename_and_count_to_for_each_become_moves_that_keep_the_keys() {
    let tf = Tf::new();
    tf.write_main(BEFORE);
    tf.apply();
    let id = |a: &str| tf.resource(a)["id"].as_str().unwrap().to_string();
    let ids = [
        id("keyshift_key.old"),
        id("keyshift_key.list[0]"),
        id("keyshift_key.list[1]"),
    ];

    tf.write_main(AFTER);
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
            .contains("(3 added, 0 already present, 0 ambiguous, 0 refused)"),
        "{}",
        run.all()
    );
    let fmt = tf.run(&["fmt", "-check"]);
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
        ],
        ids,
        "every key keeps its id"
    );
    tf.assert_clean_plan();
    let again = tf.keyshift(&["rewrite", ".", "--add-moves", "--plan", "plan.json"]);
    assert!(
        again
            .stdout
            .contains("no moved blocks needed (0 added, 3 already present"),
        "{}",
        again.all()
    );
}
