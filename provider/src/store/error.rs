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
        "migration in progress on {container}: management operations are refused until it completes"
    )]
    MigrationInProgress {
        /// The container being migrated.
        container: String,
    },
    /// Another process holds the store's write lock for too long.
    #[error("key store is busy (locked by another process): {0}")]
    Busy(String),
    /// The database failed.
    #[error("key store database error: {0}")]
    Database(String),
    /// Sealing, unsealing or key generation failed (no material in the message).
    #[error("cryptographic error: {0}")]
    Crypto(String),
    /// Filesystem problem (store directory, master key file).
    #[error("key store I/O error at {path}: {message}")]
    Io {
        /// The path involved.
        path: String,
        /// The OS error.
        message: String,
    },
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;
