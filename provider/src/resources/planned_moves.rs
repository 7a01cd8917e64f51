//! What the current plan walk has promised about keys, for the plans of the
//! objects that depend on them.
//!
//! Terraform plans a key before a secret that references it, in the same
//! provider process, and applies them in the same order. When a key's plan
//! moves it to another container, the secret's plan may count on the key
//! being there by the time the secret moves; without that memory the
//! secret's plan could not tell "moved in the same apply" from "left
//! behind". Entries are only ever added by a plan that passed the key's own
//! migration rule.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::Container;

/// Key id → the container the planned change moves it to.
#[derive(Debug, Default)]
pub struct PlannedKeyMoves(Mutex<HashMap<String, Container>>);

impl PlannedKeyMoves {
    /// Records that the plan moves `key_id` to `target`.
    pub fn record(&self, key_id: &str, target: &Container) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(key_id.to_string(), target.clone());
    }

    /// Where the plan moves `key_id`, if it does.
    pub fn target_of(&self, key_id: &str) -> Option<Container> {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get(key_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_latest_target() {
        let moves = PlannedKeyMoves::default();
        assert_eq!(moves.target_of("key-1"), None);
        moves.record("key-1", &Container::Instance("kst-0123456789ab".into()));
        moves.record("key-1", &Container::Shared);
        assert_eq!(moves.target_of("key-1"), Some(Container::Shared));
    }
}
