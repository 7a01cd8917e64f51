//! AWS KMS client for EKMS: the only module that talks to AWS.
//!
//! [`AwsKms`] is a **blocking** facade. It owns a small current-thread tokio
//! runtime and runs every SDK call with `Runtime::block_on`, so it works
//! the same from the CLI's plain `main` and from the provider's
//! `spawn_blocking` threads (which are not inside an async context). Do not
//! call it from an async task: wrap the call in `spawn_blocking`. Dropping
//! it never blocks (the runtime is shut down in the background), so it may
//! be dropped anywhere.
//!
//! Requests go to the key's own region (taken from the ARN; the default
//! region — settings, `AWS_REGION`/`AWS_DEFAULT_REGION`, the profile, never
//! the EC2 metadata service — only serves ids that are not ARNs), with the
//! standard credential chain (or [`AwsSettings::credentials`]), standard
//! retries (3 attempts, exponential backoff with jitter) and timeouts
//! (connect 2 s, whole operation 10 s). The endpoint is, in order: the
//! explicit [`AwsSettings::endpoint`], `AWS_ENDPOINT_URL_KMS`,
//! `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, the AWS default.
//!
//! Plaintext and ciphertext never appear in errors or logs.

mod arn;
pub mod key_status;
mod policy;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kms::Client;
use aws_sdk_kms::config::Credentials;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::runtime::Runtime;

pub use arn::{KmsKeyArn, parse_kms_key_arn};
pub use policy::{REQUIRED_ACTIONS, required_actions_text, required_policy, required_statement};

use crate::aws::key_status::KeyStatus;

/// Encryption-context key binding a wrapped blob to its container.
pub const CONTAINER_CONTEXT_KEY: &str = "keyshift:container";

/// Explicit static credentials (tests, or a caller that has its own).
#[derive(Clone, Default)]
pub struct StaticCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
    /// Session token for temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where and as whom to reach AWS KMS. Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// Default region (calls on a key ARN use the ARN's region).
    pub region: Option<String>,
    /// Endpoint URL for every region; wins over `AWS_ENDPOINT_URL_KMS`.
    pub endpoint: Option<String>,
    /// Shared config/credentials profile name.
    pub profile: Option<String>,
    /// Static credentials instead of the standard chain.
    pub credentials: Option<StaticCredentials>,
}

/// What `DescribeKey` says about a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwsKeyInfo {
    /// The key's ARN.
    pub arn: String,
    /// The key id (UUID or `mrk-...`).
    pub key_id: String,
    /// AWS `KeyState`, e.g. `Enabled`.
    pub key_state: String,
    /// AWS `KeySpec`, e.g. `SYMMETRIC_DEFAULT`.
    pub key_spec: String,
    /// AWS `KeyUsage`, e.g. `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// True for a multi-Region key.
    pub multi_region: bool,
}

impl AwsKeyInfo {
    /// The Keyshift status for the key state.
    pub fn status(&self) -> KeyStatus {
        KeyStatus::from_aws_key_state(&self.key_state)
    }
}

/// Result of a health check ([`AwsKms::health`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyHealth {
    /// The status (AWS key state mapped to the EKMS key status).
    pub status: KeyStatus,
    /// AWS `KeyState` when `DescribeKey` answered.
    pub aws_key_state: Option<String>,
    /// When the check ran (RFC 3339, UTC).
    pub checked_at: String,
    /// One line for humans: the state, or why the key could not be read.
    pub detail: String,
}

