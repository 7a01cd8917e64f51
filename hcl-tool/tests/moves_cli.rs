//! `keyshift plan-check --suggest-moves` and `keyshift rewrite --add-moves`
//! on plan JSON fixtures shaped like Terraform 1.11's output for a rename,
//! a `count` -> `for_each` refactor and a module-internal rename.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use support::{code, keyshift, stdout};

/// A `keyshift_key` change as Terraform plans it (delete: `before` with the
/// computed values; create: `after` with them unknown).
fn key_change(module: &str, address: &str, actions: &str, desc: &str) -> String {
    let full = match module {
        "" => address.to_owned(),
        m => format!("{m}.{address}"),
    };
    let module_field = match module {
        "" => String::new(),
        m => format!(r#""module_address":{m:?},"#),
    };
    let name = address
        .trim_start_matches("keyshift_key.")
        .split('[')
        .next()
        .unwrap();
    let config = format!(
        r#""description":"{desc}","enabled":true,"spec":"AES_256","usage":"ENCRYPT/DECRYPT","tags":{{"team":"a"}},"instance_id":null,"deletion_window_in_days":30"#
    );
    let (before, after, unknown) = if actions == r#"["delete"]"# {
        (
            format!(
                r#"{{"id":"key-{name}-{desc}","creation_date":"2026-12-01T18:43:14Z","current_version":"v-{desc}",{config}}}"#
            ),
            "null".to_owned(),
            "{}".to_owned(),
        )
    } else {
        (
            "null".to_owned(),
            format!("{{{config}}}"),
            r#"{"id":true,"creation_date":true,"current_version":true,"tags":{}}"#.to_owned(),
        )
    };
    format!(
        r#"{{"address":{full:?},{module_field}"mode":"managed","type":"keyshift_key","name":"{name}","provider_name":"registry.terraform.io/keyshift/keyshift","change":{{"actions":{actions},"before":{before},"after":{after},"after_unknown":{unknown},"before_sensitive":{{}},"after_sensitive":{{}}}}}}"#
    )
}

