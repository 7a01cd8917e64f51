//! Signing and verification with `SIGN/VERIFY` keys.
//!
//! Schemes: RSA keys sign RSASSA-PKCS1-v1_5 with SHA-256; EC_P256 and
//! EC_P256K keys ECDSA with SHA-256 (ASN.1 DER signatures); EC_SM2 keys
//! SM2DSA with SM3 and the default distinguishing id (64-byte `r || s`).
//! Verification uses the current version's public key.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    self as sig, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256K1_SHA256_ASN1_SIGNING, EcdsaKeyPair,
    KeyPair as _, UnparsedPublicKey,
};
use sm2::dsa::signature::{Signer as _, Verifier as _};
use sm2::pkcs8::DecodePrivateKey as _;

use super::kms::Kms;
use super::kms_keys::{ensure_enabled, resolve};
use crate::store::{Key, KeySpec, KeyUsage, StoreError, StoreResult, read_with};

/// SM2 distinguishing identifier (the GM/T 0009 default).
const SM2_DIST_ID: &str = "1234567812345678";

fn sign_failed(key: &Key) -> StoreError {
    StoreError::Crypto(format!("signing with key {} failed", key.id))
}

fn usable_for_signing(key: &Key) -> StoreResult<()> {
    if key.usage != KeyUsage::SignVerify {
        return Err(StoreError::Invalid {
            field: "key_id",
            message: format!(
                "key {} has usage {}; signing needs a SIGN/VERIFY key",
                key.id, key.usage
            ),
        });
    }
    ensure_enabled(key)
}

fn sign_with(key: &Key, der: &[u8], message: &[u8]) -> StoreResult<Vec<u8>> {
    let rng = SystemRandom::new();
    match key.spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 => {
            let kp = RsaKeyPair::from_pkcs8(der).map_err(|_| sign_failed(key))?;
            let mut out = vec![0u8; kp.public_modulus_len()];
            kp.sign(&sig::RSA_PKCS1_SHA256, &rng, message, &mut out)
                .map_err(|_| sign_failed(key))?;
            Ok(out)
        }
        KeySpec::EcP256 | KeySpec::EcP256k => {
            let alg = if key.spec == KeySpec::EcP256 {
                &ECDSA_P256_SHA256_ASN1_SIGNING
            } else {
                &ECDSA_P256K1_SHA256_ASN1_SIGNING
            };
            let kp = EcdsaKeyPair::from_pkcs8(alg, der).map_err(|_| sign_failed(key))?;
            Ok(kp
                .sign(&rng, message)
                .map_err(|_| sign_failed(key))?
                .as_ref()
                .to_vec())
        }
        KeySpec::EcSm2 => {
            let sk = sm2::SecretKey::from_pkcs8_der(der).map_err(|_| sign_failed(key))?;
            let signer =
                sm2::dsa::SigningKey::new(SM2_DIST_ID, &sk).map_err(|_| sign_failed(key))?;
            let s: sm2::dsa::Signature = signer.try_sign(message).map_err(|_| sign_failed(key))?;
            Ok(s.to_bytes().to_vec())
        }
        KeySpec::Aes256 => Err(StoreError::Invalid {
            field: "key_id",
            message: format!("key {} is AES_256; signing needs an RSA or EC key", key.id),
        }),
    }
}

fn verify_with(key: &Key, der: &[u8], message: &[u8], signature: &[u8]) -> StoreResult<bool> {
    match key.spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 => {
            let kp = RsaKeyPair::from_pkcs8(der).map_err(|_| sign_failed(key))?;
            let pk =
                UnparsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, kp.public_key().as_ref());
            Ok(pk.verify(message, signature).is_ok())
        }
        KeySpec::EcP256 | KeySpec::EcP256k => {
            let (signing, verifying) = if key.spec == KeySpec::EcP256 {
                (
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    &sig::ECDSA_P256_SHA256_ASN1,
                )
            } else {
                (
                    &ECDSA_P256K1_SHA256_ASN1_SIGNING,
                    &sig::ECDSA_P256K1_SHA256_ASN1,
                )
            };
            let kp = EcdsaKeyPair::from_pkcs8(signing, der).map_err(|_| sign_failed(key))?;
            let pk = UnparsedPublicKey::new(verifying, kp.public_key().as_ref());
            Ok(pk.verify(message, signature).is_ok())
        }
        KeySpec::EcSm2 => {
            let sk = sm2::SecretKey::from_pkcs8_der(der).map_err(|_| sign_failed(key))?;
            let vk = sm2::dsa::VerifyingKey::new(SM2_DIST_ID, sk.public_key())
                .map_err(|_| sign_failed(key))?;
            Ok(sm2::dsa::Signature::from_slice(signature)
                .is_ok_and(|s| vk.verify(message, &s).is_ok()))
        }
        KeySpec::Aes256 => Err(StoreError::Invalid {
            field: "key_id",
            message: format!(
                "key {} is AES_256; verification needs an RSA or EC key",
                key.id
            ),
        }),
    }
}

