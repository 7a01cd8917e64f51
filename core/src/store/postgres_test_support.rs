//! Test support for the PostgreSQL store: a fresh database per test on the
//! server named by `KEYSHIFT_TEST_PG_URL` (set by `scripts/with-postgres.sh`,
//! which `make unit` / `make e2e` run under).
//!
//! Without that variable a test cannot run: under `CI=true` it fails with
//! a message saying so; elsewhere [`fresh_database`] prints a loud
//! "skipped" line and returns `None`, and the test returns early.

use postgres::NoTls;

/// The variable naming the test server's URL.
pub const URL_VAR: &str = "KEYSHIFT_TEST_PG_URL";

/// A database created for one test, dropped (best effort) with the guard.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// The URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name (`ks_<random>`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Off this thread: a client must not be used inside an async task.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin_url, NoTls) {
                let _ = c.batch_execute(&sql);
            }
        })
        .join();
    }
}

/// `url` with its database path replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{db}{query}")
}

/// A fresh, empty database on the test server, or `None` (after printing
/// why) when no server is configured outside CI.
///
/// # Panics
///
/// Under `CI=true` without `KEYSHIFT_TEST_PG_URL`, and when the server
/// cannot create the database: a test that needs PostgreSQL must fail
/// rather than pass silently.
#[allow(clippy::panic, clippy::expect_used)]
pub fn fresh_database() -> Option<TestDatabase> {
    let Some(admin_url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{URL_VAR} is not set but CI=true: this test needs PostgreSQL; run it via \
                 `scripts/with-postgres.sh` (as `make unit` / `make test` do)"
            );
        }
        // Straight to stderr, past the test harness's output capture.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "======== skipped: no PostgreSQL (run via make test, or scripts/with-postgres.sh \
             cargo test ...; {URL_VAR} is not set) ========"
        );
        return None;
    };
    let name = format!("ks_{}", uuid::Uuid::new_v4().simple());
    let mut admin = postgres::Client::connect(&admin_url, NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL ({URL_VAR}): {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("CREATE DATABASE for the test");
    drop(admin);
    let url = with_database(&admin_url, &name);
    Some(TestDatabase {
        admin_url,
        name,
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_the_url() {
        let cases = [
            (
                "postgres://ks@127.0.0.1:5/keyshift",
                "postgres://ks@127.0.0.1:5/ks_x",
            ),
            (
                "postgres://ks@h/keyshift?sslmode=disable",
                "postgres://ks@h/ks_x?sslmode=disable",
            ),
            ("postgres://ks@h", "postgres://ks@h/ks_x"),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "ks_x"), want, "{url}");
        }
    }
}
