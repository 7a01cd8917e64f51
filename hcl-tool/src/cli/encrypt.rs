//! `keyshift encrypt --key ID|ALIAS`: plaintext on stdin, base64
//! ciphertext (one line) on stdout.

use crate::cli::store::{self, AwsArgs, encode_b64, failed, open_existing, read_all};
use crate::cli::{CliError, Outcome};
use clap::Args;
use std::io::{Read, Write};
use std::path::Path;

/// Arguments of `keyshift encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Key id (`key-...`) or alias (`alias/...`) of an enabled AES_256 key.
    #[arg(long, value_name = "ID|ALIAS")]
    pub key: String,
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Encrypts stdin with the key; writes base64 ciphertext and a newline.
pub fn run(
    args: &EncryptArgs,
    store_flag: Option<&Path>,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open_existing(&store::store_dir(store_flag), &args.aws.service())?;
    let plaintext = read_all(input, "plaintext")?;
    let ciphertext = kms
        .encrypt(&args.key, &plaintext)
        .map_err(failed(format!("cannot encrypt with key {}", args.key)))?;
    writeln!(out, "{}", encode_b64(&ciphertext))?;
    out.flush()?;
    Ok(Outcome::Clean)
}
