//! `keyshift encrypt --key ID|ALIAS`: plaintext on stdin, base64
//! ciphertext (one line) on stdout.
//!
//! `AES_256` keys: AES-256-GCM, any length. `RSA_2048`/`RSA_3072` keys with
//! usage `ENCRYPT/DECRYPT`: RSAES-OAEP with SHA-256 (AWS KMS's
//! `RSAES_OAEP_SHA_256`), at most 190 bytes (`RSA_2048`) or 318 bytes
//! (`RSA_3072`) of plaintext; a longer plaintext is an input error (exit 2).

use crate::cli::store::{self, AwsArgs, encode_b64, failed, open_existing, read_all};
use crate::cli::{CliError, Outcome};
use clap::Args;
use std::io::{Read, Write};
use std::path::Path;

/// Arguments of `keyshift encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Key id (`key-...`) or alias (`alias/...`) of an enabled ENCRYPT/DECRYPT
    /// key: AES_256 (any length), or RSA_2048/RSA_3072 (RSAES-OAEP-SHA-256,
    /// at most 190/318 bytes of plaintext).
    #[arg(long, value_name = "ID|ALIAS")]
    pub key: String,
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// A break-glass credential to run under (`--grant @FILE`).
    #[command(flatten)]
    pub grant: crate::cli::break_glass::GrantArg,
}

/// Encrypts stdin with the key; writes base64 ciphertext and a newline.
pub fn run(
    args: &EncryptArgs,
    store_flag: Option<&Path>,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open_existing(&store::store_location(store_flag)?, &args.aws.service())?;
    let plaintext = read_all(input, "plaintext")?;
    let ciphertext = match args.grant.credential()? {
        Some(cred) => kms.grant_encrypt(&cred, &args.key, &plaintext),
        None => kms.encrypt(&args.key, &plaintext),
    }
    .map_err(failed(format!("cannot encrypt with key {}", args.key)))?;
    writeln!(out, "{}", encode_b64(&ciphertext))?;
    out.flush()?;
    Ok(Outcome::Clean)
}