/// A failed AWS KMS call. Messages name the key (and the endpoint when it
/// could not be reached), never plaintext or ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// The endpoint did not answer, or credentials could not be resolved.
    #[error(
        "cannot reach AWS KMS at {endpoint} for key {key}: {cause}. {}",
        unreachable_hint(cause)
    )]
    Unreachable {
        /// The endpoint tried.
        endpoint: String,
        /// The key ARN.
        key: String,
        /// Summary of the underlying failure.
        cause: String,
    },
    /// `NotFoundException`: no such key.
    #[error("AWS KMS key {key} not found (deleted, or wrong region/account)")]
    NotFound {
        /// The key ARN.
        key: String,
    },
    /// The key exists but is not `Enabled`.
    #[error("AWS KMS key {key} is not usable: status {status} (AWS state {state})")]
    KeyNotUsable {
        /// The key ARN.
        key: String,
        /// Keyshift status.
        status: KeyStatus,
        /// AWS `KeyState`.
        state: String,
    },
    /// The key is not a symmetric `ENCRYPT_DECRYPT` key.
    #[error("AWS KMS key {key} must be a symmetric ENCRYPT_DECRYPT key, but is {spec} / {usage}")]
    NotSymmetric {
        /// The key ARN.
        key: String,
        /// AWS `KeySpec`.
        spec: String,
        /// AWS `KeyUsage`.
        usage: String,
    },
    /// The key policy does not allow the principal everything it needs.
    #[error("the key policy of AWS KMS key {key} does not allow {principal}: {}", actions.join(", "))]
    PolicyMissing {
        /// The key ARN.
        key: String,
        /// The principal checked.
        principal: String,
        /// The actions not allowed.
        actions: Vec<String>,
    },
    /// Any other error AWS KMS answered (access denied, invalid ciphertext...).
    #[error("AWS KMS call on key {key} failed: {message}")]
    Api {
        /// The key ARN.
        key: String,
        /// AWS error code and message.
        message: String,
    },
}

/// Blocking AWS KMS client (see the module docs for the threading model).
pub struct AwsKms {
    rt: Option<Runtime>,
    sdk: SdkConfig,
    endpoint: Option<String>,
    clients: Mutex<HashMap<String, Client>>,
}