impl Kms {
    /// Signs `message` with the current version of a `SIGN/VERIFY` key (by
    /// id or alias). Errors: `NotFound`; `Invalid { field: "key_id" }` for a
    /// key of another usage; `Conflict` for a key that is not `Enabled`.
    pub fn sign(&self, key_id_or_alias: &str, message: &[u8]) -> StoreResult<Vec<u8>> {
        read_with(&*self.store, |r| {
            let key = resolve(r, key_id_or_alias)?;
            usable_for_signing(&key)?;
            let der = self.version_material(r, &key, &key.current_version)?;
            sign_with(&key, &der, message)
        })
    }

    /// Checks a signature made by [`Kms::sign`] with the key's current
    /// version: `Ok(false)` for a signature that does not verify.
    pub fn verify(
        &self,
        key_id_or_alias: &str,
        message: &[u8],
        signature: &[u8],
    ) -> StoreResult<bool> {
        read_with(&*self.store, |r| {
            let key = resolve(r, key_id_or_alias)?;
            usable_for_signing(&key)?;
            let der = self.version_material(r, &key, &key.current_version)?;
            verify_with(&key, &der, message, signature)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::test_support::{kms, new_key};
    use crate::store::{Container, NewKey};

    fn key(kms: &Kms, spec: KeySpec, usage: KeyUsage) -> Key {
        kms.create_key(NewKey {
            usage,
            ..new_key(Container::Shared, spec)
        })
        .unwrap()
    }

    #[test]
    fn every_signing_spec_round_trips_and_rejects_tampering() {
        let (_dir, kms) = kms();
        for spec in [
            KeySpec::Rsa2048,
            KeySpec::Rsa3072,
            KeySpec::EcP256,
            KeySpec::EcP256k,
            KeySpec::EcSm2,
        ] {
            let k = key(&kms, spec, KeyUsage::SignVerify);
            let s = kms.sign(&k.id, b"release 1.2.3").unwrap();
            assert!(kms.verify(&k.id, b"release 1.2.3", &s).unwrap(), "{spec}");
            assert!(
                !kms.verify(&k.id, b"release 1.2.4", &s).unwrap(),
                "{spec}: other message"
            );
            let mut bad = s.clone();
            if let Some(b) = bad.last_mut() {
                *b ^= 1;
            }
            assert!(
                !kms.verify(&k.id, b"release 1.2.3", &bad).unwrap(),
                "{spec}: tampered"
            );
        }
    }

    #[test]
    fn wrong_usage_and_disabled_keys_are_refused() {
        let (_dir, kms) = kms();
        let aes = key(&kms, KeySpec::Aes256, KeyUsage::EncryptDecrypt);
        assert!(matches!(
            kms.sign(&aes.id, b"x"),
            Err(StoreError::Invalid {
                field: "key_id",
                ..
            })
        ));
        let rsa_enc = key(&kms, KeySpec::Rsa2048, KeyUsage::EncryptDecrypt);
        assert!(matches!(
            kms.sign(&rsa_enc.id, b"x"),
            Err(StoreError::Invalid { .. })
        ));
        let ec = key(&kms, KeySpec::EcP256, KeyUsage::SignVerify);
        kms.update_key(
            &ec.id,
            crate::store::KeyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(matches!(
            kms.sign(&ec.id, b"x"),
            Err(StoreError::Conflict(_))
        ));
    }
}
