//! Domain rules over the key store.
//!
//! [`Kms`] is the facade the Terraform resources and the CLI call: it owns
//! the rules (quotas, usage, deletion window, migration rules, audit) and
//! runs every mutation as one store transaction.
//!
//! - [`kms`]: the facade, instances, aliases, audit.
//! - `kms_keys`: key lifecycle (create, update, deletion).
//! - [`deletion`]: deletion windows, purge of what is due, cancel/restore.
//! - [`duration`]: the one way durations (rotation interval, grant ttl) are written.
//! - `kms_material`: import, encrypt/decrypt.
//! - `kms_key_move`: in-place key moves between containers.
//! - [`key_dependents`]: a key never leaves a container while secrets there depend on it.
//! - [`rotation`]: the rotation rule, the due rule, on-demand and scheduled rotation.
//! - `kms_sign`: sign/verify with `SIGN/VERIFY` keys.
//! - [`migrate`]: container → container migration runs (select, lock, move, report).
//! - [`migration_lock`]: who holds a migration lock; taking over one left by a dead process.
//! - [`migration_rules`]: the single migration rule.
//! - [`store_migrate`]: store → store moves (plan, copy, verify, `--move`, resume).
//! - [`store_migrate_lock`]: the migration lock of a store → store move on both stores.
//! - [`tombstone`]: what a store move leaves where an object was, and lookups that say where it went.
//! - [`validate`]: input rules shared with plan-time validation.

pub mod break_glass;
mod break_glass_use;
pub mod deletion;
pub mod duration;
pub mod ekms_master;
pub mod ekms_wrapper;
pub mod key_dependents;
pub mod kms;
pub mod kms_ekms;
mod kms_key_move;
mod kms_keys;
mod kms_material;
mod kms_move_ends;
pub mod kms_rsa;
pub mod kms_secrets;
mod kms_sign;
pub mod migrate;
mod migrate_run;
pub mod migration_lock;
pub mod migration_rules;
pub mod preflight;
pub mod rotation;
pub mod secret_read;
pub mod store_migrate;
mod store_migrate_decide;
mod store_migrate_image;
pub mod store_migrate_lock;
mod store_migrate_records;
mod store_migrate_run;
pub mod tombstone;
pub mod validate;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_break_glass;
#[cfg(test)]
mod tests_deletion;
#[cfg(test)]
mod tests_ekms;
#[cfg(test)]
mod tests_key_dependents;
#[cfg(test)]
mod tests_locking;
#[cfg(test)]
mod tests_material;

pub use kms::Kms;
pub use kms_key_move::KeyMove;
