//! The one list of conformance checks, and the two ways it runs: as one
//! `#[test]` per check for every backend ([`keystore_conformance_tests!`](crate::keystore_conformance_tests)),
//! and as [`CHECKS`] / [`run_all`] outside of `cargo test`. Both expand the
//! same list ([`keystore_conformance_checks!`](crate::keystore_conformance_checks)),
//! so a check added there runs everywhere.

use std::path::PathBuf;

use crate::store::conformance::{ConformanceFailure, ConformanceResult};
use crate::store::traits::KeyStore;
use crate::store::{PostgresStore, SqliteStore, StoreLocation, StoreResult};

/// One conformance check.
#[derive(Clone, Copy)]
pub enum Check {
    /// Works on one store handle.
    Single(fn(&dyn KeyStore) -> ConformanceResult),
    /// Opens several handles (connections) on one store, or a child process.
    Concurrent(fn(&Target) -> ConformanceResult),
}

/// The store a check runs against.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where the store is; every handle is opened from it.
    pub location: StoreLocation,
    /// The libtest name of the test that runs
    /// [`crate::store::conformance_concurrency::child_main`] in this test
    /// binary (for the checks that kill a child process), if any.
    pub child_test: Option<String>,
}

impl Target {
    /// A new handle (its own connection) on the store.
    pub fn handle(&self) -> Result<Box<dyn KeyStore>, ConformanceFailure> {
        open_raw(&self.location)
            .map_err(|e| ConformanceFailure(format!("open {}: {e}", self.location)))
    }
}

/// Opens the store at `location` without looking at its master key (the
/// conformance checks only handle opaque records).
pub fn open_raw(location: &StoreLocation) -> StoreResult<Box<dyn KeyStore>> {
    Ok(match location {
        StoreLocation::Sqlite(dir) => Box::new(SqliteStore::open(dir)?),
        StoreLocation::Postgres(url) => Box::new(PostgresStore::open(url)?),
    })
}

/// The location as a child process gets it (unredacted).
pub(crate) fn location_arg(location: &StoreLocation) -> String {
    match location {
        StoreLocation::Sqlite(dir) => format!("sqlite:{}", dir.display()),
        StoreLocation::Postgres(url) => url.clone(),
    }
}

/// The inverse of [`location_arg`].
pub(crate) fn location_from_arg(arg: &str) -> StoreLocation {
    match arg.strip_prefix("sqlite:") {
        Some(dir) => StoreLocation::Sqlite(PathBuf::from(dir)),
        None => StoreLocation::Postgres(arg.to_string()),
    }
}

/// Runs one check against `target`.
pub fn run(check: Check, target: &Target) -> ConformanceResult {
    match check {
        Check::Single(f) => f(&*target.handle()?),
        Check::Concurrent(f) => f(target),
    }
}

/// The one list of checks: expands `$crate::$callback! { {args} name =>
/// Check; ... }`. Add a check here and every backend runs it.
#[doc(hidden)]
#[macro_export]
macro_rules! keystore_conformance_checks {
    ($callback:ident { $($args:tt)* }) => {
        $crate::$callback! {
            { $($args)* }
            instances_round_trip => Single($crate::store::conformance::instances_round_trip);
            instance_duplicates => Single($crate::store::conformance::instance_duplicates);
            containers_round_trip => Single($crate::store::conformance::containers_round_trip);
            keys_and_versions => Single($crate::store::conformance::keys_and_versions);
            aliases_round_trip => Single($crate::store::conformance::aliases_round_trip);
            deletes_cascade_and_guard =>
                Single($crate::store::conformance::deletes_cascade_and_guard);
            failed_write_leaves_nothing =>
                Single($crate::store::conformance::failed_write_leaves_nothing);
            audit_append_and_order => Single($crate::store::conformance::audit_append_and_order);
            ekms_configs_round_trip =>
                Single($crate::store::conformance_ekms::ekms_configs_round_trip);
            secrets_round_trip => Single($crate::store::conformance_secrets::secrets_round_trip);
            secrets_errors_and_guard =>
                Single($crate::store::conformance_secrets::secrets_errors_and_guard);
            grants_round_trip => Single($crate::store::conformance_break_glass::grants_round_trip);
            paging_walks_one_container =>
                Single($crate::store::conformance_paging::paging_walks_one_container);
            tombstones_round_trip =>
                Single($crate::store::conformance_tombstones::tombstones_round_trip);
            race_on_quota => Concurrent($crate::store::conformance_concurrency::race_on_quota);
            race_on_instance_name =>
                Concurrent($crate::store::conformance_concurrency::race_on_instance_name);
            race_on_alias_name =>
                Concurrent($crate::store::conformance_concurrency::race_on_alias_name);
            race_repointing_an_alias =>
                Concurrent($crate::store::conformance_concurrency::race_repointing_an_alias);
            killed_writer_leaves_nothing =>
                Concurrent($crate::store::conformance_concurrency::killed_writer_leaves_nothing);
            reads_do_not_wait_for_a_writer =>
                Concurrent($crate::store::conformance_readers::reads_do_not_wait_for_a_writer);
        }
    };
}

/// Expands the list into [`CHECKS`].
#[doc(hidden)]
#[macro_export]
macro_rules! __keystore_conformance_const {
    ({} $($name:ident => $kind:ident($check:path);)+) => {
        /// Every check, by name (the same list the per-backend tests run).
        pub const CHECKS: &[(&str, Check)] = &[$((stringify!($name), Check::$kind($check))),+];
    };
}

keystore_conformance_checks!(__keystore_conformance_const {});

/// Runs every check against `target`, returning the failures by name.
pub fn run_all(target: &Target) -> Vec<(&'static str, ConformanceFailure)> {
    CHECKS
        .iter()
        .filter_map(|(name, check)| run(*check, target).err().map(|e| (*name, e)))
        .collect()
}

/// Generates one `#[test]` per conformance check for a backend. The
/// argument is a factory returning `Some((guard, StoreLocation))` — the
/// guard (a temporary directory, a test database) lives as long as the
/// test — or `None` when the backend cannot run here (the factory has said
/// why).
#[macro_export]
macro_rules! keystore_conformance_tests {
    ($factory:expr) => {
        $crate::keystore_conformance_checks!(__keystore_conformance_each { $factory });
    };
}

/// Expands the list into `#[test]`s (see [`keystore_conformance_tests!`](crate::keystore_conformance_tests)).
#[doc(hidden)]
#[macro_export]
macro_rules! __keystore_conformance_each {
    ({ $factory:expr } $($name:ident => $kind:ident($check:path);)+) => {
        mod keystore_conformance {
            #[allow(unused_imports)]
            use super::*;

            /// The libtest name of [`conformance_child`] in this binary.
            fn child_test() -> String {
                let module = module_path!();
                let module = module.split_once("::").map_or(module, |(_, rest)| rest);
                format!("{module}::conformance_child")
            }

            $(
                #[test]
                fn $name() {
                    let Some((_guard, location)) = ($factory)() else {
                        return;
                    };
                    let target = $crate::store::conformance::Target {
                        location,
                        child_test: Some(child_test()),
                    };
                    let check = $crate::store::conformance::Check::$kind($check);
                    $crate::store::conformance_suite::run(check, &target).unwrap();
                }
            )+

            /// Does nothing unless started as a check's child process.
            #[test]
            fn conformance_child() {
                $crate::store::conformance_concurrency::child_main();
            }
        }
    };
}
