//! `keyshift preflight --operation OP --source C --target C`: may an
//! instance automation operation run? The verdict comes from
//! [`keyshift_core::engine::preflight::preflight`], the function behind
//! `data.keyshift_preflight`. Exit 0 supported, 1 blocked.

use crate::cli::preflight_sides::{parse_container, side_from_state, side_from_store};
use crate::cli::store::{self, AwsArgs};
use crate::cli::{CliError, Outcome};
use clap::{Args, ValueEnum};
use keyshift_core::engine::ekms_wrapper::ExternalKeyService;
use keyshift_core::engine::preflight::{Operation, Preflight, Side, preflight};
use keyshift_core::store::Container;
use keyshift_core::store::StoreLocation;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Output format of preflight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum PreflightFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON document (schema_version 1).
    Json,
}

/// Arguments of `keyshift preflight`.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// `clone`, `backup_restore`, `copy`, `move` or `toggle`.
    #[arg(long, value_name = "OP", value_parser = |s: &str| s.parse::<Operation>())]
    pub operation: Operation,
    /// Source container: `shared` or a KMS instance id `kst-...`.
    #[arg(long, value_name = "shared|kst-...", value_parser = parse_container)]
    pub source: Container,
    /// Target container: `shared` or a KMS instance id `kst-...`.
    #[arg(long, value_name = "shared|kst-...", value_parser = parse_container)]
    pub target: Container,
    /// Key store of the target when it is not `--store`.
    #[arg(long, value_name = "PATH", conflicts_with = "target_state")]
    pub target_store: Option<PathBuf>,
    /// Classify the source from this `terraform show -json` state instead
    /// of a key store.
    #[arg(long, value_name = "STATE.json")]
    pub source_state: Option<PathBuf>,
    /// Classify the target from this `terraform show -json` state instead
    /// of a key store.
    #[arg(long, value_name = "STATE.json")]
    pub target_state: Option<PathBuf>,
    /// The source is an older store/instance that cannot carry EKMS.
    #[arg(long)]
    pub source_unsupported: bool,
    /// The target is an older store/instance that cannot carry EKMS.
    #[arg(long)]
    pub target_unsupported: bool,
    /// Allow legacy-architecture cases (the table still applies).
    /// `KEYSHIFT_LEGACY_SUPPORT` takes true/false or 1/0.
    #[arg(long, env = "KEYSHIFT_LEGACY_SUPPORT", value_parser = crate::cli::store::parse_bool)]
    pub legacy_support: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: PreflightFormat,
    /// AWS KMS settings for the live health checks of store sides.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// One side as reported.
#[derive(Debug, Serialize)]
struct SideReport<'a> {
    container: String,
    /// `store:PATH`, `state:PATH` or `declared` (`--*-unsupported`).
    from: String,
    #[serde(flatten)]
    side: &'a Side,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    operation: Operation,
    result: &'static str,
    #[serde(flatten)]
    verdict: &'a Preflight,
    legacy_support: bool,
    source: SideReport<'a>,
    target: SideReport<'a>,
}

/// Classifies both sides, runs preflight and writes the verdict.
pub fn run(
    args: &PreflightArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let keys = args.aws.service();
    let source_store = store::store_location(store_flag)?;
    let target_store = match &args.target_store {
        Some(t) => store::parse_location(t.as_os_str())?,
        None => source_store.clone(),
    };
    let (source, source_from) = classify(
        "source",
        &args.source,
        args.source_state.as_deref(),
        &source_store,
        args.source_unsupported,
        &keys,
    )?;
    let (target, target_from) = classify(
        "target",
        &args.target,
        args.target_state.as_deref(),
        &target_store,
        args.target_unsupported,
        &keys,
    )?;
    let verdict = preflight(args.operation, &source, &target, args.legacy_support);
    match args.format {
        PreflightFormat::Text => {
            write_text(
                out,
                args,
                &verdict,
                [(&source, &source_from), (&target, &target_from)],
            )?;
        }
        PreflightFormat::Json => {
            let report = JsonReport {
                schema_version: 1,
                operation: args.operation,
                result: verdict.result(),
                verdict: &verdict,
                legacy_support: args.legacy_support,
                source: SideReport {
                    container: args.source.to_string(),
                    from: source_from,
                    side: &source,
                },
                target: SideReport {
                    container: args.target.to_string(),
                    from: target_from,
                    side: &target,
                },
            };
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(if verdict.supported {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// One side: from its state file, else its store; `unsupported` declares
/// an older store/instance (refused when it is actually configured).
fn classify(
    which: &str,
    c: &Container,
    state: Option<&Path>,
    store: &StoreLocation,
    unsupported: bool,
    keys: &Arc<dyn ExternalKeyService>,
) -> Result<(Side, String), CliError> {
    let (side, from) = match state {
        Some(p) => (side_from_state(p, c)?, format!("state:{}", p.display())),
        None if unsupported => return declared_unsupported(which, c, store, keys),
        None => (side_from_store(store, c, keys)?, format!("store:{}", store)),
    };
    if unsupported {
        return match side {
            Side::Configured(s) => Err(configured_but_unsupported(which, c, &s.key_arn)),
            _ => Ok((Side::Unsupported, "declared".to_string())),
        };
    }
    Ok((side, from))
}

fn configured_but_unsupported(which: &str, c: &Container, arn: &str) -> CliError {
    CliError::Usage(format!(
        "--{which}-unsupported: {which} container {c} has an EKMS configuration (key {arn}), \
         so it cannot be declared unsupported"
    ))
}

/// A side declared unsupported with no state: consult its store only when
/// one exists there, to refuse a configured container.
fn declared_unsupported(
    which: &str,
    c: &Container,
    store: &StoreLocation,
    keys: &Arc<dyn ExternalKeyService>,
) -> Result<(Side, String), CliError> {
    if let Some(kms) = store::open_if_exists(store, keys)? {
        let cfg = kms.ekms_config(c).map_err(store::failed(format!(
            "cannot read the EKMS configuration of {c}"
        )))?;
        if let Some(info) = cfg {
            return Err(configured_but_unsupported(which, c, &info.config.key_arn));
        }
    }
    Ok((Side::Unsupported, "declared".to_string()))
}

fn describe(side: &Side) -> String {
    match side {
        Side::Configured(e) => format!(
            "configured (key {}, status {}, wrapping {}, architecture {})",
            e.key_arn,
            e.key_status,
            e.wrapping.as_str(),
            e.architecture.as_str()
        ),
        other => other.kind().to_string(),
    }
}

fn write_text(
    out: &mut dyn Write,
    args: &PreflightArgs,
    v: &Preflight,
    sides: [(&Side, &String); 2],
) -> std::io::Result<()> {
    let row = if v.row == 0 {
        "legacy rule".to_string()
    } else {
        format!("row {}", v.row)
    };
    writeln!(
        out,
        "preflight {} {} -> {}: {} ({row})",
        args.operation,
        args.source,
        args.target,
        v.result()
    )?;
    let [(s, sf), (t, tf)] = sides;
    writeln!(out, "source: {} [{sf}]", describe(s))?;
    writeln!(out, "target: {} [{tf}]", describe(t))?;
    writeln!(out, "reason: {}", v.reason)?;
    if !v.supported {
        writeln!(out, "remediation: {}", v.remediation)?;
        writeln!(
            out,
            "reference: {}",
            v.reference
                .as_deref()
                .unwrap_or("none (not a KB2540187 case)")
        )?;
    }
    Ok(())
}
