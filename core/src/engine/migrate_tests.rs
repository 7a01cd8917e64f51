//! Engine tests of migration runs: one test per refusal rule, the selection
//! errors, and a run that keeps identity and ciphertexts.

use std::collections::BTreeMap;

use super::*;
use crate::engine::migration_lock;
use crate::engine::test_support::{inst, kms, new_key};
use crate::store::{InstanceType, KeySpec, NewSecret, ProtectionLevel, SecretType};

fn req(target: &Container, patterns: &[&str]) -> Request {
    Request {
        target: target.clone(),
        from: None,
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        all: false,
        include_secrets: true,
    }
}

fn secret(kms: &Kms, c: &Container, name: &str, key_id: &str) -> Secret {
    let new = NewSecret {
        name: name.into(),
        container: c.clone(),
        secret_type: SecretType::Generic,
        encryption_key_id: key_id.into(),
        description: String::new(),
        tags: BTreeMap::new(),
    };
    kms.create_secret(new, b"value").unwrap()
}

/// The decision about the single candidate `id`, after select.
fn decision(kms: &Kms, r: &Request, id: &str) -> Decision {
    let sel = select(kms, r).unwrap();
    let c = sel.candidates.iter().find(|c| c.id == id).unwrap();
    c.decision.clone()
}

fn refused_with(d: Decision, part: &str) {
    match d {
        Decision::Refuse(m) => assert!(m.contains(part), "{m}"),
        other => unreachable!("want a refusal containing {part:?}, got {other:?}"),
    }
}

fn soft(kms: &Kms) -> Container {
    inst(kms, "dest", InstanceType::Software, "eu-1")
}

#[test]
fn service_key_is_skipped_as_not_required() {
    let (_d, kms) = kms();
    let t = soft(&kms);
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.create_alias("alias/acs/ecs", &k.id).unwrap();
    match decision(&kms, &req(&t, &["alias/acs/*"]), &k.id) {
        Decision::Skip(m) => assert!(
            m.contains("service key") && m.contains("not required"),
            "{m}"
        ),
        other => unreachable!("{other:?}"),
    }
}

#[test]
fn unmigratable_spec_is_refused() {
    let (_d, kms) = kms();
    let t = soft(&kms);
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Rsa3072))
        .unwrap();
    refused_with(
        decision(&kms, &req(&t, &[&k.id]), &k.id),
        "spec RSA_3072 cannot be migrated",
    );
}

#[test]
fn hsm_protection_is_refused() {
    let (_d, kms) = kms();
    let t = soft(&kms);
    let hard = inst(&kms, "hard", InstanceType::Hardware, "eu-1");
    let mut nk = new_key(hard.clone(), KeySpec::Aes256);
    nk.protection_level = ProtectionLevel::Hsm;
    let k = kms.create_key(nk).unwrap();
    let mut r = req(&t, &[&k.id]);
    r.from = Some(hard);
    refused_with(decision(&kms, &r, &k.id), "protection level HSM");
}

#[test]
fn hardware_target_accepts_only_single_version_aes() {
    let (_d, kms) = kms();
    let hard = inst(&kms, "hard", InstanceType::Hardware, "eu-1");
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::EcP256))
        .unwrap();
    refused_with(
        decision(&kms, &req(&hard, &[&k.id]), &k.id),
        "accepts only single-version AES_256",
    );
}

#[test]
fn other_region_is_refused() {
    let (_d, kms) = kms();
    let src = soft(&kms);
    let far = inst(&kms, "far", InstanceType::Software, "us-1");
    let k = kms
        .create_key(new_key(src.clone(), KeySpec::Aes256))
        .unwrap();
    let mut r = req(&far, &[&k.id]);
    r.from = Some(src);
    refused_with(decision(&kms, &r, &k.id), "region");
}

#[test]
fn secret_whose_key_stays_behind_is_refused() {
    let (_d, kms) = kms();
    let t = soft(&kms);
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let s = secret(&kms, &Container::Shared, "db", &k.id);
    refused_with(
        decision(&kms, &req(&t, &["db"]), &s.id),
        "migrates only with or after its encryption key",
    );
    // With its key in the same run it moves.
    assert_eq!(
        decision(&kms, &req(&t, &["db", &k.id]), &s.id),
        Decision::Move
    );
}

