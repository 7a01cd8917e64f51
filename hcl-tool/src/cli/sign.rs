//! `keyshift sign --key ID|ALIAS`: message on stdin, base64 signature
//! (one line) on stdout, with a `SIGN/VERIFY` key.

use crate::cli::store::{self, AwsArgs, encode_b64, failed, open_existing, read_all};
use crate::cli::{CliError, Outcome};
use clap::Args;
use std::io::{Read, Write};
use std::path::Path;

/// Arguments of `keyshift sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Key id (`key-...`) or alias (`alias/...`) of an enabled SIGN/VERIFY key.
    #[arg(long, value_name = "ID|ALIAS")]
    pub key: String,
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// A break-glass credential to run under (`--grant @FILE`).
    #[command(flatten)]
    pub grant: crate::cli::break_glass::GrantArg,
}

/// Signs stdin with the key; writes the base64 signature and a newline.
pub fn run(
    args: &SignArgs,
    store_flag: Option<&Path>,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open_existing(&store::store_location(store_flag)?, &args.aws.service())?;
    let message = read_all(input, "message")?;
    let signature = match args.grant.credential()? {
        Some(cred) => kms.grant_sign(&cred, &args.key, &message),
        None => kms.sign(&args.key, &message),
    }
    .map_err(failed(format!("cannot sign with key {}", args.key)))?;
    writeln!(out, "{}", encode_b64(&signature))?;
    out.flush()?;
    Ok(Outcome::Clean)
}
