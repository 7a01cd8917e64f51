//! `keyshift encrypt/decrypt/sign/verify/status` against the real binary,
//! on stores set up through the engine (`keyshift_core::engine::Kms`).
//! Preflight tests are in `tests/preflight_cli.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, instance, keyshift_stdin, new_key, stderr, stdout};

use assert_cmd::Command;
use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, KeySpec, KeyUpdate, KeyUsage};
use std::path::Path;

/// Binary plaintext with zero bytes, newlines and invalid UTF-8.
fn payload() -> Vec<u8> {
    let mut p = b"\x00\x00secret\nline two\r\n\xff\xfe".to_vec();
    p.extend((0..=255u8).cycle().take(3000));
    p.push(0);
    p
}

fn encrypt(store: &Path, key: &str, plain: &[u8]) -> String {
    let o = keyshift_stdin(store, &["encrypt", "--key", key], plain);
    assert_eq!(code(&o), 0, "encrypt: {}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.ends_with('\n') && text.trim_end().lines().count() == 1,
        "{text:?}"
    );
    text
}

#[test]
fn encrypt_decrypt_round_trip_in_shared_and_instance_and_after_move() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let shared = new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let inst = instance(&kms, "inst-a");
    let in_inst = new_key(
        &kms,
        inst.clone(),
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    kms.create_alias("alias/app", &in_inst.id).unwrap();
    let plain = payload();

    for key in [shared.id.as_str(), "alias/app"] {
        let ct = encrypt(&store, key, &plain);
        assert!(!ct.as_bytes().windows(6).any(|w| w == b"secret"));
        let o = keyshift_stdin(&store, &["decrypt"], ct.as_bytes());
        assert_eq!(code(&o), 0, "decrypt {key}: {}", stderr(&o));
        assert_eq!(o.stdout, plain, "round trip with {key}");
        assert!(o.stderr.is_empty(), "{}", stderr(&o));
    }

    // Wrapped base64 (76 columns, CRLF) is accepted.
    let ct = encrypt(&store, &shared.id, b"short");
    let wrapped: String = ct
        .trim_end()
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    let o = keyshift_stdin(&store, &["decrypt"], wrapped.as_bytes());
    assert_eq!((code(&o), o.stdout.as_slice()), (0, b"short".as_slice()));

    // A ciphertext made before a move still decrypts after it.
    let before = encrypt(&store, &shared.id, &plain);
    kms.move_key(&shared.id, &inst).unwrap();
    assert_eq!(kms.get_key(&shared.id).unwrap().container, inst);
    let o = keyshift_stdin(&store, &["decrypt"], before.as_bytes());
    assert_eq!(code(&o), 0, "after move: {}", stderr(&o));
    assert_eq!(o.stdout, plain);
    let after = encrypt(&store, &shared.id, b"after move");
    let o = keyshift_stdin(&store, &["decrypt"], after.as_bytes());
    assert_eq!(o.stdout, b"after move");

    // Empty plaintext round-trips to empty output.
    let ct = encrypt(&store, &shared.id, b"");
    let o = keyshift_stdin(&store, &["decrypt"], ct.as_bytes());
    assert_eq!((code(&o), o.stdout.len()), (0, 0));
}

#[test]
fn decrypt_failures_have_distinct_exit_codes_and_leak_nothing() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let k = new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let plain = b"top secret payload 12345";
    let ct = encrypt(&store, &k.id, plain);
    let mut raw = b64.decode(ct.trim_end()).unwrap();

    // Tampered authentication tag: operation failed (1), names the key.
    *raw.last_mut().unwrap() ^= 0x01;
    let o = keyshift_stdin(&store, &["decrypt"], b64.encode(&raw).as_bytes());
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("cannot decrypt") && err.contains("does not authenticate"),
        "{err}"
    );
    assert!(err.contains(&k.id), "{err}");
    assert!(o.stdout.is_empty());
    assert!(!err.contains("top secret"), "{err}");

    // Not base64 / empty / not a Keyshift ciphertext: input errors (2).
    for (input, want) in [
        (&b"@@@ not base64 @@@"[..], "not valid base64"),
        (b"  \n", "is empty"),
        (b"aGVsbG8gd29ybGQ=", "not a Keyshift ciphertext"),
    ] {
        let o = keyshift_stdin(&store, &["decrypt"], input);
        assert_eq!(code(&o), 2, "{input:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{input:?}: {}", stderr(&o));
    }

    // Missing store: input error naming the path, nothing created.
    let missing = dir.path().join("nope");
    let o = keyshift_stdin(&missing, &["decrypt"], ct.as_bytes());
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains(&missing.display().to_string()),
        "{}",
        stderr(&o)
    );
    assert!(!missing.exists(), "decrypt must not create a store");
}

