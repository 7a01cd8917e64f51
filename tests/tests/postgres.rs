//! The shared PostgreSQL store end to end: the real terraform CLI and the
//! release provider and `keyshift` CLI on one database (`store_url` through
//! `KEYSHIFT_STORE`, the master key from `KEYSHIFT_MASTER_KEY_FILE` or
//! wrapped by an AWS KMS key on a private moto server).
//!
//! Needs a server in `KEYSHIFT_TEST_PG_URL` (`scripts/with-postgres.sh`
//! starts one; `make test` does): under `CI=true` a missing server fails
//! every test, elsewhere they skip loudly. Each test has its own database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/support/moto.rs"]
mod moto;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use keyshift_e2e::pg::PgDatabase;
use keyshift_e2e::{Run, Tf};
use serde_json::Value as Json;

/// A working directory whose provider and CLI use `db`'s store, with the
/// master key file `db.master_key_file()`.
fn tf_on(db: &PgDatabase) -> Tf {
    Tf::new().with_env("KEYSHIFT_STORE", db.url()).with_env(
        "KEYSHIFT_MASTER_KEY_FILE",
        db.master_key_file().to_str().unwrap(),
    )
}

/// One team's configuration: an instance, `n` keys in it, an alias, and
/// `n` keys in the shared KMS.
fn team(name: &str, n: usize) -> String {
    format!(
        r#"resource "keyshift_kms_instance" "team" {{
  name      = "{name}"
  type      = "software"
  key_quota = 50
}}

resource "keyshift_key" "own" {{
  count       = {n}
  instance_id = keyshift_kms_instance.team.id
  description = "{name} key ${{count.index}}"
}}

resource "keyshift_key" "shared" {{
  count       = {n}
  description = "{name} shared key ${{count.index}}"
}}

resource "keyshift_alias" "data" {{
  name   = "alias/{name}/data"
  key_id = keyshift_key.own[0].id
}}
"#
    )
}

