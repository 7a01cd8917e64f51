//! `keyshift key …`: operations on one key of a store.

use crate::cli::{CliError, Outcome, key_rotate};
use clap::Subcommand;
use std::io::Write;
use std::path::Path;

/// The `keyshift key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Rotate a key now: a new version becomes current, older versions keep decrypting.
    Rotate(key_rotate::KeyRotateArgs),
}

/// Runs one `keyshift key` subcommand.
pub fn run(
    command: &KeyCommand,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    match command {
        KeyCommand::Rotate(args) => key_rotate::run(args, store_flag, out),
    }
}
