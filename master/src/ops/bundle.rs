//! First-boot bundles on the operator's disk: one folder per device (0700) holding the
//! files `daas-agent import` reads (names in `daas_protocol::bundle`), written by
//! `fleet keygen`, read by `image stamp`, `fleet register` and `fleet stamp`.
//!
//! ```text
//! DIR/<node_id>/          0700
//!   identity.key          0600  `k8s-daas-key v1 identity …` (daas_protocol::keys)
//!   sealing.key           0600  `k8s-daas-key v1 sealing …`
//!   node_id               0644  `<label>-<fingerprint>`
//!   seal-token            0644  0x-hex, for (registry, owner, node_id)
//!   agent.toml            0644  root_public_key + the [chain] table
//!   README.txt            0644  daas_protocol::bundle::readme
//! ```
//!
//! The keys are made and written by the same code the agent reads them with
//! (`DeviceKeys::generate`/`save`, `NodeId::from_label`, `SealToken::create`), so a
//! bundle is exactly what `daas-agent init` would have left in `/var/lib/k8s-daas`. A
//! bundle is written in a hidden temporary folder and renamed into place complete, so
//! a crash never leaves a half bundle under a device's name.
//!
//! What it must never do: print a private key, or leave one readable by group or others.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use daas_protocol::config::{ChainConfig, ConfigError};
use daas_protocol::keys::{self, KeyError};
use daas_protocol::{Address, DeviceKeys, NodeId, RootPublicKey, SealToken, bundle};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a bundle cannot be written or used. Messages name the folder or file and the
/// fix; none carries a secret.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file operation.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file the bundle must have is missing.
    #[error(
        "bundle {} has no {file}: it is not a complete first-boot bundle (make bundles with `daas-master fleet keygen`)",
        dir.display()
    )]
    Missing {
        /// The bundle.
        dir: PathBuf,
        /// The missing file.
        file: &'static str,
    },
    /// The private keys were removed (`fleet stamp` did, once its image was written).
    #[error(
        "bundle {} holds no private keys any more: `fleet stamp` removed them once its image was written (that image is now the only copy); make a new bundle for a new card",
        dir.display()
    )]
    KeysRemoved {
        /// The bundle.
        dir: PathBuf,
    },
    /// A file that does not say what it should.
    #[error("bundle file {}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key file (modes, owner, format).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The bundle's `agent.toml`.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The part of a bundle's `agent.toml` the fleet tools write and read: the pinned root
/// key and the `[chain]` table (the agent's other settings keep their defaults). Other
/// keys are ignored when reading, so a hand-edited `agent.toml` still reads; the agent
/// itself parses the whole file strictly at import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleConfig {
    /// The operator's root public key the device pins.
    pub root_public_key: RootPublicKey,
    /// The shared `[chain]` table: chain id (pinned), endpoints, package, registry.
    pub chain: ChainConfig,
}

impl BundleConfig {
    /// The `agent.toml` text.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("a bundle config serializes as TOML");
        format!(
            "# k8s-daas agent config, written by `daas-master fleet keygen`; every other key\n# has its default (agent/README.md).\n{body}"
        )
    }
}

/// A bundle's files with their bytes (keys in zeroizing buffers), in
/// `daas_protocol::bundle::ALL_FILES` order.
pub type BundleFiles = Vec<(&'static str, Zeroizing<Vec<u8>>)>;

/// A bundle on disk, as read from its public files (the keys stay on disk until
/// [`Bundle::files`] reads them).
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The folder.
    pub dir: PathBuf,
    /// The device's node_id.
    pub node_id: NodeId,
    /// Its seal token.
    pub seal_token: SealToken,
    /// Its `agent.toml` (root key and chain).
    pub config: BundleConfig,
}

fn read_text(dir: &Path, file: &'static str) -> Result<String, BundleError> {
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BundleError::Missing {
            dir: dir.to_path_buf(),
            file,
        }),
        Err(e) => Err(io_err(&path)(e)),
    }
}

