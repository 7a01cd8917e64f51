//! End-to-end harness: drives the real `terraform` CLI against the release
//! build of `terraform-provider-keyshift`.
//!
//! - The provider is built once, by `make e2e` (`cargo build --release`);
//!   tests find it in `KEYSHIFT_RELEASE_DIR` or `<workspace>/target/release`
//!   and never build it themselves (one build shared by every test).
//! - Every [`Tf`] is a fresh temp dir with its own CLI config file
//!   (`dev_overrides`), set through `TF_CLI_CONFIG_FILE`, so the user's
//!   configuration is never read; the key store lives in that dir.
//! - Terraform runs with `-input=false -no-color`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

/// Directory holding the release binaries.
pub fn release_dir() -> PathBuf {
    let dir = std::env::var_os("KEYSHIFT_RELEASE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release"));
    let bin = dir.join("terraform-provider-keyshift");
    assert!(
        bin.exists(),
        "{} is missing: run `make e2e` (or `cargo build --release`) first",
        bin.display()
    );
    dir
}

/// The `terraform` binary (`TERRAFORM` env, else `terraform` on PATH).
pub fn terraform_bin() -> String {
    std::env::var("TERRAFORM").unwrap_or_else(|_| "terraform".to_string())
}

/// What a terraform run produced.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The result of a finished command.
    pub fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// stdout and stderr with Terraform's diagnostic box (`│`) and line
    /// wrapping removed: whitespace runs become one space.
    pub fn flat(&self) -> String {
        self.all()
            .replace(['│', '╷', '╵'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Panics with the whole output unless the run exited 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "terraform failed:\n{}", self.all());
        self
    }
}

/// A Terraform working directory with its own CLI config and key store.
pub struct Tf {
    dir: tempfile::TempDir,
    rc: PathBuf,
    env: Vec<(String, String)>,
}

impl Default for Tf {
    fn default() -> Self {
        Self::new()
    }
}

impl Tf {
    /// A fresh working directory.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("keyshift-e2e-")
            .tempdir()
            .unwrap();
        let rc = dir.path().join("cli.tfrc");
        let rel = release_dir();
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"keyshift/keyshift\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                rel.display()
            ),
        )
        .unwrap();
        Tf {
            dir,
            rc,
            env: Vec::new(),
        }
    }

    /// Adds an environment variable for every terraform run (and thus the
    /// provider). Once any is set, inherited `AWS_*` variables are dropped,
    /// so AWS settings come only from here.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The key store directory (`./.keyshift`, the provider's default).
    pub fn store(&self) -> PathBuf {
        self.path().join(".keyshift")
    }

    /// Writes `main.tf`: the provider requirement plus `body`.
    pub fn write_main(&self, body: &str) {
        let text = format!(
            "terraform {{\n  required_providers {{\n    keyshift = {{ source = \"keyshift/keyshift\" }}\n  }}\n}}\n\n{body}"
        );
        std::fs::write(self.path().join("main.tf"), text).unwrap();
    }

    /// Writes an extra file in the working directory.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).unwrap();
    }

    /// Runs `terraform SUB [FLAGS] REST...` (see [`Tf::command`]) and
    /// collects its output.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run terraform"))
    }

    /// The `terraform SUB [FLAGS] REST...` command for this directory, with
    /// its own CLI config and environment, `-no-color` and `-input=false`
    /// added right after the subcommand where it accepts them (Go's flag
    /// parser stops at the first positional argument). For callers that
    /// need more than [`Tf::run`] (extra environment, a running process).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(terraform_bin());
        cmd.current_dir(self.path())
            .env("TF_CLI_CONFIG_FILE", &self.rc)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .env_remove("KEYSHIFT_STORE");
        if !self.env.is_empty() {
            // Explicit environment (e.g. AWS for EKMS tests): never the machine's AWS defaults.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("AWS_") {
                    cmd.env_remove(k);
                }
            }
            cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        }
        let (sub, rest) = args.split_first().expect("a subcommand");
        cmd.arg(sub);
        let colorless = [
            "plan", "apply", "destroy", "import", "refresh", "validate", "show",
        ];
        if colorless.contains(sub) {
            cmd.arg("-no-color");
        }
        if ["plan", "apply", "destroy", "import", "refresh"].contains(sub) {
            cmd.arg("-input=false");
        }
        cmd.args(rest);
        cmd
    }

    /// Runs the release `keyshift` CLI in this directory.
    pub fn keyshift(&self, args: &[&str]) -> Run {
        let bin = release_dir().join("keyshift");
        let out = Command::new(bin)
            .current_dir(self.path())
            .env("TF_CLI_CONFIG_FILE", &self.rc)
            .env("KEYSHIFT_TERRAFORM_BIN", terraform_bin())
            .env_remove("KEYSHIFT_STORE")
            .args(args)
            .output()
            .expect("run keyshift");
        Run::from(out)
    }

    /// `terraform apply -auto-approve`, must succeed.
    pub fn apply(&self) -> Run {
        self.run(&["apply", "-auto-approve"]).ok()
    }

    /// `terraform destroy -auto-approve` (result returned, not checked).
    pub fn destroy(&self) -> Run {
        self.run(&["destroy", "-auto-approve"])
    }

    /// `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error.
    pub fn plan_code(&self) -> Run {
        self.run(&["plan", "-detailed-exitcode"])
    }

    /// Asserts that a plan shows no changes.
    pub fn assert_clean_plan(&self) {
        let r = self.plan_code();
        assert_eq!(r.code, 0, "expected an empty plan:\n{}", r.all());
    }

    /// The plan as `terraform show -json` prints it.
    pub fn plan_json(&self) -> Json {
        self.run(&["plan", "-out=tfplan"]).ok();
        let out = self.run(&["show", "-json", "tfplan"]).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// The state as `terraform show -json` prints it.
    pub fn state_json(&self) -> Json {
        let out = self.run(&["show", "-json"]).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// The attribute values of resource `address` in the current state.
    pub fn resource(&self, address: &str) -> Json {
        find_resource(&self.state_json(), address)
            .unwrap_or_else(|| panic!("{address} not in state"))
    }

    /// Raw `terraform.tfstate` text (to grep for leaks).
    pub fn raw_state(&self) -> String {
        std::fs::read_to_string(self.path().join("terraform.tfstate")).unwrap_or_default()
    }

    /// Removes the state file (to re-import from scratch).
    pub fn forget_state(&self) {
        let _ = std::fs::remove_file(self.path().join("terraform.tfstate"));
        let _ = std::fs::remove_file(self.path().join("terraform.tfstate.backup"));
    }
}

/// `values` of the resource at `address` in a `terraform show -json` document
/// (root module only).
pub fn find_resource(doc: &Json, address: &str) -> Option<Json> {
    let res = doc.pointer("/values/root_module/resources")?.as_array()?;
    res.iter()
        .find(|r| r["address"] == address)
        .map(|r| r["values"].clone())
}

/// The `actions` planned for `address` in a plan JSON document.
pub fn planned_actions(plan: &Json, address: &str) -> Vec<String> {
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|rc| rc["address"] == address)
        .map(|rc| {
            rc["change"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Pids of `terraform-provider-keyshift` processes whose parent is `parent`.
pub fn provider_children(parent: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && head.contains("terraform-provi") {
            out.push(pid);
        }
    }
    out
}
