//! `make install` puts the provider in Terraform's implied local mirror
//! (`~/.terraform.d/plugins/registry.terraform.io/keyshift/keyshift/0.1.0/linux_amd64/`):
//! with that layout, a plain `terraform init` (no CLI provider_installation
//! settings, no network) finds the provider, and apply works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use keyshift_e2e::{clean_env, release_dir, terraform_bin};

#[test]
fn plain_init_finds_the_provider_in_the_implied_mirror() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    // The same path the Makefile's `install` target writes.
    let makefile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Makefile")).unwrap();
    assert!(makefile.contains(
        "MIRROR_DIR := $(HOME)/.terraform.d/plugins/registry.terraform.io/keyshift/keyshift/$(VERSION)/linux_amd64"
    ));
    let dir = home
        .path()
        .join(".terraform.d/plugins/registry.terraform.io/keyshift/keyshift/0.1.0/linux_amd64");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        release_dir().join("terraform-provider-keyshift"),
        dir.join("terraform-provider-keyshift_v0.1.0"),
    )
    .unwrap();
    let empty_rc = work.path().join("empty.tfrc");
    std::fs::write(&empty_rc, "").unwrap();
    std::fs::write(
        work.path().join("main.tf"),
        "terraform {\n  required_providers {\n    keyshift = {\n      source  = \"keyshift/keyshift\"\n      version = \"0.1.0\"\n    }\n  }\n}\n\nresource \"keyshift_key\" \"k\" {}\n",
    )
    .unwrap();
    let tf = |args: &[&str]| {
        let out = clean_env(&mut Command::new(terraform_bin()))
            .current_dir(work.path())
            .env("HOME", home.path())
            .env("TF_CLI_CONFIG_FILE", &empty_rc)
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "terraform {args:?} failed:\n{text}");
        text
    };
    let init = tf(&["init", "-input=false", "-no-color"]);
    assert!(init.contains("keyshift/keyshift v0.1.0"), "{init}");
    let lock = std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains("registry.terraform.io/keyshift/keyshift"),
        "{lock}"
    );
    tf(&["apply", "-input=false", "-no-color", "-auto-approve"]);
    let plan = clean_env(&mut Command::new(terraform_bin()))
        .current_dir(work.path())
        .env("HOME", home.path())
        .env("TF_CLI_CONFIG_FILE", &empty_rc)
        .args(["plan", "-input=false", "-no-color", "-detailed-exitcode"])
        .status()
        .unwrap();
    assert_eq!(plan.code(), Some(0));
}
