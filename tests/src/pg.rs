//! A PostgreSQL database of its own for each test that needs the shared
//! store. The server comes from `KEYSHIFT_TEST_PG_URL` (a superuser URL;
//! `scripts/with-postgres.sh CMD…` starts a throwaway cluster and sets it);
//! each [`PgDatabase`] creates a fresh database there with `psql` and drops
//! it when the test ends.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::prerequisite;

/// The variable naming the test server.
pub const PG_URL_ENV: &str = "KEYSHIFT_TEST_PG_URL";

/// A fresh database on the test server, dropped on drop, with a path for
/// the store's master key file (not created: the first open creates it).
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
    dir: tempfile::TempDir,
}

/// `url` with its database replaced by `db` (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

impl PgDatabase {
    /// A new database named after `label` (plus a random suffix), or `None`
    /// when `KEYSHIFT_TEST_PG_URL` is unset and this is not CI (a loud
    /// notice says the test was skipped; under `CI=true` it fails).
    pub fn create(label: &str) -> Option<PgDatabase> {
        let admin_url = std::env::var(PG_URL_ENV).ok().filter(|u| !u.is_empty());
        if !prerequisite(
            &format!("a PostgreSQL server ({PG_URL_ENV})"),
            admin_url.is_some(),
            "run the test under scripts/with-postgres.sh (make test does)",
        ) {
            return None;
        }
        let admin_url = admin_url.unwrap_or_default();
        let dir = tempfile::Builder::new()
            .prefix("keyshift-pg-")
            .tempdir()
            .unwrap();
        let suffix: String = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        let name = format!("ks_{label}_{suffix}");
        psql(&admin_url, &format!("CREATE DATABASE \"{name}\""));
        let url = with_database(&admin_url, &name);
        Some(PgDatabase {
            admin_url,
            name,
            url,
            dir,
        })
    }

    /// The database's connection URL (`postgres://…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where the store's master key file goes (created by the first open).
    pub fn master_key_file(&self) -> PathBuf {
        self.dir.path().join("master.key")
    }

    /// A scratch directory that lives as long as the database.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Runs one SQL statement in this database; returns `psql`'s unaligned,
    /// tuples-only output (one row a line, `|` between columns).
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-d", &self.admin_url, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// `psql -c SQL` on `url`, which must succeed; its unaligned output.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql (install postgresql-client): {e}"));
    assert!(
        out.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_the_query_kept() {
        let cases = [
            ("postgres://ks@h:1/keyshift", "postgres://ks@h:1/x"),
            (
                "postgres://ks@h:1/keyshift?sslmode=disable",
                "postgres://ks@h:1/x?sslmode=disable",
            ),
            ("postgresql://u:p@h", "postgresql://u:p@h/x"),
            (
                "postgres://h?sslmode=require",
                "postgres://h/x?sslmode=require",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "x"), want, "{url}");
        }
    }
}
