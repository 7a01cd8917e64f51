//! `keyshift migrate --rewrite DIR [--verify]`: after the run, pin the new
//! placement in the Terraform configuration, exactly as
//! `keyshift rewrite DIR --report R --state S [--verify]` would with this
//! run's report and the state of DIR (`terraform show -json`).
//!
//! A DIR whose state holds no resource (no `terraform apply` there yet, or
//! the state lives elsewhere) cannot be pinned: the run says so, on both
//! streams, and the migration itself stands (exit 0 when it was clean).

use crate::cli::rewrite::{RewriteArgs, RewriteFormat};
use crate::cli::{CliError, Outcome};
use crate::rewrite::RewriteError;
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Applies the report at `report_path` to the configuration in `dir` (the
/// rewrite reads the whole report: one entry per object of the run).
pub fn apply(
    dir: &Path,
    terraform: &Path,
    report_path: &Path,
    verify: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let tmp = crate::scratch::dir()?;
    let state_path = tmp.path().join("state.json");
    let state = state_json(dir, terraform)?;
    let text = String::from_utf8_lossy(&state);
    let parsed = crate::state::State::parse(&state_path, &text)?;
    if parsed.resources().is_empty() {
        let why = format!(
            "nothing could be pinned: {} has no Terraform state with resources (`terraform show -json` lists none; run this where `terraform apply` manages these objects, or pin them later with `keyshift rewrite DIR --report FILE`); the migration itself is done",
            dir.display()
        );
        writeln!(out, "rewrite {}: {why}", dir.display())?;
        eprintln!("keyshift: warning: --rewrite {}: {why}", dir.display());
        return Ok(Outcome::Clean);
    }
    std::fs::write(&state_path, &state)?;
    let args = RewriteArgs {
        dir: dir.to_owned(),
        plan: None,
        report: Some(report_path.to_owned()),
        state: Some(state_path),
        select: Vec::new(),
        set: None,
        attr: Vec::new(),
        check: false,
        verify,
        terraform_bin: terraform.to_owned(),
        format: RewriteFormat::Text,
        insert_everywhere: None,
        add_moves: false,
        prepare: false,
        finalize: false,
    };
    writeln!(out, "rewrite {}:", dir.display())?;
    crate::cli::rewrite::run(&args, out)
}

/// `terraform show -json` in `dir`.
fn state_json(dir: &Path, terraform: &Path) -> Result<Vec<u8>, CliError> {
    let output = Command::new(terraform)
        .args(["show", "-json", "-no-color"])
        .current_dir(dir)
        .output()
        .map_err(|e| RewriteError::Terraform(format!("cannot run {}: {e}", terraform.display())))?;
    if !output.status.success() {
        return Err(RewriteError::Terraform(format!(
            "`terraform show -json` failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
        .into());
    }
    Ok(output.stdout)
}
