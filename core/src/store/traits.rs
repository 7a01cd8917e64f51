//! The storage trait: what any key store backend (embedded SQLite today, a
//! networked database later) must provide.
//!
//! # Design: closure-based transactions
//!
//! A backend offers exactly two entry points, [`KeyStore::read`] and
//! [`KeyStore::write`]. Each runs a caller-supplied closure against a
//! record-level view ([`StoreReader`] / [`StoreTx`]) inside **one**
//! transaction:
//!
//! - `write` holds the store's write lock for the whole closure (SQLite:
//!   `BEGIN IMMEDIATE`), so the domain rules checked by the engine and the
//!   changes they allow happen atomically — nobody can rotate a key between
//!   the moment `move_key` reads its versions and the moment it re-seals them.
//!   If the closure returns an error, **nothing** it did is kept.
//! - `read` sees one consistent snapshot of committed data. It never takes
//!   the write lock and never waits for a writer: a write transaction in
//!   progress (in this process or any other) neither blocks nor fails a
//!   read, which sees the data as of the last commit (SQLite: a WAL reader
//!   on a connection of its own; PostgreSQL: a plain `READ ONLY` snapshot).
//! - `try_write` is `write` for work that may be put off (purging what is
//!   due): it runs only when the write lock is free at that moment, and
//!   otherwise returns at once without running the closure.
//!
//! Opening a store follows the same rule: an established store whose
//! schema is current and whose master key checks out opens with reads
//! only; the write lock is taken only to create or upgrade a store.
//!
//! Compound operations therefore need no dedicated trait method: the engine
//! composes them from record operations, and a new backend only implements
//! the record operations plus the two transaction wrappers. The closure is
//! passed as `&mut dyn FnMut`, which keeps the trait object-safe
//! (`Arc<dyn KeyStore>`); a backend may call it more than once (e.g. to retry
//! after a serialization failure), so closures must not have side effects
//! outside the transaction. [`read_with`] and [`write_with`] are the typed
//! helpers callers use.
//!
//! # Error contract
//!
//! Every method returns [`StoreResult`]:
//! - a failed `write` (closure error or backend error) leaves the store
//!   exactly as it was;
//! - lookups of a missing object return `Ok(None)` (the engine turns that
//!   into [`StoreError::NotFound`]); updates and deletes of a missing object
//!   return [`StoreError::NotFound`];
//! - inserting a duplicate id or unique name returns
//!   [`StoreError::AlreadyExists`];
//! - deleting an instance or container that still holds keys returns
//!   [`StoreError::Conflict`];
//! - another writer holding the lock past the backend's timeout returns
//!   [`StoreError::Busy`] from `write` only: `read` never returns it because
//!   of a writer, and `try_write` answers `Ok(false)` instead of waiting;
//!   other backend failures return [`StoreError::Database`];
//! - messages never contain key material (records only carry sealed blobs).

use crate::store::WrappingStrategy;
use crate::store::{Alias, AuditEntry, Container, Instance, Key, StoreError, StoreResult};

/// A container's record: its wrapped root key and migration lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    /// Which container.
    pub container: Container,
    /// How the root key is wrapped.
    pub wrapping: WrappingStrategy,
    /// The root key, wrapped (never the plaintext root key).
    pub wrapped_root_key: Vec<u8>,
    /// For `external` wrapping: the AWS KMS key ARN (EKMS work).
    pub external_key_arn: Option<String>,
    /// Set while a migration holds the container.
    pub migrating: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// One key version: sealed material (never plaintext).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedVersion {
    /// The key this version belongs to.
    pub key_id: String,
    /// The version id.
    pub version_id: String,
    /// 1 for the first version, increasing.
    pub seq: i64,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Material sealed under the container root key (AAD `<key id>/<version id>`).
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedVersion")
            .field("key_id", &self.key_id)
            .field("version_id", &self.version_id)
            .field("seq", &self.seq)
            .field("created_at", &self.created_at)
            .field("sealed", &format_args!("<{} bytes>", self.sealed.len()))
            .finish()
    }
}

