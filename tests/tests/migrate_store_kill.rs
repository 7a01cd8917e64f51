//! SIGKILL of `keyshift migrate --from-store A --to-store B --all
//! --include-secrets` (release binary) at random points of a 2,000-key run.
//! After every kill: every key and secret is still in the source, the
//! target holds at most one copy of each, every copy there is exact (same
//! metadata and material: old ciphertexts decrypt against B) and nothing is
//! duplicated or lost; re-running the same command then completes the move,
//! after which `migrate --status` is empty and no container is locked in
//! either store. The same with `--move`, back and forth between the two
//! stores: after every kill every object is in at least one of the stores,
//! unchanged and readable, and after every re-run the source is empty and
//! nothing is left open or locked. The last `--move` is killed after it
//! emptied the source, while it waits to release the target's locks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use keyshift_core::engine::Kms;
use keyshift_core::store::{
    Container, InstanceType, Key, KeySpec, KeyUsage, NewInstance, NewKey, NewSecret, SecretType,
};

const KEYS: usize = 2_000;
const IN_INSTANCE: usize = 100;
const SECRETS: usize = 20;
const KILLS: usize = 12;

/// A small xorshift generator (the seed is printed to replay a failure).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn migrate(a: &Path, b: &Path) -> Command {
    let mut cmd = Command::new(keyshift_e2e::release_dir().join("keyshift"));
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("KEYSHIFT_") || n.starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.arg("migrate")
        .arg("--from-store")
        .arg(a)
        .arg("--to-store")
        .arg(b)
        .args(["--all", "--include-secrets", "--batch-size", "32"]);
    cmd
}

/// Number of keys in the target store (0 before it exists), on a
/// read-only connection kept open between polls (opening a service could
/// write, and would wait for the run's write lock).
struct Counter {
    db: std::path::PathBuf,
    conn: Option<rusqlite::Connection>,
}

impl Counter {
    fn keys(&mut self) -> usize {
        self.count("SELECT count(*) FROM keys")
    }

    /// `SELECT count(*) …` (0 before the store exists).
    fn count(&mut self, sql: &str) -> usize {
        if self.conn.is_none() && self.db.exists() {
            self.conn = rusqlite::Connection::open_with_flags(
                &self.db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok();
        }
        let Some(conn) = &self.conn else { return 0 };
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map_or(0, |n| n as usize)
    }
}

struct Seeded {
    /// key id → (a ciphertext made in A, its plaintext), for every 25th key.
    samples: BTreeMap<String, (Vec<u8>, Vec<u8>)>,
}

fn seed(a: &Path) -> Seeded {
    let kms = Kms::open(a, "test").unwrap();
    let inst = kms
        .create_instance(NewInstance {
            name: "payments".into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: IN_INSTANCE as i64 + 1,
            secret_quota: SECRETS as i64 + 1,
        })
        .unwrap();
    let instance = Container::Instance(inst.id);
    let mut samples = BTreeMap::new();
    for i in 0..KEYS {
        let c = if i < IN_INSTANCE {
            instance.clone()
        } else {
            Container::Shared
        };
        let k = kms
            .create_key(NewKey {
                multi_version: i % 10 == 0,
                ..NewKey::new(c.clone(), KeySpec::Aes256, KeyUsage::EncryptDecrypt)
            })
            .unwrap();
        if i % 10 == 0 {
            kms.rotate_key(&k.id).unwrap();
        }
        if i % 3 == 0 {
            kms.create_alias(&format!("alias/k{i}"), &k.id).unwrap();
        }
        if i < SECRETS {
            kms.create_secret(
                NewSecret {
                    name: format!("secret-{i}"),
                    container: c,
                    secret_type: SecretType::Generic,
                    encryption_key_id: k.id.clone(),
                    description: String::new(),
                    tags: BTreeMap::new(),
                },
                format!("value-{i}").as_bytes(),
            )
            .unwrap();
        }
        if i % 25 == 0 {
            let plain = format!("sample {i}").into_bytes();
            samples.insert(k.id.clone(), (kms.encrypt(&k.id, &plain).unwrap(), plain));
        }
    }
    Seeded { samples }
}

/// The invariant after a kill: all in A, at most one exact copy in B.
fn check(a: &Path, b: &Path, seeded: &Seeded, when: &str) -> usize {
    let kms_a = Kms::open(a, "check").unwrap();
    let keys_a: BTreeMap<String, _> = kms_a
        .list_keys(None)
        .unwrap()
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    assert_eq!(keys_a.len(), KEYS, "{when}: a key left the source");
    assert_eq!(
        kms_a.list_secrets(None).unwrap().len(),
        SECRETS,
        "{when}: a secret left the source"
    );
    if !b.join("keyshift.db").exists() {
        return 0;
    }
    let kms_b = Kms::open(b, "check").unwrap();
    let keys_b = kms_b.list_keys(None).unwrap();
    assert!(keys_b.len() <= KEYS, "{when}: more keys in B than in A");
    for k in &keys_b {
        let src = keys_a
            .get(&k.id)
            .unwrap_or_else(|| panic!("{when}: {} is in B, not in A", k.id));
        assert_eq!(k, src, "{when}: the copy of {} differs", k.id);
        if let Some((ct, plain)) = seeded.samples.get(&k.id) {
            assert_eq!(
                &kms_b.decrypt(ct).unwrap(),
                plain,
                "{when}: {} unreadable in B",
                k.id
            );
        }
    }
    for s in kms_b.list_secrets(None).unwrap() {
        let want = kms_a.get_secret_value(&s.id, None).unwrap();
        assert_eq!(
            kms_b.get_secret_value(&s.id, None).unwrap().as_slice(),
            want.as_slice(),
            "{when}: secret {} unreadable in B",
            s.name
        );
    }
    keys_b.len()
}

/// After a re-run: no run left open (`migrate --status` says so) and no
/// container locked, in either store.
fn check_released(stores: [&Path; 2], when: &str) {
    for store in stores {
        let out = Command::new(keyshift_e2e::release_dir().join("keyshift"))
            .arg("--store")
            .arg(store)
            .args(["migrate", "--status"])
            .env_remove("KEYSHIFT_STORE")
            .output()
            .unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).as_ref()
            ),
            (Some(0), "no migration in progress or interrupted\n"),
            "{when}: {}",
            store.display()
        );
        let db = rusqlite::Connection::open_with_flags(
            store.join("keyshift.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let locked: i64 = db
            .query_row(
                "SELECT count(*) FROM containers WHERE migrating != 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            locked,
            0,
            "{when}: containers locked in {}",
            store.display()
        );
    }
}

