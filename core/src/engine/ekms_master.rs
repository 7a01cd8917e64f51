//! A store's master key wrapped by an AWS KMS key (provider
//! `master_key_arn`, CLI `--master-key-arn`): no runner needs a key file,
//! and the wrapped key is kept in the store itself (see
//! [`crate::store::OpenOptions::master_key_wrapper`]).
//!
//! The blob has the self-describing format of externally wrapped container
//! root keys ([`super::ekms_wrapper`]): it names the AWS key that wrapped
//! it. A store opens only with that key: naming another ARN is an error
//! that says which key the store needs, and nothing is changed.

use std::sync::Arc;

use sm2::elliptic_curve::zeroize::Zeroizing;

use crate::engine::ekms_wrapper::{ExternalKeyService, split_external_blob, wrap_external};
use crate::store::crypto::{RootKeyWrapper, SecretKey32};
use crate::store::{StoreError, StoreResult, WrappingStrategy};

/// The [`RootKeyWrapper`] of a master key wrapped by the AWS KMS key `arn`.
pub struct AwsMasterKeyWrapper {
    keys: Arc<dyn ExternalKeyService>,
    arn: String,
}

impl AwsMasterKeyWrapper {
    /// Wraps and unwraps through `keys` with the key `arn`.
    pub fn new(keys: Arc<dyn ExternalKeyService>, arn: &str) -> AwsMasterKeyWrapper {
        AwsMasterKeyWrapper {
            keys,
            arn: arn.to_string(),
        }
    }

    /// The error for an AWS failure with the master key's AWS key.
    fn unusable(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Conflict(format!(
            "the store's master key is wrapped by AWS KMS key {}, which cannot be used right \
             now; nothing was changed: {e}",
            self.arn
        ))
    }
}

impl RootKeyWrapper for AwsMasterKeyWrapper {
    fn strategy(&self) -> WrappingStrategy {
        WrappingStrategy::External
    }

    fn wrap(&self, context: &str, root: &SecretKey32) -> StoreResult<Vec<u8>> {
        self.keys
            .check_usable(&self.arn)
            .map_err(|e| self.unusable(e))?;
        wrap_external(&*self.keys, &self.arn, context, root)
    }

    fn unwrap_root(&self, context: &str, wrapped: &[u8]) -> StoreResult<SecretKey32> {
        let (arn, ct) = split_external_blob(wrapped)?;
        if arn != self.arn {
            return Err(StoreError::Conflict(format!(
                "the store's master key is wrapped by AWS KMS key {arn}, not by {}: name the \
                 key the store was created with. Nothing was changed",
                self.arn
            )));
        }
        let plain = Zeroizing::new(
            self.keys
                .unwrap(arn, ct, context)
                .map_err(|e| self.unusable(e))?,
        );
        SecretKey32::from_slice(&plain)
    }
}
