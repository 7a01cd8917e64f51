//! Process start-up: go-plugin handshake, AutoMTLS, serving.
//!
//! [`serve`] is the whole life of the provider process:
//! 1. check `TF_PLUGIN_MAGIC_COOKIE` (run by hand: explain and exit 1);
//! 2. pick protocol 5 from `PLUGIN_PROTOCOL_VERSIONS`;
//! 3. log to stderr at the level of `TF_LOG_PROVIDER` / `TF_LOG` (default WARN);
//! 4. listen on `127.0.0.1:0`, with mutual TLS when Terraform sent
//!    `PLUGIN_CLIENT_CERT`;
//! 5. print `1|5|tcp|127.0.0.1:PORT|grpc|<server cert, base64>` on stdout;
//! 6. serve `tfplugin5.Provider`, `plugin.GRPCController` and
//!    `plugin.GRPCStdio` until `GRPCController.Shutdown`, or until the
//!    parent process (Terraform) is gone: a provider whose Terraform was
//!    killed exits instead of living on with the store open.
//!
//! `terraform-provider-keyshift --debug` instead serves without cookie or TLS
//! and prints a `TF_REATTACH_PROVIDERS` value to attach Terraform to it.

mod tls;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

use crate::framework::Provider;
use crate::protocol::{Controller, ProviderService, ShutdownSignal};
use tls::Conn;

/// The environment variable go-plugin's host sets to prove it started us.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Terraform's magic cookie value.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The plugin protocol version this provider speaks.
pub const PROTOCOL_VERSION: u32 = 5;
/// The provider's registry address (for `TF_REATTACH_PROVIDERS`).
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/keyshift/keyshift";

/// How long a graceful shutdown may take before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a client may take to complete its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the provider checks that Terraform is still its parent.
const PARENT_POLL: Duration = Duration::from_millis(250);

