//! `keyshift migrate --from-store A --to-store B` against the real binary,
//! one named test per mode (default, `--force`, `--merge` equal and
//! differing, `--dry-run`, `--move`) and different master keys on the two
//! sides (bad input, resume and locks: `migrate_store_runs_cli.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::store_move::{
    Closed, Stores, aes, contents, decrypt, encrypt, files, last_line, stores,
};
use support::{code, keyshift, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, NewInstance, NewSecret, SecretType};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn default_mode_refuses_an_object_already_in_the_target() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    let other = aes(&s.kms_a, Container::Shared, "alias/other", false);
    let ct = encrypt(&s.a, "alias/app", b"hello");
    let o = s.migrate(&["alias/app"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let (a, b) = (s.a.display(), s.b.display());
    assert_eq!(
        stdout(&o),
        format!(
            "migrated      key {app} (alias/app) {a} -> {b}\n\
             selected: 0 instance(s) (0 without keys), 0 EKMS configuration(s), 1 alias(es), 1 key(s), 0 secret(s), 0 break-glass grant(s)\n\
             migrate store {a} -> {b}: 1 migrated, 0 skipped, 0 refused, 0 failed\n"
        )
    );
    assert_eq!(
        decrypt(&s.b, &ct),
        "hello",
        "old ciphertexts decrypt against B"
    );
    let before = contents(&s.b);
    let source_before = contents(&s.a);

    let report = s.dir.path().join("report.json");
    let o = s.migrate(&["alias/*", "--report", report.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "refused       key {app} (alias/app) {a} -> {b}: already in the target store (use --force to replace it or --merge to skip identical copies)"
        )),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains(&format!("migrated      key {other} (alias/other)")),
        "{}",
        stdout(&o)
    );
    let json: Json = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    let objects = json["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    let by_id = |id: &str| objects.iter().find(|o| o["id"] == id).unwrap();
    let refused = by_id(&app);
    assert_eq!(refused["outcome"], "skipped");
    assert_eq!(refused["kind"], "key");
    assert_eq!(refused["names"], serde_json::json!(["alias/app"]));
    // Objects keep their container (a rewrite from this report is a no-op);
    // the stores are named at the top.
    assert_eq!(refused["source"], "shared");
    assert_eq!(refused["target_instance_id"], "shared");
    assert_eq!(json["source_store"], a.to_string().as_str());
    assert_eq!(json["target_store"], b.to_string().as_str());
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("refused: already in the target store")
    );
    assert_eq!(by_id(&other)["outcome"], "migrated");
    // The refused key is unchanged in B; only `other` was added.
    let after = contents(&s.b);
    assert!(
        before.iter().all(|row| after.contains(row)),
        "B lost or changed rows"
    );
    assert!(after.iter().any(|row| row.contains(&other)));
    assert_eq!(contents(&s.a), source_before, "the source is untouched");
    assert_eq!(s.b().get_key(&app).unwrap(), s.kms_a.get_key(&app).unwrap());
}

#[test]
fn force_replaces_inside_the_transaction_and_warns_naming_the_key() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", true);
    let o = s.migrate(&["--all"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The source moves on: a new version the target does not have.
    s.kms_a.rotate_key(&app).unwrap();
    let ct = encrypt(&s.a, &app, b"after rotation");
    assert_eq!(s.b().get_key(&app).unwrap().version_count, 1);

    let o = s.migrate(&["--all", "--force"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "WARNING: --force OVERWROTE key {app} (alias/app) in the target store {}",
            s.b.display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("replaced the object in the target store (--force)"),
        "{}",
        stdout(&o)
    );
    let b = s.b();
    assert_eq!(b.get_key(&app).unwrap(), s.kms_a.get_key(&app).unwrap());
    assert_eq!(b.get_key(&app).unwrap().version_count, 2);
    assert_eq!(decrypt(&s.b, &ct), "after rotation");
    let audit = b.audit_log(50).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "key.import" && e.object == app && e.detail.contains("replaced")),
        "{audit:?}"
    );
}

#[test]
fn merge_skips_identical_objects() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    assert_eq!(code(&s.migrate(&["--all"])), 0);
    let before = contents(&s.b);
    let o = s.migrate(&["--all", "--merge"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "skipped       key {app} (alias/app) {} -> {}: an identical copy is already in the target store",
            s.a.display(),
            s.b.display()
        )),
        "{}",
        stdout(&o)
    );
    assert!(last_line(&o).ends_with(": 0 migrated, 1 skipped, 0 refused, 0 failed"));
    assert_eq!(contents(&s.b), before);
}

#[test]
fn merge_reports_differing_material_and_never_overwrites() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", true);
    assert_eq!(code(&s.migrate(&["--all"])), 0);
    s.kms_a.rotate_key(&app).unwrap();
    let before = contents(&s.b);
    let o = s.migrate(&["--all", "--merge"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "refused       key {app} (alias/app) {} -> {}: the target store holds a key with this id and different material (not overwritten)",
            s.a.display(),
            s.b.display()
        )),
        "{}",
        stdout(&o)
    );
    assert_eq!(contents(&s.b), before, "the target is unchanged");
    assert_eq!(s.b().get_key(&app).unwrap().version_count, 1);
}

