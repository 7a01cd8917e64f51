//! Engine tests: the migration lock, and several handles, threads and
//! processes writing one store at once.

use super::Kms;
use super::test_support::{inst, kms, new_key};
use crate::store::{
    Container, InstanceStatus, InstanceType, InstanceUpdate, KeySpec, KeyUpdate, StoreError,
};

#[test]
fn migration_lock_fails_management_fast() {
    let (_d, kms) = kms();
    let c = inst(&kms, "locked", InstanceType::Software, "eu-1");
    let id = c.instance_id().unwrap().to_string();
    let k = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    kms.set_migrating(&c, true).unwrap();
    assert_eq!(
        kms.get_instance(&id).unwrap().status,
        InstanceStatus::Migrating
    );
    let again = kms.set_migrating(&c, true);
    assert!(
        matches!(again, Err(StoreError::MigrationInProgress { .. })),
        "{again:?}"
    );
    let is_locked =
        |r: Result<(), StoreError>| matches!(r, Err(StoreError::MigrationInProgress { .. }));
    assert!(is_locked(
        kms.create_key(new_key(c.clone(), KeySpec::Aes256))
            .map(|_| ())
    ));
    assert!(is_locked(
        kms.update_key(&k.id, KeyUpdate::default()).map(|_| ())
    ));
    assert!(is_locked(
        kms.schedule_key_deletion(&k.id, None).map(|_| ())
    ));
    assert!(is_locked(
        kms.update_instance(&id, InstanceUpdate::default())
            .map(|_| ())
    ));
    assert!(is_locked(kms.delete_instance(&id, true)));
    assert!(is_locked(
        kms.create_alias("alias/x-locked", &k.id).map(|_| ())
    ));
    assert!(is_locked(
        kms.move_key(&k.id, &Container::Shared).map(|_| ())
    ));
    // Reads and the data plane keep working.
    let ct = kms.encrypt(&k.id, b"still works").unwrap();
    assert_eq!(kms.decrypt(&ct).unwrap(), b"still works");
    kms.set_migrating(&c, false).unwrap();
    assert_eq!(
        kms.get_instance(&id).unwrap().status,
        InstanceStatus::Active
    );
    kms.update_key(&k.id, KeyUpdate::default()).unwrap();
    // The shared KMS has the lock too.
    kms.set_migrating(&Container::Shared, true).unwrap();
    assert!(is_locked(
        kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .map(|_| ())
    ));
    kms.set_migrating(&Container::Shared, false).unwrap();
}

#[test]
fn two_handles_two_threads_create_100_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared-store");
    let counts: Vec<usize> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|t| {
                let path = path.clone();
                s.spawn(move || {
                    let kms = Kms::open(&path, &format!("thread-{t}")).unwrap();
                    for _ in 0..50 {
                        kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
                            .unwrap();
                    }
                    50
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts, vec![50, 50]);
    let kms = Kms::open(&path, "check").unwrap();
    let keys = kms.list_keys(None).unwrap();
    assert_eq!(keys.len(), 100);
    assert!(
        keys.iter()
            .all(|k| k.version_count == 1 && !kms.material_for_test(&k.id).is_empty())
    );
    assert_eq!(
        kms.audit_log(1000)
            .unwrap()
            .iter()
            .filter(|a| a.action == "key.create")
            .count(),
        100
    );
}

#[test]
fn one_handle_shared_across_threads() {
    let (_d, kms) = kms();
    let c = inst(&kms, "par", InstanceType::Software, "eu-1");
    // Quota 5, 10 parallel creators: exactly 5 succeed, the rest see Conflict.
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..10)
            .map(|_| s.spawn(|| kms.create_key(new_key(c.clone(), KeySpec::Aes256))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Conflict(_)))
    );
    assert_eq!(
        kms.instance_usage(c.instance_id().unwrap()).unwrap(),
        (5, 0)
    );
}

/// Helper run in a child process by `two_processes_write_concurrently`.
#[test]
#[ignore = "run as a child process by two_processes_write_concurrently"]
fn child_process_writer() {
    let Ok(dir) = std::env::var("KEYSHIFT_TEST_CHILD_STORE") else {
        return;
    };
    let kms = Kms::open(std::path::Path::new(&dir), "child").unwrap();
    for _ in 0..25 {
        kms.create_key(new_key(Container::Shared, KeySpec::Aes256))
            .unwrap();
    }
}

#[test]
fn two_processes_write_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "engine::tests_locking::child_process_writer",
                    "--ignored",
                    "--quiet",
                ])
                .env("KEYSHIFT_TEST_CHILD_STORE", dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let kms = Kms::open(dir.path(), "check").unwrap();
    assert_eq!(kms.list_keys(None).unwrap().len(), 50);
    assert!(
        kms.list_keys(None)
            .unwrap()
            .iter()
            .all(|k| kms.material_for_test(&k.id).len() == 32)
    );
}
