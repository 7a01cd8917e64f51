//! The objects a key store holds, as plain data.
//!
//! Key material never appears in these types: it stays sealed inside the
//! store and is only handled by [`crate::engine`] code that needs it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a string-backed enum with `as_str`, `Display`, `FromStr` and
/// the list of accepted spellings (`ALL`), so schemas, validation messages
/// and the store agree on one spelling.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[doc = concat!("`", $s, "`")] #[serde(rename = $s)] $variant),+
        }

        impl $name {
            /// Every accepted spelling, in declaration order.
            pub const ALL: &'static [&'static str] = &[$($s),+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(format!(
                        "{other:?} is not one of {}",
                        Self::ALL.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }
    };
}

string_enum!(
    /// Dedicated instance type.
    InstanceType { Software = "software", Hardware = "hardware" }
);

string_enum!(
    /// Lifecycle status of a KMS instance.
    InstanceStatus { Active = "active", Migrating = "migrating", Deleting = "deleting" }
);

string_enum!(
    /// Key algorithm and size.
    KeySpec {
        Aes256 = "AES_256",
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        EcP256 = "EC_P256",
        EcP256k = "EC_P256K",
        EcSm2 = "EC_SM2",
    }
);

impl KeySpec {
    /// True for the symmetric spec (AES).
    pub fn is_symmetric(self) -> bool {
        self == KeySpec::Aes256
    }
}

string_enum!(
    /// What a key may be used for.
    KeyUsage { EncryptDecrypt = "ENCRYPT/DECRYPT", SignVerify = "SIGN/VERIFY" }
);

string_enum!(
    /// Where the key material is protected.
    ProtectionLevel { Software = "SOFTWARE", Hsm = "HSM" }
);

string_enum!(
    /// Who made the key material: the store (`KMS`) or the user (`EXTERNAL`, BYOK).
    KeyOrigin { Kms = "KMS", External = "EXTERNAL" }
);

string_enum!(
    /// Lifecycle state of a key.
    KeyState {
        Enabled = "Enabled",
        Disabled = "Disabled",
        PendingDeletion = "PendingDeletion",
        PendingImport = "PendingImport",
    }
);

string_enum!(
    /// How a container's root key is wrapped.
    WrappingStrategy { Internal = "internal", External = "external" }
);

/// Where a key or secret lives: the shared KMS or a dedicated instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Container {
    /// The default, shared KMS.
    Shared,
    /// A dedicated instance `kst-...`.
    Instance(String),
}

impl Container {
    /// The name `instance_id` attributes give the shared KMS explicitly
    /// (null means it too).
    pub const SHARED: &'static str = "shared";

    /// From an optional `instance_id` attribute: null and
    /// [`Container::SHARED`] name the shared KMS, anything else an instance.
    pub fn from_instance_id(id: Option<&str>) -> Self {
        match id {
            None | Some(Container::SHARED) => Container::Shared,
            Some(i) => Container::Instance(i.to_string()),
        }
    }

    /// The `instance_id` of this container (`None` for shared).
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Container::Shared => None,
            Container::Instance(i) => Some(i),
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Container::Shared => f.write_str("shared"),
            Container::Instance(i) => f.write_str(i),
        }
    }
}

/// A dedicated KMS instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `kst-` + 12 lowercase hex digits.
    pub id: String,
    /// Display name (unique in the store).
    pub name: String,
    /// Software or hardware.
    pub instance_type: InstanceType,
    /// Region, e.g. `eu-central-1`.
    pub region: String,
    /// Maximum number of keys.
    pub key_quota: i64,
    /// Maximum number of secrets.
    pub secret_quota: i64,
    /// Lifecycle status.
    pub status: InstanceStatus,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// What it takes to create an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    /// Display name (unique in the store).
    pub name: String,
    /// Software or hardware.
    pub instance_type: InstanceType,
    /// Region.
    pub region: String,
    /// Maximum number of keys (> 0).
    pub key_quota: i64,
    /// Maximum number of secrets (> 0).
    pub secret_quota: i64,
}

/// Updatable fields of an instance (`None` = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceUpdate {
    /// New key quota (not below the number of keys held).
    pub key_quota: Option<i64>,
    /// New secret quota (not below the number of secrets held).
    pub secret_quota: Option<i64>,
}

