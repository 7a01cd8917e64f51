//! Real key generation per [`KeySpec`], the spec/usage rule, and checks of
//! imported (BYOK) material.
//!
//! Material formats: `AES_256` = 32 raw bytes; RSA and EC keys = unencrypted
//! PKCS#8 v1 DER private keys (which contain the public key).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256K1_SHA256_ASN1_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm,
};
use sm2::elliptic_curve::zeroize::Zeroizing;
use sm2::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use crate::store::crypto::random_fill;
use crate::store::{KeySpec, StoreError, StoreResult};

/// Key material in memory, zeroized on drop.
pub type Material = Zeroizing<Vec<u8>>;

/// Length of `AES_256` material.
pub const AES_256_LEN: usize = 32;

/// Generates fresh material for `spec` from the system CSPRNG.
pub fn generate(spec: KeySpec) -> StoreResult<Material> {
    let fail = |what: &str| StoreError::Crypto(format!("{what} key generation failed"));
    match spec {
        KeySpec::Aes256 => {
            let mut m = Zeroizing::new(vec![0u8; AES_256_LEN]);
            random_fill(&mut m)?;
            Ok(m)
        }
        KeySpec::Rsa2048 | KeySpec::Rsa3072 => {
            let size = if spec == KeySpec::Rsa2048 {
                KeySize::Rsa2048
            } else {
                KeySize::Rsa3072
            };
            let kp = RsaKeyPair::generate(size).map_err(|_| fail(spec.as_str()))?;
            let der = kp.as_der().map_err(|_| fail(spec.as_str()))?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
        KeySpec::EcP256 | KeySpec::EcP256k => {
            let kp = EcdsaKeyPair::generate(ec_alg(spec)).map_err(|_| fail(spec.as_str()))?;
            let doc = kp.to_pkcs8v1().map_err(|_| fail(spec.as_str()))?;
            Ok(Zeroizing::new(doc.as_ref().to_vec()))
        }
        KeySpec::EcSm2 => {
            // Rejection sampling of a scalar in [1, n-1] from the CSPRNG.
            for _ in 0..64 {
                let mut bytes = Zeroizing::new([0u8; 32]);
                random_fill(bytes.as_mut_slice())?;
                if let Ok(sk) = sm2::SecretKey::from_slice(bytes.as_slice()) {
                    let doc = sk.to_pkcs8_der().map_err(|_| fail("EC_SM2"))?;
                    return Ok(Zeroizing::new(doc.as_bytes().to_vec()));
                }
            }
            Err(fail("EC_SM2"))
        }
    }
}

fn ec_alg(spec: KeySpec) -> &'static EcdsaSigningAlgorithm {
    if spec == KeySpec::EcP256k {
        &ECDSA_P256K1_SHA256_ASN1_SIGNING
    } else {
        &ECDSA_P256_SHA256_ASN1_SIGNING
    }
}

