//! Where a key store lives, and the one function that opens it.
//!
//! Every caller (the provider's `store_path`/`store_url`, the CLI's
//! `--store`, a store → store migration's two sides) names a store with
//! one string and opens it with [`open`]; nothing else probes for the
//! embedded store's files or picks a backend.
//!
//! - `postgres://…` or `postgresql://…`: the shared PostgreSQL store (a
//!   libpq-style URL; TLS options as query parameters, e.g.
//!   `?sslmode=verify-full&sslrootcert=/etc/ssl/pg-root.crt`), or the same
//!   written as libpq's keyword/value connection string (`host=db
//!   port=5432 user=ks dbname=keyshift sslmode=verify-full`). Its master
//!   key is never beside it: [`OpenOptions`] names a key file or a wrapper.
//! - `sqlite:PATH` or a plain `PATH`: the embedded store in directory
//!   `PATH` (`keyshift.db` and, unless a key file is named, its
//!   `master.key`).
//! - Nothing else: a text that starts like a URL (`scheme:`) or like a
//!   connection string (`word=`) but is not a valid one is refused, so a
//!   mistyped database location never becomes a new, empty embedded store
//!   (with a new master key) in a directory named after it. A password is
//!   shown as `***` in every message, whichever form holds it.
//!
//! Both backends apply one master-key rule on open ([`crate::store::trust`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::store::crypto::{RootKeyWrapper, SecretKey32};
use crate::store::location_text;
pub use crate::store::location_text::redact_password;
use crate::store::sqlite::missing_store;
use crate::store::trust::MasterSource;
use crate::store::{KeyStore, PostgresStore, SqliteStore, StoreError, StoreResult};

/// A parsed store location.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded store in this directory.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user@host:port/db?…`).
    /// Shown with its password redacted.
    Postgres(String),
}

impl StoreLocation {
    /// Parses a location string: the one place that decides which backend
    /// a text names (see the module docs).
    ///
    /// - `postgres://…` / `postgresql://…` (scheme in any case): the shared
    ///   store;
    /// - a keyword/value connection string (`host=… dbname=…`: it starts
    ///   with `word=`): the shared store, every parameter checked here;
    /// - `sqlite:PATH` (or `sqlite://PATH`): the embedded store in `PATH`;
    /// - anything else that starts like a URL (`scheme:`, e.g. the
    ///   one-slash `postgres:/…`) is refused, never taken as a directory;
    /// - any other text is a directory path (write `./name` for a directory
    ///   whose name starts with `word:` or `word=`).
    ///
    /// Errors are `Invalid { field: "store" }` and show the text with any
    /// password hidden.
    pub fn parse(text: &str) -> StoreResult<StoreLocation> {
        let text = text.trim();
        let invalid = |message: String| StoreError::Invalid {
            field: "store",
            message,
        };
        if text.is_empty() {
            return Err(invalid("the store location is empty".into()));
        }
        if location_text::is_keyword_form(text) {
            return match location_text::keyword_pairs(text) {
                Ok(_) => Ok(StoreLocation::Postgres(text.to_string())),
                Err(why) => Err(invalid(format!(
                    "{} is not a valid PostgreSQL connection string: {why}",
                    redact_password(text)
                ))),
            };
        }
        let Some((scheme, rest)) = location_text::url_scheme(text) else {
            return Ok(StoreLocation::Sqlite(PathBuf::from(text)));
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(invalid("`sqlite:` needs a directory path after it".into()));
                }
                Ok(StoreLocation::Sqlite(PathBuf::from(path)))
            }
            "postgres" | "postgresql" if rest.starts_with("//") => {
                Ok(StoreLocation::Postgres(format!("{scheme}:{rest}")))
            }
            "postgres" | "postgresql" => Err(invalid(format!(
                "{} is not a valid PostgreSQL URL: it needs `{scheme}://` \
                 (postgres://user@host:port/db)",
                redact_password(text)
            ))),
            _ => Err(invalid(format!(
                "{} names an unknown store scheme `{scheme}:`; use postgres://…, a \
                 PostgreSQL connection string (host=… dbname=…), sqlite:PATH or a directory \
                 path (./{scheme}:… for a directory whose name holds a colon)",
                redact_password(text)
            ))),
        }
    }

    /// The embedded store in `dir`.
    pub fn dir(dir: &Path) -> StoreLocation {
        StoreLocation::Sqlite(dir.to_path_buf())
    }

    /// True for the shared (PostgreSQL) store.
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreLocation::Postgres(_))
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(dir) => write!(f, "{}", dir.display()),
            StoreLocation::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

