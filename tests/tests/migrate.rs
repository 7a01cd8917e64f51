//! `keyshift migrate` on objects created by the real terraform: keys and a
//! secret move out of band, the plan stays clean (instance_id is
//! Optional+Computed), old ciphertexts decrypt, `--rewrite . --verify` pins
//! the placement in main.tf, and an apply touching a container held by a
//! migration gets the "migration in progress" diagnostic while decrypt keeps
//! working.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_core::engine::Kms;
use keyshift_core::store::Container;
use keyshift_e2e::{Tf, release_dir};
use std::io::Write;
use std::process::{Command, Stdio};

fn config(description: &str) -> String {
    format!(
        r#"resource "keyshift_kms_instance" "dest" {{
  name = "dest"
}}

resource "keyshift_key" "first" {{
  description = "{description}"
}}

resource "keyshift_alias" "first" {{
  name   = "alias/first"
  key_id = keyshift_key.first.id
}}

resource "keyshift_key" "second" {{
  description = "second"
}}

resource "keyshift_secret" "db" {{
  name              = "db-password"
  encryption_key_id = keyshift_key.second.id
  secret_data       = "s3cret"
}}
"#
    )
}

/// The release `keyshift` in `tf`'s directory with `stdin`; (code, stdout, stderr).
fn keyshift_stdin(tf: &Tf, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(release_dir().join("keyshift"))
        .current_dir(tf.path())
        .env_remove("KEYSHIFT_STORE")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn id(tf: &Tf, address: &str) -> String {
    tf.resource(address)["id"].as_str().unwrap().to_string()
}

#[test]
fn out_of_band_migration_keeps_plans_clean_and_rewrite_pins_it() {
    let tf = Tf::new();
    tf.write_main(&config("first"));
    tf.apply();
    let kst = id(&tf, "keyshift_kms_instance.dest");
    let (first, second) = (
        id(&tf, "keyshift_key.first"),
        id(&tf, "keyshift_key.second"),
    );
    let (code, ct, err) = keyshift_stdin(&tf, &["encrypt", "--key", "alias/first"], "before");
    assert_eq!(code, 0, "{err}");

    // Out of band, no rewrite: the plan is still clean.
    let r = tf.keyshift(&["migrate", "--to", &kst, "alias/first"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&format!(
            "migrated      key {first} (alias/first) shared -> {kst}"
        )),
        "{}",
        r.all()
    );
    tf.assert_clean_plan();
    let (code, plain, err) = keyshift_stdin(&tf, &["decrypt"], &ct);
    assert_eq!((code, plain.as_str()), (0, "before"), "{err}");

    // Migrate and pin in one run: main.tf gets instance_id, the plan stays clean.
    let r = tf.keyshift(&[
        "migrate",
        "--to",
        &kst,
        "--include-secrets",
        &second,
        "db-password",
        "--rewrite",
        ".",
        "--verify",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let main = std::fs::read_to_string(tf.path().join("main.tf")).unwrap();
    let pinned = format!("  description = \"second\"\n  instance_id = \"{kst}\"\n");
    assert!(main.contains(&pinned), "{main}");
    let pinned = format!("  secret_data       = \"s3cret\"\n  instance_id       = \"{kst}\"\n");
    assert!(main.contains(&pinned), "{main}");
    assert!(
        !main.contains("description = \"first\"\n  instance_id"),
        "{main}"
    );
    tf.assert_clean_plan();
    tf.run(&["apply", "-refresh-only", "-auto-approve"]).ok();
    for address in [
        "keyshift_key.first",
        "keyshift_key.second",
        "keyshift_secret.db",
    ] {
        assert_eq!(
            tf.resource(address)["instance_id"],
            kst.as_str(),
            "{address}"
        );
    }

    // A held migration lock: an apply touching the container fails fast,
    // decrypt keeps working, the store is intact afterwards.
    let kms = Kms::open(&tf.store(), "test").unwrap();
    let inst = Container::Instance(kst.clone());
    let run = kms.begin_migration(&Container::Shared, &inst).unwrap();
    let main_changed = main.replace("description = \"first\"", "description = \"changed\"");
    std::fs::write(tf.path().join("main.tf"), &main_changed).unwrap();
    let r = tf.run(&["apply", "-auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let want = format!("migration in progress on {kst} (run {}, pid ", run.run_id);
    assert!(r.flat().contains(&want), "{}", r.all());
    // keyshift migrate --status shows the run.
    let st = tf.keyshift(&["migrate", "--status"]);
    assert_eq!(st.code, 0, "{}", st.all());
    assert!(
        st.stdout
            .contains(&format!("run {} shared -> {kst}: in progress", run.run_id)),
        "{}",
        st.all()
    );
    let (code, plain, err) = keyshift_stdin(&tf, &["decrypt"], &ct);
    assert_eq!((code, plain.as_str()), (0, "before"), "{err}");
    kms.end_migration(&run, "completed").unwrap();
    assert_eq!(kms.get_key(&first).unwrap().description, "first");
    tf.apply();
    assert_eq!(kms.get_key(&first).unwrap().description, "changed");
    tf.assert_clean_plan();
}
