//! `keyshift rewrite --select … --set … --verify`: after writing, the plan
//! must show exactly the migration that was asked for — an in-place update
//! of the placement attribute on every selected instance, and nothing else
//! anywhere.

use crate::plan::{ChangeKind, Plan, ResourceChange, marks_attr, top_level};
use crate::presets::MigrationAttrs;
use crate::rewrite::RewriteError;
use crate::rewrite::select::Selection;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Runs `terraform plan` in `dir` and returns every way the plan differs
/// from the selection's migration (empty: verified).
pub fn verify_selection(
    dir: &Path,
    terraform: &Path,
    sel: &Selection,
    attrs: &MigrationAttrs,
) -> Result<Vec<String>, RewriteError> {
    let text = plan_json(dir, terraform)?;
    let plan = Plan::parse(Path::new("terraform show -json"), &text)
        .map_err(|e| RewriteError::Terraform(format!("{e}")))?;
    let mut failures = Vec::new();
    let mut seen = 0;
    for rc in plan.resource_changes.iter().filter(|rc| rc.is_managed()) {
        let wanted = sel.matches(&rc.address) && attrs.contains(&rc.rtype, &sel.attr);
        seen += usize::from(wanted);
        if let Some(why) = judge(rc, wanted.then_some(sel)) {
            failures.push(format!("{}: {why}", rc.address));
        }
    }
    if seen == 0 {
        failures.push("the plan contains no selected resource".to_owned());
    }
    Ok(failures)
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
