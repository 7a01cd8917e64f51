//! `keyshift decrypt`: base64 ciphertext on stdin (whitespace tolerated),
//! plaintext bytes on stdout. The ciphertext names its key and version, so
//! it decrypts wherever the key lives now (after a move between containers)
//! and whichever version made it (after rotations). AES_256 and RSA
//! (RSAES-OAEP-SHA-256) ciphertexts alike.

use crate::cli::store::{self, AwsArgs, decode_b64, failed, open_existing, read_all};
use crate::cli::{CliError, Outcome};
use clap::Args;
use std::io::{Read, Write};
use std::path::Path;

/// Arguments of `keyshift decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
    /// A break-glass credential to run under (`--grant @FILE`).
    #[command(flatten)]
    pub grant: crate::cli::break_glass::GrantArg,
}

/// Decrypts the base64 ciphertext on stdin; writes the plaintext as is.
pub fn run(
    args: &DecryptArgs,
    store_flag: Option<&Path>,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open_existing(&store::store_location(store_flag)?, &args.aws.service())?;
    let text = read_all(input, "ciphertext")?;
    let ciphertext = decode_b64(&text, "the ciphertext on stdin")?;
    let plaintext = match args.grant.credential()? {
        Some(cred) => kms.grant_decrypt(&cred, &ciphertext),
        None => kms.decrypt(&ciphertext),
    }
    .map_err(failed("cannot decrypt"))?;
    out.write_all(&plaintext)?;
    out.flush()?;
    Ok(Outcome::Clean)
}
