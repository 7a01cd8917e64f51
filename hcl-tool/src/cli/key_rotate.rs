//! `keyshift key rotate ID|ALIAS`: rotate one key on demand. A new version
//! with fresh material becomes current, so new data is encrypted under it;
//! every older version keeps decrypting what it encrypted. Only
//! multi-version `AES_256` keys with origin `KMS` rotate, and only while
//! `Enabled` (exit 1 otherwise, with the reason).

use crate::cli::rotate::OutputFormat;
use crate::cli::store::failed;
use crate::cli::{CliError, Outcome};
use clap::Args;
use keyshift_core::engine::{Kms, rotation};
use keyshift_core::store::Key;
use serde::Serialize;
use std::io::Write;

/// Arguments of `keyshift key rotate`.
#[derive(Debug, Args)]
pub struct KeyRotateArgs {
    /// Key id (`key-...`) or alias (`alias/...`).
    #[arg(value_name = "ID|ALIAS")]
    pub key: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// What `--format json` prints.
#[derive(Debug, Serialize)]
struct Rotated<'a> {
    key_id: &'a str,
    aliases: &'a [String],
    current_version: &'a str,
    version_count: i64,
    last_rotation_date: Option<&'a str>,
    next_rotation_date: Option<String>,
}

impl<'a> Rotated<'a> {
    fn of(key: &'a Key) -> Self {
        Rotated {
            key_id: &key.id,
            aliases: &key.aliases,
            current_version: &key.current_version,
            version_count: key.version_count,
            last_rotation_date: key.last_rotation_date.as_deref(),
            next_rotation_date: rotation::next_rotation(key)
                .ok()
                .flatten()
                .map(rotation::format_time),
        }
    }
}

/// Rotates the key and reports its new current version.
pub fn run(args: &KeyRotateArgs, kms: &Kms, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let key = kms
        .rotate_key(&args.key)
        .map_err(failed(format!("cannot rotate key {}", args.key)))?;
    let r = Rotated::of(&key);
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &r).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        OutputFormat::Table => {
            writeln!(
                out,
                "rotated {}: version {} ({}) is now current; older versions still decrypt",
                r.key_id, r.version_count, r.current_version
            )?;
            writeln!(
                out,
                "next scheduled rotation: {}",
                r.next_rotation_date
                    .as_deref()
                    .unwrap_or("none (no rotation_interval)")
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
