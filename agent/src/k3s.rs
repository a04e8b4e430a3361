//! The supervised `k3s agent` child: its command line (never the token), its own
//! process group and `NOTIFY_SOCKET`, its output (forwarded into the agent's log at
//! the right level, redacted, and read for k3s's join-failure lines), stopping it
//! (SIGTERM to the group, bounded grace, SIGKILL) and the restart backoff.
//!
//! The failure lines are k3s's own (`../shared/K3S.md`, from `k3s-io/k3s`
//! `pkg/agent/run.go`, `pkg/agent/config/config.go`, `pkg/clientaccess/token.go`);
//! the stand-in `daas-k3s agent` prints them verbatim.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::notify::{ChildMessage, ChildSocket};
use crate::sys;

/// Environment variables a `k3s agent` would read instead of (or over) the flags the
/// agent passes, or that belong to the agent's own service: never inherited.
const SCRUBBED_ENV: [&str; 10] = [
    "K3S_TOKEN",
    "K3S_TOKEN_FILE",
    "K3S_URL",
    "K3S_NODE_NAME",
    "K3S_AGENT_TOKEN",
    "K3S_AGENT_TOKEN_FILE",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
];

/// What to start.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The k3s binary.
    pub binary: PathBuf,
    /// `https://host:port` from the envelope.
    pub server: String,
    /// The 0600 token file (written by the caller before the start); `None` when k3s
    /// restarts on the kubelet certificate it kept from an earlier join.
    pub token_file: Option<PathBuf>,
    /// `--node-name`: the node_id.
    pub node_name: String,
    /// Configured extra arguments (checked by the config).
    pub extra_args: Vec<String>,
}

impl Spec {
    /// The argument vector after the binary: `agent --server URL --token-file FILE
    /// --node-name NAME` and the extra arguments. The token is never on it.
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![
            "agent".into(),
            "--server".into(),
            self.server.clone().into(),
        ];
        if let Some(f) = &self.token_file {
            a.push("--token-file".into());
            a.push(f.clone().into());
        }
        a.push("--node-name".into());
        a.push(self.node_name.clone().into());
        a.extend(self.extra_args.iter().map(OsString::from));
        a
    }
}

/// A k3s log line the agent acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `token CA hash does not match the Cluster CA certificate hash` (retried every 2 s).
    CaMismatch,
    /// `Waiting to retrieve agent configuration; server is not ready: …: 401 Unauthorized`:
    /// the bootstrap token (and, after a Node deletion, the node's certificate) refused.
    Unauthorized,
    /// `Node password rejected, duplicate hostname or contents of …`.
    PasswordRejected,
    /// The apiserver's admission denial of the Node (the revoked-nodes policy).
    AdmissionDenied,
    /// `k3s agent is up and running` (READY=1 on the socket is what counts).
    UpAndRunning,
    /// `level=fatal`: k3s is about to exit.
    Fatal,
}

impl LineKind {
    /// A short description for logs and the status file.
    pub fn describe(self) -> &'static str {
        match self {
            LineKind::CaMismatch => "the cluster CA does not match the token's CA hash",
            LineKind::Unauthorized => "the server answered 401 Unauthorized to the token",
            LineKind::PasswordRejected => "the server rejected the node password",
            LineKind::AdmissionDenied => "the apiserver's admission policy denied the Node",
            LineKind::UpAndRunning => "k3s agent is up and running",
            LineKind::Fatal => "k3s logged a fatal error",
        }
    }
}

/// Recognises the lines of [`LineKind`].
pub fn classify(line: &str) -> Option<LineKind> {
    if line.contains("token CA hash does not match the Cluster CA certificate hash") {
        Some(LineKind::CaMismatch)
    } else if line.contains("server is not ready") && line.contains("401 Unauthorized") {
        Some(LineKind::Unauthorized)
    } else if line.contains("Node password rejected") {
        Some(LineKind::PasswordRejected)
    } else if line.contains("ValidatingAdmissionPolicy") && line.contains("denied request") {
        Some(LineKind::AdmissionDenied)
    } else if line.contains("k3s agent is up and running") {
        Some(LineKind::UpAndRunning)
    } else if logrus_level(line) == Some("fatal") || logrus_level(line) == Some("panic") {
        Some(LineKind::Fatal)
    } else {
        None
    }
}

/// The `level=` field of a logrus text line.
pub fn logrus_level(line: &str) -> Option<&str> {
    let at = line.find("level=")?;
    let rest = &line[at + 6..];
    Some(
        rest.split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"'),
    )
}

