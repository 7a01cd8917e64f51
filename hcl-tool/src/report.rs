//! The migration report: what `keyshift migrate` did, per object. It is the
//! input of `keyshift rewrite --report`.
//!
//! Schema (version 1):
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "objects": [
//!     {
//!       "id": "<object id, equal to the resource's `id` in the state>",
//!       "kind": "key" | "secret",
//!       "source": "shared" | "kst-...",
//!       "target_instance_id": "kst-..." | "shared",
//!       "outcome": "migrated" | "skipped" | "failed",
//!       "names": ["alias/..." | "<secret name>"],
//!       "reason": "why it was skipped or failed",
//!       "in_target": true
//!     }
//!   ]
//! }
//! ```
//!
//! `names` and `reason` are optional (written by `keyshift migrate`, not
//! needed to rewrite). `in_target` (optional, default `false`) says the
//! object is in `target_instance_id` after the run: migrated, or skipped
//! as already there by a run that took over an interrupted attempt of
//! itself (which moved it); `keyshift rewrite` pins every such object. Unknown keys are ignored; an unknown `schema_version`, `kind` or
//! `outcome` is rejected.

use crate::plan::{InputError, check_not_array, read_input};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The only schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A migration report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Must be [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// One entry per migrated (or attempted) object.
    pub objects: Vec<ReportObject>,
    /// A store → store move's source store (passwords redacted); absent
    /// for a container move. Its objects keep their containers, so their
    /// `source` and `target_instance_id` are that container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_store: Option<String>,
    /// A store → store move's target store (passwords redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_store: Option<String>,
}

/// One object of a migration report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportObject {
    /// Object id (the Terraform resource `id`).
    pub id: String,
    /// Key or secret.
    pub kind: ObjectKind,
    /// "shared" or the instance id it came from.
    pub source: String,
    /// The instance id it moved to.
    pub target_instance_id: String,
    /// What happened.
    pub outcome: Outcome,
    /// A key's aliases or a secret's name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Why it was skipped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// It is in `target_instance_id` after the run (migrated, or already
    /// there): a rewrite pins it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_target: bool,
}

impl ReportObject {
    /// True when the object is in its target after the run: what a rewrite
    /// pins (reports written before `in_target` existed: `migrated` only).
    pub fn placed(&self) -> bool {
        self.outcome == Outcome::Migrated || self.in_target
    }
}

/// Object kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// `keyshift_key`.
    Key,
    /// `keyshift_secret`.
    Secret,
}

impl ObjectKind {
    /// The keyshift resource type of this kind.
    pub fn resource_type(self) -> &'static str {
        match self {
            Self::Key => "keyshift_key",
            Self::Secret => "keyshift_secret",
        }
    }
}

/// Migration outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Moved to `target_instance_id`.
    Migrated,
    /// Not attempted.
    Skipped,
    /// Attempted and failed.
    Failed,
}

impl Report {
    /// Reads and validates a report file.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let text = read_input(path)?;
        check_not_array(path, &text, "report")?;
        let report: Self = serde_json::from_str(&text).map_err(|source| InputError::Json {
            path: path.to_owned(),
            what: "report",
            source,
        })?;
        if report.schema_version != SCHEMA_VERSION {
            return Err(InputError::FormatVersion {
                path: path.to_owned(),
                version: format!("schema_version {}", report.schema_version),
            });
        }
        Ok(report)
    }
}
