//! The `external` (EKMS / BYOK) wrapping strategy: container root keys
//! wrapped by an AWS KMS key.
//!
//! # Design
//!
//! - [`ExternalKeyService`] is what the engine needs from AWS KMS (describe,
//!   health, wrap, unwrap, policy check). [`AwsKms`] implements it; unit
//!   tests use an in-memory fake. The engine never imports the AWS SDK.
//! - [`LazyAwsKms`] builds the [`AwsKms`] client on first use, so the
//!   provider's `configure` makes no network call and needs no AWS
//!   configuration unless a container actually uses EKMS.
//! - [`ExternalRootWrapper`] is the [`RootKeyWrapper`] for `external`
//!   containers. Its wrapped blob is **self-describing**: it carries the ARN
//!   of the AWS key that wrapped it, so unwrapping needs nothing but the
//!   blob and the container id (the `RootKeyWrapper` contract), and the
//!   blob can never be unwrapped with the "wrong" ARN after a key change:
//!
//!   `"KSX1" || u16 BE ARN length || ARN (UTF-8) || AWS KMS ciphertext`
//!
//!   The AWS ciphertext is bound to the container by the encryption context
//!   `{"keyshift:container": <container id>}`.
//! - [`Kms::with_aws`] / [`Kms::with_external_keys`] install the wrapper;
//!   from then on every material operation on an external container
//!   (create key, encrypt/decrypt, move, rotate, import) unwraps its root
//!   key through AWS and fails with an error naming the key and its status
//!   when the key is not usable, changing nothing.
//!
//! Root keys and probes never appear in errors or logs.

use std::sync::{Arc, OnceLock};

use sm2::elliptic_curve::zeroize::Zeroizing;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::aws::key_status::KeyStatus;
use crate::aws::{AwsError, AwsKeyInfo, AwsKms, AwsSettings, KeyHealth};
use crate::engine::Kms;
use crate::store::crypto::{RootKeyWrapper, SecretKey32};
use crate::store::{StoreError, StoreResult, WrappingStrategy};

/// Magic prefix of an externally wrapped root key blob (format 1).
pub const EXTERNAL_BLOB_MAGIC: &[u8; 4] = b"KSX1";

/// What the engine needs from the external key service (AWS KMS).
pub trait ExternalKeyService: Send + Sync {
    /// `DescribeKey`, requiring a symmetric `ENCRYPT_DECRYPT`, `Enabled` key.
    fn check_usable(&self, arn: &str) -> Result<AwsKeyInfo, AwsError>;
    /// Health check (never fails: problems map to a status).
    fn health(&self, arn: &str) -> KeyHealth;
    /// Encrypts `plaintext` under `arn`, bound to `container`.
    fn wrap(&self, arn: &str, plaintext: &[u8], container: &str) -> Result<Vec<u8>, AwsError>;
    /// Decrypts a blob made by [`ExternalKeyService::wrap`] for `container`.
    fn unwrap(&self, arn: &str, blob: &[u8], container: &str) -> Result<Vec<u8>, AwsError>;
    /// Checks that the key policy grants `principal` what Keyshift needs.
    fn check_policy(&self, arn: &str, principal: &str) -> Result<(), AwsError>;
}

impl ExternalKeyService for AwsKms {
    fn check_usable(&self, arn: &str) -> Result<AwsKeyInfo, AwsError> {
        AwsKms::check_usable(self, arn)
    }
    fn health(&self, arn: &str) -> KeyHealth {
        AwsKms::health(self, arn)
    }
    fn wrap(&self, arn: &str, plaintext: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        AwsKms::wrap(self, arn, plaintext, container)
    }
    fn unwrap(&self, arn: &str, blob: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        AwsKms::unwrap(self, arn, blob, container)
    }
    fn check_policy(&self, arn: &str, principal: &str) -> Result<(), AwsError> {
        AwsKms::check_policy(self, arn, principal)
    }
}

