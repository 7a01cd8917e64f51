//! `keyshift migrate --from-store A --to-store B --all`: the whole store
//! travels (every instance, with keys or without, alias, key, secret and
//! break-glass grant record; `--dry-run` counts each kind), and a verified
//! copy is cut over with `--move` (plain, `--merge` or `--force`): exact
//! copies leave the source, nothing claims material is gone when it was
//! identical, and a copy whose metadata differs is never removed silently.
//! EKMS configurations: `migrate_store_ekms_cli.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::store_move::{Stores, aes, decrypt, encrypt, last_line, stores};
use support::{code, instance, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::engine::break_glass::NewGrant;
use keyshift_core::store::{Container, KeyUpdate, NewSecret, SecretType};
use std::collections::BTreeMap;

/// A store with an instance holding a key (with an alias) and a secret, an
/// instance without keys, a key with two aliases in the shared KMS and a
/// break-glass grant (its credential secret in the shared KMS).
struct Estate {
    s: Stores,
    app: String,
    grant: String,
    ct: String,
}

fn estate() -> Estate {
    let s = stores();
    let full = instance(&s.kms_a, "payments");
    instance(&s.kms_a, "spare");
    let app = aes(&s.kms_a, full.clone(), "alias/payments/app", false);
    let shared = aes(&s.kms_a, Container::Shared, "alias/shared", false);
    s.kms_a.create_alias("alias/shared-2", &shared).unwrap();
    s.kms_a
        .create_secret(
            NewSecret {
                name: "payments/db".into(),
                container: full,
                secret_type: SecretType::Generic,
                encryption_key_id: app.clone(),
                description: String::new(),
                tags: BTreeMap::new(),
            },
            b"s3cret",
        )
        .unwrap();
    let grant = s
        .kms_a
        .break_glass(&NewGrant {
            change_request: "CHG0030001".into(),
            principal: "oncall@example.com".into(),
            key_ids: vec![shared.clone()],
            instance_id: None,
            permissions: vec!["decrypt".into()],
            ttl: "1h".into(),
            reason: "incident".into(),
            credential_key_id: shared,
        })
        .unwrap()
        .record
        .id;
    let ct = encrypt(&s.a, &app, b"payload");
    Estate { s, app, grant, ct }
}

/// Instances, aliases (name → key), key ids, secret names and grants of a
/// store, for "B holds all of A" checks.
fn inventory(kms: &Kms) -> Vec<String> {
    let mut out = Vec::new();
    for i in kms.list_instances().unwrap() {
        out.push(format!("instance {} {} {:?}", i.id, i.name, i.status));
    }
    for k in kms.list_keys(None).unwrap() {
        out.push(format!(
            "key {} in {} aliases {:?}",
            k.id, k.container, k.aliases
        ));
    }
    for s in kms.list_secrets(None).unwrap() {
        out.push(format!("secret {} {} in {}", s.id, s.name, s.container));
    }
    for g in kms.list_grants(false).unwrap() {
        out.push(format!("grant {:?}", g.record));
    }
    out.sort();
    out
}

#[test]
fn all_takes_every_instance_alias_key_secret_and_grant() {
    let e = estate();
    let s = &e.s;
    let o = s.migrate(&["--all", "--include-secrets", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[lines.len() - 2],
        "dry run: selected: 2 instance(s) (1 without keys), 0 EKMS configuration(s), 3 alias(es), 2 key(s), 2 secret(s), 1 break-glass grant(s)",
        "{}",
        stdout(&o)
    );
    for want in [
        "would migrate instance kst-",
        "(spare)",
        &format!("would migrate break-glass grant {} (CHG0030001)", e.grant),
    ] {
        assert!(stdout(&o).contains(want), "{want}: {}", stdout(&o));
    }
    assert!(!s.b.exists(), "a dry run creates nothing");

    let o = s.migrate(&["--all", "--include-secrets"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        last_line(&o).ends_with(": 7 migrated, 0 skipped, 0 refused, 0 failed"),
        "{}",
        stdout(&o)
    );
    let b = s.b();
    assert_eq!(inventory(&b), inventory(&s.kms_a), "B holds all of A");
    assert_eq!(decrypt(&s.b, &e.ct), "payload");
    assert_eq!(
        b.grant_credential(&e.grant).unwrap().as_str(),
        s.kms_a.grant_credential(&e.grant).unwrap().as_str(),
        "the grant's credential is readable in B"
    );

    // Again: everything is there already (records skipped, objects refused
    // as before), nothing changes.
    let before = inventory(&b);
    let o = s.migrate(&["--all", "--include-secrets", "--merge"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        last_line(&o).ends_with(": 0 migrated, 7 skipped, 0 refused, 0 failed"),
        "{}",
        stdout(&o)
    );
    assert_eq!(inventory(&s.b()), before);
    let _ = e.app;
}

#[test]
fn a_grant_whose_credential_stays_behind_is_refused() {
    let e = estate();
    let o = e.s.migrate(&["--all"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "refused       break-glass grant {} (CHG0030001)",
            e.grant
        )) && stdout(&o).contains("is not copied (add --include-secrets)"),
        "{}",
        stdout(&o)
    );
    assert!(e.s.b().list_grants(false).unwrap().is_empty());
}

/// How a cut-over after a verified copy goes.
struct CutOver {
    name: &'static str,
    args: &'static [&'static str],
    /// Change a key's metadata in A after the copy.
    drift: bool,
    code: i32,
    /// Keys left in A afterwards.
    left: usize,
    stdout: &'static str,
}

#[test]
fn a_verified_copy_is_cut_over_by_move() {
    let cases = [
        CutOver {
            name: "--move",
            args: &["--move"],
            drift: false,
            code: 0,
            left: 0,
            stdout: "an exact copy was already in the target store; removed from the source",
        },
        CutOver {
            name: "--merge --move",
            args: &["--merge", "--move"],
            drift: false,
            code: 0,
            left: 0,
            stdout: "an exact copy was already in the target store; removed from the source",
        },
        CutOver {
            name: "--force --move",
            args: &["--force", "--move"],
            drift: false,
            code: 0,
            left: 0,
            stdout: "an exact copy was already in the target store; removed from the source",
        },
        CutOver {
            name: "--merge --move, metadata changed in A",
            args: &["--merge", "--move"],
            drift: true,
            code: 1,
            left: 1,
            stdout: "same material but other metadata; kept in the source",
        },
        CutOver {
            name: "--force --move, metadata changed in A",
            args: &["--force", "--move"],
            drift: true,
            code: 0,
            left: 0,
            stdout: "replaced the metadata of the object in the target store (--force; the material was identical); removed from the source",
        },
    ];
    for case in cases {
        let e = estate();
        let s = &e.s;
        let o = s.migrate(&["--all", "--include-secrets"]);
        assert_eq!(code(&o), 0, "{}: copy: {}", case.name, stderr(&o));
        if case.drift {
            let upd = KeyUpdate {
                description: Some("changed after the copy".into()),
                ..KeyUpdate::default()
            };
            s.kms_a.update_key(&e.app, upd).unwrap();
        }
        let mut args = vec!["--all", "--include-secrets"];
        args.extend(case.args);
        let o = s.migrate(&args);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert_eq!(code(&o), case.code, "{}: {all}", case.name);
        assert!(stdout(&o).contains(case.stdout), "{}: {all}", case.name);
        assert!(
            !stderr(&o).contains("is gone"),
            "{}: identical material is never reported gone: {all}",
            case.name
        );
        let left = s.kms_a.list_keys(None).unwrap().len();
        assert_eq!(left, case.left, "{}: keys left in A: {all}", case.name);
        assert_eq!(s.b().list_keys(None).unwrap().len(), 2, "{}", case.name);
        assert_eq!(decrypt(&s.b, &e.ct), "payload", "{}", case.name);
        if case.drift && case.left == 0 {
            let b = s.b().get_key(&e.app).unwrap();
            assert_eq!(b.description, "changed after the copy", "{}", case.name);
        }
    }
}