impl fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKms")
            .field("region", &self.sdk.region())
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Drop for AwsKms {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl AwsKms {
    /// Loads the AWS configuration (region, profile, credential chain,
    /// endpoint overrides) with bounded retries and timeouts. Nothing is
    /// sent to AWS yet; credentials are resolved on the first call.
    pub fn connect(s: &AwsSettings) -> Result<AwsKms, AwsError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AwsError::Api {
                key: String::new(),
                message: format!("cannot start runtime: {e}"),
            })?;
        let retry = RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(300))
            .with_max_backoff(Duration::from_secs(3));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(10))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        // Default region: explicit, then AWS_REGION/AWS_DEFAULT_REGION, then
        // the profile. Deliberately not the EC2 metadata service: calls use
        // the key ARN's region anyway, so there is nothing worth probing for.
        let mut profile_region = ProfileFileRegionProvider::builder();
        if let Some(profile) = &s.profile {
            profile_region = profile_region.profile_name(profile);
        }
        loader = loader.region(
            RegionProviderChain::first_try(s.region.clone().map(Region::new))
                .or_else(EnvironmentVariableRegionProvider::new())
                .or_else(profile_region.build()),
        );
        if let Some(profile) = &s.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &s.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(c) = &s.credentials {
            loader = loader.credentials_provider(Credentials::new(
                &c.access_key_id,
                &c.secret_access_key,
                c.session_token.clone(),
                None,
                "keyshift-static",
            ));
        }
        let sdk = rt.block_on(loader.load());
        let endpoint = s
            .endpoint
            .clone()
            .or_else(|| {
                std::env::var("AWS_ENDPOINT_URL_KMS")
                    .ok()
                    .filter(|e| !e.is_empty())
            })
            .or_else(|| sdk.endpoint_url().map(str::to_string));
        Ok(AwsKms {
            rt: Some(rt),
            sdk,
            endpoint,
            clients: Mutex::new(HashMap::new()),
        })
    }

    /// `DescribeKey`.
    pub fn describe(&self, arn: &str) -> Result<AwsKeyInfo, AwsError> {
        let (client, endpoint) = self.client(arn);
        let out = self
            .run(client.describe_key().key_id(arn).send())?
            .map_err(|e| classify(e, arn, &endpoint))?;
        let Some(m) = out.key_metadata() else {
            return Err(api(arn, "DescribeKey returned no key metadata"));
        };
        let name = |v: Option<&str>| v.unwrap_or("Unknown").to_string();
        let key_spec = name(m.key_spec().map(|s| s.as_str()));
        // ENCRYPT_DECRYPT is the only usage a SYMMETRIC_DEFAULT key can have;
        // AWS always reports it, moto leaves it null unless it was given.
        let key_usage = match m.key_usage() {
            Some(u) => u.as_str().to_string(),
            None if key_spec == "SYMMETRIC_DEFAULT" => "ENCRYPT_DECRYPT".to_string(),
            None => "Unknown".to_string(),
        };
        Ok(AwsKeyInfo {
            arn: m.arn().unwrap_or(arn).to_string(),
            key_id: m.key_id().to_string(),
            key_state: name(m.key_state().map(|s| s.as_str())),
            key_spec,
            key_usage,
            multi_region: m.multi_region().unwrap_or(false),
        })
    }

    /// `DescribeKey`, then the checks made on create: the key must
    /// be symmetric `ENCRYPT_DECRYPT` ([`AwsError::NotSymmetric`]) and
    /// `Enabled` ([`AwsError::KeyNotUsable`]).
    pub fn check_usable(&self, arn: &str) -> Result<AwsKeyInfo, AwsError> {
        let info = self.describe(arn)?;
        if info.key_spec != "SYMMETRIC_DEFAULT" || info.key_usage != "ENCRYPT_DECRYPT" {
            return Err(AwsError::NotSymmetric {
                key: arn.to_string(),
                spec: info.key_spec,
                usage: info.key_usage,
            });
        }
        if !info.status().is_active() {
            return Err(AwsError::KeyNotUsable {
                key: arn.to_string(),
                status: info.status(),
                state: info.key_state,
            });
        }
        Ok(info)
    }

    /// Health check: `DescribeKey` mapped to an EKMS key status. `NotFoundException`
    /// → `DELETED`; an unreachable endpoint, failing credentials or any
    /// other error (after the bounded retries) → `UNAVAILABLE`.
    pub fn health(&self, arn: &str) -> KeyHealth {
        let checked_at = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        match self.describe(arn) {
            Ok(info) => KeyHealth {
                status: info.status(),
                detail: format!("key {arn} is {} in AWS KMS", info.key_state),
                aws_key_state: Some(info.key_state),
                checked_at,
            },
            Err(e) => KeyHealth {
                status: match e {
                    AwsError::NotFound { .. } => KeyStatus::Deleted,
                    _ => KeyStatus::Unavailable,
                },
                aws_key_state: None,
                checked_at,
                detail: e.to_string(),
            },
        }
    }

    /// `Encrypt` with the encryption context `{"keyshift:container": container}`,
    /// after refusing a key that is not `Enabled` (AWS would refuse too;
    /// moto does not).
    pub fn wrap(&self, arn: &str, plaintext: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        self.require_enabled(arn)?;
        let (client, endpoint) = self.client(arn);
        let req = client
            .encrypt()
            .key_id(arn)
            .plaintext(Blob::new(plaintext))
            .encryption_context(CONTAINER_CONTEXT_KEY, container);
        let out = self
            .run(req.send())?
            .map_err(|e| classify(e, arn, &endpoint))?;
        match out.ciphertext_blob {
            Some(blob) => Ok(blob.into_inner()),
            None => Err(api(arn, "Encrypt returned no ciphertext")),
        }
    }

    /// `Decrypt` with the same encryption context and key check as [`wrap`](Self::wrap).
    /// A blob wrapped for another container fails ([`AwsError::Api`]).
    pub fn unwrap(&self, arn: &str, blob: &[u8], container: &str) -> Result<Vec<u8>, AwsError> {
        self.require_enabled(arn)?;
        let (client, endpoint) = self.client(arn);
        let req = client
            .decrypt()
            .key_id(arn)
            .ciphertext_blob(Blob::new(blob))
            .encryption_context(CONTAINER_CONTEXT_KEY, container);
        let out = self
            .run(req.send())?
            .map_err(|e| classify(e, arn, &endpoint))?;
        match out.plaintext {
            Some(pt) => Ok(pt.into_inner()),
            None => Err(api(arn, "Decrypt returned no plaintext")),
        }
    }

    /// `GetKeyPolicy` (policy `default`): the policy must allow `principal`
    /// every action of [`REQUIRED_ACTIONS`];
    /// [`AwsError::PolicyMissing`] lists the actions it does not.
    pub fn check_policy(&self, arn: &str, principal: &str) -> Result<(), AwsError> {
        let (client, endpoint) = self.client(arn);
        let req = client.get_key_policy().key_id(arn).policy_name("default");
        let out = self
            .run(req.send())?
            .map_err(|e| classify(e, arn, &endpoint))?;
        let text = out.policy().unwrap_or_default();
        let actions = policy::missing_actions(text, principal, &REQUIRED_ACTIONS)
            .map_err(|e| api(arn, &e))?;
        if actions.is_empty() {
            Ok(())
        } else {
            Err(AwsError::PolicyMissing {
                key: arn.to_string(),
                principal: principal.into(),
                actions,
            })
        }
    }

    fn require_enabled(&self, arn: &str) -> Result<(), AwsError> {
        let info = self.describe(arn)?;
        if info.status().is_active() {
            Ok(())
        } else {
            Err(AwsError::KeyNotUsable {
                key: arn.to_string(),
                status: info.status(),
                state: info.key_state,
            })
        }
    }

    /// The client for the ARN's region (the default region if the ARN does
    /// not parse), and the endpoint to name in errors.
    fn client(&self, arn: &str) -> (Client, String) {
        let parsed = parse_kms_key_arn(arn).ok();
        let region = parsed
            .as_ref()
            .map(|a| a.region.clone())
            .or_else(|| self.sdk.region().map(|r| r.to_string()))
            .unwrap_or_default();
        let domain = match parsed.as_ref().map(|a| a.partition.as_str()) {
            Some("aws-cn") => "amazonaws.com.cn",
            _ => "amazonaws.com",
        };
        let endpoint = match (&self.endpoint, region.as_str()) {
            (Some(e), _) => e.clone(),
            (None, "") => "AWS KMS (no region configured)".to_string(),
            (None, r) => format!("https://kms.{r}.{domain}"),
        };
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = clients.entry(region.clone()).or_insert_with(|| {
            let mut conf = aws_sdk_kms::config::Builder::from(&self.sdk);
            if !region.is_empty() {
                conf = conf.region(Region::new(region.clone()));
            }
            Client::from_conf(conf.build())
        });
        (client.clone(), endpoint)
    }

    fn run<F: Future>(&self, fut: F) -> Result<F::Output, AwsError> {
        match &self.rt {
            Some(rt) => Ok(rt.block_on(fut)),
            None => Err(api("", "AWS KMS client is shut down")),
        }
    }
}