/// An [`AwsKms`] connected on first use (no I/O before that).
pub struct LazyAwsKms {
    settings: AwsSettings,
    client: OnceLock<Result<Arc<AwsKms>, AwsError>>,
}

impl std::fmt::Debug for LazyAwsKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyAwsKms")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl LazyAwsKms {
    /// A client for `settings`, connected when first needed.
    pub fn new(settings: AwsSettings) -> LazyAwsKms {
        LazyAwsKms {
            settings,
            client: OnceLock::new(),
        }
    }

    /// The connected client.
    pub fn client(&self) -> Result<&AwsKms, AwsError> {
        match self
            .client
            .get_or_init(|| AwsKms::connect(&self.settings).map(Arc::new))
        {
            Ok(c) => Ok(c),
            Err(e) => Err(e.clone()),
        }
    }
}

impl ExternalKeyService for LazyAwsKms {
    fn check_usable(&self, arn: &str) -> Result<AwsKeyInfo, AwsError> {
        self.client()?.check_usable(arn)
    }
    fn health(&self, arn: &str) -> KeyHealth {
        match self.client() {
            Ok(c) => c.health(arn),
            Err(e) => KeyHealth {
                status: KeyStatus::Unavailable,
                aws_key_state: None,
                checked_at: OffsetDateTime::now_utc()
                    .format(&Rfc3339)
                    .unwrap_or_default(),
                detail: e.to_string(),
            },
        }
    }
    fn wrap(&self, arn: &str, plaintext: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        self.client()?.wrap(arn, plaintext, container)
    }
    fn unwrap(&self, arn: &str, blob: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        self.client()?.unwrap(arn, blob, container)
    }
    fn check_policy(&self, arn: &str, principal: &str) -> Result<(), AwsError> {
        self.client()?.check_policy(arn, principal)
    }
}

/// The store error for an AWS failure while using `container`'s root key.
/// Names the key and, for an unusable key, its status and the remediation.
pub fn aws_store_error(container: &str, e: &AwsError) -> StoreError {
    match e {
        AwsError::KeyNotUsable { key, status, state } => StoreError::Conflict(format!(
            "the root key of container {container} is wrapped by AWS KMS key {key}, which is \
             not usable: key status {status} (AWS state {state}); nothing was changed. {}",
            status.remediation()
        )),
        other => StoreError::Conflict(format!(
            "the root key of container {container} is wrapped by an AWS KMS key that cannot be \
             used right now; nothing was changed: {other}"
        )),
    }
}