/// A customer master key (metadata only; material stays sealed in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// `key-<uuid>`.
    pub id: String,
    /// Where it lives.
    pub container: Container,
    /// Algorithm.
    pub spec: KeySpec,
    /// Usage.
    pub usage: KeyUsage,
    /// Protection level.
    pub protection_level: ProtectionLevel,
    /// Origin of the material.
    pub origin: KeyOrigin,
    /// Whether the key may hold several versions (rotation).
    pub multi_version: bool,
    /// Free text.
    pub description: String,
    /// User tags.
    pub tags: BTreeMap<String, String>,
    /// Lifecycle state.
    pub state: KeyState,
    /// Whether deletion is refused.
    pub deletion_protection: bool,
    /// Days between a deletion request and erasure (7–30).
    pub deletion_window_in_days: i64,
    /// Automatic rotation interval as configured (e.g. `"30d"`), if any.
    pub rotation_interval: Option<String>,
    /// Id of the newest version (empty while `PendingImport`).
    pub current_version: String,
    /// Number of versions.
    pub version_count: i64,
    /// RFC 3339 creation time.
    pub creation_date: String,
    /// RFC 3339 time at which a `PendingDeletion` key is erased.
    pub deletion_date: Option<String>,
    /// Aliases pointing at this key, sorted.
    pub aliases: Vec<String>,
    /// RFC 3339 creation time of the newest version when the key has more
    /// than one (the last rotation); `None` before the first rotation.
    /// Derived by the store from the versions, like `version_count`.
    #[serde(default)]
    pub last_rotation_date: Option<String>,
}

/// What it takes to create a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Where to create it.
    pub container: Container,
    /// Algorithm.
    pub spec: KeySpec,
    /// Usage (must suit the spec: AES is ENCRYPT/DECRYPT only).
    pub usage: KeyUsage,
    /// Protection level.
    pub protection_level: ProtectionLevel,
    /// `KMS` generates material now; `EXTERNAL` starts `PendingImport`.
    pub origin: KeyOrigin,
    /// Allow several versions.
    pub multi_version: bool,
    /// Free text.
    pub description: String,
    /// User tags.
    pub tags: BTreeMap<String, String>,
    /// Start `Enabled` (true) or `Disabled` (false); ignored while `PendingImport`.
    pub enabled: bool,
    /// Refuse deletion.
    pub deletion_protection: bool,
    /// 7–30.
    pub deletion_window_in_days: i64,
    /// Automatic rotation interval, if any.
    pub rotation_interval: Option<String>,
}

impl NewKey {
    /// Days between scheduling a key's deletion and erasing its material,
    /// unless configured otherwise.
    pub const DEFAULT_DELETION_WINDOW_DAYS: i64 = 30;

    /// A key with the defaults of a `keyshift_key` block that sets only
    /// `spec` and `usage`: `SOFTWARE`, origin `KMS`, single version,
    /// enabled, no deletion protection, a 30-day deletion window, no
    /// description, tags or rotation.
    pub fn new(container: Container, spec: KeySpec, usage: KeyUsage) -> Self {
        NewKey {
            container,
            spec,
            usage,
            protection_level: ProtectionLevel::Software,
            origin: KeyOrigin::Kms,
            multi_version: false,
            description: String::new(),
            tags: BTreeMap::new(),
            enabled: true,
            deletion_protection: false,
            deletion_window_in_days: Self::DEFAULT_DELETION_WINDOW_DAYS,
            rotation_interval: None,
        }
    }
}

/// Updatable fields of a key (`None` = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUpdate {
    /// New description.
    pub description: Option<String>,
    /// New tags (replace all).
    pub tags: Option<BTreeMap<String, String>>,
    /// Enable or disable (not allowed while `PendingDeletion`/`PendingImport`).
    pub enabled: Option<bool>,
    /// New deletion protection.
    pub deletion_protection: Option<bool>,
    /// New deletion window (7–30).
    pub deletion_window_in_days: Option<i64>,
    /// New rotation interval (`Some(None)` turns rotation off).
    pub rotation_interval: Option<Option<String>>,
}

/// An alias: a name pointing at one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// `alias/...`.
    pub name: String,
    /// The key it points at.
    pub key_id: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// One audit log entry (never holds material or secret values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number.
    pub seq: i64,
    /// RFC 3339 time.
    pub at: String,
    /// Who did it (e.g. `terraform`, `keyshift-cli`).
    pub actor: String,
    /// What was done (e.g. `key.create`).
    pub action: String,
    /// The object's id.
    pub object: String,
    /// `ok` or an error summary.
    pub outcome: String,
    /// Extra context (e.g. a change request number), if any.
    pub detail: String,
}

