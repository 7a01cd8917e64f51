//! The real `keyshift` binary on stores it must not trust blindly: a store
//! holding data opens only with its own master key (and writes nothing
//! otherwise), a master key open to other users is warned about, reading
//! it is bounded, an unreadable store is called unreadable, and AWS errors
//! are sentences rather than debug dumps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{keyshift_stdin, stderr};

use assert_cmd::Command;
use keyshift_core::aws::key_status::KeyStatus;
use keyshift_core::aws::{AwsError, AwsKeyInfo, KeyHealth};
use keyshift_core::engine::Kms;
use keyshift_core::engine::ekms_wrapper::ExternalKeyService;
use keyshift_core::engine::kms_ekms::EkmsRequest;
use keyshift_core::store::{
    Container, EkmsArchitecture, KeySpec, KeyUsage, NewKey, WrappingStrategy,
};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// A store holding one AES key (returned), with every connection closed.
fn store_with_a_key(store: &Path) -> String {
    let kms = Kms::open(store, "test").unwrap();
    kms.create_key(NewKey::new(
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    ))
    .unwrap()
    .id
}

/// Every file of the store directory (SQLite's -wal/-shm aside), by name,
/// with its bytes: what "writes nothing" is checked against.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .map(|n| {
            let path = dir.join(&n);
            // Never follow a symlink (one case points at /dev/zero).
            let bytes = match std::fs::read_link(&path) {
                Ok(target) => target.to_string_lossy().into_owned().into_bytes(),
                Err(_) => std::fs::read(&path).unwrap_or_default(),
            };
            (n, bytes)
        })
        .collect()
}

#[test]
fn a_store_with_data_refuses_a_missing_or_wrong_master_key_and_writes_nothing() {
    type Damage = fn(&Path);
    let cases: Vec<(&str, Damage, &[&str])> = vec![
        (
            "deleted",
            |k| std::fs::remove_file(k).unwrap(),
            &["master key file", "is missing", "restore the master.key"],
        ),
        (
            "another store's key",
            |k| std::fs::write(k, [0x5a; 32]).unwrap(),
            &["does not open the key store", "not the key"],
        ),
        (
            "symlink to /dev/zero",
            |k| {
                std::fs::remove_file(k).unwrap();
                std::os::unix::fs::symlink("/dev/zero", k).unwrap();
            },
            &["is unusable", "it is a device"],
        ),
        (
            "truncated",
            |k| std::fs::write(k, b"0123456789").unwrap(),
            &["is unusable", "exactly 32 bytes, but holds 10"],
        ),
    ];
    for (name, damage, wants) in cases {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let key = store_with_a_key(&store);
        let good = keyshift_stdin(&store, &["encrypt", "--key", &key], b"hello");
        assert_eq!(good.status.code(), Some(0), "{name}: {}", stderr(&good));
        let ciphertext = good.stdout.clone();

        let master = store.join("master.key");
        let original = std::fs::read(&master).unwrap();
        damage(&master);
        let before = snapshot(&store);
        for args in [
            vec!["encrypt", "--key", key.as_str()],
            vec!["decrypt"],
            vec!["status"],
        ] {
            let started = Instant::now();
            let stdin = if args[0] == "decrypt" {
                &ciphertext[..]
            } else {
                b"x"
            };
            let o = keyshift_stdin(&store, &args, stdin);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{name} {args:?}: {err}");
            assert!(o.stdout.is_empty(), "{name} {args:?}");
            assert!(err.contains(&master.display().to_string()), "{name}: {err}");
            for want in wants {
                assert!(err.contains(want), "{name} {args:?}: {want:?} in {err}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{name}: took {:?}",
                started.elapsed()
            );
        }
        assert_eq!(
            snapshot(&store),
            before,
            "{name}: the refused commands changed the store"
        );

        // The right key opens everything again: nothing was replaced.
        let _ = std::fs::remove_file(&master);
        std::fs::write(&master, &original).unwrap();
        std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o600)).unwrap();
        let back = keyshift_stdin(&store, &["decrypt"], &ciphertext);
        assert_eq!(back.status.code(), Some(0), "{name}: {}", stderr(&back));
        assert_eq!(back.stdout, b"hello", "{name}");
    }
}

