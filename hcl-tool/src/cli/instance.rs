//! `keyshift instance list|describe|restore`: see the KMS instances of a
//! store, and bring back one that is being deleted.
//!
//! JSON: `list` prints an array of [`InstanceView`] objects (in creation
//! order), `describe` one such object.

use crate::cli::key::open;
use crate::cli::listing::{ListFormat, write_fields, write_json, write_table};
use crate::cli::store::{AwsArgs, failed};
use crate::cli::{CliError, Outcome};
use clap::{Args, Subcommand};
use keyshift_core::engine::Kms;
use keyshift_core::store::Instance;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Arguments of `keyshift instance`.
#[derive(Debug, Args)]
pub struct InstanceArgs {
    /// The instance subcommand.
    #[command(subcommand)]
    pub command: InstanceCommand,
    /// AWS KMS settings (for externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The `keyshift instance` subcommands.
#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// List KMS instances.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
    },
    /// Show one instance by id.
    Describe {
        /// Instance id (`kst-...`).
        #[arg(value_name = "ID")]
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
    },
    /// Restore an instance in status `deleting` with its keys (they come
    /// back Disabled: enable them with `keyshift key enable`).
    Restore {
        /// Instance id (`kst-...`).
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// One instance as `keyshift instance list|describe --format json` prints
/// it. Field names are stable; new fields may be added, none removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceView {
    /// `kst-` + 12 hex digits.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `software` or `hardware`.
    #[serde(rename = "type")]
    pub instance_type: String,
    /// Region.
    pub region: String,
    /// `active`, `migrating` or `deleting`.
    pub status: String,
    /// Keys held (any state).
    pub keys: i64,
    /// Secrets held.
    pub secrets: i64,
    /// Maximum number of keys.
    pub key_quota: i64,
    /// Maximum number of secrets.
    pub secret_quota: i64,
    /// For a `deleting` instance: when its last key is erased and the
    /// instance purged (RFC 3339); else null.
    pub purge_after: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

fn view(kms: &Kms, i: &Instance) -> Result<InstanceView, CliError> {
    let what = format!("cannot read instance {}", i.id);
    let (keys, secrets) = kms.instance_usage(&i.id).map_err(failed(what.clone()))?;
    let deleting = i.status == keyshift_core::store::InstanceStatus::Deleting;
    let purge_after = match deleting {
        true => kms.instance_purge_date(&i.id).map_err(failed(what))?,
        false => None,
    };
    Ok(InstanceView {
        id: i.id.clone(),
        name: i.name.clone(),
        instance_type: i.instance_type.to_string(),
        region: i.region.clone(),
        status: i.status.to_string(),
        keys,
        secrets,
        key_quota: i.key_quota,
        secret_quota: i.secret_quota,
        purge_after,
        created_at: i.created_at.clone(),
    })
}

/// Runs a `keyshift instance` subcommand.
pub fn run(
    args: &InstanceArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open(store_flag, &args.aws)?;
    match &args.command {
        InstanceCommand::List { format } => {
            let all = kms
                .list_instances()
                .map_err(failed("cannot list instances"))?;
            let views = all
                .iter()
                .map(|i| view(&kms, i))
                .collect::<Result<Vec<_>, _>>()?;
            match format {
                ListFormat::Json => write_json(out, &views)?,
                ListFormat::Table => {
                    let rows: Vec<Vec<String>> = views
                        .iter()
                        .map(|v| {
                            let purge = v.purge_after.clone().unwrap_or_else(|| "-".into());
                            vec![
                                v.id.clone(),
                                v.name.clone(),
                                v.instance_type.clone(),
                                v.region.clone(),
                                v.status.clone(),
                                v.keys.to_string(),
                                v.secrets.to_string(),
                                purge,
                            ]
                        })
                        .collect();
                    let headers = [
                        "ID",
                        "NAME",
                        "TYPE",
                        "REGION",
                        "STATUS",
                        "KEYS",
                        "SECRETS",
                        "PURGE_AFTER",
                    ];
                    write_table(out, &headers, &rows)?;
                }
            }
        }
        InstanceCommand::Describe { id, format } => {
            let i = kms
                .get_instance(id)
                .map_err(failed(format!("cannot find instance {id}")))?;
            let v = view(&kms, &i)?;
            match format {
                ListFormat::Json => write_json(out, &v)?,
                ListFormat::Table => write_fields(
                    out,
                    &[
                        ("id", v.id.clone()),
                        ("name", v.name.clone()),
                        ("type", v.instance_type.clone()),
                        ("region", v.region.clone()),
                        ("status", v.status.clone()),
                        ("keys", format!("{} of {}", v.keys, v.key_quota)),
                        ("secrets", format!("{} of {}", v.secrets, v.secret_quota)),
                        (
                            "purge_after",
                            v.purge_after.clone().unwrap_or_else(|| "-".into()),
                        ),
                        ("created_at", v.created_at.clone()),
                    ],
                )?,
            }
        }
        InstanceCommand::Restore { id } => {
            let i = kms
                .restore_instance(id)
                .map_err(failed(format!("cannot restore instance {id}")))?;
            let (keys, _) = kms
                .instance_usage(id)
                .map_err(failed(format!("cannot read instance {id}")))?;
            writeln!(
                out,
                "instance {} ({}) is {}; its {keys} key(s) are Disabled until enabled with `keyshift key enable ID`",
                i.id, i.name, i.status
            )?;
        }
    }
    Ok(Outcome::Clean)
}