impl Bundle {
    /// Reads a bundle's public files and checks that they agree: the node_id names the
    /// seal token's identity key, and the config parses (its `[chain]` validated).
    pub fn read(dir: &Path) -> Result<Bundle, BundleError> {
        let invalid = |file: &str, reason: String| BundleError::Invalid {
            path: dir.join(file),
            reason,
        };
        let node_id = NodeId::parse(read_text(dir, bundle::NODE_ID_FILE)?.trim())
            .map_err(|e| invalid(bundle::NODE_ID_FILE, e.to_string()))?;
        let seal_token = SealToken::from_hex(read_text(dir, bundle::SEAL_TOKEN_FILE)?.trim())
            .map_err(|e| invalid(bundle::SEAL_TOKEN_FILE, e.to_string()))?;
        node_id.check_identity(seal_token.identity()).map_err(|e| {
            invalid(
                bundle::SEAL_TOKEN_FILE,
                format!("{e}: the seal token is not this node_id's device"),
            )
        })?;
        let path = dir.join(bundle::CONFIG_FILE);
        let config: BundleConfig = daas_protocol::config::parse_toml(
            &read_text(dir, bundle::CONFIG_FILE)?,
            &path.display().to_string(),
        )?;
        config.chain.validate("chain")?;
        Ok(Bundle {
            dir: dir.to_path_buf(),
            node_id,
            seal_token,
            config,
        })
    }

    /// Whether the private key files are still there (`fleet stamp` removes them).
    pub fn has_keys(&self) -> bool {
        bundle::SECRET_FILES
            .iter()
            .any(|f| self.dir.join(f).symlink_metadata().is_ok())
    }

    /// Every file of the bundle with its bytes, for writing onto a boot partition. The
    /// key files are read with the key-file checks (this user's, 0600 in a 0700 folder)
    /// and must be the keys the seal token names.
    pub fn files(&self) -> Result<BundleFiles, BundleError> {
        if !self.has_keys() {
            return Err(BundleError::KeysRemoved {
                dir: self.dir.clone(),
            });
        }
        let keys = DeviceKeys::load(&self.dir)?;
        if keys.identity.public() != *self.seal_token.identity()
            || keys.sealing.public() != *self.seal_token.sealing()
        {
            return Err(BundleError::Invalid {
                path: self.dir.join(bundle::SEAL_TOKEN_FILE),
                reason: "the seal token names other keys than the bundle's key files: the bundle was mixed up; make it again".into(),
            });
        }
        let mut out = Vec::with_capacity(bundle::ALL_FILES.len());
        for file in bundle::ALL_FILES {
            let path = self.dir.join(file);
            let bytes = if bundle::SECRET_FILES.contains(&file) {
                keys::read_private_file(&path)?
            } else if file == bundle::README_FILE {
                match fs::read(&path) {
                    Ok(b) => Zeroizing::new(b),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        Zeroizing::new(bundle::readme(self.node_id.as_str()).into_bytes())
                    }
                    Err(e) => return Err(io_err(&path)(e)),
                }
            } else {
                Zeroizing::new(fs::read(&path).map_err(io_err(&path))?)
            };
            out.push((file, bytes));
        }
        Ok(out)
    }

    /// Overwrites the private key files with zeros and removes them (the image written
    /// from this bundle is then the only copy). Returns the files removed.
    pub fn remove_private_keys(&self) -> Result<Vec<PathBuf>, BundleError> {
        let mut removed = Vec::new();
        for file in bundle::SECRET_FILES {
            let path = self.dir.join(file);
            if path.symlink_metadata().is_ok() {
                keys::wipe_file(&path).map_err(io_err(&path))?;
                removed.push(path);
            }
        }
        Ok(removed)
    }
}

/// The bundle folders in `dir` (every sub-folder holding a `node_id` file), sorted by
/// name; hidden folders (temporary ones of an interrupted `keygen`) are skipped.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, BundleError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() && path.join(bundle::NODE_ID_FILE).exists() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Creates `dir` 0700 if missing; an existing one must be a folder open to nobody else.
pub fn ensure_private_dir(dir: &Path) -> Result<(), BundleError> {
    use std::os::unix::fs::PermissionsExt as _;
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(BundleError::Invalid {
            path: dir.to_path_buf(),
            reason: "is not a folder".into(),
        }),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => Err(BundleError::Invalid {
            path: dir.to_path_buf(),
            reason: format!(
                "has mode {:04o}: bundles hold private keys, so the folder must be closed to group and others (`chmod 700 {}`)",
                m.permissions().mode() & 0o7777,
                dir.display()
            ),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir)),
        Err(e) => Err(io_err(dir)(e)),
    }
}

