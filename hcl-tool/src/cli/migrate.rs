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

use crate::cli::migrate_output::{self, Line};
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
    /// Every object of the source container (no 50-object limit).
    #[arg(long)]
    pub all: bool,
    /// Also migrate secrets (each needs its encryption key in the target).
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
    /// initialised DIR with state: runs `terraform show -json` there).
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
    if args.rewrite.is_some() && target == Container::Shared {
        return Err(CliError::Usage(
            "--rewrite with --to shared is not supported: remove instance_id from the moved resources instead".into(),
        ));
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
    let lines: Vec<Line> = if args.dry_run {
        sel.candidates.iter().map(Line::planned).collect()
    } else {
        let bar = progress::bar(sel.candidates.len() as u64, "migrating");
        let outcomes = migrate::run(&kms, &sel, usize::from(args.batch_size), &mut |_| {
            bar.inc(1)
        })
        .map_err(failed(format!("cannot migrate to {}", sel.target)))?;
        bar.finish_and_clear();
        sel.candidates
            .iter()
            .zip(outcomes)
            .map(|(c, o)| Line::done(c, o))
            .collect()
    };
    migrate_output::write_summary(out, &sel, &lines, args.dry_run)?;
    let report = migrate_output::report(&sel, &lines);
    if let Some(path) = &args.report {
        migrate_output::write_report(path, &report)?;
    }
    let mut outcome = if lines.iter().any(Line::is_finding) {
        Outcome::Findings
    } else {
        Outcome::Clean
    };
    if let Some(dir) = &args.rewrite {
        let rewritten = crate::cli::migrate_rewrite::apply(
            dir,
            &args.terraform_bin,
            &report,
            args.verify,
            out,
        )?;
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
        writeln!(
            out,
            "run {} {} -> {}: {} (pid {} on {}, started {})",
            r.run_id,
            r.source,
            r.target,
            migration_lock::run_state(r),
            r.pid,
            r.host,
            r.started_at
        )?;
    }
    Ok(outcome)
}
