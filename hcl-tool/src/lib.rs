//! Library behind the `keyshift` CLI: plan-check rules and
//! format-preserving rewrites of Terraform configurations.
//!
//! Layout: [`input`] reads inputs safely, [`plan`]/[`state`]/[`report`]
//! model the JSON inputs, [`check`]
//! holds the plan-check rules, [`hcl`] the byte-splicing edit operations,
//! [`rewrite`] derives and applies edits for a configuration directory, and
//! [`cli`] implements the subcommands.

pub mod check;
pub mod check_hint;
pub mod cli;
pub mod glob;
pub mod hcl;
pub mod input;
pub mod moves;
pub mod plan;
pub mod plan_path;
pub mod presets;
pub mod progress;
pub mod report;
pub mod rewrite;
pub mod scratch;
pub mod state;
