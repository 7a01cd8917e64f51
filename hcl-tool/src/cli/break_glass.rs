//! `keyshift break-glass …`: the grants of a key store. `credential` prints
//! an active grant's credential (the only command that ever shows one),
//! `list` shows grants (never a credential), `repair` revokes a grant and
//! destroys its credential secret (finishing a pending repair). The rules
//! are the engine's (`engine/break_glass.rs`).

use crate::cli::listing::escape;
use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome};
use clap::{Args, Subcommand, ValueEnum};
use keyshift_core::engine::break_glass::Grant;
use serde::Serialize;
use std::io::{Read, Write};
use std::path::Path;

/// Longest credential file `--grant @FILE` reads.
const MAX_CREDENTIAL_FILE: u64 = 4096;

/// The `keyshift break-glass` subcommands.
#[derive(Debug, Subcommand)]
pub enum BreakGlassCommand {
    /// Print the credential of an active grant on stdout.
    Credential(IdArgs),
    /// List grants (status, expiry, pending repairs; never a credential).
    List(ListArgs),
    /// Repair glass: revoke the grant and destroy its credential secret.
    Repair(IdArgs),
    /// Serve break glass and repair glass over HTTPS with mutual TLS.
    Serve(crate::cli::break_glass_serve::ServeArgs),
}

/// A grant id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// Grant id (`bg-…`).
    pub id: String,
}

/// Output format of `break-glass list` and `audit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per entry under a header.
    #[default]
    Table,
    /// One JSON document (schema_version 1).
    Json,
}

/// Arguments of `keyshift break-glass list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only grants whose repair is pending.
    #[arg(long)]
    pub pending: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// The `--grant @FILE` argument of encrypt/decrypt/sign/verify.
#[derive(Debug, Args)]
pub struct GrantArg {
    /// Use a break-glass credential read from FILE (`@FILE`): the operation
    /// runs only if the grant is active, the key is in its scope and the
    /// permission is granted; each refusal says which.
    #[arg(long, value_name = "@FILE")]
    pub grant: Option<String>,
}

impl GrantArg {
    /// The credential, read from the `@FILE` (at most 4 KiB), if given.
    pub fn credential(&self) -> Result<Option<String>, CliError> {
        let Some(spec) = &self.grant else {
            return Ok(None);
        };
        let path = spec.strip_prefix('@').ok_or_else(|| {
            CliError::Usage(format!(
                "--grant takes @FILE (a file holding the credential), got {:?}",
                if spec.len() > 12 { "<value>" } else { spec }
            ))
        })?;
        let bad = |e: std::io::Error| CliError::Usage(format!("--grant: cannot read {path}: {e}"));
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(bad)?
            .take(MAX_CREDENTIAL_FILE)
            .read_to_string(&mut text)
            .map_err(bad)?;
        Ok(Some(text.trim().to_string()))
    }
}

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    change_request: &'a str,
    principal: &'a str,
    status: &'static str,
    key_ids: &'a [String],
    instance_id: Option<&'a str>,
    permissions: &'a [String],
    created_at: &'a str,
    expires_at: &'a str,
    revoked_at: Option<&'a str>,
    credential_secret_id: Option<&'a str>,
    pending_repair: Option<&'a str>,
}

fn row(g: &Grant) -> Row<'_> {
    let r = &g.record;
    Row {
        id: &r.id,
        change_request: &r.change_request,
        principal: &r.principal,
        status: g.status.as_str(),
        key_ids: &r.key_ids,
        instance_id: r.instance_id.as_deref(),
        permissions: &r.permissions,
        created_at: &r.created_at,
        expires_at: &r.expires_at,
        revoked_at: r.revoked_at.as_deref(),
        credential_secret_id: r.credential_secret_id.as_deref(),
        pending_repair: r.pending_repair.as_deref(),
    }
}

/// Runs one `keyshift break-glass` subcommand.
pub fn run(
    cmd: &BreakGlassCommand,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if let BreakGlassCommand::Serve(a) = cmd {
        return crate::cli::break_glass_serve::run(a, store_flag, out);
    }
    let kms = open_existing(
        &store::store_location(store_flag)?,
        &AwsArgs::default().service(),
    )?;
    match cmd {
        BreakGlassCommand::Serve(_) => {}
        BreakGlassCommand::Credential(a) => {
            let cred = kms.grant_credential(&a.id).map_err(failed(format!(
                "cannot hand out the credential of {}",
                a.id
            )))?;
            writeln!(out, "{}", cred.as_str())?;
        }
        BreakGlassCommand::Repair(a) => {
            let g = kms
                .repair_glass(&a.id)
                .map_err(failed(format!("cannot repair glass for {}", a.id)))?;
            writeln!(
                out,
                "repaired {} ({}): revoked at {}, credential secret destroyed",
                g.record.id,
                g.record.change_request,
                g.record.revoked_at.as_deref().unwrap_or("?")
            )?;
        }
        BreakGlassCommand::List(a) => {
            let grants = kms
                .list_grants(a.pending)
                .map_err(failed("cannot list break-glass grants"))?;
            let rows: Vec<Row<'_>> = grants.iter().map(row).collect();
            match a.format {
                Format::Json => {
                    let doc = serde_json::json!({"schema_version": 1, "grants": rows});
                    writeln!(out, "{doc}")?;
                }
                Format::Table => {
                    writeln!(
                        out,
                        "ID\tCHANGE_REQUEST\tPRINCIPAL\tSTATUS\tEXPIRES_AT\tPENDING_REPAIR"
                    )?;
                    for r in &rows {
                        writeln!(
                            out,
                            "{}\t{}\t{}\t{}\t{}\t{}",
                            escape(r.id),
                            escape(r.change_request),
                            escape(r.principal),
                            r.status,
                            escape(r.expires_at),
                            escape(r.pending_repair.unwrap_or("-"))
                        )?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
