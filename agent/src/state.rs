//! What must survive a restart (`<data_dir>/state.json`, 0600, written atomically):
//! the highest envelope-key certificate accepted (a stale or lying RPC node cannot roll
//! the device back to an older key), the highest token_version used per Worker id (a
//! replayed envelope is refused), the newest chain time seen (an envelope expired on
//! chain stays expired on a board whose clock is behind), and which Worker k3s joined
//! with (so a revocation confirmed after a restart still tears down). No secrets.
//!
//! ```json
//! {
//!   "version": 1,
//!   "envelope_key": { "serial": 1, "key": "0x…" },
//!   "newest_chain_time_ms": 1769268872000,
//!   "workers": { "0x…worker id": { "highest_token_version": 2 } },
//!   "joined": { "worker_id": "0x…", "token_version": 2, "server": "https://10.0.0.1:6443" }
//! }
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use daas_protocol::{CertifiedEnvelopeKey, EnvelopePublicKey, ObjectId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::fsx;

/// The format version written.
pub const VERSION: u32 = 1;

/// State that cannot be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// Unreadable.
    #[error("cannot read state file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Not this format.
    #[error(
        "state file {} is not valid ({reason}): move it away to start afresh — the agent then forgets the highest envelope-key serial and token versions it has seen",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        reason: String,
    },
    /// Could not be written.
    #[error("writing the state file: {0}")]
    Write(#[from] fsx::FsError),
}

/// The highest certificate accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedKey {
    /// Its serial.
    pub serial: u64,
    /// The certified envelope key.
    pub key: EnvelopePublicKey,
}

/// Per Worker id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerState {
    /// The highest token_version k3s was started with.
    pub highest_token_version: u64,
}

/// What k3s joined with (set on READY=1, cleared after a revocation teardown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Joined {
    /// The Worker.
    pub worker_id: ObjectId,
    /// Its token_version.
    pub token_version: u64,
    /// The k3s server (not secret).
    pub server: String,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// Highest certificate accepted.
    #[serde(default)]
    pub envelope_key: Option<PinnedKey>,
    /// Newest chain timestamp seen (ms).
    #[serde(default)]
    pub newest_chain_time_ms: u64,
    /// High-water marks per Worker id.
    #[serde(default)]
    pub workers: BTreeMap<ObjectId, WorkerState>,
    /// The join k3s last reached READY with.
    #[serde(default)]
    pub joined: Option<Joined>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: VERSION,
            envelope_key: None,
            newest_chain_time_ms: 0,
            workers: BTreeMap::new(),
            joined: None,
        }
    }
}

impl State {
    /// Reads `path`; a missing file is a fresh state.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Self::from_json(&text).map_err(|reason| StateError::Corrupt {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Decodes the text of a state file (what [`Self::load`] does once it has read it);
    /// the error is the reason, without the path.
    pub fn from_json(text: &[u8]) -> Result<Self, String> {
        let state: State = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        if state.version != VERSION {
            return Err(format!("version {} is not {VERSION}", state.version));
        }
        Ok(state)
    }

    /// The text [`Self::save`] writes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("state serializes")
    }

    /// Writes `path` atomically, 0600 (its directory is created 0700 if missing).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        if let Some(dir) = path.parent() {
            fsx::ensure_dir(dir, 0o700)?;
        }
        fsx::write_atomic(path, &self.to_json(), 0o600)?;
        Ok(())
    }

    /// The certificate to restore into an `EnvelopeKeyPin`.
    pub fn certified(&self) -> Option<CertifiedEnvelopeKey> {
        self.envelope_key.map(|p| CertifiedEnvelopeKey {
            serial: p.serial,
            key: p.key,
        })
    }

    /// Records a newly accepted certificate; true if it changed.
    pub fn set_certified(&mut self, c: &CertifiedEnvelopeKey) -> bool {
        let new = Some(PinnedKey {
            serial: c.serial,
            key: c.key,
        });
        let changed = self.envelope_key != new;
        self.envelope_key = new;
        changed
    }

    /// The highest token_version used for `worker` (0 if none).
    pub fn highest_used(&self, worker: &ObjectId) -> u64 {
        self.workers
            .get(worker)
            .map_or(0, |w| w.highest_token_version)
    }

    /// Records that k3s is started with `version` for `worker` (never lowers it).
    pub fn record_used(&mut self, worker: ObjectId, version: u64) {
        let w = self.workers.entry(worker).or_default();
        w.highest_token_version = w.highest_token_version.max(version);
    }

    /// Raises the newest chain time seen; true if it moved.
    pub fn see_chain_time(&mut self, ms: u64) -> bool {
        if ms > self.newest_chain_time_ms {
            self.newest_chain_time_ms = ms;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_0600_and_never_lowers_a_high_water_mark() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("data").join("state.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let mut s = State::default();
        let w = ObjectId::from_u64(5);
        s.record_used(w, 3);
        s.record_used(w, 2);
        assert_eq!(s.highest_used(&w), 3);
        assert_eq!(s.highest_used(&ObjectId::from_u64(6)), 0);
        assert!(s.see_chain_time(10));
        assert!(!s.see_chain_time(9));
        s.joined = Some(Joined {
            worker_id: w,
            token_version: 3,
            server: "https://10.0.0.1:6443".into(),
        });
        s.save(&path).unwrap();
        use std::os::unix::fs::MetadataExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(State::load(&path).unwrap(), s);
    }

    #[test]
    fn a_corrupt_file_is_an_error_that_names_it_not_a_fresh_start() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("state.json");
        std::fs::write(&path, b"{\"version\": 1, \"workers\": 3}").unwrap();
        let e = State::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("state.json") && e.contains("move it away"),
            "{e}"
        );
    }
}
