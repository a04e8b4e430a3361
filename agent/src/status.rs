//! The status file `run` keeps current (default `/run/k8s-daas/status.json`, 0644,
//! written atomically, never a secret in it) and `daas-agent status` reads — so
//! `status` works while `run` runs, as another process, without asking it anything.
//! The JSON shape is documented in `agent/README.md` and pinned by
//! `agent/tests/fixtures/status.json`.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::fsx;

/// The schema version of the file.
pub const SCHEMA: u32 = 1;

/// The status file cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StatusError {
    /// Missing or unreadable.
    #[error(
        "cannot read status file {}: {source} (is `daas-agent run` running with this config?)",
        path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Not this format.
    #[error("status file {} is not a daas-agent status ({reason})", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Could not be written.
    #[error("writing the status file: {0}")]
    Write(#[from] fsx::FsError),
}

/// Where the agent is, in one word (`phase` in the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Started, nothing read yet.
    Starting,
    /// No Worker with this node_id on chain.
    NotRegistered,
    /// The Worker exists; no usable envelope yet.
    WaitingForToken,
    /// k3s started with a verified token, not joined yet.
    Joining,
    /// k3s reported READY=1.
    Joined,
    /// k3s exited; restarting after a backoff.
    Restarting,
    /// k3s stopped (revocation, or the server refused this node).
    Stopped,
    /// The node_id is registered with another device's seal token.
    Squatted,
    /// Shutting down.
    Stopping,
}

/// The supervised k3s process.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct K3sStatus {
    /// `not_started`, `starting`, `running`, `backoff`, `stopped`.
    pub state: String,
    /// Its pid (also its process group id) while it runs.
    pub pid: Option<u32>,
    /// Restarts after unexpected exits since the agent started.
    pub restarts: u32,
    /// Whether it has reported READY=1 since it was last started.
    pub joined: bool,
    /// How the last run ended (`exit code 3`, `signal 9`).
    pub last_exit: Option<String>,
    /// When the next restart is due (ms since the epoch), in `backoff`.
    pub next_restart_at_ms: Option<u64>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The `run` process.
    pub pid: u32,
    /// When this was written (ms since the epoch).
    pub updated_at_ms: u64,
    /// This device's node_id.
    pub node_id: String,
    /// The Worker object, once found.
    pub worker_id: Option<String>,
    /// The Worker's status on chain (`pending`, `token_issued`, `active`, `leaving`,
    /// `slashed`, `revoked`), `not_registered`, or `gone` (withdrawn); null before the
    /// first read.
    pub chain_status: Option<String>,
    /// See [`Phase`].
    pub phase: Phase,
    /// The human line also sent to systemd as `STATUS=`.
    pub summary: String,
    /// The token_version k3s runs with.
    pub token_version: Option<u64>,
    /// That envelope's expiry (ms since the epoch).
    pub envelope_expires_at_ms: Option<u64>,
    /// Serial of the accepted envelope-key certificate.
    pub envelope_key_serial: Option<u64>,
    /// The k3s child.
    pub k3s: K3sStatus,
    /// Whether the memory cgroup controller is available (k3s needs it).
    pub cgroup_memory: bool,
    /// The last problem (a rejected envelope, an unreachable chain…), no secrets.
    pub last_error: Option<String>,
    /// The last successful chain read (ms since the epoch).
    pub last_chain_contact_ms: Option<u64>,
}

impl Status {
    /// The status of a freshly started agent.
    pub fn starting(node_id: &str, pid: u32, cgroup_memory: bool) -> Self {
        Status {
            schema: SCHEMA,
            pid,
            updated_at_ms: 0,
            node_id: node_id.into(),
            worker_id: None,
            chain_status: None,
            phase: Phase::Starting,
            summary: "starting".into(),
            token_version: None,
            envelope_expires_at_ms: None,
            envelope_key_serial: None,
            k3s: K3sStatus {
                state: "not_started".into(),
                ..K3sStatus::default()
            },
            cgroup_memory,
            last_error: None,
            last_chain_contact_ms: None,
        }
    }

