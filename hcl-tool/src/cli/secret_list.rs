//! `keyshift secret list`: the secrets of a store (or of one container),
//! metadata only: a value is never read, let alone printed.

use crate::cli::listing::escape;
use crate::cli::secret::parse_container;
use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome};
use clap::{Args, ValueEnum};
use keyshift_core::store::{Container, Secret};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Output format of `secret list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// One line per secret under a header.
    #[default]
    Table,
    /// One JSON document (schema_version 1).
    Json,
}

/// Arguments of `keyshift secret list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this container: `shared` or a `kst-…` instance id (default: all).
    #[arg(long, value_name = "INSTANCE", value_parser = parse_container)]
    pub instance: Option<Container>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
    /// AWS KMS settings (unused by listing; accepted like the other commands).
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    name: &'a str,
    container: String,
    #[serde(rename = "type")]
    secret_type: &'static str,
    encryption_key_id: &'a str,
    description: &'a str,
    tags: &'a BTreeMap<String, String>,
    current_version_id: &'a str,
    version_count: usize,
    created_at: &'a str,
}

fn row(s: &Secret) -> Row<'_> {
    Row {
        id: &s.id,
        name: &s.name,
        container: s.container.to_string(),
        secret_type: s.secret_type.as_str(),
        encryption_key_id: &s.encryption_key_id,
        description: &s.description,
        tags: &s.tags,
        current_version_id: &s.current_version_id,
        version_count: s.versions.len(),
        created_at: &s.created_at,
    }
}

fn table(rows: &[Row<'_>], out: &mut dyn Write) -> std::io::Result<()> {
    let header = [
        "ID",
        "CONTAINER",
        "NAME",
        "TYPE",
        "ENCRYPTION_KEY",
        "VERSIONS",
    ];
    let lines: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                escape(r.id).into_owned(),
                escape(&r.container).into_owned(),
                escape(r.name).into_owned(),
                r.secret_type.to_string(),
                escape(r.encryption_key_id).into_owned(),
                r.version_count.to_string(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for l in &lines {
        for (w, cell) in width.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let print = |out: &mut dyn Write, cells: &[&str]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", parts.join("  ").trim_end())
    };
    print(out, &header)?;
    for l in &lines {
        print(out, &l.each_ref().map(String::as_str))?;
    }
    Ok(())
}

/// Lists the secrets to `out`.
pub fn run(
    args: &ListArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open_existing(&store::store_location(store_flag)?, &args.aws.service())?;
    let secrets = kms
        .list_secrets(args.instance.as_ref())
        .map_err(failed("cannot list secrets"))?;
    let rows: Vec<Row<'_>> = secrets.iter().map(row).collect();
    match args.format {
        ListFormat::Table if rows.is_empty() => writeln!(out, "no secrets")?,
        ListFormat::Table => table(&rows, out)?,
        ListFormat::Json => {
            let doc = serde_json::json!({ "schema_version": 1, "secrets": rows });
            writeln!(out, "{doc}")?;
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