/// How to open a store.
#[derive(Clone, Default)]
pub struct OpenOptions {
    /// Create the store when it does not exist yet (the provider does; the
    /// CLI and a migration's source do not: a missing store is an error
    /// naming the location, and nothing is created).
    pub create: bool,
    /// The master key file to use instead of the embedded store's own
    /// `master.key`; required for a shared (PostgreSQL) store unless
    /// `master_key_wrapper` is set. Created (0600) only together with a new,
    /// empty store; its directory must exist.
    pub master_key_file: Option<PathBuf>,
    /// Instead of a key file: the master key is kept in the store, wrapped
    /// by this wrapper (e.g. an AWS KMS key), row `master_key_wrapped` of
    /// `store_meta`. A new store gets a fresh master key wrapped by it; an
    /// established one opens only when the wrapper unwraps its blob to the
    /// key the store was created with.
    pub master_key_wrapper: Option<Arc<dyn RootKeyWrapper>>,
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenOptions")
            .field("create", &self.create)
            .field("master_key_file", &self.master_key_file)
            .field(
                "master_key_wrapper",
                &self.master_key_wrapper.as_ref().map(|w| w.strategy()),
            )
            .finish()
    }
}

/// An opened store with its verified master key.
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn KeyStore>,
    /// Its master key, verified against the store (or just created with it).
    pub master: SecretKey32,
    /// Problems to tell the user about (open permissions); not errors.
    pub warnings: Vec<String>,
}

