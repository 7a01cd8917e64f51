//! `keyshift status`, `encrypt`/`decrypt`, `sign`/`verify` and `preflight`
//! on an externally wrapped (EKMS) container, against a local moto server
//! (`scripts/setup-moto.sh`): the AWS key is disabled and re-enabled under
//! the CLI's feet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/support/moto.rs"]
mod moto;

use assert_cmd::Command;
use keyshift_core::aws::AwsKms;
use keyshift_core::engine::Kms;
use keyshift_core::engine::ekms_wrapper::ExternalKeyService;
use keyshift_core::engine::kms_ekms::EkmsRequest;
use keyshift_core::store::{
    Container, EkmsArchitecture, InstanceType, Key, KeySpec, KeyUsage, NewInstance, NewKey,
    WrappingStrategy,
};
use moto::Moto;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

/// Runs the binary against moto: the endpoint comes from `--aws-endpoint`
/// when `flag` is set, else from `AWS_ENDPOINT_URL_KMS` (read by the SDK).
fn keyshift(m: &Moto, store: &Path, flag: bool, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::cargo_bin("keyshift").unwrap();
    for var in [
        "KEYSHIFT_STORE",
        "KEYSHIFT_AWS_ENDPOINT",
        "KEYSHIFT_AWS_PROFILE",
        "KEYSHIFT_LEGACY_SUPPORT",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/keyshift-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/keyshift-test-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KEYSHIFT_AWS_REGION", moto::REGION);
    cmd.arg("--store").arg(store).args(args);
    if flag {
        cmd.env_remove("AWS_ENDPOINT_URL_KMS")
            .args(["--aws-endpoint", &m.endpoint()]);
    } else {
        cmd.env("AWS_ENDPOINT_URL_KMS", m.endpoint());
    }
    cmd.write_stdin(stdin.to_vec()).output().unwrap()
}

fn new_key(kms: &Kms, c: &Container, spec: KeySpec, usage: KeyUsage) -> Key {
    kms.create_key(NewKey::new(c.clone(), spec, usage)).unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn status_json(m: &Moto, store: &Path) -> (i32, Value) {
    let o = keyshift(m, store, true, &["status", "--format", "json"], b"");
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", err(&o)));
    (o.status.code().unwrap(), v)
}

#[test]
fn status_and_key_use_follow_the_external_key_state() {
    let m = Moto::start();
    let aws_key = m.create_key(false);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let aws: Arc<dyn ExternalKeyService> = Arc::new(AwsKms::connect(&m.settings()).unwrap());
    let kms = Kms::open(&store, "test")
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
    let aes = new_key(&kms, &c, KeySpec::Aes256, KeyUsage::EncryptDecrypt);
    let ec = new_key(&kms, &c, KeySpec::EcP256, KeyUsage::SignVerify);
    let plain = b"\x00external secret\x00\xff".to_vec();

    // ACTIVE: status 0; encrypt/decrypt/sign/verify work through AWS.
    let o = keyshift(&m, &store, true, &["status"], b"");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains(&inst.id) && text.contains(&aws_key.arn),
        "{text}"
    );
    assert!(
        text.contains("ACTIVE") && text.contains("Enabled"),
        "{text}"
    );
    assert!(
        text.contains("1 of 1 EKMS configuration(s) ACTIVE"),
        "{text}"
    );
    let (code, v) = status_json(&m, &store);
    assert_eq!(code, 0);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["configs"][0]["container"], inst.id.as_str());
    assert_eq!(v["configs"][0]["status"], "ACTIVE");
    assert_eq!(v["configs"][0]["wrapping_strategy"], "external");

    let o = keyshift(&m, &store, false, &["encrypt", "--key", &aes.id], &plain);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let ct = out(&o);
    let o = keyshift(&m, &store, false, &["decrypt"], ct.as_bytes());
    assert_eq!(
        (o.status.code(), &o.stdout),
        (Some(0), &plain),
        "{}",
        err(&o)
    );
    let o = keyshift(&m, &store, true, &["sign", "--key", &ec.id], b"msg");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let sig = out(&o).trim_end().to_string();
    let o = keyshift(
        &m,
        &store,
        true,
        &["verify", "--key", &ec.id, "--signature", &sig],
        b"msg",
    );
    assert_eq!(
        (o.status.code(), out(&o).as_str()),
        (Some(0), "valid\n"),
        "{}",
        err(&o)
    );

    // Disabled in AWS: status 1 with the remediation; every use fails (1)
    // naming the AWS key and its status; nothing leaks.
    m.disable(&aws_key.key_id);
    let o = keyshift(&m, &store, true, &["status"], b"");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains("DISABLED") && text.contains("Enable the key again"),
        "{text}"
    );
    let (code, v) = status_json(&m, &store);
    assert_eq!(code, 1);
    assert_eq!(v["configs"][0]["status"], "DISABLED");
    assert_eq!(v["configs"][0]["aws_key_state"], "Disabled");
    assert_eq!(v["summary"]["not_active"], 1);
    let uses: [(&[&str], &[u8]); 3] = [
        (&["encrypt", "--key", &aes.id], &plain),
        (&["decrypt"], ct.as_bytes()),
        (&["sign", "--key", &ec.id], b"msg"),
    ];
    for (args, input) in uses {
        let o = keyshift(&m, &store, false, args, input);
        let e = err(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(
            e.contains(&aws_key.arn) && e.contains("DISABLED"),
            "{args:?}: {e}"
        );
        assert!(!e.contains("external secret"), "{e}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // Preflight from the store: the live health check blocks at row 8.
    let o = keyshift(
        &m,
        &store,
        true,
        &[
            "preflight",
            "--operation",
            "clone",
            "--source",
            &inst.id,
            "--target",
            "shared",
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(out(&o).contains("blocked (row 8)"), "{}", out(&o));

    // Re-enabled: ACTIVE again, the earlier ciphertext decrypts, new ones work.
    m.enable(&aws_key.key_id);
    let (code, v) = status_json(&m, &store);
    assert_eq!(
        (code, v["configs"][0]["status"].as_str()),
        (0, Some("ACTIVE"))
    );
    let o = keyshift(&m, &store, false, &["decrypt"], ct.as_bytes());
    assert_eq!(
        (o.status.code(), &o.stdout),
        (Some(0), &plain),
        "{}",
        err(&o)
    );
    let o = keyshift(&m, &store, true, &["encrypt", "--key", &aes.id], b"again");
    let ct2 = out(&o);
    let o = keyshift(&m, &store, true, &["decrypt"], ct2.as_bytes());
    assert_eq!(
        (o.status.code(), o.stdout.as_slice()),
        (Some(0), b"again".as_slice())
    );
    let o = keyshift(
        &m,
        &store,
        true,
        &[
            "preflight",
            "--operation",
            "clone",
            "--source",
            &inst.id,
            "--target",
            "shared",
            "--format",
            "json",
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["row"].as_u64(), v["source"]["key_status"].as_str()),
        (Some(2), Some("ACTIVE"))
    );

    // An unreachable endpoint reads as UNAVAILABLE (exit 1), with the
    // connectivity remediation.
    let o = Command::cargo_bin("keyshift")
        .unwrap()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("--store")
        .arg(&store)
        .args([
            "status",
            "--format",
            "json",
            "--aws-endpoint",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["configs"][0]["status"], "UNAVAILABLE", "{v:#}");
    assert!(
        v["configs"][0]["remediation"]
            .as_str()
            .unwrap()
            .contains("credentials")
    );
    assert!(
        v["configs"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:9"),
        "{v:#}"
    );
}
