//! The provider block: its attributes (each with a `KEYSHIFT_*`
//! environment variable), how they resolve (configuration, then
//! environment, then default), and the diagnostics of a store that cannot
//! be opened. Every diagnostic names the attribute at fault, and a
//! password in a store URL never appears in one.

use std::path::PathBuf;
use std::sync::Arc;

use super::DEFAULT_REGION;
use crate::engine::ekms_master::AwsMasterKeyWrapper;
use crate::engine::ekms_wrapper::ExternalKeyService;
use crate::engine::validate;
use crate::framework::{AttrType, Diagnostic, Diagnostics, Value};
use crate::store::crypto::RootKeyWrapper;
use crate::store::{OpenOptions, StoreError, StoreLocation};

/// The provider block, resolved: configuration, then environment, then default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Where the key store lives (`store_path`, `store_url` or
    /// `KEYSHIFT_STORE`). Shown with any URL password redacted.
    pub store: StoreLocation,
    /// The master key file to use instead of the embedded store's own
    /// `master.key` (required for a shared store unless `master_key_arn`).
    pub master_key_file: Option<PathBuf>,
    /// ARN of the AWS KMS key wrapping the store's master key.
    pub master_key_arn: Option<String>,
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

/// (attribute, environment variable, type, description) of the provider block.
pub(super) const PROVIDER_ATTRS: &[(&str, &str, AttrType, &str)] = &[
    (
        "store_path",
        STORE_ENV,
        AttrType::String,
        "Directory of the embedded key store. Conflicts with `store_url`. Default: `KEYSHIFT_STORE`, else `./.keyshift` in Terraform's working directory.",
    ),
    (
        "store_url",
        STORE_ENV,
        AttrType::String,
        "Where the key store lives: `postgres://user@host:port/db` for a store shared by a team (TLS options as libpq query parameters, e.g. `?sslmode=verify-full&sslrootcert=ca.pem`) or the same as a libpq connection string (`host=db port=5432 user=ks dbname=keyshift sslmode=verify-full`), or `sqlite:PATH` / a directory path for the embedded store. Text that starts like a URL (`scheme:`) or a connection string (`word=`) but is not a valid one is refused, never taken as a directory. Conflicts with `store_path`. Default: `KEYSHIFT_STORE` (any of these forms), else `./.keyshift`. Sensitive: Terraform does not show it, and Keyshift redacts a password in it (URL or `password=`) from every message.",
    ),
    (
        "master_key_file",
        "KEYSHIFT_MASTER_KEY_FILE",
        AttrType::String,
        "File holding the store's master key (32 bytes; created with mode 0600 when a new store is created). A shared PostgreSQL store needs this or `master_key_arn`; an embedded store uses its own `master.key` unless this is set. Opening a store with a different key fails and changes nothing. Default: `KEYSHIFT_MASTER_KEY_FILE`.",
    ),
    (
        "master_key_arn",
        "KEYSHIFT_MASTER_KEY_ARN",
        AttrType::String,
        "ARN of an AWS KMS key (symmetric, ENCRYPT_DECRYPT) that wraps the store's master key; the wrapped key is kept in the store itself, so no runner needs a key file. Uses `aws_region`, `aws_endpoint` and `aws_profile`. Conflicts with `master_key_file`. Default: `KEYSHIFT_MASTER_KEY_ARN`.",
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
        SERVICE_PRINCIPAL_DOC,
    ),
];

/// `service_principal`'s description; [`ACTIONS_PLACEHOLDER`] stands for
/// the required key-policy actions (see [`attr_description`]).
const SERVICE_PRINCIPAL_DOC: &str = "Principal that EKMS key policies must allow {actions} (`data.keyshift_ekms_key_policy` renders that statement). Default: `KEYSHIFT_SERVICE_PRINCIPAL`, else not checked.";

/// Stands for the required key-policy actions in a description.
const ACTIONS_PLACEHOLDER: &str = "{actions}";

/// The description of provider attribute `desc` as the schema shows it:
/// the required key-policy actions filled in from the one list the policy
/// check and `data.keyshift_ekms_key_policy` use.
pub(super) fn attr_description(desc: &'static str) -> &'static str {
    static FILLED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        SERVICE_PRINCIPAL_DOC.replace(ACTIONS_PLACEHOLDER, &crate::aws::required_actions_text())
    });
    if desc == SERVICE_PRINCIPAL_DOC {
        FILLED.as_str()
    } else {
        desc
    }
}