/// Runs the provider plugin process; returns its exit code.
pub fn serve<P: Provider>(provider: P) -> ExitCode {
    let debug = std::env::args()
        .skip(1)
        .any(|a| a == "--debug" || a == "-debug");
    if !debug {
        if let Err(msg) = check_cookie(std::env::var(MAGIC_COOKIE_KEY).ok().as_deref()) {
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
        if let Err(msg) = negotiate(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref()) {
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
    }
    init_tracing();
    let client_cert = if debug {
        None
    } else {
        std::env::var("PLUGIN_CLIENT_CERT")
            .ok()
            .filter(|c| !c.trim().is_empty())
    };
    // One runtime thread: gRPC I/O for Terraform's few concurrent calls
    // needs no more, and a multi-threaded scheduler's cross-thread wake-ups
    // cost about a fifth of the provider's CPU per resource (measured with
    // `make bench-provider`). Provider code still runs on blocking threads
    // (`protocol::server::blocking`), so a slow store or AWS call never
    // stalls the server.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("terraform-provider-keyshift: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(run(provider, client_cert, debug));
    rt.shutdown_timeout(Duration::from_millis(500));
    code
}

/// Checks the magic cookie; the error is the message for a human.
pub fn check_cookie(value: Option<&str>) -> Result<(), String> {
    if value == Some(MAGIC_COOKIE_VALUE) {
        return Ok(());
    }
    Err(
        "This binary is a plugin for Terraform (the keyshift provider, \
         keyshift/keyshift). It is not meant to be executed directly: Terraform \
         starts it. Run `terraform init` / `terraform plan` in a configuration \
         that uses the provider instead (or `--debug` to start it for \
         TF_REATTACH_PROVIDERS)."
            .to_string(),
    )
}

/// Picks protocol 5 from a `PLUGIN_PROTOCOL_VERSIONS` value such as `5,6`
/// (unset or empty: 5, as go-plugin does).
pub fn negotiate(versions: Option<&str>) -> Result<u32, String> {
    let Some(list) = versions.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(PROTOCOL_VERSION);
    };
    if list
        .split(',')
        .any(|v| v.trim() == PROTOCOL_VERSION.to_string())
    {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(format!(
            "terraform-provider-keyshift speaks plugin protocol {PROTOCOL_VERSION} only, but \
             Terraform offered versions {list:?}. Use Terraform 0.12 or later (1.x recommended)."
        ))
    }
}

/// The go-plugin handshake line (without the newline).
pub fn handshake_line(port: u16, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("1|{PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc|{cert}")
}

/// The log filter for a `TF_LOG`-style level name (default, and unknown: WARN).
pub fn log_filter(level: Option<&str>) -> String {
    let ours = match level.map(|l| l.trim().to_ascii_uppercase()).as_deref() {
        Some("TRACE") | Some("JSON") => "trace",
        Some("DEBUG") => "debug",
        Some("INFO") => "info",
        Some("ERROR") => "error",
        Some("OFF") => "off",
        _ => "warn",
    };
    // Libraries (h2, hyper, rustls) stay at WARN: their TRACE is a flood.
    let libs = if matches!(ours, "error" | "off") {
        ours
    } else {
        "warn"
    };
    format!("{libs},keyshift_provider={ours},terraform_provider_keyshift={ours}")
}

fn init_tracing() {
    let level = ["TF_LOG_PROVIDER", "TF_LOG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty());
    let filter = tracing_subscriber::EnvFilter::new(log_filter(level.as_deref()));
    // Never stdout: it carries the handshake. Once Terraform is gone stderr
    // is a broken pipe: a failed write must not be reported with
    // `eprintln!`, which would panic the logging thread.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_ansi(false)
        .without_time() // Terraform timestamps every plugin line itself.
        .try_init();
}

async fn run<P: Provider>(provider: P, client_cert: Option<String>, debug: bool) -> ExitCode {
    let (acceptor, cert_der) = match client_cert.as_deref().map(tls::server_tls) {
        None => (None, None),
        Some(Ok(t)) => (Some(TlsAcceptor::from(t.config)), Some(t.cert_der)),
        Some(Err(msg)) => {
            eprintln!("terraform-provider-keyshift: {msg}");
            return ExitCode::from(1);
        }
    };
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("terraform-provider-keyshift: cannot listen on 127.0.0.1: {e}");
            return ExitCode::from(1);
        }
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("terraform-provider-keyshift: cannot read the listening address: {e}");
            return ExitCode::from(1);
        }
    };
    let announce = if debug {
        reattach_line(port)
    } else {
        handshake_line(port, cert_der.as_deref())
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{announce}").and_then(|()| out.flush()) {
        eprintln!("terraform-provider-keyshift: cannot write the handshake: {e}");
        return ExitCode::from(1);
    }
    drop(out);
    tracing::debug!(port, tls = acceptor.is_some(), "plugin listening");

    let signal = ShutdownSignal::new();
    tokio::spawn(watch_interrupts(signal.clone(), debug));
    if !debug {
        tokio::spawn(watch_parent(
            signal.clone(),
            std::os::unix::process::parent_id(),
        ));
    }
    let (tx, rx) = mpsc::channel::<Result<Conn, std::io::Error>>(16);
    tokio::spawn(accept_loop(listener, acceptor, tx));

    let controller = Controller::new(signal.clone());
    let server = tonic::transport::Server::builder()
        .add_service(ProviderService::new(provider).into_server())
        .add_service(controller.controller_service())
        .add_service(controller.stdio_service())
        .serve_with_incoming_shutdown(ReceiverStream::new(rx), signal.wait());
    let deadline = {
        let signal = signal.clone();
        async move {
            signal.wait().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    };
    tokio::select! {
        r = server => match r {
            Ok(()) => {
                tracing::debug!("plugin server stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("plugin server failed: {e}");
                ExitCode::from(1)
            }
        },
        () = deadline => {
            tracing::debug!("graceful shutdown timed out; forced exit");
            ExitCode::SUCCESS
        }
    }
}

/// Terraform handles Ctrl-C itself and sends `Stop`: the plugin must
/// survive SIGINT (go-plugin plugins ignore it). In `--debug` mode, Ctrl-C
/// stops the provider.
async fn watch_interrupts(signal: ShutdownSignal, debug: bool) {
    while tokio::signal::ctrl_c().await.is_ok() {
        if debug {
            signal.trigger();
            return;
        }
        tracing::debug!("ignoring interrupt: Terraform will send Stop");
    }
}

/// Shuts the server down once the process that started us (`parent`) is
/// gone: when it dies we are reparented, so our parent id changes.
async fn watch_parent(signal: ShutdownSignal, parent: u32) {
    if parent <= 1 {
        return; // started by init: there is no Terraform to outlive
    }
    let mut tick = tokio::time::interval(PARENT_POLL);
    loop {
        tick.tick().await;
        if parent_gone(parent, std::os::unix::process::parent_id()) {
            // Trigger first: with Terraform gone, logging may fail.
            signal.trigger();
            tracing::warn!(
                parent,
                "Terraform (the parent process) is gone; shutting down"
            );
            return;
        }
    }
}

/// True when the parent id has changed from the one we started with.
fn parent_gone(started_with: u32, now: u32) -> bool {
    started_with != now
}

/// Accepts connections, completing TLS handshakes concurrently, and hands
/// them to the gRPC server.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    tx: mpsc::Sender<Result<Conn, std::io::Error>>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let Some(acceptor) = acceptor.clone() else {
            if tx.send(Ok(Conn::Plain(tcp))).await.is_err() {
                return;
            }
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => {
                    let _ = tx.send(Ok(Conn::Tls(Box::new(s)))).await;
                }
                Ok(Err(e)) => tracing::warn!(%peer, "TLS handshake failed: {e}"),
                Err(_) => tracing::warn!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// The `TF_REATTACH_PROVIDERS` assignment for `--debug` mode.
fn reattach_line(port: u16) -> String {
    let v = serde_json::json!({
        PROVIDER_ADDRESS: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": { "Network": "tcp", "String": format!("127.0.0.1:{port}") },
        }
    });
    format!("TF_REATTACH_PROVIDERS='{v}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_cases() {
        let cases: Vec<(&str, Option<&str>, bool)> = vec![
            ("right cookie", Some(MAGIC_COOKIE_VALUE), true),
            ("missing", None, false),
            ("wrong", Some("nope"), false),
            ("empty", Some(""), false),
        ];
        for (name, v, ok) in cases {
            assert_eq!(check_cookie(v).is_ok(), ok, "case {name}");
        }
        assert!(
            check_cookie(None)
                .unwrap_err()
                .contains("plugin for Terraform")
        );
    }

    #[test]
    fn negotiate_cases() {
        let cases: Vec<(&str, Option<&str>, Result<u32, ()>)> = vec![
            ("terraform 1.x", Some("5,6"), Ok(5)),
            ("only 5", Some("5"), Ok(5)),
            ("spaces", Some(" 6, 5 "), Ok(5)),
            ("unset", None, Ok(5)),
            ("only 6", Some("6"), Err(())),
            ("garbage", Some("x,55"), Err(())),
        ];
        for (name, v, want) in cases {
            assert_eq!(negotiate(v).map_err(|_| ()), want, "case {name}");
        }
    }

    #[test]
    fn handshake_line_shape() {
        assert_eq!(handshake_line(1234, None), "1|5|tcp|127.0.0.1:1234|grpc|");
        // base64 standard alphabet, no padding.
        assert_eq!(
            handshake_line(1, Some(&[0xfb, 0xff])),
            "1|5|tcp|127.0.0.1:1|grpc|+/8"
        );
    }

    #[test]
    fn log_filter_cases() {
        let cases: Vec<(&str, Option<&str>, &str)> = vec![
            ("unset is warn", None, "warn,keyshift_provider=warn"),
            ("debug", Some("DEBUG"), "warn,keyshift_provider=debug"),
            (
                "lowercase trace",
                Some("trace"),
                "warn,keyshift_provider=trace",
            ),
            (
                "json is trace",
                Some("JSON"),
                "warn,keyshift_provider=trace",
            ),
            (
                "error lowers libs",
                Some("ERROR"),
                "error,keyshift_provider=error",
            ),
            (
                "unknown is warn",
                Some("LOUD"),
                "warn,keyshift_provider=warn",
            ),
        ];
        for (name, v, prefix) in cases {
            assert!(
                log_filter(v).starts_with(prefix),
                "case {name}: {}",
                log_filter(v)
            );
        }
    }

    #[test]
    fn parent_change_is_noticed() {
        assert!(!parent_gone(4242, 4242));
        assert!(parent_gone(4242, 1), "reparented to init");
        assert!(parent_gone(4242, 77), "reparented to a subreaper");
    }

    #[test]
    fn reattach_line_is_json() {
        let line = reattach_line(4321);
        let json = line
            .strip_prefix("TF_REATTACH_PROVIDERS='")
            .and_then(|s| s.strip_suffix('\''))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v[PROVIDER_ADDRESS]["Addr"]["String"], "127.0.0.1:4321");
        assert_eq!(v[PROVIDER_ADDRESS]["ProtocolVersion"], 5);
    }
}