/// An audit entry to append (the store assigns `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// RFC 3339 time.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What (e.g. `key.create`).
    pub action: String,
    /// Object id.
    pub object: String,
    /// `ok` or an error summary.
    pub outcome: String,
    /// Extra context.
    pub detail: String,
}

/// Read access inside a transaction (see the module docs for the contract).
pub trait StoreReader {
    /// The instance with that id.
    fn instance(&self, id: &str) -> StoreResult<Option<Instance>>;
    /// The instance with that name.
    fn instance_by_name(&self, name: &str) -> StoreResult<Option<Instance>>;
    /// All instances, by creation time then id.
    fn instances(&self) -> StoreResult<Vec<Instance>>;
    /// The container record.
    fn container(&self, container: &Container) -> StoreResult<Option<ContainerRecord>>;
    /// The key with that id; `aliases`, `version_count` and
    /// `last_rotation_date` are filled in.
    fn key(&self, id: &str) -> StoreResult<Option<Key>>;
    /// All keys (of one container, or all), by creation time then id.
    fn keys(&self, container: Option<&Container>) -> StoreResult<Vec<Key>>;
    /// Number of keys (any state) in a container.
    fn count_keys(&self, container: &Container) -> StoreResult<i64>;
    /// All versions of a key, oldest first.
    fn versions(&self, key_id: &str) -> StoreResult<Vec<SealedVersion>>;
    /// One version of a key.
    fn version(&self, key_id: &str, version_id: &str) -> StoreResult<Option<SealedVersion>>;
    /// The alias with that name.
    fn alias(&self, name: &str) -> StoreResult<Option<Alias>>;
    /// The newest `limit` audit entries, newest first.
    fn audit(&self, limit: usize) -> StoreResult<Vec<AuditEntry>>;
    // -- ekms
    /// The EKMS configuration of a container.
    fn ekms_config(&self, container: &Container) -> StoreResult<Option<crate::store::EkmsConfig>>;
    /// Every EKMS configuration, by container id.
    fn ekms_configs(&self) -> StoreResult<Vec<crate::store::EkmsConfig>>;
    // -- secrets
    /// The secret with that id; `versions` is filled in (oldest first).
    fn secret(&self, id: &str) -> StoreResult<Option<crate::store::Secret>>;
    /// The secret called `name` in `container`.
    fn secret_by_name(
        &self,
        container: &Container,
        name: &str,
    ) -> StoreResult<Option<crate::store::Secret>>;
    /// All secrets (of one container, or all), by creation time then id.
    fn secrets(&self, container: Option<&Container>) -> StoreResult<Vec<crate::store::Secret>>;
    /// Number of secrets in a container.
    fn count_secrets(&self, container: &Container) -> StoreResult<i64>;
    /// All sealed versions of a secret, oldest first.
    fn secret_versions(
        &self,
        secret_id: &str,
    ) -> StoreResult<Vec<crate::store::SealedSecretVersion>>;
    // -- break glass
    /// The break-glass grant with that id.
    fn grant(&self, id: &str) -> StoreResult<Option<crate::store::GrantRecord>>;
    /// All break-glass grants, by creation time then id.
    fn grants(&self) -> StoreResult<Vec<crate::store::GrantRecord>>;
    // -- migration runs
    /// Every recorded migration run, oldest first.
    fn migration_runs(&self) -> StoreResult<Vec<crate::store::MigrationRun>>;
    // -- tombstones (what store moves took out of this store)
    /// The tombstone of the object `id` of `kind`, if one was left.
    fn tombstone(
        &self,
        kind: crate::store::TombstoneKind,
        id: &str,
    ) -> StoreResult<Option<crate::store::Tombstone>>;
    /// Every tombstone, by kind then id.
    fn tombstones(&self) -> StoreResult<Vec<crate::store::Tombstone>>;
    // -- paging (a migration run walks a container without loading it whole)
    /// Up to `limit` ids of `container`'s keys greater than `after`, in id
    /// order. The default filters [`StoreReader::keys`]; a backend should
    /// answer it with one bounded query.
    fn key_ids_page(
        &self,
        container: &Container,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let ids = self.keys(Some(container))?.into_iter().map(|k| k.id);
        Ok(page(ids, after, limit))
    }
    /// Every key with a deletion date (scheduled for deletion): what the
    /// purge on open looks at, without loading every key. The default
    /// filters [`StoreReader::keys`].
    fn keys_with_deletion_date(&self) -> StoreResult<Vec<Key>> {
        let mut keys = self.keys(None)?;
        keys.retain(|k| k.deletion_date.is_some());
        Ok(keys)
    }
    /// The secrets of `container` sealed by key `key_id` (by creation time
    /// then id): what a move of that key carries. The default filters
    /// [`StoreReader::secrets`]; a backend should answer it with one query.
    fn secrets_sealed_by(
        &self,
        container: &Container,
        key_id: &str,
    ) -> StoreResult<Vec<crate::store::Secret>> {
        let mut secrets = self.secrets(Some(container))?;
        secrets.retain(|s| s.encryption_key_id == key_id);
        Ok(secrets)
    }
    /// Like [`StoreReader::key_ids_page`] for secrets.
    fn secret_ids_page(
        &self,
        container: &Container,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let ids = self.secrets(Some(container))?.into_iter().map(|s| s.id);
        Ok(page(ids, after, limit))
    }
}