/// Environment variable naming the store (any form `store_url` accepts).
const STORE_ENV: &str = "KEYSHIFT_STORE";

/// A configured provider setting: `None` when null, an error when unknown.
fn configured(config: &Value, attr: &str) -> Result<Option<String>, Diagnostic> {
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
        _ => Ok(None),
    }
}

/// How settings read the environment (a map in tests).
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A non-empty environment variable.
fn env_var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|s| !s.is_empty())
}

/// A provider setting: known config value, else the environment variable.
fn setting(
    config: &Value,
    env: Env<'_>,
    attr: &str,
    var: &str,
) -> Result<Option<String>, Diagnostic> {
    Ok(configured(config, attr)?.or_else(|| env_var(env, var)))
}

/// A path setting (`master_key_file`): an empty string is
/// an error on `attr`, not "unset".
fn path_setting(
    config: &Value,
    env: Env<'_>,
    attr: &str,
    var: &str,
) -> Result<Option<PathBuf>, Diagnostic> {
    match setting(config, env, attr, var)? {
        Some(p) if p.trim().is_empty() => Err(Diagnostic::attr_error(
            attr,
            format!("Empty {attr}"),
            format!("`{attr}` must name a file or directory (leave it unset for the default)."),
        )),
        other => Ok(other.map(PathBuf::from)),
    }
}

/// The store location: `store_path` (a directory) or `store_url` (any
/// form), not both; else `KEYSHIFT_STORE`; else `./.keyshift`. Errors are
/// on the attribute that holds the bad value (`store_url` for the
/// environment variable) and never repeat a URL's password.
fn store_location(config: &Value, env: Env<'_>) -> Result<StoreLocation, Diagnostic> {
    let invalid = |attr: &str, from: &str, e: StoreError| {
        Diagnostic::attr_error(attr, format!("Invalid {attr}"), format!("{from}: {e}"))
    };
    let path = configured(config, "store_path")?;
    let url = configured(config, "store_url")?;
    match (path, url) {
        (Some(_), Some(_)) => Err(Diagnostic::attr_error(
            "store_url",
            "Conflicting store settings",
            "Set either `store_path` (a directory of the embedded store) or `store_url`, not both.",
        )),
        (Some(path), None) => match StoreLocation::parse(&path) {
            Ok(dir @ StoreLocation::Sqlite(_)) => Ok(dir),
            _ => Err(Diagnostic::attr_error(
                "store_path",
                "Invalid store_path",
                "`store_path` is the directory of the embedded store (leave it unset for the default); put a database URL or connection string in `store_url`.",
            )),
        },
        (None, Some(url)) => {
            StoreLocation::parse(&url).map_err(|e| invalid("store_url", "store_url", e))
        }
        (None, None) => match env_var(env, STORE_ENV) {
            Some(text) => {
                StoreLocation::parse(&text).map_err(|e| invalid("store_url", STORE_ENV, e))
            }
            None => Ok(StoreLocation::dir(std::path::Path::new(".keyshift"))),
        },
    }
}

/// The attribute a store open error belongs to.
fn open_error_attr(config: &ProviderConfig, e: &StoreError, raw: &Value) -> &'static str {
    let key_error = matches!(
        e,
        StoreError::MasterKeyMissing { .. }
            | StoreError::MasterKeyMismatch { .. }
            | StoreError::MasterKeyInvalid { .. }
            | StoreError::Invalid {
                field: "master_key_file",
                ..
            }
    );
    // At open, a conflict comes from the AWS key wrapping the master key.
    let arn_error = matches!(e, StoreError::Conflict(_));
    if (key_error || arn_error) && config.master_key_arn.is_some() {
        "master_key_arn"
    } else if key_error && (config.master_key_file.is_some() || config.store.is_shared()) {
        "master_key_file"
    } else if raw.get("store_path").is_null()
        && (config.store.is_shared() || !raw.get("store_url").is_null())
    {
        "store_url"
    } else {
        "store_path"
    }
}

