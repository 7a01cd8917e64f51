//! `keyshift rotate --due`: rotate every key whose `rotation_interval` has
//! passed since its last rotation (or creation). Meant for cron or a CI
//! schedule: each key rotates in its own transaction, a key is never rotated
//! twice for one due date (the check is repeated inside the transaction),
//! and a second run right after finds nothing to do.
//!
//! Exit codes: 0 when every due key was rotated (or none was due), 1 when
//! any failed (including keys whose interval can never be honoured), 2 for
//! usage or input errors. Due keys that wait (disabled, or in a container
//! held by a migration) are listed as skipped and do not fail the run.

use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome};
use clap::{Args, ValueEnum};
use keyshift_core::engine::rotation::{self, DueKey, DueOutcome};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Output format of the rotation commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable lines.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

/// Arguments of `keyshift rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Rotate every key that is due (required: the only mode).
    #[arg(long, required = true)]
    pub due: bool,
    /// Only report what would be rotated; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Decide what is due as of this RFC 3339 time instead of now (to
    /// preview a future run, or in tests). New versions are still stamped
    /// with the real time.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// One key in the JSON output.
#[derive(Debug, Serialize)]
struct JsonKey<'a> {
    key_id: &'a str,
    aliases: &'a [String],
    due_since: Option<&'a str>,
    /// `rotated`, `would_rotate`, `skipped` or `failed`.
    outcome: &'static str,
    current_version: Option<&'a str>,
    version_count: Option<i64>,
    message: Option<&'a str>,
}

/// Counts per outcome.
#[derive(Debug, Default, Serialize)]
struct Summary {
    rotated: usize,
    would_rotate: usize,
    skipped: usize,
    failed: usize,
}

/// The JSON document.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    now: &'a str,
    dry_run: bool,
    keys: Vec<JsonKey<'a>>,
    summary: Summary,
}

fn json_key(d: &DueKey) -> JsonKey<'_> {
    let (outcome, current_version, version_count, message) = match &d.outcome {
        DueOutcome::Rotated {
            version_id,
            version_count,
        } => (
            "rotated",
            Some(version_id.as_str()),
            Some(*version_count),
            None,
        ),
        DueOutcome::WouldRotate => ("would_rotate", None, None, None),
        DueOutcome::Skipped(m) => ("skipped", None, None, Some(m.as_str())),
        DueOutcome::Failed(m) => ("failed", None, None, Some(m.as_str())),
    };
    JsonKey {
        key_id: &d.key_id,
        aliases: &d.aliases,
        due_since: d.due_since.as_deref(),
        outcome,
        current_version,
        version_count,
        message,
    }
}

fn summary(keys: &[JsonKey<'_>]) -> Summary {
    let mut s = Summary::default();
    for k in keys {
        match k.outcome {
            "rotated" => s.rotated += 1,
            "would_rotate" => s.would_rotate += 1,
            "skipped" => s.skipped += 1,
            _ => s.failed += 1,
        }
    }
    s
}

fn write_table(out: &mut dyn Write, now: &str, report: &JsonReport<'_>) -> std::io::Result<()> {
    if report.keys.is_empty() {
        return writeln!(out, "no key is due for rotation at {now}");
    }
    writeln!(out, "{:<42} {:<21} OUTCOME", "KEY", "DUE SINCE")?;
    for k in &report.keys {
        let outcome = match (k.outcome, k.version_count, k.message) {
            ("rotated", Some(n), _) => format!("rotated: version {n} is now current"),
            ("would_rotate", _, _) => "would rotate (dry run)".to_string(),
            (o, _, Some(m)) => format!("{o}: {m}"),
            (o, _, None) => o.to_string(),
        };
        let name = match k.aliases.first() {
            Some(a) => format!("{} ({a})", k.key_id),
            None => k.key_id.to_string(),
        };
        writeln!(
            out,
            "{name:<42} {:<21} {outcome}",
            k.due_since.unwrap_or("-")
        )?;
    }
    let s = &report.summary;
    writeln!(
        out,
        "{} rotated, {} would rotate, {} skipped, {} failed",
        s.rotated, s.would_rotate, s.skipped, s.failed
    )
}

/// Rotates (or, with `--dry-run`, lists) every due key.
pub fn run(
    args: &RotateArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let now = match &args.now {
        Some(s) => {
            rotation::parse_time("now", s).map_err(|e| CliError::Usage(format!("--now: {e}")))?
        }
        None => rotation::current_time(),
    };
    let kms = open_existing(&store::store_location(store_flag)?, &args.aws.service())?;
    let due = kms
        .rotate_due(now, args.dry_run)
        .map_err(failed("cannot list the keys of the store"))?;
    let now_s = rotation::format_time(now);
    let keys: Vec<JsonKey<'_>> = due.iter().map(json_key).collect();
    let report = JsonReport {
        schema_version: 1,
        now: &now_s,
        dry_run: args.dry_run,
        summary: summary(&keys),
        keys,
    };
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        OutputFormat::Table => write_table(out, &now_s, &report)?,
    }
    out.flush()?;
    Ok(if due.iter().any(|d| d.outcome.is_failure()) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
