//! `keyshift rewrite --prepare` / `--finalize` and the plan-check findings
//! of the two-phase flow, on inline configurations and plan JSON shaped
//! like the alicloud provider's (no alicloud provider runs here):
//! `alicloud_kms_secret.dkms_instance_id` is Optional+ForceNew and not
//! Computed, so a configuration omitting it after a migration plans a
//! replacement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

const NEW: &str = "kst-0123456789ab";

fn keyshift(args: &[&str]) -> Output {
    Command::cargo_bin("keyshift")
        .unwrap()
        .args(args)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
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

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Whether `terraform fmt -check` passes on `dir` (None without terraform).
fn fmt_clean(dir: &Path) -> Option<bool> {
    let tf = Path::new("/usr/local/bin/terraform");
    if !tf.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "terraform is missing (CI=true): fmt-cleanliness cannot be checked"
        );
        return None;
    }
    let out = std::process::Command::new(tf)
        .args(["fmt", "-check", "-recursive"])
        .arg(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    Some(out.status.success())
}

/// One resource change of plan JSON.
fn change(address: &str, actions: &[&str], before: Value, after: Value, unknown: Value) -> Value {
    let (module, rest) = match address
        .rsplit_once(".alicloud_")
        .or(address.rsplit_once(".keyshift_"))
    {
        Some((m, _)) if m.starts_with("module.") => (Some(m), &address[m.len() + 1..]),
        _ => (None, address),
    };
    let (rtype, name) = rest.split_once('.').unwrap();
    let mut rc = json!({
        "address": address, "mode": "managed", "type": rtype, "name": name,
        "provider_name": "registry.terraform.io/aliyun/alicloud",
        "change": {"actions": actions, "before": before, "after": after,
                   "after_unknown": unknown, "before_sensitive": {}, "after_sensitive": {}}
    });
    if let Some(m) = module {
        rc["module_address"] = json!(m);
    }
    if actions.len() == 2 {
        rc["action_reason"] = json!("replace_because_cannot_update");
    }
    rc
}

fn plan(changes: Vec<Value>) -> Value {
    json!({"format_version": "1.2", "terraform_version": "1.11.0", "planned_values": {},
           "resource_changes": changes, "complete": true, "errored": false})
}

/// The plan Terraform shows after the migration while the prepared
/// `ignore_changes` entry is in place: nothing changes, the state (and so
/// the plan) holds the new placement.
fn prepared_plan(address: &str, attr: &str) -> Value {
    let v = json!({"secret_name": "db", attr: NEW});
    plan(vec![change(address, &["no-op"], v.clone(), v, json!({}))])
}

/// The plan of the same migration without `--prepare`: the secret is
/// replaced because the configuration omits the ForceNew attribute.
fn replacement_plan(address: &str, attr: &str) -> Value {
    plan(vec![change(
        address,
        &["delete", "create"],
        json!({"secret_name": "db", attr: NEW, "id": "s-1"}),
        json!({"secret_name": "db", attr: null}),
        json!({"id": true}),
    )])
}

struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    glob: &'static str,
    address: &'static str,
    attr: &'static str,
    /// Whether --prepare adds an entry (not with `ignore_changes = all`).
    adds: bool,
}

const SECRET: &str = "alicloud_kms_secret.s";

