//! `keyshift migrate --from-store A --to-store B [PATTERN…|--all]`: copy
//! keys (and with `--include-secrets` secrets) with their instances and
//! EKMS configurations from one store to another, keeping ids, versions,
//! aliases and metadata; `--move` removes each object from the source once
//! its copy is committed and verified. Per object decisions come from the
//! engine ([`store_migrate::plan`]); the output and the report are the
//! container move's ([`migrate_output`]), with source and target naming
//! the stores.
//!
//! The source must exist. A missing target is created empty (not with
//! `--dry-run`, which changes nothing in either store). Exit codes: 0 when
//! every selected object is in the target, 1 when any was refused or
//! failed, 2 for usage or input errors (reported before anything moves).

use crate::cli::migrate::MigrateArgs;
use crate::cli::migrate_output::{self, Line, Row};
use crate::cli::migrate_store_output as store_out;
use crate::cli::store::{ACTOR, failed, parse_location};
use crate::cli::{CliError, Outcome};
use crate::progress;
use crate::report::Report;
use clap::Args;
use keyshift_core::engine::Kms;
use keyshift_core::engine::ekms_wrapper::ExternalKeyService;
use keyshift_core::engine::store_migrate::{
    self, Existing, StoreMoveError, StoreMoveRequest, StorePlan,
};
use keyshift_core::store::{OpenOptions, StoreError, StoreLocation};
use std::borrow::Cow;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The store → store arguments of `keyshift migrate`.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreMoveArgs {
    /// Store → store move: the source store (a directory, `sqlite:PATH` or
    /// `postgres://…`); it must exist.
    #[arg(
        long,
        value_name = "STORE",
        requires = "to_store",
        conflicts_with_all = ["to", "from", "status", "rewrite"]
    )]
    pub from_store: Option<OsString>,
    /// Store → store move: the target store; created empty when it does not
    /// exist (except with --dry-run).
    #[arg(long, value_name = "STORE", requires = "from_store")]
    pub to_store: Option<OsString>,
    /// Store move: replace objects already in the target, inside the
    /// target's write transaction (a warning names each one).
    #[arg(long, requires = "from_store", conflicts_with = "merge")]
    pub force: bool,
    /// Store move: skip objects already in the target with identical
    /// material; report (never overwrite) those whose material differs.
    #[arg(long, requires = "from_store")]
    pub merge: bool,
    /// Store move: remove each object from the source once its copy in the
    /// target is committed and verified, or once an exact copy already
    /// there is checked again (its material lives on in the target;
    /// nothing is erased).
    #[arg(long = "move", requires = "from_store")]
    pub remove_source: bool,
    /// Store move: master key file of the source store.
    #[arg(long, value_name = "FILE", requires = "from_store")]
    pub from_master_key_file: Option<PathBuf>,
    /// Store move: master key file of the target store.
    #[arg(long, value_name = "FILE", requires = "from_store")]
    pub to_master_key_file: Option<PathBuf>,
}

