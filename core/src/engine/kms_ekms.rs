//! EKMS / BYOK configuration of a container and the preflight
//! classification of a container.
//!
//! A configuration binds a container to an AWS KMS key. With wrapping
//! `external` (the normal case) the container's root key is wrapped by that
//! key; with wrapping `internal` the key is registered (validated, health
//! checked, visible to preflight) but the root key stays wrapped by the
//! store's master key until the wrapping is switched to `external`.
//!
//! Every operation validates first and changes the store in one
//! transaction at the end, so a failure changes nothing. The AWS service is
//! passed in explicitly ([`ExternalKeyService`]), so the same calls serve
//! the provider, the CLI and tests.

use sm2::elliptic_curve::zeroize::Zeroizing;

use super::ekms_wrapper::{ExternalKeyService, unwrap_external, wrap_external};
use super::kms::{container_record, now, rfc3339, unlocked_container};
use crate::aws::key_status::KeyStatus;
use crate::aws::{AwsError, KeyHealth, parse_kms_key_arn};
use crate::engine::Kms;
use crate::engine::preflight::{Architecture, EkmsSide, Side, Wrapping};
use crate::store::crypto::{SecretKey32, random_fill};
use crate::store::{
    Container, ContainerRecord, EkmsArchitecture, EkmsConfig, StoreError, StoreReader, StoreResult,
    TombstoneKind, WrappingStrategy, read_with, write_with,
};

/// An EKMS configuration with the container's current wrapping strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkmsInfo {
    /// The stored configuration.
    pub config: EkmsConfig,
    /// How the container's root key is wrapped now.
    pub wrapping: WrappingStrategy,
}

/// What [`Kms::activate_ekms`] sets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkmsRequest {
    /// Full ARN of the AWS KMS key.
    pub key_arn: String,
    /// Key management architecture.
    pub architecture: EkmsArchitecture,
    /// `external` wraps the root key now; `internal` only registers the key.
    pub wrapping: WrappingStrategy,
    /// The escape hatch allowing a later revert to internal wrapping.
    pub allow_revert_to_internal: bool,
}

const ARN_FIELD: &str = "aws_kms_key_arn";

fn invalid_arn(message: String) -> StoreError {
    StoreError::Invalid {
        field: ARN_FIELD,
        message,
    }
}

/// An AWS failure during validation: an answer about the key points at
/// `aws_kms_key_arn`; an unreachable endpoint is reported as is.
fn validation_error(step: &str, e: &AwsError) -> StoreError {
    match e {
        AwsError::Unreachable { .. } => StoreError::Conflict(format!("{step} failed: {e}")),
        _ => invalid_arn(format!("{step} failed: {e}")),
    }
}

fn no_config(c: &Container) -> StoreError {
    StoreError::NotFound {
        kind: "EKMS configuration of container",
        id: c.to_string(),
    }
}

fn load_info<R: StoreReader + ?Sized>(r: &R, c: &Container) -> StoreResult<Option<EkmsInfo>> {
    let Some(config) = r.ekms_config(c)? else {
        return Ok(None);
    };
    let wrapping = container_record(r, c)?.wrapping;
    Ok(Some(EkmsInfo { config, wrapping }))
}

fn record_health(cfg: &mut EkmsConfig, h: &KeyHealth) {
    cfg.last_status = Some(h.status.as_str().to_string());
    cfg.last_aws_state = h.aws_key_state.clone();
    cfg.last_checked_at = Some(h.checked_at.clone());
}

