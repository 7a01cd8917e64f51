//! `keyshift_break_glass` end to end through the real terraform CLI and the
//! real `keyshift` binary: break glass, use the credential in scope, refused
//! out of scope and for an ungranted permission, expiry that keeps the plan
//! clean (state shows `expired` after a refresh, nothing is re-issued), a
//! change under the same change request warned at plan and refused at
//! apply, repair on destroy; the
//! credential appears in no state, plan, TRACE log or audit output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Run, Tf, planned_actions};
use serde_json::Value as Json;

fn config(permissions: &str) -> String {
    format!(
        r#"resource "keyshift_key" "k" {{}}

resource "keyshift_key" "other" {{}}

resource "keyshift_break_glass" "g" {{
  change_request    = "CHG0030001"
  principal         = "oncall@example.com"
  key_ids           = [keyshift_key.k.id]
  permissions       = {permissions}
  ttl               = "15s"
  reason            = "INC0012345"
  credential_key_id = keyshift_key.k.id
}}
"#
    )
}

fn traced(tf: &Tf, log: &std::path::Path, args: &[&str]) -> Run {
    let out = tf
        .command(args)
        .env("TF_LOG", "TRACE")
        .env("TF_LOG_PATH", log)
        .output()
        .unwrap();
    Run::from(out).ok()
}