// -- ekms

string_enum!(
    /// Key management architecture of an EKMS configuration.
    EkmsArchitecture { Current = "current", Legacy = "legacy" }
);

/// A container's EKMS / BYOK configuration. Whether the root key
/// is currently wrapped by the AWS key is the container record's
/// `wrapping`; this record holds the configuration and the last health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EkmsConfig {
    /// The container it configures.
    pub container: Container,
    /// Full ARN of the AWS KMS key.
    pub key_arn: String,
    /// Key management architecture.
    pub architecture: EkmsArchitecture,
    /// Escape hatch: when true, the configuration may be removed and the
    /// root key re-wrapped internally.
    pub allow_revert_to_internal: bool,
    /// Keyshift key status of the last health check (`ACTIVE`, ...).
    pub last_status: Option<String>,
    /// AWS `KeyState` of the last health check, when AWS answered.
    pub last_aws_state: Option<String>,
    /// RFC 3339 time of the last health check.
    pub last_checked_at: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
}

// -- secrets

string_enum!(
    /// What a secret holds.
    SecretType { Generic = "Generic", Ram = "RAM", Rds = "RDS", Ecs = "ECS" }
);

/// Stage label of a secret's current version.
pub const STAGE_CURRENT: &str = "ACSCurrent";
/// Stage label of the version that was current before it.
pub const STAGE_PREVIOUS: &str = "ACSPrevious";

/// Metadata of one secret version (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVersionInfo {
    /// The version id.
    pub version_id: String,
    /// Stage labels (`ACSCurrent`, `ACSPrevious`), possibly none.
    pub stages: Vec<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// A secret (metadata only; values stay sealed in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// `sec-<uuid>`.
    pub id: String,
    /// Name, unique per container.
    pub name: String,
    /// Where it lives.
    pub container: Container,
    /// What it holds.
    pub secret_type: SecretType,
    /// The `AES_256` key (same container) whose material seals the values.
    pub encryption_key_id: String,
    /// Free text.
    pub description: String,
    /// User tags.
    pub tags: BTreeMap<String, String>,
    /// Id of the `ACSCurrent` version.
    pub current_version_id: String,
    /// All versions, oldest first (filled in by the store).
    pub versions: Vec<SecretVersionInfo>,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// What it takes to create a secret (the value is passed separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    /// Name, unique per container.
    pub name: String,
    /// Where to create it.
    pub container: Container,
    /// What it holds.
    pub secret_type: SecretType,
    /// An enabled `AES_256` key in the same container.
    pub encryption_key_id: String,
    /// Free text.
    pub description: String,
    /// User tags.
    pub tags: BTreeMap<String, String>,
}

/// Updatable fields of a secret (`None` = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretUpdate {
    /// New description.
    pub description: Option<String>,
    /// New tags (replace all).
    pub tags: Option<BTreeMap<String, String>>,
    /// Another key of the same container: every version is re-sealed under it.
    pub encryption_key_id: Option<String>,
    /// New type (metadata only: versions and their values are unchanged).
    pub secret_type: Option<SecretType>,
}

/// One stored secret version: its value sealed under a key version's
/// material (never plaintext).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecretVersion {
    /// The secret this version belongs to.
    pub secret_id: String,
    /// The version id.
    pub version_id: String,
    /// 1 for the first version, increasing.
    pub seq: i64,
    /// Stage labels.
    pub stages: Vec<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// The key whose material sealed the value.
    pub key_id: String,
    /// The version of that key whose material sealed the value.
    pub key_version_id: String,
    /// AES-256-GCM blob (sealed format v1), AAD `<secret id>/<version id>`.
    pub sealed: Vec<u8>,
}

impl fmt::Debug for SealedSecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecretVersion")
            .field("secret_id", &self.secret_id)
            .field("version_id", &self.version_id)
            .field("seq", &self.seq)
            .field("stages", &self.stages)
            .field("key_id", &self.key_id)
            .field("key_version_id", &self.key_version_id)
            .field("sealed", &format_args!("<{} bytes>", self.sealed.len()))
            .finish_non_exhaustive()
    }
}
