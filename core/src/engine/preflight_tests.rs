//! One named test per preflight table row and per legacy case.

use super::*;

const ARN_A: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ARN_B: &str = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const MRK_EAST: &str =
    "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const MRK_WEST: &str =
    "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";

fn ekms(arn: &str, wrapping: Wrapping, status: KeyStatus, arch: Architecture) -> Side {
    Side::Configured(EkmsSide {
        key_arn: arn.to_string(),
        wrapping,
        key_status: status,
        architecture: arch,
    })
}

/// Configured, external wrapping, ACTIVE, current architecture.
fn ext(arn: &str) -> Side {
    ekms(
        arn,
        Wrapping::External,
        KeyStatus::Active,
        Architecture::Current,
    )
}

fn legacy(arn: &str) -> Side {
    ekms(
        arn,
        Wrapping::External,
        KeyStatus::Active,
        Architecture::Legacy,
    )
}

fn check(source: &Side, target: &Side) -> Preflight {
    preflight(Operation::Clone, source, target, false)
}

fn assert_supported(p: &Preflight, row: u8) {
    assert!(p.supported, "expected supported, got {p:?}");
    assert_eq!(p.row, row, "{p:?}");
    assert_eq!(p.result(), "supported");
    assert!(p.remediation.is_empty() && p.reference.is_none(), "{p:?}");
}

fn assert_blocked(p: &Preflight, row: u8, kb: bool) {
    assert!(!p.supported, "expected blocked, got {p:?}");
    assert_eq!(p.row, row, "{p:?}");
    assert_eq!(p.result(), "blocked");
    assert!(!p.reason.is_empty() && !p.remediation.is_empty(), "{p:?}");
    assert_eq!(p.reference.as_deref(), kb.then_some(KB_REFERENCE), "{p:?}");
    if row > 0 {
        assert!(p.reason.contains(&format!("(row {row})")), "{p:?}");
    }
    if kb {
        assert!(p.remediation.contains(KB_REFERENCE), "{p:?}");
    }
}

#[test]
fn row_01_no_ekms_both_sides() {
    assert_supported(&check(&Side::NotConfigured, &Side::NotConfigured), 1);
    assert_supported(&check(&Side::Unsupported, &Side::Unsupported), 1);
}

#[test]
fn row_02_configured_to_not_configured() {
    assert_supported(&check(&ext(ARN_A), &Side::NotConfigured), 2);
}

#[test]
fn row_03_configured_to_unsupported() {
    assert_supported(&check(&ext(ARN_A), &Side::Unsupported), 3);
}

#[test]
fn row_04_unsupported_to_not_configured() {
    assert_supported(&check(&Side::Unsupported, &Side::NotConfigured), 4);
}

#[test]
fn row_05_not_configured_to_unsupported() {
    assert_supported(&check(&Side::NotConfigured, &Side::Unsupported), 5);
}

#[test]
fn row_06_configured_matching() {
    assert_supported(&check(&ext(ARN_A), &ext(ARN_A)), 6);
    let internal = ekms(
        ARN_A,
        Wrapping::Internal,
        KeyStatus::Active,
        Architecture::Current,
    );
    assert_supported(&check(&internal, &internal), 6);
}

#[test]
fn row_07_configured_compatible_multi_region() {
    assert_supported(&check(&ext(MRK_EAST), &ext(MRK_WEST)), 7);
    // Same mrk id in the same region under another ARN is not a replica.
    let other_account = MRK_EAST.replace("111122223333", "444455556666");
    assert_blocked(&check(&ext(MRK_EAST), &ext(&other_account)), 9, true);
    // Single-Region keys never count as compatible, whatever their id.
    let west = ARN_A.replace("us-east-1", "us-west-2");
    assert_blocked(&check(&ext(ARN_A), &ext(&west)), 9, true);
}

#[test]
fn row_08_key_status_not_active_blocks_first() {
    for status in [
        KeyStatus::Disabled,
        KeyStatus::PendingDeletion,
        KeyStatus::Unavailable,
        KeyStatus::Deleted,
    ] {
        let src = ekms(ARN_A, Wrapping::External, status, Architecture::Current);
        // Checked first: even against an otherwise-blocking target and with legacy off.
        for target in [
            Side::NotConfigured,
            Side::Unsupported,
            ext(ARN_A),
            ext(ARN_B),
        ] {
            let p = check(&src, &target);
            assert_blocked(&p, 8, false);
            assert!(
                p.reason.contains(status.as_str()) && p.reason.contains(ARN_A),
                "{p:?}"
            );
            assert_eq!(p.remediation, status.remediation());
        }
        let legacy_src = ekms(ARN_A, Wrapping::External, status, Architecture::Legacy);
        assert_blocked(&check(&legacy_src, &ext(ARN_A)), 8, false);
    }
}

#[test]
fn row_08_inactive_target_key_blocks_otherwise_supported() {
    let tgt = ekms(
        MRK_WEST,
        Wrapping::External,
        KeyStatus::Disabled,
        Architecture::Current,
    );
    let p = check(&ext(MRK_EAST), &tgt);
    assert_blocked(&p, 8, false);
    assert!(
        p.reason.contains("target key") && p.reason.contains(MRK_WEST),
        "{p:?}"
    );
    // A table block is reported rather than the target's status.
    let tgt = ekms(
        ARN_B,
        Wrapping::External,
        KeyStatus::Deleted,
        Architecture::Current,
    );
    assert_blocked(&check(&ext(ARN_A), &tgt), 9, true);
}