#[test]
fn quota_counts_the_keys_moving_in_the_same_run() {
    let (_d, kms) = kms();
    let t = soft(&kms); // key quota 5
    for _ in 0..6 {
        kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap();
    }
    let mut r = req(&t, &[]);
    r.all = true;
    let sel = select(&kms, &r).unwrap();
    let moves = sel
        .candidates
        .iter()
        .filter(|c| c.decision == Decision::Move)
        .count();
    assert_eq!(moves, 5);
    let refused: Vec<_> = sel
        .candidates
        .iter()
        .filter(|c| matches!(&c.decision, Decision::Refuse(m) if m.contains("key quota 5 is full")))
        .collect();
    assert_eq!(refused.len(), 1);
}

#[test]
fn bad_selections_are_errors() {
    let (_d, kms) = kms();
    let t = soft(&kms);
    for _ in 0..(MANUAL_LIMIT + 1) {
        kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap();
    }
    let cases: Vec<(&str, Request, &str)> = vec![
        ("nothing", req(&t, &[]), "nothing selected"),
        (
            "no match",
            req(&t, &["alias/none*"]),
            "matches no key or secret",
        ),
        ("too many", req(&t, &["key-*"]), "at most 50"),
        (
            "unknown instance",
            req(&Container::Instance("kst-000000000000".into()), &["*"]),
            "kst-000000000000",
        ),
        (
            "shared needs from",
            req(&Container::Shared, &["*"]),
            "--from",
        ),
    ];
    for (name, r, part) in cases {
        match select(&kms, &r) {
            Err(e) => assert!(e.to_string().contains(part), "case {name}: {e}"),
            Ok(_) => unreachable!("case {name}: selected"),
        }
    }
    let mut all = req(&t, &[]);
    all.all = true;
    assert_eq!(
        select(&kms, &all).unwrap().candidates.len(),
        MANUAL_LIMIT + 1,
        "--all has no cap"
    );
}

#[test]
fn run_moves_keys_and_secrets_and_back() {
    let (_d, kms) = kms();
    let t = soft(&kms);
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.create_alias("alias/app", &k.id).unwrap();
    let s = secret(&kms, &Container::Shared, "db", &k.id);
    let ct = kms.encrypt("alias/app", b"hello").unwrap();
    let before = kms.get_key(&k.id).unwrap();
    let sel = select(&kms, &req(&t, &["alias/app", "db"])).unwrap();
    let mut seen = 0;
    let outcomes = run(&kms, &sel, BATCH, &mut |_| seen += 1).unwrap();
    assert_eq!(outcomes, vec![Outcome::Migrated, Outcome::Migrated]);
    assert_eq!(seen, 2);
    let after = kms.get_key(&k.id).unwrap();
    assert_eq!(
        Key {
            container: Container::Shared,
            ..after.clone()
        },
        before
    );
    assert_eq!(after.container, t);
    assert_eq!(kms.get_secret(&s.id).unwrap().container, t);
    assert_eq!(kms.decrypt(&ct).unwrap(), b"hello");
    assert!(
        !kms.list_instances().unwrap()[0]
            .status
            .to_string()
            .contains("migrating"),
        "unlocked"
    );

    let mut back = req(&Container::Shared, &["*"]);
    back.from = Some(t.clone());
    let outcomes = run(&kms, &select(&kms, &back).unwrap(), BATCH, &mut |_| {}).unwrap();
    assert_eq!(outcomes, vec![Outcome::Migrated, Outcome::Migrated]);
    assert_eq!(kms.get_key(&k.id).unwrap().container, Container::Shared);
    assert_eq!(kms.decrypt(&ct).unwrap(), b"hello");
}

#[test]
fn run_refuses_while_another_migration_holds_the_target() {
    let (_d, kms) = kms();
    let t = soft(&kms);
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let sel = select(&kms, &req(&t, &[&k.id])).unwrap();
    kms.set_migrating(&t, true).unwrap();
    assert!(matches!(
        run(&kms, &sel, BATCH, &mut |_| {}),
        Err(StoreError::MigrationInProgress { .. })
    ));
    assert_eq!(kms.get_key(&k.id).unwrap().container, Container::Shared);
    // The source lock taken before the failure was released.
    kms.set_migrating(&Container::Shared, true).unwrap();
}

#[test]
fn globs() {
    for (g, t, want) in [
        ("alias/app*", "alias/app-db", true),
        ("alias/?pp", "alias/app", true),
        ("alias/app", "alias/apps", false),
        ("*", "", true),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false),
    ] {
        assert_eq!(glob_matches(g, t), want, "{g} vs {t}");
    }
}

