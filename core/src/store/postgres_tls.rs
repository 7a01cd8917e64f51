//! TLS to PostgreSQL with libpq's URL parameters, on rustls
//! (`tokio-postgres-rustls`, with the aws-lc-rs provider the project
//! already uses for its own TLS).
//!
//! `sslmode` means what it means to libpq users:
//!
//! - `disable`: no TLS;
//! - `allow`, `prefer` (the default): TLS when the server offers it, else
//!   plain; the certificate is not checked;
//! - `require`: TLS or no connection; the certificate is checked against
//!   the root certificates only if a root file is given (`sslrootcert`, or
//!   `~/.postgresql/root.crt` exists), as libpq does;
//! - `verify-ca`: TLS, the server certificate must chain to a root in
//!   `sslrootcert` (default `~/.postgresql/root.crt`);
//! - `verify-full`: like `verify-ca`, and the certificate must name the
//!   host connected to.
//!
//! Client certificates (`sslcert`, `sslkey`) and `sslrootcert=system` are
//! refused with a clear error rather than ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::{StoreError, StoreResult};

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Not at all (encryption only).
    None,
    /// It chains to a trusted root.
    Ca,
    /// It chains to a trusted root and names the host.
    Full,
}

/// The TLS part of a store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    /// How the certificate is checked.
    pub(crate) verify: Verify,
    /// The root certificates (PEM) to trust.
    pub(crate) root_cert: Option<PathBuf>,
}

fn invalid(message: String) -> StoreError {
    StoreError::Invalid {
        field: "store",
        message,
    }
}

/// Percent-decodes a URL query value.
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits libpq's TLS parameters off `url`: the URL for the client (its
/// `sslmode` one of `disable`, `prefer`, `require`) and the settings.
/// `home` is where `~/.postgresql/root.crt` is looked for.
pub(crate) fn split(url: &str, home: Option<&Path>) -> StoreResult<(String, TlsSettings)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = "prefer".to_string();
    let mut root_cert = None;
    let mut kept = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key {
            "sslmode" => mode = decode(value),
            "sslrootcert" => root_cert = Some(decode(value)),
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                return Err(StoreError::Unsupported(format!(
                    "`{key}` in a PostgreSQL store URL: client certificates and revocation \
                     lists are not supported; authenticate with a password or trust"
                )));
            }
            _ => kept.push(param),
        }
    }
    if root_cert.as_deref() == Some("system") {
        return Err(StoreError::Unsupported(
            "`sslrootcert=system`: name the PEM file of the server's root certificate".into(),
        ));
    }
    let default_root = home
        .map(|h| h.join(".postgresql/root.crt"))
        .filter(|p| p.is_file());
    let root_cert = root_cert.map(PathBuf::from);
    let (client_mode, verify, root_cert) = match mode.as_str() {
        "disable" => ("disable", Verify::None, None),
        "allow" | "prefer" => ("prefer", Verify::None, None),
        "require" => match root_cert.or(default_root) {
            Some(root) => ("require", Verify::Ca, Some(root)),
            None => ("require", Verify::None, None),
        },
        "verify-ca" | "verify-full" => {
            let Some(root) = root_cert.or(default_root) else {
                return Err(invalid(format!(
                    "sslmode={mode} needs the server's root certificate: add \
                     sslrootcert=/path/to/root.crt to the URL (or put it in \
                     ~/.postgresql/root.crt)"
                )));
            };
            let verify = if mode == "verify-ca" {
                Verify::Ca
            } else {
                Verify::Full
            };
            ("require", verify, Some(root))
        }
        other => {
            return Err(invalid(format!(
                "unknown sslmode `{other}` (use disable, allow, prefer, require, verify-ca or \
                 verify-full)"
            )));
        }
    };
    kept.push(match client_mode {
        "disable" => "sslmode=disable",
        "prefer" => "sslmode=prefer",
        _ => "sslmode=require",
    });
    let url = format!("{base}?{}", kept.join("&"));
    Ok((url, TlsSettings { verify, root_cert }))
}

/// The client's TLS connector for `settings`.
pub(crate) fn connector(settings: &TlsSettings) -> StoreResult<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (&settings.root_cert, settings.verify) {
        (Some(root), Verify::Ca | Verify::Full) => {
            let roots = Arc::new(load_roots(root)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| invalid(format!("root certificates {}: {e}", root.display())))?;
            if settings.verify == Verify::Full {
                webpki
            } else {
                Arc::new(AnyName(webpki))
            }
        }
        _ => Arc::new(NoCheck(provider.clone())),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Unsupported(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The certificates of a PEM file.
fn load_roots(path: &Path) -> StoreResult<RootCertStore> {
    let unreadable = |message: String| StoreError::Io {
        path: path.display().to_string(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    // Root files are small; a bound keeps a wrong path (a device) harmless.
    let mut reader = std::io::BufReader::new(std::io::Read::take(file, 4 << 20));
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut reader) {
        let cert = cert.map_err(|e| unreadable(format!("not a PEM certificate file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| unreadable(format!("unusable root certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(unreadable("holds no PEM certificate".into()));
    }
    Ok(roots)
}

/// `verify-ca`: the chain is checked, the host name is not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` / `require` without a root file: encryption only (libpq's
/// behaviour); the handshake signatures are still verified.
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[path = "postgres_tls_tests.rs"]
mod tests;
