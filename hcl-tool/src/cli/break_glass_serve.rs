//! `keyshift break-glass serve`: the break-glass engine behind an HTTPS
//! endpoint that requires a client certificate issued by `--client-ca`
//! (mutual TLS: a connection without one, or with a certificate of another
//! CA, fails in the TLS handshake), for change-management flows.
//!
//! - `POST /v1/break-glass` — JSON `{change_request, principal, key_ids?,
//!   instance_id?, permissions, ttl, reason?, credential_key_id}` →
//!   `201 {id, status, expires_at, credential_secret_id, credential}` where
//!   `credential` says how to fetch it (never the credential itself).
//! - `POST /v1/repair-glass` — JSON `{grant_id}` or `{change_request}` →
//!   `200 {repaired: [ids]}`.
//!
//! One request per connection; headers at most 16 KiB, bodies at most
//! 64 KiB (`413` beyond); errors are `{"error": …}` with a 4xx/5xx status:
//! `400` bad input (e.g. a principal with control characters), `403` a
//! refused grant, `404` unknown, `409` a conflict with the store's state
//! (a change request that already broke glass for that principal, a
//! migration in progress), `503` store busy or unreachable.
//! SIGTERM (or SIGINT) stops accepting and exits 0.

use crate::cli::store::{self, AwsArgs, open_existing};
use crate::cli::{CliError, Outcome};
use clap::Args;
use keyshift_core::engine::Kms;
use keyshift_core::engine::break_glass::NewGrant;
use keyshift_core::store::StoreError;
use serde_json::{Value, json};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX_HEADER: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `keyshift break-glass serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (e.g. 127.0.0.1:8443; port 0 picks one, printed on start).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// The server certificate chain (PEM).
    #[arg(long, value_name = "PEM")]
    pub tls_cert: PathBuf,
    /// The server private key (PEM, PKCS#8 / SEC1 / PKCS#1).
    #[arg(long, value_name = "PEM")]
    pub tls_key: PathBuf,
    /// CA certificate(s) (PEM) whose client certificates are accepted.
    #[arg(long, value_name = "PEM")]
    pub client_ca: PathBuf,
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| usage(format!("{what} {}: {e}", path.display())))
}

fn tls_config(args: &ServeArgs) -> Result<Arc<rustls::ServerConfig>, CliError> {
    use rustls::pki_types::CertificateDer;
    let certs = |path: &Path, what: &str| -> Result<Vec<CertificateDer<'static>>, CliError> {
        let pem = read_pem(path, what)?;
        let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| usage(format!("{what} {}: not PEM: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(usage(format!(
                "{what} {} holds no certificate",
                path.display()
            )));
        }
        Ok(certs)
    };
    let chain = certs(&args.tls_cert, "--tls-cert")?;
    let key_pem = read_pem(&args.tls_key, "--tls-key")?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| {
            usage(format!(
                "--tls-key {}: not PEM: {e}",
                args.tls_key.display()
            ))
        })?
        .ok_or_else(|| {
            usage(format!(
                "--tls-key {} holds no private key",
                args.tls_key.display()
            ))
        })?;
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(&args.client_ca, "--client-ca")? {
        roots
            .add(c)
            .map_err(|e| usage(format!("--client-ca {}: {e}", args.client_ca.display())))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|e| usage(format!("--client-ca {}: {e}", args.client_ca.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| usage(format!("TLS setup: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| usage(format!("--tls-cert/--tls-key: {e}")))?;
    Ok(Arc::new(config))
}

/// Serves until SIGTERM or SIGINT.
pub fn run(
    args: &ServeArgs,
    store_flag: Option<&Path>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let config = tls_config(args)?;
    let kms = open_existing(
        &store::store_location(store_flag)?,
        &AwsArgs::default().service(),
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(kms, config, args.listen, out))
}

async fn serve(
    kms: Kms,
    config: Arc<rustls::ServerConfig>,
    addr: SocketAddr,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| usage(format!("--listen {addr}: {e}")))?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    writeln!(out, "listening on https://{}", listener.local_addr()?)?;
    out.flush()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let kms = Arc::new(kms);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            accepted = listener.accept() => {
                let Ok((tcp, _peer)) = accepted else { continue };
                let (acceptor, kms) = (acceptor.clone(), Arc::clone(&kms));
                tokio::spawn(async move {
                    let Ok(Ok(tls)) = tokio::time::timeout(IO_TIMEOUT, acceptor.accept(tcp)).await else {
                        return; // refused at the TLS layer (no or foreign client certificate)
                    };
                    let _ = tokio::time::timeout(IO_TIMEOUT, connection(tls, kms)).await;
                });
            }
        }
    }
    writeln!(out, "stopped")?;
    out.flush()?;
    Ok(Outcome::Clean)
}

async fn connection<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    kms: Arc<Kms>,
) -> std::io::Result<()> {
    let (status, body) = match read_request(&mut s).await? {
        Ok((method, path, body)) => route(&method, &path, &body, kms).await,
        Err(reply) => reply,
    };
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(text.as_bytes()).await?;
    s.shutdown().await
}

type Reply = (u16, Value);

fn error(status: u16, msg: impl Into<String>) -> Reply {
    (status, json!({"error": msg.into()}))
}

/// Reads one request: `Ok(Ok((method, path, body)))`, or a reply for a
/// malformed or oversized one.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
) -> std::io::Result<Result<(String, String, Vec<u8>), Reply>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEADER {
            return Ok(Err(error(
                413,
                format!("request headers exceed {MAX_HEADER} bytes"),
            )));
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Err(error(400, "incomplete request")));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return Ok(Err(error(400, "request headers are not UTF-8")));
    };
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                match v.trim().parse::<usize>() {
                    Ok(n) => length = Some(n),
                    Err(_) => return Ok(Err(error(400, "Content-Length is not a number"))),
                }
            }
        }
    }
    let length = match (method.as_str(), length) {
        ("POST", None) => return Ok(Err(error(411, "POST needs a Content-Length"))),
        (_, n) => n.unwrap_or(0),
    };
    if length > MAX_BODY {
        return Ok(Err(error(
            413,
            format!("request body exceeds {MAX_BODY} bytes"),
        )));
    }
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Err(error(400, "request body shorter than Content-Length")));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Ok((method, path, body)))
}

fn store_reply(e: &StoreError) -> Reply {
    let status = match e {
        StoreError::Invalid { .. } => 400,
        StoreError::GrantRefused { .. } => 403,
        StoreError::NotFound { .. } => 404,
        StoreError::Moved(_) => 410,
        StoreError::AlreadyExists { .. }
        | StoreError::Conflict(_)
        | StoreError::MigrationInProgress { .. } => 409,
        StoreError::Busy(_) | StoreError::Unreachable(_) => 503,
        _ => 500,
    };
    error(status, e.to_string())
}

async fn route(method: &str, path: &str, body: &[u8], kms: Arc<Kms>) -> Reply {
    let known = ["/v1/break-glass", "/v1/repair-glass"];
    if !known.contains(&path) {
        return error(
            404,
            format!("no endpoint {path}; use POST /v1/break-glass or POST /v1/repair-glass"),
        );
    }
    if method != "POST" {
        return error(405, format!("{path} takes POST"));
    }
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return error(400, "the body must be a JSON object"),
        Err(e) => return error(400, format!("the body is not JSON: {e}")),
    };
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        if path == "/v1/break-glass" {
            break_glass(&kms, &doc)
        } else {
            repair_glass(&kms, &doc)
        }
    })
    .await
    .unwrap_or_else(|_| error(500, "the request handler failed"))
}

fn text(doc: &Value, field: &str) -> Result<String, Reply> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(error(400, format!("{field} must be a string"))),
    }
}

fn strings(doc: &Value, field: &str) -> Result<Vec<String>, Reply> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(xs)) => xs
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| error(400, format!("{field} must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(error(400, format!("{field} must be a list of strings"))),
    }
}

fn break_glass(kms: &Kms, doc: &Value) -> Reply {
    let new = (|| {
        let instance = text(doc, "instance_id")?;
        Ok::<_, Reply>(NewGrant {
            change_request: text(doc, "change_request")?,
            principal: text(doc, "principal")?,
            key_ids: strings(doc, "key_ids")?,
            instance_id: (!instance.is_empty()).then_some(instance),
            permissions: strings(doc, "permissions")?,
            ttl: text(doc, "ttl")?,
            reason: text(doc, "reason")?,
            credential_key_id: text(doc, "credential_key_id")?,
        })
    })();
    let new = match new {
        Ok(n) => n,
        Err(r) => return r,
    };
    match kms.break_glass(&new) {
        Ok(g) => (
            201,
            json!({
                "id": g.record.id,
                "change_request": g.record.change_request,
                "status": g.status.as_str(),
                "expires_at": g.record.expires_at,
                "credential_secret_id": g.record.credential_secret_id,
                "credential": format!("keyshift break-glass credential {}", g.record.id),
            }),
        ),
        Err(e) => store_reply(&e),
    }
}

fn repair_glass(kms: &Kms, doc: &Value) -> Reply {
    let (id, cr) = match (text(doc, "grant_id"), text(doc, "change_request")) {
        (Ok(i), Ok(c)) => (i, c),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let ids: Vec<String> = match (id.is_empty(), cr.is_empty()) {
        (false, true) => vec![id],
        (true, false) => match kms.list_grants(false) {
            Ok(gs) => gs
                .into_iter()
                .filter(|g| g.record.change_request == cr)
                .map(|g| g.record.id)
                .collect(),
            Err(e) => return store_reply(&e),
        },
        _ => return error(400, "give exactly one of grant_id and change_request"),
    };
    if ids.is_empty() {
        return error(404, format!("no break-glass grant for change request {cr}"));
    }
    for id in &ids {
        if let Err(e) = kms.repair_glass(id) {
            return store_reply(&e);
        }
    }
    (200, json!({"repaired": ids}))
}
