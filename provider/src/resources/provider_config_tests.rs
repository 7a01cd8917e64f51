//! Tests of the provider configuration (beside `provider_config.rs`).
use super::*;
use crate::engine::ekms_wrapper::LazyAwsKms;
use crate::framework::AttrPath;
use std::collections::HashMap;
use std::path::Path;

const ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn cfg(pairs: &[(&str, &str)]) -> Value {
    super::super::common::object(pairs.iter().map(|(k, v)| (*k, Value::string(*v))).collect())
}

fn resolve(config: &[(&str, &str)], env: &[(&str, &str)]) -> Result<ProviderConfig, Diagnostics> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ProviderConfig::resolve_in(&cfg(config), &|name| env.get(name).cloned())
}

#[test]
fn store_location_and_master_key_resolve() {
    let pg = "postgres://ks@127.0.0.1:5432/ks?sslmode=require";
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
        StoreLocation,
        Option<&'a str>,
    );
    let dir = |p: &str| StoreLocation::dir(Path::new(p));
    let cases: &[Case] = &[
        ("default", &[], &[], dir(".keyshift"), None),
        ("store_path", &[("store_path", "/s")], &[], dir("/s"), None),
        (
            "store_url postgres",
            &[("store_url", pg)],
            &[],
            StoreLocation::Postgres(pg.into()),
            None,
        ),
        (
            "store_url connection string",
            &[("store_url", "host=db port=5432 dbname=ks")],
            &[],
            StoreLocation::Postgres("host=db port=5432 dbname=ks".into()),
            None,
        ),
        (
            "store_url sqlite",
            &[("store_url", "sqlite:/s")],
            &[],
            dir("/s"),
            None,
        ),
        (
            "store_url path",
            &[("store_url", "./s")],
            &[],
            dir("./s"),
            None,
        ),
        (
            "env postgres",
            &[],
            &[("KEYSHIFT_STORE", pg)],
            StoreLocation::Postgres(pg.into()),
            None,
        ),
        (
            "env path",
            &[],
            &[("KEYSHIFT_STORE", "/e")],
            dir("/e"),
            None,
        ),
        (
            "empty env is unset",
            &[],
            &[("KEYSHIFT_STORE", "")],
            dir(".keyshift"),
            None,
        ),
        (
            "store_path beats env",
            &[("store_path", "/s")],
            &[("KEYSHIFT_STORE", pg)],
            dir("/s"),
            None,
        ),
        (
            "store_url beats env",
            &[("store_url", pg)],
            &[("KEYSHIFT_STORE", "/e")],
            StoreLocation::Postgres(pg.into()),
            None,
        ),
        (
            "master_key_file",
            &[("master_key_file", "/k/master.key")],
            &[],
            dir(".keyshift"),
            Some("/k/master.key"),
        ),
        (
            "master_key_file env",
            &[],
            &[("KEYSHIFT_MASTER_KEY_FILE", "/k/e.key")],
            dir(".keyshift"),
            Some("/k/e.key"),
        ),
        (
            "master_key_file beats env",
            &[("master_key_file", "/k/c.key")],
            &[("KEYSHIFT_MASTER_KEY_FILE", "/k/e.key")],
            dir(".keyshift"),
            Some("/k/c.key"),
        ),
    ];
    for (name, config, env, store, key_file) in cases {
        let got = resolve(config, env).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert_eq!(&got.store, store, "{name}");
        assert_eq!(
            got.master_key_file.as_deref(),
            key_file.map(Path::new),
            "{name}"
        );
        let aws: Arc<dyn ExternalKeyService> = Arc::new(LazyAwsKms::new(Default::default()));
        let opts = got.open_options(&aws);
        assert!(opts.create, "{name}");
        assert_eq!(opts.master_key_file, got.master_key_file, "{name}");
        assert!(opts.master_key_wrapper.is_none(), "{name}");
    }
    let arn = resolve(&[("master_key_arn", ARN)], &[]).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(arn.master_key_arn.as_deref(), Some(ARN));
    let aws: Arc<dyn ExternalKeyService> = Arc::new(LazyAwsKms::new(Default::default()));
    let opts = arn.open_options(&aws);
    assert!(opts.master_key_wrapper.is_some() && opts.master_key_file.is_none());
}

