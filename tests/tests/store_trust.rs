//! The provider never replaces a store's master key: with `master.key`
//! deleted or swapped, `terraform plan`/`apply` fail at provider configure
//! with an error naming the file, and nothing is written; a master key
//! open to other users is a Terraform warning.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use keyshift_e2e::Tf;

const CONFIG: &str = r#"
resource "keyshift_kms_instance" "i" {
  name = "trust"
}

resource "keyshift_key" "k" {
  instance_id = keyshift_kms_instance.i.id
}
"#;

/// The store's files (SQLite's -wal/-shm aside) and their bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap_or_default()))
        .collect()
}

#[test]
fn a_missing_or_foreign_master_key_fails_configure_and_writes_nothing() {
    let tf = Tf::new();
    tf.write_main(CONFIG);
    tf.apply();
    let master = tf.store().join("master.key");
    let original = std::fs::read(&master).unwrap();
    // The provider names the store as configured: here the default, relative.
    let path = ".keyshift/master.key";

    type Damage = fn(&Path);
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "deleted",
            |k| std::fs::remove_file(k).unwrap(),
            "is missing; restore the master.key this store was created with",
        ),
        (
            "replaced",
            |k| std::fs::write(k, [0x11; 32]).unwrap(),
            "does not open the key store",
        ),
    ];
    for (name, damage, want) in cases {
        damage(&master);
        let before = snapshot(&tf.store());
        // Adding a resource would write if the provider carried on.
        tf.write_main(&format!(
            "{CONFIG}\nresource \"keyshift_key\" \"more\" {{\n  description = \"x\"\n}}\n"
        ));
        for cmd in [&["plan"][..], &["apply", "-auto-approve"][..]] {
            let r = tf.run(cmd);
            let flat = r.flat();
            assert_eq!(r.code, 1, "{name} {cmd:?}: {flat}");
            assert!(flat.contains("Cannot open the key store"), "{name}: {flat}");
            assert!(flat.contains(path), "{name}: {flat}");
            assert!(flat.contains(want), "{name}: {want:?} in {flat}");
        }
        assert_eq!(snapshot(&tf.store()), before, "{name}: the store changed");
        std::fs::write(&master, &original).unwrap();
        std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o600)).unwrap();
        tf.write_main(CONFIG);
        tf.assert_clean_plan();
    }
}

#[test]
fn a_master_key_open_to_others_is_a_warning() {
    let tf = Tf::new();
    tf.write_main(CONFIG);
    tf.apply();
    let master = tf.store().join("master.key");
    std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = tf.plan_code();
    let flat = r.flat();
    assert_eq!(r.code, 0, "a warning is not an error: {flat}");
    assert!(
        flat.contains("Warning: Key store files are open to other users"),
        "{flat}"
    );
    // The provider names the store as configured: here the default, relative.
    for want in [
        ".keyshift/master.key is accessible by group or others (mode 640)",
        "run `chmod 600 .keyshift/master.key`",
    ] {
        assert!(flat.contains(want), "{want:?} in {flat}");
    }
    std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o600)).unwrap();
    let quiet = tf.plan_code();
    assert_eq!(quiet.code, 0, "{}", quiet.flat());
    assert!(
        !quiet.flat().contains("Key store files are open"),
        "{}",
        quiet.flat()
    );
}

/// Every entry of `dir`, by name.
fn entries(dir: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A mistyped shared-store location never becomes a new private store:
/// libpq's connection string is the PostgreSQL store (here unreachable,
/// said so), a one-slash URL or a misspelt parameter is refused on
/// `store_url`, nothing is created in the working directory, and the
/// password never shows.
#[test]
fn mistyped_store_urls_are_refused_and_create_nothing() {
    let cases = [
        (
            "connection string, server down",
            "host=127.0.0.1 port=1 user=ks password=hunter2 dbname=x",
            &[
                "Cannot open the key store",
                "key store unreachable",
                "host=127.0.0.1 port=1 user=ks password=*** dbname=x",
            ][..],
        ),
        (
            "one slash",
            "postgres:/ks:hunter2@127.0.0.1:1/x",
            &[
                "Invalid store_url",
                "postgres:/ks:***@127.0.0.1:1/x is not a valid PostgreSQL URL",
            ][..],
        ),
        (
            "misspelt parameter",
            "hots=127.0.0.1 password=hunter2 dbname=x",
            &[
                "Invalid store_url",
                "parameter 1 (`hots`) of the connection string is not a PostgreSQL connection parameter",
            ][..],
        ),
    ];
    for (name, store, wants) in cases {
        let tf = Tf::new()
            .with_env("KEYSHIFT_STORE", store)
            .with_env("KEYSHIFT_MASTER_KEY_FILE", "mk");
        tf.write_main(CONFIG);
        let before = entries(tf.path());
        for cmd in [&["plan"][..], &["apply", "-auto-approve"][..]] {
            let r = tf.run(cmd);
            let flat = r.flat();
            assert_eq!(r.code, 1, "{name} {cmd:?}: {flat}");
            for want in wants {
                assert!(flat.contains(want), "{name}: {want:?} in {flat}");
            }
            assert!(!flat.contains("hunter2"), "{name}: password shown: {flat}");
        }
        let after = entries(tf.path());
        let made: Vec<_> = after
            .difference(&before)
            .filter(|n| !n.starts_with("terraform.tfstate"))
            .collect();
        assert!(made.is_empty(), "{name}: created {made:?}");
    }
    // In the provider block, the refusal points at the attribute.
    let tf = Tf::new();
    tf.write_main(&format!(
        "provider \"keyshift\" {{\n  store_url = \"postgres:/ks@127.0.0.1:1/x\"\n}}\n{CONFIG}"
    ));
    let r = tf.run(&["plan"]);
    let flat = r.flat();
    assert_eq!(r.code, 1, "{flat}");
    assert!(
        flat.contains("store_url = \"postgres:/ks@127.0.0.1:1/x\""),
        "no attribute path: {flat}"
    );
    assert!(!tf.path().join("postgres:").exists());
    assert!(!tf.store().exists());
}
