//! The provider under faults: it exits when Terraform is killed, an
//! "already exists" error says how to adopt the object, and numbers an
//! integer attribute cannot hold fail validate/plan on the attribute.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyshift_core::engine::Kms;
use keyshift_e2e::{Tf, provider_children};

/// True while `pid` runs (a zombie waiting for its reaper has exited).
fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state != "Z" && state != "X")
}

#[test]
fn the_provider_exits_when_terraform_is_killed() {
    let tf = Tf::new();
    tf.write_main(
        "resource \"keyshift_key\" \"k\" {\n  count       = 400\n  description = \"k ${count.index}\"\n}\n",
    );
    let mut child = tf
        .command(&["apply", "-auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the apply is under way (keys being created).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut providers = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let made = Kms::open(&tf.store(), "e2e")
            .ok()
            .and_then(|k| k.list_keys(None).ok())
            .map_or(0, |v| v.len());
        providers = provider_children(child.id());
        if made >= 20 && !providers.is_empty() {
            break;
        }
    }
    assert!(!providers.is_empty(), "never saw the provider mid-apply");
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let killed_at = Instant::now();
    while providers.iter().any(|p| alive(*p)) && killed_at.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<_> = providers.iter().filter(|p| alive(**p)).collect();
    assert!(
        left.is_empty(),
        "provider {left:?} still running {:?} after terraform was killed",
        killed_at.elapsed()
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(5),
        "the provider took {:?} to exit",
        killed_at.elapsed()
    );
    // The store is free and whole: every key it holds works.
    let kms = Kms::open(&tf.store(), "e2e").unwrap();
    for k in kms.list_keys(None).unwrap() {
        let ct = kms.encrypt(&k.id, b"probe").unwrap();
        assert_eq!(kms.decrypt(&ct).unwrap(), b"probe");
    }
}

const OBJECTS: &str = r#"
resource "keyshift_kms_instance" "i" {
  name = "adopt-me"
}

resource "keyshift_key" "k" {}

resource "keyshift_alias" "a" {
  name   = "alias/adopt-me"
  key_id = keyshift_key.k.id
}

resource "keyshift_secret" "s" {
  name              = "adopt-me"
  encryption_key_id = keyshift_key.k.id
  secret_data       = "v"
}
"#;

/// After the state lost objects the store still holds (an interrupted
/// apply), each "already exists" error names the existing id and the
/// import that adopts it; following it converges.
#[test]
fn already_exists_errors_name_the_id_and_the_import() {
    let tf = Tf::new();
    tf.write_main(OBJECTS);
    tf.apply();
    let instance = tf.resource("keyshift_kms_instance.i")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = tf.resource("keyshift_secret.s")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let lose = [
        "keyshift_kms_instance.i",
        "keyshift_alias.a",
        "keyshift_secret.s",
    ];
    let mut rm = vec!["state", "rm"];
    rm.extend(lose);
    tf.run(&rm).ok();

    // The secret's name clash is found at plan time; the instance's and
    // the alias's at apply time. Adopt the secret first, as told.
    let plan = tf.run(&["plan"]);
    let flat = plan.flat();
    assert_eq!(plan.code, 1, "{flat}");
    let cases = vec![(
        "keyshift_secret",
        "Secret \"adopt-me\" in shared",
        secret.clone(),
    )];
    assert_hints(&flat, &cases);
    tf.run(&["import", "keyshift_secret.s", &secret]).ok();

    let apply = tf.run(&["apply", "-auto-approve"]);
    let flat = apply.flat();
    assert_eq!(apply.code, 1, "{flat}");
    let cases = vec![
        (
            "keyshift_kms_instance",
            "KMS instance \"adopt-me\"",
            instance.clone(),
        ),
        (
            "keyshift_alias",
            "Alias \"alias/adopt-me\"",
            "alias/adopt-me".to_string(),
        ),
    ];
    assert_hints(&flat, &cases);

    // The import {} form of the hint adopts the rest.
    tf.write_main(&format!(
        "{OBJECTS}\nimport {{\n  to = keyshift_kms_instance.i\n  id = \"{instance}\"\n}}\n\nimport {{\n  to = keyshift_alias.a\n  id = \"alias/adopt-me\"\n}}\n"
    ));
    tf.apply();
    tf.write_main(OBJECTS);
    tf.assert_clean_plan();
}

fn assert_hints(flat: &str, cases: &[(&str, &str, String)]) {
    for (ty, what, id) in cases {
        for want in [
            format!("{what} already exists in the key store (id {id})"),
            format!("terraform import <address of this {ty}> {id}"),
            format!("to = <address of this {ty}> id = \"{id}\""),
        ] {
            assert!(flat.contains(&want), "{ty}: {want:?} in {flat}");
        }
    }
}

/// Numbers an integer attribute cannot hold exactly fail `terraform
/// validate` (literal) or `terraform plan` (from a variable, unknown at
/// validate) on the attribute, never as an inconsistent plan.
#[test]
fn integer_attributes_are_range_checked_at_validate_and_plan() {
    let tf = Tf::new();
    let cases: Vec<(&str, &str, &str, Option<&str>)> = vec![
        // (case, resource body, offending attribute, error text; None = valid)
        (
            "2^63",
            "resource \"keyshift_key\" \"k\" {\n  origin = \"EXTERNAL\"\n  key_material_wo_version = 9223372036854775808\n}\n",
            "key_material_wo_version",
            Some("is not a whole number from -9223372036854775808 to 9223372036854775807"),
        ),
        (
            "1e300",
            "resource \"keyshift_key\" \"k\" {\n  origin = \"EXTERNAL\"\n  key_material_wo_version = 1e300\n}\n",
            "key_material_wo_version",
            Some("is not a whole number from"),
        ),
        (
            "fraction quota",
            "resource \"keyshift_kms_instance\" \"i\" {\n  name      = \"n\"\n  key_quota = 1.5\n}\n",
            "key_quota",
            Some("key_quota must be a whole number, not 1.5"),
        ),
        (
            "fraction window",
            "resource \"keyshift_key\" \"k\" {\n  deletion_window_in_days = 7.25\n}\n",
            "deletion_window_in_days",
            Some("must be a whole number, not 7.25"),
        ),
        (
            "largest i64 is fine",
            "resource \"keyshift_key\" \"k\" {\n  origin = \"EXTERNAL\"\n  key_material_wo_version = 9223372036854775807\n}\n",
            "",
            None,
        ),
    ];
    for (name, body, attr, want) in &cases {
        tf.write_main(body);
        let r = tf.run(&["validate"]);
        let flat = r.flat();
        match want {
            None => assert_eq!(r.code, 0, "{name}: {flat}"),
            Some(text) => {
                assert_eq!(r.code, 1, "{name}: {flat}");
                assert!(flat.contains("Error: Invalid number"), "{name}: {flat}");
                assert!(flat.contains(text), "{name}: {flat}");
                assert!(
                    flat.contains(&format!("{attr} =")),
                    "{name}: no source line: {flat}"
                );
                assert!(!flat.contains("inconsistent"), "{name}: {flat}");
            }
        }
    }
    // From a variable the value is unknown at validate: plan catches it.
    tf.write_main(
        "variable \"v\" {\n  default = 1e300\n}\n\nresource \"keyshift_kms_instance\" \"i\" {\n  name         = \"n\"\n  secret_quota = var.v\n}\n",
    );
    let r = tf.run(&["plan"]);
    let flat = r.flat();
    assert_eq!(r.code, 1, "{flat}");
    assert!(
        flat.contains("Error: Invalid number")
            && flat.contains("secret_quota is not a whole number"),
        "{flat}"
    );
    assert!(
        !flat.contains("invalid plan") && !flat.contains("inconsistent"),
        "{flat}"
    );
}