const CASES: &[Case] = &[
    Case {
        name: "lifecycle absent",
        files: &[(
            "main.tf",
            "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n}\n",
        )],
        glob: SECRET,
        address: SECRET,
        attr: "dkms_instance_id",
        adds: true,
    },
    Case {
        name: "lifecycle without ignore_changes",
        files: &[(
            "main.tf",
            "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n",
        )],
        glob: SECRET,
        address: SECRET,
        attr: "dkms_instance_id",
        adds: true,
    },
    Case {
        name: "ignore_changes = all",
        files: &[(
            "main.tf",
            "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    ignore_changes = all\n  }\n}\n",
        )],
        glob: SECRET,
        address: SECRET,
        attr: "dkms_instance_id",
        adds: false,
    },
    Case {
        name: "one-line list",
        files: &[(
            "main.tf",
            "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    prevent_destroy = true\n    ignore_changes  = [tags] # ours\n  }\n}\n",
        )],
        glob: "alicloud_kms_*.s",
        address: SECRET,
        attr: "dkms_instance_id",
        adds: true,
    },
    Case {
        name: "multi-line list",
        files: &[(
            "main.tf",
            "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    ignore_changes = [\n      tags, # set by the tagging job\n      description,\n    ]\n  }\n}\n",
        )],
        glob: SECRET,
        address: SECRET,
        attr: "dkms_instance_id",
        adds: true,
    },
    Case {
        name: "multi-line list without trailing comma",
        files: &[(
            "main.tf",
            "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    ignore_changes = [\n      tags\n    ]\n  }\n}\n",
        )],
        glob: SECRET,
        address: SECRET,
        attr: "dkms_instance_id",
        adds: true,
    },
    Case {
        name: "keyshift_key in a local module",
        files: &[
            ("main.tf", "module \"kms\" {\n  source = \"./kms\"\n}\n"),
            (
                "kms/main.tf",
                "resource \"keyshift_key\" \"k\" {\n  description = \"k\"\n  secret_name = \"db\"\n}\n",
            ),
        ],
        glob: "module.kms.keyshift_key.*",
        address: "module.kms.keyshift_key.k",
        attr: "instance_id",
        adds: true,
    },
];

fn setup(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

fn read_all(dir: &Path, files: &[(&str, &str)]) -> Vec<String> {
    files
        .iter()
        .map(|(n, _)| std::fs::read_to_string(dir.join(n)).unwrap())
        .collect()
}

fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
    path.display().to_string()
}

