//! The `sd_notify` protocol both ways: [`Systemd`] sends the agent's own state to the
//! service manager (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`), and
//! [`ChildSocket`] is the datagram socket the agent owns and hands to k3s as its
//! `NOTIFY_SOCKET`, so k3s's `READY=1` tells the agent "joined" without polling.
//!
//! The sender is our own ~40 lines rather than the `sd-notify` crate: the crate reads
//! `NOTIFY_SOCKET`/`WATCHDOG_USEC` from the process environment itself, while here
//! only the binary reads the environment and the library is given the socket (so the
//! unit tests bind a socket in-process and check every datagram), at no size cost.

use std::ffi::OsStr;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The agent's connection to systemd (a no-op when `NOTIFY_SOCKET` was not set).
#[derive(Debug)]
pub struct Systemd {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

fn socket_addr(spec: &OsStr) -> io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = spec.as_bytes();
    match bytes.first() {
        Some(b'@') => {
            use std::os::linux::net::SocketAddrExt as _;
            SocketAddr::from_abstract_name(&bytes[1..])
        }
        Some(b'/') => SocketAddr::from_pathname(Path::new(spec)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET must be an absolute path or start with @",
        )),
    }
}

impl Systemd {
    /// From the environment's `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` (the
    /// watchdog is ours only when `WATCHDOG_PID` is unset or names this process).
    pub fn new(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
    ) -> Self {
        let target = notify_socket.and_then(|s| match (socket_addr(s), UnixDatagram::unbound()) {
            (Ok(addr), Ok(sock)) => Some((sock, addr)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "NOTIFY_SOCKET is unusable: not notifying systemd");
                None
            }
        });
        let ours = watchdog_pid.is_none_or(|p| p.trim() == std::process::id().to_string());
        let watchdog = watchdog_usec
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && ours)
            .map(Duration::from_micros);
        Systemd { target, watchdog }
    }

    /// A notifier that sends nothing.
    pub fn none() -> Self {
        Systemd {
            target: None,
            watchdog: None,
        }
    }

    /// How often to send `WATCHDOG=1` (half of `WATCHDOG_USEC`), if systemd asked.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 2)
    }

    fn send(&self, message: &str) {
        if let Some((sock, addr)) = &self.target
            && let Err(e) = sock.send_to_addr(message.as_bytes(), addr)
        {
            tracing::debug!(error = %e, "sd_notify datagram not delivered");
        }
    }

    /// `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// `STATUS=…`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// `WATCHDOG=1`.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// `STOPPING=1` with a status line.
    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// What a child said on its `NOTIFY_SOCKET`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChildMessage {
    /// `READY=1`.
    pub ready: bool,
    /// `STATUS=…`.
    pub status: Option<String>,
    /// `STOPPING=1`.
    pub stopping: bool,
}

impl ChildMessage {
    /// Parses one datagram (newline-separated `KEY=VALUE` assignments).
    pub fn parse(datagram: &[u8]) -> Self {
        let text = String::from_utf8_lossy(datagram);
        let mut m = ChildMessage::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("READY", "1")) => m.ready = true,
                Some(("STOPPING", "1")) => m.stopping = true,
                Some(("STATUS", s)) => m.status = Some(s.to_string()),
                _ => {}
            }
        }
        m
    }
}

/// A datagram socket bound at a path in the agent's 0700 runtime directory, mode 0600,
/// handed to one k3s child as `NOTIFY_SOCKET`; removed when dropped.
#[derive(Debug)]
pub struct ChildSocket {
    socket: tokio::net::UnixDatagram,
    path: PathBuf,
}

impl ChildSocket {
    /// Binds `path` (a stale socket file there is replaced) and makes it 0600.
    pub fn bind(path: &Path) -> io::Result<Self> {
        use std::os::unix::fs::PermissionsExt as _;
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let socket = tokio::net::UnixDatagram::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(ChildSocket {
            socket,
            path: path.to_path_buf(),
        })
    }

    /// Its path (the child's `NOTIFY_SOCKET`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next message.
    pub async fn recv(&self) -> io::Result<ChildMessage> {
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).await?;
        Ok(ChildMessage::parse(&buf[..n]))
    }
}

impl Drop for ChildSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_each_state_as_one_datagram_to_a_path_socket() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let n = Systemd::new(Some(path.as_os_str()), Some("4000000"), None);
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(2)));
        n.ready("waiting for join token\n(worker pending on chain)");
        n.status("k3s running, node joined");
        n.watchdog();
        n.stopping("stopping");
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        for _ in 0..4 {
            let len = server.recv(&mut buf).unwrap();
            got.push(String::from_utf8(buf[..len].to_vec()).unwrap());
        }
        assert_eq!(
            got,
            [
                "READY=1\nSTATUS=waiting for join token (worker pending on chain)",
                "STATUS=k3s running, node joined",
                "WATCHDOG=1",
                "STOPPING=1\nSTATUS=stopping",
            ]
        );
    }

    #[test]
    fn abstract_sockets_and_foreign_watchdogs() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("daas-agent-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let spec = format!("@{name}");
        let n = Systemd::new(Some(OsStr::new(&spec)), Some("1000000"), Some("1"));
        assert_eq!(
            n.watchdog_interval(),
            None,
            "WATCHDOG_PID names another process"
        );
        n.watchdog();
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        assert_eq!(Systemd::none().watchdog_interval(), None);
    }

    #[tokio::test]
    async fn the_child_socket_is_0600_and_parses_ready() {
        use std::os::unix::fs::MetadataExt as _;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("k3s-notify.sock");
        std::fs::write(&path, b"stale").unwrap();
        let sock = ChildSocket::bind(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let client = UnixDatagram::unbound().unwrap();
        client
            .send_to(b"STATUS=starting\nREADY=1\n", &path)
            .unwrap();
        let m = sock.recv().await.unwrap();
        assert!(m.ready);
        assert_eq!(m.status.as_deref(), Some("starting"));
        drop(sock);
        assert!(!path.exists());
    }
}
