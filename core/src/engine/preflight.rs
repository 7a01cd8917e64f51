//! Instance automation preflight: may `clone`, `backup_restore`,
//! `copy`, `move` or `toggle` run from a source container to a target
//! container, given the EKMS configuration of each?
//!
//! [`preflight`] is pure: the caller classifies each side (see [`Side`]) and
//! supplies the key status from the latest health check. The same function
//! backs the `keyshift_preflight` data source and `keyshift preflight`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::aws::key_status::KeyStatus;
use crate::aws::parse_kms_key_arn;

/// The knowledge-base article with the manual resolution steps for every
/// configuration that preflight blocks.
pub const KB_REFERENCE: &str = "KB2540187";

/// An instance automation operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `clone`
    Clone,
    /// `backup_restore`
    BackupRestore,
    /// `copy`
    Copy,
    /// `move`
    Move,
    /// `toggle`
    Toggle,
}

impl Operation {
    /// Every operation, for validation messages.
    pub const ALL: [Operation; 5] = [
        Operation::Clone,
        Operation::BackupRestore,
        Operation::Copy,
        Operation::Move,
        Operation::Toggle,
    ];

    /// The wire name (`clone`, `backup_restore`, `copy`, `move`, `toggle`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Clone => "clone",
            Operation::BackupRestore => "backup_restore",
            Operation::Copy => "copy",
            Operation::Move => "move",
            Operation::Toggle => "toggle",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = String;

    /// Parses a wire name; the error lists the valid ones.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
                format!(
                    "unknown operation {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Key wrapping strategy of an EKMS configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wrapping {
    /// The container root key is wrapped by Keyshift's own key (the default).
    Internal,
    /// The container root key is wrapped by the external AWS KMS key.
    External,
}

impl Wrapping {
    /// `internal` or `external`.
    pub fn as_str(self) -> &'static str {
        match self {
            Wrapping::Internal => "internal",
            Wrapping::External => "external",
        }
    }
}

/// Key management architecture of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// The current architecture.
    Current,
    /// The legacy architecture (see the legacy rule on [`preflight`]).
    Legacy,
}

impl Architecture {
    /// `current` or `legacy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Current => "current",
            Architecture::Legacy => "legacy",
        }
    }
}

/// What preflight needs to know about a configured side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EkmsSide {
    /// Full ARN of the AWS KMS key.
    pub key_arn: String,
    /// Wrapping strategy.
    pub wrapping: Wrapping,
    /// Key status from the latest health check.
    pub key_status: KeyStatus,
    /// Key management architecture.
    pub architecture: Architecture,
}

/// How one side of an operation stands with EKMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Side {
    /// An older store/instance that cannot carry EKMS.
    Unsupported,
    /// Supports EKMS, internal wrapping, no key configured.
    NotConfigured,
    /// An EKMS configuration exists.
    Configured(EkmsSide),
}

impl Side {
    /// `unsupported`, `not_configured` or `configured`.
    pub fn kind(&self) -> &'static str {
        match self {
            Side::Unsupported => "unsupported",
            Side::NotConfigured => "not_configured",
            Side::Configured(_) => "configured",
        }
    }

    fn is_legacy(&self) -> bool {
        matches!(self, Side::Configured(e) if e.architecture == Architecture::Legacy)
    }
}

/// The verdict of [`preflight`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preflight {
    /// True when the operation may run.
    pub supported: bool,
    /// The row of the preflight table that decided (1..=13, as numbered in
    /// `docs/guides/design.md`), or 0 for the legacy rule.
    pub row: u8,
    /// Why, in one sentence naming the sides.
    pub reason: String,
    /// What to do about a block (empty when supported).
    pub remediation: String,
    /// [`KB_REFERENCE`] for blocked configuration cases (rows 9-13).
    pub reference: Option<String>,
}

