//! What the key-store commands (`encrypt`, `decrypt`, `sign`, `verify`,
//! `status`, `preflight`) share: where the store is, how to reach AWS KMS
//! for externally wrapped containers, reading stdin, and how engine errors
//! become exit codes.

use crate::cli::CliError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use keyshift_core::aws::AwsSettings;
use keyshift_core::engine::Kms;
use keyshift_core::engine::ekms_master::AwsMasterKeyWrapper;
use keyshift_core::engine::ekms_wrapper::{ExternalKeyService, LazyAwsKms};
use keyshift_core::store::StoreError;
use keyshift_core::store::crypto::RootKeyWrapper;
use keyshift_core::store::{OpenOptions, StoreLocation};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use thiserror::Error;

/// Environment variable naming the store (same as the provider).
pub const STORE_ENV: &str = "KEYSHIFT_STORE";
/// Default store directory, relative to the working directory.
pub const DEFAULT_STORE: &str = ".keyshift";
/// Actor recorded in the store's audit log for CLI operations.
pub const ACTOR: &str = "keyshift-cli";

/// The store: `--store`, else `KEYSHIFT_STORE`, else `./.keyshift`; a
/// directory path, `sqlite:PATH` or `postgres://…` (see
/// [`StoreLocation::parse`]). A malformed location is a usage error.
pub fn store_location(flag: Option<&Path>) -> Result<StoreLocation, CliError> {
    let raw = match flag {
        Some(p) => p.as_os_str().to_owned(),
        None => std::env::var_os(STORE_ENV)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_STORE.into()),
    };
    parse_location(&raw)
}

/// Parses one store location given on the command line or in the
/// environment; a path that is not UTF-8 is taken as a directory.
pub fn parse_location(raw: &std::ffi::OsStr) -> Result<StoreLocation, CliError> {
    match raw.to_str() {
        Some(text) => StoreLocation::parse(text).map_err(|e| CliError::Usage(e.to_string())),
        None => Ok(StoreLocation::dir(Path::new(raw))),
    }
}

/// Parses a boolean flag's value (from its environment variable, e.g.
/// `KEYSHIFT_LEGACY_SUPPORT`) with the provider's rule: true/false or 1/0.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    keyshift_core::engine::validate::boolean(text)
        .ok_or_else(|| format!("{text:?} is not a boolean (true, false, 1 or 0)"))
}

/// AWS KMS settings for externally wrapped (EKMS) containers; the same
/// environment variables as the provider. `AWS_ENDPOINT_URL_KMS`, the
/// standard credential chain and `AWS_REGION` are honoured by the SDK.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// Default AWS region (calls on a key ARN use the ARN's region).
    #[arg(long, env = "KEYSHIFT_AWS_REGION", value_name = "REGION")]
    pub aws_region: Option<String>,
    /// AWS KMS endpoint URL override (e.g. a local emulator).
    #[arg(long, env = "KEYSHIFT_AWS_ENDPOINT", value_name = "URL")]
    pub aws_endpoint: Option<String>,
    /// AWS shared-config profile.
    #[arg(long, env = "KEYSHIFT_AWS_PROFILE", value_name = "NAME")]
    pub aws_profile: Option<String>,
}

impl AwsArgs {
    /// The engine's AWS settings (empty values count as unset).
    pub fn settings(&self) -> AwsSettings {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        AwsSettings {
            region: some(&self.aws_region),
            endpoint: some(&self.aws_endpoint),
            profile: some(&self.aws_profile),
            credentials: None,
        }
    }

    /// A lazily connected AWS KMS client (no network access until an
    /// external container or health check needs it).
    pub fn service(&self) -> Arc<dyn ExternalKeyService> {
        Arc::new(LazyAwsKms::new(self.settings()))
    }
}

/// The master key named by `--master-key-file` / `KEYSHIFT_MASTER_KEY_FILE`
/// or `--master-key-arn` / `KEYSHIFT_MASTER_KEY_ARN` (set once, by `main`).
#[derive(Debug, Clone)]
enum MasterKey {
    /// A key file.
    File(PathBuf),
    /// An AWS KMS key wrapping the master key kept in the store.
    Arn(String),
}

