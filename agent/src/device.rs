//! The device's identity on disk: its two keys (DESIGN §1), its node_id, the seal
//! tokens it hands its owner, and sealing-key rotation.
//!
//! Key directory (default `/var/lib/k8s-daas`, 0700):
//!
//! | file | what |
//! |---|---|
//! | `identity.key` | Ed25519 identity key (0600) — names the node_id, signs seal tokens |
//! | `sealing.key` | X25519 sealing key in use (0600) — opens join envelopes |
//! | `sealing.next.key` | a rotated sealing key not yet proven (0600), see below |
//! | `node_id` | `<label>-<fingerprint>` (0644) |
//! | `retired-<UTC time>/` | keys moved aside by `init --force` (0700) |
//!
//! Rotation: `rotate-sealing-key` writes `sealing.next.key` and prints its seal token
//! for the owner's `rotate_seal_token`. Both keys stay: the agent opens an envelope
//! with whichever key the Worker's seal token names, and once an envelope under the
//! new key has opened, `sealing.next.key` is renamed over `sealing.key` (the old key
//! is then gone, as intended: envelopes sealed to it are no longer accepted on chain).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use daas_protocol::keys::{KeyError, KeyRole, ensure_distinct};
use daas_protocol::node_id::NodeIdError;
use daas_protocol::{
    Address, DeviceKeys, NodeId, ObjectId, SealToken, SealingKey, SealingPublicKey, bundle,
};
use thiserror::Error;

use crate::fsx;

/// The pending (rotated, not yet proven) sealing key's file name.
pub const NEXT_SEALING_FILE: &str = "sealing.next.key";

/// A device identity problem, naming the file and the fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// A key file.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Another file operation.
    #[error(transparent)]
    Fs(#[from] fsx::FsError),
    /// No keys yet.
    #[error(
        "no device keys in {}: run `daas-agent init --label <label> --dir {}` (or provide a first-boot bundle)",
        dir.display(), dir.display()
    )]
    NoKeys {
        /// The key directory.
        dir: PathBuf,
    },
    /// No label anywhere.
    #[error(
        "no node_id label: {} does not exist and agent.toml sets no `label`; run `daas-agent init --label <label>`",
        path.display()
    )]
    NoLabel {
        /// The node_id file.
        path: PathBuf,
    },
    /// The node_id file is unusable.
    #[error("{}: {source}", path.display())]
    NodeIdFile {
        /// The node_id file.
        path: PathBuf,
        /// Why.
        source: NodeIdError,
    },
    /// The config's label and the node_id file disagree.
    #[error(
        "agent.toml sets label {config:?} but {} says {file:?}: fix `label` (or remove it to use the file)",
        path.display()
    )]
    LabelMismatch {
        /// The label in the config.
        config: String,
        /// The label in the file.
        file: String,
        /// The node_id file.
        path: PathBuf,
    },
    /// An invalid label given on the command line.
    #[error("label: {0}")]
    Label(NodeIdError),
    /// A seal token could not be made.
    #[error("seal token: {0}")]
    SealToken(#[from] daas_protocol::seal_token::SealTokenError),
    /// Reading or writing the key directory.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The device's keys and node_id, as `run` uses them.
pub struct Device {
    /// The key directory.
    pub dir: PathBuf,
    /// Identity and current sealing key.
    pub keys: DeviceKeys,
    /// A rotated sealing key not yet proven by an opened envelope.
    pub next_sealing: Option<SealingKey>,
    /// `<label>-<fingerprint>`.
    pub node_id: NodeId,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("dir", &self.dir)
            .field("node_id", &self.node_id)
            .field("next_sealing", &self.next_sealing.is_some())
            .finish_non_exhaustive()
    }
}

