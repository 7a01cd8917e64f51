//! TLS settings from the URL, and TLS connections to the test server
//! (`scripts/with-postgres.sh` gives it a certificate from a throwaway CA,
//! `KEYSHIFT_TEST_PG_CA`).

use super::*;
use crate::store::PostgresStore;
use crate::store::postgres_test_support::{fresh_database, with_database};

#[test]
fn libpq_parameters_are_translated() {
    let dir = tempfile::tempdir().unwrap();
    let home_root = dir.path().join(".postgresql/root.crt");
    let u = "postgres://ks@h:5/db";
    type Want = Option<(&'static str, Verify, Option<&'static str>)>;
    let cases: Vec<(&str, String, bool, Want)> = vec![
        (
            "default is prefer",
            u.into(),
            false,
            Some(("sslmode=prefer", Verify::None, None)),
        ),
        (
            "disable",
            format!("{u}?sslmode=disable"),
            false,
            Some(("sslmode=disable", Verify::None, None)),
        ),
        (
            "allow",
            format!("{u}?sslmode=allow&x=1"),
            false,
            Some(("x=1&sslmode=prefer", Verify::None, None)),
        ),
        (
            "require, no root",
            format!("{u}?sslmode=require"),
            false,
            Some(("sslmode=require", Verify::None, None)),
        ),
        (
            "require with root",
            format!("{u}?sslmode=require&sslrootcert=/r%20c.pem"),
            false,
            Some(("sslmode=require", Verify::Ca, Some("/r c.pem"))),
        ),
        (
            "verify-ca",
            format!("{u}?sslmode=verify-ca&sslrootcert=/r.pem"),
            false,
            Some(("sslmode=require", Verify::Ca, Some("/r.pem"))),
        ),
        (
            "verify-full",
            format!("{u}?sslrootcert=/r.pem&sslmode=verify-full"),
            false,
            Some(("sslmode=require", Verify::Full, Some("/r.pem"))),
        ),
        (
            "verify-full, root in home",
            format!("{u}?sslmode=verify-full"),
            true,
            Some(("sslmode=require", Verify::Full, None)),
        ),
        (
            "verify-full without root",
            format!("{u}?sslmode=verify-full"),
            false,
            None,
        ),
        (
            "unknown mode",
            format!("{u}?sslmode=sometimes"),
            false,
            None,
        ),
        (
            "client certificate",
            format!("{u}?sslcert=/c.pem"),
            false,
            None,
        ),
        (
            "system roots",
            format!("{u}?sslmode=verify-full&sslrootcert=system"),
            false,
            None,
        ),
    ];
    for (name, url, root_in_home, want) in cases {
        if root_in_home {
            std::fs::create_dir_all(home_root.parent().unwrap()).unwrap();
            std::fs::write(&home_root, b"x").unwrap();
        }
        let got = split(&url, Some(dir.path())).ok();
        let _ = std::fs::remove_file(&home_root);
        match (got, want) {
            (None, None) => {}
            (Some((client, s)), Some((query, verify, root))) => {
                assert_eq!(client, format!("{u}?{query}"), "{name}");
                assert_eq!(s.verify, verify, "{name}");
                let want_root = match root {
                    Some(r) => Some(PathBuf::from(r)),
                    None if root_in_home => Some(home_root.clone()),
                    None => None,
                };
                assert_eq!(s.root_cert, want_root, "{name}");
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

/// The test server's CA, or `None` (said loudly) outside CI.
#[allow(clippy::panic)]
fn test_ca() -> Option<String> {
    match std::env::var("KEYSHIFT_TEST_PG_CA") {
        Ok(ca) if !ca.is_empty() => Some(ca),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "KEYSHIFT_TEST_PG_CA is not set under CI=true (scripts/with-postgres.sh sets it)"
            )
        }
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "======== skipped: no TLS test server (KEYSHIFT_TEST_PG_CA is not set) ========"
            );
            None
        }
    }
}

/// Whether a store opened at `url` talks TLS.
fn uses_tls(url: &str) -> Result<bool, StoreError> {
    let store = PostgresStore::open(url)?;
    let mut conn = store.checkout()?;
    let row = conn
        .client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .map_err(|e| StoreError::database_source("pg_stat_ssl", e))?;
    let ssl: bool = row.get(0);
    store.checkin(conn);
    Ok(ssl)
}

#[test]
fn tls_connections_follow_sslmode() {
    let Some(db) = fresh_database() else { return };
    let Some(ca) = test_ca() else { return };
    let other_ca = tempfile::tempdir().unwrap();
    let other = other_ca.path().join("other.crt");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=other-ca", "-keyout"])
        .arg(other_ca.path().join("k"))
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(made.status.success(), "openssl: {made:?}");
    let url = db.url().to_string();
    // The same server under a name its certificate does not carry.
    let port = url
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let misnamed = format!(
        "{}?hostaddr=127.0.0.1",
        with_database(&format!("postgres://ks@wrong.invalid:{port}"), db.name())
    );
    let other = other.display().to_string();
    let cases: Vec<(&str, String, Option<bool>)> = vec![
        ("disable", format!("{url}?sslmode=disable"), Some(false)),
        ("prefer", url.clone(), Some(true)),
        ("require", format!("{url}?sslmode=require"), Some(true)),
        (
            "verify-full",
            format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
            Some(true),
        ),
        (
            "verify-ca, wrong name",
            format!("{misnamed}&sslmode=verify-ca&sslrootcert={ca}"),
            Some(true),
        ),
        (
            "verify-full, wrong name",
            format!("{misnamed}&sslmode=verify-full&sslrootcert={ca}"),
            None,
        ),
        (
            "verify-full, other CA",
            format!("{url}?sslmode=verify-full&sslrootcert={other}"),
            None,
        ),
        (
            "require, other CA",
            format!("{url}?sslmode=require&sslrootcert={other}"),
            None,
        ),
    ];
    for (name, url, want) in cases {
        let got = uses_tls(&url);
        match (&got, want) {
            (Ok(ssl), Some(w)) => assert_eq!(*ssl, w, "{name}"),
            (Err(e), None) => assert!(
                matches!(e, StoreError::Database { .. })
                    && e.to_string().contains("cannot connect"),
                "{name}: {e}"
            ),
            _ => panic!("{name}: {got:?}"),
        }
    }
}
