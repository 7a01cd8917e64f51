//! `keyshift verify --key ID|ALIAS --signature B64`: message on stdin;
//! prints `valid` (exit 0) or `invalid signature` (exit 1).

use crate::cli::store::{self, AwsArgs, decode_b64, failed, open_existing, read_all};
use crate::cli::{CliError, Outcome};
use clap::Args;
use std::io::{Read, Write};
use std::path::Path;

/// Arguments of `keyshift verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Key id (`key-...`) or alias (`alias/...`) of a SIGN/VERIFY key.
    #[arg(long, value_name = "ID|ALIAS")]
    pub key: String,
    /// The signature, base64 (as `keyshift sign` prints it).
    #[arg(long, value_name = "B64")]
    pub signature: String,
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// A break-glass credential to run under (`--grant @FILE`).
    #[command(flatten)]
    pub grant: crate::cli::break_glass::GrantArg,
}

/// Verifies the signature of stdin: [`Outcome::Clean`] when valid,
/// [`Outcome::Findings`] when it does not verify.
pub fn run(
    args: &VerifyArgs,
    store_flag: Option<&Path>,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let signature = decode_b64(args.signature.as_bytes(), "--signature")?;
    let kms = open_existing(&store::store_location(store_flag)?, &args.aws.service())?;
    let message = read_all(input, "message")?;
    let valid = match args.grant.credential()? {
        Some(cred) => kms.grant_verify(&cred, &args.key, &message, &signature),
        None => kms.verify(&args.key, &message, &signature),
    }
    .map_err(failed(format!("cannot verify with key {}", args.key)))?;
    if valid {
        writeln!(out, "valid")?;
        Ok(Outcome::Clean)
    } else {
        writeln!(out, "invalid signature")?;
        Ok(Outcome::Findings)
    }
}
