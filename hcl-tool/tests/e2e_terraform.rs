//! End-to-end tests with real Terraform (built-in `terraform_data` only, no
//! network): plans produced by Terraform are fed to `keyshift rewrite` (and
//! `--verify`), and to `keyshift plan-check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;

const TERRAFORM: &str = "/usr/local/bin/terraform";

struct Tf {
    dir: tempfile::TempDir,
    rc: PathBuf,
}

impl Tf {
    /// A work dir, or `None` (with a notice) when Terraform is absent.
    fn new() -> Option<Self> {
        if !Path::new(TERRAFORM).exists() {
            // Under CI a missing prerequisite fails; it never skips silently.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{TERRAFORM} is missing (CI=true)"
            );
            eprintln!("notice: {TERRAFORM} absent; skipping Terraform end-to-end test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join("empty.tfrc");
        std::fs::write(&rc, "").unwrap();
        std::fs::create_dir(dir.path().join("cfg")).unwrap();
        Some(Self { dir, rc })
    }

    fn cfg(&self) -> PathBuf {
        self.dir.path().join("cfg")
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.cfg().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.cfg().join(rel)).unwrap()
    }

    fn tf(&self, args: &[&str]) -> Output {
        std::process::Command::new(TERRAFORM)
            .args(args)
            .current_dir(self.cfg())
            .env("TF_CLI_CONFIG_FILE", &self.rc)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) {
        let out = self.tf(args);
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn apply(&self) {
        self.ok(&["init", "-input=false", "-no-color"]);
        self.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    }

    /// `terraform plan -out` + `terraform show -json`; returns the JSON path.
    fn plan_json(&self) -> PathBuf {
        self.ok(&["plan", "-out=p.tfplan", "-input=false", "-no-color"]);
        let out = self.tf(&["show", "-json", "p.tfplan"]);
        assert!(out.status.success());
        let path = self.dir.path().join("plan.json");
        std::fs::write(&path, &out.stdout).unwrap();
        path
    }

    fn plan_exit(&self) -> Option<i32> {
        self.tf(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
            .status
            .code()
    }

    fn keyshift(&self, args: &[&str]) -> Output {
        Command::cargo_bin("keyshift")
            .unwrap()
            .args(args)
            .env("TF_CLI_CONFIG_FILE", &self.rc)
            .env("KEYSHIFT_TERRAFORM_BIN", TERRAFORM)
            .output()
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const APPLIED: &str = r#"resource "terraform_data" "single" {
  input = "kst-1"
}

resource "terraform_data" "counted" {
  count = 3
  input = count.index == 1 ? "kst-shared" : "kst-${count.index}"
}

resource "terraform_data" "keyed" {
  for_each = toset(["db", "web"])
  input    = "kst-${each.key}"
}

resource "terraform_data" "replaced" {
  triggers_replace = "kst-9"

  lifecycle {
    create_before_destroy = true
  }
}
"#;

/// Migration attributes removed from the config give update and replace
/// plans; `rewrite --plan ... --verify` restores them and the plan is clean.
#[test]
fn rewrite_from_real_plan_makes_plan_clean() {
    let Some(tf) = Tf::new() else { return };
    tf.write("main.tf", APPLIED);
    tf.apply();
    let stripped = "# attributes removed\nresource \"terraform_data\" \"single\" {}\n\n\
        resource \"terraform_data\" \"counted\" {\n  count = 3\n}\n\n\
        resource \"terraform_data\" \"keyed\" {\n  for_each = toset([\"db\", \"web\"])\n}\n\n\
        resource \"terraform_data\" \"replaced\" {\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n";
    tf.write("main.tf", stripped);
    assert_eq!(tf.plan_exit(), Some(2), "plan should show changes");
    let plan = tf.plan_json();
    let cfg = tf.cfg();
    let args = [
        "rewrite",
        cfg.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--attr",
        "terraform_data.input",
        "--attr",
        "terraform_data.triggers_replace",
    ];
    let check = tf.keyshift(&[&args[..], &["--check"]].concat());
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert_eq!(tf.read("main.tf"), stripped, "--check must not write");

    let out = tf.keyshift(&[&args[..], &["--verify"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("verify: terraform plan is clean"),
        "{}",
        text(&out)
    );
    let main = tf.read("main.tf");
    for want in [
        "resource \"terraform_data\" \"single\" {\n  input = \"kst-1\"\n}",
        "input = [\"kst-0\", \"kst-shared\", \"kst-2\"][count.index]",
        "input    = { \"db\" = \"kst-db\", \"web\" = \"kst-web\" }[each.key]",
        "triggers_replace = \"kst-9\"\n  lifecycle",
        "# attributes removed\n",
    ] {
        assert!(main.contains(want), "missing {want:?} in:\n{main}");
    }
    assert_eq!(tf.plan_exit(), Some(0));
    let fmt = tf.tf(&["fmt", "-check"]);
    assert!(fmt.status.success(), "not fmt-clean:\n{main}");
    // Second run with the same (now stale) plan: nothing to do.
    let again = tf.keyshift(&args);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(tf.read("main.tf"), main);
}

/// A local module called once is edited in the module's own files.
#[test]
fn rewrite_module_called_once() {
    let Some(tf) = Tf::new() else { return };
    tf.write(
        "main.tf",
        "module \"kms\" {\n  source = \"./modules/kms\"\n}\n",
    );
    tf.write(
        "modules/kms/main.tf",
        "resource \"terraform_data\" \"this\" {\n  input = \"kst-m\"\n}\n",
    );
    tf.apply();
    tf.write(
        "modules/kms/main.tf",
        "resource \"terraform_data\" \"this\" {\n}\n",
    );
    let plan = tf.plan_json();
    let cfg = tf.cfg();
    let out = tf.keyshift(&[
        "rewrite",
        cfg.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--attr",
        "terraform_data.input",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        tf.read("modules/kms/main.tf"),
        "resource \"terraform_data\" \"this\" {\n  input = \"kst-m\"\n}\n"
    );
    assert_eq!(
        tf.read("main.tf"),
        "module \"kms\" {\n  source = \"./modules/kms\"\n}\n"
    );
    assert_eq!(tf.plan_exit(), Some(0));
}

fn plan_check(tf: &Tf, plan: &Path, extra: &[&str]) -> Output {
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
    let Some(tf) = Tf::new() else { return };
    tf.write("main.tf", KEY);
    tf.apply();
    let clean = tf.plan_json();
    let out = plan_check(&tf, &clean, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no findings"));

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
        let plan = tf.plan_json();
        let out = plan_check(&tf, &plan, &[]);
        assert_eq!(out.status.code(), Some(*exit), "{name}: {}", text(&out));
        for want in *wants {
            assert!(
                text(&out).contains(want),
                "{name}: missing {want:?} in {}",
                text(&out)
            );
        }
        let json = plan_check(&tf, &plan, &["--format", "json"]);
        assert_eq!(json.status.code(), Some(*exit), "{name} json");
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
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
            assert_eq!(
                allowed.status.code(),
                Some(0),
                "{name}: --allow: {}",
                text(&allowed)
            );
            let gh = plan_check(&tf, &plan, &["--format", "github"]);
            let gh = String::from_utf8_lossy(&gh.stdout);
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
