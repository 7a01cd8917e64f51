//! `keyshift plan-check` on plans made by real Terraform (built-in
//! `terraform_data` only, no network): both replacement orders, delete,
//! forget and moved, in every output format, and `--allow`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Run, Tf};
use std::path::Path;

fn plan_check(tf: &Tf, plan: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "plan-check",
        plan.to_str().unwrap(),
        "--key-type",
        "terraform_data",
    ];
    args.extend_from_slice(extra);
    tf.keyshift(&args)
}

const KEY: &str = "resource \"terraform_data\" \"key\" {\n  triggers_replace = \"v1\"\n}\n";

/// Both replacement orders, delete, forget and moved, from real plans.
#[test]
fn plan_check_on_real_plans() {
    let tf = Tf::new();
    tf.write("main.tf", KEY);
    tf.apply();
    let clean = tf.save_plan_json("plan.json");
    let out = plan_check(&tf, &clean, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("no findings"), "{}", out.all());

    let cases: &[(&str, &str, i32, &[&str])] = &[
        (
            "delete then create",
            "resource \"terraform_data\" \"key\" {\n  triggers_replace = \"v2\"\n}\n",
            1,
            &[
                "error: terraform_data.key: key-bearing resource would be replaced (destroy, then create)",
            ],
        ),
        (
            "create then delete",
            "resource \"terraform_data\" \"key\" {\n  triggers_replace = \"v2\"\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n",
            1,
            &["would be replaced (create, then destroy the old one)"],
        ),
        (
            "delete",
            "# nothing left\n",
            1,
            &[
                "error: terraform_data.key: key-bearing resource would be destroyed: its configuration was removed",
            ],
        ),
        (
            "forget",
            "removed {\n  from = terraform_data.key\n  lifecycle {\n    destroy = false\n  }\n}\n",
            0,
            &["warning: terraform_data.key: would be removed from state (forget)"],
        ),
        (
            "moved and replaced",
            "resource \"terraform_data\" \"renamed\" {\n  triggers_replace = \"v2\"\n}\n\nmoved {\n  from = terraform_data.key\n  to   = terraform_data.renamed\n}\n",
            1,
            &[
                "error: terraform_data.renamed:",
                "(moved from terraform_data.key)",
            ],
        ),
        (
            "moved only",
            "resource \"terraform_data\" \"renamed\" {\n  triggers_replace = \"v1\"\n}\n\nmoved {\n  from = terraform_data.key\n  to   = terraform_data.renamed\n}\n",
            0,
            &["no findings"],
        ),
    ];
    for (name, config, exit, wants) in cases {
        tf.write("main.tf", config);
        let plan = tf.save_plan_json("plan.json");
        let out = plan_check(&tf, &plan, &[]);
        assert_eq!(out.code, *exit, "{name}: {}", out.all());
        for want in *wants {
            assert!(
                out.all().contains(want),
                "{name}: missing {want:?} in {}",
                out.all()
            );
        }
        let json = plan_check(&tf, &plan, &["--format", "json"]);
        assert_eq!(json.code, *exit, "{name} json");
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(
            v["summary"]["errors"].as_u64() == Some(0),
            *exit == 0,
            "{name}: {v}"
        );
        if *exit == 1 {
            let allowed = plan_check(
                &tf,
                &plan,
                &[
                    "--allow",
                    "terraform_data.key",
                    "--allow",
                    "terraform_data.renamed",
                ],
            );
            assert_eq!(allowed.code, 0, "{name}: --allow: {}", allowed.all());
            let gh = plan_check(&tf, &plan, &["--format", "github"]);
            let gh = gh.stdout;
            let mut lines = gh.lines();
            assert!(
                lines.next().is_some_and(|l| l
                    .starts_with("::notice title=keyshift plan-check::1 resource changes checked")),
                "{name}: {gh}"
            );
            assert!(
                lines.all(|l| l.starts_with("::error title=keyshift plan-check::")),
                "{name}: {gh}"
            );
        }
    }
}

/// A replacement names the attribute that forces it (the plan's
/// `replace_paths`) in text and JSON: on a built-in resource and on a
/// keyshift key whose `spec` changes.
#[test]
fn replacement_names_the_attribute_that_forces_it() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "terraform_data trigger",
            KEY,
            "resource \"terraform_data\" \"key\" {\n  triggers_replace = \"v2\"\n}\n",
            "terraform_data.key",
            "triggers_replace",
        ),
        (
            "keyshift key spec",
            "resource \"keyshift_key\" \"k\" {\n  spec = \"AES_256\"\n}\n",
            "resource \"keyshift_key\" \"k\" {\n  spec = \"RSA_2048\"\n}\n",
            "keyshift_key.k",
            "spec",
        ),
    ];
    for (name, before, after, address, attr) in cases {
        let tf = Tf::new();
        let head = "terraform {\n  required_providers {\n    keyshift = { source = \"keyshift/keyshift\" }\n  }\n}\n\n";
        tf.write("main.tf", &format!("{head}{before}"));
        tf.apply();
        tf.write("main.tf", &format!("{head}{after}"));
        let plan = tf.save_plan_json("plan.json");
        let text = plan_check(&tf, &plan, &[]);
        assert_eq!(text.code, 1, "{name}: {}", text.all());
        let want = format!("{attr} forces the replacement");
        let line = text
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("error: {address}: ")))
            .unwrap_or_else(|| panic!("{name}: no finding for {address}: {}", text.all()));
        assert!(line.contains(&want), "{name}: {line}");
        let json = plan_check(&tf, &plan, &["--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let finding = &v["findings"][0];
        assert_eq!(finding["kind"], "replace", "{name}: {v}");
        assert_eq!(
            finding["replace_paths"],
            serde_json::json!([attr]),
            "{name}: {v}"
        );
        assert!(
            finding["message"].as_str().unwrap().contains(&want),
            "{name}: {v}"
        );
    }
}
