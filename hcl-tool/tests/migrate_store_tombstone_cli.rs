//! `keyshift migrate --from-store A --to-store B --move` leaves a tombstone
//! in A for every object it takes out: each command that asks A for one of
//! them (by id, alias or name, or through a ciphertext) exits 2 naming B,
//! the time and the run, and how to point at B, instead of saying "not
//! found"; B (the shared store's URL with its password masked) serves them.
//! A move that brings them back removes the tombstones there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::store_move::{aes, decrypt, encrypt, migrate_cmd, stores};
use support::{code, instance, keyshift, keyshift_stdin, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::store::postgres::test_support::fresh_database;
use keyshift_core::store::{Container, NewSecret, SecretType};
use std::collections::BTreeMap;
use std::path::Path;

/// An instance `payments` in `kms` with the key `alias/app` and the secret
/// `db-password` it encrypts; returns (instance, key id, secret id).
fn estate(kms: &Kms) -> (Container, String, String) {
    let kst = instance(kms, "payments");
    let app = aes(kms, kst.clone(), "alias/app", false);
    let secret = kms
        .create_secret(
            NewSecret {
                name: "db-password".into(),
                container: kst.clone(),
                secret_type: SecretType::Generic,
                encryption_key_id: app.clone(),
                description: String::new(),
                tags: BTreeMap::new(),
            },
            b"s3cret",
        )
        .unwrap()
        .id;
    (kst, app, secret)
}

/// The commands that ask a store for the estate's objects: (name, args,
/// stdin).
fn lookups<'a>(
    kst: &'a str,
    app: &'a str,
    secret: &'a str,
    ct: &'a str,
) -> Vec<(&'static str, Vec<&'a str>, &'a [u8])> {
    vec![
        ("key describe by id", vec!["key", "describe", app], b""),
        (
            "key describe by alias",
            vec!["key", "describe", "alias/app"],
            b"",
        ),
        (
            "decrypt a ciphertext of the key",
            vec!["decrypt"],
            ct.as_bytes(),
        ),
        (
            "encrypt under the alias",
            vec!["encrypt", "--key", "alias/app"],
            b"more",
        ),
        ("secret get by id", vec!["secret", "get", secret], b""),
        (
            "secret get by name",
            vec!["secret", "get", "db-password", "--instance", kst],
            b"",
        ),
    ]
}

/// Asserts that every lookup against `store` exits 2 saying the object was
/// moved to `to` by a run, with how to point at it.
fn assert_all_moved(store: &Path, to: &str, cases: &[(&str, Vec<&str>, &[u8])]) {
    for (name, args, stdin) in cases {
        let o = keyshift_stdin(store, args, stdin);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{name}: {}{err}", stdout(&o));
        assert!(stdout(&o).is_empty(), "{name}: {}", stdout(&o));
        for want in [
            format!("was moved to the key store {to} at "),
            "(run mig-".to_string(),
            "is no longer in this store".to_string(),
            "KEYSHIFT_STORE".to_string(),
        ] {
            assert!(err.contains(&want), "{name}: missing {want:?} in {err}");
        }
        assert!(!err.contains("not found"), "{name}: {err}");
    }
}

