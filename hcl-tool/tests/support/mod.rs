//! What the CLI tests share: running the real `keyshift` binary on a store
//! with nothing inherited from the caller's environment, reading its
//! output, and setting stores up through the engine.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod store_move;

use assert_cmd::Command;
use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, InstanceType, Key, KeySpec, KeyUsage, NewInstance, NewKey};
use std::path::Path;
use std::process::Output;

/// The binary with `--store STORE`, no `KEYSHIFT_*` or `AWS_*` variable of
/// the caller, and `stdin` as standard input; killed after 60 s.
pub fn keyshift_stdin(store: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::cargo_bin("keyshift").unwrap();
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("KEYSHIFT_") || n.starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    // A bound on every run: a hang fails the test instead of the CI job.
    cmd.arg("--store")
        .arg(store)
        .args(args)
        .write_stdin(stdin.to_vec())
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

/// [`keyshift_stdin`] with empty standard input.
pub fn keyshift(store: &Path, args: &[&str]) -> Output {
    keyshift_stdin(store, args, b"")
}

/// The exit code (panics when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// Standard output, lossily decoded.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error, lossily decoded.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A key with the resource defaults.
pub fn new_key(kms: &Kms, container: Container, spec: KeySpec, usage: KeyUsage) -> Key {
    kms.create_key(NewKey::new(container, spec, usage)).unwrap()
}

/// A software instance named `name` in region `local-1` (quotas 10).
pub fn instance(kms: &Kms, name: &str) -> Container {
    let i = kms
        .create_instance(NewInstance {
            name: name.into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: 10,
            secret_quota: 10,
        })
        .unwrap();
    Container::Instance(i.id)
}

/// Copies the tree `from` to `to` (created).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::write(&dest, std::fs::read(&p).unwrap()).unwrap();
        }
    }
}

/// Files under `dir` that `terraform fmt -check` would change.
pub fn fmt_unclean(dir: &Path) -> Vec<String> {
    let out = std::process::Command::new("/usr/local/bin/terraform")
        .args(["fmt", "-check", "-list=true", "-recursive"])
        .arg(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