/// What `init` did.
#[derive(Debug)]
pub struct InitOutcome {
    /// The device.
    pub device: Device,
    /// Whether new keys were generated (false: existing keys were kept).
    pub created: bool,
    /// Where `--force` moved the old keys.
    pub retired_to: Option<PathBuf>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DeviceError + '_ {
    move |source| DeviceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `<dir>/node_id`.
pub fn node_id_path(dir: &Path) -> PathBuf {
    dir.join(bundle::NODE_ID_FILE)
}

/// Reads the node_id file (None when it does not exist).
pub fn read_node_id_file(dir: &Path) -> Result<Option<NodeId>, DeviceError> {
    let path = node_id_path(dir);
    match fs::read_to_string(&path) {
        Ok(s) => NodeId::parse(s.trim())
            .map(Some)
            .map_err(|source| DeviceError::NodeIdFile { path, source }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path)(e)),
    }
}

fn write_node_id_file(dir: &Path, node_id: &NodeId) -> Result<(), DeviceError> {
    fsx::write_atomic(&node_id_path(dir), format!("{node_id}\n").as_bytes(), 0o644)?;
    Ok(())
}

fn keys_exist(dir: &Path) -> bool {
    dir.join(DeviceKeys::IDENTITY_FILE).exists() || dir.join(DeviceKeys::SEALING_FILE).exists()
}

/// A UTC timestamp for file names: `20260124T153432Z`.
pub fn utc_stamp(ms: u64) -> String {
    let (y, mo, d, h, mi, s) = crate::status::civil(ms);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Moves every key file (and the node_id) into `<dir>/retired-<stamp>/` (0700).
fn retire(dir: &Path, now_ms: u64) -> Result<Option<PathBuf>, DeviceError> {
    let names = [
        DeviceKeys::IDENTITY_FILE,
        DeviceKeys::SEALING_FILE,
        NEXT_SEALING_FILE,
        bundle::NODE_ID_FILE,
    ];
    if !names.iter().any(|n| dir.join(n).exists()) {
        return Ok(None);
    }
    let mut target = dir.join(format!("retired-{}", utc_stamp(now_ms)));
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = dir.join(format!("retired-{}-{n}", utc_stamp(now_ms)));
    }
    fsx::ensure_private_dir(&target)?;
    for name in names {
        let from = dir.join(name);
        if from.exists() {
            fs::rename(&from, target.join(name)).map_err(io_err(&from))?;
        }
    }
    fsx::sync_dir(&target)?;
    fsx::sync_dir(dir)?;
    Ok(Some(target))
}

/// `init`: generates the device keys in `dir` (0700) unless they exist, and writes the
/// node_id file. With `force`, existing keys are moved to a dated folder first, never
/// overwritten. Without it, existing keys are kept (and must match the label's node_id
/// file if there is one).
pub fn init(dir: &Path, label: &str, force: bool, now_ms: u64) -> Result<InitOutcome, DeviceError> {
    daas_protocol::node_id::validate_label(label).map_err(DeviceError::Label)?;
    let retired_to = if force { retire(dir, now_ms)? } else { None };
    let (keys, created) = DeviceKeys::load_or_generate(dir)?;
    let node_id = NodeId::from_label(label, &keys.identity.public()).map_err(DeviceError::Label)?;
    match read_node_id_file(dir)? {
        Some(existing) if existing != node_id => {
            return Err(DeviceError::LabelMismatch {
                config: label.into(),
                file: existing.label().into(),
                path: node_id_path(dir),
            });
        }
        Some(_) => {}
        None => write_node_id_file(dir, &node_id)?,
    }
    let next_sealing = load_next(dir)?;
    Ok(InitOutcome {
        device: Device {
            dir: dir.to_path_buf(),
            keys,
            next_sealing,
            node_id,
        },
        created,
        retired_to,
    })
}

fn load_next(dir: &Path) -> Result<Option<SealingKey>, DeviceError> {
    let p = dir.join(NEXT_SEALING_FILE);
    if p.exists() {
        Ok(Some(SealingKey::load(&p)?))
    } else {
        Ok(None)
    }
}

