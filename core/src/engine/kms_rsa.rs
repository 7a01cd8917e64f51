//! RSA encryption for `RSA_2048`/`RSA_3072` keys with usage
//! `ENCRYPT/DECRYPT`: RSAES-OAEP with SHA-256 for both the hash and MGF1
//! (what AWS KMS calls `RSAES_OAEP_SHA_256`).
//!
//! RSA encrypts only short messages (typically a data key): at most
//! [`max_plaintext_len`] bytes, 190 for `RSA_2048` and 318 for `RSA_3072`
//! (modulus bytes − 2 × 32 − 2). The Keyshift ciphertext header (format,
//! key id, version id) is the OAEP label, so a ciphertext relabelled with
//! another key or version does not decrypt.

use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};

use crate::store::keygen::Material;
use crate::store::{KeySpec, StoreError, StoreResult};

/// SHA-256 output length, used twice by OAEP's padding.
const HASH_LEN: usize = 32;

/// Modulus length in bytes of an RSA spec (`None` for other specs).
pub fn modulus_len(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::Rsa2048 => Some(256),
        KeySpec::Rsa3072 => Some(384),
        _ => None,
    }
}

/// The longest plaintext RSAES-OAEP-SHA-256 encrypts with a key of `spec`:
/// 190 bytes for `RSA_2048`, 318 for `RSA_3072`; `None` for non-RSA specs.
pub fn max_plaintext_len(spec: KeySpec) -> Option<usize> {
    modulus_len(spec).map(|n| n - 2 * HASH_LEN - 2)
}

fn decrypting_key(material: &[u8], spec: KeySpec) -> StoreResult<PrivateDecryptingKey> {
    PrivateDecryptingKey::from_pkcs8(material)
        .map_err(|_| StoreError::Crypto(format!("the stored {spec} key material is unusable")))
}

/// Encrypts `plaintext` with the public half of the PKCS#8 RSA key
/// `material`, with `label` as the OAEP label. A plaintext longer than
/// [`max_plaintext_len`] is `Invalid { field: "plaintext" }`.
pub fn encrypt(
    material: &[u8],
    spec: KeySpec,
    label: &[u8],
    plaintext: &[u8],
) -> StoreResult<Vec<u8>> {
    let max = max_plaintext_len(spec)
        .ok_or_else(|| StoreError::Crypto(format!("{spec} is not an RSA key spec")))?;
    if plaintext.len() > max {
        return Err(StoreError::Invalid {
            field: "plaintext",
            message: format!(
                "{spec} keys encrypt at most {max} bytes (RSAES-OAEP with SHA-256), got {} bytes; \
                 encrypt larger data with an AES_256 key, or encrypt a data key with this one",
                plaintext.len()
            ),
        });
    }
    let public = OaepPublicEncryptingKey::new(decrypting_key(material, spec)?.public_key())
        .map_err(|_| StoreError::Crypto(format!("{spec} public key unusable")))?;
    let mut out = vec![0u8; public.ciphertext_size()];
    let n = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, Some(label))
        .map_err(|_| StoreError::Crypto(format!("{spec} encryption failed")))?
        .len();
    out.truncate(n);
    Ok(out)
}

/// Decrypts an RSAES-OAEP-SHA-256 `ciphertext` made by [`encrypt`] with the
/// same key and `label`. Any mismatch (wrong key, relabelled header,
/// tampering, wrong length) is `Crypto` with the same message, so the
/// failure says nothing about the plaintext.
pub fn decrypt(
    material: &[u8],
    spec: KeySpec,
    label: &[u8],
    ciphertext: &[u8],
    key_id: &str,
) -> StoreResult<Vec<u8>> {
    let private = OaepPrivateDecryptingKey::new(decrypting_key(material, spec)?)
        .map_err(|_| StoreError::Crypto(format!("{spec} private key unusable")))?;
    let fail = || {
        StoreError::Crypto(format!(
            "ciphertext does not authenticate under key {key_id}"
        ))
    };
    if ciphertext.len() != private.key_size_bytes() {
        return Err(fail());
    }
    let mut out = Material::new(vec![0u8; private.min_output_size()]);
    let plain = private
        .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, Some(label))
        .map_err(|_| fail())?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keygen;

    #[test]
    fn oaep_round_trip_limits_and_labels() {
        for (spec, max) in [(KeySpec::Rsa2048, 190), (KeySpec::Rsa3072, 318)] {
            assert_eq!(max_plaintext_len(spec), Some(max), "{spec}");
            let m = keygen::generate(spec).unwrap();
            let longest = vec![0xA5u8; max];
            for (name, pt) in [
                ("empty", &b""[..]),
                ("short", b"data key"),
                ("max", &longest),
            ] {
                let ct = encrypt(&m, spec, b"label", pt).unwrap();
                assert_eq!(ct.len(), modulus_len(spec).unwrap(), "{spec} {name}");
                assert_eq!(
                    decrypt(&m, spec, b"label", &ct, "k").unwrap(),
                    pt,
                    "{spec} {name}"
                );
                assert!(
                    decrypt(&m, spec, b"other", &ct, "k").is_err(),
                    "label bound"
                );
            }
            let too_long = encrypt(&m, spec, b"l", &vec![0u8; max + 1]).unwrap_err();
            assert!(
                matches!(&too_long, StoreError::Invalid { field: "plaintext", message }
                    if message.contains(&format!("at most {max} bytes"))),
                "{too_long:?}"
            );
            let other = keygen::generate(spec).unwrap();
            let ct = encrypt(&m, spec, b"l", b"x").unwrap();
            assert!(matches!(
                decrypt(&other, spec, b"l", &ct, "k"),
                Err(StoreError::Crypto(_))
            ));
            assert!(decrypt(&m, spec, b"l", &ct[1..], "k").is_err(), "short");
        }
        assert_eq!(max_plaintext_len(KeySpec::Aes256), None);
    }
}