fn write_public(path: &Path, text: &str) -> Result<(), BundleError> {
    use std::io::Write as _;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(text.as_bytes()).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

fn sync_dir(dir: &Path) -> Result<(), BundleError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Makes one device's bundle in `parent` (which must exist, 0700): fresh device keys,
/// the node_id `<label>-<fingerprint>`, the seal token for (registry, owner, node_id)
/// and `agent.toml`. Written into `.<label>.tmp` first, then renamed to `<node_id>`.
pub fn create(
    parent: &Path,
    label: &str,
    owner: &Address,
    config: &BundleConfig,
) -> Result<Bundle, BundleError> {
    let tmp = parent.join(format!(".{label}.tmp"));
    if tmp.symlink_metadata().is_ok() {
        discard(&tmp)?;
    }
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(io_err(&tmp))?;
    let result = (|| {
        let keys = DeviceKeys::generate();
        keys.save(&tmp)?;
        let node_id = NodeId::from_label(label, &keys.identity.public()).map_err(|e| {
            BundleError::Invalid {
                path: tmp.join(bundle::NODE_ID_FILE),
                reason: e.to_string(),
            }
        })?;
        let seal_token = SealToken::create(
            &keys.identity,
            &keys.sealing.public(),
            &config.chain.registry_id,
            owner,
            &node_id,
        )
        .map_err(|e| BundleError::Invalid {
            path: tmp.join(bundle::SEAL_TOKEN_FILE),
            reason: e.to_string(),
        })?;
        write_public(&tmp.join(bundle::NODE_ID_FILE), &format!("{node_id}\n"))?;
        write_public(
            &tmp.join(bundle::SEAL_TOKEN_FILE),
            &format!("{}\n", seal_token.to_hex()),
        )?;
        write_public(&tmp.join(bundle::CONFIG_FILE), &config.to_toml())?;
        write_public(
            &tmp.join(bundle::README_FILE),
            &bundle::readme(node_id.as_str()),
        )?;
        sync_dir(&tmp)?;
        let dir = parent.join(node_id.as_str());
        fs::rename(&tmp, &dir).map_err(io_err(&dir))?;
        sync_dir(parent)?;
        Ok(Bundle {
            dir,
            node_id,
            seal_token,
            config: config.clone(),
        })
    })();
    if result.is_err() {
        let _ = discard(&tmp);
    }
    result
}

/// Removes a temporary bundle folder, wiping any key file in it first.
fn discard(tmp: &Path) -> Result<(), BundleError> {
    for file in bundle::SECRET_FILES {
        let p = tmp.join(file);
        keys::wipe_file(&p).map_err(io_err(&p))?;
    }
    fs::remove_dir_all(tmp).map_err(io_err(tmp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use daas_protocol::ObjectId;
    use daas_protocol::config::TransportKind;
    use std::os::unix::fs::PermissionsExt as _;

    fn config() -> BundleConfig {
        BundleConfig {
            root_public_key: daas_protocol::RootKey::generate().public(),
            chain: ChainConfig::new(
                "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
                    .parse()
                    .unwrap(),
                TransportKind::Graphql,
                vec!["https://a.example/graphql".into()],
                ObjectId::from_u64(0x2a),
                ObjectId::from_u64(0x2b),
            ),
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_bundle_is_written_private_and_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let parent = d.path().join("bundles");
        ensure_private_dir(&parent).unwrap();
        let owner = Address::from_u64(9);
        let cfg = config();
        let b = create(&parent, "pi-001", &owner, &cfg).unwrap();
        assert!(b.node_id.as_str().starts_with("pi-001-"));
        assert_eq!(mode(&b.dir), 0o700);
        for f in bundle::SECRET_FILES {
            assert_eq!(mode(&b.dir.join(f)), 0o600, "{f}");
        }
        b.seal_token
            .verify(&cfg.chain.registry_id, &owner, &b.node_id)
            .unwrap();
        let again = Bundle::read(&b.dir).unwrap();
        assert_eq!(again.node_id, b.node_id);
        assert_eq!(again.config, cfg);
        let files = again.files().unwrap();
        assert_eq!(files.len(), bundle::ALL_FILES.len());
        assert_eq!(list(&parent).unwrap(), vec![b.dir.clone()]);
        assert!(fs::read_dir(&parent).unwrap().count() == 1, "no temp left");
        let removed = again.remove_private_keys().unwrap();
        assert_eq!(removed.len(), 2);
        assert!(!again.has_keys());
        let e = again.files().unwrap_err().to_string();
        assert!(e.contains("only copy"), "{e}");
    }

    #[test]
    fn an_open_bundle_folder_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let parent = d.path().join("open");
        fs::create_dir(&parent).unwrap();
        fs::set_permissions(&parent, fs::Permissions::from_mode(0o755)).unwrap();
        let e = ensure_private_dir(&parent).unwrap_err().to_string();
        assert!(e.contains("chmod 700"), "{e}");
    }
}