/// The default paging: the `limit` smallest ids greater than `after`.
fn page(ids: impl Iterator<Item = String>, after: Option<&str>, limit: usize) -> Vec<String> {
    let mut ids: Vec<String> = ids
        .filter(|id| after.is_none_or(|a| id.as_str() > a))
        .collect();
    ids.sort();
    ids.truncate(limit);
    ids
}

/// Write access inside a write transaction (see the module docs).
pub trait StoreTx: StoreReader {
    /// Inserts an instance; duplicate id or name → `AlreadyExists`.
    fn insert_instance(&mut self, instance: &Instance) -> StoreResult<()>;
    /// Replaces an instance's fields; missing → `NotFound`.
    fn update_instance(&mut self, instance: &Instance) -> StoreResult<()>;
    /// Deletes an instance; missing → `NotFound`; keys in its container → `Conflict`.
    fn delete_instance(&mut self, id: &str) -> StoreResult<()>;
    /// Inserts or replaces a container record.
    fn put_container(&mut self, record: &ContainerRecord) -> StoreResult<()>;
    /// Deletes a container record; missing → `NotFound`; holds keys → `Conflict`.
    fn delete_container(&mut self, container: &Container) -> StoreResult<()>;
    /// Inserts a key's metadata (`aliases`/`version_count` ignored);
    /// duplicate id → `AlreadyExists`; unknown container → `NotFound`.
    fn insert_key(&mut self, key: &Key) -> StoreResult<()>;
    /// Replaces a key's metadata (including its container); missing → `NotFound`.
    fn update_key(&mut self, key: &Key) -> StoreResult<()>;
    /// Deletes a key with its versions and aliases; missing → `NotFound`.
    fn delete_key(&mut self, id: &str) -> StoreResult<()>;
    /// Inserts or replaces a version; unknown key → `NotFound`.
    fn put_version(&mut self, version: &SealedVersion) -> StoreResult<()>;
    /// Inserts an alias; duplicate → `AlreadyExists`; unknown key → `NotFound`.
    fn insert_alias(&mut self, alias: &Alias) -> StoreResult<()>;
    /// Re-points an alias; missing → `NotFound`.
    fn update_alias(&mut self, alias: &Alias) -> StoreResult<()>;
    /// Deletes an alias; missing → `NotFound`.
    fn delete_alias(&mut self, name: &str) -> StoreResult<()>;
    /// Appends an audit entry, returning its sequence number.
    fn append_audit(&mut self, entry: &NewAuditEntry) -> StoreResult<i64>;
    // -- ekms
    /// Inserts or replaces a container's EKMS configuration; unknown
    /// container → `NotFound`.
    fn put_ekms_config(&mut self, config: &crate::store::EkmsConfig) -> StoreResult<()>;
    /// Deletes a container's EKMS configuration; missing → `NotFound`.
    fn delete_ekms_config(&mut self, container: &Container) -> StoreResult<()>;
    // -- secrets
    /// Inserts a secret's metadata (`versions` ignored); duplicate id or
    /// name in the container → `AlreadyExists`; unknown container → `NotFound`.
    fn insert_secret(&mut self, secret: &crate::store::Secret) -> StoreResult<()>;
    /// Replaces a secret's metadata (including its container); missing →
    /// `NotFound`; name taken in the container → `AlreadyExists`.
    fn update_secret(&mut self, secret: &crate::store::Secret) -> StoreResult<()>;
    /// Deletes a secret with its versions; missing → `NotFound`.
    fn delete_secret(&mut self, id: &str) -> StoreResult<()>;
    /// Inserts or replaces a secret version; unknown secret → `NotFound`.
    fn put_secret_version(
        &mut self,
        version: &crate::store::SealedSecretVersion,
    ) -> StoreResult<()>;
    // -- break glass
    /// Inserts a grant; duplicate id → `AlreadyExists`.
    fn insert_grant(&mut self, grant: &crate::store::GrantRecord) -> StoreResult<()>;
    /// Stores a grant's mutable fields (`credential_secret_id`,
    /// `revoked_at`, `pending_repair`); missing → `NotFound`.
    fn update_grant(&mut self, grant: &crate::store::GrantRecord) -> StoreResult<()>;
    // -- migration runs
    /// Inserts or replaces a migration run record.
    fn put_migration_run(&mut self, run: &crate::store::MigrationRun) -> StoreResult<()>;
    // -- tombstones
    /// Inserts or replaces the tombstone of (`kind`, `id`); the object
    /// itself need not exist (it usually was just deleted).
    fn put_tombstone(&mut self, tombstone: &crate::store::Tombstone) -> StoreResult<()>;
    /// Removes the tombstones of every (`kind`, `id`) of `names`, returning
    /// how many there were: unlike other deletes, a missing tombstone is not
    /// an error (objects arriving usually have none). A backend should
    /// answer it with one statement, whatever the number of names.
    fn clear_tombstones(
        &mut self,
        names: &[(crate::store::TombstoneKind, String)],
    ) -> StoreResult<u64>;
}

