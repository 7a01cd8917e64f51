//! `keyshift key rotate` and `keyshift rotate --due` against the real
//! binary, on stores set up through the engine. Due-ness is evaluated at a
//! chosen time with `--now` (the documented flag), so nothing waits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, keyshift_stdin, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::engine::rotation::{format_time, parse_time};
use keyshift_core::store::{Container, Key, KeySpec, KeyUsage, NewKey, write_with};
use serde_json::Value as Json;
use std::time::Duration;

fn aes(kms: &Kms, multi_version: bool, interval: Option<&str>) -> Key {
    let mut nk = NewKey::new(Container::Shared, KeySpec::Aes256, KeyUsage::EncryptDecrypt);
    nk.multi_version = multi_version;
    nk.rotation_interval = interval.map(str::to_string);
    kms.create_key(nk).unwrap()
}

/// `days` after the key's creation, as RFC 3339.
fn days_after(key: &Key, days: u64) -> String {
    format_time(parse_time("now", &key.creation_date).unwrap() + Duration::from_secs(days * 86_400))
}

#[test]
fn key_rotate_on_demand_keeps_old_ciphertexts() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let k = aes(&kms, true, Some("30d"));
    kms.create_alias("alias/app", &k.id).unwrap();
    let single = aes(&kms, false, None);

    let o = keyshift_stdin(&store, &["encrypt", "--key", "alias/app"], b"old data");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let old_ct = stdout(&o);

    let o = keyshift_stdin(&store, &["key", "rotate", &k.id], b"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let after = kms.get_key(&k.id).unwrap();
    assert_eq!(after.version_count, 2);
    assert_ne!(after.current_version, k.current_version);
    assert_eq!(
        stdout(&o).lines().next().unwrap(),
        format!(
            "rotated {}: version 2 ({}) is now current; older versions still decrypt",
            k.id, after.current_version
        )
    );

    // By alias, JSON.
    let o = keyshift_stdin(
        &store,
        &["key", "rotate", "alias/app", "--format", "json"],
        b"",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j: Json = serde_json::from_str(&stdout(&o)).unwrap();
    let now = kms.get_key(&k.id).unwrap();
    assert_eq!(j["key_id"], k.id.as_str());
    assert_eq!(j["aliases"], serde_json::json!(["alias/app"]));
    assert_eq!(j["version_count"], 3);
    assert_eq!(j["current_version"], now.current_version.as_str());
    assert_eq!(
        j["last_rotation_date"],
        now.last_rotation_date.clone().unwrap().as_str()
    );
    let next = format_time(
        parse_time("x", now.last_rotation_date.as_deref().unwrap()).unwrap()
            + Duration::from_secs(30 * 86_400),
    );
    assert_eq!(j["next_rotation_date"], next.as_str());

    // Old data still decrypts; new data uses the new version.
    let o = keyshift_stdin(&store, &["decrypt"], old_ct.as_bytes());
    assert_eq!((code(&o), o.stdout.as_slice()), (0, b"old data".as_slice()));

    // Refusals: single-version (1, with the reason), unknown key (2).
    let o = keyshift_stdin(&store, &["key", "rotate", &single.id], b"");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot rotate key") && stderr(&o).contains("single-version"),
        "{}",
        stderr(&o)
    );
    assert_eq!(kms.get_key(&single.id).unwrap().version_count, 1);
    let o = keyshift_stdin(&store, &["key", "rotate", "alias/nope"], b"");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
}

/// Moves a key's creation `days` back, as if it had been made then.
fn backdate(kms: &Kms, key: &Key, days: u64) -> Key {
    let then = format_time(
        parse_time("now", &key.creation_date).unwrap() - Duration::from_secs(days * 86_400),
    );
    write_with(kms.store(), |tx| {
        let mut k = tx.key(&key.id)?.unwrap();
        k.creation_date = then.clone();
        tx.update_key(&k)
    })
    .unwrap();
    kms.get_key(&key.id).unwrap()
}

