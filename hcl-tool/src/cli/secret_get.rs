//! `keyshift secret get NAME|ID`: one version's value on stdout. Raw (the
//! bytes as stored, no newline added) or `--format json`. The secret and
//! version are chosen exactly as the `keyshift_secret_value` ephemeral
//! resource chooses them (the engine's `lookup_secret` and
//! `read_secret_version`).

use crate::cli::secret::parse_container;
use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome};
use clap::{Args, ValueEnum};
use keyshift_core::engine::secret_read::VersionPick;
use keyshift_core::store::Container;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Output format of `secret get`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum GetFormat {
    /// The value's bytes as stored, nothing else.
    #[default]
    Raw,
    /// One JSON object with the value (UTF-8 text only) and its version.
    Json,
}

/// Arguments of `keyshift secret get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Secret name (in `--instance`, default the shared KMS) or id (`sec-…`).
    #[arg(value_name = "NAME|ID")]
    pub secret: String,
    /// Container of the secret: `shared` or a `kst-…` instance id.
    #[arg(long, value_name = "INSTANCE", value_parser = parse_container)]
    pub instance: Option<Container>,
    /// Version to read (default: the ACSCurrent version).
    #[arg(long, value_name = "ID", conflicts_with = "stage")]
    pub version_id: Option<String>,
    /// Stage of the version to read, e.g. ACSCurrent or ACSPrevious.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: GetFormat,
    /// AWS KMS settings (for secrets in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Serialize)]
struct JsonValue<'a> {
    schema_version: u32,
    id: &'a str,
    name: &'a str,
    container: String,
    version_id: &'a str,
    stages: &'a [String],
    value: &'a str,
}

/// Writes the chosen version's value to `out`.
pub fn run(
    args: &GetArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open_existing(&store::store_location(store_flag)?, &args.aws.service())?;
    let secret = kms
        .lookup_secret(&args.secret, args.instance.as_ref())
        .map_err(failed(format!("cannot find secret {:?}", args.secret)))?;
    let pick = match (&args.version_id, &args.stage) {
        (Some(v), _) => VersionPick::Id(v),
        (_, Some(s)) => VersionPick::Stage(s),
        _ => VersionPick::Current,
    };
    let read = kms
        .read_secret_version(&secret.id, pick)
        .map_err(failed(format!("cannot read secret {}", secret.id)))?;
    match args.format {
        GetFormat::Raw => out.write_all(&read.value)?,
        GetFormat::Json => {
            let value = std::str::from_utf8(&read.value).map_err(|_| {
                CliError::Usage(format!(
                    "version {} of secret {} is not UTF-8 text, which JSON cannot carry; \
                     use the raw format (the default)",
                    read.version_id, secret.id
                ))
            })?;
            let doc = JsonValue {
                schema_version: 1,
                id: &secret.id,
                name: &secret.name,
                container: secret.container.to_string(),
                version_id: &read.version_id,
                stages: &read.stages,
                value,
            };
            let text = serde_json::to_string(&doc)
                .map_err(|e| CliError::Usage(format!("cannot render JSON: {e}")))?;
            writeln!(out, "{text}")?;
        }
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
