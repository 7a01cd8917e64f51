//! `keyshift break-glass serve` with real mutual TLS: a client with a
//! certificate of the configured CA breaks and repairs glass; no client
//! certificate and a certificate of another CA are refused in the
//! handshake; malformed and oversized requests get 4xx; SIGTERM stops it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, KeySpec, KeyUsage};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        Ca {
            issuer: CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// A leaf certificate (DER) and its key (PKCS#8 DER).
    fn leaf(&self, names: &[&str]) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.der().to_vec(), key.serialize_der())
    }
}

fn pem(tag: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {tag}-----\n{}\n-----END {tag}-----\n",
        lines.join("\n")
    )
}

/// One HTTPS request; `Err` when the TLS handshake or the exchange fails.
fn request(
    port: u16,
    ca: &[u8],
    client: Option<&(Vec<u8>, Vec<u8>)>,
    raw: &[u8],
) -> Result<(u16, serde_json::Value), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.to_vec())).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((c, k)) => b
            .with_client_auth_cert(
                vec![CertificateDer::from(c.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(k.clone())),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(raw).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if !out.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response: {text:?}"))?;
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Ok((status, serde_json::from_str(body).unwrap()))
}

/// The server process, killed if the test ends early (a failed
/// assertion), so that it never outlives the test holding its output open.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn mutual_tls_break_and_repair_glass() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let kms = Kms::open(&store, "test").unwrap();
    let key = support::new_key(
        &kms,
        Container::Shared,
        KeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
    )
    .id;
    drop(kms);
    let ca = Ca::new("change-management CA");
    let (server_cert, server_key) = ca.leaf(&["localhost"]);
    let client = ca.leaf(&["servicenow"]);
    let foreign = Ca::new("someone else").leaf(&["intruder"]);
    let ca_der = ca.issuer.der().to_vec();
    let args = [
        "--store".to_string(),
        store.display().to_string(),
        "break-glass".into(),
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--tls-cert".into(),
        write(dir.path(), "server.pem", &pem("CERTIFICATE", &server_cert)),
        "--tls-key".into(),
        write(dir.path(), "server.key", &pem("PRIVATE KEY", &server_key)),
        "--client-ca".into(),
        write(dir.path(), "ca.pem", &pem("CERTIFICATE", &ca_der)),
    ];
    let mut child = Server(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("keyshift"))
            .args(&args)
            .env_remove("KEYSHIFT_STORE")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{line:?}"));

    let grant = format!(
        r#"{{"change_request":"CHG0030001","principal":"oncall","key_ids":["{key}"],"permissions":["decrypt"],"ttl":"1h","credential_key_id":"{key}"}}"#
    );
    let (status, body) = request(
        port,
        &ca_der,
        Some(&client),
        &post("/v1/break-glass", &grant),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["status"], "active");
    assert_eq!(
        body["credential"],
        format!("keyshift break-glass credential {id}")
    );
    assert!(
        !body.to_string().contains("kbg1."),
        "no credential in the response"
    );

    let day = grant
        .replace("CHG0030001", "CHG0030009")
        .replace(r#""1h""#, r#""1d""#);
    let (status, body) =
        request(port, &ca_der, Some(&client), &post("/v1/break-glass", &day)).unwrap();
    assert_eq!(status, 201, "a ttl of 1d: {body}");

    let big = format!(
        "POST /v1/break-glass HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    let cases: &[(&str, Vec<u8>, u16, &str)] = &[
        (
            "again",
            post("/v1/break-glass", &grant),
            409,
            "breaking glass again needs a new change request",
        ),
        (
            "principal forging an audit row",
            post(
                "/v1/break-glass",
                &grant.replace(
                    r#""oncall""#,
                    r#""oncall\n2026-12-01T00:00:00Z\tbreak_glass.repair""#,
                ),
            ),
            400,
            "invalid principal: contains the control character U+000A",
        ),
        (
            "principal with an escape sequence",
            post(
                "/v1/break-glass",
                &grant.replace(r#""oncall""#, r#""\u001b[2Joncall""#),
            ),
            400,
            "invalid principal",
        ),
        (
            "malformed",
            post("/v1/break-glass", "{not json"),
            400,
            "the body is not JSON",
        ),
        (
            "not an object",
            post("/v1/break-glass", "[1]"),
            400,
            "must be a JSON object",
        ),
        (
            "bad field type",
            post("/v1/break-glass", r#"{"permissions":"decrypt"}"#),
            400,
            "permissions must be a list of strings",
        ),
        (
            "bad change request",
            post("/v1/break-glass", &grant.replace("CHG0030001", "CHG1")),
            400,
            "invalid change_request",
        ),
        (
            "oversized",
            big.into_bytes(),
            413,
            "request body exceeds 65536 bytes",
        ),
        (
            "unknown path",
            post("/v1/other", "{}"),
            404,
            "no endpoint /v1/other",
        ),
        (
            "wrong method",
            b"GET /v1/break-glass HTTP/1.1\r\n\r\n".to_vec(),
            405,
            "takes POST",
        ),
        (
            "no length",
            b"POST /v1/break-glass HTTP/1.1\r\n\r\n".to_vec(),
            411,
            "Content-Length",
        ),
        (
            "repair both",
            post(
                "/v1/repair-glass",
                r#"{"grant_id":"x","change_request":"CHG0030001"}"#,
            ),
            400,
            "exactly one of",
        ),
        (
            "repair unknown",
            post("/v1/repair-glass", r#"{"change_request":"CHG0039999"}"#),
            404,
            "no break-glass grant",
        ),
    ];
    for (name, raw, want, msg) in cases {
        let (status, body) =
            request(port, &ca_der, Some(&client), raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(status, *want, "{name}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(msg),
            "{name}: {body}"
        );
    }
    for (name, cert) in [
        ("no client certificate", None),
        ("foreign certificate", Some(&foreign)),
    ] {
        let r = request(
            port,
            &ca_der,
            cert,
            &post("/v1/repair-glass", &format!(r#"{{"grant_id":"{id}"}}"#)),
        );
        assert!(r.is_err(), "{name}: {r:?}");
    }
    let (status, body) = request(
        port,
        &ca_der,
        Some(&client),
        &post("/v1/repair-glass", r#"{"change_request":"CHG0030001"}"#),
    )
    .unwrap();
    assert_eq!(
        (status, body["repaired"][0].as_str()),
        (200, Some(id.as_str())),
        "{body}"
    );

    std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");
    assert!(rest.contains("stopped"), "{rest:?}");
    let o = support::keyshift(&store, &["break-glass", "list", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = doc["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == id.as_str())
        .unwrap();
    assert_eq!(first["status"], "revoked");
}