#[test]
fn rotate_due_dry_run_then_rotate_then_nothing_due() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let weekly = aes(&kms, true, Some("7d"));
    let monthly = aes(&kms, true, Some("30d"));
    let _unscheduled = aes(&kms, true, None);
    kms.create_alias("alias/weekly", &weekly.id).unwrap();

    // Nothing due yet (real time).
    let o = keyshift_stdin(&store, &["rotate", "--due"], b"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("no key is due for rotation at "),
        "{}",
        stdout(&o)
    );

    // Made 8 days ago: due since a day.
    let weekly = backdate(&kms, &weekly, 8);
    let before = kms.list_keys(None).unwrap();
    // `--now` moves the clock: 6 days after creation nothing is due yet.
    let early = days_after(&weekly, 6);
    let o = keyshift_stdin(&store, &["rotate", "--due", "--now", &early], b"");
    assert_eq!(
        stdout(&o),
        format!("no key is due for rotation at {early}\n")
    );

    // Dry run, JSON: lists the due key, changes nothing.
    let o = keyshift_stdin(
        &store,
        &["rotate", "--due", "--dry-run", "--format", "json"],
        b"",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut j: Json = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(j["now"].as_str().unwrap().ends_with('Z'), "{j}");
    j["now"] = Json::Null;
    assert_eq!(
        j,
        serde_json::json!({
            "schema_version": 1,
            "now": null,
            "dry_run": true,
            "keys": [{
                "key_id": weekly.id,
                "aliases": ["alias/weekly"],
                "due_since": days_after(&weekly, 7),
                "outcome": "would_rotate",
                "current_version": null,
                "version_count": null,
                "message": null
            }],
            "summary": {"rotated": 0, "would_rotate": 1, "skipped": 0, "failed": 0}
        })
    );
    assert_eq!(
        kms.list_keys(None).unwrap(),
        before,
        "dry run changed the store"
    );

    // The real run, table output.
    let o = keyshift_stdin(&store, &["rotate", "--due"], b"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("KEY "), "{out}");
    assert!(
        out.contains(&format!("{} (alias/weekly)", weekly.id))
            && out.contains(&days_after(&weekly, 7))
            && out.contains("rotated: version 2 is now current"),
        "{out}"
    );
    assert!(
        out.ends_with("1 rotated, 0 would rotate, 0 skipped, 0 failed\n"),
        "{out}"
    );
    assert_eq!(kms.get_key(&weekly.id).unwrap().version_count, 2);
    assert_eq!(kms.get_key(&monthly.id).unwrap().version_count, 1);

    // The schedule restarted at the rotation: a second run finds nothing.
    let o = keyshift_stdin(&store, &["rotate", "--due"], b"");
    assert_eq!(
        (code(&o), stdout(&o).starts_with("no key is due")),
        (0, true)
    );
    assert_eq!(kms.get_key(&weekly.id).unwrap().version_count, 2);
}

#[test]
fn rotate_due_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let legacy = aes(&kms, false, None);
    // An interval stored on a single-version key before the rule was enforced.
    write_with(kms.store(), |tx| {
        let mut k = tx.key(&legacy.id)?.unwrap();
        k.rotation_interval = Some("90d".into());
        tx.update_key(&k)
    })
    .unwrap();
    let o = keyshift_stdin(&store, &["rotate", "--due", "--format", "json"], b"");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let j: Json = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["keys"][0]["key_id"], legacy.id.as_str());
    assert_eq!(j["keys"][0]["outcome"], "failed");
    assert!(
        j["keys"][0]["message"]
            .as_str()
            .unwrap()
            .contains("single-version"),
        "{j}"
    );
    assert_eq!(j["summary"]["failed"], 1);

    for (args, want) in [
        (&["rotate", "--due", "--now", "tomorrow"][..], "--now"),
        (&["rotate"][..], "--due"),
        (&["rotate", "--due", "--format", "yaml"][..], "yaml"),
    ] {
        let o = keyshift_stdin(&store, args, b"");
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    let missing = dir.path().join("missing");
    let o = keyshift_stdin(&missing, &["rotate", "--due"], b"");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!missing.exists());
}
