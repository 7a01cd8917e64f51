//! Tests of the PostgreSQL store against the server named by
//! `KEYSHIFT_TEST_PG_URL` (see `postgres_test_support.rs`); each test gets
//! a fresh database.

use super::*;
use crate::store::postgres_test_support::fresh_database;
use crate::store::traits::{read_with, write_with};

crate::keystore_conformance_tests!(|| {
    let db = fresh_database()?;
    let location = crate::store::StoreLocation::Postgres(db.url().to_string());
    Some((db, location))
});