fn del(module: &str, address: &str, desc: &str) -> String {
    key_change(module, address, r#"["delete"]"#, desc)
}

fn add(module: &str, address: &str, desc: &str) -> String {
    key_change(module, address, r#"["create"]"#, desc)
}

fn write_plan(dir: &Path, changes: &[String]) {
    let text = format!(
        r#"{{"format_version":"1.2","terraform_version":"1.11.4","planned_values":{{}},"complete":true,"errored":false,"resource_changes":[{}]}}"#,
        changes.join(",")
    );
    std::fs::write(dir.join("plan.json"), text).unwrap();
}

fn refactor_plan() -> Vec<String> {
    vec![
        del("", "keyshift_key.old", "orders"),
        add("", "keyshift_key.new", "orders"),
        del("", "keyshift_key.list[0]", "k0"),
        del("", "keyshift_key.list[1]", "k1"),
        add("", r#"keyshift_key.list["a"]"#, "k0"),
        add("", r#"keyshift_key.list["b"]"#, "k1"),
        del("module.kms", "keyshift_key.main", "m"),
        add("module.kms", "keyshift_key.primary", "m"),
    ]
}

const MAIN: &str = r#"resource "keyshift_key" "new" {
  description = "orders"
  tags        = { team = "a" }
}

resource "keyshift_key" "list" {
  for_each    = { a = "k0", b = "k1" }
  description = each.value
}

module "kms" {
  source = "./kms"
}
"#;

const KMS: &str = r#"resource "keyshift_key" "primary" {
  description = "m"
}
"#;

fn config(dir: &Path) {
    std::fs::write(dir.join("main.tf"), MAIN).unwrap();
    std::fs::create_dir(dir.join("kms")).unwrap();
    std::fs::write(dir.join("kms/keys.tf"), KMS).unwrap();
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn plan_check_suggests_the_moves_and_still_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(dir.path(), &refactor_plan());
    let store = dir.path().join("store");
    let plan = dir.path().join("plan.json");
    let plan = plan.to_str().unwrap();
    let out = keyshift(&store, &["plan-check", plan, "--suggest-moves"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    let suggested = text.split_once("suggested moves: ").unwrap().1;
    assert_eq!(
        suggested,
        r#"4 (add them with `keyshift rewrite DIR --add-moves --plan PLAN.json`)
# root module
moved {
  from = keyshift_key.list[0]
  to   = keyshift_key.list["a"]
}
moved {
  from = keyshift_key.list[1]
  to   = keyshift_key.list["b"]
}
moved {
  from = keyshift_key.old
  to   = keyshift_key.new
}
# module module.kms (in that module's files)
moved {
  from = keyshift_key.main
  to   = keyshift_key.primary
}
"#
    );
    assert!(text.contains("error: keyshift_key.old: "), "{text}");

    let plain = stdout(&keyshift(&store, &["plan-check", plan]));
    assert!(!plain.contains("moved"), "{plain}");

    let json = keyshift(
        &store,
        &["plan-check", plan, "--suggest-moves", "--format", "json"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["moves"]["moves"].as_array().unwrap().len(), 4);
    assert_eq!(doc["moves"]["moves"][3]["module"], "module.kms");
    assert_eq!(doc["moves"]["ambiguous"], serde_json::json!([]));
}

#[test]
fn plan_check_reports_ambiguous_and_unmatched_pairs_without_guessing() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(
        dir.path(),
        &[
            del("", "keyshift_key.a", "same"),
            add("", "keyshift_key.x", "same"),
            add("", "keyshift_key.y", "same"),
            del("", "keyshift_key.b", "one"),
            add("", "keyshift_key.c", "other"),
        ],
    );
    let plan = dir.path().join("plan.json");
    let out = keyshift(
        &dir.path().join("store"),
        &["plan-check", plan.to_str().unwrap(), "--suggest-moves"],
    );
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("suggested moves: 0 "), "{text}");
    assert!(
        text.contains(
            "ambiguous: deleted keyshift_key.a and created keyshift_key.x, keyshift_key.y have \
             the same configuration in more than one pairing; no moved block is suggested"
        ),
        "{text}"
    );
    assert!(!text.contains("keyshift_key.b ->"), "{text}");
    assert!(!text.contains("from = keyshift_key.b"), "{text}");
}

#[test]
fn rewrite_add_moves_writes_each_block_into_its_module_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    config(d);
    write_plan(d, &refactor_plan());
    let store = d.join("store");
    let dir_arg = d.to_str().unwrap();
    let plan = d.join("plan.json");
    let plan = plan.to_str().unwrap();
    let args = ["rewrite", dir_arg, "--add-moves", "--plan", plan];

    let check = keyshift(&store, &[&args[..], &["--check"]].concat());
    assert_eq!(code(&check), 1, "{}", stdout(&check));
    assert!(
        stdout(&check).contains("+  from = keyshift_key.old"),
        "{}",
        stdout(&check)
    );
    assert_eq!(read(d, "main.tf"), MAIN, "--check writes nothing");

    let json = keyshift(
        &store,
        &[&args[..], &["--check", "--format", "json"]].concat(),
    );
    assert_eq!(code(&json), 1);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["added"].as_array().unwrap().len(), 4, "{doc}");
    assert_eq!(doc["added"][0]["line"], 15, "{doc}");
    assert_eq!(doc["changed_files"].as_array().unwrap().len(), 2, "{doc}");

    let out = keyshift(&store, &args);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "module.kms: added moved { from = keyshift_key.main to = keyshift_key.primary }"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("rewrite --add-moves: wrote 2 file(s) (4 added, 0 already present, 0 ambiguous, 0 refused)\n"),
        "{text}"
    );
    let moved_root = "\nmoved {\n  from = keyshift_key.list[0]\n  to   = keyshift_key.list[\"a\"]\n}\n\nmoved {\n  from = keyshift_key.list[1]\n  to   = keyshift_key.list[\"b\"]\n}\n\nmoved {\n  from = keyshift_key.old\n  to   = keyshift_key.new\n}\n";
    assert_eq!(read(d, "main.tf"), format!("{MAIN}{moved_root}"));
    assert_eq!(
        read(d, "kms/keys.tf"),
        format!("{KMS}\nmoved {{\n  from = keyshift_key.main\n  to   = keyshift_key.primary\n}}\n")
    );

    let again = keyshift(&store, &args);
    assert_eq!(code(&again), 0);
    assert!(
        stdout(&again).contains("no moved blocks needed (0 added, 4 already present"),
        "{}",
        stdout(&again)
    );
    assert_eq!(read(d, "main.tf"), format!("{MAIN}{moved_root}"));

    let fmt = std::process::Command::new(
        std::env::var("KEYSHIFT_TERRAFORM_BIN").unwrap_or("terraform".into()),
    )
    .args(["fmt", "-check", "-recursive", dir_arg])
    .output()
    .expect("terraform on PATH");
    assert!(
        fmt.status.success(),
        "not fmt-clean: {}",
        String::from_utf8_lossy(&fmt.stdout)
    );
}

#[test]
fn rewrite_add_moves_refuses_ambiguity_and_bad_input_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    config(d);
    let store = d.join("store");
    let plan = d.join("plan.json");
    let (dir_arg, plan_arg) = (d.to_str().unwrap(), plan.to_str().unwrap());
    write_plan(
        d,
        &[
            del("", "keyshift_key.old", "orders"),
            add("", "keyshift_key.new", "orders"),
            add("", "keyshift_key.other", "orders"),
        ],
    );
    let out = keyshift(
        &store,
        &["rewrite", dir_arg, "--add-moves", "--plan", plan_arg],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("ambiguous: deleted keyshift_key.old"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read(d, "main.tf"), MAIN);

    std::fs::write(
        &plan,
        r#"{"format_version":"1.0","values":{"root_module":{}}}"#,
    )
    .unwrap();
    let out = keyshift(
        &store,
        &["rewrite", dir_arg, "--add-moves", "--plan", plan_arg],
    );
    assert_eq!(code(&out), 2);
    assert!(
        support::stderr(&out).contains("is a state"),
        "{}",
        support::stderr(&out)
    );

    let out = keyshift(&store, &["rewrite", dir_arg, "--add-moves"]);
    assert_eq!(code(&out), 2, "--add-moves without --plan is a usage error");
    let mixed = [
        "rewrite",
        dir_arg,
        "--add-moves",
        "--plan",
        plan_arg,
        "--insert-everywhere",
        "a=1",
    ];
    assert_eq!(
        code(&keyshift(&store, &mixed)),
        2,
        "--add-moves with another mode"
    );
    assert_eq!(read(d, "main.tf"), MAIN);
}