/// Rows of a store's `tombstones` table: `kind|id|moved_to|run_id`.
fn tombstone_rows(store: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(store.join("keyshift.db")).unwrap();
    let mut st = db
        .prepare("SELECT kind, id, moved_to, run_id FROM tombstones ORDER BY kind, id")
        .unwrap();
    st.query_map([], |r| {
        Ok(format!(
            "{}|{}|{}|{}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn commands_on_the_old_store_name_the_new_one() {
    let s = stores();
    let (kst, app, secret) = estate(&s.kms_a);
    let ct = encrypt(&s.a, "alias/app", b"moved data");
    let o = s.migrate(&["--all", "--include-secrets", "--move"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));

    let b = std::fs::canonicalize(&s.b).unwrap();
    let b = b.to_str().unwrap();
    let kst = kst.to_string();
    let cases = lookups(&kst, &app, &secret, &ct);
    assert_all_moved(&s.a, b, &cases);
    // B serves every one of them.
    for (name, args, stdin) in &cases {
        let o = keyshift_stdin(&s.b, args, stdin);
        assert_eq!(code(&o), 0, "{name} against B: {}", stderr(&o));
    }
    assert_eq!(decrypt(&s.b, &ct), "moved data");
    // One durable record per name, all from the one run.
    let rows = tombstone_rows(&s.a);
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.split('|').take(2).collect::<Vec<_>>().join("|"))
        .collect();
    assert_eq!(
        names,
        vec![
            "alias|alias/app".to_string(),
            format!("key|{app}"),
            format!("secret|{secret}"),
            format!("secret_name|{kst}/db-password"),
        ]
    );
    let runs: std::collections::BTreeSet<&str> =
        rows.iter().filter_map(|r| r.split('|').nth(3)).collect();
    assert_eq!(runs.len(), 1, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.contains(&format!("|{b}|"))),
        "{rows:?}"
    );
    // An object never moved is still plainly unknown.
    let o = keyshift(&s.a, &["key", "describe", "alias/never"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
}

#[test]
fn moving_back_removes_the_tombstones_and_leaves_them_in_the_other_store() {
    let s = stores();
    let (kst, app, secret) = estate(&s.kms_a);
    let ct = encrypt(&s.a, "alias/app", b"round trip");
    drop(s.kms_a);
    let move_all = ["--all", "--include-secrets", "--move"];
    let o = migrate_cmd(&s.a, &s.b, &move_all);
    assert_eq!(code(&o), 0, "A -> B: {}{}", stdout(&o), stderr(&o));
    assert_eq!(tombstone_rows(&s.a).len(), 4);
    let o = migrate_cmd(&s.b, &s.a, &move_all);
    assert_eq!(code(&o), 0, "B -> A: {}{}", stdout(&o), stderr(&o));

    assert_eq!(
        tombstone_rows(&s.a),
        Vec::<String>::new(),
        "A holds them again"
    );
    assert_eq!(decrypt(&s.a, &ct), "round trip");
    let a = std::fs::canonicalize(&s.a).unwrap();
    let kst = kst.to_string();
    assert_all_moved(
        &s.b,
        a.to_str().unwrap(),
        &lookups(&kst, &app, &secret, &ct),
    );
}

/// `url` with the password `pw` in its user info.
fn with_password(url: &str, pw: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let user = user.split(':').next().unwrap();
    format!("{scheme}://{user}:{pw}@{host}")
}

#[test]
fn a_shared_store_is_named_with_its_password_masked() {
    let Some(db) = fresh_database() else { return };
    let s = stores();
    let (kst, app, secret) = estate(&s.kms_a);
    let ct = encrypt(&s.a, "alias/app", b"to postgres");
    let url = with_password(db.url(), "hunter2secret");
    let key_file = s.dir.path().join("shared-master.key");
    let o = keyshift(
        &s.a,
        &[
            "migrate",
            "--from-store",
            s.a.to_str().unwrap(),
            "--to-store",
            &url,
            "--to-master-key-file",
            key_file.to_str().unwrap(),
            "--all",
            "--include-secrets",
            "--move",
        ],
    );
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let masked = with_password(db.url(), "***");
    let kst = kst.to_string();
    let cases = lookups(&kst, &app, &secret, &ct);
    assert_all_moved(&s.a, &masked, &cases);
    for (name, args, stdin) in &cases {
        let o = keyshift_stdin(&s.a, args, stdin);
        assert!(!stderr(&o).contains("hunter2secret"), "{name}: leaked");
    }
    assert!(
        tombstone_rows(&s.a)
            .iter()
            .all(|r| r.contains(&masked) && !r.contains("hunter2secret"))
    );
}