/// Runs the command to completion: exit 0, and its summary line.
fn rerun(cmd: &mut Command, when: &str) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{when}: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_string()
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_the_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let seeded = seed(&a);
    let seed_value = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill points seed: {seed_value}");
    let mut rng = Rng(seed_value);
    for round in 0..KILLS {
        // Every round copies into a new B: killed once, then re-run.
        let _ = std::fs::remove_dir_all(&b);
        // Kill points: early ones by time (opening, locking, the first
        // batch), later ones by progress of the copy.
        let threshold = if round < 3 {
            None
        } else {
            Some(1 + rng.below((KEYS - 64) as u64) as usize)
        };
        let log = dir.path().join(format!("run-{round}.log"));
        let mut child = migrate(&a, &b)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut counter = Counter {
            db: b.join("keyshift.db"),
            conn: None,
        };
        match threshold {
            None => std::thread::sleep(Duration::from_millis(rng.below(40))),
            Some(t) => {
                while counter.keys() < t && child.try_wait().unwrap().is_none() {
                    assert!(started.elapsed() < Duration::from_secs(60), "no progress");
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "round {round}: the run ended ({status}) before the kill:\n{}{}",
                std::fs::read_to_string(&log).unwrap_or_default(),
                std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
            );
        }
        drop(counter);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let when = format!("round {round} (threshold {threshold:?})");
        let copied = check(&a, &b, &seeded, &format!("after kill, {when}"));
        eprintln!("{when}: killed with {copied} keys copied");

        let last = rerun(&mut migrate(&a, &b), &when);
        assert!(last.ends_with(", 0 refused, 0 failed"), "{when}: {last}");
        assert_eq!(
            check(&a, &b, &seeded, &format!("after re-run, {when}")),
            KEYS
        );
        let kms_b = Kms::open(&b, "check").unwrap();
        assert_eq!(kms_b.list_secrets(None).unwrap().len(), SECRETS, "{when}");
        drop(kms_b);
        check_released([&a, &b], &format!("after re-run, {when}"));
    }
}

/// The invariant of a killed `--move`: every original key and secret is in
/// A or in B (or in both), unchanged and readable wherever it is. Returns
/// the progress: keys in B plus keys removed from A.
fn check_move(
    a: &Path,
    b: &Path,
    keys: &BTreeMap<String, Key>,
    seeded: &Seeded,
    when: &str,
) -> usize {
    let kms_a = Kms::open(a, "check").unwrap();
    let in_a: BTreeMap<String, Key> = kms_a
        .list_keys(None)
        .unwrap()
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    let kms_b = b
        .join("keyshift.db")
        .exists()
        .then(|| Kms::open(b, "check").unwrap());
    let in_b: BTreeMap<String, Key> = kms_b
        .as_ref()
        .map(|k| k.list_keys(None).unwrap())
        .unwrap_or_default()
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    for (id, original) in keys {
        let here: Vec<(&Kms, &Key)> =
            [(Some(&kms_a), in_a.get(id)), (kms_b.as_ref(), in_b.get(id))]
                .into_iter()
                .filter_map(|(kms, k)| Some((kms?, k?)))
                .collect();
        assert!(!here.is_empty(), "{when}: key {id} is lost");
        for (kms, k) in here {
            assert_eq!(k, original, "{when}: key {id} changed");
            if let Some((ct, plain)) = seeded.samples.get(id) {
                assert_eq!(&kms.decrypt(ct).unwrap(), plain, "{when}: {id} unreadable");
            }
        }
    }
    let mut secrets = kms_a.list_secrets(None).unwrap();
    if let Some(kms_b) = &kms_b {
        secrets.extend(kms_b.list_secrets(None).unwrap());
    }
    let names: std::collections::BTreeSet<String> = secrets.into_iter().map(|s| s.name).collect();
    assert_eq!(names.len(), SECRETS, "{when}: a secret is lost");
    in_b.len() + (KEYS - in_a.len())
}

