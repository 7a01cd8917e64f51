//! Output of `keyshift migrate`: one line per object and the counts, and the
//! JSON migration report (see `docs/guides/migration-report.md`). Both are
//! written as the run reports each object, so neither holds the run's
//! objects in memory: a run of any size needs one object at a time.

use crate::cli::CliError;
use crate::report::{ObjectKind, Outcome as ReportOutcome, Report, ReportObject, SCHEMA_VERSION};
use keyshift_core::engine::migrate::{self, Candidate, Decision};
use keyshift_core::store::Container;
use std::borrow::Cow;
use std::io::{BufWriter, Write};
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
    /// The word that starts an object's line.
    pub fn word(self) -> &'static str {
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
    /// Skipped because it already is in the target: the report says so
    /// (`in_target`) when the run took over an interrupted attempt, whose
    /// moves a rewrite then pins like migrated objects.
    pub in_target: bool,
}

impl Line {
    /// The line of an object the run reported with outcome `o`.
    pub fn new(c: &Candidate, o: &migrate::Outcome) -> Line {
        let with_key = c
            .with_key
            .as_ref()
            .map(|k| format!("with its encryption key {k}"));
        let (status, reason) = match (o, &c.decision) {
            (migrate::Outcome::Migrated, _) => (Status::Migrated, with_key),
            (migrate::Outcome::WouldMigrate, _) => (Status::WouldMigrate, with_key),
            (migrate::Outcome::Failed(why), _) => (Status::Failed, Some(why.clone())),
            (migrate::Outcome::Skipped(_), Decision::Refuse(why)) => {
                (Status::Refused, Some(why.clone()))
            }
            (migrate::Outcome::Skipped(_), Decision::AlreadyThere) => {
                (Status::Skipped, Some("already in the target".into()))
            }
            (migrate::Outcome::Skipped(why), _) => (Status::Skipped, Some(why.clone())),
        };
        let in_target = matches!(
            (o, &c.decision),
            (migrate::Outcome::Skipped(_), Decision::AlreadyThere)
        );
        Line {
            status,
            reason,
            in_target,
        }
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
    /// Where it comes from (borrowed when every row shares it).
    pub source: Cow<'a, str>,
    /// Where it goes.
    pub target: Cow<'a, str>,
}

impl<'a> Row<'a> {
    /// The row of a container move's candidate.
    pub fn of(c: &'a Candidate, target: &Container) -> Row<'a> {
        Row {
            id: &c.id,
            kind: c.kind,
            names: &c.names,
            source: Cow::Owned(c.source.to_string()),
            target: Cow::Owned(target.to_string()),
        }
    }
}

/// The human line of one object.
pub fn write_line(out: &mut dyn Write, c: &Row<'_>, l: &Line) -> std::io::Result<()> {
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
    )
}

/// Writes one line per row and the counts; the last line starts with
/// `heading` (for runs whose rows are all known up front).
pub fn write_rows(
    out: &mut dyn Write,
    rows: &[Row<'_>],
    lines: &[Line],
    dry_run: bool,
    heading: &str,
) -> Result<(), CliError> {
    let mut counts = Counts::default();
    for (c, l) in rows.iter().zip(lines) {
        write_line(out, c, l)?;
        counts.add(l);
    }
    counts.write(out, heading, dry_run)?;
    Ok(())
}

/// How many objects ended in each status.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    migrated: usize,
    would_migrate: usize,
    skipped: usize,
    refused: usize,
    failed: usize,
}

impl Counts {
    /// Counts one line.
    pub fn add(&mut self, l: &Line) {
        let n = match l.status {
            Status::Migrated => &mut self.migrated,
            Status::WouldMigrate => &mut self.would_migrate,
            Status::Skipped => &mut self.skipped,
            Status::Refused => &mut self.refused,
            Status::Failed => &mut self.failed,
        };
        *n += 1;
    }

