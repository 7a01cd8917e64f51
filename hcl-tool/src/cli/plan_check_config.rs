//! `keyshift plan-check --config DIR`: warnings for blocks still prepared
//! by `keyshift rewrite --prepare`. A plan does not carry `ignore_changes`,
//! so only the configuration shows that a placement change is being
//! ignored.

use crate::check::{CheckConfig, Finding, FindingKind, Severity, allow_matches};
use crate::cli::CliError;
use crate::rewrite::config::Config;
use crate::rewrite::prepare::prepared_blocks;
use std::path::Path;

/// One warning per prepared block and attribute of the configuration in
/// `dir` (and its local modules).
pub fn prepared_findings(dir: &Path, cfg: &CheckConfig) -> Result<Vec<Finding>, CliError> {
    let config = Config::load(dir)?;
    Ok(prepared_blocks(&config, &cfg.attrs)
        .into_iter()
        .map(|p| Finding {
            severity: Severity::Warning,
            kind: FindingKind::Prepared,
            allowed: cfg.allow.iter().any(|a| allow_matches(a, &p.address)),
            message: format!(
                "prepared for a migration but not finalized: `lifecycle {{ ignore_changes }}` \
                 still lists {} ({}:{}), added by keyshift rewrite --prepare, so Terraform \
                 ignores changes to the placement; after the migration run `keyshift rewrite \
                 {} --finalize --plan PLAN.json`",
                p.attr,
                p.file.display(),
                p.line,
                dir.display()
            ),
            address: p.address,
            previous_address: None,
            replace_paths: Vec::new(),
        })
        .collect())
}