#[test]
fn dry_run_changes_nothing_in_either_store() {
    let s = stores();
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    let Stores {
        dir: _dir,
        a,
        b,
        kms_a,
    } = s;
    drop(kms_a); // no connection of this test stays open
    let s = Closed { a, b };
    let a_before = files(&s.a);
    // No target yet: it is not created.
    let o = s.migrate(&["--all", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "would migrate key {app} (alias/app) {a} -> {b}\n\
             dry run: selected: 0 instance(s) (0 without keys), 0 EKMS configuration(s), 1 alias(es), 1 key(s), 0 secret(s), 0 break-glass grant(s)\n\
             dry run: migrate store {a} -> {b}: 1 would migrate, 0 skipped, 0 refused, 0 failed\n",
            a = s.a.display(),
            b = s.b.display()
        )
    );
    assert!(!s.b.exists(), "the dry run created the target");
    assert_eq!(files(&s.a), a_before);

    // An existing target with a conflicting object: both byte for byte unchanged.
    assert_eq!(code(&s.migrate(&["--all"])), 0);
    let second = {
        let kms = Kms::open(&s.a, "test").unwrap();
        aes(&kms, Container::Shared, "alias/second", false)
    };
    let (a_before, b_before) = (files(&s.a), files(&s.b));
    for mode in [&[][..], &["--force"], &["--merge"], &["--move"]] {
        let mut args = vec!["--all", "--dry-run"];
        args.extend_from_slice(mode);
        let o = s.migrate(&args);
        assert!(
            stdout(&o).contains(&format!("would migrate key {second}")),
            "{mode:?}: {}",
            stdout(&o)
        );
        assert_eq!(files(&s.a), a_before, "{mode:?}: source changed");
        assert_eq!(files(&s.b), b_before, "{mode:?}: target changed");
    }
}

#[test]
fn move_removes_from_the_source_only_what_the_target_holds() {
    let s = stores();
    let kst = Container::Instance(
        s.kms_a
            .create_instance(NewInstance {
                name: "payments".into(),
                instance_type: keyshift_core::store::InstanceType::Software,
                region: "local-1".into(),
                key_quota: 5,
                secret_quota: 5,
            })
            .unwrap()
            .id,
    );
    let app = aes(&s.kms_a, kst.clone(), "alias/app", false);
    let stay = aes(&s.kms_a, Container::Shared, "alias/stay", false);
    let sec = s
        .kms_a
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
    let ct = encrypt(&s.a, "alias/app", b"moved data");

    // Without its secret, --move refuses the key: the secret would be orphaned.
    let o = s.migrate(&["alias/app", "--move"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("--move would leave secret(s) db-password in the source"),
        "{}",
        stdout(&o)
    );
    assert!(s.kms_a.get_key(&app).is_ok());

    let o = s.migrate(&["db-password", "--include-secrets", "--move"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("migrated      key {app} (alias/app)"))
            && stdout(&o).contains("removed from the source"),
        "{}",
        stdout(&o)
    );
    assert!(s.kms_a.get_key(&app).is_err(), "the key left the source");
    assert!(
        s.kms_a.get_secret(&sec).is_err(),
        "the secret left the source"
    );
    assert!(s.kms_a.get_key(&stay).is_ok(), "unselected keys stay");
    let b = s.b();
    assert_eq!(b.get_key(&app).unwrap().container, kst);
    assert_eq!(
        b.get_instance(kst.instance_id().unwrap()).unwrap().name,
        "payments"
    );
    assert_eq!(decrypt(&s.b, &ct), "moved data");
    let o = keyshift(&s.b, &["secret", "get", &sec]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "s3cret"),
        "{}",
        stderr(&o)
    );
    assert!(
        s.kms_a
            .audit_log(20)
            .unwrap()
            .iter()
            .any(|e| e.action == "key.export" && e.object == app)
    );
    // No migration lock is left on either side.
    for store in [&s.a, &s.b] {
        let o = keyshift(store, &["migrate", "--status"]);
        assert_eq!(stdout(&o), "no migration in progress or interrupted\n");
    }
}

#[test]
fn different_master_keys_reseal_under_the_target() {
    let s = stores();
    let _b = s.b(); // its own, different master key
    assert_ne!(
        std::fs::read(s.a.join("master.key")).unwrap(),
        std::fs::read(s.b.join("master.key")).unwrap()
    );
    let app = aes(&s.kms_a, Container::Shared, "alias/app", false);
    let ct = encrypt(&s.a, &app, b"resealed");
    let o = s.migrate(&["--all"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(decrypt(&s.b, &ct), "resealed");
    let sealed = |dir: &Path| -> Vec<u8> {
        rusqlite::Connection::open(dir.join("keyshift.db"))
            .unwrap()
            .query_row(
                "SELECT sealed FROM key_versions WHERE key_id = ?1",
                [&app],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_ne!(sealed(&s.a), sealed(&s.b), "resealed under B's root key");
}
