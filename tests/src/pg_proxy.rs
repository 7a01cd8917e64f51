//! A TCP relay in front of the test PostgreSQL server that a test can cut
//! at a chosen point, to see what users see when the shared store's server
//! goes down: once cut, every relayed connection is closed and no new one
//! is served.
//!
//! The cut is triggered by connecting to [`CutProxy::control_port`]; the
//! relay answers only after every connection is closed, so a command that
//! connects and reads to the end (e.g. a `local-exec` provisioner running
//! `bash -c 'exec 3<>/dev/tcp/127.0.0.1/PORT; cat <&3'`) returns after the
//! cut took effect: no timing is involved.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The relay. It lives as long as the test process (its threads are
/// detached); drop the value when done with the ports.
pub struct CutProxy {
    port: u16,
    control_port: u16,
}

/// Copies `from` to `to` until either side closes, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl CutProxy {
    /// A relay to `upstream` (`host:port`) on a free loopback port.
    pub fn start(upstream: &str) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let control = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let control_port = control.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_string();
        let (cut_a, live_a) = (Arc::clone(&cut), Arc::clone(&live));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut_a.load(Ordering::SeqCst) {
                    // Closed at once; the listener goes with this thread.
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut l = live_a.lock().unwrap();
                l.push(client.try_clone().unwrap());
                l.push(server.try_clone().unwrap());
                drop(l);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump(client, server));
                std::thread::spawn(move || pump(s2, c2));
            }
        });
        std::thread::spawn(move || {
            if let Some(Ok(mut trigger)) = control.incoming().next() {
                cut.store(true, Ordering::SeqCst);
                for s in live.lock().unwrap().drain(..) {
                    let _ = s.shutdown(Shutdown::Both);
                }
                let _ = trigger.write_all(b"cut\n");
            }
        });
        CutProxy { port, control_port }
    }

    /// The port PostgreSQL clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connecting here cuts the relay (see the module docs).
    pub fn control_port(&self) -> u16 {
        self.control_port
    }
}
