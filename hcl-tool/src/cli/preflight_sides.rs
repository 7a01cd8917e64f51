//! Preflight sides for `keyshift preflight`: from a key store
//! (the engine's [`Kms::preflight_side`], the same classification as
//! `data.keyshift_preflight`) or from a `terraform show -json` state.
//!
//! In a state, the side of a container is its managed `keyshift_ekms_config`
//! resource (`instance_id` null = the shared KMS): none → `not_configured`;
//! one → `configured` with `aws_kms_key_arn`, `wrapping_strategy` (null =
//! `external`), `architecture` (null = `current`) and `key_status` (the
//! health check of the last refresh; required).
//!
//! [`Kms::preflight_side`]: keyshift_core::engine::Kms::preflight_side

use crate::cli::CliError;
use crate::cli::store::{failed, open_existing};
use crate::plan::read_input;
use crate::state::{State, StateResource};
use keyshift_core::aws::key_status::KeyStatus;
use keyshift_core::engine::ekms_wrapper::ExternalKeyService;
use keyshift_core::engine::preflight::{Architecture, EkmsSide, Side, Wrapping};
use keyshift_core::engine::validate;
use keyshift_core::store::StoreLocation;
use keyshift_core::store::{Container, StoreError};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// The resource type holding a container's EKMS configuration.
pub const EKMS_RESOURCE: &str = "keyshift_ekms_config";

/// Parses `shared` or a KMS instance id (`kst-` + 12 lowercase hex digits):
/// the engine's container rule, its message as the error.
pub fn parse_container(s: &str) -> Result<Container, String> {
    validate::container("container", s).map_err(|e| match e {
        StoreError::Invalid { message, .. } => message,
        other => other.to_string(),
    })
}

/// The side of `c` in the store at `dir`: live health check of its EKMS
/// key, if it has a configuration. An unknown instance is an input error.
pub fn side_from_store(
    dir: &StoreLocation,
    c: &Container,
    keys: &Arc<dyn ExternalKeyService>,
) -> Result<Side, CliError> {
    let kms = open_existing(dir, keys)?;
    kms.preflight_side(c, &**keys).map_err(failed(format!(
        "cannot classify container {c} in key store {}",
        dir
    )))
}

/// The side of `c` in the state file at `path`.
pub fn side_from_state(path: &Path, c: &Container) -> Result<Side, CliError> {
    let text = read_input(path)?;
    let state = State::parse(path, &text)?;
    let matches: Vec<&StateResource> = state
        .resources()
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.rtype == EKMS_RESOURCE && configures(r, c))
        .collect();
    match matches.as_slice() {
        [] => Ok(Side::NotConfigured),
        [r] => configured(path, r).map(Side::Configured),
        many => {
            let addrs: Vec<&str> = many.iter().map(|r| r.address.as_str()).collect();
            Err(CliError::Usage(format!(
                "{}: container {c} has {} {EKMS_RESOURCE} resources ({}); expected at most one",
                path.display(),
                many.len(),
                addrs.join(", ")
            )))
        }
    }
}

fn configures(r: &StateResource, c: &Container) -> bool {
    match r.values.get("instance_id") {
        None | Some(Value::Null) => *c == Container::Shared,
        Some(Value::String(id)) => Container::from_instance_id(Some(id)) == *c,
        Some(_) => false,
    }
}

fn configured(path: &Path, r: &StateResource) -> Result<EkmsSide, CliError> {
    let bad = |attr: &str, why: String| {
        CliError::Usage(format!("{}: {}.{attr}: {why}", path.display(), r.address))
    };
    let string = |attr: &str| -> Result<Option<&str>, CliError> {
        match r.values.get(attr) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(bad(attr, format!("expected a string, found {other}"))),
        }
    };
    let key_arn = string("aws_kms_key_arn")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("aws_kms_key_arn", "missing".to_string()))?
        .to_string();
    let wrapping = match string("wrapping_strategy")? {
        None | Some("external") => Wrapping::External,
        Some("internal") => Wrapping::Internal,
        Some(o) => {
            return Err(bad(
                "wrapping_strategy",
                format!("{o:?} is not internal or external"),
            ));
        }
    };
    let architecture = match string("architecture")? {
        None | Some("current") => Architecture::Current,
        Some("legacy") => Architecture::Legacy,
        Some(o) => {
            return Err(bad(
                "architecture",
                format!("{o:?} is not current or legacy"),
            ));
        }
    };
    let key_status = match string("key_status")? {
        Some(s) => s.parse::<KeyStatus>().map_err(|e| bad("key_status", e))?,
        None => {
            return Err(bad(
                "key_status",
                "no health check recorded; run `terraform refresh` and export the state again"
                    .to_string(),
            ));
        }
    };
    Ok(EkmsSide {
        key_arn,
        wrapping,
        key_status,
        architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_parse_strictly() {
        assert_eq!(parse_container("shared"), Ok(Container::Shared));
        assert_eq!(
            parse_container("kst-0123456789ab"),
            Ok(Container::Instance("kst-0123456789ab".into()))
        );
        for bad in [
            "",
            "Shared",
            "kst-0123",
            "kst-0123456789AB",
            "kst-0123456789abc",
        ] {
            assert!(parse_container(bad).is_err(), "{bad:?}");
        }
    }
}
