//! `keyshift rewrite … --verify`: after writing, run `terraform plan` and
//! say exactly what it shows.
//!
//! - With `--select … --set …` the plan must show exactly the migration that
//!   was asked for: an in-place update of the placement attribute on every
//!   selected instance (or none where it already has the value), and no
//!   change anywhere else; the verdict counts the updates.
//! - Otherwise the plan must have no changes at all.
//! - When `terraform plan` itself fails, the edits just written are rolled
//!   back (the files get their original bytes) and the run is an error.

use crate::cli::CliError;
use crate::plan::{ChangeKind, Plan, ResourceChange, marks_attr, top_level};
use crate::presets::MigrationAttrs;
use crate::rewrite::RewriteError;
use crate::rewrite::apply::FileChange;
use crate::rewrite::select::Selection;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// What `--verify` found in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The plan has no changes.
    Clean,
    /// `--select`: only the intended in-place updates of `attr`.
    Intended {
        /// How many resource instances are updated in place.
        updates: usize,
        /// The placement attribute.
        attr: String,
    },
    /// `--select`: the plan is not the migration asked for (why, per
    /// resource).
    Differs(Vec<String>),
    /// The plan has changes (Terraform's rendering went to stderr).
    NotClean,
}

impl Verdict {
    /// Whether the plan is what was asked for.
    pub fn ok(&self) -> bool {
        matches!(self, Verdict::Clean | Verdict::Intended { .. })
    }

    /// The in-place updates verified (`--select` only).
    pub fn planned_updates(&self) -> Option<usize> {
        match self {
            Verdict::Intended { updates, .. } => Some(*updates),
            _ => None,
        }
    }

    /// The `verify:` lines of the text report.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            Verdict::Clean => writeln!(out, "verify: terraform plan is clean (no changes)"),
            Verdict::Intended { updates, attr } => writeln!(
                out,
                "verify: terraform plan has only the intended changes: {updates} in-place \
                 update(s) of {attr}, 0 to add, 0 to replace, 0 to destroy"
            ),
            Verdict::Differs(why) => {
                for w in why {
                    writeln!(out, "verify: {w}")?;
                }
                writeln!(
                    out,
                    "verify: terraform plan is NOT the intended migration (see the lines above)"
                )
            }
            Verdict::NotClean => writeln!(out, "verify: terraform plan is NOT clean (see stderr)"),
        }
    }
}

/// Runs the `--verify` plan in `dir` after `changes` were written; when
/// Terraform fails, `changes` are rolled back and the error says so.
pub fn verify_written(
    dir: &Path,
    terraform: &Path,
    selection: Option<(&Selection, &MigrationAttrs)>,
    changes: &[FileChange],
) -> Result<Verdict, CliError> {
    let verdict = match selection {
        Some((sel, attrs)) => verify_selection(dir, terraform, sel, attrs),
        None => verify_clean(dir, terraform),
    };
    verdict.map_err(|e| {
        let not_restored = crate::rewrite::write::revert(changes);
        RewriteError::VerifyFailed {
            source: Box::new(e),
            not_restored,
        }
        .into()
    })
}

/// Runs `terraform plan` in `dir` and judges it against the selection's
/// migration.
fn verify_selection(
    dir: &Path,
    terraform: &Path,
    sel: &Selection,
    attrs: &MigrationAttrs,
) -> Result<Verdict, RewriteError> {
    let text = plan_json(dir, terraform)?;
    let plan = Plan::parse(Path::new("terraform show -json"), &text)
        .map_err(|e| RewriteError::Terraform(format!("{e}")))?;
    let mut failures = Vec::new();
    let (mut seen, mut updates) = (0, 0);
    for rc in plan.resource_changes.iter().filter(|rc| rc.is_managed()) {
        let wanted = sel.matches(&rc.address) && attrs.contains(&rc.rtype, &sel.attr);
        seen += usize::from(wanted);
        match judge(rc, wanted.then_some(sel)) {
            Some(why) => failures.push(format!("{}: {why}", rc.address)),
            None => updates += usize::from(rc.change.kind() == ChangeKind::Update),
        }
    }
    if seen == 0 {
        failures.push("the plan contains no selected resource".to_owned());
    }
    Ok(match (failures.is_empty(), updates) {
        (false, _) => Verdict::Differs(failures),
        (true, 0) => Verdict::Clean,
        (true, updates) => Verdict::Intended {
            updates,
            attr: sel.attr.clone(),
        },
    })
}