/// Replaces secrets in a child's output line: the exact secret strings known to the
/// agent, and defensively anything shaped like a k3s token (`K10…`).
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these secret strings (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Redactor {
            secrets: secrets
                .into_iter()
                .filter(|s| s.len() >= 6)
                .map(zeroize::Zeroizing::new)
                .collect(),
        }
    }

    /// The line with every secret replaced by `(redacted)`.
    pub fn redact(&self, line: &str) -> String {
        let mut out = line.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "(redacted)");
            }
        }
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find("K10") {
            result.push_str(&rest[..i]);
            let tail = &rest[i + 3..];
            let end = tail
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
                .unwrap_or(tail.len());
            if end >= 8 {
                result.push_str("K10…(redacted)");
            } else {
                result.push_str("K10");
                result.push_str(&tail[..end]);
            }
            rest = &tail[end..];
        }
        result.push_str(rest);
        result
    }
}

/// What a running child reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line the agent acts on.
    Line {
        /// The child's generation.
        generation: u64,
        /// What it says.
        kind: LineKind,
    },
    /// A datagram on its `NOTIFY_SOCKET`.
    Notify {
        /// The child's generation.
        generation: u64,
        /// What it said.
        message: ChildMessage,
    },
    /// It exited (and was reaped).
    Exited {
        /// The child's generation.
        generation: u64,
        /// `exit code N` / `signal N`.
        how: String,
        /// Whether it exited with status 0.
        success: bool,
    },
}

/// `exit code N` or `signal N`.
pub fn describe_exit(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown exit".into(),
    }
}

/// A running (or just exited) k3s child.
#[derive(Debug)]
pub struct Child {
    /// Increases with every start; events carry it.
    pub generation: u64,
    /// Its pid, also its process group id.
    pub pid: u32,
    /// When it was started.
    pub started_at: Instant,
    /// Whether it has sent READY=1.
    pub ready: bool,
    exited: watch::Receiver<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn forward_lines(
    stream: impl AsyncRead + Unpin,
    generation: u64,
    pid: u32,
    redactor: Redactor,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::with_capacity(512);
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        buf.truncate(16 * 1024);
        let raw = String::from_utf8_lossy(&buf);
        let line = redactor.redact(raw.trim_end());
        match logrus_level(&line) {
            Some("error" | "fatal" | "panic") => {
                tracing::error!(target: "k3s", k3s_pid = pid, "{line}")
            }
            Some("warning" | "warn") => tracing::warn!(target: "k3s", k3s_pid = pid, "{line}"),
            Some("debug" | "trace") => tracing::debug!(target: "k3s", k3s_pid = pid, "{line}"),
            _ => tracing::info!(target: "k3s", k3s_pid = pid, "{line}"),
        }
        if let Some(kind) = classify(&line) {
            let _ = events.send(Event::Line { generation, kind });
        }
    }
}

/// Starts `spec` in its own process group with its own `NOTIFY_SOCKET` at
/// `notify_path`, its stdout/stderr read line by line into the log and `events`.
pub fn spawn(
    spec: &Spec,
    generation: u64,
    notify_path: &Path,
    redactor: Redactor,
    events: mpsc::UnboundedSender<Event>,
) -> std::io::Result<Child> {
    let socket = ChildSocket::bind(notify_path)?;
    let mut cmd = tokio::process::Command::new(&spec.binary);
    cmd.args(spec.args())
        .env("NOTIFY_SOCKET", socket.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    for k in SCRUBBED_ENV {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn()?;
    let pid = child.id().unwrap_or(0);
    let mut tasks = Vec::new();
    if let Some(out) = child.stdout.take() {
        tasks.push(tokio::spawn(forward_lines(
            out,
            generation,
            pid,
            redactor.clone(),
            events.clone(),
        )));
    }
    if let Some(err) = child.stderr.take() {
        tasks.push(tokio::spawn(forward_lines(
            err,
            generation,
            pid,
            redactor,
            events.clone(),
        )));
    }
    let notify_events = events.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            match socket.recv().await {
                Ok(message) => {
                    let _ = notify_events.send(Event::Notify {
                        generation,
                        message,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the k3s NOTIFY_SOCKET failed");
                    return;
                }
            }
        }
    }));
    let (exited_tx, exited) = watch::channel(false);
    // The waiter is not in `tasks`: it must run until the child is reaped.
    tokio::spawn(async move {
        let (how, success) = match child.wait().await {
            Ok(status) => (describe_exit(&status), status.success()),
            Err(e) => (format!("wait failed: {e}"), false),
        };
        let _ = exited_tx.send(true);
        let _ = events.send(Event::Exited {
            generation,
            how,
            success,
        });
    });
    Ok(Child {
        generation,
        pid,
        started_at: Instant::now(),
        ready: false,
        exited,
        tasks,
    })
}

