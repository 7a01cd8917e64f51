//! SIGKILL of the release `keyshift migrate --all --include-secrets` at
//! random points of a 2,000-key run, back and forth between the shared KMS
//! and an instance. After each kill every key and secret is in exactly one
//! of the two containers (none lost, none duplicated), ciphertexts and a
//! signature made before still decrypt and verify, secret values read, and
//! re-running the same command completes the move: `migrate --status` is
//! empty and no container is locked afterwards.
//!
//! The kill delays come from a seeded generator spread over the measured
//! duration of one run; the seed is printed (`KEYSHIFT_KILL_SEED=<seed>`
//! replays a failure).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_core::engine::Kms;
use keyshift_core::store::{
    Container, InstanceStatus, InstanceType, KeySpec, KeyUsage, NewInstance, NewKey, NewSecret,
    SecretType,
};
use keyshift_e2e::release_dir;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEYS: usize = 2_000;
const SECRETS: usize = 40;
const KILLS: usize = 12;

/// xorshift64*: enough randomness for kill delays, replayable from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, below)`.
    fn below(&mut self, below: u64) -> u64 {
        self.next() % below.max(1)
    }
}

fn keyshift(store: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(release_dir().join("keyshift"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("KEYSHIFT_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// What was made before the runs, to check after each kill.
struct Fixture {
    kms: Kms,
    kst: Container,
    keys: Vec<String>,
    secrets: BTreeMap<String, Vec<u8>>,
    /// In-process ciphertexts: (ciphertext, plaintext).
    samples: Vec<(Vec<u8>, Vec<u8>)>,
    /// `keyshift encrypt` output (base64) of `b"cli sample"`.
    cli_ct: String,
    signer: String,
    signature: String,
}

/// 2,000 keys (one a signing key) and 40 secrets in the shared KMS, and an
/// empty software instance with room for all of them.
fn seed(store: &Path) -> Fixture {
    let kms = Kms::open(store, "test").unwrap();
    let inst = kms
        .create_instance(NewInstance {
            name: "dest".into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: KEYS as i64 + 10,
            secret_quota: SECRETS as i64 + 10,
        })
        .unwrap();
    let mut keys: Vec<String> = (0..KEYS - 1)
        .map(|_| {
            let nk = NewKey::new(Container::Shared, KeySpec::Aes256, KeyUsage::EncryptDecrypt);
            kms.create_key(nk).unwrap().id
        })
        .collect();
    let nk = NewKey::new(Container::Shared, KeySpec::EcP256, KeyUsage::SignVerify);
    let signer = kms.create_key(nk).unwrap().id;
    keys.push(signer.clone());
    let mut secrets = BTreeMap::new();
    for i in 0..SECRETS {
        let value = format!("value-{i}").into_bytes();
        let new = NewSecret {
            name: format!("secret-{i}"),
            container: Container::Shared,
            secret_type: SecretType::Generic,
            encryption_key_id: keys[i * 7].clone(),
            description: String::new(),
            tags: BTreeMap::new(),
        };
        secrets.insert(kms.create_secret(new, &value).unwrap().id, value);
    }
    let samples = (0..KEYS - 1)
        .step_by(97)
        .map(|i| {
            let plain = format!("sample {i}").into_bytes();
            (kms.encrypt(&keys[i], &plain).unwrap(), plain)
        })
        .collect();
    let cli_ct = ok(keyshift(
        store,
        &["encrypt", "--key", &keys[KEYS / 2]],
        b"cli sample",
    ));
    let signature = ok(keyshift(store, &["sign", "--key", &signer], b"signed"));
    keys.sort();
    Fixture {
        kms,
        kst: Container::Instance(inst.id),
        keys,
        secrets,
        samples,
        cli_ct,
        signer,
        signature: signature.trim().to_string(),
    }
}

/// The invariant after a kill: every object in exactly one of the two
/// containers, none lost or duplicated, versions intact, all readable.
/// Returns how many keys are in the instance.
fn check_invariant(f: &Fixture, store: &Path, context: &str) -> usize {
    let mut placed: BTreeMap<String, Container> = BTreeMap::new();
    let mut in_kst = 0;
    for c in [&Container::Shared, &f.kst] {
        for k in f.kms.list_keys(Some(c)).unwrap() {
            assert_eq!(k.version_count, 1, "{context}: key {} versions", k.id);
            let again = placed.insert(k.id.clone(), c.clone());
            assert!(again.is_none(), "{context}: key {} in two places", k.id);
            in_kst += usize::from(c == &f.kst);
        }
    }
    assert_eq!(f.kms.list_keys(None).unwrap().len(), KEYS, "{context}");
    let ids: Vec<&String> = placed.keys().collect();
    assert_eq!(ids, f.keys.iter().collect::<Vec<_>>(), "{context}: key ids");
    let mut secrets: BTreeMap<String, Container> = BTreeMap::new();
    for c in [&Container::Shared, &f.kst] {
        for s in f.kms.list_secrets(Some(c)).unwrap() {
            // Keys move before secrets: a kill in between leaves a secret
            // beside its key's old place, still readable (checked below).
            assert!(placed.contains_key(&s.encryption_key_id), "{context}");
            let again = secrets.insert(s.id.clone(), c.clone());
            assert!(again.is_none(), "{context}: secret {} in two places", s.id);
        }
    }
    assert_eq!(
        secrets.keys().collect::<Vec<_>>(),
        f.secrets.keys().collect::<Vec<_>>(),
        "{context}: secret ids"
    );
    for (id, want) in &f.secrets {
        let got = f.kms.secret_version_value(id, None).unwrap();
        assert_eq!(&got.value[..], &want[..], "{context}: secret {id}");
    }
    for (ct, plain) in &f.samples {
        assert_eq!(&f.kms.decrypt(ct).unwrap(), plain, "{context}");
    }
    let plain = ok(keyshift(store, &["decrypt"], f.cli_ct.as_bytes()));
    assert_eq!(plain, "cli sample", "{context}");
    let verified = keyshift(
        store,
        &["verify", "--key", &f.signer, "--signature", &f.signature],
        b"signed",
    );
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{context}: {}",
        text(&verified)
    );
    in_kst
}

/// The command that moves everything to `to`.
fn command(f: &Fixture, to_kst: bool) -> Vec<String> {
    let kst = f.kst.to_string();
    let mut args = vec!["migrate".to_string()];
    if to_kst {
        args.extend(["--to".into(), kst]);
    } else {
        args.extend(["--from".into(), kst, "--to".into(), "shared".into()]);
    }
    args.extend(["--all".into(), "--include-secrets".into()]);
    args
}

/// Runs `args` to completion and checks everything ended at the target.
fn complete(f: &Fixture, store: &Path, args: &[String], to_kst: bool, context: &str) {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = keyshift(store, &argv, b"");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{context}: re-run: {all}");
    let last = all.lines().last().unwrap_or_default().to_string();
    assert!(last.ends_with(", 0 refused, 0 failed"), "{context}: {last}");
    let in_kst = check_invariant(f, store, context);
    assert_eq!(in_kst, if to_kst { KEYS } else { 0 }, "{context}: {last}");
    let status = ok(keyshift(store, &["migrate", "--status"], b""));
    assert_eq!(
        status, "no migration in progress or interrupted\n",
        "{context}"
    );
    let inst = f.kms.get_instance(f.kst.instance_id().unwrap()).unwrap();
    assert_eq!(
        inst.status,
        InstanceStatus::Active,
        "{context}: lock released"
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
    assert_eq!(locked, 0, "{context}: no container is locked");
    assert!(
        f.kms
            .migration_runs()
            .unwrap()
            .iter()
            .all(|r| r.outcome.is_some()),
        "{context}: every run ended"
    );
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_the_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let seed: u64 = std::env::var("KEYSHIFT_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            t.map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
        });
    println!("kill delays from KEYSHIFT_KILL_SEED={seed}");
    let mut rng = Rng(seed);
    let f = seed_fixture(&store);

    // One uninterrupted run measures the duration the kills spread over.
    let started = Instant::now();
    complete(&f, &store, &command(&f, true), true, "measuring run");
    let span = started.elapsed();
    println!("one run of {KEYS} keys and {SECRETS} secrets: {span:?}");

    let mut to_kst = false;
    let mut interrupted = 0;
    for round in 0..KILLS {
        let args = command(&f, to_kst);
        let delay = Duration::from_micros(rng.below(span.as_micros() as u64));
        let context = format!("round {round} (seed {seed}, kill after {delay:?}, {args:?})");
        let mut child = Command::new(release_dir().join("keyshift"))
            .arg("--store")
            .arg(&store)
            .args(&args)
            .env_remove("KEYSHIFT_STORE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let in_kst = check_invariant(&f, &store, &context);
        let open = f
            .kms
            .migration_runs()
            .unwrap()
            .iter()
            .any(|r| r.outcome.is_none());
        if open {
            interrupted += 1;
            let st = keyshift(&store, &["migrate", "--status"], b"");
            assert_eq!(st.status.code(), Some(1), "{context}: {}", text(&st));
            assert!(
                text(&st).contains("interrupted") && text(&st).contains(" holds "),
                "{context}: {}",
                text(&st)
            );
        }
        println!(
            "{context}: {} ({in_kst} keys in the instance, lock {})",
            if status.code().is_some() {
                "had finished"
            } else {
                "killed"
            },
            if open { "left behind" } else { "free" }
        );
        complete(&f, &store, &args, to_kst, &context);
        to_kst = !to_kst;
    }
    assert!(
        interrupted >= KILLS / 3,
        "only {interrupted} of {KILLS} kills hit a run in progress (seed {seed})"
    );
}

fn seed_fixture(store: &Path) -> Fixture {
    let started = Instant::now();
    let f = seed(store);
    println!(
        "seeded {KEYS} keys and {SECRETS} secrets in {:?}",
        started.elapsed()
    );
    f
}
