use super::*;
use std::path::Path;

fn mv(module: &str, from: &str, to: &str) -> Move {
    Move {
        module: module.into(),
        from: from.into(),
        to: to.into(),
    }
}

fn setup(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn run(dir: &Path, moves: &[Move]) -> MovesPlan {
    plan_moves(&Config::load(dir).unwrap(), moves)
}

const KEYS: &str = "resource \"keyshift_key\" \"new\" {\n  description = \"a\"\n}\n";

#[test]
fn appends_to_the_file_declaring_the_destination() {
    let dir = setup(&[("a.tf", "locals {}\n"), ("keys.tf", KEYS)]);
    let plan = run(
        dir.path(),
        &[mv("", "keyshift_key.old", "keyshift_key.new")],
    );
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].source.path.ends_with("keys.tf"));
    assert_eq!(
        plan.changes[0].new_text,
        format!("{KEYS}\nmoved {{\n  from = keyshift_key.old\n  to   = keyshift_key.new\n}}\n")
    );
    assert_eq!(plan.added[0].line, 5);
}

#[test]
fn keeps_crlf_and_adds_a_missing_final_newline() {
    let dir = setup(&[("k.tf", "resource \"keyshift_key\" \"new\" {\r\n}")]);
    let plan = run(
        dir.path(),
        &[mv("", "keyshift_key.old", "keyshift_key.new")],
    );
    assert_eq!(
        plan.changes[0].new_text,
        "resource \"keyshift_key\" \"new\" {\r\n}\r\n\r\nmoved {\r\n  from = keyshift_key.old\r\n  to   = keyshift_key.new\r\n}\r\n"
    );
}

#[test]
fn an_existing_block_is_not_written_twice() {
    let text =
        format!("{KEYS}\nmoved {{\n  from = keyshift_key.old\n  to = keyshift_key.new\n}}\n");
    let dir = setup(&[("k.tf", &text)]);
    let plan = run(
        dir.path(),
        &[mv("", "keyshift_key.old", "keyshift_key.new")],
    );
    assert!(plan.changes.is_empty());
    assert_eq!(plan.present, 1);
}

#[test]
fn refuses_what_it_cannot_write() {
    let other =
        format!("{KEYS}\nmoved {{\n  from = keyshift_key.old\n  to   = keyshift_key.x\n}}\n");
    type Files<'a> = Vec<(&'a str, String)>;
    let cases: Vec<(&str, Files<'_>, Move, &str)> = vec![
        (
            "no destination block",
            vec![("k.tf", "locals {}\n".into())],
            mv("", "keyshift_key.old", "keyshift_key.new"),
            "no resource block for keyshift_key.new",
        ),
        (
            "already moved elsewhere",
            vec![("k.tf", other)],
            mv("", "keyshift_key.old", "keyshift_key.new"),
            "already moves keyshift_key.old elsewhere",
        ),
        (
            "remote module",
            vec![(
                "k.tf",
                "module \"kms\" {\n  source = \"hashicorp/x/y\"\n}\n".into(),
            )],
            mv("module.kms", "keyshift_key.old", "keyshift_key.new"),
            "cannot be edited here",
        ),
        (
            "unknown module",
            vec![("k.tf", KEYS.into())],
            mv("module.nope", "keyshift_key.old", "keyshift_key.new"),
            "no module call",
        ),
    ];
    for (name, files, m, want) in cases {
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let dir = setup(&files);
        let plan = run(dir.path(), &[m]);
        assert!(plan.changes.is_empty(), "{name}");
        assert_eq!(plan.refusals.len(), 1, "{name}");
        assert!(
            plan.refusals[0].reason.contains(want),
            "{name}: {:?}",
            plan.refusals
        );
    }
}

#[test]
fn module_moves_go_into_the_module_once_for_all_instances() {
    let dir = setup(&[
        (
            "main.tf",
            "module \"kms\" {\n  source   = \"./kms\"\n  for_each = toset([\"a\", \"b\"])\n}\n",
        ),
        ("kms/keys.tf", KEYS),
    ]);
    let plan = run(
        dir.path(),
        &[
            mv(r#"module.kms["a"]"#, "keyshift_key.old", "keyshift_key.new"),
            mv(r#"module.kms["b"]"#, "keyshift_key.old", "keyshift_key.new"),
        ],
    );
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].source.path.ends_with("kms/keys.tf"));
    assert_eq!(plan.changes[0].new_text.matches("moved {").count(), 1);
}

#[test]
fn reads_module_call_paths() {
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("", Some(&[])),
        ("module.a", Some(&["a"])),
        (r#"module.a["x.y]"].module.b[0]"#, Some(&["a", "b"])),
        ("resource.a", None),
        (r#"module.a["x"#, None),
    ];
    for (text, want) in cases {
        let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(call_path(text), want, "{text}");
    }
}
