//! One Envoy process as our child: started on a rendered bootstrap, watched until its
//! admin endpoint reports ready, sent the signals we receive, and waited for.
//!
//! Everything runs on the calling thread in one polling loop. A signal is forwarded only
//! after `try_wait` has said the child is not yet reaped, so its pid cannot have been
//! reused by then.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

const POLL: Duration = Duration::from_millis(100);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum EnvoyError {
    #[error("cannot install signal handlers: {0}")]
    Signals(io::Error),
    #[error("cannot start {}: {source}", bin.display())]
    Spawn { bin: PathBuf, source: io::Error },
    #[error("Envoy exited during startup ({0}); its log is above")]
    ExitedEarly(ExitStatus),
    #[error("Envoy was not ready after {0:?}; its log is above")]
    NotReady(Duration),
    #[error("cannot wait for Envoy: {0}")]
    Wait(io::Error),
}

/// Envoy's command line for a bootstrap file.
pub fn args(bootstrap: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-c".into(), bootstrap.into()];
    // No hot restart: we own exactly one Envoy and restart it ourselves if needed.
    args.extend(
        [
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "--component-log-level",
            "wasm:info",
            // Envoy's default of 10 s makes usage records late for anyone tailing the log.
            "--file-flush-interval-msec",
            "1000",
        ]
        .map(OsString::from),
    );
    args
}

/// A running Envoy child.
pub struct Envoy {
    child: Child,
    signals: Signals,
    /// Whether we have passed a signal on, i.e. asked Envoy to stop.
    signalled: bool,
}

// === impl Envoy ===

impl Envoy {
    /// Starts `bin` on `bootstrap`. Our SIGINT/SIGTERM/SIGHUP handlers go in first, so
    /// from now on those signals reach Envoy instead of killing us and orphaning it.
    pub fn start(bin: &Path, bootstrap: &Path) -> Result<Envoy, EnvoyError> {
        let signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(EnvoyError::Signals)?;
        let child = Command::new(bin)
            .args(args(bootstrap))
            .spawn()
            .map_err(|source| EnvoyError::Spawn {
                bin: bin.to_path_buf(),
                source,
            })?;
        Ok(Envoy {
            child,
            signals,
            signalled: false,
        })
    }

    /// Forwards pending signals, then reports whether Envoy has exited.
    fn poll(&mut self) -> Result<Option<ExitStatus>, EnvoyError> {
        if let Some(status) = self.child.try_wait().map_err(EnvoyError::Wait)? {
            return Ok(Some(status));
        }
        let pid = self.child.id() as libc::pid_t;
        for signal in self.signals.pending() {
            forward(pid, signal);
            self.signalled = true;
        }
        Ok(None)
    }

    /// Waits until Envoy's admin endpoint answers `/ready` with 200, which it does once
    /// the listener is up.
    pub fn wait_ready(&mut self, admin: SocketAddr, limit: Duration) -> Result<(), EnvoyError> {
        let start = Instant::now();
        let admin = reachable(admin);
        loop {
            if let Some(status) = self.poll()? {
                return Err(EnvoyError::ExitedEarly(status));
            }
            if is_ready(admin) {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(EnvoyError::NotReady(limit));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether Envoy was asked to stop by a signal we forwarded.
    pub fn signalled(&self) -> bool {
        self.signalled
    }

    /// Waits for Envoy to exit, forwarding signals meanwhile.
    pub fn wait(mut self) -> Result<ExitStatus, EnvoyError> {
        loop {
            if let Some(status) = self.poll()? {
                return Ok(status);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Stops Envoy after a failed start: SIGTERM, then wait.
    pub fn stop(mut self) -> Result<ExitStatus, EnvoyError> {
        if self.poll()?.is_none() {
            forward(self.child.id() as libc::pid_t, SIGTERM);
        }
        self.wait()
    }
}

#[allow(unsafe_code)]
fn forward(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; `pid` is our
    // own child, not yet reaped (checked by the caller), so it names that process.
    // A failure (the child exited meanwhile) needs no handling: `wait` sees the exit.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// The shell convention for a child's exit: its code, or 128 + the killing signal.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}

/// An address to connect to for a listen address: wildcard binds answer on loopback.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// One `GET /ready` against the admin endpoint.
fn is_ready(admin: SocketAddr) -> bool {
    let probe = || -> io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&admin, PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        // HTTP/1.1: Envoy answers HTTP/1.0 requests with 426 unless told otherwise.
        stream.write_all(b"GET /ready HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.ends_with(b" 200"))
    };
    probe().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(SIGTERM)), 128 + 15);
    }

    #[test]
    fn wildcard_listen_addresses_are_probed_on_loopback() {
        let any: SocketAddr = "0.0.0.0:9901".parse().unwrap();
        assert_eq!(reachable(any), "127.0.0.1:9901".parse().unwrap());
        let any6: SocketAddr = "[::]:9901".parse().unwrap();
        assert_eq!(reachable(any6), "[::1]:9901".parse().unwrap());
    }

    #[test]
    fn readiness_needs_a_200() {
        for (reply, ready) in [
            ("HTTP/1.1 200 OK\r\n\r\nLIVE", true),
            ("HTTP/1.1 503 Service Unavailable\r\n\r\n", false),
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                let mut request = [0u8; 64];
                let _ = conn.read(&mut request);
                conn.write_all(reply.as_bytes()).unwrap();
            });
            assert_eq!(is_ready(addr), ready, "{reply}");
            server.join().unwrap();
        }
    }
}
