//! Break glass: input rules, scope, permissions, expiry on a fake clock,
//! repair and a pending repair.

use time::OffsetDateTime;

use super::break_glass::{self, GrantStatus, NewGrant, Permission};
use super::test_support::{inst, kms, new_key};
use crate::store::{Container, InstanceType, KeySpec, StoreError};

fn t(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

fn grant(key_ids: &[&str], instance: Option<&str>, perms: &[&str], cred_key: &str) -> NewGrant {
    NewGrant {
        change_request: "CHG0030001".into(),
        principal: "oncall@example.com".into(),
        key_ids: key_ids.iter().map(|s| s.to_string()).collect(),
        instance_id: instance.map(str::to_string),
        permissions: perms.iter().map(|s| s.to_string()).collect(),
        ttl: "1h".into(),
        reason: "incident".into(),
        credential_key_id: cred_key.into(),
    }
}

fn why(e: StoreError) -> String {
    match e {
        StoreError::GrantRefused { why, .. } => why,
        other => panic!("expected a refusal, got {other}"),
    }
}

#[test]
fn input_rules() {
    let cases: &[(&str, &str, Result<i64, &str>)] = &[
        ("ttl 90s", "90s", Ok(90)),
        ("ttl 1h30m", "1h30m", Ok(5400)),
        ("ttl 24h", "24h", Ok(86400)),
        ("ttl over 24h", "24h1s", Err("out of range")),
        ("ttl zero", "0s", Err("out of range")),
        ("ttl one day", "1d", Ok(86400)),
        ("ttl over a day", "1d1s", Err("out of range")),
        ("ttl no unit", "30", Err("not a duration")),
        ("ttl junk", "1w", Err("not a duration")),
        ("ttl empty", "", Err("not a duration")),
        ("ttl huge", "99999999999999999999h", Err("out of range")),
    ];
    for (name, ttl, want) in cases {
        match (break_glass::ttl_seconds(ttl), want) {
            (Ok(got), Ok(w)) => assert_eq!(got, *w, "{name}"),
            (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{name}: {e}"),
            (got, w) => panic!("{name}: got {got:?}, want {w:?}"),
        }
    }
    for ok in ["CHG0030001", "CHG1234567890"] {
        break_glass::change_request(ok).unwrap();
    }
    for bad in [
        "CHG123",
        "chg0030001",
        "INC0030001",
        "CHG00300x1",
        "",
        "CHG12345678901",
    ] {
        let e = break_glass::change_request(bad).unwrap_err();
        assert!(
            e.to_string().contains("invalid change_request"),
            "{bad}: {e}"
        );
    }
    let e = break_glass::permissions(&["decrypt".into(), "admin".into()]).unwrap_err();
    assert!(
        e.to_string().contains("\"admin\" is not a permission"),
        "{e}"
    );
    assert!(break_glass::permissions(&[]).is_err());
    assert_eq!(
        break_glass::permissions(&["sign".into(), "decrypt".into(), "sign".into()]).unwrap(),
        vec![Permission::Decrypt, Permission::Sign]
    );
    assert!(break_glass::scope(&[], None).is_err());
}

#[test]
fn credential_works_only_in_scope_with_granted_permissions_until_expiry() {
    let (_d, kms) = kms();
    let c = inst(&kms, "bg", InstanceType::Software, "eu");
    let k1 = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    let other = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let t0 = t("2030-01-01T00:00:00Z");
    let g = kms
        .break_glass_at(
            &grant(&[], Some(c.instance_id().unwrap()), &["decrypt"], &k1.id),
            t0,
        )
        .unwrap();
    assert_eq!(g.status, GrantStatus::Active);
    assert_eq!(g.record.expires_at, "2030-01-01T01:00:00Z");
    assert!(g.record.credential_secret_id.is_some());
    // The credential is in the secret, not in the record.
    let cred = kms.grant_credential_at(&g.record.id, t0).unwrap();
    assert!(cred.starts_with("kbg1.bg-"), "credential shape");
    assert!(!format!("{:?}", g.record).contains(cred.as_str()));

    let ok = |at: &str, perm, key: &str| kms.authorize_at(&cred, perm, key, t(at));
    assert_eq!(
        ok("2030-01-01T00:10:00Z", Permission::Decrypt, &k1.id).unwrap(),
        k1.id
    );
    let cases: &[(&str, &str, Permission, &str, &str)] = &[
        (
            "out of scope",
            "2030-01-01T00:10:00Z",
            Permission::Decrypt,
            &other.id,
            "out of the grant's scope",
        ),
        (
            "ungranted",
            "2030-01-01T00:10:00Z",
            Permission::Encrypt,
            &k1.id,
            "permission encrypt is not granted",
        ),
        (
            "at expiry",
            "2030-01-01T01:00:00Z",
            Permission::Decrypt,
            &k1.id,
            "expired at 2030-01-01T01:00:00Z",
        ),
    ];
    for (name, at, perm, key, want) in cases {
        let w = why(ok(at, *perm, key).unwrap_err());
        assert!(w.contains(want), "{name}: {w}");
    }
    // Expired: status and the credential read follow the clock.
    let later = t("2030-01-01T02:00:00Z");
    assert_eq!(
        kms.grant_at(&g.record.id, later).unwrap().status,
        GrantStatus::Expired
    );
    assert!(why(kms.grant_credential_at(&g.record.id, later).unwrap_err()).contains("expired"));
    // A forged credential for the same grant is refused.
    let forged = format!("kbg1.{}.{}", g.record.id, "0".repeat(64));
    let e = kms
        .authorize_at(&forged, Permission::Decrypt, &k1.id, t0)
        .unwrap_err();
    assert!(why(e).contains("not a valid break-glass credential"));
    // Audit: break, credential, use and refusals, with the change request, never the credential.
    let audit = kms.break_glass_audit(None, Some("CHG0030001")).unwrap();
    let bg: Vec<_> = audit
        .iter()
        .filter(|a| a.action.starts_with("break_glass."))
        .collect();
    for action in [
        "break_glass.break",
        "break_glass.credential",
        "break_glass.use",
        "break_glass.refuse",
    ] {
        assert!(bg.iter().any(|a| a.action == action), "{action} audited");
    }
    for a in &bg {
        assert!(a.detail.contains("change_request=CHG0030001"), "{a:?}");
        assert!(
            !format!("{a:?}").contains(&cred[20..]),
            "no credential in the audit"
        );
    }
}

#[test]
fn repair_revokes_destroys_and_a_failed_repair_stays_pending() {
    let (_d, kms) = kms();
    let c = inst(&kms, "bg", InstanceType::Software, "eu");
    let k = kms.create_key(new_key(c.clone(), KeySpec::Aes256)).unwrap();
    let g = kms
        .break_glass(&grant(&[&k.id], None, &["encrypt", "decrypt"], &k.id))
        .unwrap();
    let cred = kms.grant_credential(&g.record.id).unwrap();
    let secret = g.record.credential_secret_id.clone().unwrap();
    let ct = kms.grant_encrypt(&cred, &k.id, b"hello").unwrap();
    assert_eq!(kms.grant_decrypt(&cred, &ct).unwrap(), b"hello");

    // The credential secret's container is held by a migration: the
    // grant is revoked at once, the secret stays, the repair is pending.
    kms.set_migrating(&c, true).unwrap();
    let e = kms.repair_glass(&g.record.id).unwrap_err();
    assert!(e.to_string().contains("repair is pending"), "{e}");
    let pending = kms.list_grants(true).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, GrantStatus::Revoked);
    assert!(
        pending[0]
            .record
            .pending_repair
            .as_deref()
            .unwrap()
            .contains("migration in progress")
    );
    assert!(kms.get_secret(&secret).is_ok(), "secret not yet destroyed");
    assert!(why(kms.grant_decrypt(&cred, &ct).unwrap_err()).contains("revoked"));

    kms.set_migrating(&c, false).unwrap();
    let done = kms.repair_glass(&g.record.id).unwrap();
    assert_eq!(done.status, GrantStatus::Revoked);
    assert!(done.record.pending_repair.is_none());
    assert!(done.record.credential_secret_id.is_none());
    assert!(kms.list_grants(true).unwrap().is_empty());
    assert!(matches!(
        kms.get_secret(&secret),
        Err(StoreError::NotFound { .. })
    ));
    // Repairing again changes nothing.
    assert_eq!(kms.repair_glass(&g.record.id).unwrap().record, done.record);
    assert!(
        kms.break_glass_audit(None, None)
            .unwrap()
            .iter()
            .any(|a| a.action == "break_glass.repair" && a.outcome == "ok")
    );
}

#[test]
fn bad_grants_change_nothing() {
    let (_d, kms) = kms();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let cases: &[(&str, NewGrant, &str)] = &[
        (
            "unknown key",
            grant(&["key-missing"], None, &["decrypt"], &k.id),
            "key key-missing not found",
        ),
        (
            "unknown instance",
            grant(&[], Some("kst-000000000000"), &["decrypt"], &k.id),
            "instance kst-000000000000 not found",
        ),
        (
            "bad change request",
            NewGrant {
                change_request: "CHG1".into(),
                ..grant(&[&k.id], None, &["decrypt"], &k.id)
            },
            "invalid change_request",
        ),
        (
            "ttl too long",
            NewGrant {
                ttl: "25h".into(),
                ..grant(&[&k.id], None, &["decrypt"], &k.id)
            },
            "invalid ttl",
        ),
    ];
    for (name, g, want) in cases {
        let e = kms.break_glass(g).unwrap_err();
        assert!(e.to_string().contains(want), "{name}: {e}");
    }
    assert!(kms.list_grants(false).unwrap().is_empty());
    assert!(kms.list_secrets(None).unwrap().is_empty());
}

#[test]
fn a_change_request_breaks_glass_once_per_principal() {
    let (_d, kms) = kms();
    let k = kms
        .create_key(new_key(Container::Shared, KeySpec::Aes256))
        .unwrap();
    let t0 = t("2030-01-01T00:00:00Z");
    let first = grant(&[&k.id], None, &["decrypt"], &k.id);
    let g = kms.break_glass_at(&first, t0).unwrap();
    kms.repair_glass(&g.record.id).unwrap();
    for name in ["check", "break"] {
        let e = if name == "check" {
            kms.check_new_grant(&first).unwrap_err()
        } else {
            kms.break_glass(&first).unwrap_err()
        };
        assert!(
            e.to_string()
                .contains("breaking glass again needs a new change request"),
            "{name}: {e}"
        );
    }
    let other = NewGrant {
        principal: "second@example.com".into(),
        ..first.clone()
    };
    kms.check_new_grant(&other).unwrap();
    let next = NewGrant {
        change_request: "CHG0030002".into(),
        ..first
    };
    assert_eq!(kms.break_glass(&next).unwrap().status, GrantStatus::Active);
}