/// What to do about an unreachable endpoint, from the failure's text.
fn unreachable_hint(cause: &str) -> &'static str {
    let c = cause.to_ascii_lowercase();
    if c.contains("credential") {
        "Configure AWS credentials for the provider and CLI (a profile via aws_profile / \
         KEYSHIFT_AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and retry"
    } else if c.contains("region") {
        "Set a region (aws_region / KEYSHIFT_AWS_REGION / AWS_REGION) or use the key's full ARN, and retry"
    } else if c.contains("timeout") || c.contains("timed out") {
        "The endpoint did not answer in time: check the network path to it and retry"
    } else {
        "Check that the endpoint URL is right (aws_endpoint / KEYSHIFT_AWS_ENDPOINT / \
         AWS_ENDPOINT_URL_KMS) and that it is up and reachable from this machine, then retry"
    }
}

/// What went wrong with a call AWS did not answer, in words: the kind of
/// failure, then its causes.
fn sdk_failure<E, R>(e: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    let what = match e {
        SdkError::DispatchFailure(_) => "the request could not be sent",
        SdkError::TimeoutError(_) => "the request timed out",
        SdkError::ResponseError(_) => "the response could not be read",
        SdkError::ConstructionFailure(_) => "the request could not be built",
        _ => "the call failed",
    };
    match std::error::Error::source(e) {
        Some(src) => format!("{what}: {}", error_chain(src)),
        None => what.to_string(),
    }
}

