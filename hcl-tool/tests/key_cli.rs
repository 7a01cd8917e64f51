//! `keyshift key list|describe|enable|disable|cancel-deletion` and
//! `keyshift instance list|describe|restore` against the real binary, on
//! stores set up through the engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::keyshift;

use keyshift_core::engine::Kms;
use keyshift_core::store::{
    Container, InstanceType, KeySpec, KeyUsage, NewInstance, NewKey, write_with,
};
use serde_json::{Value as Json, json};
use std::path::Path;

fn ok(store: &Path, args: &[&str]) -> String {
    let o = keyshift(store, args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn json_of(store: &Path, args: &[&str]) -> Json {
    serde_json::from_str(&ok(store, args)).unwrap()
}

fn fails(store: &Path, args: &[&str], code: i32, msg: &str) {
    let o = keyshift(store, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.contains(msg), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?}");
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: std::path::PathBuf,
    kms: Kms,
    instance: String,
    shared: String,
    in_instance: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let instance = kms
        .create_instance(NewInstance {
            name: "payments".into(),
            instance_type: InstanceType::Software,
            region: "eu-1".into(),
            key_quota: 10,
            secret_quota: 10,
        })
        .unwrap()
        .id;
    let shared = kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap()
        .id;
    let mut nk = NewKey::new(
        Container::Instance(instance.clone()),
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    nk.description = "payments data".into();
    nk.deletion_window_in_days = 7;
    let in_instance = kms.create_key(nk).unwrap().id;
    kms.create_alias("alias/pay", &in_instance).unwrap();
    Fixture {
        _dir: dir,
        store,
        kms,
        instance,
        shared,
        in_instance,
    }
}

#[test]
fn key_list_and_describe_in_table_and_json() {
    let f = fixture();
    let all = json_of(&f.store, &["key", "list", "--format", "json"]);
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [f.shared.as_str(), f.in_instance.as_str()]);
    let k = &all[1];
    let mut fields: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "aliases",
            "creation_date",
            "current_version",
            "deletion_date",
            "deletion_protection",
            "deletion_window_in_days",
            "description",
            "enabled",
            "id",
            "instance_id",
            "multi_version",
            "origin",
            "protection_level",
            "rotation_interval",
            "spec",
            "state",
            "tags",
            "usage",
            "version_count",
        ],
        "the documented shape"
    );
    assert_eq!(
        (
            &k["instance_id"],
            &k["state"],
            &k["enabled"],
            &k["aliases"],
            &k["deletion_date"]
        ),
        (
            &json!(f.instance),
            &json!("Enabled"),
            &json!(true),
            &json!(["alias/pay"]),
            &Json::Null
        )
    );
    assert_eq!(all[0]["instance_id"], Json::Null);

    for (name, filter, want) in [
        ("shared only", "shared", vec![f.shared.clone()]),
        (
            "one instance",
            f.instance.as_str(),
            vec![f.in_instance.clone()],
        ),
    ] {
        let got = json_of(
            &f.store,
            &["key", "list", "--instance", filter, "--format", "json"],
        );
        let got: Vec<String> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{name}");
    }
    fails(
        &f.store,
        &["key", "list", "--instance", "kst-000000000000"],
        2,
        "instance kst-000000000000 not found",
    );

    let table = ok(&f.store, &["key", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("ID ") && lines[0].contains("STATE") && lines[0].ends_with("ALIASES"),
        "{table}"
    );
    assert!(
        lines[2].starts_with(&f.in_instance)
            && lines[2].contains(&f.instance)
            && lines[2].ends_with("alias/pay"),
        "{table}"
    );

    let by_alias = json_of(
        &f.store,
        &["key", "describe", "alias/pay", "--format", "json"],
    );
    assert_eq!(by_alias, all[1]);
    let text = ok(&f.store, &["key", "describe", &f.in_instance]);
    assert!(
        text.contains("state:") && text.contains("Enabled") && text.contains("payments data"),
        "{text}"
    );
    fails(
        &f.store,
        &["key", "describe", "alias/nope"],
        2,
        "cannot find key alias/nope",
    );
}

#[test]
fn enable_disable_and_cancel_deletion() {
    let f = fixture();
    assert_eq!(
        ok(&f.store, &["key", "disable", "alias/pay"]),
        format!("key {} is Disabled\n", f.in_instance)
    );
    let o = keyshift(&f.store, &["encrypt", "--key", "alias/pay"]);
    assert_eq!(o.status.code(), Some(1), "a disabled key cannot encrypt");
    assert_eq!(
        ok(&f.store, &["key", "enable", &f.in_instance]),
        format!("key {} is Enabled\n", f.in_instance)
    );
    fails(
        &f.store,
        &["key", "cancel-deletion", &f.in_instance],
        1,
        "there is no deletion to cancel",
    );
    fails(
        &f.store,
        &["key", "enable", "key-nope"],
        2,
        "key key-nope not found",
    );

    fails(
        &f.store,
        &["key", "schedule-deletion", &f.shared, "--days", "3"],
        2,
        "deletion",
    );
    let out = ok(&f.store, &["key", "schedule-deletion", &f.shared]);
    let k = json_of(
        &f.store,
        &["key", "describe", &f.shared, "--format", "json"],
    );
    assert_eq!(
        (&k["state"], &k["enabled"]),
        (&json!("PendingDeletion"), &json!(false))
    );
    let date = k["deletion_date"].as_str().unwrap();
    assert_eq!(
        out,
        format!(
            "key {0} is PendingDeletion: erased after {date} unless cancelled with `keyshift key cancel-deletion {0}`\n",
            f.shared
        )
    );
    fails(
        &f.store,
        &["key", "enable", &f.shared],
        1,
        "PendingDeletion",
    );
    assert_eq!(
        ok(&f.store, &["key", "cancel-deletion", &f.shared]),
        format!(
            "deletion of key {0} cancelled: it is Disabled (enable it with `keyshift key enable {0}`)\n",
            f.shared
        )
    );
    let k = json_of(
        &f.store,
        &["key", "describe", &f.shared, "--format", "json"],
    );
    assert_eq!(
        (&k["state"], &k["deletion_date"]),
        (&json!("Disabled"), &Json::Null)
    );
}

#[test]
fn instance_list_describe_and_restore() {
    let f = fixture();
    let list = json_of(&f.store, &["instance", "list", "--format", "json"]);
    assert_eq!(
        list,
        json!([{
            "id": f.instance, "name": "payments", "type": "software", "region": "eu-1",
            "status": "active", "keys": 1, "secrets": 0, "key_quota": 10, "secret_quota": 10,
            "purge_after": null, "created_at": list[0]["created_at"],
        }])
    );
    f.kms.delete_instance(&f.instance, true).unwrap();
    let key = f.kms.get_key(&f.in_instance).unwrap();
    let one = json_of(
        &f.store,
        &["instance", "describe", &f.instance, "--format", "json"],
    );
    assert_eq!(
        (&one["status"], &one["purge_after"]),
        (&json!("deleting"), &json!(key.deletion_date))
    );
    let table = ok(&f.store, &["instance", "list"]);
    assert!(
        table.lines().nth(1).is_some_and(
            |l| l.contains("deleting") && l.ends_with(key.deletion_date.as_deref().unwrap())
        ),
        "{table}"
    );

    let out = ok(&f.store, &["instance", "restore", &f.instance]);
    assert!(
        out.starts_with(&format!("instance {} (payments) is active", f.instance)),
        "{out}"
    );
    let k = json_of(
        &f.store,
        &["key", "describe", &f.in_instance, "--format", "json"],
    );
    assert_eq!(k["state"], "Disabled");
    fails(
        &f.store,
        &["instance", "restore", &f.instance],
        1,
        "nothing to restore",
    );
    fails(
        &f.store,
        &["instance", "describe", "kst-000000000000"],
        2,
        "not found",
    );
}

#[test]
fn keys_past_their_window_are_purged_when_a_command_opens_the_store() {
    let f = fixture();
    f.kms.delete_instance(&f.instance, true).unwrap();
    f.kms.schedule_key_deletion(&f.shared, None).unwrap();
    // Both windows end in the past: the next command purges them first.
    for id in [&f.shared, &f.in_instance] {
        let mut k = f.kms.get_key(id).unwrap();
        k.deletion_date = Some("2020-01-01T00:00:00Z".into());
        write_with(f.kms.store(), |tx| tx.update_key(&k)).unwrap();
    }
    assert_eq!(
        json_of(&f.store, &["key", "list", "--format", "json"]),
        json!([])
    );
    assert_eq!(
        json_of(&f.store, &["instance", "list", "--format", "json"]),
        json!([])
    );
    let audit = Kms::open(&f.store, "test").unwrap().audit_log(10).unwrap();
    let erased: Vec<(&str, &str)> = audit
        .iter()
        .filter(|a| a.action == "key.erase" || a.action == "instance.purge")
        .map(|a| (a.action.as_str(), a.object.as_str()))
        .collect();
    assert_eq!(erased.len(), 3, "{erased:?}");
    assert!(
        erased.contains(&("instance.purge", f.instance.as_str())),
        "{erased:?}"
    );
}
