//! `ephemeral "keyshift_secret_value"` through the real terraform CLI: the
//! value it reads reaches a write-only argument (another secret's
//! `secret_data_wo`) and nothing else: not the state, not the plan, not a
//! TRACE log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Run, Tf, planned_actions};

/// The value: must never show up anywhere Terraform writes.
const MARKER: &str = "KS-E2E-EPHEMERAL-MARKER-2f9a61d4";

fn config(reader: &str) -> String {
    format!(
        r#"variable "secret" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

resource "keyshift_key" "k" {{}}

resource "keyshift_secret" "source" {{
  name                   = "app/source"
  encryption_key_id      = keyshift_key.k.id
  secret_data_wo         = var.secret
  secret_data_wo_version = 1
}}
{reader}"#
    )
}

const COPY: &str = r#"
ephemeral "keyshift_secret_value" "by_name" {
  name = "app/source"
}

ephemeral "keyshift_secret_value" "by_id" {
  id            = keyshift_secret.source.id
  version_stage = "ACSCurrent"
}

locals {
  same_version = ephemeral.keyshift_secret_value.by_id.version_id == keyshift_secret.source.version_id
}

resource "keyshift_secret" "copy" {
  name                   = "app/copy"
  encryption_key_id      = keyshift_key.k.id
  secret_data_wo         = local.same_version ? ephemeral.keyshift_secret_value.by_name.value : "mismatch"
  secret_data_wo_version = 1
}
"#;

/// `terraform <args>` with the value from the environment and a TRACE log
/// appended to `log`.
fn traced(tf: &Tf, log: &std::path::Path, args: &[&str]) -> Run {
    let out = tf
        .command(args)
        .env("TF_VAR_secret", MARKER)
        .env("TF_LOG", "TRACE")
        .env("TF_LOG_PATH", log)
        .output()
        .unwrap();
    Run::from(out).ok()
}

#[test]
fn value_reaches_a_write_only_argument_and_nowhere_else() {
    let tf = Tf::new();
    let log = tf.path().join("trace.log");
    let mut seen = String::new();
    tf.write_main(&config(""));
    seen += &traced(&tf, &log, &["apply", "-auto-approve"]).all();

    tf.write_main(&config(COPY));
    seen += &traced(&tf, &log, &["plan", "-out=tfplan"]).all();
    let plan_json = traced(&tf, &log, &["show", "-json", "tfplan"]).stdout;
    let plan: serde_json::Value = serde_json::from_str(&plan_json).unwrap();
    assert_eq!(planned_actions(&plan, "keyshift_secret.copy"), ["create"]);
    seen += &plan_json;
    seen += &traced(&tf, &log, &["apply", "-auto-approve", "tfplan"]).all();

    let get = tf.keyshift(&["secret", "get", "app/copy"]);
    assert_eq!(get.code, 0, "{}", get.all());
    assert_eq!(
        get.stdout, MARKER,
        "the copy holds the value read ephemerally"
    );

    seen += &traced(&tf, &log, &["show", "-json"]).stdout;
    seen += &tf.raw_state();
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(
        trace.contains("OpenEphemeralResource"),
        "sanity: the trace covers the ephemeral resource calls"
    );
    let leaks: Vec<&str> = trace.lines().filter(|l| l.contains(MARKER)).collect();
    assert!(leaks.is_empty(), "value in the TRACE log: {leaks:#?}");
    assert!(!seen.contains(MARKER), "value in output, plan or state");
    let state: serde_json::Value = serde_json::from_str(&tf.raw_state()).unwrap();
    let kinds: Vec<&str> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert!(
        !kinds.contains(&"keyshift_secret_value"),
        "ephemeral: {kinds:?}"
    );
    assert_eq!(kinds.len(), 3, "{kinds:?}");

    // A clean second plan (the ephemeral resource is read again, not stored).
    let r = tf
        .command(&["plan", "-detailed-exitcode"])
        .env("TF_VAR_secret", MARKER)
        .output()
        .unwrap();
    let r = Run::from(r);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn bad_references_fail_on_the_attribute() {
    let tf = Tf::new();
    let cases = [
        (
            "unknown name",
            "ephemeral \"keyshift_secret_value\" \"v\" {\n  name = \"no/such\"\n}\n",
            &["Secret not found", "name = \"no/such\"", "shared/no/such"][..],
        ),
        (
            "neither id nor name",
            "ephemeral \"keyshift_secret_value\" \"v\" {\n  version_stage = \"ACSCurrent\"\n}\n",
            &["Set exactly one of id and name"][..],
        ),
        (
            "both version selectors",
            "ephemeral \"keyshift_secret_value\" \"v\" {\n  name          = \"x\"\n  version_id    = \"1\"\n  version_stage = \"ACSCurrent\"\n}\n",
            &["Set at most one of version_id and version_stage"][..],
        ),
    ];
    for (case, body, wants) in cases {
        tf.write_main(body);
        let r = tf.plan_code();
        assert_eq!(r.code, 1, "{case}: {}", r.all());
        let flat = r.flat();
        for want in wants {
            assert!(flat.contains(want), "{case}: {want:?} missing: {flat}");
        }
    }
}
