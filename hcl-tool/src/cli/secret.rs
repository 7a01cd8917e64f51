//! `keyshift secret …`: look at the secrets a key store holds without SQL.
//! `get` prints one value (the only command that ever shows one), `list`
//! shows metadata only.

use crate::cli::secret_get::{self, GetArgs};
use crate::cli::secret_list::{self, ListArgs};
use crate::cli::{CliError, Outcome};
use clap::Subcommand;
use std::io::Write;
use std::path::Path;

/// The `keyshift secret` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Print one secret version's value on stdout (raw bytes, or JSON).
    Get(GetArgs),
    /// List secrets (metadata only, never values).
    List(ListArgs),
}

/// Runs one `keyshift secret` subcommand.
pub fn run(
    cmd: &SecretCommand,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    match cmd {
        SecretCommand::Get(args) => secret_get::run(args, store_flag, out),
        SecretCommand::List(args) => secret_list::run(args, store_flag, out),
    }
}

/// Parses `--instance`: `shared` or a `kst-` instance id (the engine's rule).
pub use crate::cli::preflight_sides::parse_container;
