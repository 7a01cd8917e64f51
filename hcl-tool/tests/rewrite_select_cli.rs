//! `keyshift rewrite --select GLOB… --set ATTR=VALUE`: migration as code on
//! hand-written configurations (no terraform needed). Every file the run
//! does not need to change comes back byte-identical.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::json;
use std::path::Path;
use std::process::Output;

const ROOT: &str = r#"resource "keyshift_key" "app" {
  for_each    = toset(["orders", "billing"])
  description = each.key
}

resource "keyshift_key" "other" {
  description = "other"
}

resource "keyshift_alias" "a" {
  name   = "alias/a"
  key_id = keyshift_key.other.id
}

module "kms" {
  source = "./kms"
}
"#;
const MODULE: &str = "resource \"keyshift_key\" \"k\" {\n  description = \"in a module\"\n}\n";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), ROOT).unwrap();
    std::fs::create_dir(dir.path().join("kms")).unwrap();
    std::fs::write(dir.path().join("kms/main.tf"), MODULE).unwrap();
    dir
}

fn rewrite(dir: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("keyshift")
        .unwrap()
        .arg("rewrite")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

const SET: &str = "instance_id=kst-0123456789ab";
const LINE: &str = "instance_id = \"kst-0123456789ab\"";

#[test]
fn blocks_selected_by_glob_get_the_placement() {
    // name, globs, edits expected in main.tf, in kms/main.tf
    let cases: &[(&str, &[&str], usize, usize)] = &[
        ("one block", &["keyshift_key.other"], 1, 0),
        (
            "every instance of a for_each block",
            &["keyshift_key.app"],
            1,
            0,
        ),
        ("module glob", &["module.kms.keyshift_key.*"], 0, 1),
        ("any module", &["**.keyshift_key.k"], 0, 1),
        (
            "two globs",
            &["keyshift_key.*", "module.kms.keyshift_key.k"],
            2,
            1,
        ),
    ];
    for (name, globs, root_edits, module_edits) in cases {
        let dir = setup();
        let mut args = vec!["--set", SET];
        for g in *globs {
            args.extend(["--select", g]);
        }
        let o = rewrite(dir.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let (root, module) = (read(dir.path(), "main.tf"), read(dir.path(), "kms/main.tf"));
        assert_eq!(root.matches(LINE).count(), *root_edits, "{name}: {root}");
        assert_eq!(
            module.matches(LINE).count(),
            *module_edits,
            "{name}: {module}"
        );
        if *root_edits == 0 {
            assert_eq!(root, ROOT, "{name}: main.tf not byte-identical");
        }
        if *module_edits == 0 {
            assert_eq!(module, MODULE, "{name}: kms/main.tf not byte-identical");
        }
        let again = rewrite(dir.path(), &args);
        assert!(
            text(&again).contains("no edits needed"),
            "{name}: {}",
            text(&again)
        );
    }
}

#[test]
fn single_instances_need_a_state_and_keep_the_others() {
    let dir = setup();
    let o = rewrite(
        dir.path(),
        &["--select", r#"keyshift_key.app["orders"]"#, "--set", SET],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("selects single instances; pass --state"),
        "{}",
        text(&o)
    );
    assert_eq!(read(dir.path(), "main.tf"), ROOT);

    let state = json!({"format_version": "1.0", "values": {"root_module": {"resources": [
        {"address": "keyshift_key.app[\"orders\"]", "mode": "managed", "type": "keyshift_key", "name": "app", "index": "orders", "values": {"id": "key-1", "instance_id": null}},
        {"address": "keyshift_key.app[\"billing\"]", "mode": "managed", "type": "keyshift_key", "name": "app", "index": "billing", "values": {"id": "key-2", "instance_id": "kst-aaaaaaaaaaaa"}},
        {"address": "keyshift_key.other", "mode": "managed", "type": "keyshift_key", "name": "other", "values": {"id": "key-3", "instance_id": null}}
    ]}}});
    let sp = dir.path().join("state.json");
    std::fs::write(&sp, state.to_string()).unwrap();
    let o = rewrite(
        dir.path(),
        &[
            "--select",
            r#"keyshift_key.app["orders"]"#,
            "--set",
            SET,
            "--state",
            sp.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let root = read(dir.path(), "main.tf");
    assert!(root.contains(r#""orders" = "kst-0123456789ab""#), "{root}");
    assert!(root.contains(r#""billing" = "kst-aaaaaaaaaaaa""#), "{root}");
    assert!(root.contains("[each.key]"), "{root}");
    assert_eq!(read(dir.path(), "kms/main.tf"), MODULE);
}

#[test]
fn bad_selections_change_nothing() {
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (
            "no match",
            &["--select", "keyshift_key.nope", "--set", SET],
            2,
            "matches no resource in the configuration",
        ),
        (
            "bad --set",
            &["--select", "keyshift_key.other", "--set", "instance_id"],
            2,
            "expected ATTR=VALUE",
        ),
        ("--set without --select", &["--set", SET], 2, "--select"),
        (
            "a type without the attribute is skipped",
            &["--select", "keyshift_alias.a", "--set", SET],
            0,
            "skipped: keyshift_alias.a: keyshift_alias has no migration attribute instance_id",
        ),
    ];
    for (name, args, code, want) in cases {
        let dir = setup();
        let o = rewrite(dir.path(), args);
        assert_eq!(o.status.code(), Some(*code), "{name}: {}", text(&o));
        assert!(text(&o).contains(want), "{name}: {}", text(&o));
        assert_eq!(read(dir.path(), "main.tf"), ROOT, "{name}");
        assert_eq!(read(dir.path(), "kms/main.tf"), MODULE, "{name}");
    }
}