#[test]
fn sigkill_of_a_move_loses_nothing_and_the_rerun_empties_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let seeded = seed(&a);
    let keys: BTreeMap<String, Key> = Kms::open(&a, "test")
        .unwrap()
        .list_keys(None)
        .unwrap()
        .into_iter()
        .map(|k| (k.id.clone(), k))
        .collect();
    let seed_value = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill points seed: {seed_value}");
    let mut rng = Rng(seed_value);
    const MOVE_KILLS: usize = 10;
    let total = 2 * KEYS; // every key is copied, then removed
    // Back and forth: each round moves everything from `from` to `to`,
    // killed once at a random point of copy or removal, then re-run.
    let (mut from, mut to) = (a.clone(), b.clone());
    for round in 0..MOVE_KILLS {
        let threshold = 1 + rng.below((total - 64) as u64) as usize;
        let log = dir.path().join(format!("move-{round}.log"));
        let mut child = migrate(&from, &to)
            .arg("--move")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .unwrap();
        let (mut ca, mut cb) = (
            Counter {
                db: from.join("keyshift.db"),
                conn: None,
            },
            Counter {
                db: to.join("keyshift.db"),
                conn: None,
            },
        );
        let started = Instant::now();
        // The last round kills deterministically after the source is
        // emptied: the target's write lock, held from the end of the copy,
        // stops the run right before it releases its locks there.
        let gate = (round == MOVE_KILLS - 1).then(|| {
            // Keys are copied first, then secrets: both must be there.
            while cb.keys() < KEYS || cb.count("SELECT count(*) FROM secrets") < SECRETS {
                assert!(started.elapsed() < Duration::from_secs(60), "no copy");
                assert!(child.try_wait().unwrap().is_none(), "the run ended");
            }
            let gate = rusqlite::Connection::open(to.join("keyshift.db")).unwrap();
            gate.execute_batch("BEGIN IMMEDIATE").unwrap();
            let open = "SELECT count(*) FROM migration_runs WHERE outcome IS NULL";
            while ca.keys() > 0 || ca.count(open) > 0 {
                assert!(started.elapsed() < Duration::from_secs(60), "not emptied");
                assert!(child.try_wait().unwrap().is_none(), "the run ended");
            }
            gate
        });
        while gate.is_none()
            && cb.keys() + KEYS.saturating_sub(ca.keys()) < threshold
            && child.try_wait().unwrap().is_none()
        {
            assert!(started.elapsed() < Duration::from_secs(60), "no progress");
            std::thread::sleep(Duration::from_micros(200));
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "move {round}: the run ended ({status}) before the kill:\n{}{}",
                std::fs::read_to_string(&log).unwrap_or_default(),
                std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
            );
        }
        drop((ca, cb));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(gate) = gate {
            gate.execute_batch("ROLLBACK").unwrap();
        }
        let when = format!("move {round} (threshold {threshold} of {total})");
        let progress = check_move(&from, &to, &keys, &seeded, &format!("after kill, {when}"));
        eprintln!("{when}: killed at progress {progress}");

        let last = rerun(migrate(&from, &to).arg("--move"), &when);
        assert!(last.ends_with(", 0 refused, 0 failed"), "{when}: {last}");
        assert_eq!(
            check_move(&from, &to, &keys, &seeded, &format!("after re-run, {when}")),
            total
        );
        let kms_from = Kms::open(&from, "check").unwrap();
        assert!(kms_from.list_keys(None).unwrap().is_empty(), "{when}");
        assert!(kms_from.list_secrets(None).unwrap().is_empty(), "{when}");
        drop(kms_from);
        let kms_to = Kms::open(&to, "check").unwrap();
        assert_eq!(kms_to.list_secrets(None).unwrap().len(), SECRETS, "{when}");
        drop(kms_to);
        check_released([&from, &to], &format!("after re-run, {when}"));
        std::mem::swap(&mut from, &mut to);
    }
}