#[test]
fn prepare_then_finalize_gives_the_original_plus_the_value() {
    for case in CASES {
        let name = case.name;
        let dir = setup(case.files);
        let d = dir.path().to_str().unwrap();
        let json_dir = tempfile::tempdir().unwrap();
        let original = read_all(dir.path(), case.files);
        let was_clean = fmt_clean(dir.path());
        assert_ne!(was_clean, Some(false), "{name}: fixture must be fmt-clean");

        // --check: a diff, exit 1, nothing written.
        let o = keyshift(&["rewrite", d, "--prepare", "--select", case.glob, "--check"]);
        assert_eq!(code(&o), i32::from(case.adds), "{name}: {}", text(&o));
        if case.adds {
            assert!(text(&o).contains("+++ b/"), "{name}: {}", text(&o));
            assert!(
                text(&o).contains(&format!(
                    "{}: would add {} to lifecycle ignore_changes",
                    case.address, case.attr
                )),
                "{name}: {}",
                text(&o)
            );
        }
        assert_eq!(
            read_all(dir.path(), case.files),
            original,
            "{name}: --check wrote"
        );

        let o = keyshift(&["rewrite", d, "--prepare", "--select", case.glob]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        let prepared = read_all(dir.path(), case.files);
        assert_eq!(
            prepared.concat().contains("/* keyshift:prepare"),
            case.adds,
            "{name}: {prepared:?}"
        );
        assert_ne!(
            fmt_clean(dir.path()),
            Some(false),
            "{name}: prepare broke fmt: {prepared:?}"
        );
        let o = keyshift(&["rewrite", d, "--prepare", "--select", case.glob]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        assert!(
            text(&o).contains("rewrite --prepare: no edits needed"),
            "{name}: {}",
            text(&o)
        );
        assert_eq!(
            read_all(dir.path(), case.files),
            prepared,
            "{name}: second prepare"
        );

        // plan-check --config sees the prepared block.
        let p = write_json(
            json_dir.path(),
            "prepared.json",
            &prepared_plan(case.address, case.attr),
        );
        let o = keyshift(&["plan-check", &p, "--config", d]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        assert_eq!(
            text(&o).contains(&format!(
                "warning: {}: prepared for a migration but not finalized",
                case.address
            )),
            case.adds,
            "{name}: {}",
            text(&o)
        );

        let o = keyshift(&["rewrite", d, "--finalize", "--plan", &p, "--check"]);
        assert_eq!(code(&o), i32::from(case.adds), "{name}: {}", text(&o));
        assert_eq!(
            read_all(dir.path(), case.files),
            prepared,
            "{name}: --check wrote"
        );
        let o = keyshift(&["rewrite", d, "--finalize", "--plan", &p]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        let finalized = read_all(dir.path(), case.files);
        assert_ne!(
            fmt_clean(dir.path()),
            Some(false),
            "{name}: finalize broke fmt"
        );
        if !case.adds {
            // Nothing was prepared (the user ignores everything), and a
            // plan taken under `ignore_changes = all` shows no change.
            assert_eq!(finalized, original, "{name}");
            continue;
        }
        // The same bytes the value rewrite alone gives on the original.
        let control = setup(case.files);
        let r = write_json(
            json_dir.path(),
            "replace.json",
            &replacement_plan(case.address, case.attr),
        );
        let o = keyshift(&["rewrite", control.path().to_str().unwrap(), "--plan", &r]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        assert_eq!(finalized, read_all(control.path(), case.files), "{name}");
        // ...which is the original plus the value line (and a blank line).
        let value_line = format!("{} = \"{NEW}\"", case.attr);
        let mut old = original
            .concat()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
            .peekable();
        for line in finalized.concat().lines() {
            if old.peek().map(String::as_str) == Some(line) {
                old.next();
            } else {
                assert!(
                    line.trim().is_empty() || line.trim() == value_line,
                    "{name}: unexpected line {line:?}"
                );
            }
        }
        assert_eq!(
            old.next(),
            None,
            "{name}: original lines lost: {finalized:?}"
        );
        assert!(finalized.concat().contains(&value_line), "{name}");
        assert!(!finalized.concat().contains("keyshift:prepare"), "{name}");

        let o = keyshift(&["rewrite", d, "--finalize", "--plan", &p]);
        assert_eq!(code(&o), 0, "{name}: {}", text(&o));
        assert!(
            text(&o).contains("rewrite --finalize: no edits needed"),
            "{name}: {}",
            text(&o)
        );
        assert_eq!(
            read_all(dir.path(), case.files),
            finalized,
            "{name}: second finalize"
        );
    }
}

#[test]
fn a_one_line_block_is_expanded_and_restored_expanded() {
    let files = [(
        "main.tf",
        "resource \"alicloud_kms_secret\" \"s\" { secret_name = \"db\" }\n",
    )];
    let dir = setup(&files);
    let d = dir.path().to_str().unwrap();
    let o = keyshift(&["rewrite", d, "--prepare", "--select", SECRET]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        read_all(dir.path(), &files)[0],
        "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare, new lifecycle */]\n  }\n}\n"
    );
    let p = write_json(
        dir.path(),
        "plan.json",
        &prepared_plan(SECRET, "dkms_instance_id"),
    );
    let o = keyshift(&["rewrite", d, "--finalize", "--plan", &p]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        read_all(dir.path(), &files)[0],
        format!(
            "resource \"alicloud_kms_secret\" \"s\" {{\n  secret_name = \"db\"\n\n  dkms_instance_id = \"{NEW}\"\n}}\n"
        )
    );
    assert_ne!(fmt_clean(dir.path()), Some(false));
}

#[test]
fn plan_check_names_the_fix_for_a_secret_replaced_by_an_omitted_placement() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_json(
        dir.path(),
        "plan.json",
        &replacement_plan(SECRET, "dkms_instance_id"),
    );
    let o = keyshift(&["plan-check", &p]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(
            "error: alicloud_kms_secret.s: key-bearing resource would be replaced (destroy, then \
             create): an argument cannot be updated in place; the only change is dkms_instance_id \
             going from a value to null: the configuration omits dkms_instance_id, which forces \
             replacement and is not computed"
        ),
        "{out}"
    );
    assert!(out.contains("Fix: write the migrated value into the configuration with `keyshift rewrite DIR --plan PLAN.json`"), "{out}");

    // Another attribute changes too: a plain replacement, no such advice.
    let mut other = replacement_plan(SECRET, "dkms_instance_id");
    other["resource_changes"][0]["change"]["after"]["secret_name"] = json!("db2");
    let p = write_json(dir.path(), "other.json", &other);
    let o = keyshift(&["plan-check", &p]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("would be replaced"), "{}", text(&o));
    assert!(!text(&o).contains("the only change is"), "{}", text(&o));
}

#[test]
fn finalize_keeps_the_entry_of_a_block_it_has_no_value_for() {
    let files = [(
        "main.tf",
        "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n}\n\nresource \"alicloud_kms_secret\" \"t\" {\n  secret_name = \"db\"\n}\n",
    )];
    let dir = setup(&files);
    let d = dir.path().to_str().unwrap();
    let o = keyshift(&[
        "rewrite",
        d,
        "--prepare",
        "--select",
        "alicloud_kms_secret.*",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let prepared = read_all(dir.path(), &files)[0].clone();
    assert_eq!(prepared.matches("keyshift:prepare").count(), 2);
    // The plan knows the new placement of s only (t has not migrated: null).
    let v = json!({"secret_name": "db", "dkms_instance_id": null});
    let mut p = prepared_plan(SECRET, "dkms_instance_id");
    p["resource_changes"].as_array_mut().unwrap().push(change(
        "alicloud_kms_secret.t",
        &["no-op"],
        v.clone(),
        v,
        json!({}),
    ));
    let p = write_json(dir.path(), "plan.json", &p);
    let o = keyshift(&["rewrite", d, "--finalize", "--plan", &p]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("refused: alicloud_kms_secret.t: no value for dkms_instance_id (null); has the migration happened? its ignore_changes entry stays"),
        "{}",
        text(&o)
    );
    let now = read_all(dir.path(), &files)[0].clone();
    assert_eq!(
        now,
        format!(
            "resource \"alicloud_kms_secret\" \"s\" {{\n  secret_name = \"db\"\n\n  dkms_instance_id = \"{NEW}\"\n}}\n\nresource \"alicloud_kms_secret\" \"t\" {{\n  secret_name = \"db\"\n\n  lifecycle {{\n    ignore_changes = [dkms_instance_id /* keyshift:prepare, new lifecycle */]\n  }}\n}}\n"
        )
    );
}

#[test]
fn bad_prepare_input_changes_nothing() {
    let files = [(
        "main.tf",
        "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n}\n",
    )];
    let cases: &[(&str, &[&str], i32, &str)] = &[
        (
            "no match",
            &["--prepare", "--select", "alicloud_kms_key.*"],
            2,
            "--select \"alicloud_kms_key.*\" matches no resource in the configuration",
        ),
        (
            "instance glob",
            &["--prepare", "--select", "alicloud_kms_secret.s[0]"],
            2,
            "ignore_changes applies to a whole block",
        ),
        ("prepare without select", &["--prepare"], 2, "--select"),
        (
            "prepare with set",
            &[
                "--prepare",
                "--select",
                SECRET,
                "--set",
                "dkms_instance_id=x",
            ],
            2,
            "cannot be used with",
        ),
        ("finalize without plan", &["--finalize"], 2, "--plan"),
        (
            "select without set",
            &["--select", SECRET],
            2,
            "--select needs --set ATTR=VALUE (or --prepare)",
        ),
    ];
    for (name, args, want, msg) in cases {
        let dir = setup(&files);
        let d = dir.path().to_str().unwrap();
        let mut all = vec!["rewrite", d];
        all.extend_from_slice(args);
        let o = keyshift(&all);
        assert_eq!(code(&o), *want, "{name}: {}", text(&o));
        assert!(text(&o).contains(msg), "{name}: {}", text(&o));
        assert_eq!(read_all(dir.path(), &files)[0], files[0].1, "{name}");
    }
}

#[test]
fn finalize_from_a_report_and_state() {
    let files = [
        ("main.tf", "module \"kms\" {\n  source = \"./kms\"\n}\n"),
        (
            "kms/main.tf",
            "resource \"keyshift_key\" \"k\" {\n  description = \"k\"\n\n  lifecycle {\n    prevent_destroy = true\n    ignore_changes  = [description]\n  }\n}\n",
        ),
    ];
    let dir = setup(&files);
    let d = dir.path().to_str().unwrap();
    let original = read_all(dir.path(), &files);
    let o = keyshift(&["rewrite", d, "--prepare", "--select", "**.keyshift_key.k"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        read_all(dir.path(), &files)[1],
        "resource \"keyshift_key\" \"k\" {\n  description = \"k\"\n\n  lifecycle {\n    prevent_destroy = true\n    ignore_changes  = [description, instance_id /* keyshift:prepare */]\n  }\n}\n"
    );
    let report = json!({"schema_version": 1, "objects": [{"id": "key-1", "kind": "key",
        "source": "shared", "target_instance_id": NEW, "outcome": "migrated"}]});
    // The state after the migration already holds the new placement.
    let state = json!({"format_version": "1.0", "values": {"root_module": {"child_modules": [
        {"address": "module.kms", "resources": [
            {"address": "module.kms.keyshift_key.k", "mode": "managed", "type": "keyshift_key",
             "name": "k", "values": {"id": "key-1", "instance_id": NEW}}]}]}}});
    let r = write_json(dir.path(), "report.json", &report);
    let s = write_json(dir.path(), "state.json", &state);
    let o = keyshift(&[
        "rewrite",
        d,
        "--finalize",
        "--report",
        &r,
        "--state",
        &s,
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["mode"], "finalize");
    let edits: Vec<(&str, &str)> = summary["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["attr"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    let quoted = format!("\"{NEW}\"");
    assert_eq!(
        edits,
        [
            ("instance_id", quoted.as_str()),
            ("instance_id", "(removed from lifecycle ignore_changes)")
        ]
    );
    let now = read_all(dir.path(), &files);
    assert_eq!(now[0], original[0]);
    assert_eq!(
        now[1],
        format!(
            "resource \"keyshift_key\" \"k\" {{\n  description = \"k\"\n  instance_id = \"{NEW}\"\n\n  lifecycle {{\n    prevent_destroy = true\n    ignore_changes  = [description]\n  }}\n}}\n"
        )
    );
}

#[test]
fn an_entry_edited_after_prepare_is_kept_and_reported() {
    let files = [(
        "main.tf",
        "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    ignore_changes = [tags]\n  }\n}\n",
    )];
    let dir = setup(&files);
    let d = dir.path().to_str().unwrap();
    let o = keyshift(&["rewrite", d, "--prepare", "--select", SECRET]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Someone reorders the list by hand.
    let edited = "resource \"alicloud_kms_secret\" \"s\" {\n  secret_name = \"db\"\n\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare */, tags]\n  }\n}\n";
    std::fs::write(dir.path().join("main.tf"), edited).unwrap();
    let p = write_json(
        dir.path(),
        "plan.json",
        &prepared_plan(SECRET, "dkms_instance_id"),
    );
    let o = keyshift(&["rewrite", d, "--finalize", "--plan", &p]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("refused: alicloud_kms_secret.s: ")
            && text(&o).contains("main.tf: line 5: the `ignore_changes` entry dkms_instance_id that keyshift rewrite --prepare added was edited since"),
        "{}",
        text(&o)
    );
    let now = read_all(dir.path(), &files)[0].clone();
    assert!(
        now.contains("[dkms_instance_id /* keyshift:prepare */, tags]"),
        "{now}"
    );
}
