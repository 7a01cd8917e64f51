//! End-to-end harness: drives the real `terraform` CLI against the release
//! build of `terraform-provider-keyshift`, and the release `keyshift` CLI.
//! It is the only one: every test that runs terraform lives in this crate.
//!
//! - The provider is built once, by `make e2e` (`cargo build --release`);
//!   tests find it in `KEYSHIFT_RELEASE_DIR` or `<workspace>/target/release`
//!   and never build it themselves (one build shared by every test).
//! - Every [`Tf`] is a fresh temp dir with its own CLI config file
//!   (`dev_overrides`), set through `TF_CLI_CONFIG_FILE`, so the user's
//!   configuration is never read; the key store lives in that dir unless
//!   the test points it elsewhere ([`Tf::with_env`]).
//! - Every terraform and keyshift run starts from a clean environment
//!   ([`clean_env`]): no `KEYSHIFT_*` or `AWS_*` variable of the caller
//!   reaches it, only what the test sets with [`Tf::with_env`].
//! - Terraform runs with `-input=false -no-color`.
//! - A test whose prerequisite is missing (terraform, moto, a PostgreSQL
//!   server in `KEYSHIFT_TEST_PG_URL`) fails under `CI=true`; elsewhere it
//!   may skip with a loud notice ([`prerequisite`]), never silently.
//!
//! # Test file names
//!
//! - `tests/tests/<feature>.rs`: end-to-end tests of one feature through
//!   terraform (and the CLI where the feature spans both), e.g. `key.rs`,
//!   `secret_value.rs`, `postgres.rs`.
//! - `hcl-tool/tests/<command>_cli.rs`: the real `keyshift` binary, one
//!   file per command (or command family), no terraform, e.g. `key_cli.rs`,
//!   `rewrite_fixtures_cli.rs`; shared helpers in `hcl-tool/tests/support/`.
//! - `core/tests/<area>.rs` and `provider/tests/<area>.rs`: integration
//!   tests of a crate's public API (`aws_moto.rs`, `plugin_tls.rs`).
//! - Unit tests live beside the code (`mod tests`, or `<module>_tests.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

pub mod pg;
pub mod pg_proxy;

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

/// Removes every `KEYSHIFT_*` and `AWS_*` variable (and `TF_LOG`) of the
/// caller from `cmd`, and keeps the AWS SDK away from the EC2 metadata
/// service. Variables a test wants are set on `cmd` afterwards.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("KEYSHIFT_") || n.starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.env_remove("TF_LOG")
        .env("AWS_EC2_METADATA_DISABLED", "true")
}

/// Whether a test's prerequisite is there: `true` runs the test. When it
/// is missing, this panics under `CI=true` (a missing prerequisite is a
/// failure there) and otherwise prints a loud notice and returns `false`
/// (the test returns early). `how` says how to provide it.
pub fn prerequisite(what: &str, available: bool, how: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is missing (CI=true): {how}"
    );
    eprintln!("\n*** SKIPPED: {what} is missing: {how} ***\n");
    false
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
    /// provider) and every keyshift run; inherited `KEYSHIFT_*` and `AWS_*`
    /// variables never reach them, so those settings come only from here.
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

    /// Writes a file in the working directory (`name` may hold
    /// directories, e.g. `modules/kms/main.tf`).
    pub fn write(&self, name: &str, text: &str) {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    /// Reads a file of the working directory.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
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
            .env("CHECKPOINT_DISABLE", "1");
        clean_env(&mut cmd).envs(self.env.iter().map(|(k, v)| (k, v)));
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

    /// The release `keyshift ARGS...` command in this directory, with the
    /// same clean environment as terraform runs (plus [`Tf::with_env`]),
    /// for callers that need more than [`Tf::keyshift`] (stdin, a running
    /// process).
    pub fn keyshift_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(release_dir().join("keyshift"));
        cmd.current_dir(self.path())
            .env("TF_CLI_CONFIG_FILE", &self.rc);
        clean_env(&mut cmd)
            .env("KEYSHIFT_TERRAFORM_BIN", terraform_bin())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args);
        cmd
    }

    /// Runs the release `keyshift` CLI in this directory.
    pub fn keyshift(&self, args: &[&str]) -> Run {
        Run::from(self.keyshift_command(args).output().expect("run keyshift"))
    }

    /// Runs the release `keyshift` CLI with `stdin` as standard input.
    pub fn keyshift_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        use std::io::Write as _;
        let mut child = self
            .keyshift_command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run keyshift");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        Run::from(child.wait_with_output().unwrap())
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

    /// `terraform plan -out` then `terraform show -json`, saved as `name`
    /// in the working directory (for `keyshift --plan FILE`); its path.
    pub fn save_plan_json(&self, name: &str) -> PathBuf {
        self.run(&["plan", "-out=tfplan"]).ok();
        let out = self.run(&["show", "-json", "tfplan"]).ok();
        let path = self.path().join(name);
        std::fs::write(&path, out.stdout).unwrap();
        path
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
