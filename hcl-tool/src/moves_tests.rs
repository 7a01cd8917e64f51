use super::*;
use std::path::Path;

/// A resource change: (address, actions, before, after) in module `module`.
fn rc(module: &str, address: &str, actions: &str, before: &str, after: &str) -> String {
    let full = if module.is_empty() {
        address.to_owned()
    } else {
        format!("{module}.{address}")
    };
    let module = if module.is_empty() {
        String::new()
    } else {
        format!(r#""module_address":{module:?},"#)
    };
    let (rtype, rest) = address.split_once('.').unwrap();
    let name = rest.split('[').next().unwrap();
    let unknown = if after == "null" {
        "{}"
    } else {
        r#"{"id":true,"creation_date":true}"#
    };
    format!(
        r#"{{"address":{full:?},{module}"mode":"managed","type":"{rtype}","name":"{name}",
        "change":{{"actions":{actions},"before":{before},"after":{after},"after_unknown":{unknown}}}}}"#
    )
}

fn key(desc: &str) -> String {
    format!(
        r#"{{"id":"key-1","creation_date":"2026","description":"{desc}","tags":{{"t":"a"}},"spec":"AES_256"}}"#
    )
}
fn new_key(desc: &str) -> String {
    format!(r#"{{"description":"{desc}","tags":{{"t":"a"}},"spec":"AES_256"}}"#)
}
fn del(m: &str, a: &str, desc: &str) -> String {
    rc(m, a, r#"["delete"]"#, &key(desc), "null")
}
fn add(m: &str, a: &str, desc: &str) -> String {
    rc(m, a, r#"["create"]"#, "null", &new_key(desc))
}

fn suggest(changes: &[String]) -> Suggestions {
    let text = format!(
        r#"{{"format_version":"1.2","planned_values":{{}},"resource_changes":[{}]}}"#,
        changes.join(",")
    );
    let plan = Plan::parse(Path::new("p.json"), &text).unwrap();
    suggest_moves(&plan, &KeyTypes::with_defaults::<&str>(&[]))
}

fn mv(module: &str, from: &str, to: &str) -> Move {
    Move {
        module: module.into(),
        from: from.into(),
        to: to.into(),
    }
}

#[test]
fn pairs_deletes_with_creates_of_the_same_configuration() {
    type Groups<'a> = Vec<(Vec<&'a str>, Vec<&'a str>)>;
    let cases: Vec<(&str, Vec<String>, Vec<Move>, Groups<'_>)> = vec![
        (
            "rename",
            vec![
                del("", "keyshift_key.old", "a"),
                add("", "keyshift_key.new", "a"),
            ],
            vec![mv("", "keyshift_key.old", "keyshift_key.new")],
            vec![],
        ),
        (
            "count to for_each",
            vec![
                del("", "keyshift_key.k[0]", "a"),
                del("", "keyshift_key.k[1]", "b"),
                add("", r#"keyshift_key.k["a"]"#, "a"),
                add("", r#"keyshift_key.k["b"]"#, "b"),
            ],
            vec![
                mv("", "keyshift_key.k[0]", r#"keyshift_key.k["a"]"#),
                mv("", "keyshift_key.k[1]", r#"keyshift_key.k["b"]"#),
            ],
            vec![],
        ),
        (
            "one delete, two identical creates: ambiguous",
            vec![
                del("", "keyshift_key.old", "a"),
                add("", "keyshift_key.x", "a"),
                add("", "keyshift_key.y", "a"),
            ],
            vec![],
            vec![(
                vec!["keyshift_key.old"],
                vec!["keyshift_key.x", "keyshift_key.y"],
            )],
        ),
        (
            "two deletes, one create: ambiguous",
            vec![
                del("", "keyshift_key.a", "a"),
                del("", "keyshift_key.b", "a"),
                add("", "keyshift_key.c", "a"),
            ],
            vec![],
            vec![(
                vec!["keyshift_key.a", "keyshift_key.b"],
                vec!["keyshift_key.c"],
            )],
        ),
        (
            "different description: not paired",
            vec![
                del("", "keyshift_key.old", "a"),
                add("", "keyshift_key.new", "b"),
            ],
            vec![],
            vec![],
        ),
        (
            "different type: not paired",
            vec![
                del("", "keyshift_key.old", "a"),
                add("", "keyshift_secret.new", "a"),
            ],
            vec![],
            vec![],
        ),
        (
            "not key-bearing: not paired",
            vec![
                del("", "terraform_data.old", "a"),
                add("", "terraform_data.new", "a"),
            ],
            vec![],
            vec![],
        ),
        (
            "module-internal",
            vec![
                del("module.kms", "keyshift_key.old", "a"),
                add("module.kms", "keyshift_key.new", "a"),
            ],
            vec![mv("module.kms", "keyshift_key.old", "keyshift_key.new")],
            vec![],
        ),
        (
            "across modules: not paired",
            vec![
                del("module.kms", "keyshift_key.k", "a"),
                add("", "keyshift_key.k", "a"),
            ],
            vec![],
            vec![],
        ),
        (
            "import is not a candidate",
            vec![
                del("", "keyshift_key.old", "a"),
                add("", "keyshift_key.new", "a")
                    .replace(r#""change":{"#, r#""change":{"importing":{"id":"key-9"},"#),
            ],
            vec![],
            vec![],
        ),
        (
            "computed attributes and ids differ, configuration equal: paired",
            vec![
                del("", "keyshift_key.old", "a").replace("2026", "2025"),
                add("", "keyshift_key.new", "a"),
            ],
            vec![mv("", "keyshift_key.old", "keyshift_key.new")],
            vec![],
        ),
        (
            "replace is not a candidate",
            vec![
                rc(
                    "",
                    "keyshift_key.old",
                    r#"["delete","create"]"#,
                    &key("a"),
                    &new_key("a"),
                ),
                add("", "keyshift_key.new", "a"),
            ],
            vec![],
            vec![],
        ),
    ];
    for (name, changes, moves, ambiguous) in cases {
        let got = suggest(&changes);
        assert_eq!(got.moves, moves, "{name}");
        let amb: Groups<'_> = got
            .ambiguous
            .iter()
            .map(|a| {
                (
                    a.deletes.iter().map(String::as_str).collect(),
                    a.creates.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(amb, ambiguous, "{name}");
    }
}

#[test]
fn a_block_is_fmt_shaped() {
    let m = mv("", "keyshift_key.a[0]", r#"keyshift_key.a["x"]"#);
    assert_eq!(
        m.block("\n"),
        "moved {\n  from = keyshift_key.a[0]\n  to   = keyshift_key.a[\"x\"]\n}\n"
    );
}