/// Validates `arn` for use by `container`, in this order: syntax,
/// `DescribeKey` (exists, symmetric `ENCRYPT_DECRYPT`, `Enabled`), a
/// wrap/unwrap round trip of a random probe bound to the container, and the
/// key policy when `principal` is set. Each failure is its own error.
pub fn validate_ekms_key(
    keys: &dyn ExternalKeyService,
    arn: &str,
    container: &Container,
    principal: Option<&str>,
) -> StoreResult<KeyHealth> {
    parse_kms_key_arn(arn).map_err(invalid_arn)?;
    let info = keys
        .check_usable(arn)
        .map_err(|e| validation_error("DescribeKey check", &e))?;
    let cid = container.to_string();
    let mut probe = Zeroizing::new([0u8; 32]);
    random_fill(probe.as_mut_slice())?;
    let blob = keys
        .wrap(arn, probe.as_slice(), &cid)
        .map_err(|e| validation_error("Encrypt (wrap round trip)", &e))?;
    let back = Zeroizing::new(
        keys.unwrap(arn, &blob, &cid)
            .map_err(|e| validation_error("Decrypt (wrap round trip)", &e))?,
    );
    if back.as_slice() != probe.as_slice() {
        return Err(invalid_arn(format!(
            "wrap/unwrap round trip with AWS KMS key {arn} returned different bytes"
        )));
    }
    if let Some(p) = principal {
        keys.check_policy(arn, p)
            .map_err(|e| validation_error("Key policy check (GetKeyPolicy)", &e))?;
    }
    Ok(KeyHealth {
        status: KeyStatus::Active,
        detail: format!("key {arn} is {} in AWS KMS", info.key_state),
        aws_key_state: Some(info.key_state),
        checked_at: rfc3339(now())?,
    })
}

/// Requires an `ACTIVE` health check of `which` key, before any change.
fn require_active(keys: &dyn ExternalKeyService, which: &str, arn: &str) -> StoreResult<()> {
    let h = keys.health(arn);
    if h.status.is_active() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "the {which} AWS KMS key {arn} is {} ({}); both the old and the new key must be ACTIVE \
         to change the key, and nothing was changed. {}",
        h.status,
        h.detail,
        h.status.remediation()
    )))
}

impl Kms {
    /// The EKMS configuration of `c`, if any.
    pub fn ekms_config(&self, c: &Container) -> StoreResult<Option<EkmsInfo>> {
        read_with(&*self.store, |r| load_info(r, c))
    }

    /// Every EKMS configuration.
    pub fn list_ekms_configs(&self) -> StoreResult<Vec<EkmsInfo>> {
        read_with(&*self.store, |r| {
            r.ekms_configs()?
                .into_iter()
                .map(|config| {
                    let wrapping = container_record(r, &config.container)?.wrapping;
                    Ok(EkmsInfo { config, wrapping })
                })
                .collect()
        })
    }

    /// Root key of `rec`, unwrapping an external one through `keys`.
    fn root_key_via(
        &self,
        rec: &ContainerRecord,
        keys: &dyn ExternalKeyService,
    ) -> StoreResult<SecretKey32> {
        match rec.wrapping {
            WrappingStrategy::Internal => self
                .internal
                .unwrap_root(&rec.container.to_string(), &rec.wrapped_root_key),
            WrappingStrategy::External => {
                unwrap_external(keys, &rec.container.to_string(), &rec.wrapped_root_key)
            }
        }
    }

