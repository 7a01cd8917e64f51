//! `keyshift break-glass credential|list|repair`, `--grant @FILE` on
//! encrypt/decrypt/sign and `keyshift audit` against the real binary, on a
//! store set up through the engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{code, keyshift, keyshift_stdin, new_key, stderr, stdout};

use keyshift_core::engine::Kms;
use keyshift_core::engine::break_glass::NewGrant;
use keyshift_core::store::{Container, KeySpec, KeyUsage};

fn grant(kms: &Kms, cr: &str, keys: &[&str], perms: &[&str], ttl: &str, cred_key: &str) -> String {
    kms.break_glass(&NewGrant {
        change_request: cr.into(),
        principal: "oncall@example.com".into(),
        key_ids: keys.iter().map(|s| s.to_string()).collect(),
        instance_id: None,
        permissions: perms.iter().map(|s| s.to_string()).collect(),
        ttl: ttl.into(),
        reason: "incident".into(),
        credential_key_id: cred_key.into(),
    })
    .unwrap()
    .record
    .id
}

/// name, arguments, stdin, exit code, expected stderr.
type Case<'a> = (&'a str, Vec<&'a str>, &'a [u8], i32, &'a str);

#[test]
fn credential_is_used_only_as_granted_and_repair_finishes_a_pending_repair() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let inst = support::instance(&kms, "bg");
    let k1 = new_key(
        &kms,
        inst.clone(),
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    let other = new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    let sig = new_key(&kms, inst.clone(), KeySpec::EcP256, KeyUsage::SignVerify).id;
    let id = grant(
        &kms,
        "CHG0030001",
        &[&k1, &sig],
        &["decrypt", "sign"],
        "1h",
        &k1,
    );
    let short = grant(&kms, "CHG0030002", &[&k1], &["decrypt"], "2s", &k1);

    let mut seen = String::new();
    let mut run = |args: &[&str], input: &[u8]| {
        let o = keyshift_stdin(&store, args, input);
        seen += &stdout(&o);
        seen += &stderr(&o);
        o
    };
    let o = run(&["break-glass", "credential", &id], b"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let cred = stdout(&o).trim().to_string();
    assert!(cred.starts_with(&format!("kbg1.{id}.")), "credential shape");
    let file = dir.path().join("cred");
    std::fs::write(&file, &cred).unwrap();
    let o = run(&["break-glass", "credential", &short], b"");
    std::fs::write(dir.path().join("short"), stdout(&o).trim()).unwrap();
    let grant_arg = format!("@{}", file.display());
    let short_arg = format!("@{}", dir.path().join("short").display());

    let ct_in = stdout(&run(&["encrypt", "--key", &k1], b"in scope"))
        .trim()
        .to_string();
    let ct_out = stdout(&run(&["encrypt", "--key", &other], b"out"))
        .trim()
        .to_string();
    let o = run(&["decrypt", "--grant", &grant_arg], ct_in.as_bytes());
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "in scope"),
        "{}",
        stderr(&o)
    );
    let o = run(&["sign", "--key", &sig, "--grant", &grant_arg], b"m");
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let cases: &[Case<'_>] = &[
        (
            "out of scope",
            vec!["decrypt", "--grant", &grant_arg],
            ct_out.as_bytes(),
            1,
            &format!("key {other} is out of the grant's scope"),
        ),
        (
            "ungranted permission",
            vec!["encrypt", "--key", &k1, "--grant", &grant_arg],
            b"x",
            1,
            "permission encrypt is not granted (granted: decrypt, sign)",
        ),
        (
            "not @FILE",
            vec!["decrypt", "--grant", "kbg1.x"],
            ct_in.as_bytes(),
            2,
            "--grant takes @FILE",
        ),
        (
            "missing file",
            vec!["decrypt", "--grant", "@/nonexistent/cred"],
            ct_in.as_bytes(),
            2,
            "cannot read /nonexistent/cred",
        ),
    ];
    for (name, args, input, want_code, want) in cases {
        let o = run(args, input);
        assert_eq!(code(&o), *want_code, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{name}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{name}: nothing on stdout");
    }

    std::thread::sleep(std::time::Duration::from_millis(2100));
    let o = run(&["decrypt", "--grant", &short_arg], ct_in.as_bytes());
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains(&format!(
            "break-glass grant {short} refused: the grant expired at"
        )),
        "{}",
        stderr(&o)
    );
    let o = run(&["break-glass", "credential", &short], b"");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("expired"), "{}", stderr(&o));

    // The credential secret's container is held by a migration: repair is left pending.
    kms.set_migrating(&inst, true).unwrap();
    let o = run(&["break-glass", "repair", &id], b"");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains(&format!(
            "repair is pending: run `keyshift break-glass repair {id}`"
        )),
        "{}",
        stderr(&o)
    );
    let o = run(
        &["break-glass", "list", "--pending", "--format", "json"],
        b"",
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let grants = doc["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["id"], id.as_str());
    assert_eq!(grants[0]["status"], "revoked");
    assert!(
        grants[0]["pending_repair"]
            .as_str()
            .unwrap()
            .contains("migration in progress")
    );
    let o = run(&["decrypt", "--grant", &grant_arg], ct_in.as_bytes());
    assert!(
        stderr(&o).contains("the grant was revoked"),
        "{}",
        stderr(&o)
    );
    kms.set_migrating(&inst, false).unwrap();
    let o = run(&["break-glass", "repair", &id], b"");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with(&format!("repaired {id} (CHG0030001)")));

    let o = run(&["break-glass", "list"], b"");
    let table = stdout(&o);
    assert!(
        table.contains(&format!("{id}\tCHG0030001\toncall@example.com\trevoked\t")),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "{short}\tCHG0030002\toncall@example.com\texpired\t"
        )),
        "{table}"
    );
    assert!(
        stdout(&run(&["break-glass", "list", "--pending"], b""))
            .lines()
            .count()
            == 1
    );

    let o = run(
        &[
            "audit",
            "--change-request",
            "CHG0030001",
            "--format",
            "json",
        ],
        b"",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let actions: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "break_glass.break",
        "break_glass.credential",
        "break_glass.use",
        "break_glass.refuse",
        "break_glass.revoke",
        "break_glass.repair",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert!(doc["entries"].as_array().unwrap().iter().all(|e| {
        e["detail"]
            .as_str()
            .unwrap()
            .contains("change_request=CHG0030001")
    }));
    let o = run(&["audit", "--since", "yesterday"], b"");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("invalid since"), "{}", stderr(&o));
    let _ = run(&["audit"], b"");
    let secret_part = &cred[cred.len() - 64..];
    assert_eq!(
        seen.matches(secret_part).count(),
        1,
        "the credential appears once: in `credential`'s output"
    );
    assert_eq!(
        keyshift(&store, &["break-glass", "credential", &id])
            .status
            .code(),
        Some(1)
    );
}

