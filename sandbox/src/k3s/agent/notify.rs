//! sd_notify as k3s does it (`go-systemd` `daemon.SdNotify(true, "READY=1\n")` in
//! k3s `pkg/agent/run.go`): one datagram to the `NOTIFY_SOCKET` path, or to a Linux
//! abstract socket when the address starts with `@`. The environment is left as it is
//! (the stand-in starts no children that could inherit it, and changing the
//! environment of a threaded process is unsound).

use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1\n`) to the socket `addr` (a `NOTIFY_SOCKET` value).
pub fn notify(addr: &str, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = addr.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt as _;
        let sa = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        sock.send_to_addr(state.as_bytes(), &sa)?;
    } else {
        sock.send_to(state.as_bytes(), addr)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        notify(path.to_str().unwrap(), "READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("daas-k3s-test-{}", std::process::id());
        let sa = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&sa).unwrap();
        notify(&format!("@{name}"), "READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
    }

    #[test]
    fn a_missing_socket_is_an_error() {
        assert!(notify("/nonexistent/daas/notify.sock", "READY=1\n").is_err());
    }
}