/// Waits (at most 60 s) until the store reads grant `id` as expired.
fn wait_expired(tf: &Tf, id: &str) {
    for _ in 0..120 {
        let list = tf
            .keyshift(&["break-glass", "list", "--format", "json"])
            .ok()
            .stdout;
        let doc: Json = serde_json::from_str(&list).unwrap();
        let g = doc["grants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == id)
            .cloned();
        if g.is_some_and(|g| g["status"] == "expired") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("grant {id} did not expire");
}

#[test]
fn break_use_expire_and_repair_glass() {
    let tf = Tf::new();
    let log = tf.path().join("trace.log");
    let mut seen = String::new();
    tf.write_main(&config(r#"["decrypt", "sign"]"#));
    seen += &traced(&tf, &log, &["apply", "-auto-approve"]).all();
    let g = tf.resource("keyshift_break_glass.g");
    assert_eq!(g["status"], "active");
    assert_eq!(g["change_request"], "CHG0030001");
    let id = g["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("bg-"), "{id}");
    assert!(
        g["credential_secret_id"]
            .as_str()
            .unwrap()
            .starts_with("sec-")
    );
    let expires_at = g["expires_at"].as_str().unwrap().to_string();
    tf.assert_clean_plan();

    // The on-call person fetches the credential and uses it.
    let cred = tf.keyshift(&["break-glass", "credential", &id]).ok().stdout;
    let cred = cred.trim().to_string();
    assert!(cred.starts_with(&format!("kbg1.{id}.")));
    std::fs::write(tf.path().join("cred"), &cred).unwrap();
    let k = tf.resource("keyshift_key.k")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = tf.resource("keyshift_key.other")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let encrypt = |key: &str| {
        let out = tf
            .keyshift_command(&["encrypt", "--key", key])
            .stdin(std::fs::File::open(tf.path().join("main.tf")).unwrap())
            .output()
            .unwrap();
        Run::from(out).ok().stdout
    };
    let (ct_k, ct_other) = (encrypt(&k), encrypt(&other));
    std::fs::write(tf.path().join("ct_k"), &ct_k).unwrap();
    std::fs::write(tf.path().join("ct_other"), &ct_other).unwrap();
    let with_stdin = |args: &[&str], file: &str| {
        let out = tf
            .keyshift_command(args)
            .stdin(std::fs::File::open(tf.path().join(file)).unwrap())
            .output()
            .unwrap();
        Run::from(out)
    };
    let r = with_stdin(&["decrypt", "--grant", "@cred"], "ct_k");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("keyshift_break_glass"),
        "decrypted main.tf"
    );
    let cases: &[(&str, &[&str], &str, String)] = &[
        (
            "out of scope",
            &["decrypt", "--grant", "@cred"],
            "ct_other",
            format!("key {other} is out of the grant's scope"),
        ),
        (
            "ungranted",
            &["encrypt", "--key", &k, "--grant", "@cred"],
            "main.tf",
            "permission encrypt is not granted".into(),
        ),
    ];
    for (name, args, input, want) in cases {
        let r = with_stdin(args, input);
        seen += &r.all();
        assert_eq!(r.code, 1, "{name}: {}", r.all());
        assert!(r.stderr.contains(want.as_str()), "{name}: {}", r.stderr);
    }

    // Expiry: refresh shows `expired`, the plan stays clean, the credential is refused.
    wait_expired(&tf, &id);
    seen += &tf
        .run(&["apply", "-refresh-only", "-auto-approve"])
        .ok()
        .all();
    assert_eq!(tf.resource("keyshift_break_glass.g")["status"], "expired");
    let plan: Json = tf.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_break_glass.g"), ["no-op"]);
    seen += &plan.to_string();
    tf.assert_clean_plan();
    let r = with_stdin(&["decrypt", "--grant", "@cred"], "ct_k");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains(&format!("the grant expired at {expires_at}")),
        "{}",
        r.stderr
    );

    // Changing the grant under the same change request: the plan warns (an
    // error there would also block a destroy) and the apply is refused.
    tf.write_main(&config(r#"["decrypt", "sign", "encrypt"]"#));
    let r = tf.plan_code();
    assert_eq!(r.code, 2, "{}", r.all());
    for want in [
        "Warning: A break-glass grant cannot be changed",
        "now expired",
        "use a new change_request",
    ] {
        assert!(r.flat().contains(want), "{want:?}: {}", r.all());
    }
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.flat()
            .contains("Error: A break-glass grant cannot be changed"),
        "{}",
        r.all()
    );
    seen += &r.all();
    tf.write_main(&config(r#"["decrypt", "sign"]"#));

    // Destroy = repair glass.
    let secret = g["credential_secret_id"].as_str().unwrap().to_string();
    seen += &traced(&tf, &log, &["destroy", "-auto-approve"]).all();
    let list = tf
        .keyshift(&["break-glass", "list", "--format", "json"])
        .ok()
        .stdout;
    let doc: Json = serde_json::from_str(&list).unwrap();
    assert_eq!(doc["grants"][0]["status"], "revoked");
    assert!(doc["grants"][0]["credential_secret_id"].is_null());
    assert!(
        !tf.keyshift(&["secret", "list"])
            .ok()
            .stdout
            .contains(&secret)
    );
    let audit = tf
        .keyshift(&["audit", "--change-request", "CHG0030001"])
        .ok()
        .stdout;
    for action in [
        "break_glass.break",
        "break_glass.use",
        "break_glass.refuse",
        "break_glass.repair",
    ] {
        assert!(audit.contains(action), "{action} in\n{audit}");
    }
    seen += &list;
    seen += &audit;
    seen += &tf.raw_state();
    seen +=
        &std::fs::read_to_string(tf.path().join("terraform.tfstate.backup")).unwrap_or_default();
    seen += &std::fs::read_to_string(&log).unwrap();
    let secret_part = &cred[cred.len() - 64..];
    assert_eq!(
        seen.matches(secret_part).count(),
        0,
        "the credential leaked"
    );
}

/// Import adopts a grant with a clean plan; a repair that cannot finish on
/// destroy fails saying so, stays pending, and `keyshift break-glass repair`
/// finishes it (after which destroy succeeds).
#[test]
fn import_and_a_failed_repair_left_pending() {
    use keyshift_core::engine::Kms;
    use keyshift_core::store::Container;
    let tf = Tf::new();
    tf.write_main(&config(r#"["decrypt"]"#).replace("\"15s\"", "\"1h\""));
    tf.apply();
    let id = tf.resource("keyshift_break_glass.g")["id"]
        .as_str()
        .unwrap()
        .to_string();
    tf.run(&["state", "rm", "keyshift_break_glass.g"]).ok();
    tf.run(&["import", "keyshift_break_glass.g", &id]).ok();
    tf.assert_clean_plan();

    // The credential secret's container is held by a migration.
    let lock = |on: bool| {
        Kms::open(&tf.store(), "test")
            .unwrap()
            .set_migrating(&Container::Shared, on)
            .unwrap();
    };
    lock(true);
    let r = tf.run(&["destroy", "-auto-approve", "-target=keyshift_break_glass.g"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let flat = r.flat();
    assert!(flat.contains("Repair glass did not finish"), "{}", r.all());
    assert!(
        flat.contains(&format!(
            "the repair is pending: run `keyshift break-glass repair {id}`"
        )),
        "{}",
        r.all()
    );
    let pending = tf
        .keyshift(&["break-glass", "list", "--pending", "--format", "json"])
        .ok()
        .stdout;
    let doc: Json = serde_json::from_str(&pending).unwrap();
    assert_eq!(doc["grants"][0]["id"], id.as_str());
    assert_eq!(doc["grants"][0]["status"], "revoked");
    lock(false);
    let r = tf.keyshift(&["break-glass", "repair", &id]).ok();
    assert!(
        r.stdout.starts_with(&format!("repaired {id} (CHG0030001)")),
        "{}",
        r.all()
    );
    let pending = tf
        .keyshift(&["break-glass", "list", "--pending"])
        .ok()
        .stdout;
    assert_eq!(pending.lines().count(), 1, "only the header: {pending}");
    tf.destroy().ok();
    assert!(
        tf.raw_state().contains("\"resources\": []"),
        "{}",
        tf.raw_state()
    );
}

/// Invalid grants fail at plan on the attribute and leave the store alone.
#[test]
fn invalid_grants_fail_at_plan_with_the_attribute() {
    let grant = |change: &str, perms: &str, ttl: &str, scope: &str| {
        format!(
            "resource \"keyshift_break_glass\" \"g\" {{\n  change_request    = \"{change}\"\n  principal         = \"oncall\"\n{scope}  permissions       = {perms}\n  ttl               = \"{ttl}\"\n  credential_key_id = \"key-x\"\n}}\n"
        )
    };
    let scope = "  key_ids           = [\"key-x\"]\n";
    let cases = [
        (
            "bad change request",
            grant("INC0012345", "[\"decrypt\"]", "1h", scope),
            "change_request = \"INC0012345\"",
            "expected CHG followed by 7 to 10 digits",
        ),
        (
            "ttl over 24h",
            grant("CHG0030001", "[\"decrypt\"]", "25h", scope),
            "ttl = \"25h\"",
            "is out of range",
        ),
        (
            "unknown permission",
            grant("CHG0030001", "[\"admin\"]", "1h", scope),
            "permissions = [\"admin\"]",
            "\"admin\" is not a permission",
        ),
        (
            "no scope",
            grant("CHG0030001", "[\"decrypt\"]", "1h", ""),
            "resource \"keyshift_break_glass\" \"g\"",
            "set key_ids, instance_id or both",
        ),
        (
            "principal forging an audit row",
            grant("CHG0030001", "[\"decrypt\"]", "1h", scope).replace(
                "\"oncall\"",
                "\"oncall\\n2026-12-01T00:00:00Z\\tbreak_glass.repair\\tbg-0\\tok\"",
            ),
            "principal = \"oncall\\n2026-12-01T00:00:00Z",
            "invalid principal: contains the control character U+000A at position 7",
        ),
        (
            "principal with an escape sequence",
            grant("CHG0030001", "[\"decrypt\"]", "1h", scope)
                .replace("\"oncall\"", "\"\\u001b[2Joncall\""),
            "principal = \"\\u001b[2Joncall\"",
            "invalid principal: contains the control character U+001B at position 1",
        ),
        (
            "reason with an escape sequence",
            grant("CHG0030001", "[\"decrypt\"]", "1h", scope).replace(
                "  permissions",
                "  reason            = \"INC1\\u001b[8m\"\n  permissions",
            ),
            "reason = \"INC1\\u001b[8m\"",
            "invalid reason: contains the control character U+001B",
        ),
    ];
    for (name, hcl, source_line, message) in cases {
        let tf = Tf::new();
        tf.write_main(&hcl);
        let r = tf.run(&["plan"]);
        let all = r.flat();
        assert_eq!(r.code, 1, "{name}: {all}");
        assert!(
            all.contains(source_line),
            "{name}: no attribute path in:\n{all}"
        );
        assert!(all.contains(message), "{name}: {all}");
        assert!(!tf.store().exists(), "{name}: the store was touched");
    }
}

/// A grant of one day, written `1d` like a rotation interval, is accepted.
#[test]
fn a_ttl_of_one_day_is_accepted() {
    let tf = Tf::new();
    tf.write_main(&config(r#"["decrypt"]"#).replace(r#""15s""#, r#""1d""#));
    tf.apply();
    let g = tf.resource("keyshift_break_glass.g");
    assert_eq!(g["ttl"], "1d");
    let list = tf
        .keyshift(&["break-glass", "list", "--format", "json"])
        .ok()
        .stdout;
    let doc: Json = serde_json::from_str(&list).unwrap();
    let (created, expires) = (
        doc["grants"][0]["created_at"].as_str().unwrap().to_string(),
        doc["grants"][0]["expires_at"].as_str().unwrap().to_string(),
    );
    // Same time of day, another date: one day later.
    assert_eq!(created[10..], expires[10..], "{created} -> {expires}");
    assert_ne!(created[..10], expires[..10], "{created} -> {expires}");
    tf.assert_clean_plan();
}

/// The credential secret of a grant cannot be read through Terraform: an
/// ephemeral `keyshift_secret_value` naming it (by id or by name) fails the
/// plan with the refusal, writes nothing, and the refusal is audited.
#[test]
fn the_credential_secret_is_not_readable_through_terraform() {
    let tf = Tf::new();
    let base = config(r#"["decrypt"]"#).replace(r#""15s""#, r#""1h""#);
    tf.write_main(&base);
    tf.apply();
    let id = tf.resource("keyshift_break_glass.g")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let readers = [
        (
            "by id",
            "id = keyshift_break_glass.g.credential_secret_id",
            "id = keyshift_break_glass.g.credential_secret_id",
        ),
        (
            "by name",
            "name = \"break-glass/${keyshift_break_glass.g.id}\"",
            "name = \"break-glass/${keyshift_break_glass.g.id}\"",
        ),
    ];
    for (case, selector, line) in readers {
        tf.write_main(&format!(
            "{base}\nephemeral \"keyshift_secret_value\" \"cred\" {{\n  {selector}\n}}\n\nresource \"keyshift_secret\" \"leak\" {{\n  name                   = \"leak\"\n  encryption_key_id      = keyshift_key.k.id\n  secret_data_wo         = ephemeral.keyshift_secret_value.cred.value\n  secret_data_wo_version = 1\n}}\n"
        ));
        let r = tf.run(&["apply", "-auto-approve"]);
        let flat = r.flat();
        assert_eq!(r.code, 1, "{case}: {flat}");
        assert!(flat.contains("Cannot read secret value"), "{case}: {flat}");
        assert!(flat.contains(line), "{case}: no attribute in {flat}");
        assert!(
            flat.contains(&format!(
                "read only with `keyshift break-glass credential {id}` (audited)"
            )),
            "{case}: {flat}"
        );
        assert!(!flat.contains("kbg1."), "{case}: the credential leaked");
        let list = tf.keyshift(&["secret", "list", "--format", "json"]).ok();
        assert!(!list.stdout.contains("\"leak\""), "{case}: {}", list.stdout);
    }
    let audit = tf
        .keyshift(&[
            "audit",
            "--change-request",
            "CHG0030001",
            "--format",
            "json",
        ])
        .ok()
        .stdout;
    let doc: Json = serde_json::from_str(&audit).unwrap();
    let refused = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"] == "break_glass.credential"
                && e["outcome"].as_str().unwrap().starts_with("refused: ")
        })
        .count();
    assert!(refused >= 2, "refused reads are audited: {audit}");
}