/// Wraps `root` under the AWS key `arn` for `container` (blob format above).
pub fn wrap_external(
    keys: &dyn ExternalKeyService,
    arn: &str,
    container: &str,
    root: &SecretKey32,
) -> StoreResult<Vec<u8>> {
    let len = u16::try_from(arn.len())
        .map_err(|_| StoreError::Crypto("AWS KMS key ARN is too long".into()))?;
    let ct = keys
        .wrap(arn, root.bytes(), container)
        .map_err(|e| aws_store_error(container, &e))?;
    let mut out = Vec::with_capacity(4 + 2 + arn.len() + ct.len());
    out.extend_from_slice(EXTERNAL_BLOB_MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(arn.as_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

/// The ARN and AWS ciphertext of an externally wrapped blob.
pub fn split_external_blob(blob: &[u8]) -> StoreResult<(&str, &[u8])> {
    let corrupt = || StoreError::Crypto("externally wrapped root key blob is malformed".into());
    let rest = blob
        .strip_prefix(EXTERNAL_BLOB_MAGIC.as_slice())
        .ok_or_else(corrupt)?;
    let (len, rest) = rest.split_at_checked(2).ok_or_else(corrupt)?;
    let len = usize::from(u16::from_be_bytes([
        *len.first().ok_or_else(corrupt)?,
        *len.get(1).ok_or_else(corrupt)?,
    ]));
    let (arn, ct) = rest.split_at_checked(len).ok_or_else(corrupt)?;
    let arn = std::str::from_utf8(arn).map_err(|_| corrupt())?;
    if ct.is_empty() {
        return Err(corrupt());
    }
    Ok((arn, ct))
}

/// Unwraps a blob made by [`wrap_external`] for `container`.
pub fn unwrap_external(
    keys: &dyn ExternalKeyService,
    container: &str,
    blob: &[u8],
) -> StoreResult<SecretKey32> {
    let (arn, ct) = split_external_blob(blob)?;
    let plain = Zeroizing::new(
        keys.unwrap(arn, ct, container)
            .map_err(|e| aws_store_error(container, &e))?,
    );
    SecretKey32::from_slice(&plain)
}

/// The [`RootKeyWrapper`] of the `external` strategy (see the module docs).
///
/// [`RootKeyWrapper::wrap`] is not available (it has no key ARN): external
/// wrapping is only ever started by the EKMS operations of [`Kms`], which
/// call [`wrap_external`] with the configured key.
pub struct ExternalRootWrapper {
    keys: Arc<dyn ExternalKeyService>,
}

impl ExternalRootWrapper {
    /// A wrapper unwrapping through `keys`.
    pub fn new(keys: Arc<dyn ExternalKeyService>) -> ExternalRootWrapper {
        ExternalRootWrapper { keys }
    }
}

impl RootKeyWrapper for ExternalRootWrapper {
    fn strategy(&self) -> WrappingStrategy {
        WrappingStrategy::External
    }

    fn wrap(&self, container_id: &str, _root: &SecretKey32) -> StoreResult<Vec<u8>> {
        Err(StoreError::Conflict(format!(
            "container {container_id}: external wrapping needs an AWS KMS key; configure it with \
             keyshift_ekms_config"
        )))
    }

    fn unwrap_root(&self, container_id: &str, wrapped: &[u8]) -> StoreResult<SecretKey32> {
        unwrap_external(&*self.keys, container_id, wrapped)
    }
}

impl Kms {
    /// Installs `keys` as the service unwrapping `external` containers.
    pub fn with_external_keys(self, keys: Arc<dyn ExternalKeyService>) -> Kms {
        self.with_external_wrapper(Arc::new(ExternalRootWrapper::new(keys)))
    }

    /// Installs a lazily connected AWS KMS client for `external`
    /// containers (no network access until one is used).
    pub fn with_aws(self, settings: AwsSettings) -> Kms {
        self.with_external_keys(Arc::new(LazyAwsKms::new(settings)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_format_round_trip_and_malformed() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/abc";
        let mut blob = EXTERNAL_BLOB_MAGIC.to_vec();
        blob.extend_from_slice(&u16::try_from(arn.len()).unwrap().to_be_bytes());
        blob.extend_from_slice(arn.as_bytes());
        blob.extend_from_slice(b"ct");
        assert_eq!(split_external_blob(&blob).unwrap(), (arn, b"ct".as_slice()));
        for bad in [
            &b""[..],
            b"KSX1",
            b"KSX1\x00",
            b"KSX1\x00\x09abc",
            &blob[..blob.len() - 2],
            b"XXXX\x00\x00x",
        ] {
            assert!(
                matches!(split_external_blob(bad), Err(StoreError::Crypto(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lazy_client_does_no_io_until_used() {
        let lazy = LazyAwsKms::new(AwsSettings::default());
        assert!(lazy.client.get().is_none());
        assert!(format!("{lazy:?}").contains("LazyAwsKms"));
    }

    #[test]
    fn unusable_key_error_names_key_and_status() {
        let e = AwsError::KeyNotUsable {
            key: "arn:k".into(),
            status: KeyStatus::Disabled,
            state: "Disabled".into(),
        };
        let msg = aws_store_error("shared", &e).to_string();
        assert!(
            msg.contains("arn:k") && msg.contains("DISABLED") && msg.contains("shared"),
            "{msg}"
        );
    }
}
