//! `keyshift key list` and `keyshift key describe ID|ALIAS`.
//!
//! JSON: `list` prints an array of [`KeyView`] objects (in creation
//! order), `describe` one such object.

use crate::cli::key::view;
use crate::cli::key_view::KeyView;
use crate::cli::listing::{ListFormat, write_fields, write_json, write_table};
use crate::cli::store::failed;
use crate::cli::{CliError, Outcome};
use clap::Args;
use keyshift_core::engine::Kms;
use keyshift_core::store::Container;
use std::io::Write;

/// Arguments of `keyshift key list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only keys of this container: an instance id (`kst-...`) or `shared`.
    #[arg(long, value_name = "ID|shared")]
    pub instance: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
}

/// Arguments of `keyshift key describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Key id (`key-...`) or alias (`alias/...`).
    #[arg(value_name = "ID|ALIAS")]
    pub key: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
}

/// Lists keys.
pub fn list(args: &ListArgs, kms: &Kms, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let container = args.instance.as_deref().map(|c| match c {
        "shared" => Container::Shared,
        id => Container::Instance(id.to_string()),
    });
    let keys = kms
        .list_keys(container.as_ref())
        .map_err(failed("cannot list keys"))?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::from).collect();
    match args.format {
        ListFormat::Json => write_json(out, &views)?,
        ListFormat::Table => {
            let rows: Vec<Vec<String>> = views
                .iter()
                .map(|v| {
                    vec![
                        v.id.clone(),
                        v.container().to_string(),
                        v.spec.clone(),
                        v.usage.clone(),
                        v.state.clone(),
                        v.deletion_date.clone().unwrap_or_else(|| "-".into()),
                        v.aliases.join(","),
                    ]
                })
                .collect();
            let headers = [
                "ID",
                "CONTAINER",
                "SPEC",
                "USAGE",
                "STATE",
                "DELETION_DATE",
                "ALIASES",
            ];
            write_table(out, &headers, &rows)?;
        }
    }
    Ok(Outcome::Clean)
}

/// Shows one key.
pub fn describe(args: &DescribeArgs, kms: &Kms, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let v = view(kms, &args.key)?;
    match args.format {
        ListFormat::Json => write_json(out, &v)?,
        ListFormat::Table => write_fields(out, &v.fields())?,
    }
    Ok(Outcome::Clean)
}
