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
mod key_status_data;
mod kms_instance;
mod kms_instance_data;
mod planned_moves;
mod preflight_data;
mod secret;
mod secret_model;
mod secret_value_ephemeral;

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::Kms;
use crate::framework::{
    AttrType, Attribute, DataSource, Diagnostic, Diagnostics, EphemeralResource, Provider,
    Resource, Schema, Value,
};

/// Default region of new instances when neither the provider block nor
/// `KEYSHIFT_REGION` names one.
pub const DEFAULT_REGION: &str = "local-1";

/// The provider block, resolved: configuration, then environment, then default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Key store directory.
    pub store_path: PathBuf,
    /// Default region for new instances.
    pub region: String,
    /// AWS region for EKMS keys.
    pub aws_region: Option<String>,
    /// AWS KMS endpoint override.
    pub aws_endpoint: Option<String>,
    /// AWS shared-config profile.
    pub aws_profile: Option<String>,
    /// Allow legacy-architecture preflight cases.
    pub legacy_support: bool,
    /// Principal that EKMS key policies must grant.
    pub service_principal: Option<String>,
}

/// What a configured provider hands every resource call.
pub struct ProviderCtx {
    /// The key service over the embedded store.
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

/// (attribute, environment variable, type, description) of the provider block.
const PROVIDER_ATTRS: &[(&str, &str, AttrType, &str)] = &[
    (
        "store_path",
        "KEYSHIFT_STORE",
        AttrType::String,
        "Directory of the embedded key store. Default: `KEYSHIFT_STORE`, else `./.keyshift` in Terraform's working directory.",
    ),
    (
        "region",
        "KEYSHIFT_REGION",
        AttrType::String,
        "Default region of new KMS instances. Default: `KEYSHIFT_REGION`, else `local-1`.",
    ),
    (
        "aws_region",
        "KEYSHIFT_AWS_REGION",
        AttrType::String,
        "AWS region of EKMS root-of-trust keys. Default: `KEYSHIFT_AWS_REGION`, else the standard AWS chain.",
    ),
    (
        "aws_endpoint",
        "KEYSHIFT_AWS_ENDPOINT",
        AttrType::String,
        "AWS KMS endpoint URL override (e.g. a local emulator). Default: `KEYSHIFT_AWS_ENDPOINT`, else `AWS_ENDPOINT_URL_KMS` / the AWS default.",
    ),
    (
        "aws_profile",
        "KEYSHIFT_AWS_PROFILE",
        AttrType::String,
        "AWS shared-config profile. Default: `KEYSHIFT_AWS_PROFILE`, else the standard AWS chain.",
    ),
    (
        "legacy_support",
        "KEYSHIFT_LEGACY_SUPPORT",
        AttrType::Bool,
        "Allow preflight operations involving legacy-architecture EKMS configurations. Default: `KEYSHIFT_LEGACY_SUPPORT`, else false.",
    ),
    (
        "service_principal",
        "KEYSHIFT_SERVICE_PRINCIPAL",
        AttrType::String,
        "Principal that EKMS key policies must allow kms:Encrypt, kms:Decrypt, kms:GenerateDataKey, kms:DescribeKey and kms:GetKeyPolicy (`data.keyshift_ekms_key_policy` renders that statement). Default: `KEYSHIFT_SERVICE_PRINCIPAL`, else not checked.",
    ),
];

/// A provider setting: known config value, else the environment variable.
fn setting(config: &Value, attr: &str, env: &str) -> Result<Option<String>, Diagnostic> {
    match config.get(attr) {
        Value::Unknown => Err(Diagnostic::attr_error(
            attr,
            "Provider setting not known",
            format!(
                "`{attr}` must be known when the provider is configured (it cannot depend on a resource that is not created yet)."
            ),
        )),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Ok(std::env::var(env).ok().filter(|s| !s.is_empty())),
    }
}

impl ProviderConfig {
    /// Resolves the provider block against the environment.
    pub fn resolve(config: &Value) -> Result<Self, Diagnostics> {
        let mut vals = Vec::new();
        let mut diags = Vec::new();
        for (attr, env, _, _) in PROVIDER_ATTRS {
            match setting(config, attr, env) {
                Ok(v) => vals.push(v),
                Err(d) => {
                    diags.push(d);
                    vals.push(None);
                }
            }
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        let mut it = vals.into_iter();
        let mut next = || it.next().flatten();
        let store_path = next().map_or_else(|| PathBuf::from(".keyshift"), PathBuf::from);
        let region = next().unwrap_or_else(|| DEFAULT_REGION.to_string());
        let (aws_region, aws_endpoint, aws_profile) = (next(), next(), next());
        let legacy = next();
        let legacy_support = match legacy.as_deref() {
            None | Some("false" | "0" | "") => false,
            Some("true" | "1") => true,
            Some(other) => {
                return Err(vec![Diagnostic::attr_error(
                    "legacy_support",
                    "Invalid legacy_support",
                    format!("{other:?} is not a boolean (true/false)"),
                )]);
            }
        };
        let service_principal = next();
        Ok(ProviderConfig {
            store_path,
            region,
            aws_region,
            aws_endpoint,
            aws_profile,
            legacy_support,
            service_principal,
        })
    }
}

impl Provider for KeyshiftProvider {
    type Ctx = ProviderCtx;

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "Keyshift: KMS instances, keys, aliases, secrets and EKMS configurations on an embedded, durable key store.",
            attributes: PROVIDER_ATTRS
                .iter()
                .map(|(name, _, ty, desc)| Attribute::optional(name, ty.clone(), desc))
                .collect(),
        }
    }

    fn configure(
        &self,
        config: &Value,
        _terraform_version: &str,
    ) -> Result<ProviderCtx, Diagnostics> {
        let config = ProviderConfig::resolve(config)?;
        let (kms, warnings) =
            Kms::open_reporting(&config.store_path, "terraform").map_err(|e| {
                let (message, at) = (e.to_string(), config.store_path.display().to_string());
                let detail = if message.contains(&at) {
                    message
                } else {
                    format!("{message} (store at {at})")
                };
                vec![Diagnostic::attr_error(
                    "store_path",
                    "Cannot open the key store",
                    detail,
                )]
            })?;
        let aws: Arc<dyn crate::engine::ekms_wrapper::ExternalKeyService> = Arc::new(
            crate::engine::ekms_wrapper::LazyAwsKms::new(ekms_config::aws_settings(&config)),
        );
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