impl Device {
    /// Loads the device in `dir`; the node_id's label comes from `label` (the config)
    /// or the node_id file, which must agree when both are there.
    pub fn load(dir: &Path, label: Option<&str>) -> Result<Self, DeviceError> {
        if !keys_exist(dir) {
            return Err(DeviceError::NoKeys {
                dir: dir.to_path_buf(),
            });
        }
        let keys = DeviceKeys::load(dir)?;
        let from_file = read_node_id_file(dir)?;
        let identity = keys.identity.public();
        let node_id = match (label, from_file) {
            (Some(l), Some(f)) if f.label() != l => {
                return Err(DeviceError::LabelMismatch {
                    config: l.into(),
                    file: f.label().into(),
                    path: node_id_path(dir),
                });
            }
            (_, Some(f)) => {
                f.check_identity(&identity)
                    .map_err(|source| DeviceError::NodeIdFile {
                        path: node_id_path(dir),
                        source,
                    })?;
                f
            }
            (Some(l), None) => NodeId::from_label(l, &identity).map_err(DeviceError::Label)?,
            (None, None) => {
                return Err(DeviceError::NoLabel {
                    path: node_id_path(dir),
                });
            }
        };
        let next_sealing = load_next(dir)?;
        if let Some(next) = &next_sealing {
            ensure_distinct(&[
                (KeyRole::Identity, &keys.identity.secret_bytes()),
                (KeyRole::Sealing, &keys.sealing.secret_bytes()),
                (KeyRole::Sealing, &next.secret_bytes()),
            ])?;
        }
        Ok(Device {
            dir: dir.to_path_buf(),
            keys,
            next_sealing,
            node_id,
        })
    }

    /// The seal token of the current sealing key for `owner` in `registry`.
    pub fn seal_token(
        &self,
        registry: &ObjectId,
        owner: &Address,
    ) -> Result<SealToken, DeviceError> {
        self.seal_token_for(&self.keys.sealing.public(), registry, owner)
    }

    fn seal_token_for(
        &self,
        sealing: &SealingPublicKey,
        registry: &ObjectId,
        owner: &Address,
    ) -> Result<SealToken, DeviceError> {
        Ok(SealToken::create(
            &self.keys.identity,
            sealing,
            registry,
            owner,
            &self.node_id,
        )?)
    }

    /// `rotate-sealing-key`: creates `sealing.next.key` (or keeps the pending one) and
    /// returns its seal token and whether it was created now.
    pub fn rotate_sealing_key(
        &mut self,
        registry: &ObjectId,
        owner: &Address,
    ) -> Result<(SealToken, bool), DeviceError> {
        let created = match &self.next_sealing {
            Some(_) => false,
            None => {
                let next = SealingKey::generate();
                ensure_distinct(&[
                    (KeyRole::Identity, &self.keys.identity.secret_bytes()),
                    (KeyRole::Sealing, &self.keys.sealing.secret_bytes()),
                    (KeyRole::Sealing, &next.secret_bytes()),
                ])?;
                next.save(&self.dir.join(NEXT_SEALING_FILE))?;
                self.next_sealing = Some(next);
                true
            }
        };
        let public = self.next_sealing.as_ref().expect("set above").public();
        Ok((self.seal_token_for(&public, registry, owner)?, created))
    }

    /// Re-reads `sealing.next.key` (a `rotate-sealing-key` run by another process while
    /// `run` runs); true if a pending key is now known.
    pub fn refresh_next(&mut self) -> Result<bool, DeviceError> {
        if self.next_sealing.is_none() {
            self.next_sealing = load_next(&self.dir)?;
        }
        Ok(self.next_sealing.is_some())
    }

    /// The sealing key whose public half is `public` (current or pending).
    pub fn sealing_key_for(&self, public: &SealingPublicKey) -> Option<(&SealingKey, bool)> {
        if self.keys.sealing.public() == *public {
            return Some((&self.keys.sealing, false));
        }
        self.next_sealing
            .as_ref()
            .filter(|k| k.public() == *public)
            .map(|k| (k, true))
    }

