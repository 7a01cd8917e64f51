//! Unit tests of `keyshift_key` validation and helpers.

use super::*;
use crate::framework::AttrPath;

fn cfg(pairs: Vec<(&str, Value)>) -> Value {
    object(pairs)
}

#[test]
fn validation_names_the_attribute() {
    let material = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("default AES", cfg(vec![]), None),
        (
            "bad spec",
            cfg(vec![("spec", "AES_128".into())]),
            Some("spec"),
        ),
        (
            "window 40",
            cfg(vec![("deletion_window_in_days", Value::Int(40))]),
            Some("deletion_window_in_days"),
        ),
        (
            "window 6",
            cfg(vec![("deletion_window_in_days", Value::Int(6))]),
            Some("deletion_window_in_days"),
        ),
        (
            "window 7",
            cfg(vec![("deletion_window_in_days", Value::Int(7))]),
            None,
        ),
        (
            "sign on AES",
            cfg(vec![
                ("spec", "AES_256".into()),
                ("usage", "SIGN/VERIFY".into()),
            ]),
            Some("usage"),
        ),
        (
            "sign on default spec",
            cfg(vec![("usage", "SIGN/VERIFY".into())]),
            Some("usage"),
        ),
        (
            "encrypt on EC",
            cfg(vec![
                ("spec", "EC_P256".into()),
                ("usage", "ENCRYPT/DECRYPT".into()),
            ]),
            Some("usage"),
        ),
        (
            "RSA sign ok",
            cfg(vec![
                ("spec", "RSA_2048".into()),
                ("usage", "SIGN/VERIFY".into()),
            ]),
            None,
        ),
        (
            "unknown spec skipped",
            cfg(vec![
                ("spec", Value::Unknown),
                ("usage", "SIGN/VERIFY".into()),
            ]),
            None,
        ),
        (
            "bad instance id",
            cfg(vec![("instance_id", "kst-XYZ".into())]),
            Some("instance_id"),
        ),
        (
            "rotation 1d",
            cfg(vec![("rotation_interval", "1d".into())]),
            Some("rotation_interval"),
        ),
        (
            "rotation 30d multi-version",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("multi_version", Value::Bool(true)),
            ]),
            None,
        ),
        (
            "rotation on a single-version key",
            cfg(vec![("rotation_interval", "30d".into())]),
            Some("rotation_interval"),
        ),
        (
            "rotation on RSA",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("spec", "RSA_2048".into()),
            ]),
            Some("rotation_interval"),
        ),
        (
            "rotation on EXTERNAL",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("origin", "EXTERNAL".into()),
                ("multi_version", Value::Bool(true)),
            ]),
            Some("rotation_interval"),
        ),
        (
            "rotation with unknown multi_version skipped",
            cfg(vec![
                ("rotation_interval", "30d".into()),
                ("multi_version", Value::Unknown),
            ]),
            None,
        ),
        (
            "material on KMS key",
            cfg(vec![
                ("key_material_wo", material.clone().into()),
                ("key_material_wo_version", Value::Int(1)),
            ]),
            Some("key_material_wo"),
        ),
        (
            "material ok",
            cfg(vec![
                ("origin", "EXTERNAL".into()),
                ("key_material_wo", material.into()),
                ("key_material_wo_version", Value::Int(1)),
            ]),
            None,
        ),
        (
            "material short",
            cfg(vec![
                ("origin", "EXTERNAL".into()),
                ("key_material_wo", short.into()),
                ("key_material_wo_version", Value::Int(1)),
            ]),
            Some("key_material_wo"),
        ),
        (
            "external RSA",
            cfg(vec![
                ("origin", "EXTERNAL".into()),
                ("spec", "RSA_2048".into()),
            ]),
            Some("origin"),
        ),
        (
            "multi-version EC",
            cfg(vec![
                ("spec", "EC_P256".into()),
                ("multi_version", Value::Bool(true)),
            ]),
            Some("multi_version"),
        ),
    ];
    for (name, c, expect) in cases {
        let d = KeyResource.validate(&c);
        match expect {
            None => assert!(d.is_empty(), "{name}: {d:?}"),
            Some(a) => assert_eq!(
                d.first().and_then(|d| d.path.clone()),
                Some(AttrPath::attr(a)),
                "{name}: {d:?}"
            ),
        }
    }
}

#[test]
fn material_never_in_messages() {
    let secret = base64::engine::general_purpose::STANDARD.encode(*b"0123456789abcdef");
    let c = cfg(vec![
        ("origin", "EXTERNAL".into()),
        ("key_material_wo", secret.clone().into()),
        ("key_material_wo_version", Value::Int(1)),
    ]);
    for d in KeyResource.validate(&c) {
        assert!(!d.detail.contains(&secret) && !d.summary.contains(&secret));
    }
}

#[test]
fn rotation_refusal_says_why_and_how_to_fix() {
    let d = KeyResource.validate(&cfg(vec![("rotation_interval", "90d".into())]));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].summary, "Key cannot rotate");
    assert!(
        d[0].detail.contains("single-version") && d[0].detail.contains("multi_version = true"),
        "{}",
        d[0].detail
    );
}