/// A grant's credential secret opens only through `keyshift break-glass
/// credential` (audited): `secret get` by name or id, in any format or
/// version, is refused, shows nothing of the credential and is itself
/// audited as a refused credential read.
#[test]
fn credential_secret_is_read_only_through_the_audited_command() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let k = new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    let id = grant(&kms, "CHG0030011", &[&k], &["decrypt"], "1h", &k);
    let secret = kms.grant(&id).unwrap().record.credential_secret_id.unwrap();
    drop(kms);
    let name = format!("break-glass/{id}");
    let cases: &[(&str, Vec<&str>)] = &[
        ("by name", vec!["secret", "get", &name]),
        ("by id", vec!["secret", "get", &secret]),
        ("as json", vec!["secret", "get", &name, "--format", "json"]),
        (
            "by stage",
            vec!["secret", "get", &name, "--stage", "ACSCurrent"],
        ),
        (
            "in its container",
            vec!["secret", "get", &name, "--instance", "shared"],
        ),
    ];
    let mut seen = String::new();
    for (case, args) in cases {
        let o = keyshift(&store, args);
        seen += &stdout(&o);
        seen += &stderr(&o);
        assert_eq!(code(&o), 1, "{case}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{case}: {}", stdout(&o));
        assert!(
            stderr(&o).contains(&format!("keyshift break-glass credential {id}")),
            "{case}: {}",
            stderr(&o)
        );
    }
    assert!(!seen.contains("kbg1."), "no credential shown: {seen}");
    let o = keyshift(&store, &["break-glass", "credential", &id]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with(&format!("kbg1.{id}.")));

    let o = keyshift(
        &store,
        &[
            "audit",
            "--change-request",
            "CHG0030011",
            "--format",
            "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let reads: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "break_glass.credential")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(reads.len(), cases.len() + 1, "{reads:?}");
    assert_eq!(
        reads.iter().filter(|o| o.starts_with("refused: ")).count(),
        cases.len(),
        "every refused read is audited: {reads:?}"
    );
    assert_eq!(reads.last(), Some(&"ok"));
}

/// Stored text cannot forge the audit trail: the table escapes every field
/// (a principal holding a newline, tabs and an escape sequence stays on its
/// own row), `--change-request` matches the change request exactly (a
/// principal naming another change request does not pull its grant in),
/// and the JSON carries every field exactly, with `schema_version`.
#[test]
fn audit_trail_cannot_be_forged_by_stored_text() {
    use keyshift_core::store::{GrantRecord, NewAuditEntry, write_with};
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let k = new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    let victim = grant(&kms, "CHG0030002", &[&k], &["decrypt"], "1h", &k);
    // A principal that names another change request, as the engine accepts it.
    let posing = kms
        .break_glass(&NewGrant {
            change_request: "CHG0030003".into(),
            principal: "mallory change_request=CHG0030002 x".into(),
            key_ids: vec![k.clone()],
            instance_id: None,
            permissions: vec!["decrypt".into()],
            ttl: "1h".into(),
            reason: String::new(),
            credential_key_id: k.clone(),
        })
        .unwrap()
        .record
        .id;
    // A grant recorded before principals were checked, with a principal
    // crafted to print a fake repair row of the victim's grant.
    let fake_row = format!(
        "2026-12-01T00:00:00Z\tbreak_glass.repair\t{victim}\tok\tchange_request=CHG0030002 principal=bob"
    );
    let forged_principal = format!("mallory\n{fake_row}\u{1b}[8m");
    let forged = GrantRecord {
        id: "bg-00000000000000aa".into(),
        change_request: "CHG0030001".into(),
        principal: forged_principal.clone(),
        key_ids: vec![k.clone()],
        instance_id: None,
        permissions: vec!["decrypt".into()],
        reason: String::new(),
        created_at: "2026-12-01T00:00:00Z".into(),
        expires_at: "2026-12-01T01:00:00Z".into(),
        credential_hash: vec![0; 32],
        credential_secret_id: None,
        revoked_at: None,
        pending_repair: None,
    };
    let forged_detail = format!("change_request=CHG0030001 principal={forged_principal}");
    write_with(kms.store(), |tx| {
        tx.insert_grant(&forged)?;
        tx.append_audit(&NewAuditEntry {
            at: "2026-12-01T00:00:00Z".into(),
            actor: "terraform".into(),
            action: "break_glass.break".into(),
            object: forged.id.clone(),
            outcome: "ok".into(),
            detail: forged_detail.clone(),
        })
        .map(drop)
    })
    .unwrap();
    drop(kms);

    let o = keyshift(&store, &["audit"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let table = stdout(&o);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 1 + 3, "header + one row per break:\n{table}");
    assert!(
        !rows
            .iter()
            .any(|r| r.starts_with("2026-12-01T00:00:00Z\tbreak_glass.repair")),
        "a forged row:\n{table}"
    );
    assert!(
        !table.contains('\u{1b}'),
        "an escape sequence reached the terminal"
    );
    assert!(
        table.contains("principal=mallory\\n2026-12-01T00:00:00Z\\tbreak_glass.repair"),
        "{table}"
    );
    let o = keyshift(&store, &["break-glass", "list"]);
    assert_eq!(stdout(&o).lines().count(), 1 + 3, "{}", stdout(&o));
    assert!(!stdout(&o).contains('\u{1b}'));

    let o = keyshift(
        &store,
        &[
            "audit",
            "--change-request",
            "CHG0030002",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let objects: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    assert_eq!(objects, vec![victim.as_str()], "only the victim's grant");
    assert!(!objects.contains(&posing.as_str()));

    let o = keyshift(
        &store,
        &[
            "audit",
            "--change-request",
            "CHG0030001",
            "--format",
            "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["entries"][0]["detail"].as_str(),
        Some(forged_detail.as_str()),
        "JSON carries the stored text exactly"
    );
}