/// Ids of every `keyshift_key` in the working directory's state.
fn state_key_ids(tf: &Tf) -> BTreeSet<String> {
    let state = tf.state_json();
    state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "keyshift_key")
        .map(|r| r["values"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// `keyshift ARGS --format json` through `tf`'s environment, parsed.
fn cli_json(tf: &Tf, args: &[&str]) -> Json {
    let r = tf.keyshift(&[args, &["--format", "json"]].concat()).ok();
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// Ids of every key in the store, as `keyshift key list` shows them.
fn cli_key_ids(tf: &Tf) -> BTreeSet<String> {
    cli_json(tf, &["key", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect()
}

/// Row counts and store_meta: what "changes nothing" is checked against.
fn fingerprint(db: &PgDatabase) -> String {
    db.query(
        "SELECT (SELECT count(*) FROM keys), (SELECT count(*) FROM key_versions), \
         (SELECT count(*) FROM instances), (SELECT count(*) FROM aliases), \
         (SELECT count(*) FROM audit), \
         (SELECT md5(string_agg(name || encode(value, 'hex'), ',' ORDER BY name)) FROM store_meta)",
    )
}

/// Two `terraform apply` runs from two working directories at once on one
/// store: both succeed, both re-plan clean, and the store (seen through the
/// CLI) holds both sets of keys under one master key.
#[test]
fn two_working_directories_apply_at_once_on_one_store() {
    let Some(db) = PgDatabase::create("concurrent") else {
        return;
    };
    let (a, b) = (tf_on(&db), tf_on(&db));
    a.write_main(&team("team-a", 8));
    b.write_main(&team("team-b", 8));
    // Both started before either is waited for.
    let children: Vec<_> = [&a, &b]
        .iter()
        .map(|tf| {
            tf.command(&["apply", "-auto-approve"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        Run::from(child.wait_with_output().unwrap()).ok();
    }
    a.assert_clean_plan();
    b.assert_clean_plan();
    let (ids_a, ids_b) = (state_key_ids(&a), state_key_ids(&b));
    assert_eq!((ids_a.len(), ids_b.len()), (16, 16));
    let in_store = cli_key_ids(&a);
    assert!(
        ids_a.union(&ids_b).all(|id| in_store.contains(id)),
        "{in_store:?}"
    );
    assert_eq!(in_store, cli_key_ids(&b), "one store for both");
    let names: BTreeSet<String> = cli_json(&a, &["instance", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, BTreeSet::from(["team-a".into(), "team-b".into()]));
    assert!(!a.store().exists() && !b.store().exists(), "no local store");
    let mode = std::fs::metadata(db.master_key_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "master key file created 0600");
}

/// The quickstart applies on PostgreSQL as documented, re-plans clean, the
/// CLI encrypts and decrypts with its keys, and it destroys cleanly.
#[test]
fn quickstart_on_postgres() {
    let Some(db) = PgDatabase::create("quickstart") else {
        return;
    };
    let tf = tf_on(&db);
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart/main.tf"
    );
    tf.write("main.tf", &std::fs::read_to_string(example).unwrap());
    tf.apply();
    tf.assert_clean_plan();
    let out = tf.run(&["output", "-json"]).ok();
    let outputs: Json = serde_json::from_str(&out.stdout).unwrap();
    let keys: BTreeSet<String> = outputs["key_ids"]["value"]
        .as_object()
        .unwrap()
        .values()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3, "{outputs}");
    assert_eq!(cli_key_ids(&tf), keys);
    let alias = outputs["alias"]["value"].as_str().unwrap();
    let ct = tf
        .keyshift_stdin(&["encrypt", "--key", alias], b"on postgres")
        .ok();
    let pt = tf.keyshift_stdin(&["decrypt"], ct.stdout.as_bytes()).ok();
    assert_eq!(pt.stdout, "on postgres");
    tf.destroy().ok();
    // Destroyed keys wait out their deletion window in the shared store.
    let states: BTreeSet<String> = cli_json(&tf, &["key", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, BTreeSet::from(["PendingDeletion".to_string()]));
}

/// A wrong or missing master key fails with a diagnostic on the attribute
/// and changes nothing; the CLI says the same with exit code 2; a password
/// in the URL appears in no message.
#[test]
fn wrong_master_key_fails_clearly_and_changes_nothing() {
    let Some(db) = PgDatabase::create("wrongkey") else {
        return;
    };
    let tf = tf_on(&db);
    tf.write_main("resource \"keyshift_key\" \"k\" {}\n");
    tf.apply();
    let before = fingerprint(&db);

    let wrong = db.scratch().join("other.key");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let wrong = wrong.to_str().unwrap();
    let missing = db.scratch().join("missing.key");
    let missing = missing.to_str().unwrap();
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "wrong key file",
            &[("KEYSHIFT_MASTER_KEY_FILE", wrong)],
            &[
                "Cannot open the key store",
                "master_key_file",
                "does not open the key store",
            ],
        ),
        (
            "missing key file",
            &[("KEYSHIFT_MASTER_KEY_FILE", missing)],
            &[
                "Cannot open the key store",
                "holds data but its master key file",
                "is missing",
            ],
        ),
        (
            "no key named",
            &[("KEYSHIFT_MASTER_KEY_FILE", "")],
            &[
                "Cannot open the key store",
                "keeps no master key file of its own",
            ],
        ),
    ];
    for (name, env, wants) in cases {
        let mut other = Tf::new().with_env("KEYSHIFT_STORE", db.url());
        for (k, v) in *env {
            other = other.with_env(k, v);
        }
        other.write_main(
            "resource \"keyshift_key\" \"k\" {}\nresource \"keyshift_key\" \"k2\" {}\n",
        );
        let r = other.run(&["apply", "-auto-approve"]);
        assert_eq!(r.code, 1, "{name}: {}", r.all());
        for want in *wants {
            assert!(
                r.flat().contains(want),
                "{name}: missing {want:?} in {}",
                r.flat()
            );
        }
        let cli = other.keyshift(&["key", "list"]);
        assert_eq!(cli.code, 2, "{name}: {}", cli.all());
        assert!(
            cli.stderr.contains("cannot open key store"),
            "{name}: {}",
            cli.stderr
        );
        assert_eq!(fingerprint(&db), before, "{name}: the store changed");
        assert!(
            !std::path::Path::new(missing).exists(),
            "{name}: key file created"
        );
    }
    // The right key still opens it, with nothing lost.
    tf.assert_clean_plan();
    let flag = tf.keyshift(&["--master-key-file", wrong, "key", "list"]);
    assert_eq!(
        flag.code,
        2,
        "--master-key-file beats the variable: {}",
        flag.all()
    );
    assert!(
        flag.stderr.contains("does not open the key store"),
        "{}",
        flag.stderr
    );

    // A password in the URL never shows, not even when the server refuses.
    let url = db
        .url()
        .replacen("postgres://ks@", "postgres://ks:hunter2secret@", 1);
    let refused = url.replacen("127.0.0.1:", "127.0.0.1:1", 1);
    for (name, store) in [("accepted", url.as_str()), ("refused", refused.as_str())] {
        let log = db.scratch().join(format!("{name}.log"));
        let pw = Tf::new()
            .with_env("KEYSHIFT_STORE", store)
            .with_env("KEYSHIFT_MASTER_KEY_FILE", wrong)
            .with_env("TF_LOG", "trace")
            .with_env("TF_LOG_PATH", log.to_str().unwrap());
        pw.write_main("resource \"keyshift_key\" \"k\" {}\n");
        let r = pw.run(&["apply", "-auto-approve"]);
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(
            log.contains("Cannot open the key store"),
            "{name}: the log has the diagnostic"
        );
        assert_eq!(r.code, 1, "{name}: {}", r.all());
        assert!(
            r.flat().contains("ks:***@127.0.0.1"),
            "{name}: {}",
            r.flat()
        );
        let cli = pw.keyshift(&["key", "list"]);
        assert_ne!(cli.code, 0, "{name}: {}", cli.all());
        for text in [r.all(), cli.all(), pw.raw_state(), log] {
            assert!(
                !text.contains("hunter2secret"),
                "{name}: password leaked:\n{text}"
            );
        }
    }
    assert_eq!(fingerprint(&db), before);
}

/// The master key wrapped by an AWS KMS key (moto): no key file anywhere,
/// the CLI opens the store with `--master-key-arn`, another ARN is refused
/// naming the right one, and nothing changes.
#[test]
fn master_key_wrapped_by_aws_kms() {
    let Some(db) = PgDatabase::create("wrapped") else {
        return;
    };
    let m = moto::Moto::start();
    let (key, other) = (m.create_key(false), m.create_key(false));
    let aws = |tf: Tf| {
        tf.with_env("KEYSHIFT_STORE", db.url())
            .with_env("KEYSHIFT_AWS_ENDPOINT", &m.endpoint())
            .with_env("AWS_ACCESS_KEY_ID", "testing")
            .with_env("AWS_SECRET_ACCESS_KEY", "testing")
            .with_env("AWS_REGION", moto::REGION)
            .with_env("AWS_CONFIG_FILE", "/dev/null")
            .with_env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    };
    let tf = aws(Tf::new()).with_env("KEYSHIFT_MASTER_KEY_ARN", &key.arn);
    tf.write_main("resource \"keyshift_key\" \"k\" {\n  count = 2\n}\n");
    tf.apply();
    tf.assert_clean_plan();
    assert_eq!(cli_key_ids(&tf), state_key_ids(&tf));
    assert!(!db.master_key_file().exists());
    let wrapped = db.query("SELECT count(*) FROM store_meta WHERE name = 'master_key_wrapped'");
    assert_eq!(wrapped.trim(), "1");
    let before = fingerprint(&db);

    let wrong = aws(Tf::new()).with_env("KEYSHIFT_MASTER_KEY_ARN", &other.arn);
    wrong.write_main("resource \"keyshift_key\" \"k\" {}\n");
    let r = wrong.run(&["apply", "-auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let want = format!("wrapped by AWS KMS key {}, not by {}", key.arn, other.arn);
    assert!(r.flat().contains(&want), "{}", r.flat());
    assert!(r.flat().contains("master_key_arn"), "{}", r.flat());
    let cli = aws(Tf::new()).keyshift(&["--master-key-arn", &other.arn, "key", "list"]);
    assert_ne!(cli.code, 0, "{}", cli.all());
    assert!(cli.stderr.contains(&want), "{}", cli.stderr);
    assert_eq!(fingerprint(&db), before);
}

/// `url` (`postgres://user@host:port/db?k=v`) as libpq's keyword/value
/// connection string.
fn keyword_form(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (auth, db) = main.split_once('/').unwrap();
    let (user, host) = auth.split_once('@').unwrap();
    let (host, port) = host.split_once(':').unwrap_or((host, "5432"));
    let mut s = format!("host={host} port={port} user={user} dbname={db}");
    for p in query.split('&').filter(|p| !p.is_empty()) {
        s.push(' ');
        s.push_str(p);
    }
    s
}

/// `store_url` (here `KEYSHIFT_STORE`) written as libpq's connection
/// string is the shared store: terraform and the CLI see the same keys,
/// and no embedded store appears in the working directory.
#[test]
fn a_connection_string_names_the_shared_store() {
    let Some(db) = PgDatabase::create("kwform") else {
        return;
    };
    let conn = keyword_form(db.url());
    let tf = Tf::new().with_env("KEYSHIFT_STORE", &conn).with_env(
        "KEYSHIFT_MASTER_KEY_FILE",
        db.master_key_file().to_str().unwrap(),
    );
    tf.write_main("resource \"keyshift_key\" \"k\" {}\n");
    tf.apply();
    let id = tf.resource("keyshift_key.k")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(cli_key_ids(&tf), BTreeSet::from([id.clone()]));
    assert_eq!(
        cli_key_ids(&tf_on(&db)),
        BTreeSet::from([id]),
        "the URL's store"
    );
    let dirs: Vec<String> = std::fs::read_dir(tf.path())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(dirs.is_empty(), "no embedded store: {dirs:?}");
    tf.assert_clean_plan();
}

/// When the shared store's server goes away in the middle of an apply, a
/// key that names its instance fails with "Key store unreachable", not
/// with a diagnostic blaming its `instance_id`.
#[test]
fn a_store_that_goes_down_is_called_unreachable() {
    use keyshift_e2e::pg_proxy::CutProxy;
    let Some(db) = PgDatabase::create("down") else {
        return;
    };
    let rest = db.url().split_once('@').unwrap().1;
    let host_port = rest.split(['/', '?']).next().unwrap();
    let proxy = CutProxy::start(host_port);
    let url = db
        .url()
        .replacen(host_port, &format!("127.0.0.1:{}", proxy.port()), 1);
    let tf = Tf::new().with_env("KEYSHIFT_STORE", &url).with_env(
        "KEYSHIFT_MASTER_KEY_FILE",
        db.master_key_file().to_str().unwrap(),
    );
    // The relay is cut after the instance exists and before the key is
    // planned with its (then known) instance_id.
    tf.write_main(&format!(
        r#"resource "keyshift_kms_instance" "i" {{
  name = "down"
}}

resource "terraform_data" "cut" {{
  input = keyshift_kms_instance.i.id

  provisioner "local-exec" {{
    interpreter = ["bash", "-c"]
    command     = "exec 3<>/dev/tcp/127.0.0.1/{}; cat <&3"
  }}
}}

resource "keyshift_key" "k" {{
  instance_id = terraform_data.cut.output
}}
"#,
        proxy.control_port()
    ));
    let r = tf.run(&["apply", "-auto-approve"]);
    let flat = r.flat();
    assert_eq!(r.code, 1, "{flat}");
    assert!(flat.contains("Error: Key store unreachable"), "{flat}");
    assert!(flat.contains("cannot connect to the key store"), "{flat}");
    assert!(!flat.contains("Invalid instance_id"), "{flat}");
}
