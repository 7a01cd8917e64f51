//! A store → store move of an externally wrapped (EKMS) container against a
//! local moto server (`scripts/setup-moto.sh`): an AWS key that is not
//! `ACTIVE` stops the run before anything moves (exit 2, the target is not
//! created); once it is enabled again the container travels with its EKMS
//! configuration, its new root key wrapped by the same AWS key, and old
//! ciphertexts decrypt against the target. `--all` takes every EKMS
//! configuration, also those of an instance without keys and of the shared
//! KMS (whose target container exists already).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/support/moto.rs"]
mod moto;

use assert_cmd::Command;
use keyshift_core::aws::AwsKms;
use keyshift_core::engine::Kms;
use keyshift_core::engine::ekms_wrapper::ExternalKeyService;
use keyshift_core::engine::kms_ekms::EkmsRequest;
use keyshift_core::store::{
    Container, EkmsArchitecture, InstanceType, KeySpec, KeyUsage, NewInstance, NewKey,
    WrappingStrategy, read_with,
};
use moto::Moto;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

fn keyshift(m: &Moto, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::cargo_bin("keyshift").unwrap();
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("KEYSHIFT_") || n.starts_with("AWS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/keyshift-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/keyshift-test-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KEYSHIFT_AWS_REGION", moto::REGION)
        .env("KEYSHIFT_AWS_ENDPOINT", m.endpoint())
        .args(args)
        .write_stdin(stdin.to_vec())
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn migrate(m: &Moto, a: &Path, b: &Path) -> Output {
    keyshift(
        m,
        &[
            "migrate",
            "--from-store",
            a.to_str().unwrap(),
            "--to-store",
            b.to_str().unwrap(),
            "--all",
        ],
        b"",
    )
}

#[test]
fn an_ekms_container_moves_only_while_its_aws_key_is_active() {
    let m = Moto::start();
    let aws_key = m.create_key(false);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let aws: Arc<dyn ExternalKeyService> = Arc::new(AwsKms::connect(&m.settings()).unwrap());
    let kms = Kms::open(&a, "test")
        .unwrap()
        .with_external_keys(Arc::clone(&aws));
    let inst = kms
        .create_instance(NewInstance {
            name: "byok".into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: 10,
            secret_quota: 10,
        })
        .unwrap();
    let c = Container::Instance(inst.id.clone());
    let req = EkmsRequest {
        key_arn: aws_key.arn.clone(),
        architecture: EkmsArchitecture::Current,
        wrapping: WrappingStrategy::External,
        allow_revert_to_internal: false,
    };
    kms.activate_ekms(&c, &req, None, &*aws).unwrap();
    let key = kms
        .create_key(NewKey::new(
            c.clone(),
            KeySpec::Aes256,
            KeyUsage::EncryptDecrypt,
        ))
        .unwrap()
        .id;
    let ct = kms.encrypt(&key, b"through aws").unwrap();
    drop(kms);

    m.disable(&aws_key.key_id);
    let o = migrate(&m, &a, &b);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains(&format!(
            "the EKMS key {} of {} in the source store is DISABLED",
            aws_key.arn, inst.id
        )),
        "{}",
        text(&o.stderr)
    );
    assert!(
        !b.exists(),
        "nothing may be created before the health check passes"
    );

    m.enable(&aws_key.key_id);
    let o = migrate(&m, &a, &b);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let kms_b = Kms::open(&b, "test")
        .unwrap()
        .with_external_keys(Arc::clone(&aws));
    let rec = read_with(kms_b.store(), |r| r.container(&c))
        .unwrap()
        .unwrap();
    assert_eq!(rec.wrapping, WrappingStrategy::External);
    assert_eq!(rec.external_key_arn.as_deref(), Some(aws_key.arn.as_str()));
    assert_eq!(
        kms_b.ekms_config(&c).unwrap().unwrap().config.key_arn,
        aws_key.arn
    );
    let b64 = keyshift_b64(&ct);
    let o = keyshift(
        &m,
        &["--store", b.to_str().unwrap(), "decrypt"],
        b64.as_bytes(),
    );
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "through aws".to_string()),
        "{}",
        text(&o.stderr)
    );
}

/// The CLI's ciphertext encoding (standard base64).
fn keyshift_b64(ct: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(ct)
}

/// Activates EKMS (external wrapping by `arn`) on `c`.
fn activate(kms: &Kms, c: &Container, arn: &str, aws: &dyn ExternalKeyService) {
    let req = EkmsRequest {
        key_arn: arn.to_string(),
        architecture: EkmsArchitecture::Current,
        wrapping: WrappingStrategy::External,
        allow_revert_to_internal: false,
    };
    kms.activate_ekms(c, &req, None, aws).unwrap();
}

#[test]
fn all_takes_every_ekms_configuration() {
    let m = Moto::start();
    let (k1, k2, k3) = (
        m.create_key(false),
        m.create_key(false),
        m.create_key(false),
    );
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let aws: Arc<dyn ExternalKeyService> = Arc::new(AwsKms::connect(&m.settings()).unwrap());
    let kms = Kms::open(&a, "test")
        .unwrap()
        .with_external_keys(Arc::clone(&aws));
    let new_instance = |name: &str| {
        let i = kms
            .create_instance(NewInstance {
                name: name.into(),
                instance_type: InstanceType::Software,
                region: "local-1".into(),
                key_quota: 10,
                secret_quota: 10,
            })
            .unwrap();
        Container::Instance(i.id)
    };
    let (full, empty) = (new_instance("byok"), new_instance("byok-empty"));
    activate(&kms, &full, &k1.arn, &*aws);
    activate(&kms, &empty, &k2.arn, &*aws);
    activate(&kms, &Container::Shared, &k3.arn, &*aws);
    let mut cts = Vec::new();
    for c in [&full, &Container::Shared] {
        let key = kms
            .create_key(NewKey::new(
                c.clone(),
                KeySpec::Aes256,
                KeyUsage::EncryptDecrypt,
            ))
            .unwrap()
            .id;
        cts.push(kms.encrypt(&key, b"through aws").unwrap());
    }
    let configs = |kms: &Kms| -> Vec<String> {
        let mut out: Vec<String> = kms
            .list_ekms_configs()
            .unwrap()
            .into_iter()
            .map(|i| {
                let c = i.config;
                format!(
                    "{} {} {:?} {} {:?}",
                    c.container, c.key_arn, c.architecture, c.allow_revert_to_internal, i.wrapping
                )
            })
            .collect();
        out.sort();
        out
    };
    let want = configs(&kms);
    assert_eq!(want.len(), 3);
    drop(kms);

    let mut args = vec![
        "migrate",
        "--from-store",
        a.to_str().unwrap(),
        "--to-store",
        b.to_str().unwrap(),
        "--all",
    ];
    let dry = [args.clone(), vec!["--dry-run"]].concat();
    let o = keyshift(&m, &dry, b"");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains(
            "dry run: selected: 2 instance(s) (1 without keys), 3 EKMS configuration(s), 0 alias(es), 2 key(s), 0 secret(s), 0 break-glass grant(s)"
        ),
        "{}",
        text(&o.stdout)
    );
    args.push("--move");
    let o = keyshift(&m, &args, b"");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let kms_b = Kms::open(&b, "test")
        .unwrap()
        .with_external_keys(Arc::clone(&aws));
    assert_eq!(configs(&kms_b), want, "every EKMS configuration is in B");
    for ct in &cts {
        assert_eq!(kms_b.decrypt(ct).unwrap(), b"through aws");
    }
}
