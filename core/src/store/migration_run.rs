//! The record of one `keyshift migrate` run: who holds the migration lock on
//! its containers, since when, and how it ended.

use super::Container;

/// One migration run. While `finished_at` is `None` the run holds the
/// migration lock on `source` and `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRun {
    /// `mig-<uuid>`.
    pub run_id: String,
    /// Process id of the `keyshift migrate` that runs it.
    pub pid: i64,
    /// Host name of that process.
    pub host: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// The container objects come from.
    pub source: Container,
    /// The container they go to.
    pub target: Container,
    /// RFC 3339 end time (`None` while running or when interrupted).
    pub finished_at: Option<String>,
    /// `completed`, `failed`, or `interrupted (taken over by mig-…)`.
    pub outcome: Option<String>,
}