    /// The JSON text (pretty, one trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("status serializes");
        s.push('\n');
        s
    }

    /// Writes `path` atomically, 0644 (its directory is created 0755 if missing).
    pub fn write(&self, path: &Path) -> Result<(), StatusError> {
        if let Some(dir) = path.parent() {
            fsx::ensure_dir(dir, 0o755)?;
        }
        fsx::write_atomic(path, self.to_json().as_bytes(), 0o644)?;
        Ok(())
    }

    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Self, StatusError> {
        let text = std::fs::read(path).map_err(|source| StatusError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|reason| StatusError::Format {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Decodes the text of a status file (what [`Self::read`] does once it has read
    /// it); the error is the reason, without the path.
    pub fn from_json(text: &[u8]) -> Result<Self, String> {
        let s: Status = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        if s.schema != SCHEMA {
            return Err(format!("schema {} is not {SCHEMA}", s.schema));
        }
        Ok(s)
    }

    /// The human rendering of `daas-agent status`.
    pub fn render(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let time = |v: Option<u64>| v.map_or_else(|| "-".into(), iso8601);
        let mut k3s = self.k3s.state.clone();
        if let Some(pid) = self.k3s.pid {
            k3s.push_str(&format!(", pid {pid}"));
        }
        k3s.push_str(&format!(", {} restarts", self.k3s.restarts));
        if let Some(e) = &self.k3s.last_exit {
            k3s.push_str(&format!(", last exit: {e}"));
        }
        let lines = [
            ("status", self.summary.clone()),
            ("node_id", self.node_id.clone()),
            ("worker", opt(&self.worker_id)),
            ("on chain", opt(&self.chain_status)),
            (
                "token version",
                self.token_version
                    .map_or_else(|| "-".into(), |v| v.to_string()),
            ),
            ("envelope expires", time(self.envelope_expires_at_ms)),
            (
                "envelope key",
                self.envelope_key_serial
                    .map_or_else(|| "-".into(), |v| format!("certificate serial {v}")),
            ),
            ("k3s", k3s),
            (
                "memory cgroup",
                if self.cgroup_memory {
                    "available".into()
                } else {
                    "MISSING: add cgroup_memory=1 cgroup_enable=memory to the kernel command line"
                        .into()
                },
            ),
            ("last error", opt(&self.last_error)),
            ("last chain contact", time(self.last_chain_contact_ms)),
            (
                "updated",
                format!("{} (pid {})", iso8601(self.updated_at_ms), self.pid),
            ),
        ];
        lines.iter().map(|(k, v)| format!("{k:<19}{v}\n")).collect()
    }
}

/// (year, month, day, hour, minute, second) in UTC of `ms` since the epoch.
pub fn civil(ms: u64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil from days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

/// `2026-01-24T15:34:32Z`.
pub fn iso8601(ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn example() -> Status {
        Status {
            schema: SCHEMA,
            pid: 4242,
            updated_at_ms: 1_769_268_872_000,
            node_id: "rpi-0123456789abcdef".into(),
            worker_id: Some(
                "0x00000000000000000000000000000000000000000000000000000000000000ab".into(),
            ),
            chain_status: Some("active".into()),
            phase: Phase::Joined,
            summary: "k3s running, node joined".into(),
            token_version: Some(2),
            envelope_expires_at_ms: Some(1_769_272_472_000),
            envelope_key_serial: Some(1),
            k3s: K3sStatus {
                state: "running".into(),
                pid: Some(4300),
                restarts: 1,
                joined: true,
                last_exit: Some("exit code 3".into()),
                next_restart_at_ms: None,
            },
            cgroup_memory: true,
            last_error: None,
            last_chain_contact_ms: Some(1_769_268_871_500),
        }
    }

    #[test]
    fn the_json_shape_matches_the_golden_file() {
        let golden = include_str!("../tests/fixtures/status.json");
        assert_eq!(example().to_json(), golden);
        let parsed: Status = serde_json::from_str(golden).unwrap();
        assert_eq!(parsed, example());
    }

    #[test]
    fn written_0644_and_read_back() {
        use std::os::unix::fs::MetadataExt as _;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run").join("status.json");
        example().write(&p).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o644);
        assert_eq!(Status::read(&p).unwrap(), example());
        let text = example().render();
        assert!(text.contains("k3s running, node joined"), "{text}");
        assert!(
            text.contains("running, pid 4300, 1 restarts, last exit: exit code 3"),
            "{text}"
        );
        assert!(text.contains("2026-01-24T16:34:32Z"), "{text}");
    }

    #[test]
    fn civil_time_is_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_769_268_872_000), "2026-01-24T15:34:32Z");
    }
}