/// Checks imported (BYOK) material for `spec`: 32 bytes for `AES_256`, a
/// PKCS#8 private key of the right algorithm and size otherwise. Errors are
/// `Invalid { field: "key_material_wo" }` and never echo the material.
pub fn check_import(spec: KeySpec, material: &[u8]) -> StoreResult<()> {
    let invalid = |message: String| StoreError::Invalid {
        field: "key_material_wo",
        message,
    };
    let not_pkcs8 = || {
        invalid(format!(
            "{} material must be a PKCS#8 DER {} private key",
            spec, spec
        ))
    };
    match spec {
        KeySpec::Aes256 if material.len() == AES_256_LEN => Ok(()),
        KeySpec::Aes256 => Err(invalid(format!(
            "AES_256 material must be exactly {AES_256_LEN} bytes, got {}",
            material.len()
        ))),
        KeySpec::Rsa2048 | KeySpec::Rsa3072 => {
            let kp = RsaKeyPair::from_pkcs8(material).map_err(|_| not_pkcs8())?;
            let want = if spec == KeySpec::Rsa2048 { 256 } else { 384 };
            if kp.public_modulus_len() == want {
                Ok(())
            } else {
                Err(invalid(format!(
                    "{spec} material must be a {}-bit RSA key, got {} bits",
                    want * 8,
                    kp.public_modulus_len() * 8
                )))
            }
        }
        KeySpec::EcP256 | KeySpec::EcP256k => EcdsaKeyPair::from_pkcs8(ec_alg(spec), material)
            .map(|_| ())
            .map_err(|_| not_pkcs8()),
        KeySpec::EcSm2 => sm2::SecretKey::from_pkcs8_der(material)
            .map(|_| ())
            .map_err(|_| not_pkcs8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::KeyPair;

    #[test]
    fn every_spec_generates_real_material() {
        for spec in [
            KeySpec::Aes256,
            KeySpec::Rsa2048,
            KeySpec::Rsa3072,
            KeySpec::EcP256,
            KeySpec::EcP256k,
            KeySpec::EcSm2,
        ] {
            let m = generate(spec).unwrap();
            match spec {
                KeySpec::Aes256 => {
                    assert_eq!(m.len(), 32);
                    assert_ne!(m.as_slice(), [0u8; 32].as_slice());
                }
                KeySpec::Rsa2048 | KeySpec::Rsa3072 => {
                    let kp = RsaKeyPair::from_pkcs8(&m).unwrap();
                    let bits = if spec == KeySpec::Rsa2048 { 2048 } else { 3072 };
                    assert_eq!(kp.public_modulus_len() * 8, bits, "{spec}");
                }
                KeySpec::EcP256 | KeySpec::EcP256k => {
                    let kp = EcdsaKeyPair::from_pkcs8(ec_alg(spec), &m).unwrap();
                    // Uncompressed point: 0x04 || X || Y.
                    assert_eq!(kp.public_key().as_ref().len(), 65, "{spec}");
                    // The other curve does not accept it.
                    let other = if spec == KeySpec::EcP256 {
                        KeySpec::EcP256k
                    } else {
                        KeySpec::EcP256
                    };
                    assert!(
                        EcdsaKeyPair::from_pkcs8(ec_alg(other), &m).is_err(),
                        "{spec}"
                    );
                }
                KeySpec::EcSm2 => {
                    let sk = sm2::SecretKey::from_pkcs8_der(&m).unwrap();
                    assert_eq!(sk.to_bytes().len(), 32);
                }
            }
            check_import(spec, &m).unwrap();
            assert_ne!(
                generate(spec).unwrap().as_slice(),
                m.as_slice(),
                "{spec} is random"
            );
        }
    }

    #[test]
    fn import_checks() {
        let rsa2048 = generate(KeySpec::Rsa2048).unwrap();
        let p256 = generate(KeySpec::EcP256).unwrap();
        let cases: Vec<(&str, KeySpec, Vec<u8>, bool)> = vec![
            ("aes 32", KeySpec::Aes256, vec![7u8; 32], true),
            ("aes 31", KeySpec::Aes256, vec![7u8; 31], false),
            ("aes 33", KeySpec::Aes256, vec![7u8; 33], false),
            ("rsa2048 ok", KeySpec::Rsa2048, rsa2048.to_vec(), true),
            (
                "rsa3072 given 2048",
                KeySpec::Rsa3072,
                rsa2048.to_vec(),
                false,
            ),
            ("rsa garbage", KeySpec::Rsa2048, vec![1, 2, 3], false),
            ("p256 ok", KeySpec::EcP256, p256.to_vec(), true),
            ("p256k given p256", KeySpec::EcP256k, p256.to_vec(), false),
            ("sm2 given rsa", KeySpec::EcSm2, rsa2048.to_vec(), false),
        ];
        for (name, spec, m, ok) in cases {
            let r = check_import(spec, &m);
            assert_eq!(r.is_ok(), ok, "case {name}: {r:?}");
            if let Err(e) = r {
                assert!(
                    matches!(
                        e,
                        StoreError::Invalid {
                            field: "key_material_wo",
                            ..
                        }
                    ),
                    "{name}"
                );
            }
        }
    }
}