#[test]
fn open_permissions_are_warned_about_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let key = store_with_a_key(&store);
    let master = store.join("master.key");
    let cases: Vec<(&str, &Path, u32, &str)> = vec![
        ("master key 0644", &master, 0o644, "chmod 600"),
        ("store dir 0755", &store, 0o755, "chmod 700"),
    ];
    for (name, path, mode, fix) in cases {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = keyshift_stdin(&store, &["encrypt", "--key", &key], b"x");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("keyshift: warning:"))
            .unwrap_or_else(|| panic!("{name}: no warning in {err:?}"));
        assert!(
            line.contains(&path.display().to_string())
                && line.contains(&format!("mode {mode:03o}"))
                && line.contains(fix),
            "{name}: {line}"
        );
        let private = if path == master { 0o600 } else { 0o700 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(private)).unwrap();
    }
    let quiet = keyshift_stdin(&store, &["encrypt", "--key", &key], b"x");
    assert_eq!(quiet.status.code(), Some(0));
    assert!(!stderr(&quiet).contains("warning"), "{}", stderr(&quiet));
}

/// Tests run as root, for whom `chmod 000` does not stop reads, so the
/// unreadable store is a path below a regular file (the kernel refuses to
/// look it up, as it refuses a directory it may not search).
#[test]
fn an_unreadable_store_path_is_reported_as_unreadable_not_missing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let cases = [
        ("below a regular file", file.join("store")),
        ("a regular file", file.clone()),
    ];
    for (name, store) in cases {
        let o = keyshift_stdin(&store, &["encrypt", "--key", "key-x"], b"x");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&store.display().to_string()), "{name}: {err}");
        assert!(
            err.contains("cannot be read") || err.contains("is not a directory"),
            "{name}: {err}"
        );
        assert!(!err.contains("not found"), "{name}: {err}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

/// Registers EKMS keys without AWS: the describe and wrap checks pass.
struct Registrar;

impl ExternalKeyService for Registrar {
    fn check_usable(&self, arn: &str) -> Result<AwsKeyInfo, AwsError> {
        Ok(AwsKeyInfo {
            arn: arn.into(),
            key_id: "11111111-1111-1111-1111-111111111111".into(),
            key_state: "Enabled".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            multi_region: false,
        })
    }
    fn health(&self, _arn: &str) -> KeyHealth {
        KeyHealth {
            status: KeyStatus::from_aws_key_state("Enabled"),
            aws_key_state: Some("Enabled".into()),
            checked_at: "2026-01-01T00:00:00Z".into(),
            detail: "fake".into(),
        }
    }
    fn wrap(&self, _arn: &str, plaintext: &[u8], _c: &str) -> Result<Vec<u8>, AwsError> {
        Ok(plaintext.to_vec())
    }
    fn unwrap(&self, _arn: &str, blob: &[u8], _c: &str) -> Result<Vec<u8>, AwsError> {
        Ok(blob.to_vec())
    }
    fn check_policy(&self, _arn: &str, _principal: &str) -> Result<(), AwsError> {
        Ok(())
    }
}

#[test]
fn an_unreachable_aws_endpoint_is_explained_not_dumped() {
    let arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111";
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let req = EkmsRequest {
        key_arn: arn.into(),
        architecture: EkmsArchitecture::Current,
        wrapping: WrappingStrategy::Internal,
        allow_revert_to_internal: false,
    };
    kms.activate_ekms(&Container::Shared, &req, None, &Registrar)
        .unwrap();
    drop(kms);
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let o = Command::cargo_bin("keyshift")
        .unwrap()
        .env_remove("KEYSHIFT_STORE")
        .env_remove("AWS_ENDPOINT_URL_KMS")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/keyshift-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/keyshift-test-creds",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("--store")
        .arg(&store)
        .args(["status", "--aws-endpoint", &endpoint])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{text}");
    let detail = text
        .lines()
        .find(|l| l.trim_start().starts_with("detail:"))
        .unwrap_or_else(|| panic!("no detail line: {text}"));
    for want in [
        format!("cannot reach AWS KMS at {endpoint} for key {arn}"),
        "the request could not be sent".to_string(),
        "Connection refused".to_string(),
        "Check that the endpoint URL is right".to_string(),
    ] {
        assert!(detail.contains(&want), "{want:?} in {detail}");
    }
    for debug in ["DispatchFailure(", "{ ", "ConnectorError", "Some("] {
        assert!(!text.contains(debug), "debug text {debug:?} in {text}");
    }
}
