//! Output of `keyshift migrate`: one line per object, the summary, and the
//! JSON migration report (see `docs/guides/migration-report.md`).

use crate::cli::CliError;
use crate::report::{ObjectKind, Outcome as ReportOutcome, Report, ReportObject, SCHEMA_VERSION};
use keyshift_core::engine::migrate::{self, Candidate, Decision, Selection};
use std::io::Write;
use std::path::Path;

/// What became of one object, for the summary and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Moved.
    Migrated,
    /// Dry run: would move.
    WouldMigrate,
    /// Already there, or not required (service key).
    Skipped,
    /// A migration rule refused it.
    Refused,
    /// The move was attempted and failed.
    Failed,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Migrated => "migrated",
            Status::WouldMigrate => "would migrate",
            Status::Skipped => "skipped",
            Status::Refused => "refused",
            Status::Failed => "failed",
        }
    }
}

/// One object's line.
#[derive(Debug, Clone)]
pub struct Line {
    /// Status.
    pub status: Status,
    /// Why, unless it moved.
    pub reason: Option<String>,
}

impl Line {
    /// A dry run's line: what the run would do.
    pub fn planned(c: &Candidate) -> Line {
        match &c.decision {
            Decision::Move => Line {
                status: Status::WouldMigrate,
                reason: None,
            },
            other => Self::not_moving(other),
        }
    }

    /// A real run's line.
    pub fn done(c: &Candidate, o: migrate::Outcome) -> Line {
        match o {
            migrate::Outcome::Migrated => Line {
                status: Status::Migrated,
                reason: None,
            },
            migrate::Outcome::Failed(why) => Line {
                status: Status::Failed,
                reason: Some(why),
            },
            migrate::Outcome::Skipped(_) => Self::not_moving(&c.decision),
        }
    }

    fn not_moving(d: &Decision) -> Line {
        let (status, reason) = match d {
            Decision::Move => (Status::WouldMigrate, None),
            Decision::AlreadyThere => (Status::Skipped, Some("already in the target".into())),
            Decision::Skip(why) => (Status::Skipped, Some(why.clone())),
            Decision::Refuse(why) => (Status::Refused, Some(why.clone())),
        };
        Line { status, reason }
    }

    /// Refused or failed: the run exits 1.
    pub fn is_finding(&self) -> bool {
        matches!(self.status, Status::Refused | Status::Failed)
    }
}

fn kind(k: migrate::ObjectKind) -> (ObjectKind, &'static str) {
    match k {
        migrate::ObjectKind::Key => (ObjectKind::Key, "key"),
        migrate::ObjectKind::Secret => (ObjectKind::Secret, "secret"),
    }
}

/// One object as the summary and the report show it (a container move's
/// candidate, or a store move's).
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// Key or secret id.
    pub id: &'a str,
    /// Key or secret.
    pub kind: migrate::ObjectKind,
    /// Aliases or secret name.
    pub names: &'a [String],
    /// Where it comes from.
    pub source: String,
    /// Where it goes.
    pub target: String,
}

fn rows(sel: &Selection) -> Vec<Row<'_>> {
    sel.candidates
        .iter()
        .map(|c| Row {
            id: &c.id,
            kind: c.kind,
            names: &c.names,
            source: c.source.to_string(),
            target: sel.target.to_string(),
        })
        .collect()
}

/// Writes one line per object and the counts.
pub fn write_summary(
    out: &mut dyn Write,
    sel: &Selection,
    lines: &[Line],
    dry_run: bool,
) -> Result<(), CliError> {
    let heading = format!("migrate to {}", sel.target);
    write_rows(out, &rows(sel), lines, dry_run, &heading)
}

/// [`write_summary`] for any rows; the last line starts with `heading`.
pub fn write_rows(
    out: &mut dyn Write,
    rows: &[Row<'_>],
    lines: &[Line],
    dry_run: bool,
    heading: &str,
) -> Result<(), CliError> {
    for (c, l) in rows.iter().zip(lines) {
        let names = if c.names.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.names.join(", "))
        };
        let reason = l
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<13} {} {}{names} {} -> {}{reason}",
            l.status.word(),
            kind(c.kind).1,
            c.id,
            c.source,
            c.target
        )?;
    }
    let count = |s: Status| lines.iter().filter(|l| l.status == s).count();
    let moved = if dry_run {
        format!("{} would migrate", count(Status::WouldMigrate))
    } else {
        format!("{} migrated", count(Status::Migrated))
    };
    writeln!(
        out,
        "{}{heading}: {moved}, {} skipped, {} refused, {} failed",
        if dry_run { "dry run: " } else { "" },
        count(Status::Skipped),
        count(Status::Refused),
        count(Status::Failed)
    )?;
    Ok(())
}

/// The migration report of a run (a dry run's objects are all `skipped`,
/// the ones that would move with the reason `dry run: would migrate`).
pub fn report(sel: &Selection, lines: &[Line]) -> Report {
    report_rows(&rows(sel), lines)
}

/// [`report`] for any rows.
pub fn report_rows(rows: &[Row<'_>], lines: &[Line]) -> Report {
    let objects = rows
        .iter()
        .zip(lines)
        .map(|(c, l)| ReportObject {
            id: c.id.to_string(),
            kind: kind(c.kind).0,
            source: c.source.clone(),
            target_instance_id: c.target.clone(),
            outcome: match l.status {
                Status::Migrated => ReportOutcome::Migrated,
                Status::Failed => ReportOutcome::Failed,
                _ => ReportOutcome::Skipped,
            },
            names: c.names.to_vec(),
            reason: match l.status {
                Status::WouldMigrate => Some("dry run: would migrate".into()),
                Status::Refused => l.reason.as_ref().map(|r| format!("refused: {r}")),
                _ => l.reason.clone(),
            },
        })
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        objects,
    }
}

/// Writes the report as pretty JSON.
pub fn write_report(path: &Path, report: &Report) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| CliError::Usage(format!("cannot render the report: {e}")))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| CliError::Usage(format!("cannot write report {}: {e}", path.display())))
}
