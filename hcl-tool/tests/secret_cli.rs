//! `keyshift secret get|list` against the real binary, on stores set up
//! through the engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::keyshift;

use keyshift_core::engine::Kms;
use keyshift_core::store::{
    Container, InstanceType, KeySpec, KeyUpdate, KeyUsage, NewInstance, NewKey, NewSecret,
    SecretType,
};
use std::collections::BTreeMap;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: std::path::PathBuf,
    inst: String,
    shared_id: String,
    key_id: String,
    first_version: String,
}

/// A store with `db` in the shared KMS (two versions: "one", then binary
/// bytes) and `db` in an instance ("instance-value").
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let inst = kms
        .create_instance(NewInstance {
            name: "i".into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: 10,
            secret_quota: 10,
        })
        .unwrap()
        .id;
    let ic = Container::Instance(inst.clone());
    let mut ids = Vec::new();
    for (c, value) in [
        (Container::Shared, &b"one"[..]),
        (ic, &b"instance-value"[..]),
    ] {
        let key = kms
            .create_key(NewKey::new(
                c.clone(),
                KeySpec::Aes256,
                KeyUsage::EncryptDecrypt,
            ))
            .unwrap();
        let s = kms
            .create_secret(
                NewSecret {
                    name: "db".into(),
                    container: c,
                    secret_type: SecretType::Rds,
                    encryption_key_id: key.id.clone(),
                    description: "database".into(),
                    tags: BTreeMap::from([("team".to_string(), "core".to_string())]),
                },
                value,
            )
            .unwrap();
        ids.push((s.id, s.current_version_id, key.id));
    }
    let (shared_id, first_version, key_id) = ids.swap_remove(0);
    kms.put_secret_value(&shared_id, b"\x00two\xff\n", None)
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        inst,
        shared_id,
        key_id,
        first_version,
    }
}

#[test]
fn get_prints_the_chosen_version() {
    let f = fixture();
    let cases: Vec<(&str, Vec<&str>, &[u8])> = vec![
        ("name, current (binary, raw)", vec!["db"], b"\x00two\xff\n"),
        ("id", vec![f.shared_id.as_str()], b"\x00two\xff\n"),
        ("stage", vec!["db", "--stage", "ACSPrevious"], b"one"),
        (
            "version id",
            vec!["db", "--version-id", f.first_version.as_str()],
            b"one",
        ),
        (
            "instance",
            vec!["db", "--instance", f.inst.as_str()],
            b"instance-value",
        ),
    ];
    for (case, args, want) in cases {
        let o = keyshift(&f.store, &[&["secret", "get"][..], &args].concat());
        assert_eq!(o.status.code(), Some(0), "{case}: {}", text(&o.stderr));
        assert_eq!(o.stdout, want, "{case}");
    }
    let o = keyshift(
        &f.store,
        &[
            "secret",
            "get",
            "db",
            "--stage",
            "ACSPrevious",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["value"], "one");
    assert_eq!(doc["version_id"], f.first_version.as_str());
    assert_eq!(doc["stages"], serde_json::json!(["ACSPrevious"]));
    assert_eq!(doc["container"], "shared");
}

#[test]
fn get_errors_name_the_problem() {
    let f = fixture();
    let run = |args: &[&str], code: i32, want: &str, case: &str| {
        let o = keyshift(&f.store, &[&["secret", "get"][..], args].concat());
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{case}: {err}");
        assert!(err.contains(want), "{case}: {err}");
        assert!(o.stdout.is_empty(), "{case}: nothing on stdout");
    };
    let id = f.shared_id.as_str();
    run(&["nope"], 2, "shared/nope", "unknown name");
    run(&[id, "--stage", "X"], 2, "X", "unknown stage");
    run(&["db", "--instance", "kst-1"], 2, "kst-1", "bad instance");
    run(
        &["db", "--stage", "A", "--version-id", "B"],
        2,
        "cannot be used with",
        "both selectors",
    );
    run(
        &["db", "--format", "json"],
        2,
        "not UTF-8",
        "json needs text",
    );
    let kms = Kms::open(&f.store, "test").unwrap();
    let off = KeyUpdate {
        enabled: Some(false),
        ..KeyUpdate::default()
    };
    kms.update_key(&f.key_id, off).unwrap();
    run(&["db"], 1, "enable it", "disabled key");
}

#[test]
fn list_shows_metadata_never_values() {
    let f = fixture();
    let o = keyshift(&f.store, &["secret", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("ENCRYPTION_KEY"),
        "{out}"
    );
    assert!(out.contains(&f.shared_id) && out.contains(&f.inst), "{out}");
    assert!(
        !out.contains("instance-value") && !out.contains("one"),
        "{out}"
    );

    let o = keyshift(
        &f.store,
        &["secret", "list", "--instance", &f.inst, "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = doc["secrets"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["container"], f.inst.as_str());
    assert_eq!(list[0]["type"], "RDS");
    assert_eq!(list[0]["tags"]["team"], "core");
    assert_eq!(list[0]["version_count"], 1);
    assert!(!text(&o.stdout).contains("instance-value"));

    let o = keyshift(
        &f.store,
        &["secret", "list", "--instance", "kst-000000000000"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("kst-000000000000"));
    let empty = tempfile::tempdir().unwrap();
    Kms::open(empty.path(), "test").unwrap();
    let o = keyshift(empty.path(), &["secret", "list"]);
    assert_eq!(text(&o.stdout), "no secrets\n");
}
