//! `keyshift_core::aws` against a local moto server (scripts/setup-moto.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/moto.rs"]
mod moto;

use std::time::{Duration, Instant};

use keyshift_core::aws::key_status::KeyStatus;
use keyshift_core::aws::{AwsError, AwsKms, REQUIRED_ACTIONS, parse_kms_key_arn, required_policy};
use moto::Moto;

fn kms(m: &Moto) -> AwsKms {
    AwsKms::connect(&m.settings()).unwrap()
}

fn grant(principal: &str, actions: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "admin", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*",
             "Resource": "*"},
            {"Sid": "keyshift", "Effect": "Allow", "Principal": {"AWS": [principal]},
             "Action": actions, "Resource": "*"}
        ]
    })
    .to_string()
}

#[test]
fn health_active_then_disabled_then_enabled() {
    let m = Moto::start();
    let k = m.create_key(false);
    let aws = kms(&m);

    let h = aws.health(&k.arn);
    assert_eq!(h.status, KeyStatus::Active, "{h:?}");
    assert_eq!(h.aws_key_state.as_deref(), Some("Enabled"));
    assert!(
        time::OffsetDateTime::parse(
            &h.checked_at,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    let blob = aws.wrap(&k.arn, b"root key bytes", "shared").unwrap();

    m.disable(&k.key_id);
    let h = aws.health(&k.arn);
    assert_eq!(h.status, KeyStatus::Disabled, "{h:?}");
    assert_eq!(h.aws_key_state.as_deref(), Some("Disabled"));
    let err = aws.wrap(&k.arn, b"secret", "shared").unwrap_err();
    assert!(
        matches!(
            err,
            AwsError::KeyNotUsable {
                status: KeyStatus::Disabled,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&k.arn) && msg.contains("DISABLED"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");
    assert!(matches!(
        aws.unwrap(&k.arn, &blob, "shared"),
        Err(AwsError::KeyNotUsable { .. })
    ));

    m.enable(&k.key_id);
    assert_eq!(aws.health(&k.arn).status, KeyStatus::Active);
    assert_eq!(
        aws.unwrap(&k.arn, &blob, "shared").unwrap(),
        b"root key bytes"
    );
}

#[test]
fn health_pending_deletion_and_cancel() {
    let m = Moto::start();
    let k = m.create_key(true);
    assert!(k.key_id.starts_with("mrk-"), "{k:?}");
    let aws = kms(&m);
    m.schedule_deletion(&k.key_id);
    let h = aws.health(&k.arn);
    assert_eq!(h.status, KeyStatus::PendingDeletion, "{h:?}");
    assert_eq!(h.aws_key_state.as_deref(), Some("PendingDeletion"));
    let err = aws.wrap(&k.arn, b"x", "c").unwrap_err();
    assert!(err.to_string().contains("PENDING_DELETION"), "{err}");

    m.cancel_deletion(&k.key_id);
    // Cancelling leaves the key Disabled; enabling makes it usable again.
    assert_eq!(aws.health(&k.arn).status, KeyStatus::Disabled);
    m.enable(&k.key_id);
    assert_eq!(aws.health(&k.arn).status, KeyStatus::Active);
}

#[test]
fn unknown_key_is_deleted() {
    let m = Moto::start();
    let aws = kms(&m);
    let arn = format!(
        "arn:aws:kms:{}:123456789012:key/{}",
        moto::REGION,
        "0badc0de-0000-4000-8000-000000000000"
    );
    let h = aws.health(&arn);
    assert_eq!(h.status, KeyStatus::Deleted, "{h:?}");
    assert_eq!(h.aws_key_state, None);
    assert!(h.detail.contains(&arn), "{h:?}");
    assert_eq!(
        aws.describe(&arn).unwrap_err(),
        AwsError::NotFound { key: arn.clone() }
    );
}

#[test]
fn stopped_endpoint_is_unavailable_within_bounded_time() {
    let mut m = Moto::start();
    let k = m.create_key(false);
    let aws = kms(&m);
    assert_eq!(aws.health(&k.arn).status, KeyStatus::Active);
    let endpoint = m.endpoint();
    m.stop();

    let started = Instant::now();
    let h = aws.health(&k.arn);
    let took = started.elapsed();
    assert_eq!(h.status, KeyStatus::Unavailable, "{h:?}");
    assert_eq!(h.aws_key_state, None);
    assert!(
        h.detail.contains(&endpoint) && h.detail.contains(&k.arn),
        "{h:?}"
    );
    assert!(took < Duration::from_secs(30), "health took {took:?}");

    let err = aws.wrap(&k.arn, b"x", "c").unwrap_err();
    assert!(matches!(err, AwsError::Unreachable { .. }), "{err}");
}

#[test]
fn wrap_unwrap_round_trip_bound_to_container() {
    let m = Moto::start();
    let k = m.create_key(false);
    let aws = kms(&m);
    let plaintext: Vec<u8> = (0u8..32).collect();
    let blob = aws.wrap(&k.arn, &plaintext, "instance/i-1").unwrap();
    assert_ne!(blob, plaintext);
    assert_eq!(
        aws.unwrap(&k.arn, &blob, "instance/i-1").unwrap(),
        plaintext
    );

    let err = aws.unwrap(&k.arn, &blob, "instance/i-2").unwrap_err();
    assert!(matches!(err, AwsError::Api { .. }), "{err}");
    assert!(err.to_string().contains(&k.arn), "{err}");
}

#[test]
fn check_usable_refuses_asymmetric_keys() {
    let m = Moto::start();
    let aws = kms(&m);
    let k = m.create_key(false);
    let info = aws.check_usable(&k.arn).unwrap();
    assert_eq!(
        (info.key_spec.as_str(), info.key_usage.as_str()),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    );
    assert_eq!(info.arn, k.arn);
    assert!(!info.multi_region);

    let rsa = m.create_key_with_spec(aws_sdk_kms::types::KeySpec::Rsa2048, false);
    let err = aws.check_usable(&rsa.arn).unwrap_err();
    assert!(matches!(err, AwsError::NotSymmetric { .. }), "{err}");
    assert!(err.to_string().contains("RSA_2048"), "{err}");
}

#[test]
fn key_policy_check() {
    let m = Moto::start();
    let aws = kms(&m);
    let k = m.create_key(false);
    let principal = "arn:aws:iam::444455556666:role/keyshift";

    m.put_policy(
        &k.key_id,
        &grant(
            principal,
            &[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
            ],
        ),
    );
    aws.check_policy(&k.arn, principal).unwrap();
    // The policy the keyshift_ekms_key_policy data source renders passes too.
    let rendered = required_policy(principal, Some("arn:aws:iam::123456789012:root"));
    m.put_policy(&k.key_id, &rendered.to_string());
    aws.check_policy(&k.arn, principal).unwrap();

    m.put_policy(&k.key_id, &grant(principal, &["kms:Encrypt"]));
    let err = aws.check_policy(&k.arn, principal).unwrap_err();
    let AwsError::PolicyMissing { actions, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(actions, &REQUIRED_ACTIONS[1..]);
    let msg = err.to_string();
    assert!(msg.contains(principal) && msg.contains(&k.arn), "{msg}");
    assert!(
        msg.contains("kms:Decrypt, kms:GenerateDataKey, kms:DescribeKey, kms:GetKeyPolicy"),
        "{msg}"
    );

    let other = aws
        .check_policy(&k.arn, "arn:aws:iam::999999999999:role/x")
        .unwrap_err();
    assert!(
        matches!(&other, AwsError::PolicyMissing { actions, .. } if actions.len() == REQUIRED_ACTIONS.len())
    );
}

#[test]
fn calls_go_to_the_key_arn_region() {
    let m = Moto::start();
    let k = m.create_key(false);
    // Default region elsewhere: calls still go to the key's region (moto keeps state per region).
    let mut s = m.settings();
    s.region = Some("eu-west-1".into());
    let aws = AwsKms::connect(&s).unwrap();
    assert_eq!(aws.health(&k.arn).status, KeyStatus::Active);
    // No default region at all works too.
    s.region = None;
    let aws = AwsKms::connect(&s).unwrap();
    assert_eq!(aws.health(&k.arn).status, KeyStatus::Active);
}

#[test]
fn parse_kms_key_arn_table() {
    let ok = [
        (
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            false,
        ),
        (
            "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            true,
        ),
        (
            "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            false,
        ),
    ];
    for (arn, mrk) in ok {
        let a = parse_kms_key_arn(arn).unwrap();
        assert_eq!(a.multi_region, mrk, "{arn}");
        assert_eq!(a.to_string(), arn);
    }
    let bad = [
        (
            "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "service",
        ),
        (
            "arn:aws:kms:us-east-1:1111222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "12 digits",
        ),
        ("arn:aws:kms:us-east-1:111122223333:alias/keyshift", "alias"),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "not an ARN"),
    ];
    for (arn, want) in bad {
        let err = parse_kms_key_arn(arn).unwrap_err();
        assert!(err.contains(want), "{arn}: {err}");
    }
}