#[test]
fn unknown_wrong_usage_and_disabled_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let aes = new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    );
    let ec = new_key(
        &kms,
        Container::Shared,
        KeySpec::EcP256,
        KeyUsage::SignVerify,
    );
    let ct = encrypt(&store, &aes.id, b"hello");

    for key in ["key-00000000-0000-0000-0000-000000000000", "alias/missing"] {
        let o = keyshift_stdin(&store, &["encrypt", "--key", key], b"hello");
        assert_eq!(code(&o), 2, "{key}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(key) && stderr(&o).contains("not found"),
            "{}",
            stderr(&o)
        );
    }
    // Encrypting with a signing key / signing with an AES key: input errors.
    let o = keyshift_stdin(&store, &["encrypt", "--key", &ec.id], b"x");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("AES_256"), "{}", stderr(&o));
    let o = keyshift_stdin(&store, &["sign", "--key", &aes.id], b"x");
    assert_eq!(code(&o), 2, "{}", stderr(&o));

    kms.update_key(
        &aes.id,
        KeyUpdate {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    for args in [&["encrypt", "--key", aes.id.as_str()][..], &["decrypt"]] {
        let input = if args[0] == "decrypt" {
            ct.as_bytes()
        } else {
            b"secret-data"
        };
        let o = keyshift_stdin(&store, args, input);
        assert_eq!(code(&o), 1, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&aes.id) && err.contains("Disabled"),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("secret-data") && !err.contains("hello"),
            "{err}"
        );
        assert!(o.stdout.is_empty());
    }
    kms.update_key(
        &aes.id,
        KeyUpdate {
            enabled: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let o = keyshift_stdin(&store, &["decrypt"], ct.as_bytes());
    assert_eq!((code(&o), o.stdout.as_slice()), (0, b"hello".as_slice()));
}

#[test]
fn sign_verify_round_trip_per_spec_and_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let inst = instance(&kms, "signers");
    let msg = b"release v1.2.3\x00\xff";
    for (spec, container) in [
        (KeySpec::Rsa2048, Container::Shared),
        (KeySpec::EcP256, inst.clone()),
        (KeySpec::EcSm2, Container::Shared),
    ] {
        let k = new_key(&kms, container, spec, KeyUsage::SignVerify);
        let o = keyshift_stdin(&store, &["sign", "--key", &k.id], msg);
        assert_eq!(code(&o), 0, "{spec}: {}", stderr(&o));
        let sig = stdout(&o).trim_end().to_string();
        assert!(stdout(&o).ends_with('\n') && !sig.contains('\n'));
        // The library agrees with the binary.
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sig)
            .unwrap();
        assert!(kms.verify(&k.id, msg, &raw).unwrap(), "{spec}");

        let o = keyshift_stdin(
            &store,
            &["verify", "--key", &k.id, "--signature", &sig],
            msg,
        );
        assert_eq!(
            (code(&o), stdout(&o).as_str()),
            (0, "valid\n"),
            "{spec}: {}",
            stderr(&o)
        );

        let o = keyshift_stdin(
            &store,
            &["verify", "--key", &k.id, "--signature", &sig],
            b"other",
        );
        assert_eq!(code(&o), 1, "{spec}: other message");
        assert_eq!(stdout(&o), "invalid signature\n");

        let mut bad = raw.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x40;
        let bad = base64::engine::general_purpose::STANDARD.encode(&bad);
        let o = keyshift_stdin(
            &store,
            &["verify", "--key", &k.id, "--signature", &bad],
            msg,
        );
        assert_eq!(code(&o), 1, "{spec}: tampered");
        assert_eq!(stdout(&o), "invalid signature\n");
        assert!(o.stderr.is_empty(), "{}", stderr(&o));

        let o = keyshift_stdin(
            &store,
            &["verify", "--key", &k.id, "--signature", "%%%"],
            msg,
        );
        assert_eq!(code(&o), 2, "{spec}: bad base64");
        assert!(
            stderr(&o).contains("--signature is not valid base64"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn status_without_ekms_configs_and_missing_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    Kms::open(&store, "test").unwrap();
    let o = keyshift_stdin(&store, &["status"], b"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("no EKMS configurations"),
        "{}",
        stdout(&o)
    );

    let o = keyshift_stdin(&store, &["status", "--format", "json"], b"");
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["configs"], serde_json::json!([]));
    assert_eq!(v["summary"]["total"], 0);

    let missing = dir.path().join("absent");
    let o = keyshift_stdin(&missing, &["status"], b"");
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("absent") && stderr(&o).contains("does not exist"),
        "{}",
        stderr(&o)
    );
    assert!(!missing.exists());

    // KEYSHIFT_STORE is honoured when --store is absent.
    let o = Command::cargo_bin("keyshift")
        .unwrap()
        .env("KEYSHIFT_STORE", &store)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Writing into a pipe whose reader is gone (`keyshift … | head`) ends
/// quietly with exit 141 (128 + SIGPIPE, as a shell reports a program a
/// closed pipe stopped): no panic, no error chain on stderr, and never 0.
#[test]
fn a_closed_pipe_ends_quietly_with_141() {
    use std::io::Write as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s");
    let kms = Kms::open(&store, "test").unwrap();
    let key = new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    drop(kms);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyshift"))
        .args(["--store", store.to_str().unwrap(), "encrypt", "--key", &key])
        .env_remove("KEYSHIFT_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the command has read its input, so its
    // first write lands in a closed pipe.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&payload()).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(141),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stderr), "", "nothing on stderr");
}