    /// Some object was refused or failed: the run exits 1.
    pub fn has_findings(&self) -> bool {
        self.refused + self.failed > 0
    }

    /// The summary line, starting with `heading` (e.g. `migrate to kst-…`).
    pub fn write(&self, out: &mut dyn Write, heading: &str, dry_run: bool) -> std::io::Result<()> {
        let moved = if dry_run {
            format!("{} would migrate", self.would_migrate)
        } else {
            format!("{} migrated", self.migrated)
        };
        writeln!(
            out,
            "{}{heading}: {moved}, {} skipped, {} refused, {} failed",
            if dry_run { "dry run: " } else { "" },
            self.skipped,
            self.refused,
            self.failed
        )
    }
}

/// One object of the report (a dry run's objects are all `skipped`, the
/// ones that would move with the reason `dry run: would migrate`).
pub fn report_object(c: &Row<'_>, l: &Line) -> ReportObject {
    ReportObject {
        id: c.id.to_string(),
        kind: kind(c.kind).0,
        source: c.source.to_string(),
        target_instance_id: c.target.to_string(),
        outcome: match l.status {
            Status::Migrated => ReportOutcome::Migrated,
            Status::Failed => ReportOutcome::Failed,
            _ => ReportOutcome::Skipped,
        },
        names: c.names.to_vec(),
        in_target: l.status == Status::Migrated || l.in_target,
        reason: match l.status {
            Status::WouldMigrate => Some("dry run: would migrate".into()),
            Status::Refused => l.reason.as_ref().map(|r| format!("refused: {r}")),
            _ => l.reason.clone(),
        },
    }
}

/// The report of rows all known up front.
pub fn report_rows(rows: &[Row<'_>], lines: &[Line]) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        objects: rows
            .iter()
            .zip(lines)
            .map(|(c, l)| report_object(c, l))
            .collect(),
        source_store: None,
        target_store: None,
    }
}

/// Writes a report held in memory as pretty JSON.
pub fn write_report(path: &Path, report: &Report) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| report_err(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| report_err(path, e))
}

/// The report file, written one object at a time into a scratch file
/// beside it (see [`crate::scratch`]) and put in place by
/// [`ReportWriter::finish`]: a run that dies leaves no half-written report,
/// and the next run removes its scratch file.
pub struct ReportWriter {
    file: BufWriter<tempfile::NamedTempFile>,
    path: std::path::PathBuf,
    first: bool,
}

fn report_err(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("cannot write report {}: {e}", path.display()))
}

impl ReportWriter {
    /// Starts the report at `path`.
    pub fn create(path: &Path) -> Result<ReportWriter, CliError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = crate::scratch::file_in(dir).map_err(|e| report_err(path, e))?;
        let mut file = BufWriter::new(tmp);
        write!(
            file,
            "{{\n  \"schema_version\": {SCHEMA_VERSION},\n  \"objects\": ["
        )
        .map_err(|e| report_err(path, e))?;
        Ok(ReportWriter {
            file,
            path: path.to_owned(),
            first: true,
        })
    }

    /// Appends one object.
    pub fn add(&mut self, o: &ReportObject) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(o).map_err(|e| report_err(&self.path, e))?;
        let sep = if self.first { "\n" } else { ",\n" };
        self.first = false;
        let indented = text.replace('\n', "\n    ");
        write!(self.file, "{sep}    {indented}").map_err(|e| report_err(&self.path, e))
    }

    /// Closes the document and moves it to its path.
    pub fn finish(mut self) -> Result<(), CliError> {
        let end = if self.first { "]\n}\n" } else { "\n  ]\n}\n" };
        self.file
            .write_all(end.as_bytes())
            .map_err(|e| report_err(&self.path, e))?;
        let tmp = self
            .file
            .into_inner()
            .map_err(|e| report_err(&self.path, e.error()))?;
        tmp.persist(&self.path)
            .map_err(|e| report_err(&self.path, e.error))?;
        Ok(())
    }
}
