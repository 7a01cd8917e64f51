//! The one error type of the store and engine.

/// What went wrong in a store or engine operation.
///
/// Contract: any error means nothing was changed (every mutation is one
/// transaction). Messages never contain key material or secret values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// `key`, `instance`, `alias`, ...
        kind: &'static str,
        /// The id or name looked up.
        id: String,
    },
    /// The object is not in this store because a store move took it to
    /// another one, which a tombstone left here names. Not "not found":
    /// whoever still points at this store must be told where the object
    /// went, never conclude that it is gone (and re-create it).
    #[error("{0}")]
    Moved(Box<MovedObject>),
    /// An object with that id or unique name already exists.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// `key`, `instance`, `alias`, ...
        kind: &'static str,
        /// The id or name.
        id: String,
    },
    /// An input value is not acceptable; `field` is the attribute name.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The attribute name (e.g. `deletion_window_in_days`).
        field: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// The operation conflicts with the object's state (deletion
    /// protection on, instance not empty, key pending deletion, quota full).
    #[error("{0}")]
    Conflict(String),
    /// A migration holds the container; retry when it has finished.
    #[error(
        "migration in progress on {container}{holder}: management operations are refused until it completes"
    )]
    MigrationInProgress {
        /// The container being migrated.
        container: String,
        /// Who holds the lock, e.g. ` (run mig-…, pid 42 on host, started …)`;
        /// empty when no run is recorded.
        holder: String,
    },
    /// The shared store's database server cannot be reached (down,
    /// refusing connections, network failure, connection lost): nothing
    /// about the request itself was judged, and nothing was changed. The
    /// [`DbError`] says which server and what the client saw.
    #[error("key store unreachable: {0}")]
    Unreachable(#[source] DbError),
    /// Another process holds the store's write lock for too long.
    #[error("key store is busy (locked by another process): {0}")]
    Busy(String),
    /// There is no key store at the location, and it was not to be
    /// created (the CLI, a migration's source, a preflight's target).
    #[error("key store {location} {why}")]
    NoStore {
        /// The location as given (passwords redacted).
        location: String,
        /// `does not exist`, `holds no key store (keyshift.db not found)`, …
        why: String,
    },
    /// This build or backend cannot do what was asked (e.g. a backend
    /// that is not available).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The database failed (or holds a value this build cannot read); the
    /// [`DbError`] keeps the backend's own error (`rusqlite::Error`,
    /// `postgres::Error`, …) as its source when there is one.
    #[error("key store database error: {0}")]
    Database(#[source] DbError),
    /// Sealing, unsealing or key generation failed (no material in the message).
    #[error("cryptographic error: {0}")]
    Crypto(String),
    /// The store holds data but its master key file is missing. Nothing was
    /// written: a new master key could never open the existing data.
    #[error(
        "the key store at {dir} holds data but its master key file {path} is missing; \
         restore the master.key this store was created with (from your backup) and retry. \
         Nothing was changed: a new master key would not open the existing keys"
    )]
    MasterKeyMissing {
        /// The store directory.
        dir: String,
        /// The expected master key file.
        path: String,
    },
    /// The master key file is not the one the store was created with.
    #[error(
        "the master key file {path} does not open the key store at {dir}: it is not the key \
         this store was created with (replaced or from another store); restore the right \
         master.key and retry. Nothing was changed"
    )]
    MasterKeyMismatch {
        /// The store directory.
        dir: String,
        /// The master key file.
        path: String,
    },
    /// The master key file exists but cannot be used (not a regular file,
    /// wrong size).
    #[error("master key file {path} is unusable: {problem}. Nothing was changed")]
    MasterKeyInvalid {
        /// The master key file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A container's wrapped root key does not open although the store's
    /// master key was verified: the stored root key itself is damaged.
    #[error(
        "the root key of container {container} is damaged in the key store (the store's \
         master key is the right one, verified on open, but does not unwrap it); restore \
         the key store from a backup"
    )]
    RootKeyDamaged {
        /// The container (`shared` or an instance id).
        container: String,
    },
    /// The store directory, or a file in it, cannot be read.
    #[error("key store {path} cannot be read: {error}")]
    Unreadable {
        /// The path that could not be read.
        path: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// Filesystem problem (store directory, master key file).
    #[error("key store I/O error at {path}: {message}")]
    Io {
        /// The path involved.
        path: String,
        /// The OS error.
        message: String,
    },
    /// A break-glass credential was refused: `why` says which rule (out of
    /// scope, permission not granted, expired, revoked, unknown).
    #[error("break-glass grant {grant} refused: {why}")]
    GrantRefused {
        /// The grant id (or `unknown`).
        grant: String,
        /// Which rule refused it.
        why: String,
    },
}

impl StoreError {
    /// A [`StoreError::Database`] without an underlying error.
    pub fn database(message: impl Into<String>) -> StoreError {
        StoreError::Database(DbError::from(message.into()))
    }

    /// A [`StoreError::Unreachable`] caused by `source`.
    pub fn unreachable(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Unreachable(DbError {
            message: message.into(),
            source: Some(Box::new(source)),
        })
    }

    /// A [`StoreError::Database`] caused by `source`.
    pub fn database_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Database(DbError {
            message: message.into(),
            source: Some(Box::new(source)),
        })
    }
}

/// What a database failure was: a message (useful on its own: it already
/// says what the backend said; no key material, no password) and the
/// backend's error as the source.
#[derive(Debug)]
pub struct DbError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl DbError {
    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for DbError {
    fn from(message: String) -> Self {
        DbError {
            message,
            source: None,
        }
    }
}

impl From<&str> for DbError {
    fn from(message: &str) -> Self {
        DbError::from(message.to_string())
    }
}

/// Where a store move took an object ([`StoreError::Moved`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} {id} was moved to the key store {to} at {at} (run {run_id}) and is no longer \
     in this store. Point the configuration at the new store: `store_url` in the \
     provider block, or KEYSHIFT_STORE (`--store` for the keyshift CLI)"
)]
pub struct MovedObject {
    /// `key`, `alias`, `secret`, `instance`, ...
    pub kind: &'static str,
    /// The id or name looked up.
    pub id: String,
    /// The store it went to (a directory or a URL, password masked).
    pub to: String,
    /// RFC 3339 time of the move.
    pub at: String,
    /// The migration run that moved it.
    pub run_id: String,
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;
