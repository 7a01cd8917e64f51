//! A private moto server (local AWS KMS) for one test.
//!
//! Include with `#[path = "support/moto.rs"] mod moto;`. [`Moto::start`]
//! runs `moto_server` on a free 127.0.0.1 port (from `KEYSHIFT_MOTO_SERVER`,
//! or `<repo>/.venv-moto/bin/moto_server` as `scripts/setup-moto.sh`
//! installs it) and waits until it answers. The server runs under a small
//! shell guard that kills it when our end of its stdin closes, so it also
//! goes away if the test process dies without running `Drop`.
//!
//! Set-up calls use aws-sdk-kms directly, by **key id** (moto answers 500
//! to Enable/Disable/ScheduleKeyDeletion/CancelKeyDeletion by ARN).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::types::KeySpec;
use keyshift_core::aws::{AwsSettings, StaticCredentials};

/// Region every test key lives in.
pub const REGION: &str = "us-east-1";

/// A key created in moto.
#[derive(Debug, Clone)]
pub struct TestKey {
    /// Key id (UUID or `mrk-...`): use this for set-up calls.
    pub key_id: String,
    /// Full ARN: use this with `AwsKms`.
    pub arn: String,
}

/// A running moto server; killed on [`Moto::stop`] or drop.
pub struct Moto {
    child: Option<Child>,
    port: u16,
    rt: tokio::runtime::Runtime,
    client: Client,
    _dir: tempfile::TempDir,
}

const GUARD: &str = r#"server="$1"; shift
"$server" "$@" & pid=$!
read -r _ || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;

impl Moto {
    /// Starts moto and waits (at most 15 s) until it answers.
    pub fn start() -> Moto {
        let server = std::env::var_os("KEYSHIFT_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-moto/bin/moto_server")
            });
        if !server.is_file() {
            panic!(
                "moto_server not found at {}: run scripts/setup-moto.sh (make test does this)",
                server.display()
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("moto.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("sh")
            .args(["-c", GUARD, "sh"])
            .arg(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
            .build();
        let mut moto = Moto {
            child: Some(child),
            port,
            rt,
            client: Client::from_conf(conf),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !moto.answers() {
            let exited = moto
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("moto_server on port {port} did not come up ({exited:?}); log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let req = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        let mut head = [0u8; 12];
        s.write_all(req.as_bytes()).is_ok()
            && s.read_exact(&mut head).is_ok()
            && head.starts_with(b"HTTP/1.")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Settings for `AwsKms::connect` against this server, with dummy
    /// static credentials (the process environment is not touched).
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            region: Some(REGION.to_string()),
            endpoint: Some(self.endpoint()),
            profile: None,
            credentials: Some(StaticCredentials {
                access_key_id: "testing".into(),
                secret_access_key: "testing".into(),
                session_token: None,
            }),
        }
    }

    /// Creates a symmetric `ENCRYPT_DECRYPT` key; `multi_region` gives an `mrk-` key.
    pub fn create_key(&self, multi_region: bool) -> TestKey {
        self.create_key_with_spec(KeySpec::SymmetricDefault, multi_region)
    }

    /// Creates a key of any spec (e.g. `Rsa2048` to test refusals).
    pub fn create_key_with_spec(&self, spec: KeySpec, multi_region: bool) -> TestKey {
        let mut req = self
            .client
            .create_key()
            .key_spec(spec.clone())
            .multi_region(multi_region);
        if spec != KeySpec::SymmetricDefault {
            req = req.key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify);
        }
        let out = self.rt.block_on(req.send()).unwrap();
        let m = out.key_metadata().unwrap();
        TestKey {
            key_id: m.key_id().to_string(),
            arn: m.arn().unwrap().to_string(),
        }
    }

    /// `DisableKey` by key id.
    pub fn disable(&self, key_id: &str) {
        self.rt
            .block_on(self.client.disable_key().key_id(key_id).send())
            .unwrap();
    }

    /// `EnableKey` by key id.
    pub fn enable(&self, key_id: &str) {
        self.rt
            .block_on(self.client.enable_key().key_id(key_id).send())
            .unwrap();
    }

    /// `ScheduleKeyDeletion` (7 days, the minimum moto honours) by key id.
    pub fn schedule_deletion(&self, key_id: &str) {
        let req = self
            .client
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(7);
        self.rt.block_on(req.send()).unwrap();
    }

    /// `CancelKeyDeletion` by key id.
    pub fn cancel_deletion(&self, key_id: &str) {
        self.rt
            .block_on(self.client.cancel_key_deletion().key_id(key_id).send())
            .unwrap();
    }

    /// `PutKeyPolicy` (policy name `default`) by key id.
    pub fn put_policy(&self, key_id: &str, policy: &str) {
        let req = self
            .client
            .put_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .policy(policy);
        self.rt.block_on(req.send()).unwrap();
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take()); // the guard kills moto_server and exits
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