#[test]
fn a_lock_left_by_a_dead_process_is_taken_over() {
    use crate::store::write_with;
    let (_d, kms) = kms();
    let t = soft(&kms);
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let mut dead = kms.begin_migration(&Container::Shared, &t).unwrap();
    // A live holder: refused, naming the run.
    let sel = select(&kms, &req(&t, &[&k.id])).unwrap();
    match run(&kms, &sel, BATCH, &mut |_| {}) {
        Err(e @ StoreError::MigrationInProgress { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains(&format!("(run {}, pid ", dead.run_id)) && m.contains("started"),
                "{m}"
            );
        }
        other => unreachable!("{other:?}"),
    }
    // Management operations name the holder too.
    let m = kms.set_migrating(&t, true).unwrap_err().to_string();
    assert!(m.contains(&dead.run_id), "{m}");
    // Its process dies (a pid that cannot exist).
    dead.pid = 4_000_000_000;
    write_with(&*kms.store, |tx| tx.put_migration_run(&dead)).unwrap();
    assert!(migration_lock::run_state(&dead).starts_with("interrupted"));
    // The re-run selects and runs as the lock's new holder.
    let sel = select(&kms, &req(&t, &[&k.id])).unwrap();
    let outcomes = run(&kms, &sel, BATCH, &mut |_| {}).unwrap();
    assert_eq!(outcomes, vec![Outcome::Migrated]);
    let runs = kms.migration_runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs[0]
            .outcome
            .as_deref()
            .unwrap()
            .starts_with("interrupted (taken over by mig-"),
        "{runs:?}"
    );
    assert_eq!(runs[1].outcome.as_deref(), Some("completed"));
    // Everything is unlocked afterwards.
    kms.set_migrating(&t, true).unwrap();
}

#[test]
fn scheduled_rotation_waits_while_a_run_holds_the_key() {
    use crate::engine::rotation::{DueOutcome, current_time};
    let (_d, kms) = kms();
    let t = soft(&kms);
    let mut nk = new_key(Container::Shared, KeySpec::Aes256);
    nk.multi_version = true;
    nk.rotation_interval = Some("7d".into());
    let k = kms.create_key(nk).unwrap();
    let later = current_time() + time::Duration::days(8);
    let lock = kms.begin_migration(&Container::Shared, &t).unwrap();
    let due = kms.rotate_due(later, false).unwrap();
    assert!(
        matches!(&due[0].outcome, DueOutcome::Skipped(m) if m.contains("a migration holds shared")),
        "{due:?}"
    );
    assert_eq!(kms.get_key(&k.id).unwrap().version_count, 1);
    kms.end_migration(&lock, "completed").unwrap();
    let due = kms.rotate_due(later, false).unwrap();
    assert!(
        matches!(due[0].outcome, DueOutcome::Rotated { .. }),
        "{due:?}"
    );
}

#[test]
fn a_batch_that_fails_is_retried_key_by_key() {
    let (_d, kms) = kms();
    let t = soft(&kms); // key quota 5
    let ids: Vec<String> = (0..3)
        .map(|_| {
            kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
                .unwrap()
                .id
        })
        .collect();
    let mut r = req(&t, &[]);
    r.all = true;
    let sel = select(&kms, &r).unwrap();
    // Meanwhile the target fills up: room for two more keys only.
    for _ in 0..3 {
        kms.create_key(new_key(t.clone(), KeySpec::Aes256)).unwrap();
    }
    let outcomes = run(&kms, &sel, BATCH, &mut |_| {}).unwrap();
    assert_eq!(outcomes[..2], [Outcome::Migrated, Outcome::Migrated]);
    assert!(
        matches!(&outcomes[2], Outcome::Failed(m) if m.contains("quota")),
        "{outcomes:?}"
    );
    let in_order: Vec<&String> = sel.candidates.iter().map(|c| &c.id).collect();
    assert_eq!(in_order.len(), ids.len());
    let placed: Vec<Container> = in_order
        .iter()
        .map(|id| kms.get_key(id).unwrap().container)
        .collect();
    assert_eq!(placed, [t.clone(), t.clone(), Container::Shared]);
    assert_eq!(
        kms.migration_runs().unwrap()[0].outcome.as_deref(),
        Some("failed")
    );
}
