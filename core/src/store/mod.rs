//! The key store: data model, error contract, storage trait and its
//! implementations.
//!
//! - [`model`]: the objects (instances, keys, aliases, audit entries).
//! - [`error`]: [`StoreError`], the one error type (any error ⇒ no change).
//! - [`traits`]: [`KeyStore`], the small object-safe storage trait a
//!   networked database can implement later.
//! - [`location`]: [`StoreLocation`] and [`open`], the one way to open a
//!   store (it picks the backend).
//! - [`sqlite`]: [`SqliteStore`], the embedded implementation.
//! - [`postgres`]: [`PostgresStore`], the shared implementation.
//! - [`trust`]: the master-key rule both backends apply on open.
//! - [`crypto`]: root key wrapping, sealing of material.
//! - [`master_key`]: the master key file and its check value.
//! - [`keygen`]: real key generation per spec and the spec/usage rule.
//! - [`tombstone`]: what a store move leaves where an object used to be.
//! - [`conformance`]: the suite every [`KeyStore`] implementation must pass.

pub mod break_glass;
pub mod conformance;
pub mod conformance_break_glass;
pub mod conformance_concurrency;
pub mod conformance_ekms;
pub mod conformance_paging;
pub mod conformance_readers;
pub mod conformance_secrets;
pub mod conformance_suite;
pub mod conformance_tombstones;
pub mod crypto;
pub mod error;
pub mod keygen;
pub mod location;
mod location_text;
pub mod master_key;
pub mod migration_run;
pub mod model;
pub mod postgres;
mod postgres_paging;
mod postgres_records;
mod postgres_schema;
pub mod postgres_test_support;
mod postgres_tls;
mod postgres_tombstones;
mod postgres_tx;
mod postgres_write;
pub mod sqlite;
mod sqlite_break_glass;
mod sqlite_ekms;
mod sqlite_migration_runs;
mod sqlite_paging;
mod sqlite_secrets;
mod sqlite_tombstones;
mod sqlite_trust;
mod sqlite_tx;
pub mod tombstone;
pub mod traits;
pub mod trust;

pub use break_glass::GrantRecord;
pub use error::{DbError, MovedObject, StoreError, StoreResult};
pub use location::{OpenOptions, OpenedStore, StoreLocation, open};
pub use migration_run::MigrationRun;
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use tombstone::{Tombstone, TombstoneKind};
pub use traits::{
    ContainerRecord, KeyStore, NewAuditEntry, SealedVersion, StoreReader, StoreTx, read_with,
    try_write_with, write_with,
};