/// A durable, transactional key store (see the module docs for the contract).
pub trait KeyStore: Send + Sync {
    /// Runs `f` on one consistent snapshot.
    fn read(&self, f: &mut dyn FnMut(&dyn StoreReader) -> StoreResult<()>) -> StoreResult<()>;
    /// Runs `f` in one write transaction: committed if `f` returns `Ok`,
    /// otherwise rolled back (nothing changes) and the error returned.
    fn write(&self, f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>) -> StoreResult<()>;
    /// Like [`KeyStore::write`] when the write lock is free right now;
    /// `Ok(false)`, without running `f` and without waiting, when another
    /// writer (of this process or another) holds it. `Ok(true)`: `f` ran and
    /// was committed.
    fn try_write(
        &self,
        f: &mut dyn FnMut(&mut dyn StoreTx) -> StoreResult<()>,
    ) -> StoreResult<bool>;
    /// Where the store lives, for messages (e.g. the database path).
    fn location(&self) -> String;
}

/// Runs `f` in a read snapshot of `store` and returns its value.
pub fn read_with<T>(
    store: &dyn KeyStore,
    mut f: impl FnMut(&dyn StoreReader) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut out = None;
    store.read(&mut |r| {
        out = Some(f(r)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::database("read transaction did not run"))
}

/// Runs `f` in one write transaction of `store` and returns its value.
pub fn write_with<T>(
    store: &dyn KeyStore,
    mut f: impl FnMut(&mut dyn StoreTx) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut out = None;
    store.write(&mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::database("write transaction did not run"))
}

/// Runs `f` in one write transaction of `store` if the write lock is free
/// right now ([`KeyStore::try_write`]): `Ok(None)` when another writer holds
/// it (nothing ran).
pub fn try_write_with<T>(
    store: &dyn KeyStore,
    mut f: impl FnMut(&mut dyn StoreTx) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut out = None;
    if !store.try_write(&mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })? {
        return Ok(None);
    }
    out.map(Some)
        .ok_or_else(|| StoreError::database("write transaction did not run"))
}
