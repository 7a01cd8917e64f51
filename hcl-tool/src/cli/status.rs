//! `keyshift status`: live health check of every EKMS configuration in a
//! store. Each result is also recorded in the store as the
//! configuration's last status. Exit 0 when every key is `ACTIVE` (or no
//! configuration exists), 1 when any is not.

use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome};
use clap::{Args, ValueEnum};
use keyshift_core::aws::key_status::KeyStatus;
use keyshift_core::store::StoreLocation;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Output format of status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// A table, with the remediation below every key that is not ACTIVE.
    #[default]
    Text,
    /// One JSON document (schema_version 1).
    Json,
}

/// Arguments of `keyshift status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: StatusFormat,
    /// AWS KMS settings for the health checks.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The health of one EKMS configuration.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigStatus {
    /// `shared` or the instance id.
    pub container: String,
    /// ARN of the AWS KMS key.
    pub key_arn: String,
    /// Current wrapping of the container root key (`internal`/`external`).
    pub wrapping_strategy: String,
    /// `current` or `legacy`.
    pub architecture: String,
    /// `ACTIVE`, `DISABLED`, `PENDING_DELETION`, `UNAVAILABLE` or `DELETED`.
    pub status: KeyStatus,
    /// AWS `KeyState` when AWS answered.
    pub aws_key_state: Option<String>,
    /// When the check ran (RFC 3339).
    pub checked_at: String,
    /// One line: the state, or why the key could not be read.
    pub detail: String,
    /// What to do (empty when ACTIVE).
    pub remediation: String,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    store: String,
    configs: &'a [ConfigStatus],
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    active: usize,
    not_active: usize,
}

/// Checks every configuration and writes the report to `out`.
pub fn run(
    args: &StatusArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let location = store::store_location(store_flag)?;
    let keys = args.aws.service();
    let kms = open_existing(&location, &keys)?;
    let configs = kms
        .list_ekms_configs()
        .map_err(failed("cannot list EKMS configurations"))?;
    let mut rows = Vec::with_capacity(configs.len());
    for info in configs {
        let c = info.config.container.clone();
        let (info, h) = kms.ekms_health(&c, &*keys).map_err(failed(format!(
            "cannot check the EKMS key of container {c}"
        )))?;
        rows.push(ConfigStatus {
            container: c.to_string(),
            key_arn: info.config.key_arn,
            wrapping_strategy: info.wrapping.as_str().to_string(),
            architecture: info.config.architecture.as_str().to_string(),
            status: h.status,
            aws_key_state: h.aws_key_state,
            checked_at: h.checked_at,
            detail: h.detail,
            remediation: h.status.remediation().to_string(),
        });
    }
    let active = rows.iter().filter(|r| r.status.is_active()).count();
    let summary = Summary {
        total: rows.len(),
        active,
        not_active: rows.len() - active,
    };
    let outcome = if summary.not_active > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    };
    match args.format {
        StatusFormat::Text => write_text(out, &location, &rows, &summary)?,
        StatusFormat::Json => {
            let report = JsonReport {
                schema_version: 1,
                store: location.to_string(),
                configs: &rows,
                summary,
            };
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(outcome)
}

fn write_text(
    out: &mut dyn Write,
    dir: &StoreLocation,
    rows: &[ConfigStatus],
    s: &Summary,
) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "status: no EKMS configurations in key store {}", dir);
    }
    let head = [
        "CONTAINER",
        "KEY ARN",
        "STATUS",
        "AWS KEY STATE",
        "CHECKED AT",
    ];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.container.clone(),
                r.key_arn.clone(),
                r.status.to_string(),
                r.aws_key_state.clone().unwrap_or_else(|| "-".to_string()),
                r.checked_at.clone(),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: [&str; 5]| {
        let mut l = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        l
    };
    writeln!(out, "{}", line(head))?;
    for (row, r) in cells.iter().zip(rows) {
        writeln!(out, "{}", line(row.each_ref().map(String::as_str)))?;
        if !r.status.is_active() {
            writeln!(out, "  detail: {}", r.detail)?;
            writeln!(out, "  remediation: {}", r.remediation)?;
        }
    }
    writeln!(
        out,
        "status: {} of {} EKMS configuration(s) ACTIVE, {} not ACTIVE",
        s.active, s.total, s.not_active
    )
}
