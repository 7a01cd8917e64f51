//! The `keyshift` subcommands. `main.rs` only parses arguments and maps
//! [`Outcome`]/[`CliError`] to exit codes.

pub mod audit;
pub mod break_glass;
pub mod break_glass_serve;
pub mod decrypt;
pub mod encrypt;
pub mod instance;
pub mod key;
pub mod key_list;
pub mod key_rotate;
pub mod key_state;
pub mod key_view;
pub mod listing;
pub mod migrate;
pub mod migrate_output;
pub mod migrate_rewrite;
pub mod migrate_store;
pub mod migrate_store_output;
pub mod plan_check;
pub mod plan_check_config;
pub mod plan_check_moves;
pub mod preflight;
pub mod preflight_sides;
pub mod rewrite;
pub mod rewrite_moves;
pub mod rewrite_prepare;
pub mod rewrite_verify;
pub mod rotate;
pub mod secret;
pub mod secret_get;
pub mod secret_list;
pub mod sign;
pub mod status;
pub mod store;
pub mod verify;

use thiserror::Error;

/// What a successful command run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report: exit 0.
    Clean,
    /// Findings, refusals, or `--check` needing edits: exit 1.
    Findings,
}

/// A usage or input error: exit 2.
#[derive(Debug, Error)]
pub enum CliError {
    /// Bad plan/state/report input.
    #[error(transparent)]
    Input(#[from] crate::plan::InputError),
    /// Bad `--attr`.
    #[error(transparent)]
    AttrSpec(#[from] crate::presets::AttrSpecError),
    /// Rewrite failure (parse error, write error, ...).
    #[error(transparent)]
    Rewrite(#[from] crate::rewrite::RewriteError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// Anything else the user must fix.
    #[error("{0}")]
    Usage(String),
    /// A key-store operation failed; exit 2 or 1 by cause
    /// (see [`store::KmsFailure::exit_code`]).
    #[error(transparent)]
    Kms(#[from] store::KmsFailure),
}

impl CliError {
    /// The process exit code: 2 (usage or input error) except for key-store
    /// operations that failed on valid input (1).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Kms(e) => e.exit_code(),
            _ => 2,
        }
    }
}
