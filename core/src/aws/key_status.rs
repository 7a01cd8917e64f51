//! Health of the external AWS KMS key behind an EKMS configuration.
//!
//! [`KeyStatus`] is the computed `key_status` of `keyshift_ekms_config`, the
//! status `keyshift status` prints, and what preflight row 8 checks. It is
//! derived from the `KeyState` that AWS KMS `DescribeKey` reports (see
//! [`KeyStatus::from_aws_key_state`]); the client in [`crate::aws`] adds the
//! two cases that have no `KeyState`: `NotFoundException` (→ `DELETED`) and
//! an unreachable endpoint or failing credentials (→ `UNAVAILABLE`).
//!
//! It lives in the AWS layer (not the engine) so that `aws` depends on
//! nothing above it; the engine uses it, never the other way round.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Status of an external key as Keyshift reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyStatus {
    /// AWS `Enabled`: the key can wrap and unwrap.
    Active,
    /// AWS `Disabled` or `PendingImport`: the key exists but refuses to work.
    Disabled,
    /// AWS `PendingDeletion` or `PendingReplicaDeletion`: scheduled for deletion.
    PendingDeletion,
    /// AWS `Unavailable`, `Creating`, `Updating`, any state Keyshift does not
    /// know, or the endpoint/credentials failed: the key cannot be reached.
    Unavailable,
    /// AWS answered `NotFoundException`: the key is gone.
    Deleted,
}

impl KeyStatus {
    /// Every status, from healthy to irrecoverable.
    pub const ALL: [KeyStatus; 5] = [
        KeyStatus::Active,
        KeyStatus::Disabled,
        KeyStatus::PendingDeletion,
        KeyStatus::Unavailable,
        KeyStatus::Deleted,
    ];

    /// Maps an AWS KMS `KeyState` string (as `DescribeKey` returns it) to a
    /// status. Unknown states map to `UNAVAILABLE`,
    /// so a new AWS state never reads as usable.
    pub fn from_aws_key_state(state: &str) -> KeyStatus {
        match state {
            "Enabled" => KeyStatus::Active,
            "Disabled" | "PendingImport" => KeyStatus::Disabled,
            "PendingDeletion" | "PendingReplicaDeletion" => KeyStatus::PendingDeletion,
            _ => KeyStatus::Unavailable,
        }
    }

    /// The wire name: `ACTIVE`, `DISABLED`, `PENDING_DELETION`,
    /// `UNAVAILABLE` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "ACTIVE",
            KeyStatus::Disabled => "DISABLED",
            KeyStatus::PendingDeletion => "PENDING_DELETION",
            KeyStatus::Unavailable => "UNAVAILABLE",
            KeyStatus::Deleted => "DELETED",
        }
    }

    /// True only for `ACTIVE`.
    pub fn is_active(self) -> bool {
        self == KeyStatus::Active
    }

    /// What the operator should do to get the key back to `ACTIVE`
    /// (empty for `ACTIVE`). Every text ends by saying that a fresh health
    /// check must show `ACTIVE` before preflight passes.
    pub fn remediation(self) -> &'static str {
        match self {
            KeyStatus::Active => "",
            KeyStatus::Disabled => {
                "Enable the key again in AWS KMS (EnableKey), then run `terraform refresh` or \
                 `keyshift status` and wait until the key status reads ACTIVE before retrying."
            }
            KeyStatus::PendingDeletion => {
                "Cancel the scheduled deletion in AWS KMS (CancelKeyDeletion); the key is then \
                 disabled, so enable it as well if needed. Run `terraform refresh` or \
                 `keyshift status` and wait for ACTIVE before retrying."
            }
            KeyStatus::Unavailable => {
                "Keyshift could not reach the key: check the AWS credentials, that the key's \
                 region is reachable and allowed, and the KMS endpoint. Once fixed, run \
                 `terraform refresh` or `keyshift status` and wait for ACTIVE before retrying."
            }
            KeyStatus::Deleted => {
                "The key no longer exists in AWS KMS. This cannot be undone: data wrapped under \
                 it can only be recovered with the key owner and support, and the container \
                 needs a new EKMS configuration with a new key. Do not proceed until then."
            }
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyStatus {
    type Err = String;

    /// Parses the wire name (`ACTIVE`, ...), case-sensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = KeyStatus::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown key status {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_states_map_per_spec_table() {
        let cases = [
            ("Enabled", KeyStatus::Active),
            ("Disabled", KeyStatus::Disabled),
            ("PendingImport", KeyStatus::Disabled),
            ("PendingDeletion", KeyStatus::PendingDeletion),
            ("PendingReplicaDeletion", KeyStatus::PendingDeletion),
            ("Unavailable", KeyStatus::Unavailable),
            ("Creating", KeyStatus::Unavailable),
            ("Updating", KeyStatus::Unavailable),
            ("SomethingNew", KeyStatus::Unavailable),
            ("", KeyStatus::Unavailable),
            ("enabled", KeyStatus::Unavailable),
        ];
        for (state, want) in cases {
            assert_eq!(
                KeyStatus::from_aws_key_state(state),
                want,
                "state {state:?}"
            );
        }
    }

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for s in KeyStatus::ALL {
            assert_eq!(s.as_str().parse::<KeyStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            let back: KeyStatus = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(back, s);
        }
        let err = "active".parse::<KeyStatus>().unwrap_err();
        assert!(err.contains("PENDING_DELETION"), "{err}");
    }

    #[test]
    fn remediation_only_for_non_active() {
        assert!(KeyStatus::Active.remediation().is_empty());
        assert!(KeyStatus::Disabled.remediation().contains("Enable the key"));
        assert!(
            KeyStatus::PendingDeletion
                .remediation()
                .contains("Cancel the scheduled deletion")
        );
        assert!(KeyStatus::Unavailable.remediation().contains("credentials"));
        assert!(
            KeyStatus::Deleted
                .remediation()
                .contains("cannot be undone")
        );
    }
}
