//! The record a store move leaves behind in the store an object left: which
//! object, where it went, when, and which run moved it. A tombstone holds no
//! key material and no secret value; it outlives the object it names, and a
//! live object with the same id may sit beside it (an object brought back).

use std::fmt;
use std::str::FromStr;

/// What kind of object a tombstone stands for, and so what its `id` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TombstoneKind {
    /// A key; `id` is the key id.
    Key,
    /// An alias; `id` is its name (`alias/…`).
    Alias,
    /// A secret; `id` is the secret id (`sec-…`).
    Secret,
    /// A secret looked up by name; `id` is `<container>/<name>`.
    SecretName,
    /// A KMS instance; `id` is the instance id.
    Instance,
    /// The EKMS configuration of a container; `id` is the container.
    EkmsConfig,
}

impl TombstoneKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [TombstoneKind] = &[
        TombstoneKind::Key,
        TombstoneKind::Alias,
        TombstoneKind::Secret,
        TombstoneKind::SecretName,
        TombstoneKind::Instance,
        TombstoneKind::EkmsConfig,
    ];

    /// The spelling stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TombstoneKind::Key => "key",
            TombstoneKind::Alias => "alias",
            TombstoneKind::Secret => "secret",
            TombstoneKind::SecretName => "secret_name",
            TombstoneKind::Instance => "instance",
            TombstoneKind::EkmsConfig => "ekms_config",
        }
    }

    /// What messages call an object of this kind (the `kind` of the
    /// `NotFound` error a lookup of it returns).
    pub fn noun(self) -> &'static str {
        match self {
            TombstoneKind::Key => "key",
            TombstoneKind::Alias => "alias",
            TombstoneKind::Secret | TombstoneKind::SecretName => "secret",
            TombstoneKind::Instance => "instance",
            TombstoneKind::EkmsConfig => "EKMS configuration of container",
        }
    }
}

impl fmt::Display for TombstoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TombstoneKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TombstoneKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a tombstone kind"))
    }
}

/// One object that a store move took out of this store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// What the object was.
    pub kind: TombstoneKind,
    /// Its id (see [`TombstoneKind`] for what the id of each kind is).
    pub id: String,
    /// The store it went to, as a user names it (a directory or a URL,
    /// never with its password).
    pub moved_to: String,
    /// RFC 3339 time of the move.
    pub moved_at: String,
    /// The migration run that moved it (`mig-…`).
    pub run_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_spelling() {
        for k in TombstoneKind::ALL {
            assert_eq!(k.as_str().parse::<TombstoneKind>(), Ok(*k));
        }
        assert!("keys".parse::<TombstoneKind>().is_err());
    }
}