    /// Creates the EKMS configuration of `c` (see [`validate_ekms_key`]);
    /// with `external` wrapping the container root key is re-wrapped under
    /// the AWS key in the same transaction that stores the configuration.
    pub fn activate_ekms(
        &self,
        c: &Container,
        req: &EkmsRequest,
        principal: Option<&str>,
        keys: &dyn ExternalKeyService,
    ) -> StoreResult<EkmsInfo> {
        read_with(&*self.store, |r| {
            unlocked_container(r, c)?;
            super::deletion::accepts_new_objects(r, c)?;
            match r.ekms_config(c)? {
                Some(_) => Err(StoreError::AlreadyExists {
                    kind: "EKMS configuration of container",
                    id: c.to_string(),
                }),
                None => Ok(()),
            }
        })?;
        let health = validate_ekms_key(keys, &req.key_arn, c, principal)?;
        let created_at = rfc3339(now())?;
        self.mutate("ekms.activate", &c.to_string(), |tx, detail| {
            let mut rec = unlocked_container(&*tx, c)?;
            super::deletion::accepts_new_objects(&*tx, c)?;
            if tx.ekms_config(c)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: "EKMS configuration of container",
                    id: c.to_string(),
                });
            }
            if req.wrapping == WrappingStrategy::External
                && rec.wrapping == WrappingStrategy::Internal
            {
                let root = self.root_key_via(&rec, keys)?;
                rec.wrapped_root_key = wrap_external(keys, &req.key_arn, &c.to_string(), &root)?;
                rec.wrapping = WrappingStrategy::External;
                rec.external_key_arn = Some(req.key_arn.clone());
                tx.put_container(&rec)?;
            }
            let mut config = EkmsConfig {
                container: c.clone(),
                key_arn: req.key_arn.clone(),
                architecture: req.architecture,
                allow_revert_to_internal: req.allow_revert_to_internal,
                last_status: None,
                last_aws_state: None,
                last_checked_at: None,
                created_at: created_at.clone(),
            };
            record_health(&mut config, &health);
            tx.put_ekms_config(&config)?;
            *detail = format!("key={} wrapping={}", req.key_arn, rec.wrapping);
            Ok(EkmsInfo {
                config,
                wrapping: rec.wrapping,
            })
        })
    }

    /// Switches a registered (`internal`) configuration to `external`
    /// wrapping: the key is validated again, then the root key re-wrapped.
    pub fn enable_external_wrapping(
        &self,
        c: &Container,
        principal: Option<&str>,
        keys: &dyn ExternalKeyService,
    ) -> StoreResult<EkmsInfo> {
        let info = self.ekms_config(c)?.ok_or_else(|| no_config(c))?;
        if info.wrapping == WrappingStrategy::External {
            return Ok(info);
        }
        let health = validate_ekms_key(keys, &info.config.key_arn, c, principal)?;
        self.mutate("ekms.wrap_external", &c.to_string(), |tx, detail| {
            let mut rec = unlocked_container(&*tx, c)?;
            let mut config = tx.ekms_config(c)?.ok_or_else(|| no_config(c))?;
            if rec.wrapping == WrappingStrategy::Internal {
                let root = self.root_key_via(&rec, keys)?;
                rec.wrapped_root_key = wrap_external(keys, &config.key_arn, &c.to_string(), &root)?;
                rec.wrapping = WrappingStrategy::External;
                rec.external_key_arn = Some(config.key_arn.clone());
                tx.put_container(&rec)?;
            }
            record_health(&mut config, &health);
            tx.put_ekms_config(&config)?;
            *detail = format!("key={}", config.key_arn);
            Ok(EkmsInfo {
                config,
                wrapping: rec.wrapping,
            })
        })
    }

    /// Changes the AWS key of `c`. With `external` wrapping both the old
    /// and the new key must be `ACTIVE` (checked first, naming the one that
    /// is not); the root key is unwrapped under the old key and wrapped
    /// under the new one in one transaction. The root key itself does not
    /// change, so everything sealed before still opens.
    pub fn change_ekms_key(
        &self,
        c: &Container,
        new_arn: &str,
        principal: Option<&str>,
        keys: &dyn ExternalKeyService,
    ) -> StoreResult<EkmsInfo> {
        parse_kms_key_arn(new_arn).map_err(invalid_arn)?;
        let info = self.ekms_config(c)?.ok_or_else(|| no_config(c))?;
        if info.config.key_arn == new_arn {
            return Ok(info);
        }
        if info.wrapping == WrappingStrategy::External {
            require_active(keys, "current (old)", &info.config.key_arn)?;
        }
        require_active(keys, "new", new_arn)?;
        let health = validate_ekms_key(keys, new_arn, c, principal)?;
        self.mutate("ekms.change_key", &c.to_string(), |tx, detail| {
            let mut rec = unlocked_container(&*tx, c)?;
            let mut config = tx.ekms_config(c)?.ok_or_else(|| no_config(c))?;
            if rec.wrapping == WrappingStrategy::External {
                let root = self.root_key_via(&rec, keys)?;
                rec.wrapped_root_key = wrap_external(keys, new_arn, &c.to_string(), &root)?;
                rec.external_key_arn = Some(new_arn.to_string());
                tx.put_container(&rec)?;
            }
            *detail = format!("key={new_arn} (was {})", config.key_arn);
            config.key_arn = new_arn.to_string();
            record_health(&mut config, &health);
            tx.put_ekms_config(&config)?;
            Ok(EkmsInfo {
                config,
                wrapping: rec.wrapping,
            })
        })
    }

    /// Updates the architecture and/or the revert escape hatch (`None`: unchanged).
    pub fn set_ekms_options(
        &self,
        c: &Container,
        architecture: Option<EkmsArchitecture>,
        allow_revert_to_internal: Option<bool>,
    ) -> StoreResult<EkmsInfo> {
        self.mutate("ekms.update", &c.to_string(), |tx, detail| {
            let rec = unlocked_container(&*tx, c)?;
            let mut config = tx.ekms_config(c)?.ok_or_else(|| no_config(c))?;
            if let Some(a) = architecture {
                config.architecture = a;
            }
            if let Some(b) = allow_revert_to_internal {
                config.allow_revert_to_internal = b;
            }
            tx.put_ekms_config(&config)?;
            *detail = format!(
                "architecture={} allow_revert_to_internal={}",
                config.architecture, config.allow_revert_to_internal
            );
            Ok(EkmsInfo {
                config,
                wrapping: rec.wrapping,
            })
        })
    }

    /// Removes the EKMS configuration of `c`. With `external` wrapping this
    /// is a revert — refused unless `allow_revert_to_internal` was set
    /// beforehand — and the root key is unwrapped through AWS and wrapped
    /// by the store's master key again, in the same transaction. A
    /// registered (`internal`) configuration is simply removed.
    pub fn revert_ekms_to_internal(
        &self,
        c: &Container,
        keys: &dyn ExternalKeyService,
    ) -> StoreResult<()> {
        self.mutate("ekms.revert", &c.to_string(), |tx, detail| {
            let mut rec = unlocked_container(&*tx, c)?;
            let config = tx.ekms_config(c)?.ok_or_else(|| no_config(c))?;
            if rec.wrapping == WrappingStrategy::External {
                if !config.allow_revert_to_internal {
                    return Err(StoreError::Conflict(format!(
                        "container {c} is wrapped by AWS KMS key {}; external wrapping cannot be \
                         reverted to internal (no revert). If you really must, set \
                         allow_revert_to_internal = true, apply, then destroy",
                        config.key_arn
                    )));
                }
                let root = self.root_key_via(&rec, keys)?;
                rec.wrapped_root_key = self.internal.wrap(&c.to_string(), &root)?;
                rec.wrapping = WrappingStrategy::Internal;
                rec.external_key_arn = None;
                tx.put_container(&rec)?;
                *detail = format!("reverted to internal wrapping (was key {})", config.key_arn);
            }
            tx.delete_ekms_config(c)
        })
    }

    /// Health check of `c`'s AWS key; the result is recorded as the
    /// configuration's last status (no audit entry: nothing was managed).
    pub fn ekms_health(
        &self,
        c: &Container,
        keys: &dyn ExternalKeyService,
    ) -> StoreResult<(EkmsInfo, KeyHealth)> {
        let mut info = read_with(&*self.store, |r| {
            load_info(r, c)?.ok_or_else(|| {
                super::tombstone::missing(r, TombstoneKind::EkmsConfig, &c.to_string())
            })
        })?;
        let h = keys.health(&info.config.key_arn);
        record_health(&mut info.config, &h);
        let arn = info.config.key_arn.clone();
        write_with(&*self.store, |tx| {
            if let Some(mut cfg) = tx.ekms_config(c)? {
                if cfg.key_arn == arn {
                    record_health(&mut cfg, &h);
                    tx.put_ekms_config(&cfg)?;
                }
            }
            Ok(())
        })?;
        Ok((info, h))
    }

    /// The preflight [`Side`] of `c`: no configuration →
    /// `not_configured`; a configuration → `configured` with the key status
    /// of a live health check. (Every Keyshift store supports EKMS; callers
    /// declare `unsupported` sides themselves.)
    pub fn preflight_side(
        &self,
        c: &Container,
        keys: &dyn ExternalKeyService,
    ) -> StoreResult<Side> {
        read_with(&*self.store, |r| container_record(r, c).map(|_| ()))?;
        if self.ekms_config(c)?.is_none() {
            return Ok(Side::NotConfigured);
        }
        let (info, h) = self.ekms_health(c, keys)?;
        Ok(Side::Configured(EkmsSide {
            key_arn: info.config.key_arn,
            wrapping: match info.wrapping {
                WrappingStrategy::Internal => Wrapping::Internal,
                WrappingStrategy::External => Wrapping::External,
            },
            key_status: h.status,
            architecture: match info.config.architecture {
                EkmsArchitecture::Current => Architecture::Current,
                EkmsArchitecture::Legacy => Architecture::Legacy,
            },
        }))
    }
}