impl Child {
    /// Whether the process has exited (been reaped).
    pub fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }

    async fn wait_exit(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.exited.wait_for(|e| *e))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// SIGTERM to the process group, up to `grace` for the leader to exit, then SIGKILL
    /// to the group; finally SIGKILL to whatever is left in the group. Returns whether
    /// SIGKILL was needed for the leader.
    pub async fn stop(mut self, grace: Duration) -> bool {
        let mut killed = false;
        if !self.has_exited() {
            if let Err(e) = sys::signal_group(self.pid, sys::TERM) {
                tracing::warn!(pid = self.pid, error = %e, "SIGTERM to k3s's process group failed");
            }
            if !self.wait_exit(grace).await {
                tracing::warn!(
                    pid = self.pid,
                    grace_ms = grace.as_millis() as u64,
                    "k3s did not exit after SIGTERM: sending SIGKILL to its process group"
                );
                killed = true;
                let _ = sys::signal_group(self.pid, sys::KILL);
                self.wait_exit(Duration::from_secs(10)).await;
            }
        }
        // Members of the group that outlived the leader (never containers: their shims
        // leave the group; the teardown command handles those).
        let _ = sys::signal_group(self.pid, sys::KILL);
        killed
    }
}

/// Writes `path` (`<data_dir>/k3s.pid`, 0600): the child's pid and start time, so the
/// next run of the agent can tell whether the process is still the k3s it started.
pub fn record_child(path: &Path, pid: u32) -> Result<(), crate::fsx::FsError> {
    let start = sys::process_start_time(pid).unwrap_or(0);
    crate::fsx::write_atomic(path, format!("{pid} {start}\n").as_bytes(), 0o600)
}

/// Stops the k3s a previous run of the agent left running — after a `kill -9`, a crash
/// or the OOM killer, its child (in its own process group) outlives it — so that a
/// restarted agent never runs a second k3s beside it. Reads `path` (see
/// [`record_child`]); only a process with the recorded pid *and* start time is the old
/// k3s (a reused pid is left alone). Its group gets SIGTERM, up to `grace` to go, then
/// SIGKILL. Returns the pid it stopped.
pub async fn stop_leftover(path: &Path, grace: Duration) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    let _ = std::fs::remove_file(path);
    let mut it = text.split_whitespace();
    let pid: u32 = it.next()?.parse().ok()?;
    let start: u64 = it.next()?.parse().ok()?;
    if start == 0 || sys::process_start_time(pid) != Some(start) {
        return None;
    }
    tracing::warn!(
        pid,
        "stopping the k3s left running by a previous run of the agent (it did not stop it: killed or crashed)"
    );
    let _ = sys::signal_group(pid, sys::TERM);
    let deadline = tokio::time::Instant::now() + grace;
    while sys::process_start_time(pid) == Some(start) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = sys::signal_group(pid, sys::KILL);
    Some(pid)
}

impl Drop for Child {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Restart delays: exponential from `initial`, doubling per consecutive crash up to
/// `max`, ± `jitter_percent`; a run of at least `healthy_after` starts over.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    healthy_after: Duration,
    jitter_percent: u8,
    failures: u32,
}

impl Backoff {
    /// A fresh backoff.
    pub fn new(
        initial: Duration,
        max: Duration,
        healthy_after: Duration,
        jitter_percent: u8,
    ) -> Self {
        Backoff {
            initial,
            max,
            healthy_after,
            jitter_percent,
            failures: 0,
        }
    }

    /// The delay before restarting a child that ran from `started_at` to now, with
    /// `unit` in `[0, 1)` choosing the jitter.
    pub fn on_exit(&mut self, started_at: Instant, unit: f64) -> Duration {
        if started_at.elapsed() >= self.healthy_after {
            self.failures = 0;
        }
        let base = self
            .initial
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let j = f64::from(self.jitter_percent) / 100.0;
        base.mul_f64(1.0 + (2.0 * unit.clamp(0.0, 1.0) - 1.0) * j)
            .min(self.max)
    }

