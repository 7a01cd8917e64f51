//! How the CLI shows a key: [`KeyView`], the stable JSON object of
//! `keyshift key list|describe --format json` (never key material).

use keyshift_core::store::{Key, KeyState};
use serde::Serialize;
use std::collections::BTreeMap;

/// One key as `keyshift key list|describe --format json` prints it. Field
/// names are stable; new fields may be added, none removed or renamed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    /// `key-<uuid>`.
    pub id: String,
    /// The instance holding it; null for the shared KMS.
    pub instance_id: Option<String>,
    /// `AES_256`, `RSA_2048`, ...
    pub spec: String,
    /// `ENCRYPT/DECRYPT` or `SIGN/VERIFY`.
    pub usage: String,
    /// `SOFTWARE` or `HSM`.
    pub protection_level: String,
    /// `KMS` or `EXTERNAL`.
    pub origin: String,
    /// `Enabled`, `Disabled`, `PendingDeletion` or `PendingImport`.
    pub state: String,
    /// True only for `Enabled` keys.
    pub enabled: bool,
    /// Erasure time of a key pending deletion (RFC 3339), else null.
    pub deletion_date: Option<String>,
    /// Days between a deletion request and erasure.
    pub deletion_window_in_days: i64,
    /// Whether deletion is refused.
    pub deletion_protection: bool,
    /// Whether the key may hold several versions.
    pub multi_version: bool,
    /// Id of the newest version (empty while `PendingImport`).
    pub current_version: String,
    /// Number of versions.
    pub version_count: i64,
    /// Configured rotation interval, if any.
    pub rotation_interval: Option<String>,
    /// Creation time (RFC 3339).
    pub creation_date: String,
    /// Free text.
    pub description: String,
    /// User tags.
    pub tags: BTreeMap<String, String>,
    /// Aliases pointing at the key, sorted.
    pub aliases: Vec<String>,
}

impl From<&Key> for KeyView {
    fn from(k: &Key) -> Self {
        KeyView {
            id: k.id.clone(),
            instance_id: k.container.instance_id().map(str::to_string),
            spec: k.spec.to_string(),
            usage: k.usage.to_string(),
            protection_level: k.protection_level.to_string(),
            origin: k.origin.to_string(),
            state: k.state.to_string(),
            enabled: k.state == KeyState::Enabled,
            deletion_date: k.deletion_date.clone(),
            deletion_window_in_days: k.deletion_window_in_days,
            deletion_protection: k.deletion_protection,
            multi_version: k.multi_version,
            current_version: k.current_version.clone(),
            version_count: k.version_count,
            rotation_interval: k.rotation_interval.clone(),
            creation_date: k.creation_date.clone(),
            description: k.description.clone(),
            tags: k.tags.clone(),
            aliases: k.aliases.clone(),
        }
    }
}

impl KeyView {
    /// `shared` or the instance id.
    pub fn container(&self) -> &str {
        self.instance_id.as_deref().unwrap_or("shared")
    }

    /// `field: value` lines for `describe --format table`.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
        let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        vec![
            ("id", self.id.clone()),
            ("container", self.container().to_string()),
            ("spec", self.spec.clone()),
            ("usage", self.usage.clone()),
            ("protection_level", self.protection_level.clone()),
            ("origin", self.origin.clone()),
            ("state", self.state.clone()),
            ("deletion_date", or_dash(&self.deletion_date)),
            (
                "deletion_window_in_days",
                self.deletion_window_in_days.to_string(),
            ),
            ("deletion_protection", self.deletion_protection.to_string()),
            ("multi_version", self.multi_version.to_string()),
            ("current_version", self.current_version.clone()),
            ("version_count", self.version_count.to_string()),
            ("rotation_interval", or_dash(&self.rotation_interval)),
            ("creation_date", self.creation_date.clone()),
            ("description", self.description.clone()),
            ("tags", tags.join(", ")),
            ("aliases", self.aliases.join(", ")),
        ]
    }
}