static MASTER_KEY: OnceLock<MasterKey> = OnceLock::new();

/// Records the global master key options (empty values count as unset;
/// clap refuses both at once): every store the command opens through
/// [`open_existing`] or [`open_if_exists`] then uses that key instead of
/// the embedded store's own `master.key`. Only the first call counts.
pub fn use_master_key(file: Option<PathBuf>, arn: Option<String>) {
    let key = match (file, arn) {
        (Some(f), _) if !f.as_os_str().is_empty() => MasterKey::File(f),
        (_, Some(a)) if !a.is_empty() => MasterKey::Arn(a),
        _ => return,
    };
    let _ = MASTER_KEY.set(key);
}

/// How the CLI opens a store: never created, with the global master key
/// (a file, or an AWS KMS key reached through `aws`) when one is named.
/// Commands that name each store's key themselves (a store → store
/// migration) build their own and call [`open_existing_with`].
#[allow(clippy::needless_update)] // options added later keep their defaults
pub fn open_options(aws: &Arc<dyn ExternalKeyService>) -> OpenOptions {
    let (file, arn) = match MASTER_KEY.get() {
        Some(MasterKey::File(f)) => (Some(f.clone()), None),
        Some(MasterKey::Arn(a)) => (None, Some(a.as_str())),
        None => (None, None),
    };
    OpenOptions {
        create: false,
        master_key_file: file,
        master_key_wrapper: arn.map(|arn| {
            Arc::new(AwsMasterKeyWrapper::new(Arc::clone(aws), arn)) as Arc<dyn RootKeyWrapper>
        }),
        ..OpenOptions::default()
    }
}

/// Opens the existing store at `location`, able to unwrap externally wrapped
/// containers through `aws`. A directory without a key store (or one that
/// cannot be read) is an input error naming the path; nothing is created
/// there. Warnings (a master key or store directory open to group or
/// others) go to stderr.
pub fn open_existing(
    location: &StoreLocation,
    aws: &Arc<dyn ExternalKeyService>,
) -> Result<Kms, CliError> {
    open_existing_with(location, &open_options(aws), aws)
}

/// [`open_existing`] with explicit options (`opts.create` should be false).
pub fn open_existing_with(
    location: &StoreLocation,
    opts: &OpenOptions,
    aws: &Arc<dyn ExternalKeyService>,
) -> Result<Kms, CliError> {
    match Kms::open_location(location, opts, ACTOR) {
        Err(e @ StoreError::NoStore { .. }) => Err(CliError::Usage(format!(
            "{e} (choose one with --store or {STORE_ENV})"
        ))),
        opened => opened_kms(location, opened, aws),
    }
}

/// Like [`open_existing`], with `None` when there is no store at
/// `location` (nothing is created).
pub fn open_if_exists(
    location: &StoreLocation,
    aws: &Arc<dyn ExternalKeyService>,
) -> Result<Option<Kms>, CliError> {
    match Kms::open_location(location, &open_options(aws), ACTOR) {
        Err(StoreError::NoStore { .. }) => Ok(None),
        opened => opened_kms(location, opened, aws).map(Some),
    }
}

/// The opened service with `aws` for external keys, its warnings printed
/// to stderr; an open error names the location.
fn opened_kms(
    location: &StoreLocation,
    opened: Result<(Kms, Vec<String>), StoreError>,
    aws: &Arc<dyn ExternalKeyService>,
) -> Result<Kms, CliError> {
    let (kms, warnings) = opened.map_err(|e| {
        CliError::Kms(KmsFailure::new(
            format!("cannot open key store {location}"),
            e,
        ))
    })?;
    for w in &warnings {
        eprintln!("keyshift: warning: {w}");
    }
    Ok(kms.with_external_keys(Arc::clone(aws)))
}

