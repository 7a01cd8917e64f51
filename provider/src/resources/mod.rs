//! The `keyshift` provider: its configuration and its resource and data
//! source types, one module each.

mod alias;
mod break_glass;
mod common;
mod ekms_config;
mod ekms_key_policy_data;
mod key;
mod key_data;
mod key_model;
mod key_moves;
mod key_status_data;
mod kms_instance;
mod kms_instance_data;
mod planned_moves;
mod preflight_data;
mod provider_config;
mod secret;
mod secret_model;
mod secret_value_ephemeral;

use std::sync::Arc;

use crate::engine::Kms;
use crate::framework::{
    Attribute, DataSource, Diagnostic, Diagnostics, EphemeralResource, Provider, Resource, Schema,
    Value,
};
pub use provider_config::ProviderConfig;
use provider_config::{PROVIDER_ATTRS, attr_description, open_diag};

/// Default region of new instances when neither the provider block nor
/// `KEYSHIFT_REGION` names one.
pub const DEFAULT_REGION: &str = "local-1";

/// What a configured provider hands every resource call.
pub struct ProviderCtx {
    /// The key service over the configured key store.
    pub kms: Kms,
    /// The resolved provider configuration.
    pub config: ProviderConfig,
    /// AWS KMS for EKMS containers, connected on first use (no network at configure).
    pub aws: Arc<dyn crate::engine::ekms_wrapper::ExternalKeyService>,
    /// Key moves promised by earlier plans of this plan walk.
    pub planned_key_moves: planned_moves::PlannedKeyMoves,
    /// Warnings from opening the store, shown once by configure.
    pub warnings: Diagnostics,
}

/// The `keyshift` provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyshiftProvider;

impl Provider for KeyshiftProvider {
    type Ctx = ProviderCtx;

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "Keyshift: KMS instances, keys, aliases, secrets and EKMS configurations on a durable key store: embedded (SQLite, one directory) or shared by a team (PostgreSQL).",
            attributes: PROVIDER_ATTRS
                .iter()
                .map(|(name, _, ty, desc)| {
                    let attr = Attribute::optional(name, ty.clone(), attr_description(desc));
                    // A URL may carry a password: Terraform must not show it.
                    if *name == "store_url" {
                        attr.sensitive()
                    } else {
                        attr
                    }
                })
                .collect(),
        }
    }

    fn configure(
        &self,
        config: &Value,
        _terraform_version: &str,
    ) -> Result<ProviderCtx, Diagnostics> {
        let raw = config;
        let config = ProviderConfig::resolve(raw)?;
        let aws: Arc<dyn crate::engine::ekms_wrapper::ExternalKeyService> = Arc::new(
            crate::engine::ekms_wrapper::LazyAwsKms::new(ekms_config::aws_settings(&config)),
        );
        let opts = config.open_options(&aws);
        let (kms, warnings) = Kms::open_location(&config.store, &opts, "terraform")
            .map_err(|e| vec![open_diag(&config, raw, e)])?;
        let kms = kms.with_external_keys(Arc::clone(&aws));
        let warnings = warnings
            .into_iter()
            .map(|w| Diagnostic::warning("Key store files are open to other users", w))
            .collect();
        Ok(ProviderCtx {
            kms,
            config,
            aws,
            planned_key_moves: Default::default(),
            warnings,
        })
    }

    fn configure_warnings(&self, ctx: &ProviderCtx) -> Diagnostics {
        ctx.warnings.clone()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<ProviderCtx>>> {
        vec![
            Arc::new(kms_instance::KmsInstance),
            Arc::new(key::KeyResource),
            Arc::new(alias::AliasResource),
            Arc::new(ekms_config::EkmsConfigResource),
            Arc::new(secret::SecretResource),
            Arc::new(break_glass::BreakGlassResource),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<ProviderCtx>>> {
        vec![
            Arc::new(key_data::KeyData),
            Arc::new(kms_instance_data::KmsInstanceData),
            Arc::new(key_status_data::KeyStatusData),
            Arc::new(preflight_data::PreflightData),
            Arc::new(ekms_key_policy_data::EkmsKeyPolicyData),
        ]
    }

    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource<ProviderCtx>>> {
        vec![Arc::new(secret_value_ephemeral::SecretValueEphemeral)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_has_a_description() {
        let p = KeyshiftProvider;
        let mut schemas = vec![p.schema()];
        schemas.extend(p.resources().iter().map(|r| r.schema()));
        schemas.extend(p.data_sources().iter().map(|d| d.schema()));
        schemas.extend(p.ephemeral_resources().iter().map(|e| e.schema()));
        for s in schemas {
            assert!(!s.description.is_empty());
            for a in &s.attributes {
                assert!(
                    !a.description.trim().is_empty(),
                    "{} has no description",
                    a.name
                );
            }
        }
    }

    #[test]
    fn unknown_setting_is_refused_with_path() {
        let mut cfg = crate::framework::Object::new();
        cfg.insert("store_path".into(), Value::Unknown);
        let err = ProviderConfig::resolve(&Value::Object(cfg))
            .err()
            .unwrap_or_default();
        assert_eq!(err.len(), 1);
        assert_eq!(
            err[0].path,
            Some(crate::framework::AttrPath::attr("store_path"))
        );
    }
}