/// The diagnostic for a store that cannot be opened: on the attribute at
/// fault, naming the store (its URL password redacted).
pub(super) fn open_diag(config: &ProviderConfig, raw: &Value, e: StoreError) -> Diagnostic {
    let at = config.store.to_string();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    if let StoreLocation::Postgres(url) = &config.store {
        message = message.replace(url.as_str(), &at);
    }
    let detail = if message.contains(&at) {
        message
    } else {
        format!("{message} (store at {at})")
    };
    let attr = open_error_attr(config, &e, raw);
    // Terraform shows no attribute path for a setting that came from the
    // environment: say which setting to check.
    let var = PROVIDER_ATTRS
        .iter()
        .find(|(name, ..)| *name == attr)
        .map_or("", |(_, var, ..)| *var);
    Diagnostic::attr_error(
        attr,
        "Cannot open the key store",
        format!(
            "{}. Check `{attr}` (or {var}).",
            detail.trim_end_matches('.')
        ),
    )
}

impl ProviderConfig {
    /// Resolves the provider block against the environment.
    pub fn resolve(config: &Value) -> Result<Self, Diagnostics> {
        Self::resolve_in(config, &|name| std::env::var(name).ok())
    }

    /// Resolves the provider block against `env`.
    fn resolve_in(config: &Value, env: Env<'_>) -> Result<Self, Diagnostics> {
        let mut diags = Vec::new();
        let mut get = |attr: &str| -> Option<String> {
            let var = PROVIDER_ATTRS
                .iter()
                .find(|(name, ..)| *name == attr)
                .map_or("", |(_, var, ..)| *var);
            setting(config, env, attr, var).unwrap_or_else(|d| {
                diags.push(d);
                None
            })
        };
        let region = get("region").unwrap_or_else(|| DEFAULT_REGION.to_string());
        let (aws_region, aws_endpoint, aws_profile) =
            (get("aws_region"), get("aws_endpoint"), get("aws_profile"));
        let legacy = get("legacy_support");
        let service_principal = get("service_principal");
        let master_key_arn = get("master_key_arn");
        let store = store_location(config, env).map_err(|d| diags.push(d)).ok();
        let master_key_file =
            path_setting(config, env, "master_key_file", "KEYSHIFT_MASTER_KEY_FILE")
                .unwrap_or_else(|d| {
                    diags.push(d);
                    None
                });
        let legacy_support = match legacy.as_deref().map(validate::boolean) {
            None => false,
            Some(Some(b)) => b,
            Some(None) => {
                diags.push(Diagnostic::attr_error(
                    "legacy_support",
                    "Invalid legacy_support",
                    format!(
                        "{:?} is not a boolean (true, false, 1 or 0)",
                        legacy.unwrap_or_default()
                    ),
                ));
                false
            }
        };
        if master_key_file.is_some() && master_key_arn.is_some() {
            diags.push(Diagnostic::attr_error(
                "master_key_arn",
                "Conflicting master key settings",
                "Set either `master_key_file` or `master_key_arn` (or their KEYSHIFT_* variables), not both.",
            ));
        }
        if let Some(arn) = &master_key_arn {
            if let Err(e) = crate::aws::parse_kms_key_arn(arn) {
                diags.push(Diagnostic::attr_error(
                    "master_key_arn",
                    "Invalid AWS KMS key ARN",
                    e,
                ));
            }
        }
        match store {
            Some(store) if diags.is_empty() => Ok(ProviderConfig {
                store,
                master_key_file,
                master_key_arn,
                region,
                aws_region,
                aws_endpoint,
                aws_profile,
                legacy_support,
                service_principal,
            }),
            _ => Err(diags),
        }
    }

    /// How `configure` opens the store: created when missing, with the
    /// master key file when one is named, or wrapped by the AWS KMS key
    /// `master_key_arn` through `aws`.
    #[allow(clippy::needless_update)] // options added later keep their defaults
    pub fn open_options(&self, aws: &Arc<dyn ExternalKeyService>) -> OpenOptions {
        let wrapper = self.master_key_arn.as_deref().map(|arn| {
            Arc::new(AwsMasterKeyWrapper::new(Arc::clone(aws), arn)) as Arc<dyn RootKeyWrapper>
        });
        OpenOptions {
            create: true,
            master_key_file: self.master_key_file.clone(),
            master_key_wrapper: wrapper,
            ..OpenOptions::default()
        }
    }
}

#[cfg(test)]
#[path = "provider_config_tests.rs"]
mod tests;