/// Opens the store at `location`, applying the master-key rule (see
/// [`crate::store::trust`]) with the key named by `opts`.
///
/// Errors: `NoStore` when it does not exist and `opts.create` is false;
/// `Invalid { field: "master_key_file" }` when both a key file and a
/// wrapper are given, or when a shared store is opened with neither; the
/// master-key errors (`MasterKeyMissing`, `MasterKeyMismatch`,
/// `MasterKeyInvalid`); `Busy` when another process holds the store's
/// lock too long. Any error means nothing was created or changed (except a
/// store directory created for a new embedded store).
pub fn open(location: &StoreLocation, opts: &OpenOptions) -> StoreResult<OpenedStore> {
    if opts.master_key_file.is_some() && opts.master_key_wrapper.is_some() {
        return Err(StoreError::Invalid {
            field: "master_key_file",
            message: "name either a master key file or a wrapped master key, not both".into(),
        });
    }
    let wrapper = opts.master_key_wrapper.as_deref();
    match location {
        StoreLocation::Sqlite(dir) => {
            if !opts.create {
                if let Some(why) = missing_store(dir) {
                    return Err(StoreError::NoStore {
                        location: location.to_string(),
                        why,
                    });
                }
            }
            let own = dir.join(crate::store::crypto::MASTER_KEY_FILE);
            let source = match (wrapper, &opts.master_key_file) {
                (Some(w), _) => MasterSource::Wrapped(w),
                (None, Some(file)) => MasterSource::File(file),
                (None, None) => MasterSource::File(&own),
            };
            let opened = SqliteStore::open_trusted_with(
                dir,
                source,
                crate::store::sqlite::DEFAULT_BUSY_TIMEOUT,
            )?;
            Ok(OpenedStore {
                store: Arc::new(opened.store),
                master: opened.master,
                warnings: opened.warnings,
            })
        }
        StoreLocation::Postgres(url) => {
            let (source, warnings) = match (wrapper, &opts.master_key_file) {
                (Some(w), _) => (MasterSource::Wrapped(w), Vec::new()),
                (None, Some(file)) => (
                    MasterSource::File(file),
                    crate::store::master_key::key_file_warnings(file),
                ),
                (None, None) => {
                    return Err(StoreError::Invalid {
                        field: "master_key_file",
                        message: format!(
                            "the shared store {location} keeps no master key file of its own: \
                             name one with the provider's `master_key_file`, \
                             KEYSHIFT_MASTER_KEY_FILE or the CLI's --master-key-file (it is \
                             created, mode 0600, with a new store), or wrap the master key \
                             with an AWS KMS key (`master_key_arn`, KEYSHIFT_MASTER_KEY_ARN, \
                             --master-key-arn)"
                        ),
                    });
                }
            };
            let opened = PostgresStore::open_trusted(
                url,
                source,
                opts.create,
                crate::store::postgres::DEFAULT_LOCK_TIMEOUT,
            )?;
            Ok(OpenedStore {
                store: Arc::new(opened.store),
                master: opened.master,
                warnings,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let cases: &[(&str, &str, Option<StoreLocation>)] = &[
            (
                "plain path",
                "./.keyshift",
                Some(StoreLocation::Sqlite("./.keyshift".into())),
            ),
            (
                "sqlite prefix",
                "sqlite:/tmp/s",
                Some(StoreLocation::Sqlite("/tmp/s".into())),
            ),
            (
                "sqlite url",
                "sqlite:///tmp/s",
                Some(StoreLocation::Sqlite("/tmp/s".into())),
            ),
            (
                "postgres",
                "postgres://u@127.0.0.1:5432/ks",
                Some(StoreLocation::Postgres(
                    "postgres://u@127.0.0.1:5432/ks".into(),
                )),
            ),
            (
                "postgresql",
                "postgresql://u@127.0.0.1/ks?sslmode=require",
                Some(StoreLocation::Postgres(
                    "postgresql://u@127.0.0.1/ks?sslmode=require".into(),
                )),
            ),
            (
                "scheme in capitals",
                "Postgres://u@h/ks",
                Some(StoreLocation::Postgres("postgres://u@h/ks".into())),
            ),
            (
                "keyword form",
                "host=127.0.0.1 port=5432 user=ks password=pw dbname=x",
                Some(StoreLocation::Postgres(
                    "host=127.0.0.1 port=5432 user=ks password=pw dbname=x".into(),
                )),
            ),
            (
                "keyword form, quoted value and spaces around =",
                "dbname = 'key store' host=h",
                Some(StoreLocation::Postgres(
                    "dbname = 'key store' host=h".into(),
                )),
            ),
            (
                "path with a colon written as ./",
                "./backup:2026",
                Some(StoreLocation::Sqlite("./backup:2026".into())),
            ),
            (
                "path with spaces",
                "/tmp/my store",
                Some(StoreLocation::Sqlite("/tmp/my store".into())),
            ),
            ("empty", "  ", None),
            ("bare sqlite", "sqlite:", None),
            ("unknown scheme", "mysql://h/db", None),
            ("one slash", "postgres:/ks@127.0.0.1/x", None),
            ("no slash", "postgresql:ks@127.0.0.1/x", None),
            ("other scheme without slashes", "file:/tmp/s", None),
            ("misspelt keyword", "hots=127.0.0.1 dbname=x", None),
            ("keyword without value", "host=h dbname", None),
            ("unterminated quote", "host=h password='pw", None),
            ("directory named like a keyword", "a=b", None),
        ];
        for (name, text, want) in cases {
            let got = StoreLocation::parse(text).ok();
            assert_eq!(&got, want, "{name}");
        }
    }

    #[test]
    fn display_redacts_the_password() {
        let cases = [
            ("postgres://u:pw@h:1/db?x=y", "postgres://u:***@h:1/db?x=y"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa/ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa?ss@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u@h/db?password=pw&x=1",
                "postgres://u@h/db?password=***&x=1",
            ),
            (
                "host=h user=u password=pw dbname=x",
                "host=h user=u password=*** dbname=x",
            ),
            (
                "host=h password = 'a b\\' c' dbname=x",
                "host=h password=*** dbname=x",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(
                StoreLocation::Postgres(url.into()).to_string(),
                want,
                "{url}"
            );
        }
    }

    #[test]
    fn refusals_hide_the_password() {
        for text in [
            "postgres:/ks:hunter2@127.0.0.1/x",
            "postgresql:ks:hunter2@127.0.0.1/x",
            "mysql://ks:hunter2@h/db",
            "hots=h password=hunter2",
            "host=h password=hunter2 dbnam=x",
            "host=h password=hunter2 tail",
            "host=h password='hunter2",
        ] {
            let err = StoreLocation::parse(text).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, StoreError::Invalid { field: "store", .. }),
                "{text}: {msg}"
            );
            assert!(!msg.contains("hunter2"), "{text}: {msg}");
        }
    }

    #[test]
    fn open_without_create_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let loc = StoreLocation::dir(&dir.path().join("none"));
        let err = open(&loc, &OpenOptions::default()).err().unwrap();
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!dir.path().join("none").exists());
    }
}

#[cfg(test)]
#[path = "open_tests.rs"]
mod open_tests;