impl Preflight {
    /// `supported` or `blocked`.
    pub fn result(&self) -> &'static str {
        if self.supported {
            "supported"
        } else {
            "blocked"
        }
    }

    fn ok(row: u8, reason: String) -> Preflight {
        Preflight {
            supported: true,
            row,
            reason,
            remediation: String::new(),
            reference: None,
        }
    }

    fn blocked(row: u8, reason: String, remediation: String, kb: bool) -> Preflight {
        let reference = kb.then(|| KB_REFERENCE.to_string());
        Preflight {
            supported: false,
            row,
            reason,
            remediation,
            reference,
        }
    }
}

/// Decides whether `op` may run from `source` to `target`.
///
/// Order of evaluation:
/// 1. Row 8: a configured source whose key status is not `ACTIVE` blocks,
///    with the remediation for that status.
/// 2. The table rows 1-7 and 9-13 (below).
/// 3. Row 8 again for a configured target of an otherwise supported
///    operation (rows 6 and 7): the operation would use the target's key, so
///    it must be `ACTIVE` too. (The table only names the source; checking
///    the target after the table keeps the table's own verdicts for every
///    other case.)
/// 4. The legacy rule (row 0): unless `legacy_support` is set, a configured
///    side with the `legacy` architecture blocks. With `legacy_support`,
///    legacy→current, legacy→legacy and current→legacy are all allowed; the
///    table still applies. A table block is reported in preference to the
///    legacy block because enabling legacy support would not clear it.
///
/// "No EKMS" (row 1) means a side that is `unsupported` or `not_configured`;
/// the mixed pairs of those are the more specific rows 4 and 5. Two
/// configured sides are compared in table order: same ARN and wrapping →
/// row 6 (matching); same multi-Region `mrk-` key id in different regions
/// with the same wrapping → row 7 (compatible); otherwise a different key →
/// row 9, and the same key with a different wrapping strategy → row 10 or 11.
///
/// Interpretation of rows 10 and 11 (the vendor table lists "internal →
/// external wrapping" and "configured → different wrapping" separately):
/// row 10 is the direction where the source still wraps internally while the
/// target wraps externally — its data was never protected by the target's
/// key; row 11 is the remaining mismatch, a source that wraps externally and
/// a target that wraps internally. A `not_configured` source (internal by
/// definition) with a configured target is the more specific row 12, and an
/// `unsupported` source is row 13.
pub fn preflight(op: Operation, source: &Side, target: &Side, legacy_support: bool) -> Preflight {
    if let Side::Configured(s) = source {
        if !s.key_status.is_active() {
            return status_block(op, "source", s);
        }
    }
    let verdict = table(op, source, target);
    if !verdict.supported {
        return verdict;
    }
    if let Side::Configured(t) = target {
        if !t.key_status.is_active() {
            return status_block(op, "target", t);
        }
    }
    if !legacy_support && (source.is_legacy() || target.is_legacy()) {
        return legacy_block(op, source, target);
    }
    verdict
}

fn status_block(op: Operation, which: &str, side: &EkmsSide) -> Preflight {
    Preflight::blocked(
        8,
        format!(
            "{op} blocked: the {which} key {} has status {}; instance automation needs ACTIVE \
             (row 8)",
            side.key_arn, side.key_status
        ),
        side.key_status.remediation().to_string(),
        false,
    )
}

fn legacy_block(op: Operation, source: &Side, target: &Side) -> Preflight {
    let arch = |s: &Side| match s {
        Side::Configured(e) => e.architecture.as_str(),
        _ => Architecture::Current.as_str(),
    };
    Preflight::blocked(
        0,
        format!(
            "{op} blocked: the source uses the {} and the target the {} key management \
             architecture, and legacy support is off (legacy rule)",
            arch(source),
            arch(target)
        ),
        "Enable legacy support (`legacy_support = true` in the provider configuration, or the \
         CLI's legacy support option) and run preflight again; the compatibility table still \
         applies."
            .to_string(),
        false,
    )
}

