//! The real provider binary: magic cookie, protocol negotiation, handshake
//! line, AutoMTLS with a Terraform-style P-521 CA client certificate,
//! rejection of a foreign client certificate, and prompt exit on
//! `GRPCController.Shutdown`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use keyshift_provider::plugin::MAGIC_COOKIE_VALUE;
use keyshift_provider::protocol::proto::{plugin as ctl, tfplugin5 as pb};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-keyshift");

/// A client identity like Terraform's: self-signed P-521 CA certificate.
struct ClientId {
    pem: String,
    der: CertificateDer<'static>,
    key: Vec<u8>,
}

fn terraform_like_client_cert() -> ClientId {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).unwrap();
    ClientId {
        pem: cert.pem(),
        der: cert.der().clone(),
        key: key.serialize_der(),
    }
}

fn base_command() -> Command {
    let mut cmd = Command::new(BIN);
    for k in [
        "TF_PLUGIN_MAGIC_COOKIE",
        "PLUGIN_PROTOCOL_VERSIONS",
        "PLUGIN_CLIENT_CERT",
        "TF_LOG",
    ] {
        cmd.env_remove(k);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Kills the child on drop so a failing test leaves no process behind.
struct Plugin(Child);

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<(std::process::ExitStatus, Duration)> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status, start.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn without_cookie_exits_1_with_a_friendly_message() {
    let mut child = base_command().spawn().unwrap();
    let (status, _) = wait_exit(&mut child, Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(err.contains("plugin for Terraform"), "stderr: {err}");
    assert!(out.is_empty(), "nothing on stdout, got {out:?}");
}

#[test]
fn protocol_6_only_is_refused() {
    let mut child = base_command()
        .env("TF_PLUGIN_MAGIC_COOKIE", MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .spawn()
        .unwrap();
    let (status, _) = wait_exit(&mut child, Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("protocol 5"), "stderr: {err}");
}

/// A local plaintext port that forwards each connection over mutual TLS
/// (identity `id`) to the plugin, so tonic's plaintext client can talk to it.
async fn tls_proxy(plugin: String, server_cert: Vec<u8>, id: &ClientId) -> String {
    let connector = TlsConnector::from(client_config(server_cert, id));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let connector = connector.clone();
            let plugin = plugin.clone();
            tokio::spawn(async move {
                let tcp = TcpStream::connect(&plugin).await.unwrap();
                let name = ServerName::try_from("localhost").unwrap();
                if let Ok(mut tls) = connector.connect(name, tcp).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut tls).await;
                }
            });
        }
    });
    addr
}

fn client_config(server_cert: Vec<u8>, id: &ClientId) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(server_cert)).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key.clone()));
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![id.der.clone()], key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

async fn channel(addr: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(10))
        .connect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automtls_handshake_schema_wrong_cert_and_shutdown() {
    let a = terraform_like_client_cert();
    let b = terraform_like_client_cert();
    let mut plugin = Plugin(
        base_command()
            .env("TF_PLUGIN_MAGIC_COOKIE", MAGIC_COOKIE_VALUE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5")
            .env("PLUGIN_CLIENT_CERT", &a.pem)
            .env("TF_LOG", "DEBUG")
            .spawn()
            .unwrap(),
    );

    // The handshake line.
    let stdout = plugin.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let line = tokio::time::timeout(Duration::from_secs(20), line)
        .await
        .unwrap()
        .unwrap();
    let fields: Vec<&str> = line.trim_end_matches('\n').split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line {line:?}");
    assert_eq!(&fields[..3], ["1", "5", "tcp"]);
    assert_eq!(fields[4], "grpc");
    let (host, port) = fields[3].rsplit_once(':').unwrap();
    assert_eq!(host, "127.0.0.1");
    assert!(port.parse::<u16>().unwrap() > 0);
    assert!(!fields[5].ends_with('='), "base64 must be unpadded");
    let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(fields[5])
        .unwrap();
    assert_eq!(server_cert[0], 0x30, "server certificate is DER");
    let plugin_addr = fields[3].to_string();

    // Terraform's certificate: GetSchema works.
    let good = tls_proxy(plugin_addr.clone(), server_cert.clone(), &a).await;
    let mut client = pb::provider_client::ProviderClient::new(channel(&good).await.unwrap());
    let schema = client
        .get_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    let attrs = schema.provider.unwrap().block.unwrap().attributes;
    assert!(
        attrs
            .iter()
            .any(|a| a.name == "store_path" && !a.description.is_empty()),
        "provider schema has store_path: {attrs:?}"
    );
    let caps = schema.server_capabilities.unwrap();
    assert!(caps.plan_destroy);

    // Ctrl-C goes to the whole process group: Terraform handles it (and
    // sends Stop); the plugin must survive SIGINT.
    let pid = plugin.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        plugin.0.try_wait().unwrap().is_none(),
        "plugin died on SIGINT"
    );
    client.stop(pb::stop::Request {}).await.unwrap();

    // Another certificate: TLS or the RPC fails.
    let tcp = TcpStream::connect(&plugin_addr).await.unwrap();
    let connector = TlsConnector::from(client_config(server_cert.clone(), &b));
    let name = ServerName::try_from("localhost").unwrap();
    if let Ok(mut tls) = connector.connect(name, tcp).await {
        // TLS 1.3: the server judges the client certificate after the client
        // finished; it must answer with an alert, never with HTTP/2 frames.
        let _ = tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Err(_)) | Ok(Ok(0))),
            "foreign client certificate must be refused, got {read:?}"
        );
    }
    let bad = tls_proxy(plugin_addr.clone(), server_cert.clone(), &b).await;
    let rpc = async {
        let mut c = pb::provider_client::ProviderClient::new(channel(&bad).await?);
        c.get_schema(pb::get_provider_schema::Request {})
            .await
            .map_err(|s| s.to_string())?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(10), rpc)
            .await
            .map_or(true, |r| r.is_err()),
        "GetSchema with a foreign certificate must fail"
    );

    // Shutdown: the process exits promptly and gracefully.
    let mut ctl_client =
        ctl::grpc_controller_client::GrpcControllerClient::new(channel(&good).await.unwrap());
    ctl_client.shutdown(ctl::Empty {}).await.unwrap();
    drop(ctl_client);
    drop(client);
    let (status, took) =
        wait_exit(&mut plugin.0, Duration::from_secs(5)).expect("exits after Shutdown");
    assert!(status.success(), "exit status {status:?}");
    let mut err = String::new();
    plugin
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        took < Duration::from_secs(2) && !err.contains("forced exit"),
        "graceful exit took {took:?}; stderr:\n{err}"
    );
    assert!(
        err.contains("rejected a TLS client certificate"),
        "stderr:\n{err}"
    );
    eprintln!("plugin exited {took:?} after Shutdown");
}
