//! `keyshift key enable|disable|schedule-deletion|cancel-deletion ID|ALIAS`:
//! change a key's state; one line saying the new state on stdout.

use crate::cli::store::failed;
use crate::cli::{CliError, Outcome};
use clap::Args;
use keyshift_core::engine::Kms;
use keyshift_core::store::KeyUpdate;
use std::io::Write;

/// The key a state command acts on.
#[derive(Debug, Args)]
pub struct KeyRef {
    /// Key id (`key-...`) or alias (`alias/...`).
    #[arg(value_name = "ID|ALIAS")]
    pub key: String,
}

/// Enables (`on`) or disables the key.
pub fn enable(
    args: &KeyRef,
    kms: &Kms,
    on: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let verb = if on { "enable" } else { "disable" };
    let key = kms
        .resolve_key(&args.key)
        .map_err(failed(format!("cannot {verb} key {}", args.key)))?;
    let upd = KeyUpdate {
        enabled: Some(on),
        ..KeyUpdate::default()
    };
    let key = kms
        .update_key(&key.id, upd)
        .map_err(failed(format!("cannot {verb} key {}", key.id)))?;
    writeln!(out, "key {} is {}", key.id, key.state)?;
    Ok(Outcome::Clean)
}

/// Cancels the key's scheduled deletion.
pub fn cancel_deletion(args: &KeyRef, kms: &Kms, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let context = format!("cannot cancel the deletion of key {}", args.key);
    let key = kms
        .resolve_key(&args.key)
        .map_err(failed(context.clone()))?;
    let key = kms.cancel_key_deletion(&key.id).map_err(failed(context))?;
    let hint = if key.state == keyshift_core::store::KeyState::Disabled {
        format!(" (enable it with `keyshift key enable {}`)", key.id)
    } else {
        String::new()
    };
    writeln!(
        out,
        "deletion of key {} cancelled: it is {}{hint}",
        key.id, key.state
    )?;
    Ok(Outcome::Clean)
}

/// Arguments of `keyshift key schedule-deletion`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Key id (`key-...`) or alias (`alias/...`).
    #[arg(value_name = "ID|ALIAS")]
    pub key: String,
    /// Days until the material is erased, 7 to 30 (default: the key's
    /// `deletion_window_in_days`).
    #[arg(long, value_name = "N")]
    pub days: Option<i64>,
}

/// Schedules the key's deletion (refused under deletion protection).
pub fn schedule_deletion(
    args: &ScheduleArgs,
    kms: &Kms,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let context = format!("cannot schedule the deletion of key {}", args.key);
    let key = kms
        .resolve_key(&args.key)
        .map_err(failed(context.clone()))?;
    let key = kms
        .schedule_key_deletion(&key.id, args.days)
        .map_err(failed(context))?;
    writeln!(
        out,
        "key {} is {}: erased after {} unless cancelled with `keyshift key cancel-deletion {}`",
        key.id,
        key.state,
        key.deletion_date.as_deref().unwrap_or("its window"),
        key.id
    )?;
    Ok(Outcome::Clean)
}
