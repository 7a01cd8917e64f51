//! Tests of the rotation rule, the due rule (with a fake clock) and
//! on-demand and scheduled rotation.

use super::*;
use crate::engine::test_support::{inst, kms, new_key};
use crate::store::conformance::sample_key;
use crate::store::{Container, InstanceType, KeyUpdate};

fn at(s: &str) -> OffsetDateTime {
    parse_time("now", s).unwrap()
}

#[test]
fn rotation_rule() {
    use KeyOrigin::*;
    use KeySpec::*;
    let cases = [
        ("aes multi kms", Aes256, Kms, true, None),
        ("aes single", Aes256, Kms, false, Some("multi_version")),
        ("aes imported", Aes256, External, true, Some("origin")),
        ("rsa", Rsa2048, Kms, true, Some("spec")),
        ("rsa3072 single", Rsa3072, Kms, false, Some("spec")),
        ("ec", EcP256, Kms, true, Some("spec")),
        ("sm2", EcSm2, Kms, false, Some("spec")),
    ];
    for (name, spec, origin, multi, refused_by) in cases {
        let r = check_rotatable(spec, origin, multi);
        assert_eq!(r.err().map(NotRotatable::attribute), refused_by, "{name}");
    }
}

#[test]
fn interval_parsing() {
    let cases = [
        ("30d", Some(30 * 86_400)),
        ("720h", Some(720 * 3_600)),
        ("604800s", Some(604_800)),
        ("7d", Some(7 * 86_400)),
        ("365d", Some(365 * 86_400)),
        ("6d", None),
        ("366d", None),
        ("1d", None),
        ("d", None),
        ("30", None),
        ("30m", None),
        ("+30d", None),
        ("-30d", None),
        (" 30d", None),
        ("3é", None),
        ("", None),
        ("99999999999999999999d", None),
    ];
    for (s, want) in cases {
        let got = parse_interval(s);
        assert_eq!(got.as_ref().ok().map(|d| d.whole_seconds()), want, "{s:?}");
        if let Err(e) = got {
            assert!(matches!(
                e,
                StoreError::Invalid {
                    field: "rotation_interval",
                    ..
                }
            ));
        }
    }
}

#[test]
fn due_rule_with_a_fake_clock() {
    let base = |f: &dyn Fn(&mut Key)| {
        let mut k = sample_key(Container::Shared);
        k.creation_date = "2026-01-01T00:00:00Z".into();
        k.rotation_interval = Some("30d".into());
        f(&mut k);
        k
    };
    let jan31 = at("2026-01-31T00:00:00Z");
    let cases: Vec<(&str, Key, &str, Due)> = vec![
        (
            "no interval",
            base(&|k| k.rotation_interval = None),
            "2030-01-01T00:00:00Z",
            Due::Unscheduled,
        ),
        (
            "one second early",
            base(&|_| {}),
            "2026-01-30T23:59:59Z",
            Due::NotYet(jan31),
        ),
        (
            "exactly due",
            base(&|_| {}),
            "2026-01-31T00:00:00Z",
            Due::Now(jan31),
        ),
        (
            "overdue",
            base(&|_| {}),
            "2026-06-01T00:00:00Z",
            Due::Now(jan31),
        ),
        (
            "rotated since: counts from the last rotation",
            base(&|k| k.last_rotation_date = Some("2026-01-20T00:00:00Z".into())),
            "2026-02-01T00:00:00Z",
            Due::NotYet(at("2026-02-19T00:00:00Z")),
        ),
        (
            "hours",
            base(&|k| k.rotation_interval = Some("168h".into())),
            "2026-01-08T00:00:00Z",
            Due::Now(at("2026-01-08T00:00:00Z")),
        ),
        (
            "disabled waits",
            base(&|k| k.state = KeyState::Disabled),
            "2026-02-01T00:00:00Z",
            Due::Paused(jan31, KeyState::Disabled),
        ),
        (
            "pending deletion is left alone",
            base(&|k| k.state = KeyState::PendingDeletion),
            "2026-02-01T00:00:00Z",
            Due::Unscheduled,
        ),
        (
            "single-version can never rotate",
            base(&|k| k.multi_version = false),
            "2026-01-02T00:00:00Z",
            Due::Never(NotRotatable::SingleVersion),
        ),
        (
            "imported can never rotate",
            base(&|k| k.origin = KeyOrigin::External),
            "2026-02-01T00:00:00Z",
            Due::Never(NotRotatable::Imported),
        ),
    ];
    for (name, key, now, want) in cases {
        assert_eq!(due(&key, at(now)).unwrap(), want, "{name}");
    }
    let k = base(&|_| {});
    assert_eq!(next_rotation(&k).unwrap(), Some(jan31));
    assert_eq!(
        next_rotation(&base(&|k| k.multi_version = false)).unwrap(),
        None
    );
    assert_eq!(
        next_rotation(&base(&|k| k.rotation_interval = None)).unwrap(),
        None
    );
    let broken = base(&|k| k.rotation_interval = Some("soon".into()));
    assert!(due(&broken, jan31).is_err());
}

