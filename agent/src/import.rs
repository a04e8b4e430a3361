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
//! after the copy finishes by wiping). The one exception is an installed config that is
//! still the unconfigured template a package ships (a value still [`TEMPLATE_MARKER`],
//! which the agent refuses to run with): the bundle's config replaces it atomically
//! (0644) and the report says so.
//!
//! Without `--boot-dir`, [`find_bundle`] looks in [`bundle::DEFAULT_BOOT_DIRS`] in order
//! (`/boot/k8s-daas`, then `/boot/firmware/k8s-daas`).

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

/// The placeholder the shipped `agent.toml` templates carry in every value an operator
/// must set (`root_public_key = "0xREPLACE_ME"`, …).
pub const TEMPLATE_MARKER: &str = "REPLACE_ME";

/// Whether `text` is an unconfigured template: a line that is not a comment still holds
/// [`TEMPLATE_MARKER`]. (A comment naming the marker alone does not count: a config the
/// operator finished is never taken for a template.)
pub fn is_unconfigured_template(text: &[u8]) -> bool {
    String::from_utf8_lossy(text).lines().any(|line| {
        let line = line.trim_start();
        !line.starts_with('#') && line.contains(TEMPLATE_MARKER)
    })
}

/// The first of `dirs` that holds a bundle ([`bundle_present`]).
pub fn find_bundle<P: AsRef<Path>>(dirs: &[P]) -> Option<PathBuf> {
    dirs.iter()
        .map(AsRef::as_ref)
        .find(|d| bundle_present(d))
        .map(Path::to_path_buf)
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
    /// The config written replaced an unconfigured template ([`is_unconfigured_template`]).
    pub replaced_template: bool,
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
    // A packaged template still waiting for its values is replaced, never merged.
    let template = installed_config
        .as_deref()
        .is_some_and(is_unconfigured_template);
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
        && !template
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
    match (&bundle_config, &installed_config) {
        (Some(text), None) => {
            if let Some(dir) = config_path.parent() {
                fsx::ensure_dir(dir, 0o755)?;
            }
            report.config_installed = fsx::create_new(config_path, text, 0o644)?;
        }
        (Some(text), Some(installed)) if template && text != installed => {
            fsx::write_atomic(config_path, text, 0o644)?;
            report.config_installed = true;
            report.replaced_template = true;
        }
        _ => {}
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A bundle (keys, node_id, config) in `boot`, with its key dir `key_dir`.
    fn write_bundle(boot: &Path, key_dir: &Path) -> String {
        let keys = DeviceKeys::generate();
        let staging = tempfile::tempdir().unwrap();
        keys.save(&staging.path().join("k")).unwrap();
        fs::create_dir_all(boot).unwrap();
        for f in bundle::SECRET_FILES {
            fs::copy(staging.path().join("k").join(f), boot.join(f)).unwrap();
        }
        let node_id = NodeId::from_label("deb-1", &keys.identity.public()).unwrap();
        fs::write(boot.join(bundle::NODE_ID_FILE), format!("{node_id}\n")).unwrap();
        let config = format!(
            "root_public_key = \"0x{}\"\nkey_dir = \"{}\"\n\n[chain]\nchain_id = \"4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S\"\nendpoints = [\"https://a.example/graphql\", \"https://b.example/graphql\"]\npackage_id = \"0x{}\"\nregistry_id = \"0x{}\"\n",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            key_dir.display(),
            "22".repeat(32),
            "33".repeat(32),
        );
        AgentConfig::parse(&config, "test").expect("the test's bundle config is valid");
        fs::write(boot.join(bundle::CONFIG_FILE), &config).unwrap();
        config
    }

    const TEMPLATE: &str = "# replace every REPLACE_ME\nroot_public_key = \"0xREPLACE_ME\"\n\n[chain]\nchain_id = \"REPLACE_ME\"\n";

    #[test]
    fn a_template_is_recognised_by_a_value_still_replace_me_not_by_a_comment() {
        assert!(is_unconfigured_template(TEMPLATE.as_bytes()));
        assert!(is_unconfigured_template(
            b"  endpoints = [\"REPLACE_ME\"]\n"
        ));
        assert!(!is_unconfigured_template(
            b"# once every REPLACE_ME is replaced:\nroot_public_key = \"0x11\"\n"
        ));
        assert!(!is_unconfigured_template(b""));
    }

    /// A bundle in `<tmp>/boot` (keys for `<tmp>/keys`) and an installed
    /// `<tmp>/etc/agent.toml` made by `installed` from the bundle's config.
    struct Installed {
        t: tempfile::TempDir,
        bundle_config: String,
        config: PathBuf,
        text: String,
    }

    fn installed(make: impl Fn(&str) -> String) -> Installed {
        let t = tempfile::tempdir().unwrap();
        let bundle_config = write_bundle(&t.path().join("boot"), &t.path().join("keys"));
        fs::create_dir_all(t.path().join("etc")).unwrap();
        let config = t.path().join("etc/agent.toml");
        let text = make(&bundle_config);
        fs::write(&config, &text).unwrap();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
        Installed {
            t,
            bundle_config,
            config,
            text,
        }
    }

    #[test]
    fn the_packaged_template_is_replaced_by_the_bundles_config() {
        let i = installed(|_| TEMPLATE.to_string());
        let boot = i.t.path().join("boot");

        let report = import(&boot, &i.config).unwrap().expect("a bundle");
        assert!(
            report.config_installed && report.replaced_template,
            "{report:?}"
        );
        assert!(report.keys_installed);
        assert_eq!(fs::read_to_string(&i.config).unwrap(), i.bundle_config);
        assert_eq!(
            fs::metadata(&i.config).unwrap().permissions().mode() & 0o7777,
            0o644
        );
        // Nothing but the config in etc/ (the temporary file was renamed into place).
        assert_eq!(fs::read_dir(i.t.path().join("etc")).unwrap().count(), 1);
        assert!(!boot.join(bundle::CONFIG_FILE).exists());
    }

    #[test]
    fn a_configured_config_is_still_never_replaced() {
        // The operator's own config: valid, a comment still mentions the marker.
        let i =
            installed(|b| format!("# was: REPLACE_ME\n{}", b.replace("a.example", "c.example")));
        let boot = i.t.path().join("boot");

        let err = import(&boot, &i.config).unwrap_err();
        assert!(matches!(err, ImportError::ConfigExists { .. }), "{err}");
        assert!(err.to_string().contains("refusing to replace it"), "{err}");
        assert_eq!(fs::read_to_string(&i.config).unwrap(), i.text);
        assert!(
            !i.t.path().join("keys").exists(),
            "nothing written when refused"
        );
        assert!(
            boot.join(bundle::IDENTITY_KEY_FILE).exists(),
            "the bundle is left"
        );
    }

    #[test]
    fn without_boot_dir_the_first_folder_holding_a_bundle_is_used() {
        let t = tempfile::tempdir().unwrap();
        let boot = t.path().join("boot/k8s-daas");
        let firmware = t.path().join("boot/firmware/k8s-daas");
        let dirs = [boot.clone(), firmware.clone()];
        assert_eq!(find_bundle(&dirs), None);
        // Only /boot/firmware holds one (Raspberry Pi OS, Debian raspi): that one.
        write_bundle(&firmware, &t.path().join("keys"));
        fs::create_dir_all(&boot).unwrap();
        fs::write(boot.join(bundle::README_FILE), "left after an import\n").unwrap();
        assert_eq!(find_bundle(&dirs), Some(firmware.clone()));
        // Both: /boot first.
        write_bundle(&boot, &t.path().join("keys"));
        assert_eq!(find_bundle(&dirs), Some(boot));
    }
}
