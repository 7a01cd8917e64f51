//! `keyshift migrate --to kst-…|shared [--from …] (PATTERN… | --all)`: move
//! keys (and with `--include-secrets` secrets) between the containers of one
//! store, out of band of Terraform, keeping ids, versions, aliases, tags,
//! state and material. Which objects move and why the others do not is
//! decided by the engine ([`migrate::select`]); this command prints the
//! decisions, carries them out ([`migrate::run`]), writes the report
//! `keyshift rewrite --report` reads, and with `--rewrite DIR` applies it to
//! the Terraform configuration in the same run.
//!
//! Exit codes: 0 when every selected object is in the target (or was
//! skipped as not required), 1 when any was refused or failed, 2 for usage
//! or input errors (reported before anything moves).

use crate::cli::migrate_output::{self, Counts, Line, Row};
use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome};
use crate::progress;
use clap::Args;
use keyshift_core::engine::Kms;
use keyshift_core::engine::migrate::{self, MigrateError, Request};
use keyshift_core::engine::migration_lock;
use keyshift_core::store::{Container, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `keyshift migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Globs on key id, alias or secret name (`*` any run of characters,
    /// `?` one); a container move takes at most 50 objects in all.
    #[arg(
        value_name = "PATTERN",
        required_unless_present_any = ["all", "status"],
        conflicts_with = "all"
    )]
    pub patterns: Vec<String>,
    /// Target container: `shared` or an instance id `kst-…`.
    #[arg(long, value_name = "kst-…|shared", required_unless_present_any = ["status", "from_store"])]
    pub to: Option<String>,
    /// Show migration runs in progress or interrupted (and change nothing).
    #[arg(long, conflicts_with_all = ["to", "from", "all", "patterns", "dry_run", "rewrite", "report"])]
    pub status: bool,
    /// Source container (default `shared`; required with `--to shared`).
    #[arg(long, value_name = "shared|kst-…")]
    pub from: Option<String>,
    /// Every object of the source container (no 50-object limit); with
    /// --from-store the whole source store: every instance (with or
    /// without keys), EKMS configuration, alias, key, break-glass grant
    /// record and with --include-secrets every secret.
    #[arg(long)]
    pub all: bool,
    /// Also migrate secrets: those the patterns match, and every secret
    /// the selected keys encrypt in the source, which moves with its key in
    /// the same transaction. Without it, a selected key that encrypts
    /// secrets there is refused before anything moves.
    #[arg(long)]
    pub include_secrets: bool,
    /// Keys moved per transaction (larger is faster; a failure in a batch
    /// is retried key by key).
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub batch_size: u16,
    /// Print what would happen; change nothing.
    #[arg(long, conflicts_with = "rewrite")]
    pub dry_run: bool,
    /// Write the migration report (JSON, schema_version 1) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Apply the report to the Terraform configuration in DIR (needs an
    /// initialised DIR with state: runs `terraform show -json` there);
    /// with `--to shared` the moved resources get `instance_id = "shared"`.
    #[arg(long, value_name = "DIR")]
    pub rewrite: Option<PathBuf>,
    /// With --rewrite: run `terraform plan -detailed-exitcode` after writing
    /// and fail unless the plan is clean.
    #[arg(long, requires = "rewrite")]
    pub verify: bool,
    /// Terraform binary for --rewrite.
    #[arg(long, env = "KEYSHIFT_TERRAFORM_BIN", default_value = "terraform")]
    pub terraform_bin: PathBuf,
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Store → store moves (`--from-store A --to-store B`).
    #[command(flatten)]
    pub stores: crate::cli::migrate_store::StoreMoveArgs,
}

/// Parses `shared` or `kst-…` (the engine's container rule).
pub fn parse_container(flag: &str, text: &str) -> Result<Container, CliError> {
    crate::cli::preflight_sides::parse_container(text)
        .map_err(|e| CliError::Usage(format!("--{flag} {e}")))
}

/// Runs `keyshift migrate`.
pub fn run(
    args: &MigrateArgs,
    store: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if args.stores.from_store.is_some() {
        return crate::cli::migrate_store::run(args, out);
    }
    if args.status {
        let kms = open_existing(&store::store_location(store)?, &args.aws.service())?;
        return status(&kms, out);
    }
    let target = parse_container("to", args.to.as_deref().unwrap_or_default())?;
    let from = args
        .from
        .as_deref()
        .map(|f| parse_container("from", f))
        .transpose()?;
    if let Some(dir) = args.rewrite.as_deref().filter(|d| !d.is_dir()) {
        return Err(CliError::Usage(format!(
            "--rewrite {}: not a directory (nothing was migrated)",
            dir.display()
        )));
    }
    let keys = args.aws.service();
    let kms = open_existing(&store::store_location(store)?, &keys)?;
    let req = Request {
        target,
        from,
        patterns: args.patterns.clone(),
        all: args.all,
        include_secrets: args.include_secrets,
    };
    let sel = migrate::select(&kms, &req).map_err(|e| match e {
        MigrateError::Store(e @ StoreError::NotFound { .. }) => {
            CliError::Usage(format!("cannot select objects to migrate: {e}"))
        }
        MigrateError::Store(e) => failed("cannot select objects to migrate")(e),
        other => CliError::Usage(other.to_string()),
    })?;
    migrate::check_health(&kms, &sel, &*keys).map_err(|e| match e {
        MigrateError::Store(e) => failed("cannot check the EKMS keys")(e),
        other => CliError::Usage(other.to_string()),
    })?;
    let total = sel
        .total(&kms)
        .map_err(failed("cannot count the objects to migrate"))?;
    // The report goes to --report, or for --rewrite alone to a temporary file.
    let tmp = match (&args.report, &args.rewrite) {
        (None, Some(_)) => Some(crate::scratch::dir()?),
        _ => None,
    };
    let report_path = args
        .report
        .clone()
        .or_else(|| tmp.as_ref().map(|d| d.path().join("report.json")));
    let mut report = report_path
        .as_deref()
        .map(migrate_output::ReportWriter::create)
        .transpose()?;
    let bar = progress::bar(
        total,
        if args.dry_run {
            "checking"
        } else {
            "migrating"
        },
    );
    let mut lines = std::io::BufWriter::new(&mut *out);
    let mut counts = Counts::default();
    let mut write_error: Option<CliError> = None;
    let walked = migrate::run(
        &kms,
        &sel,
        usize::from(args.batch_size),
        args.dry_run,
        &mut |c, o| {
            bar.inc(1);
            let mut line = Line::new(c, o);
            // Only a run that takes over an interrupted attempt pins what is
            // already in the target: what the killed attempts moved.
            line.in_target &= sel.stale_lock;
            counts.add(&line);
            if write_error.is_some() {
                return; // keep moving: stopping halfway helps nobody
            }
            let written = bar
                .suspend(|| migrate_output::write_line(&mut lines, &Row::of(c, &sel.target), &line))
                .map_err(CliError::from)
                .and_then(|()| match report.as_mut() {
                    Some(r) => r.add(&migrate_output::report_object(
                        &Row::of(c, &sel.target),
                        &line,
                    )),
                    None => Ok(()),
                });
            write_error = written.err();
        },
    );
    bar.finish_and_clear();
    walked.map_err(failed(format!("cannot migrate to {}", sel.target)))?;
    if let Some(e) = write_error {
        return Err(e);
    }
    counts.write(
        &mut lines,
        &format!("migrate to {}", sel.target),
        args.dry_run,
    )?;
    lines.flush()?;
    drop(lines);
    if let Some(r) = report {
        r.finish()?;
    }
    let mut outcome = if counts.has_findings() {
        Outcome::Findings
    } else {
        Outcome::Clean
    };
    if let (Some(dir), Some(path)) = (&args.rewrite, &report_path) {
        let rewritten =
            crate::cli::migrate_rewrite::apply(dir, &args.terraform_bin, path, args.verify, out)?;
        if rewritten == Outcome::Findings {
            outcome = Outcome::Findings;
        }
    }
    Ok(outcome)
}

/// `--status`: every run still holding its locks, in progress or
/// interrupted (exit 1 when one was interrupted: re-run it to finish).
fn status(kms: &Kms, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let runs = kms
        .migration_runs()
        .map_err(failed("cannot read the migration runs"))?;
    let open: Vec<_> = runs.iter().filter(|r| r.outcome.is_none()).collect();
    if open.is_empty() {
        writeln!(out, "no migration in progress or interrupted")?;
        return Ok(Outcome::Clean);
    }
    let mut outcome = Outcome::Clean;
    for r in open {
        if migration_lock::holder_is_dead(r) {
            outcome = Outcome::Findings;
        }
        let (keys, secrets) = kms
            .container_counts(&r.source)
            .map_err(failed("cannot count the objects left in the source"))?;
        writeln!(
            out,
            "run {} {} -> {}: {} (pid {} on {}, started {}); {} holds {keys} key(s) and {secrets} secret(s)",
            r.run_id,
            r.source,
            r.target,
            migration_lock::run_state(r),
            r.pid,
            r.host,
            r.started_at,
            r.source
        )?;
    }
    Ok(outcome)
}