/// Reads all of stdin (binary-safe).
pub fn read_all(input: &mut dyn Read, what: &str) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    input
        .read_to_end(&mut buf)
        .map_err(|e| CliError::Usage(format!("cannot read {what} from stdin: {e}")))?;
    Ok(buf)
}

/// Decodes standard base64, ignoring ASCII whitespace (line breaks from
/// `base64 -w76`, a trailing newline). `what` names the input in errors.
pub fn decode_b64(text: &[u8], what: &str) -> Result<Vec<u8>, CliError> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err(CliError::Usage(format!("{what} is empty")));
    }
    STANDARD
        .decode(&compact)
        .map_err(|e| CliError::Usage(format!("{what} is not valid base64: {e}")))
}

/// Encodes standard base64 (one line, no newline).
pub fn encode_b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A key-store operation that failed. The message says what was attempted
/// (naming the key); the source is the engine's error, which names the key
/// state or, for externally wrapped containers, the AWS key and its status.
/// Never contains plaintext or key material.
#[derive(Debug, Error)]
#[error("{context}")]
pub struct KmsFailure {
    context: String,
    #[source]
    source: StoreError,
}

impl KmsFailure {
    /// Wraps `source` with what was being done.
    pub fn new(context: impl Into<String>, source: StoreError) -> KmsFailure {
        KmsFailure {
            context: context.into(),
            source,
        }
    }

    /// The engine error.
    pub fn store_error(&self) -> &StoreError {
        &self.source
    }

    /// Exit code: 2 when the input was wrong (unknown key or alias, an
    /// object a store move took to another store, a key of the wrong usage,
    /// a malformed ciphertext, a store whose master key is missing or
    /// wrong, a store that cannot be read); 1 when a valid
    /// request could not be carried out (key disabled or pending deletion,
    /// external AWS key unusable, ciphertext fails authentication, store
    /// busy, a damaged root key).
    pub fn exit_code(&self) -> u8 {
        match self.source {
            StoreError::NotFound { .. }
            | StoreError::Moved(_)
            | StoreError::Invalid { .. }
            | StoreError::AlreadyExists { .. }
            | StoreError::MasterKeyMissing { .. }
            | StoreError::MasterKeyMismatch { .. }
            | StoreError::MasterKeyInvalid { .. }
            | StoreError::Unreadable { .. } => 2,
            _ => 1,
        }
    }
}

/// `map_err` helper: `context` for a [`StoreError`].
pub fn failed(context: impl Into<String>) -> impl FnOnce(StoreError) -> CliError {
    let context = context.into();
    move |e| CliError::Kms(KmsFailure::new(context, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_tolerates_whitespace_and_rejects_garbage() {
        let enc = encode_b64(b"\x00\x01binary\xff");
        let wrapped = format!(" {}\n{}\r\n", &enc[..5], &enc[5..]);
        assert_eq!(
            decode_b64(wrapped.as_bytes(), "x").ok(),
            Some(b"\x00\x01binary\xff".to_vec())
        );
        assert!(decode_b64(b"not base64!", "x").is_err());
        assert!(decode_b64(b" \n", "x").is_err());
    }

    #[test]
    fn exit_codes_follow_error_kind() {
        let nf = KmsFailure::new(
            "x",
            StoreError::NotFound {
                kind: "key",
                id: "k".into(),
            },
        );
        assert_eq!(nf.exit_code(), 2);
        let moved = StoreError::Moved(Box::new(keyshift_core::store::MovedObject {
            kind: "key",
            id: "k".into(),
            to: "/srv/b".into(),
            at: "2026-01-01T00:00:00Z".into(),
            run_id: "mig-1".into(),
        }));
        assert_eq!(KmsFailure::new("x", moved).exit_code(), 2);
        assert_eq!(
            KmsFailure::new("x", StoreError::Conflict("disabled".into())).exit_code(),
            1
        );
        assert_eq!(
            KmsFailure::new("x", StoreError::Crypto("tag".into())).exit_code(),
            1
        );
    }
}