    /// Makes the pending sealing key the current one (after an envelope sealed to it
    /// opened): renames `sealing.next.key` over `sealing.key` and syncs the directory.
    pub fn promote_next_sealing_key(&mut self) -> Result<(), DeviceError> {
        let Some(next) = self.next_sealing.take() else {
            return Ok(());
        };
        let from = self.dir.join(NEXT_SEALING_FILE);
        fs::rename(&from, self.dir.join(DeviceKeys::SEALING_FILE)).map_err(io_err(&from))?;
        fsx::sync_dir(&self.dir)?;
        self.keys.sealing = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_keys_and_node_id_and_keeps_them_on_a_second_run() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("k8s-daas");
        let first = init(&dir, "rpi", false, 0).unwrap();
        assert!(first.created);
        let node_id = first.device.node_id.clone();
        assert!(node_id.as_str().starts_with("rpi-"));
        assert_eq!(read_node_id_file(&dir).unwrap().as_ref(), Some(&node_id));
        let again = init(&dir, "rpi", false, 0).unwrap();
        assert!(!again.created);
        assert_eq!(again.device.node_id, node_id);
        let other_label = init(&dir, "edge", false, 0).unwrap_err().to_string();
        assert!(other_label.contains("\"rpi\""), "{other_label}");
        let loaded = Device::load(&dir, None).unwrap();
        assert_eq!(loaded.node_id, node_id);
        let e = Device::load(&dir, Some("edge")).unwrap_err().to_string();
        assert!(e.contains("`label`"), "{e}");
    }

    #[test]
    fn force_moves_the_old_keys_aside_never_overwriting_them() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("k");
        let first = init(&dir, "rpi", false, 0).unwrap();
        let old_identity = fs::read(dir.join(DeviceKeys::IDENTITY_FILE)).unwrap();
        let second = init(&dir, "rpi", true, 1_769_268_872_000).unwrap();
        assert!(second.created);
        assert_ne!(first.device.node_id, second.device.node_id);
        let retired = second.retired_to.unwrap();
        assert!(retired.ends_with("retired-20260124T153432Z"), "{retired:?}");
        assert_eq!(
            fs::read(retired.join(DeviceKeys::IDENTITY_FILE)).unwrap(),
            old_identity
        );
        let third = init(&dir, "rpi", true, 1_769_268_872_000).unwrap();
        assert!(
            third
                .retired_to
                .unwrap()
                .ends_with("retired-20260124T153432Z-2")
        );
    }

    #[test]
    fn rotation_keeps_both_keys_until_the_new_one_is_promoted() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("k");
        let mut dev = init(&dir, "rpi", false, 0).unwrap().device;
        let registry = ObjectId::from_u64(7);
        let owner = Address::from_u64(9);
        let old = dev.keys.sealing.public();
        let (token, created) = dev.rotate_sealing_key(&registry, &owner).unwrap();
        assert!(created);
        token.verify(&registry, &owner, &dev.node_id).unwrap();
        let new = *token.sealing();
        assert_ne!(new, old);
        let (again, created) = dev.rotate_sealing_key(&registry, &owner).unwrap();
        assert!(!created);
        assert_eq!(*again.sealing(), new);
        let reloaded = Device::load(&dir, None).unwrap();
        assert_eq!(reloaded.sealing_key_for(&old).map(|(_, n)| n), Some(false));
        assert_eq!(reloaded.sealing_key_for(&new).map(|(_, n)| n), Some(true));
        dev.promote_next_sealing_key().unwrap();
        let after = Device::load(&dir, None).unwrap();
        assert_eq!(after.keys.sealing.public(), new);
        assert!(after.next_sealing.is_none());
        assert!(after.sealing_key_for(&old).is_none());
    }
}