/// Runs a store → store move (`--from-store` given).
pub fn run(args: &MigrateArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let s = &args.stores;
    let (Some(from), Some(to)) = (&s.from_store, &s.to_store) else {
        return Err(CliError::Usage(
            "a store move needs --from-store and --to-store".into(),
        ));
    };
    let (from, to) = (parse_location(from)?, parse_location(to)?);
    if same_store(&from, &to) {
        return Err(CliError::Usage(format!(
            "--from-store and --to-store are the same store ({from})"
        )));
    }
    let from_key = master_key_file(
        "--from-master-key-file",
        s.from_master_key_file.as_deref(),
        false,
    )?;
    // The target's key file may be new: it is created with a new store.
    let to_key = master_key_file(
        "--to-master-key-file",
        s.to_master_key_file.as_deref(),
        true,
    )?;
    let keys = args.aws.service();
    let source = open("source", &from, false, from_key.clone(), &keys)?
        .ok_or_else(|| CliError::Usage(format!("the source store {from} does not exist")))?;
    let target = open("target", &to, false, to_key.clone(), &keys)?;
    let req = StoreMoveRequest {
        patterns: args.patterns.clone(),
        all: args.all,
        include_secrets: args.include_secrets,
        existing: match (s.force, s.merge) {
            (true, _) => Existing::Force,
            (_, true) => Existing::Merge,
            _ => Existing::Error,
        },
        remove_source: s.remove_source,
    };
    let plan = store_migrate::plan(&source, target.as_ref(), &req).map_err(input_error)?;
    store_migrate::check_health(&source, target.as_ref(), &plan, &*keys).map_err(input_error)?;
    for id in &plan.interrupted {
        eprintln!(
            "keyshift: {} the interrupted store move {id} (its process is gone): its locks in both stores are released",
            if args.dry_run {
                "would take over"
            } else {
                "taking over"
            }
        );
    }
    let (record_lines, lines): (Vec<Line>, Vec<Line>) = if args.dry_run {
        (
            plan.records
                .iter()
                .map(|r| store_out::record_line(r, None))
                .collect(),
            plan.candidates
                .iter()
                .map(|c| store_out::planned(c, plan.remove_source))
                .collect(),
        )
    } else {
        let target = match target {
            Some(t) => t,
            None => open("target", &to, true, to_key, &keys)?
                .ok_or_else(|| CliError::Usage(format!("cannot create the target store {to}")))?,
        };
        carry_out(&source, &target, &plan, args, &*keys)?
    };
    store_out::warn_replaced(&plan, &lines, &to, args.dry_run);
    let (from_text, to_text) = (from.to_string(), to.to_string());
    let rows: Vec<Row<'_>> = plan
        .candidates
        .iter()
        .map(|c| Row {
            id: &c.id,
            kind: c.kind,
            names: &c.names,
            source: Cow::Borrowed(&from_text),
            target: Cow::Borrowed(&to_text),
        })
        .collect();
    let heading = format!("migrate store {from} -> {to}");
    store_out::write_all(
        out,
        &plan,
        (&record_lines, &lines),
        &rows,
        (&from_text, &to_text),
        (&heading, args.dry_run),
    )?;
    if let Some(path) = &args.report {
        // The objects keep their containers: `keyshift rewrite` on this
        // report pins the instance_id each already has (the plan stays
        // clean); the stores are named at the top.
        let in_place: Vec<Row<'_>> = plan
            .candidates
            .iter()
            .map(|c| {
                let here = Cow::Borrowed(c.container.instance_id().unwrap_or("shared"));
                Row {
                    id: &c.id,
                    kind: c.kind,
                    names: &c.names,
                    source: here.clone(),
                    target: here,
                }
            })
            .collect();
        let report = Report {
            source_store: Some(from_text.clone()),
            target_store: Some(to_text.clone()),
            ..migrate_output::report_rows(&in_place, &lines)
        };
        migrate_output::write_report(path, &report)?;
    }
    Ok(if lines.iter().chain(&record_lines).any(Line::is_finding) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn carry_out(
    source: &Kms,
    target: &Kms,
    plan: &StorePlan,
    args: &MigrateArgs,
    keys: &dyn ExternalKeyService,
) -> Result<(Vec<Line>, Vec<Line>), CliError> {
    let bar = progress::bar(plan.candidates.len() as u64, "migrating");
    let done = store_migrate::run(
        source,
        target,
        plan,
        usize::from(args.batch_size),
        keys,
        &mut |_| bar.inc(1),
    )
    .map_err(failed("cannot migrate between the stores"))?;
    bar.finish_and_clear();
    let objects = plan
        .candidates
        .iter()
        .zip(done.objects)
        .map(|(c, o)| store_out::done(c, o))
        .collect();
    let records = plan
        .records
        .iter()
        .zip(done.records)
        .map(|(r, o)| store_out::record_line(r, Some(o)))
        .collect();
    Ok((records, objects))
}

/// The same store on both sides (same directory, or same URL).
fn same_store(a: &StoreLocation, b: &StoreLocation) -> bool {
    match (a, b) {
        (StoreLocation::Sqlite(x), StoreLocation::Sqlite(y)) => {
            let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canon(x) == canon(y)
        }
        _ => a == b,
    }
}

/// A master key file given on the command line must be readable; with
/// `may_be_new`, a file that does not exist yet is left to the store (which
/// creates it together with a new store and refuses it for an existing one).
fn master_key_file(
    flag: &str,
    path: Option<&Path>,
    may_be_new: bool,
) -> Result<Option<PathBuf>, CliError> {
    let Some(path) = path else { return Ok(None) };
    match std::fs::File::open(path) {
        Ok(_) => {}
        Err(e) if may_be_new && e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CliError::Usage(format!(
                "cannot read {flag} {}: {e}",
                path.display()
            )));
        }
    }
    Ok(Some(path.to_path_buf()))
}

/// Opens one side; `None` when it does not exist (and `create` is false).
/// Any other failure (master key missing, wrong or unsupported, unreadable
/// store) is an input error naming the side and the location.
fn open(
    side: &str,
    location: &StoreLocation,
    create: bool,
    master_key_file: Option<PathBuf>,
    keys: &Arc<dyn ExternalKeyService>,
) -> Result<Option<Kms>, CliError> {
    let opts = OpenOptions {
        create,
        master_key_file,
        ..OpenOptions::default()
    };
    match Kms::open_location(location, &opts, ACTOR) {
        Err(StoreError::NoStore { .. }) if !create => Ok(None),
        Err(e) => Err(CliError::Usage(format!(
            "cannot open the {side} store {location}: {e}"
        ))),
        Ok((kms, warnings)) => {
            for w in &warnings {
                eprintln!("keyshift: warning: {w}");
            }
            Ok(Some(kms.with_external_keys(Arc::clone(keys))))
        }
    }
}

fn input_error(e: StoreMoveError) -> CliError {
    match e {
        StoreMoveError::Store(e) => failed("cannot plan the store move")(e),
        other => CliError::Usage(other.to_string()),
    }
}
