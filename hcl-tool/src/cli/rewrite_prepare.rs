//! `keyshift rewrite DIR --prepare --select GLOB…` and `keyshift rewrite
//! DIR --finalize (--plan P | --report R --state S)`: the two phases around
//! a migration for providers whose placement attribute forces replacement
//! (see [`crate::rewrite::prepare`]).

use crate::cli::rewrite::{JsonSummary, RewriteArgs, RewriteFormat, derive, write_diffs};
use crate::cli::{CliError, Outcome};
use crate::presets::MigrationAttrs;
use crate::rewrite::apply::RewritePlan;
use crate::rewrite::config::Config;
use crate::rewrite::prepare::{IGNORED, REMOVED, plan_finalize, plan_prepare};
use crate::rewrite::write::commit;
use std::io::Write;

/// Runs `--prepare` or `--finalize`, writing the report to `out`.
pub fn run(args: &RewriteArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let attrs = MigrationAttrs::with_presets(&args.attr)?;
    let mut config = Config::load(&args.dir)?;
    let (mode, plan) = if args.prepare {
        let plan = plan_prepare(&config, &args.select, &attrs)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        ("prepare", plan)
    } else {
        let derivation = derive(args, &attrs)?;
        ("finalize", plan_finalize(&mut config, derivation, &attrs)?)
    };
    let mut outcome = if plan.refusals.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    };
    if args.check {
        if !plan.changes.is_empty() {
            outcome = Outcome::Findings;
        }
        if args.format == RewriteFormat::Text {
            write_diffs(out, &plan.changes)?;
        }
    } else {
        commit(&plan.changes)?;
    }
    match args.format {
        RewriteFormat::Text => write_text(out, &plan, mode, args.check)?,
        RewriteFormat::Json => {
            JsonSummary::of(&plan, args.check)
                .with_mode(mode)
                .write(out)?;
        }
    }
    Ok(outcome)
}

fn write_text(
    out: &mut dyn Write,
    plan: &RewritePlan,
    mode: &str,
    check: bool,
) -> std::io::Result<()> {
    let would = if check { "would " } else { "" };
    for a in &plan.applied {
        let file = a.file.display();
        if a.value == IGNORED {
            let verb = if check { "would add" } else { "added" };
            writeln!(
                out,
                "{}: {verb} {} to {IGNORED} ({file}:{})",
                a.address, a.attr, a.line
            )?;
        } else if a.value == REMOVED {
            let verb = if check { "would remove" } else { "removed" };
            writeln!(
                out,
                "{}: {verb} {} from {IGNORED} (added by --prepare) ({file}:{})",
                a.address, a.attr, a.line
            )?;
        } else {
            writeln!(
                out,
                "{}: {would}set {} = {} ({file}:{})",
                a.address, a.attr, a.value, a.line
            )?;
        }
    }
    for r in &plan.refusals {
        writeln!(out, "refused: {}: {}", r.address, r.reason)?;
    }
    for r in &plan.skipped {
        writeln!(out, "skipped: {}: {}", r.address, r.reason)?;
    }
    for w in &plan.warnings {
        writeln!(out, "warning: {w}")?;
    }
    let summary = match (check, plan.changes.len()) {
        (_, 0) => format!("rewrite --{mode}: no edits needed"),
        (true, n) => format!("rewrite --{mode} --check: edits needed in {n} file(s)"),
        (false, n) => format!("rewrite --{mode}: wrote {n} file(s)"),
    };
    let refused = match plan.refusals.len() {
        0 => String::new(),
        n => format!(", {n} refused"),
    };
    writeln!(out, "{summary}{refused}")
}
