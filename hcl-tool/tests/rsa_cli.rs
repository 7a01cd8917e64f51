//! `keyshift encrypt`/`decrypt` with RSA `ENCRYPT/DECRYPT` keys
//! (RSAES-OAEP-SHA-256) against the real binary: round trips up to the
//! size limit, too-long plaintexts, wrong keys, tampering, and ciphertexts
//! made before a move between containers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, keyshift_stdin, stderr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, InstanceType, KeySpec, KeyUsage, NewInstance, NewKey};
use std::path::Path;
use std::process::Output;

fn encrypt(store: &Path, key: &str, plain: &[u8]) -> Vec<u8> {
    let o = keyshift_stdin(store, &["encrypt", "--key", key], plain);
    assert_eq!(code(&o), 0, "encrypt {}: {}", plain.len(), stderr(&o));
    B64.decode(String::from_utf8(o.stdout).unwrap().trim_end())
        .unwrap()
}

fn decrypt(store: &Path, ct: &[u8]) -> Output {
    keyshift_stdin(store, &["decrypt"], B64.encode(ct).as_bytes())
}

/// Binary plaintext of `n` bytes (zero bytes, invalid UTF-8).
fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn rsa_round_trip_up_to_the_limit_and_too_long_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    for (spec, max) in [(KeySpec::Rsa2048, 190), (KeySpec::Rsa3072, 318)] {
        let k = kms
            .create_key(NewKey::new(
                Container::Shared,
                spec,
                KeyUsage::EncryptDecrypt,
            ))
            .unwrap();
        for (name, n) in [("empty", 0), ("short", 32), ("max", max)] {
            let plain = payload(n);
            let ct = encrypt(&store, &k.id, &plain);
            let o = decrypt(&store, &ct);
            assert_eq!(code(&o), 0, "{spec} {name}: {}", stderr(&o));
            assert_eq!(o.stdout, plain, "{spec} {name}");
        }
        let o = keyshift_stdin(&store, &["encrypt", "--key", &k.id], &payload(max + 1));
        assert_eq!(code(&o), 2, "{spec}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("at most {max} bytes"))
                && err.contains(&format!("got {} bytes", max + 1)),
            "{spec}: {err}"
        );
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn rsa_wrong_key_tampering_and_signing_keys_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let new = |usage| {
        kms.create_key(NewKey::new(Container::Shared, KeySpec::Rsa2048, usage))
            .unwrap()
    };
    let (a, b, signer) = (
        new(KeyUsage::EncryptDecrypt),
        new(KeyUsage::EncryptDecrypt),
        new(KeyUsage::SignVerify),
    );
    let ct = encrypt(&store, &a.id, b"data key bytes");

    // Relabelled with another RSA key's id and version (the header names
    // key b throughout): b's private key does not decrypt it.
    let relabel = |ct: &[u8], from: &str, to: &str| {
        let pos = ct
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .unwrap();
        let mut out = ct.to_vec();
        out[pos..pos + to.len()].copy_from_slice(to.as_bytes());
        out
    };
    let as_b = relabel(&ct, &a.id, &b.id);
    let o = decrypt(&store, &as_b);
    assert_eq!(
        code(&o),
        2,
        "only the key id: b has no such version: {}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    let as_b = relabel(&as_b, &a.current_version, &b.current_version);
    let o = decrypt(&store, &as_b);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("does not authenticate under key {}", b.id)),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());

    let mut tampered = ct.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let o = decrypt(&store, &tampered);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!stderr(&o).contains("data key bytes"));

    let o = keyshift_stdin(&store, &["encrypt", "--key", &signer.id], b"x");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("ENCRYPT/DECRYPT"), "{}", stderr(&o));

    // An AES ciphertext relabelled as RSA format is not taken for one.
    let mut wrong_format = ct.clone();
    wrong_format[0] = 1;
    let o = decrypt(&store, &wrong_format);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("format"), "{}", stderr(&o));
}

#[test]
fn rsa_ciphertext_made_before_a_move_still_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let k = kms
        .create_key(NewKey::new(
            Container::Shared,
            KeySpec::Rsa2048,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap();
    let ct = encrypt(&store, &k.id, b"before the move");
    let inst = kms
        .create_instance(NewInstance {
            name: "dest".into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: 5,
            secret_quota: 5,
        })
        .unwrap();
    kms.move_key(&k.id, &Container::Instance(inst.id.clone()))
        .unwrap();
    let o = decrypt(&store, &ct);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"before the move");
}