    /// Consecutive failures counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A uniform number in `[0, 1)` from the OS random source (jitter only).
pub fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_the_token_file_never_the_token() {
        let spec = Spec {
            binary: "/usr/local/bin/k3s".into(),
            server: "https://10.0.0.1:6443".into(),
            token_file: Some("/run/k8s-daas/private/k3s-token".into()),
            node_name: "rpi-0123456789abcdef".into(),
            extra_args: vec!["--node-label".into(), "zone=a".into()],
        };
        let args: Vec<String> = spec
            .args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "agent",
                "--server",
                "https://10.0.0.1:6443",
                "--token-file",
                "/run/k8s-daas/private/k3s-token",
                "--node-name",
                "rpi-0123456789abcdef",
                "--node-label",
                "zone=a"
            ]
        );
    }

    #[test]
    fn recognises_k3s_failure_lines() {
        let cases = [
            (
                r#"time="2026-01-24T15:34:32Z" level=error msg="Failed to validate connection to cluster at https://127.0.0.1:6443: token CA hash does not match the Cluster CA certificate hash: 1234 != 5678""#,
                Some(LineKind::CaMismatch),
            ),
            (
                r#"time="2026-01-24T15:34:32Z" level=info msg="Waiting to retrieve agent configuration; server is not ready: https://127.0.0.1:6444/v1-k3s/serving-kubelet.crt: 401 Unauthorized""#,
                Some(LineKind::Unauthorized),
            ),
            (
                r#"time="2026-01-24T15:34:32Z" level=error msg="Node password rejected, duplicate hostname or contents of '/etc/rancher/node/password' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag""#,
                Some(LineKind::PasswordRejected),
            ),
            (
                r#"time="2026-01-24T15:34:32Z" level=error msg="Failed to register node: nodes \"rpi-1\" is forbidden: ValidatingAdmissionPolicy 'k8s-daas-revoked-nodes' with binding 'k8s-daas-revoked-nodes' denied request: node name is revoked""#,
                Some(LineKind::AdmissionDenied),
            ),
            (
                r#"time="2026-01-24T15:34:32Z" level=info msg="k3s agent is up and running""#,
                Some(LineKind::UpAndRunning),
            ),
            (
                r#"time="2026-01-24T15:34:32Z" level=fatal msg="failed to find memory cgroup (v2)""#,
                Some(LineKind::Fatal),
            ),
            (
                r#"time="2026-01-24T15:34:32Z" level=info msg="Starting k3s agent v1.32.1+k3s1""#,
                None,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line), want, "{line}");
        }
        assert_eq!(
            logrus_level(r#"time="x" level=warning msg="y""#),
            Some("warning")
        );
    }

    #[test]
    fn redacts_known_secrets_and_anything_shaped_like_a_token() {
        let token = format!("K10{}::abcdef.0123456789abcdef", "ab".repeat(32));
        let r = Redactor::new([
            "0123456789abcdef".to_string(),
            "00112233445566778899aabbccddeeff".into(),
        ]);
        let line = format!("token={token} pw=00112233445566778899aabbccddeeff tail");
        let out = r.redact(&line);
        assert!(!out.contains("0123456789abcdef"), "{out}");
        assert!(!out.contains("00112233445566778899aabbccddeeff"), "{out}");
        assert!(!out.contains(&"ab".repeat(32)), "{out}");
        assert!(
            out.contains("K10…(redacted)") && out.ends_with("tail"),
            "{out}"
        );
        let plain = Redactor::default().redact(&format!("\"{token}\", next"));
        assert_eq!(plain, "\"K10…(redacted)\", next");
        assert_eq!(Redactor::default().redact("K10 is short"), "K10 is short");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_with_bounded_jitter_and_resets_after_a_healthy_run() {
        let mut b = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(10),
            Duration::from_secs(60),
            20,
        );
        let started = Instant::now();
        let d: Vec<Duration> = (0..6).map(|_| b.on_exit(started, 0.5)).collect();
        assert_eq!(d, [1, 2, 4, 8, 10, 10].map(Duration::from_secs).to_vec());
        // Jitter stays within ±20 % and never above the maximum.
        let mut j = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(10),
            Duration::from_secs(60),
            20,
        );
        assert_eq!(j.on_exit(started, 0.0), Duration::from_millis(800));
        assert_eq!(j.on_exit(started, 0.999_999_9).as_millis(), 2399);
        // A run of 60 s (paused clock) starts over.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(b.on_exit(started, 0.5), Duration::from_secs(1));
        assert_eq!(b.failures(), 1);
    }

    #[tokio::test]
    async fn stop_terminates_the_whole_group() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("fake-k3s");
        // A leader that ignores nothing and a grandchild in the same group.
        std::fs::write(
            &script,
            "#!/bin/sh\nsleep 300 &\necho \"level=info msg=started $!\"\nwait\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let spec = Spec {
            binary: script,
            server: "https://127.0.0.1:1".into(),
            token_file: Some(d.path().join("token")),
            node_name: "n".into(),
            extra_args: vec![],
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let child = spawn(&spec, 1, &d.path().join("n.sock"), Redactor::default(), tx).unwrap();
        let pid = child.pid;
        assert!(sys::group_alive(pid));
        assert!(
            !child.stop(Duration::from_secs(5)).await,
            "SIGTERM was enough"
        );
        loop {
            if let Some(Event::Exited {
                generation: 1, how, ..
            }) = rx.recv().await
            {
                assert_eq!(how, "signal 15");
                break;
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sys::group_alive(pid) {
            assert!(std::time::Instant::now() < deadline, "group {pid} survived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
