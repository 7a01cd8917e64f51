//! `keyshift migrate --from kst-… --to shared --rewrite . --verify` on
//! objects terraform placed in an instance: they move back to the shared
//! KMS, the report names the target `shared`, main.tf gets
//! `instance_id = "shared"` (the shared KMS) in place of the instance, and
//! the plan is clean; ciphertexts made before still decrypt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_core::engine::Kms;
use keyshift_core::store::Container;
use keyshift_e2e::{Tf, release_dir};
use serde_json::Value as Json;
use std::io::Write;
use std::process::{Command, Stdio};

const CONFIG: &str = r#"resource "keyshift_kms_instance" "dest" {
  name = "dest"
}

resource "keyshift_key" "app" {
  description = "app"
  instance_id = keyshift_kms_instance.dest.id
}

resource "keyshift_secret" "db" {
  name              = "db-password"
  encryption_key_id = keyshift_key.app.id
  secret_data       = "s3cret"
  instance_id       = keyshift_kms_instance.dest.id
}
"#;

/// The release `keyshift` in `tf`'s directory with `stdin`: (code, stdout).
fn keyshift_stdin(tf: &Tf, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(release_dir().join("keyshift"))
        .current_dir(tf.path())
        .env_remove("KEYSHIFT_STORE")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn back_to_shared_rewrites_instance_id_to_shared_and_the_plan_stays_clean() {
    let tf = Tf::new();
    tf.write_main(CONFIG);
    tf.apply().ok();
    let kst = tf.resource("keyshift_kms_instance.dest")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = tf.resource("keyshift_key.app")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, ct) = keyshift_stdin(&tf, &["encrypt", "--key", &key], "before");
    assert_eq!(code, 0);

    let r = tf.keyshift(&[
        "migrate",
        "--from",
        &kst,
        "--to",
        "shared",
        "--all",
        "--include-secrets",
        "--report",
        "report.json",
        "--rewrite",
        ".",
        "--verify",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains(&format!("migrated      key {key} {kst} -> shared")),
        "{}",
        r.all()
    );
    assert!(
        r.stdout
            .contains("migrate to shared: 2 migrated, 0 skipped, 0 refused, 0 failed"),
        "{}",
        r.all()
    );

    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(tf.path().join("report.json")).unwrap())
            .unwrap();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2, "{report}");
    for o in objects {
        assert_eq!(
            (&o["source"], &o["target_instance_id"], &o["outcome"]),
            (
                &Json::from(kst.as_str()),
                &Json::from("shared"),
                &Json::from("migrated")
            ),
            "{o}"
        );
    }

    let main = std::fs::read_to_string(tf.path().join("main.tf")).unwrap();
    assert!(
        main.contains("  description = \"app\"\n  instance_id = \"shared\"\n"),
        "{main}"
    );
    assert!(
        main.contains("  secret_data       = \"s3cret\"\n  instance_id       = \"shared\"\n"),
        "{main}"
    );
    assert!(
        !main.contains("instance_id = keyshift_kms_instance"),
        "{main}"
    );
    tf.assert_clean_plan();

    let kms = Kms::open(&tf.store(), "test").unwrap();
    assert_eq!(kms.get_key(&key).unwrap().container, Container::Shared);
    let (code, plain) = keyshift_stdin(&tf, &["decrypt"], &ct);
    assert_eq!((code, plain.as_str()), (0, "before"));
    tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
    assert_eq!(tf.resource("keyshift_key.app")["instance_id"], "shared");
    tf.assert_clean_plan();
}
