//! `keyshift rewrite`: derive the migration attribute values a
//! configuration needs, then splice them into its files.
//!
//! [`targets`] turns a plan (or a report plus state) into per-resource
//! values, [`config`] loads the configuration and its local modules,
//! [`apply`] decides the edits (refusing what it cannot do safely),
//! [`write`] commits them atomically, and [`everywhere`] is the bulk mode
//! used by the corpus test and the benchmark.

pub mod apply;
pub mod config;
pub mod everywhere;
pub mod moves;
pub mod prepare;
pub mod select;
pub mod targets;
pub mod write;

use crate::hcl::ParseError;
use crate::hcl::attr::AttrError;
use serde::Serialize;
use std::path::PathBuf;
use thiserror::Error;

/// Errors that stop a rewrite before anything is written.
#[derive(Debug, Error)]
pub enum RewriteError {
    /// A `.tf` file could not be read or parsed (names file:line:column).
    #[error("rewrite aborted, no file was changed")]
    Parse(#[from] ParseError),
    /// The configuration directory could not be listed.
    #[error("cannot list {path}")]
    ListDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A block could not be edited.
    #[error("{path}: rewrite aborted, no file was changed")]
    Edit {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: AttrError,
    },
    /// Writing failed: temporary files are removed and files already
    /// replaced in this run were put back, so no original is changed.
    #[error("cannot write {path}; no file was changed")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing failed and putting back the files already replaced failed
    /// too: those files hold the new text (listed), the rest are untouched.
    #[error(
        "cannot write {path}; these files were already rewritten and could not be restored: {}",
        not_restored.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    PartialWrite {
        /// The file whose write failed.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
        /// Files left with the new text.
        not_restored: Vec<PathBuf>,
    },
    /// A file changed on disk after it was read: someone else edited it.
    /// Files already replaced in this run were put back (except those
    /// listed).
    #[error(
        "{path} changed on disk while keyshift was running; {}; run keyshift again",
        if not_restored.is_empty() {
            "no file was changed".to_owned()
        } else {
            format!(
                "these files were already rewritten and could not be restored: {}",
                not_restored.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )
        }
    )]
    Changed {
        /// The file that changed.
        path: PathBuf,
        /// Files left with the new text.
        not_restored: Vec<PathBuf>,
    },
    /// The configuration has more module call paths than the walk follows.
    #[error("the configuration has more than {limit} module call paths; refusing to walk it")]
    TooManyModules {
        /// The limit.
        limit: usize,
    },
    /// Running Terraform for `--verify` failed.
    #[error("terraform: {0}")]
    Terraform(String),
    /// `--verify` could not plan after the edits were written: the edits
    /// were rolled back (files listed in `not_restored` excepted, which
    /// someone changed since or which could not be written).
    #[error(
        "--verify could not run terraform plan, so the edits were rolled back; {}",
        if not_restored.is_empty() {
            "no file was changed".to_owned()
        } else {
            format!(
                "these files still hold the edit (changed since, or unwritable): {}",
                not_restored.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )
        }
    )]
    VerifyFailed {
        /// Why the plan failed.
        source: Box<RewriteError>,
        /// Files left with the new text.
        not_restored: Vec<PathBuf>,
    },
}

/// A resource the tool will not edit, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Resource (or instance) address.
    pub address: String,
    /// Explanation with a suggestion.
    pub reason: String,
}
