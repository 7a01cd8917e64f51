//! `keyshift audit`: the break-glass audit trail — every break, credential
//! hand-out, use, refusal, revocation and repair, with its change request.
//! Entries never hold a credential, key material or a secret value (the
//! engine never writes one there). The table escapes every field (a
//! newline or escape sequence in stored text prints as `\n`, `\u{001B}`);
//! `--format json` (with `schema_version`) carries the entries exactly and
//! is the source of truth. `--change-request` selects the entries whose
//! change request is exactly the one given.

use crate::cli::break_glass::Format;
use crate::cli::listing::escape;
use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome};
use clap::Args;
use std::io::Write;
use std::path::Path;

/// Arguments of `keyshift audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries at or after this RFC 3339 time (e.g. 2026-12-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only entries of this change request (e.g. CHG0030001).
    #[arg(long, value_name = "CHG")]
    pub change_request: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Prints the break-glass audit entries, oldest first.
pub fn run(
    args: &AuditArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if let Some(c) = &args.change_request {
        keyshift_core::engine::break_glass::change_request(c)
            .map_err(|e| CliError::Usage(format!("--change-request: {e}")))?;
    }
    let kms = open_existing(
        &store::store_location(store_flag)?,
        &AwsArgs::default().service(),
    )?;
    let entries = kms
        .break_glass_audit(args.since.as_deref(), args.change_request.as_deref())
        .map_err(failed("cannot read the audit log"))?;
    match args.format {
        Format::Json => {
            let rows: Vec<_> = entries
                .iter()
                .map(|e| {
                    serde_json::json!({"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                        "object": e.object, "outcome": e.outcome, "detail": e.detail})
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({"schema_version": 1, "entries": rows})
            )?;
        }
        Format::Table => {
            writeln!(out, "AT\tACTION\tGRANT\tOUTCOME\tDETAIL")?;
            for e in &entries {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    escape(&e.at),
                    escape(&e.action),
                    escape(&e.object),
                    escape(&e.outcome),
                    escape(&e.detail)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
