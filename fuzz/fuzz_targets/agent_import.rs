//! The first-boot bundle `daas-agent import` reads from the boot partition (agent.toml,
//! identity.key, sealing.key, node_id), run for real on files in a private temporary
//! directory. Input: a flags byte, then the config text, identity file, sealing file and
//! node_id file separated by NUL bytes. The key directory is always the temporary one
//! (the harness puts `key_dir` first in every config it writes and always provides a
//! config, so nothing can reach the default `/var/lib/k8s-daas`).
//!
//! Checked: no panic; the key directory never ends up with one key file without the
//! other; after a success the installed keys load, the secret files are gone from the
//! bundle, and a second import finds no bundle.
#![no_main]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use daas_agent::import;
use daas_protocol::bundle;
use daas_protocol::keys::{DeviceKeys, read_private_file};
use daas_protocol::{IdentityKey, NodeId};
use libfuzzer_sys::fuzz_target;

const ROOT: &str = "0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const BODY: &str = "root_public_key = \"ROOT\"\n[chain]\nchain_id = \"4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S\"\nendpoints = [\"https://a.example/graphql\"]\npackage_id = \"0x2a\"\nregistry_id = \"0x2b\"\n";

fn base() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    // On tmpfs where there is one: the import syncs every file it writes.
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary directory")
    })
    .path()
}

fn fresh(dir: &Path, mode: u32) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == 0);
    let config_text = parts.next().unwrap_or_default();
    let (id, seal, node) = (parts.next(), parts.next(), parts.next());

    let (boot, keys, etc) = (base().join("boot"), base().join("keys"), base().join("etc"));
    fresh(&boot, 0o755);
    fresh(&keys, 0o700);
    fresh(&etc, 0o755);
    let prefix = format!("key_dir = {:?}\n", keys.display().to_string());
    let valid = format!("{prefix}{}", BODY.replace("ROOT", ROOT));
    let mut bundle_config = prefix.into_bytes();
    bundle_config.extend_from_slice(config_text);
    let config_path = etc.join("agent.toml");
    let bundle_has_config = flags & 1 != 0;
    if bundle_has_config {
        fs::write(boot.join(bundle::CONFIG_FILE), &bundle_config).unwrap();
    }
    if flags & 2 != 0 || !bundle_has_config {
        let installed = if flags & 32 != 0 {
            &bundle_config
        } else {
            valid.as_bytes()
        };
        fs::write(&config_path, installed).unwrap();
    }
    if flags & 4 != 0 {
        fs::write(boot.join(bundle::IDENTITY_KEY_FILE), id.unwrap_or_default()).unwrap();
    }
    if flags & 8 != 0 {
        fs::write(
            boot.join(bundle::SEALING_KEY_FILE),
            seal.unwrap_or_default(),
        )
        .unwrap();
    }
    if flags & 16 != 0 {
        let mut text = node.unwrap_or_default().to_vec();
        if flags & 64 != 0 {
            // The node_id of the bundle's identity key, with the input as its label.
            let label = String::from_utf8_lossy(&text).into_owned();
            let bundle_id = boot.join(bundle::IDENTITY_KEY_FILE);
            if let Ok(k) = IdentityKey::load(&bundle_id)
                && let Ok(n) = NodeId::from_label(&label, &k.public())
            {
                text = n.as_str().as_bytes().to_vec();
            }
        }
        fs::write(boot.join(bundle::NODE_ID_FILE), text).unwrap();
    }

    let result = import::import(&boot, &config_path);
    let present = |p: PathBuf| p.exists();
    let (id_in, seal_in) = (
        present(keys.join(DeviceKeys::IDENTITY_FILE)),
        present(keys.join(DeviceKeys::SEALING_FILE)),
    );
    assert_eq!(id_in, seal_in, "one key file without the other: {result:?}");
    if let Ok(Some(report)) = &result {
        assert_eq!(report.key_dir, keys);
        if report.keys_installed {
            DeviceKeys::load(&keys).expect("installed keys load");
            assert!(read_private_file(&keys.join(DeviceKeys::IDENTITY_FILE)).is_ok());
        }
        for f in bundle::SECRET_FILES {
            assert!(!boot.join(f).exists(), "{f} left on the boot partition");
        }
        assert!(matches!(import::import(&boot, &config_path), Ok(None)));
    }
});