/// An error and its sources as one line (`a: b: c`), from their `Display`
/// texts only (never `Debug` dumps), skipping a source whose text the
/// previous level already shows.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let text = text.trim();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(text)) {
            parts.push(text.to_string());
        }
        cur = err.source();
    }
    if parts.is_empty() {
        "unknown failure".to_string()
    } else {
        parts.join(": ")
    }
}

fn api(arn: &str, message: &str) -> AwsError {
    AwsError::Api {
        key: arn.to_string(),
        message: message.to_string(),
    }
}

/// Service errors are AWS's answer (`NotFoundException` → NotFound, others
/// → Api); everything else (connect, timeout, credentials, bad response)
/// means the endpoint could not be used → Unreachable.
fn classify<E, R>(e: SdkError<E, R>, arn: &str, endpoint: &str) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    match &e {
        SdkError::ServiceError(_) => {
            let code = e.code().unwrap_or("UnknownError");
            if code == "NotFoundException" {
                AwsError::NotFound {
                    key: arn.to_string(),
                }
            } else {
                api(
                    arn,
                    &format!("{code}: {}", e.message().unwrap_or("no message")),
                )
            }
        }
        _ => AwsError::Unreachable {
            endpoint: endpoint.to_string(),
            key: arn.to_string(),
            cause: sdk_failure(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |inner, t| Some(Layer(t, inner.map(Box::new))))
            .unwrap_or(Layer("", None))
    }

    #[test]
    fn error_chains_read_as_one_sentence_without_repeats() {
        let cases: Vec<(&str, Vec<&'static str>, &str)> = vec![
            ("one level", vec!["io error"], "io error"),
            (
                "nested",
                vec![
                    "io error",
                    "tcp connect error",
                    "Connection refused (os error 111)",
                ],
                "io error: tcp connect error: Connection refused (os error 111)",
            ),
            (
                "a level repeating its source is shown once",
                vec!["connect failed: refused", "refused"],
                "connect failed: refused",
            ),
            ("empty texts are skipped", vec!["", "timeout"], "timeout"),
        ];
        for (name, texts, want) in cases {
            assert_eq!(error_chain(&chain(&texts)), want, "{name}");
        }
    }

    #[test]
    fn unreachable_messages_say_what_to_do() {
        let cases = [
            (
                "refused",
                "Connection refused",
                "Check that the endpoint URL is right",
            ),
            (
                "credentials",
                "no credentials in the chain",
                "Configure AWS credentials",
            ),
            ("timeout", "operation timeout", "did not answer in time"),
            ("region", "no region was configured", "Set a region"),
        ];
        for (name, cause, hint) in cases {
            let e = AwsError::Unreachable {
                endpoint: "http://127.0.0.1:1".into(),
                key: "arn:aws:kms:us-east-1:1:key/k".into(),
                cause: cause.into(),
            };
            let text = e.to_string();
            assert!(
                text.starts_with("cannot reach AWS KMS at http://127.0.0.1:1 for key arn:aws:kms:us-east-1:1:key/k"),
                "{name}: {text}"
            );
            assert!(text.contains(hint), "{name}: {text}");
        }
    }
}