#[test]
fn bad_store_settings_are_diagnostics_on_the_attribute() {
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
        &'a str,
        &'a str,
    );
    let cases: &[Case] = &[
        (
            "both",
            &[("store_path", "/s"), ("store_url", "sqlite:/t")],
            &[],
            "store_url",
            "not both",
        ),
        (
            "url in store_path",
            &[("store_path", "postgres://h/db")],
            &[],
            "store_path",
            "put a database URL or connection string in `store_url`",
        ),
        (
            "empty store_path",
            &[("store_path", " ")],
            &[],
            "store_path",
            "directory of the embedded store",
        ),
        (
            "empty store_url",
            &[("store_url", "")],
            &[],
            "store_url",
            "store_url: invalid store: the store location is empty",
        ),
        (
            "unknown scheme",
            &[("store_url", "mysql://u:hunter2@h/db")],
            &[],
            "store_url",
            "unknown store scheme `mysql:`",
        ),
        (
            "bad env",
            &[],
            &[("KEYSHIFT_STORE", "redis://u:hunter2@h")],
            "store_url",
            "KEYSHIFT_STORE: invalid store: redis://u:***@h names an unknown store scheme `redis:`",
        ),
        (
            "one-slash url",
            &[("store_url", "postgres:/u:hunter2@h/db")],
            &[],
            "store_url",
            "postgres:/u:***@h/db is not a valid PostgreSQL URL",
        ),
        (
            "misspelt connection parameter",
            &[("store_url", "hots=h password=hunter2 dbname=x")],
            &[],
            "store_url",
            "parameter 1 (`hots`) of the connection string",
        ),
        (
            "connection string in store_path",
            &[("store_path", "host=h dbname=x")],
            &[],
            "store_path",
            "put a database URL or connection string in `store_url`",
        ),
        (
            "bare sqlite",
            &[("store_url", "sqlite:")],
            &[],
            "store_url",
            "`sqlite:` needs a directory path",
        ),
        (
            "empty master_key_file",
            &[("master_key_file", "")],
            &[],
            "master_key_file",
            "must name a file",
        ),
        (
            "both master keys",
            &[("master_key_file", "/k"), ("master_key_arn", ARN)],
            &[],
            "master_key_arn",
            "not both",
        ),
        (
            "both master keys via env",
            &[("master_key_arn", ARN)],
            &[("KEYSHIFT_MASTER_KEY_FILE", "/k")],
            "master_key_arn",
            "not both",
        ),
        (
            "bad arn",
            &[("master_key_arn", "alias/x")],
            &[],
            "master_key_arn",
            "ARN",
        ),
    ];
    for (name, config, env, attr, want) in cases {
        let diags = resolve(config, env)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(diags.len(), 1, "{name}: {diags:?}");
        let d = &diags[0];
        assert_eq!(d.path, Some(AttrPath::attr(attr)), "{name}");
        assert!(d.detail.contains(want), "{name}: {}", d.detail);
        assert!(!d.detail.contains("hunter2"), "{name}: {}", d.detail);
    }
}

#[test]
fn open_errors_name_the_attribute_and_hide_the_password() {
    let url = "postgres://ks:hunter2@db.internal:5432/ks";
    let pg = resolve(&[("store_url", url), ("master_key_file", "/k/m.key")], &[])
        .unwrap_or_else(|d| panic!("{d:?}"));
    let mismatch = StoreError::MasterKeyMismatch {
        dir: pg.store.to_string(),
        path: "/k/m.key".into(),
    };
    let raw = cfg(&[("store_url", url)]);
    let d = open_diag(&pg, &raw, mismatch);
    assert_eq!(d.path, Some(AttrPath::attr("master_key_file")));
    assert!(
        d.detail
            .contains("does not open the key store at postgres://ks:***@db.internal:5432/ks"),
        "{}",
        d.detail
    );

    let leaky = StoreError::database_source(
        format!("cannot connect to {url}"),
        std::io::Error::other(format!("refused by {url}")),
    );
    let d = open_diag(&pg, &raw, leaky);
    assert_eq!(d.path, Some(AttrPath::attr("store_url")));
    assert!(!d.detail.contains("hunter2"), "{}", d.detail);
    assert!(
        d.detail.contains("postgres://ks:***@db.internal"),
        "{}",
        d.detail
    );

    let local = resolve(&[], &[]).unwrap_or_else(|d| panic!("{d:?}"));
    let d = open_diag(&local, &cfg(&[]), StoreError::Busy("locked".into()));
    assert_eq!(d.path, Some(AttrPath::attr("store_path")));
    assert!(
        d.detail
            .ends_with("(store at .keyshift). Check `store_path` (or KEYSHIFT_STORE)."),
        "{}",
        d.detail
    );
    assert!(format!("{pg:?}").contains("ks:***@"), "Debug redacts too");
    assert!(!format!("{pg:?}").contains("hunter2"));
}

#[test]
fn legacy_support_reads_booleans_like_the_cli() {
    let cases = [
        ("1", Some(true)),
        ("true", Some(true)),
        ("TRUE", Some(true)),
        ("0", Some(false)),
        ("false", Some(false)),
        ("yes", None),
    ];
    for (value, want) in cases {
        let got = resolve(&[], &[("KEYSHIFT_LEGACY_SUPPORT", value)]);
        match (got, want) {
            (Ok(c), Some(w)) => assert_eq!(c.legacy_support, w, "{value}"),
            (Err(d), None) => {
                assert_eq!(d[0].path, Some(AttrPath::attr("legacy_support")), "{value}");
                assert!(
                    d[0].detail.contains("true, false, 1 or 0"),
                    "{}",
                    d[0].detail
                );
            }
            (got, want) => panic!("{value}: {:?} vs {want:?}", got.map(|c| c.legacy_support)),
        }
    }
}
