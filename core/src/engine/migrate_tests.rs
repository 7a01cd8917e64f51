//! Engine tests of migration runs: one test per refusal rule, the selection
//! errors, and a run that keeps identity and ciphertexts.

use std::collections::BTreeMap;

use super::*;
use crate::engine::migration_lock;
use crate::engine::test_support::{inst, kms, new_key};
use crate::store::{
    InstanceType, Key, KeySpec, NewSecret, ProtectionLevel, Secret, SecretType, StoreError,
};

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

/// Every object of a run with its outcome, in order.
fn walk(kms: &Kms, sel: &Selection, dry_run: bool) -> Vec<(Candidate, Outcome)> {
    let mut seen = Vec::new();
    run(kms, sel, BATCH, dry_run, &mut |c, o| {
        seen.push((c.clone(), o.clone()))
    })
    .unwrap();
    seen
}

/// The outcomes of a real run.
fn outcomes(kms: &Kms, sel: &Selection) -> Vec<Outcome> {
    walk(kms, sel, false).into_iter().map(|(_, o)| o).collect()
}

/// The decisions of a dry run of `r`.
fn candidates(kms: &Kms, r: &Request) -> Vec<Candidate> {
    let sel = select(kms, r).unwrap();
    walk(kms, &sel, true).into_iter().map(|(c, _)| c).collect()
}

/// The decision about the single candidate `id`, in a dry run.
fn decision(kms: &Kms, r: &Request, id: &str) -> Decision {
    let all = candidates(kms, r);
    let c = all.iter().find(|c| c.id == id).unwrap();
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
    let all = candidates(&kms, &r);
    let moves = all.iter().filter(|c| c.decision == Decision::Move).count();
    assert_eq!(moves, 5);
    let refused: Vec<_> = all
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
        candidates(&kms, &all).len(),
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
    assert_eq!(
        outcomes(&kms, &sel),
        vec![Outcome::Migrated, Outcome::Migrated]
    );
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
    let back = select(&kms, &back).unwrap();
    assert_eq!(
        outcomes(&kms, &back),
        vec![Outcome::Migrated, Outcome::Migrated]
    );
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
        run(&kms, &sel, BATCH, false, &mut |_, _| {}),
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
    match run(&kms, &sel, BATCH, false, &mut |_, _| {}) {
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
    assert_eq!(outcomes(&kms, &sel), vec![Outcome::Migrated]);
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
    use crate::store::write_with;
    let (_d, kms) = kms();
    let t = soft(&kms);
    let mut ids: Vec<String> = (0..3)
        .map(|_| {
            kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
                .unwrap()
                .id
        })
        .collect();
    ids.sort();
    // The middle key's material is damaged: it cannot be re-sealed.
    write_with(&*kms.store, |tx| {
        let mut v = tx.versions(&ids[1])?.remove(0);
        v.sealed = vec![0; v.sealed.len()];
        tx.put_version(&v)
    })
    .unwrap();
    let mut r = req(&t, &[]);
    r.all = true;
    let seen = walk(&kms, &select(&kms, &r).unwrap(), false);
    let in_order: Vec<&String> = seen.iter().map(|(c, _)| &c.id).collect();
    assert_eq!(in_order, ids.iter().collect::<Vec<_>>(), "id order");
    assert_eq!(
        (&seen[0].1, &seen[2].1),
        (&Outcome::Migrated, &Outcome::Migrated)
    );
    assert!(matches!(&seen[1].1, Outcome::Failed(_)), "{seen:?}");
    let placed: Vec<Container> = ids
        .iter()
        .map(|id| kms.get_key(id).unwrap().container)
        .collect();
    assert_eq!(placed, [t.clone(), Container::Shared, t.clone()]);
    assert_eq!(
        kms.migration_runs().unwrap()[0].outcome.as_deref(),
        Some("failed")
    );
}

#[test]
fn a_run_walks_pages_and_reports_what_is_already_there() {
    let (_d, kms) = kms();
    let t = inst(&kms, "big", InstanceType::Software, "eu-1");
    kms.update_instance(
        t.instance_id().unwrap(),
        crate::store::InstanceUpdate {
            key_quota: Some(100),
            secret_quota: None,
        },
    )
    .unwrap();
    let ids: Vec<String> = (0..9)
        .map(|_| {
            kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
                .unwrap()
                .id
        })
        .collect();
    let mut r = req(&t, &[]);
    r.all = true;
    // Pages of 2: the first run moves 4 keys and is stopped (the callback
    // cannot stop it, so run on a selection of the first 4 by id).
    let mut first = ids.clone();
    first.sort();
    let sel = Selection {
        scope: Scope::Ids {
            keys: first[..4].to_vec(),
            secrets: Vec::new(),
        },
        ..select(&kms, &r).unwrap()
    };
    let mut n = 0;
    run(&kms, &sel, 2, false, &mut |_, _| n += 1).unwrap();
    assert_eq!(n, 4);
    let sel = select(&kms, &r).unwrap();
    assert_eq!(sel.total(&kms).unwrap(), 9);
    let mut seen = Vec::new();
    run(&kms, &sel, 2, false, &mut |c, o| {
        seen.push((c.id.clone(), o.clone()))
    })
    .unwrap();
    let already: Vec<&String> = seen
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Skipped(m) if m.contains("already in")))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(already, first[..4].iter().collect::<Vec<_>>());
    let moved = seen.iter().filter(|(_, o)| *o == Outcome::Migrated).count();
    assert_eq!(moved, 5);
    assert_eq!(kms.list_keys(Some(&t)).unwrap().len(), 9);
}

#[test]
fn secrets_left_behind_by_a_key_already_in_the_target_follow_it() {
    let (_d, kms) = kms();
    let target = soft(&kms);
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    kms.create_alias("alias/payments/app", &k.id).unwrap();
    let s = secret(&kms, &Container::Shared, "payments/db", &k.id);
    // What a key move left behind before the dependency rule: the key in
    // the target, its secret in the source.
    crate::store::write_with(&*kms.store, |tx| {
        let mut key = tx.key(&k.id)?.unwrap();
        key.container = target.clone();
        tx.update_key(&key)
    })
    .unwrap();
    let sel = select(&kms, &req(&target, &["alias/payments/*"])).unwrap();
    assert!(
        matches!(&sel.scope, Scope::Ids { keys, secrets } if keys.as_slice() == std::slice::from_ref(&k.id) && secrets.as_slice() == std::slice::from_ref(&s.id)),
        "{:?}",
        sel.scope
    );
    let seen = walk(&kms, &sel, false);
    let got: Vec<(&str, &Outcome)> = seen.iter().map(|(c, o)| (c.id.as_str(), o)).collect();
    assert_eq!(
        got,
        [
            (
                k.id.as_str(),
                &Outcome::Skipped(format!("already in {target}"))
            ),
            (s.id.as_str(), &Outcome::Migrated)
        ]
    );
    assert_eq!(kms.get_secret(&s.id).unwrap().container, target);
}
