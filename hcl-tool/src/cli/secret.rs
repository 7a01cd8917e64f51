//! `keyshift secret …`: look at the secrets a key store holds without SQL.
//! `get` prints one value (the only command that ever shows one), `list`
//! shows metadata only.

use crate::cli::secret_get::{self, GetArgs};
use crate::cli::secret_list::{self, ListArgs};
use crate::cli::{CliError, Outcome};
use clap::Subcommand;
use keyshift_core::store::Container;
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

/// Parses `--instance`: `shared` or a `kst-` instance id.
pub fn parse_container(s: &str) -> Result<Container, String> {
    if s == "shared" {
        return Ok(Container::Shared);
    }
    let hex = s.strip_prefix("kst-").unwrap_or_default();
    if hex.len() == 12
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(Container::Instance(s.to_string()))
    } else {
        Err(format!(
            "{s:?} is neither `shared` nor an instance id (kst- followed by 12 lowercase hex digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers() {
        assert_eq!(parse_container("shared"), Ok(Container::Shared));
        assert_eq!(
            parse_container("kst-0123456789ab"),
            Ok(Container::Instance("kst-0123456789ab".into()))
        );
        for bad in ["kst-0123456789AB", "kst-1", "instance", ""] {
            assert!(parse_container(bad).is_err(), "{bad}");
        }
    }
}