#[test]
fn row_09_configured_different_key() {
    let p = check(&ext(ARN_A), &ext(ARN_B));
    assert_blocked(&p, 9, true);
    assert!(
        p.reason.contains(ARN_A) && p.reason.contains(ARN_B),
        "{p:?}"
    );
    // Different key and different wrapping: row 9 (table order), mentioning both.
    let internal_b = ekms(
        ARN_B,
        Wrapping::Internal,
        KeyStatus::Active,
        Architecture::Current,
    );
    let p = check(&ext(ARN_A), &internal_b);
    assert_blocked(&p, 9, true);
    assert!(p.reason.contains("wrapping strategies differ"), "{p:?}");
}

#[test]
fn row_10_internal_to_external_wrapping() {
    let src = ekms(
        ARN_A,
        Wrapping::Internal,
        KeyStatus::Active,
        Architecture::Current,
    );
    let p = check(&src, &ext(ARN_A));
    assert_blocked(&p, 10, true);
    assert!(p.remediation.contains("source"), "{p:?}");
    // Replicas of one multi-Region key count as the same key here.
    let src = ekms(
        MRK_EAST,
        Wrapping::Internal,
        KeyStatus::Active,
        Architecture::Current,
    );
    assert_blocked(&check(&src, &ext(MRK_WEST)), 10, true);
}

#[test]
fn row_11_configured_different_wrapping() {
    let tgt = ekms(
        ARN_A,
        Wrapping::Internal,
        KeyStatus::Active,
        Architecture::Current,
    );
    let p = check(&ext(ARN_A), &tgt);
    assert_blocked(&p, 11, true);
    assert!(p.remediation.contains("target"), "{p:?}");
}

#[test]
fn row_12_not_configured_to_configured() {
    let p = check(&Side::NotConfigured, &ext(ARN_A));
    assert_blocked(&p, 12, true);
    assert!(
        p.remediation.contains("Activate EKMS on the source first"),
        "{p:?}"
    );
}

#[test]
fn row_13_unsupported_to_configured() {
    assert_blocked(&check(&Side::Unsupported, &ext(ARN_A)), 13, true);
}

#[test]
fn legacy_to_current_blocked_by_default() {
    let p = check(&legacy(ARN_A), &ext(ARN_A));
    assert_blocked(&p, 0, false);
    assert!(
        p.reason.contains("legacy") && p.remediation.contains("legacy_support"),
        "{p:?}"
    );
}

#[test]
fn legacy_to_legacy_blocked_by_default() {
    assert_blocked(&check(&legacy(ARN_A), &legacy(ARN_A)), 0, false);
}

#[test]
fn current_to_legacy_blocked_by_default() {
    assert_blocked(&check(&ext(ARN_A), &legacy(ARN_A)), 0, false);
    // Also when the other side has no EKMS at all.
    assert_blocked(&check(&legacy(ARN_A), &Side::NotConfigured), 0, false);
}

#[test]
fn legacy_to_current_allowed_with_legacy_support() {
    let p = preflight(Operation::Move, &legacy(ARN_A), &ext(ARN_A), true);
    assert_supported(&p, 6);
}

#[test]
fn legacy_to_legacy_allowed_with_legacy_support() {
    let p = preflight(Operation::Copy, &legacy(MRK_EAST), &legacy(MRK_WEST), true);
    assert_supported(&p, 7);
}

#[test]
fn current_to_legacy_allowed_with_legacy_support() {
    let p = preflight(Operation::Toggle, &ext(ARN_A), &legacy(ARN_A), true);
    assert_supported(&p, 6);
}

#[test]
fn legacy_allowed_but_table_still_blocks() {
    let p = preflight(
        Operation::BackupRestore,
        &legacy(ARN_A),
        &legacy(ARN_B),
        true,
    );
    assert_blocked(&p, 9, true);
    // Without legacy support the table block is still the one reported.
    assert_blocked(&check(&legacy(ARN_A), &legacy(ARN_B)), 9, true);
    assert_blocked(&check(&Side::Unsupported, &legacy(ARN_A)), 13, true);
}

#[test]
fn operations_parse_and_list() {
    let names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
    assert_eq!(names, ["clone", "backup_restore", "copy", "move", "toggle"]);
    for op in Operation::ALL {
        assert_eq!(op.as_str().parse::<Operation>().unwrap(), op);
        assert_eq!(serde_json::to_string(&op).unwrap(), format!("\"{op}\""));
    }
    let err = "restore".parse::<Operation>().unwrap_err();
    assert!(
        err.contains("backup_restore") && err.contains("toggle"),
        "{err}"
    );
}

#[test]
fn operation_is_named_in_reason() {
    let p = preflight(
        Operation::BackupRestore,
        &Side::NotConfigured,
        &ext(ARN_A),
        false,
    );
    assert!(p.reason.starts_with("backup_restore blocked"), "{p:?}");
}

#[test]
fn sides_serialize_with_kind_tag() {
    let json = serde_json::to_value(ext(ARN_A)).unwrap();
    assert_eq!(json["kind"], "configured");
    assert_eq!(json["wrapping"], "external");
    assert_eq!(json["key_status"], "ACTIVE");
    assert_eq!(json["architecture"], "current");
    let back: Side = serde_json::from_value(json).unwrap();
    assert_eq!(back, ext(ARN_A));
    let nc: Side = serde_json::from_str(r#"{"kind":"not_configured"}"#).unwrap();
    assert_eq!(nc, Side::NotConfigured);
}

#[test]
fn every_pair_of_side_kinds_has_a_row() {
    let sides = [Side::Unsupported, Side::NotConfigured, ext(ARN_A)];
    for s in &sides {
        for t in &sides {
            let p = check(s, t);
            assert!(
                (1..=13).contains(&p.row),
                "{} → {}: {p:?}",
                s.kind(),
                t.kind()
            );
        }
    }
}