/// Runs `terraform plan -detailed-exitcode` in `dir`.
fn verify_clean(dir: &Path, terraform: &Path) -> Result<Verdict, RewriteError> {
    let output = Command::new(terraform)
        .args([
            "plan",
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
            "-lock=false",
        ])
        .current_dir(dir)
        .output()
        .map_err(|e| RewriteError::Terraform(format!("cannot run {}: {e}", terraform.display())))?;
    match output.status.code() {
        Some(0) => Ok(Verdict::Clean),
        Some(2) => {
            eprintln!("{}", String::from_utf8_lossy(&output.stdout));
            Ok(Verdict::NotClean)
        }
        _ => Err(RewriteError::Terraform(format!(
            "`terraform plan` failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// Why one resource change is not what the selection asks for.
fn judge(rc: &ResourceChange<'_>, sel: Option<&Selection>) -> Option<String> {
    let kind = rc.change.kind();
    let Some(sel) = sel else {
        return (kind != ChangeKind::NoOp).then(|| {
            format!(
                "not selected, but the plan has {}",
                rc.change.actions_text()
            )
        });
    };
    let (Ok(before), Ok(after)) = (top_level(rc.change.before), top_level(rc.change.after)) else {
        return Some("before/after values are not objects".to_owned());
    };
    let want = Value::String(sel.value.clone());
    let attr = sel.attr.as_str();
    match kind {
        ChangeKind::NoOp if before.get(attr) == Some(&want) => None,
        ChangeKind::Update => {
            if after.get(attr) != Some(&want) {
                return Some(format!("{attr} is not planned to become {want}"));
            }
            let null = Value::Null;
            let others: Vec<&str> = before
                .keys()
                .chain(after.keys())
                .filter(|k| k.as_str() != attr && !marks_attr(rc.change.after_unknown, k))
                .filter(|k| before.get(*k).unwrap_or(&null) != after.get(*k).unwrap_or(&null))
                .map(String::as_str)
                .collect();
            (!others.is_empty())
                .then(|| format!("other attributes change too: {}", others.join(", ")))
        }
        _ => Some(format!(
            "expected an in-place update of {attr}, the plan has {}",
            rc.change.actions_text()
        )),
    }
}

/// `terraform plan -out` then `terraform show -json` in `dir`.
fn plan_json(dir: &Path, terraform: &Path) -> Result<String, RewriteError> {
    let tmp =
        crate::scratch::dir().map_err(|e| RewriteError::Terraform(format!("temp dir: {e}")))?;
    let planfile = tmp.path().join("keyshift-verify.tfplan");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(terraform)
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| {
                RewriteError::Terraform(format!("cannot run {}: {e}", terraform.display()))
            })?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(RewriteError::Terraform(format!(
                "`terraform {}` failed in {}: {}",
                args.first()
                    .map(|a| a.to_string_lossy())
                    .unwrap_or_default(),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    };
    run(&[
        "plan".as_ref(),
        "-input=false".as_ref(),
        "-no-color".as_ref(),
        "-lock=false".as_ref(),
        "-out".as_ref(),
        planfile.as_os_str(),
    ])?;
    let json = run(&["show".as_ref(), "-json".as_ref(), planfile.as_os_str()])?;
    String::from_utf8(json)
        .map_err(|_| RewriteError::Terraform("terraform show printed non-UTF-8".into()))
}
