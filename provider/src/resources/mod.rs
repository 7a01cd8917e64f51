//! The `keyshift` provider: its configuration and its resource and data
//! source types, one module each.

use std::sync::Arc;

use crate::framework::{AttrType, Attribute, DataSource, Diagnostics, Provider, Resource, Schema, Value};

/// What a configured provider hands every resource call.
#[derive(Debug, Default)]
pub struct ProviderCtx {
    /// Terraform's version, as sent to `Configure`.
    pub terraform_version: String,
}

/// The `keyshift` provider.
#[derive(Debug, Default)]
pub struct KeyshiftProvider;

impl Provider for KeyshiftProvider {
    type Ctx = ProviderCtx;

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "Keyshift: KMS instances, keys, aliases, secrets and EKMS configurations on an embedded key store.",
            attributes: vec![Attribute::optional(
                "store_path",
                AttrType::String,
                "Directory of the embedded key store (default `./.keyshift`, or `KEYSHIFT_STORE`).",
            )],
        }
    }

    fn configure(&self, _config: &Value, terraform_version: &str) -> Result<ProviderCtx, Diagnostics> {
        Ok(ProviderCtx {
            terraform_version: terraform_version.to_string(),
        })
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<ProviderCtx>>> {
        Vec::new()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<ProviderCtx>>> {
        Vec::new()
    }
}