#[test]
fn rotate_keeps_old_versions_decrypting() {
    let (_d, kms) = kms();
    let mut nk = new_key(Container::Shared, KeySpec::Aes256);
    nk.multi_version = true;
    let k = kms.create_key(nk).unwrap();
    kms.create_alias("alias/rotating", &k.id).unwrap();
    assert_eq!(k.last_rotation_date, None);
    let ct1 = kms.encrypt(&k.id, b"v1").unwrap();
    let r1 = kms.rotate_key("alias/rotating").unwrap();
    let ct2 = kms.encrypt(&k.id, b"v2").unwrap();
    let r2 = kms.rotate_key(&k.id).unwrap();
    assert_eq!(r2.version_count, 3);
    assert!(r1.last_rotation_date.is_some());
    assert_eq!(kms.get_key(&k.id).unwrap(), r2);
    let ids = [&k.current_version, &r1.current_version, &r2.current_version];
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    assert_eq!(kms.decrypt(&ct1).unwrap(), b"v1");
    assert_eq!(kms.decrypt(&ct2).unwrap(), b"v2");
    let ct3 = kms.encrypt(&k.id, b"v3").unwrap();
    let names = |ct: &[u8], v: &str| ct.windows(v.len()).any(|w| w == v.as_bytes());
    assert!(
        names(&ct3, &r2.current_version),
        "new data uses the new version"
    );
    assert!(names(&ct1, &k.current_version));
    assert!(
        kms.audit_log(1)
            .unwrap()
            .iter()
            .any(|a| a.action == "key.rotate" && a.detail == "version 3")
    );
}

