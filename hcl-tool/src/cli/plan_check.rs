//! `keyshift plan-check PLAN.json`: CI gate on a Terraform plan.

use crate::check::{CheckConfig, Finding, Severity, check_plan};
use crate::cli::{CliError, Outcome};
use crate::plan::{Plan, read_input_or_stdin};
use crate::presets::{KeyTypes, MigrationAttrs};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Output format of plan-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Human-readable lines.
    Text,
    /// One JSON document (schema_version 1).
    Json,
    /// GitHub Actions workflow commands (`::error ...`).
    Github,
}

/// Arguments of `keyshift plan-check`.
#[derive(Debug, Args)]
pub struct PlanCheckArgs {
    /// Plan JSON from `terraform show -json PLANFILE`; `-` reads standard
    /// input. Anything that is not a complete plan (a state, a binary plan
    /// file, an errored or incomplete plan) is an input error (exit 2).
    pub plan: PathBuf,
    /// Accept a plan Terraform marked incomplete (`-target`, deferred
    /// changes); only the changes it contains are checked.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Address whose deletion/replacement is intentional (repeatable);
    /// a resource address without instance key covers all its instances.
    #[arg(long, value_name = "ADDRESS")]
    pub allow: Vec<String>,
    /// Extra key-bearing resource type (repeatable).
    #[arg(long, value_name = "TYPE")]
    pub key_type: Vec<String>,
    /// Extra migration attribute `TYPE.ATTR` (repeatable).
    #[arg(long, value_name = "TYPE.ATTR")]
    pub attr: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Also print the `moved` blocks that would turn each planned
    /// delete/create pair of a key-bearing resource with the same
    /// configuration into a move (`moves` in JSON output).
    #[arg(long)]
    pub suggest_moves: bool,
    /// Configuration directory to scan for blocks that `keyshift rewrite
    /// --prepare` edited and `--finalize` has not restored (a plan does not
    /// show `ignore_changes`); each is a warning.
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    findings: &'a [Finding],
    summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    moves: Option<crate::moves::Suggestions>,
}

#[derive(Serialize, Default)]
struct Summary {
    checked: usize,
    key_bearing: usize,
    errors: usize,
    warnings: usize,
    allowed: usize,
}

/// Runs plan-check on the plan file (or `stdin` for `-`), writing the
/// report to `out`.
pub fn run(
    args: &PlanCheckArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let text = read_input_or_stdin(&args.plan, stdin)?;
    let plan = Plan::parse(&args.plan, &text)?;
    if !args.allow_incomplete {
        plan.require_complete(&args.plan)?;
    }
    let cfg = CheckConfig {
        key_types: KeyTypes::with_defaults(&args.key_type),
        attrs: MigrationAttrs::with_presets(&args.attr)?,
        allow: args.allow.clone(),
    };
    let checked = check_plan(&plan, &cfg);
    let moves = args
        .suggest_moves
        .then(|| crate::moves::suggest_moves(&plan, &cfg.key_types));
    let mut findings = checked.findings;
    if let Some(dir) = &args.config {
        findings.extend(crate::cli::plan_check_config::prepared_findings(dir, &cfg)?);
    }
    let mut summary = Summary {
        checked: plan.resource_changes.len(),
        key_bearing: checked.key_bearing,
        ..Summary::default()
    };
    for f in &findings {
        match (f.allowed, f.severity) {
            (true, _) => summary.allowed += 1,
            (false, Severity::Error) => summary.errors += 1,
            (false, Severity::Warning) => summary.warnings += 1,
        }
    }
    match args.format {
        CheckFormat::Text => write_text(out, &findings, &summary)?,
        CheckFormat::Json => {
            let report = JsonReport {
                schema_version: 1,
                findings: &findings,
                summary,
                moves,
            };
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
            return Ok(outcome(&report.summary));
        }
        CheckFormat::Github => write_github(out, &findings, &summary)?,
    }
    if let Some(moves) = &moves {
        crate::cli::plan_check_moves::write(out, moves, args.format)?;
    }
    Ok(outcome(&summary))
}

fn outcome(summary: &Summary) -> Outcome {
    if summary.errors > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}

fn write_text(out: &mut dyn Write, findings: &[Finding], s: &Summary) -> std::io::Result<()> {
    for f in findings {
        let label = match (f.allowed, f.severity) {
            (true, _) => "allowed",
            (false, Severity::Error) => "error",
            (false, Severity::Warning) => "warning",
        };
        writeln!(out, "{label}: {}: {}", f.address, f.message)?;
    }
    let scope = format!(
        "{} resource changes checked, {} of them key-bearing",
        s.checked, s.key_bearing
    );
    if findings.is_empty() {
        writeln!(out, "plan-check: no findings ({scope})")
    } else {
        writeln!(
            out,
            "plan-check: {} error(s), {} warning(s), {} allowed ({scope})",
            s.errors, s.warnings, s.allowed
        )
    }
}

fn write_github(out: &mut dyn Write, findings: &[Finding], s: &Summary) -> std::io::Result<()> {
    writeln!(
        out,
        "::notice title=keyshift plan-check::{} resource changes checked, {} of them key-bearing",
        s.checked, s.key_bearing
    )?;
    for f in findings.iter().filter(|f| !f.allowed) {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let msg = gh_escape(&format!("{}: {}", f.address, f.message));
        writeln!(out, "::{level} title=keyshift plan-check::{msg}")?;
    }
    Ok(())
}

/// Escapes a GitHub workflow-command message.
fn gh_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}
