//! The key–secret dependency rule: a key never leaves a container while
//! secrets of that container still depend on it.
//!
//! A secret's versions are sealed under the material of its encryption key,
//! and that key must live in the secret's container. A key that moved alone
//! would strand them: still readable, but every later change to them fails.
//! So a key's move either carries the secrets of its container that it
//! seals (its *dependents*) in the same transaction, or is refused, naming
//! them and the fix. [`check`] is that rule; every in-place key move
//! (`Kms::move_key`, `Kms::migrate_keys_locked`), the selection of a
//! `keyshift migrate` run (`migrate::select`) and the provider's plan of a
//! key's `instance_id` change (`Kms::check_key_move`) call it.

use std::collections::HashMap;
use std::fmt;

use crate::store::{Container, Key, Secret, StoreError, StoreReader, StoreResult};

/// What a key's move does with the secrets that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependents {
    /// They move with the key, in the same transaction.
    Carry,
    /// The key may not move while they are there.
    Refuse,
}

/// Most secrets a refusal names one by one (the rest are counted).
const NAMED: usize = 10;

/// The refusal of the rule: keys that may not leave `source` without the
/// secrets they seal there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysHoldSecrets {
    /// The container the keys would leave.
    pub source: Container,
    /// The keys (id, with the first alias when there is one).
    pub keys: Vec<String>,
    /// The dependent secrets, as `name (id)`.
    pub secrets: Vec<String>,
}

impl fmt::Display for KeysHoldSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.secrets.len();
        let named = first_few(&self.secrets);
        let (keys, they) = match self.keys.as_slice() {
            [one] => (format!("key {one}"), "it encrypts"),
            many => (format!("keys {}", first_few(many)), "they encrypt"),
        };
        write!(
            f,
            "{keys} cannot leave {src} without the {n} secret(s) {they} there: {named}. \
             A key never leaves a container while secrets of that container depend on it: \
             move them with it (`keyshift migrate --include-secrets`; in Terraform a key's \
             instance_id change carries them), or switch their encryption_key_id to a key \
             that stays in {src} first",
            src = self.source,
        )
    }
}

impl std::error::Error for KeysHoldSecrets {}

/// The first [`NAMED`] items, comma-separated, and how many more there are.
fn first_few(items: &[String]) -> String {
    let mut s = items[..items.len().min(NAMED)].join(", ");
    if items.len() > NAMED {
        s.push_str(&format!(" and {} more", items.len() - NAMED));
    }
    s
}

impl From<KeysHoldSecrets> for StoreError {
    fn from(e: KeysHoldSecrets) -> Self {
        StoreError::Conflict(e.to_string())
    }
}

/// The rule for keys leaving `source`, each with the secrets of `source`
/// it seals: `Ok` when none has any, or when they move with it (`Carry`).
pub fn check(
    source: &Container,
    held: &[(&Key, &[Secret])],
    how: Dependents,
) -> Result<(), KeysHoldSecrets> {
    let holding: Vec<&(&Key, &[Secret])> = held.iter().filter(|(_, s)| !s.is_empty()).collect();
    if how == Dependents::Carry || holding.is_empty() {
        return Ok(());
    }
    Err(KeysHoldSecrets {
        source: source.clone(),
        keys: holding.iter().map(|(k, _)| key_label(k)).collect(),
        secrets: holding
            .iter()
            .flat_map(|(_, s)| s.iter().map(|s| format!("{} ({})", s.name, s.id)))
            .collect(),
    })
}

/// `id (alias)` or `id`.
fn key_label(k: &Key) -> String {
    match k.aliases.first() {
        Some(a) => format!("{} ({a})", k.id),
        None => k.id.clone(),
    }
}

/// The secrets of `container`, by the id of the key that seals them; empty
/// without a read of the secrets when the container holds none.
pub fn by_key<R: StoreReader + ?Sized>(
    r: &R,
    container: &Container,
) -> StoreResult<HashMap<String, Vec<Secret>>> {
    let mut index: HashMap<String, Vec<Secret>> = HashMap::new();
    if r.count_secrets(container)? == 0 {
        return Ok(index);
    }
    for s in r.secrets(Some(container))? {
        index
            .entry(s.encryption_key_id.clone())
            .or_default()
            .push(s);
    }
    Ok(index)
}

/// The dependents of `key`: the secrets of its own container it seals
/// (one query).
pub fn of<R: StoreReader + ?Sized>(r: &R, key: &Key) -> StoreResult<Vec<Secret>> {
    r.secrets_sealed_by(&key.container, &key.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::sample_key;

    fn secret(name: &str) -> Secret {
        Secret {
            id: format!("sec-{name}"),
            name: name.into(),
            container: Container::Shared,
            secret_type: crate::store::SecretType::Generic,
            encryption_key_id: "k".into(),
            description: String::new(),
            tags: Default::default(),
            current_version_id: "v".into(),
            versions: vec![],
            created_at: String::new(),
        }
    }

    #[test]
    fn refuses_naming_keys_secrets_and_fix_unless_carried() {
        let mut key = sample_key(Container::Shared);
        key.aliases = vec!["alias/payments/app".into()];
        let deps = vec![secret("payments/db")];
        let none: Vec<Secret> = vec![];
        for (name, held, how, refused) in [
            ("no dependents", &none, Dependents::Refuse, false),
            ("carried", &deps, Dependents::Carry, false),
            ("refused", &deps, Dependents::Refuse, true),
        ] {
            let r = check(&Container::Shared, &[(&key, held)], how);
            assert_eq!(r.is_err(), refused, "{name}");
            if let Err(e) = r {
                let m = e.to_string();
                for want in [
                    "alias/payments/app",
                    "payments/db (sec-payments/db)",
                    "cannot leave shared",
                    "--include-secrets",
                    "switch their encryption_key_id",
                ] {
                    assert!(m.contains(want), "{name}: {want} in {m}");
                }
            }
        }
    }

    #[test]
    fn long_lists_are_counted() {
        let key = sample_key(Container::Shared);
        let deps: Vec<Secret> = (0..13).map(|i| secret(&format!("s{i}"))).collect();
        let e = check(&Container::Shared, &[(&key, &deps)], Dependents::Refuse).unwrap_err();
        assert!(e.to_string().contains("s9 (sec-s9) and 3 more"), "{e}");
        assert!(!e.to_string().contains("s10"), "{e}");
    }
}
