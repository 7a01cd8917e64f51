//! `keyshift key ...`: inspect keys and manage their lifecycle outside
//! Terraform. One variant per subcommand; non-trivial ones live in their
//! own `key_<name>.rs` file.
//!
//! The JSON shape of a key (`list`, `describe`) is [`KeyView`]: stable
//! field names, never key material.

use crate::cli::key_view::KeyView;
use crate::cli::store::{self, AwsArgs, failed, open_existing};
use crate::cli::{CliError, Outcome, key_list, key_rotate, key_state};
use clap::{Args, Subcommand};
use keyshift_core::engine::Kms;
use std::io::Write;
use std::path::Path;

/// Arguments of `keyshift key`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The key subcommand.
    #[command(subcommand)]
    pub command: KeyCommand,
    /// AWS KMS settings (for keys in externally wrapped containers).
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The `keyshift key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List keys (all, or of one container).
    List(key_list::ListArgs),
    /// Show one key by id or alias.
    Describe(key_list::DescribeArgs),
    /// Enable a Disabled key.
    Enable(key_state::KeyRef),
    /// Disable an Enabled key (encrypt/decrypt/sign then fail until enabled).
    Disable(key_state::KeyRef),
    /// Schedule a key's deletion (as `terraform destroy` does): PendingDeletion,
    /// material erased once the window has passed.
    ScheduleDeletion(key_state::ScheduleArgs),
    /// Cancel a scheduled deletion: the key becomes Disabled (enable it to
    /// use it); a deleting instance holding it becomes active again.
    CancelDeletion(key_state::KeyRef),
    /// Rotate a key now: a new version becomes current, older versions keep decrypting.
    Rotate(key_rotate::KeyRotateArgs),
}

/// Runs a `keyshift key` subcommand.
pub fn run(
    args: &KeyArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let kms = open(store_flag, &args.aws)?;
    match &args.command {
        KeyCommand::List(a) => key_list::list(a, &kms, out),
        KeyCommand::Describe(a) => key_list::describe(a, &kms, out),
        KeyCommand::Enable(a) => key_state::enable(a, &kms, true, out),
        KeyCommand::Disable(a) => key_state::enable(a, &kms, false, out),
        KeyCommand::ScheduleDeletion(a) => key_state::schedule_deletion(a, &kms, out),
        KeyCommand::CancelDeletion(a) => key_state::cancel_deletion(a, &kms, out),
        KeyCommand::Rotate(a) => key_rotate::run(a, &kms, out),
    }
}

/// Opens the existing store named by `--store` (purging what is due).
pub fn open(store_flag: Option<&Path>, aws: &AwsArgs) -> Result<Kms, CliError> {
    open_existing(&store::store_location(store_flag)?, &aws.service())
}

/// The key with that id or alias, as shown to users.
pub fn view(kms: &Kms, id_or_alias: &str) -> Result<KeyView, CliError> {
    let key = kms
        .resolve_key(id_or_alias)
        .map_err(failed(format!("cannot find key {id_or_alias}")))?;
    Ok(KeyView::from(&key))
}