fn table(op: Operation, source: &Side, target: &Side) -> Preflight {
    use Side::{Configured as C, NotConfigured as N, Unsupported as U};
    let (sk, tk) = (source.kind(), target.kind());
    match (source, target) {
        (U, U) | (N, N) => Preflight::ok(1, format!("{op}: no EKMS on either side ({sk} → {tk})")),
        (C(s), N) => Preflight::ok(
            2,
            format!(
                "{op}: source uses EKMS key {}, target supports EKMS",
                s.key_arn
            ),
        ),
        (C(s), U) => Preflight::ok(
            3,
            format!(
                "{op}: source uses EKMS key {}, target cannot carry EKMS",
                s.key_arn
            ),
        ),
        (U, N) => Preflight::ok(4, format!("{op}: unsupported source, target without EKMS")),
        (N, U) => Preflight::ok(5, format!("{op}: source without EKMS, unsupported target")),
        (N, C(t)) => Preflight::blocked(
            12,
            format!(
                "{op} blocked: the source supports EKMS but is not configured, the target uses \
                 key {} (row 12)",
                t.key_arn
            ),
            format!(
                "Activate EKMS on the source first (an EKMS configuration for the source with \
                 key {} and external wrapping), then run preflight again; see {KB_REFERENCE}.",
                t.key_arn
            ),
            true,
        ),
        (U, C(t)) => Preflight::blocked(
            13,
            format!(
                "{op} blocked: the source cannot carry EKMS, the target uses key {} (row 13)",
                t.key_arn
            ),
            format!(
                "Move the source to a store/instance that supports EKMS and configure it with \
                 the target's key, or pick a target without EKMS; see {KB_REFERENCE}."
            ),
            true,
        ),
        (C(s), C(t)) => both_configured(op, s, t),
    }
}

fn both_configured(op: Operation, s: &EkmsSide, t: &EkmsSide) -> Preflight {
    let same_wrapping = s.wrapping == t.wrapping;
    if s.key_arn == t.key_arn && same_wrapping {
        return Preflight::ok(
            6,
            format!("{op}: both sides use key {} (matching)", s.key_arn),
        );
    }
    if same_wrapping && same_multi_region_key(&s.key_arn, &t.key_arn) {
        return Preflight::ok(
            7,
            format!(
                "{op}: source key {} and target key {} are replicas of one multi-Region key \
                 (compatible)",
                s.key_arn, t.key_arn
            ),
        );
    }
    if s.key_arn != t.key_arn && !same_multi_region_key(&s.key_arn, &t.key_arn) {
        let also = if same_wrapping {
            String::new()
        } else {
            format!(
                ", and the wrapping strategies differ ({} → {})",
                s.wrapping.as_str(),
                t.wrapping.as_str()
            )
        };
        return Preflight::blocked(
            9,
            format!(
                "{op} blocked: source key {} and target key {} are different keys{also} (row 9)",
                s.key_arn, t.key_arn
            ),
            format!(
                "Configure the target with the source's key {} (or a replica of it in the \
                 target's region if it is a multi-Region key) and the same wrapping strategy, \
                 then run preflight again; see {KB_REFERENCE}.",
                s.key_arn
            ),
            true,
        );
    }
    // Same key (or replicas of one multi-Region key), different wrapping.
    let (row, fix) = match s.wrapping {
        Wrapping::Internal => (
            10,
            "Switch the source to external wrapping (wrapping_strategy = \"external\") so both \
             sides wrap with the key",
        ),
        Wrapping::External => (
            11,
            "Switch the target to external wrapping (wrapping_strategy = \"external\"; external \
             wrapping cannot be reverted) so both sides wrap with the key",
        ),
    };
    Preflight::blocked(
        row,
        format!(
            "{op} blocked: source wraps {} and target wraps {} (key {}) (row {row})",
            s.wrapping.as_str(),
            t.wrapping.as_str(),
            s.key_arn
        ),
        format!("{fix}, then run preflight again; see {KB_REFERENCE}."),
        true,
    )
}

/// Same `mrk-` key id in two different regions ("compatible" sides).
fn same_multi_region_key(a: &str, b: &str) -> bool {
    match (parse_kms_key_arn(a), parse_kms_key_arn(b)) {
        (Ok(a), Ok(b)) => {
            a.multi_region && b.multi_region && a.key_id == b.key_id && a.region != b.region
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
