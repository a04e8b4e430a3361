//! The first-boot import (`daas-agent import --boot-dir DIR`, also run by `run` at
//! start): a bundle written by the fleet tooling onto the boot partition (file names in
//! [`daas_protocol::bundle`]) is moved into place once — keys into the key directory
//! (0600, directory 0700), `agent.toml` to the config path (0644), the node_id beside
//! the keys — and then the FAT copies of the secrets are overwritten with zeros,
//! synced and removed (the other bundle files are removed, the README stays).
//!
//! Everything is checked before anything is written: the bundle's config must be
//! valid (the error names the field), both key files must be there and load, and an
//! existing key or config is never replaced — the import is refused and says so (keys
//! identical to the installed ones count as already imported, so an import interrupted
//! after the copy finishes by wiping).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use daas_protocol::config::ConfigError;
use daas_protocol::keys::{KeyError, write_private_file};
use daas_protocol::{DeviceKeys, NodeId, bundle};
use thiserror::Error;

use crate::config::{AgentConfig, DEFAULT_KEY_DIR};
use crate::fsx;

/// Why a bundle was not imported.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The bundle's `agent.toml` is invalid.
    #[error("first-boot bundle: {0}")]
    Config(#[from] ConfigError),
    /// Only one of the two key files.
    #[error(
        "first-boot bundle {} has {present} but not {missing}: the fleet tool writes both; re-create the bundle",
        dir.display()
    )]
    PartialBundle {
        /// The bundle.
        dir: PathBuf,
        /// The file that is there.
        present: &'static str,
        /// The file that is missing.
        missing: &'static str,
    },
    /// The bundle's keys do not load.
    #[error("first-boot bundle keys: {0}")]
    Keys(#[from] KeyError),
    /// The device already has other keys.
    #[error(
        "the device already has keys in {} that differ from the first-boot bundle's: refusing to overwrite a key; remove {} from the boot partition to keep the installed identity, or move {} away to take the bundle's",
        key_dir.display(), bundle.display(), key_dir.display()
    )]
    KeysExist {
        /// The installed key directory.
        key_dir: PathBuf,
        /// The bundle.
        bundle: PathBuf,
    },
    /// The device already has another config.
    #[error(
        "{} already exists and differs from the first-boot bundle's {}: refusing to replace it; remove one of them",
        config.display(), bundle_config.display()
    )]
    ConfigExists {
        /// The installed config.
        config: PathBuf,
        /// The bundle's config.
        bundle_config: PathBuf,
    },
    /// The bundle's node_id does not name its identity key.
    #[error("first-boot bundle {}: {reason}", path.display())]
    NodeId {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file operation.
    #[error(transparent)]
    Fs(#[from] fsx::FsError),
    /// Reading the bundle.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Keys written into the key directory (false: they were already there).
    pub keys_installed: bool,
    /// The key directory.
    pub key_dir: PathBuf,
    /// Config written (false: none in the bundle, or identical).
    pub config_installed: bool,
    /// The node_id, when the bundle had one.
    pub node_id: Option<String>,
    /// Files overwritten with zeros and removed.
    pub wiped: Vec<PathBuf>,
}

fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, ImportError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ImportError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether `boot_dir` holds a bundle (a config or a key file).
pub fn bundle_present(boot_dir: &Path) -> bool {
    [
        bundle::CONFIG_FILE,
        bundle::IDENTITY_KEY_FILE,
        bundle::SEALING_KEY_FILE,
    ]
    .iter()
    .any(|f| boot_dir.join(f).exists())
}

/// Imports the bundle in `boot_dir`, installing its config at `config_path`.
/// `Ok(None)`: no bundle there.
pub fn import(boot_dir: &Path, config_path: &Path) -> Result<Option<ImportReport>, ImportError> {
    if !bundle_present(boot_dir) {
        return Ok(None);
    }
    let bundle_config_path = boot_dir.join(bundle::CONFIG_FILE);
    let bundle_config = read_opt(&bundle_config_path)?;
    let installed_config = read_opt(config_path)?;
    // Where the keys go: the bundle's config, else the installed one, else the default.
    let key_dir = match (&bundle_config, &installed_config) {
        (Some(text), _) => {
            let text = String::from_utf8_lossy(text);
            AgentConfig::parse(&text, &bundle_config_path.display().to_string())?.key_dir
        }
        (None, Some(_)) => AgentConfig::load(config_path)?.key_dir,
        (None, None) => PathBuf::from(DEFAULT_KEY_DIR),
    };
    if let (Some(b), Some(i)) = (&bundle_config, &installed_config)
        && b != i
    {
        return Err(ImportError::ConfigExists {
            config: config_path.to_path_buf(),
            bundle_config: bundle_config_path,
        });
    }
    let id_path = boot_dir.join(bundle::IDENTITY_KEY_FILE);
    let seal_path = boot_dir.join(bundle::SEALING_KEY_FILE);
    let id = read_opt(&id_path)?;
    let seal = read_opt(&seal_path)?;
    let keys = match (id, seal) {
        (Some(i), Some(s)) => Some((zeroize::Zeroizing::new(i), zeroize::Zeroizing::new(s))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ImportError::PartialBundle {
                dir: boot_dir.into(),
                present: bundle::IDENTITY_KEY_FILE,
                missing: bundle::SEALING_KEY_FILE,
            });
        }
        (None, Some(_)) => {
            return Err(ImportError::PartialBundle {
                dir: boot_dir.into(),
                present: bundle::SEALING_KEY_FILE,
                missing: bundle::IDENTITY_KEY_FILE,
            });
        }
    };
    let installed_id = key_dir.join(DeviceKeys::IDENTITY_FILE);
    let installed_seal = key_dir.join(DeviceKeys::SEALING_FILE);
    let mut report = ImportReport {
        key_dir: key_dir.clone(),
        ..ImportReport::default()
    };
    if let Some((id, seal)) = &keys {
        let have_id = read_opt(&installed_id)?;
        let have_seal = read_opt(&installed_seal)?;
        match (have_id, have_seal) {
            (None, None) => {
                write_private_file(&installed_id, id)?;
                if let Err(e) = write_private_file(&installed_seal, seal) {
                    let _ = fs::remove_file(&installed_id);
                    return Err(e.into());
                }
                if let Err(e) = DeviceKeys::load(&key_dir) {
                    let _ = fs::remove_file(&installed_id);
                    let _ = fs::remove_file(&installed_seal);
                    return Err(e.into());
                }
                report.keys_installed = true;
            }
            (Some(a), Some(b))
                if a.as_slice() == id.as_slice() && b.as_slice() == seal.as_slice() => {}
            _ => {
                return Err(ImportError::KeysExist {
                    key_dir,
                    bundle: boot_dir.into(),
                });
            }
        }
    }
    let node_id_path = boot_dir.join(bundle::NODE_ID_FILE);
    if let Some(text) = read_opt(&node_id_path)? {
        let text = String::from_utf8_lossy(&text).trim().to_string();
        let node_id = NodeId::parse(&text).map_err(|e| ImportError::NodeId {
            path: node_id_path.clone(),
            reason: e.to_string(),
        })?;
        if let Ok(keys) = DeviceKeys::load(&key_dir) {
            node_id
                .check_identity(&keys.identity.public())
                .map_err(|e| ImportError::NodeId {
                    path: node_id_path.clone(),
                    reason: e.to_string(),
                })?;
        }
        let target = key_dir.join(bundle::NODE_ID_FILE);
        match read_opt(&target)? {
            Some(existing) if String::from_utf8_lossy(&existing).trim() != text => {
                return Err(ImportError::NodeId {
                    path: node_id_path,
                    reason: format!(
                        "it says {text} but {} says {}: remove one of them",
                        target.display(),
                        String::from_utf8_lossy(&existing).trim()
                    ),
                });
            }
            Some(_) => {}
            None => {
                fsx::create_new(&target, format!("{text}\n").as_bytes(), 0o644)?;
            }
        }
        report.node_id = Some(text);
    }
    if let (Some(text), None) = (&bundle_config, &installed_config) {
        if let Some(dir) = config_path.parent() {
            fsx::ensure_dir(dir, 0o755)?;
        }
        report.config_installed = fsx::create_new(config_path, text, 0o644)?;
    }
    // Everything is in place: wipe the secrets on the boot partition, drop the rest.
    for name in bundle::SECRET_FILES {
        let p = boot_dir.join(name);
        if p.exists() {
            fsx::wipe(&p)?;
            report.wiped.push(p);
        }
    }
    for name in [
        bundle::CONFIG_FILE,
        bundle::NODE_ID_FILE,
        bundle::SEAL_TOKEN_FILE,
    ] {
        fsx::remove_if_exists(&boot_dir.join(name))?;
    }
    fsx::sync_dir(boot_dir)?;
    Ok(Some(report))
}