#[test]
fn rotate_refusals_change_nothing() {
    let (_d, kms) = kms();
    let single = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let rsa = kms
        .create_key(new_key(Container::Shared, KeySpec::Rsa2048))
        .unwrap();
    let mut nk = new_key(Container::Shared, KeySpec::Aes256);
    nk.multi_version = true;
    let disabled = kms.create_key(nk.clone()).unwrap();
    kms.update_key(
        &disabled.id,
        KeyUpdate {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let mut locked = nk.clone();
    locked.container = target.clone();
    let locked = kms.create_key(locked).unwrap();
    kms.set_migrating(&target, true).unwrap();
    for (name, id, part) in [
        ("single", &single.id, "single-version"),
        ("rsa", &rsa.id, "RSA_2048 keys do not rotate"),
        ("disabled", &disabled.id, "Disabled"),
        ("locked", &locked.id, "migration"),
    ] {
        let before = kms.get_key(id).unwrap();
        let e = kms.rotate_key(id).unwrap_err();
        assert!(e.to_string().contains(part), "{name}: {e}");
        assert_eq!(kms.get_key(id).unwrap(), before, "{name}");
    }
}

#[test]
fn intervals_are_checked_by_the_engine() {
    let (_d, kms) = kms();
    let mut single = new_key(Container::Shared, KeySpec::Aes256);
    single.rotation_interval = Some("30d".into());
    let e = kms.create_key(single.clone()).unwrap_err();
    assert!(
        matches!(&e, StoreError::Invalid { field: "rotation_interval", message } if message.contains("single-version")),
        "{e:?}"
    );
    single.multi_version = true;
    single.rotation_interval = Some("2d".into());
    assert!(kms.create_key(single.clone()).is_err());
    single.rotation_interval = Some("30d".into());
    kms.create_key(single).unwrap();

    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let set = |r: Option<&str>| KeyUpdate {
        rotation_interval: Some(r.map(str::to_string)),
        ..Default::default()
    };
    assert!(kms.update_key(&k.id, set(Some("30d"))).is_err());
    kms.update_key(&k.id, set(None)).unwrap();
}

#[test]
fn rotate_due_rotates_once_and_dry_run_changes_nothing() {
    let (_d, kms) = kms();
    let mk = |interval: Option<&str>, multi: bool| {
        let mut nk = new_key(Container::Shared, KeySpec::Aes256);
        nk.multi_version = multi;
        nk.rotation_interval = interval.map(str::to_string);
        kms.create_key(nk).unwrap()
    };
    let weekly = mk(Some("7d"), true);
    let yearly = mk(Some("365d"), true);
    let plain = mk(None, true);
    let off = mk(Some("7d"), true);
    kms.update_key(
        &off.id,
        KeyUpdate {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    let created = kms.get_key(&weekly.id).unwrap().creation_date;
    let in_8_days = at(&created) + Duration::days(8);
    let before: Vec<Key> = kms.list_keys(None).unwrap();

    assert!(kms.rotate_due(at(&created), false).unwrap().is_empty());
    let dry = kms.rotate_due(in_8_days, true).unwrap();
    let outcomes: Vec<(&str, &DueOutcome)> = dry
        .iter()
        .map(|d| (d.key_id.as_str(), &d.outcome))
        .collect();
    assert_eq!(outcomes.len(), 2, "{dry:?}");
    assert!(outcomes.contains(&(weekly.id.as_str(), &DueOutcome::WouldRotate)));
    assert!(
        outcomes.iter().any(|(id, o)| *id == off.id
            && matches!(o, DueOutcome::Skipped(m) if m.contains("Disabled")))
    );
    assert_eq!(
        kms.list_keys(None).unwrap(),
        before,
        "dry run changes nothing"
    );

    let run = kms.rotate_due(in_8_days, false).unwrap();
    let rotated: Vec<&DueKey> = run
        .iter()
        .filter(|d| matches!(d.outcome, DueOutcome::Rotated { .. }))
        .collect();
    assert_eq!(rotated.len(), 1, "{run:?}");
    assert_eq!(rotated[0].key_id, weekly.id);
    assert_eq!(
        rotated[0].due_since.as_deref(),
        Some(format_time(at(&created) + Duration::days(7)).as_str())
    );
    let after = kms.get_key(&weekly.id).unwrap();
    assert_eq!(after.version_count, 2);
    assert!(after.last_rotation_date.is_some());
    for k in [&yearly, &plain, &off] {
        assert_eq!(kms.get_key(&k.id).unwrap().version_count, 1);
    }
    // Rotating in the same transaction re-checks due-ness: the rotation
    // (stamped with the real time) restarted the schedule.
    assert_eq!(kms.rotate_if_due(&weekly.id, current_time()).unwrap(), None);
    assert_eq!(kms.get_key(&weekly.id).unwrap().version_count, 2);
}

/// Moves a key's creation back by `days` (a key made that long ago).
fn backdate(kms: &Kms, id: &str, days: i64) {
    crate::store::write_with(kms.store(), |tx| {
        let mut k = tx.key(id)?.unwrap();
        k.creation_date = format_time(current_time() - Duration::days(days));
        tx.update_key(&k)
    })
    .unwrap();
}

#[test]
fn rotate_due_at_the_real_time_rotates_once() {
    let (_d, kms) = kms();
    let mut nk = new_key(Container::Shared, KeySpec::Aes256);
    nk.multi_version = true;
    nk.rotation_interval = Some("7d".into());
    let k = kms.create_key(nk).unwrap();
    assert!(kms.rotate_due(current_time(), false).unwrap().is_empty());
    backdate(&kms, &k.id, 8);
    let first = kms.rotate_due(current_time(), false).unwrap();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(matches!(
        first[0].outcome,
        DueOutcome::Rotated {
            version_count: 2,
            ..
        }
    ));
    let again = kms.rotate_due(current_time(), false).unwrap();
    assert!(again.is_empty(), "a second run finds nothing: {again:?}");
    let after = kms.get_key(&k.id).unwrap();
    assert_eq!(after.version_count, 2);
    assert_eq!(
        next_rotation(&after).unwrap(),
        Some(at(after.last_rotation_date.as_deref().unwrap()) + Duration::days(7))
    );
}

#[test]
fn rotate_due_reports_keys_that_can_never_rotate() {
    let (_d, kms) = kms();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    // An interval stored before the rule was enforced.
    crate::store::write_with(kms.store(), |tx| {
        let mut stored = tx.key(&k.id)?.unwrap();
        stored.rotation_interval = Some("90d".into());
        tx.update_key(&stored)
    })
    .unwrap();
    let run = kms.rotate_due(current_time(), false).unwrap();
    assert_eq!(run.len(), 1);
    assert!(
        matches!(&run[0].outcome, DueOutcome::Failed(m) if m.contains("single-version")),
        "{run:?}"
    );
    assert!(run[0].outcome.is_failure());
}

#[test]
fn rotate_due_waits_for_a_migration() {
    let (_d, kms) = kms();
    let target = inst(&kms, "t", InstanceType::Software, "eu-1");
    let mut nk = new_key(target.clone(), KeySpec::Aes256);
    nk.multi_version = true;
    nk.rotation_interval = Some("7d".into());
    let k = kms.create_key(nk).unwrap();
    backdate(&kms, &k.id, 8);
    kms.set_migrating(&target, true).unwrap();
    let run = kms.rotate_due(current_time(), false).unwrap();
    assert!(
        matches!(&run[0].outcome, DueOutcome::Skipped(m) if m.contains("migration")),
        "{run:?}"
    );
    assert!(!run[0].outcome.is_failure());
    assert_eq!(kms.get_key(&k.id).unwrap().version_count, 1);
    kms.set_migrating(&target, false).unwrap();
    let run = kms.rotate_due(current_time(), false).unwrap();
    assert!(
        matches!(run[0].outcome, DueOutcome::Rotated { .. }),
        "{run:?}"
    );
}
