//! Input rules shared by the engine and plan-time validation.

use std::ops::RangeInclusive;

use crate::store::{Container, KeyOrigin, KeySpec, KeyUsage, StoreError, StoreResult};

/// Accepted `deletion_window_in_days`.
pub const DELETION_WINDOW_DAYS: RangeInclusive<i64> = 7..=30;
/// Accepted alias name length.
pub const ALIAS_LEN: RangeInclusive<usize> = 7..=255;
/// Prefix of every alias.
pub const ALIAS_PREFIX: &str = "alias/";

/// `deletion_window_in_days` must be 7–30.
pub fn deletion_window(days: i64) -> StoreResult<()> {
    if DELETION_WINDOW_DAYS.contains(&days) {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "deletion_window_in_days",
            message: format!(
                "must be between {} and {} days, got {days}",
                DELETION_WINDOW_DAYS.start(),
                DELETION_WINDOW_DAYS.end()
            ),
        })
    }
}

/// Alias names: `alias/` + name, 7–255 characters of `[A-Za-z0-9/_-]`.
pub fn alias_name(name: &str) -> StoreResult<()> {
    let invalid = |message: String| StoreError::Invalid {
        field: "name",
        message,
    };
    if !name.starts_with(ALIAS_PREFIX) {
        return Err(invalid(format!(
            "alias name {name:?} must start with {ALIAS_PREFIX:?}"
        )));
    }
    if !ALIAS_LEN.contains(&name.len()) {
        return Err(invalid(format!(
            "alias name must be {} to {} characters long, got {}",
            ALIAS_LEN.start(),
            ALIAS_LEN.end(),
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_-".contains(*c)))
    {
        return Err(invalid(format!(
            "alias name {name:?} contains {c:?}; only letters, digits, '/', '_' and '-' are allowed"
        )));
    }
    Ok(())
}

/// Prefix of every KMS instance id.
pub const INSTANCE_ID_PREFIX: &str = "kst-";
/// Number of lowercase hex digits after [`INSTANCE_ID_PREFIX`].
pub const INSTANCE_ID_HEX_DIGITS: usize = 12;

/// The id of a new KMS instance: `kst-` and the 6 random bytes in hex.
pub fn new_instance_id(random: [u8; INSTANCE_ID_HEX_DIGITS / 2]) -> String {
    format!("{INSTANCE_ID_PREFIX}{}", hex::encode(random))
}

/// True for a KMS instance id: `kst-` + 12 lowercase hex digits.
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix(INSTANCE_ID_PREFIX).is_some_and(|h| {
        h.len() == INSTANCE_ID_HEX_DIGITS
            && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// The instance-id format rule for attribute or flag `field`.
pub fn instance_id(field: &'static str, id: &str) -> StoreResult<()> {
    if is_instance_id(id) {
        return Ok(());
    }
    Err(StoreError::Invalid {
        field,
        message: format!(
            "{id:?} is not a KMS instance id (expected {INSTANCE_ID_PREFIX} followed by \
             {INSTANCE_ID_HEX_DIGITS} lowercase hex digits)"
        ),
    })
}

/// A container named by the user: `shared` or a KMS instance id.
pub fn container(field: &'static str, s: &str) -> StoreResult<Container> {
    if s == "shared" {
        return Ok(Container::Shared);
    }
    if is_instance_id(s) {
        return Ok(Container::Instance(s.to_string()));
    }
    Err(StoreError::Invalid {
        field,
        message: format!(
            "{s:?} is not a container: expected `shared` or a KMS instance id \
             ({INSTANCE_ID_PREFIX} followed by {INSTANCE_ID_HEX_DIGITS} lowercase hex digits)"
        ),
    })
}

/// The usages a key spec accepts; the first is its default.
pub fn allowed_usages(spec: KeySpec) -> &'static [KeyUsage] {
    match spec {
        KeySpec::Aes256 => &[KeyUsage::EncryptDecrypt],
        KeySpec::Rsa2048 | KeySpec::Rsa3072 => &[KeyUsage::EncryptDecrypt, KeyUsage::SignVerify],
        KeySpec::EcP256 | KeySpec::EcP256k | KeySpec::EcSm2 => &[KeyUsage::SignVerify],
    }
}

/// The usage a key of `spec` gets when none is asked for.
pub fn default_usage(spec: KeySpec) -> KeyUsage {
    match spec {
        KeySpec::Aes256 | KeySpec::Rsa2048 | KeySpec::Rsa3072 => KeyUsage::EncryptDecrypt,
        KeySpec::EcP256 | KeySpec::EcP256k | KeySpec::EcSm2 => KeyUsage::SignVerify,
    }
}

/// The spec/usage rule: AES is `ENCRYPT/DECRYPT` only, EC is `SIGN/VERIFY`
/// only, RSA takes either. Violations are `Invalid { field: "usage" }`.
pub fn key_usage(spec: KeySpec, usage: KeyUsage) -> StoreResult<()> {
    let allowed = allowed_usages(spec);
    if allowed.contains(&usage) {
        return Ok(());
    }
    let accepted: Vec<String> = allowed
        .iter()
        .map(|u| format!("{:?}", u.as_str()))
        .collect();
    Err(StoreError::Invalid {
        field: "usage",
        message: format!(
            "{:?} keys accept usage {}, not {:?}",
            spec.as_str(),
            accepted.join(" or "),
            usage.as_str()
        ),
    })
}

/// Only `AES_256` keys can be multi-version (`Invalid { field:
/// "multi_version" }`).
pub fn key_multi_version(spec: KeySpec, multi_version: bool) -> StoreResult<()> {
    if multi_version && spec != KeySpec::Aes256 {
        return Err(StoreError::Invalid {
            field: "multi_version",
            message: format!("only AES_256 keys can be multi-version, not {spec}"),
        });
    }
    Ok(())
}

/// Keys with origin `EXTERNAL` (BYOK through Terraform) are `AES_256`
/// (`Invalid { field: "origin" }`).
pub fn key_origin(spec: KeySpec, origin: KeyOrigin) -> StoreResult<()> {
    if origin == KeyOrigin::External && spec != KeySpec::Aes256 {
        return Err(StoreError::Invalid {
            field: "origin",
            message: format!("EXTERNAL (BYOK) keys must be AES_256, not {spec}"),
        });
    }
    Ok(())
}

/// A quota must be positive.
pub fn quota(field: &'static str, value: i64) -> StoreResult<()> {
    if value > 0 {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field,
            message: format!("must be greater than 0, got {value}"),
        })
    }
}

/// A required text attribute must not be blank.
pub fn non_blank(field: &'static str, value: &str) -> StoreResult<()> {
    if value.trim().is_empty() {
        Err(StoreError::Invalid {
            field,
            message: "must not be empty".into(),
        })
    } else {
        Ok(())
    }
}

/// Characters that change how text is laid out or read without being
/// visible: bidirectional overrides and isolates, zero-width characters,
/// the byte-order mark, and the Unicode line and paragraph separators.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// True for a character that text output must not print as is: a control
/// character (newline, tab, escape, C1 controls) or an invisible layout
/// character (bidirectional overrides, zero-width characters).
pub fn is_unprintable(c: char) -> bool {
    c.is_control() || invisible(c)
}

/// The first character of `value` that `allowed` refuses, with its
/// position (1-based, in characters), as a message.
fn refused_char(value: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    let (at, c) = value.chars().enumerate().find(|(_, c)| !allowed(*c))?;
    Some(format!(
        "contains the control character U+{:04X} at position {}; only printable text is accepted",
        u32::from(c),
        at + 1
    ))
}

/// The identifier rule (a break-glass `principal`, and any name recorded
/// in the audit trail as written): 1 to `max` characters of printable
/// text, no control or invisible layout characters (newline, tab, escape
/// sequences, bidirectional overrides), no leading or trailing whitespace.
/// Violations are `Invalid { field }`; the message never repeats the value.
pub fn identifier(field: &'static str, value: &str, max: usize) -> StoreResult<()> {
    let invalid = |message: String| StoreError::Invalid { field, message };
    let len = value.chars().count();
    if value.trim().is_empty() {
        return Err(invalid("must not be empty".into()));
    }
    if len > max {
        return Err(invalid(format!(
            "must be at most {max} characters, got {len}"
        )));
    }
    if let Some(why) = refused_char(value, |c| !is_unprintable(c)) {
        return Err(invalid(why));
    }
    if value.trim() != value {
        return Err(invalid("must not start or end with whitespace".into()));
    }
    Ok(())
}

/// The free-text rule (a grant's `reason`, descriptions): at most `max`
/// characters; line breaks and tabs are allowed, other control and
/// invisible layout characters (escape sequences, bidirectional
/// overrides) are not. Violations are `Invalid { field }`.
pub fn free_text(field: &'static str, value: &str, max: usize) -> StoreResult<()> {
    let invalid = |message: String| StoreError::Invalid { field, message };
    let len = value.chars().count();
    if len > max {
        return Err(invalid(format!(
            "must be at most {max} characters, got {len}"
        )));
    }
    let allowed = |c: char| matches!(c, '\n' | '\t') || !is_unprintable(c);
    match refused_char(value, allowed) {
        Some(why) => Err(invalid(why)),
        None => Ok(()),
    }
}

/// The boolean rule of every setting given as text (an environment
/// variable such as `KEYSHIFT_LEGACY_SUPPORT`, read by the provider and the
/// CLI alike): `true` or `1`, `false` or `0`, in any case, surrounding
/// spaces ignored. `None` for anything else.
pub fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_window_bounds() {
        for (days, ok) in [
            (6, false),
            (7, true),
            (15, true),
            (30, true),
            (31, false),
            (-1, false),
        ] {
            let r = deletion_window(days);
            assert_eq!(r.is_ok(), ok, "{days}");
            if let Err(e) = r {
                assert!(matches!(
                    e,
                    StoreError::Invalid {
                        field: "deletion_window_in_days",
                        ..
                    }
                ));
            }
        }
    }

    #[test]
    fn alias_names() {
        let long = format!("alias/{}", "a".repeat(249));
        let too_long = format!("alias/{}", "a".repeat(250));
        let cases = [
            ("plain", "alias/app", true),
            ("nested", "alias/acs/ecs", true),
            ("chars", "alias/A-z_0/9", true),
            ("shortest", "alias/x", true),
            ("max length", long.as_str(), true),
            ("too long", too_long.as_str(), false),
            ("prefix only", "alias/", false),
            ("no prefix", "app-key", false),
            ("wrong prefix", "Alias/app", false),
            ("space", "alias/my key", false),
            ("dot", "alias/a.b", false),
            ("unicode", "alias/clé", false),
        ];
        for (name, alias, ok) in cases {
            let r = alias_name(alias);
            assert_eq!(r.is_ok(), ok, "case {name}");
            if let Err(e) = r {
                assert!(
                    matches!(e, StoreError::Invalid { field: "name", .. }),
                    "case {name}"
                );
            }
        }
    }

    #[test]
    fn quotas() {
        assert!(quota("key_quota", 1).is_ok());
        assert!(matches!(
            quota("key_quota", 0),
            Err(StoreError::Invalid {
                field: "key_quota",
                ..
            })
        ));
        assert!(matches!(
            quota("secret_quota", -3),
            Err(StoreError::Invalid {
                field: "secret_quota",
                ..
            })
        ));
    }

    #[test]
    fn instance_ids() {
        for (name, id, ok) in [
            ("valid", "kst-0123456789ab", true),
            ("uppercase", "kst-0123456789AB", false),
            ("short", "kst-0123", false),
            ("long", "kst-0123456789abc", false),
            ("prefix", "key-0123456789ab", false),
            ("empty", "", false),
        ] {
            assert_eq!(is_instance_id(id), ok, "{name}");
            let r = instance_id("instance_id", id);
            assert_eq!(r.is_ok(), ok, "{name}");
        }
        let id = new_instance_id([0xab; 6]);
        assert_eq!(id, "kst-abababababab");
        assert!(is_instance_id(&id));
    }

    #[test]
    fn containers() {
        assert_eq!(container("to", "shared").ok(), Some(Container::Shared));
        assert_eq!(
            container("to", "kst-0123456789ab").ok(),
            Some(Container::Instance("kst-0123456789ab".into()))
        );
        for bad in ["kst-1", "Shared", "kst-0123456789AB", ""] {
            assert!(
                matches!(
                    container("to", bad),
                    Err(StoreError::Invalid { field: "to", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn usage_rules() {
        use KeySpec::*;
        use KeyUsage::*;
        let cases = [
            ("aes encrypt", Aes256, EncryptDecrypt, true),
            ("aes sign", Aes256, SignVerify, false),
            ("rsa2048 encrypt", Rsa2048, EncryptDecrypt, true),
            ("rsa2048 sign", Rsa2048, SignVerify, true),
            ("rsa3072 sign", Rsa3072, SignVerify, true),
            ("p256 sign", EcP256, SignVerify, true),
            ("p256 encrypt", EcP256, EncryptDecrypt, false),
            ("p256k encrypt", EcP256k, EncryptDecrypt, false),
            ("sm2 sign", EcSm2, SignVerify, true),
            ("sm2 encrypt", EcSm2, EncryptDecrypt, false),
        ];
        for (name, spec, usage, ok) in cases {
            let r = key_usage(spec, usage);
            assert_eq!(r.is_ok(), ok, "case {name}");
            assert!(
                key_usage(spec, default_usage(spec)).is_ok(),
                "default of {name}"
            );
            assert_eq!(
                allowed_usages(spec).first(),
                Some(&default_usage(spec)),
                "{name}"
            );
            if let Err(StoreError::Invalid { field, message }) = r {
                assert_eq!(field, "usage", "case {name}");
                let want = if spec == Aes256 {
                    "ENCRYPT/DECRYPT"
                } else {
                    "SIGN/VERIFY"
                };
                assert!(message.contains(want), "case {name}: {message}");
            }
        }
    }

    #[test]
    fn multi_version_and_origin_rules() {
        use KeySpec::*;
        let cases = [
            ("aes multi", Aes256, true, KeyOrigin::Kms, None),
            ("aes byok", Aes256, false, KeyOrigin::External, None),
            ("rsa single", Rsa2048, false, KeyOrigin::Kms, None),
            (
                "ec multi",
                EcP256,
                true,
                KeyOrigin::Kms,
                Some("multi_version"),
            ),
            (
                "rsa byok",
                Rsa3072,
                false,
                KeyOrigin::External,
                Some("origin"),
            ),
        ];
        for (name, spec, multi, origin, want) in cases {
            let err = key_multi_version(spec, multi)
                .and_then(|()| key_origin(spec, origin))
                .err();
            let field = err.map(|e| match e {
                StoreError::Invalid { field, .. } => field,
                other => panic!("{name}: {other}"),
            });
            assert_eq!(field, want, "{name}");
        }
    }
}

#[cfg(test)]
#[path = "validate_text_tests.rs"]
mod text_tests;
