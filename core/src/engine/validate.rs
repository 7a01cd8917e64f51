//! Input rules shared by the engine and plan-time validation.

use std::ops::RangeInclusive;

use crate::store::{StoreError, StoreResult};

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
}
