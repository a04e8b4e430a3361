//! The first-boot bundle: the files a fleet tool (`daas-master fleet keygen`, image
//! stamping) writes onto a device's boot partition and that `daas-agent import` (also
//! run by `daas-agent run` at start) moves into place once, then wipes.
//!
//! ```text
//! /boot/k8s-daas/            DEFAULT_BOOT_DIR (FAT: no modes, readable by anyone with the card;
//!                            FIRMWARE_BOOT_DIR where the OS mounts it at /boot/firmware)
//!   agent.toml               CONFIG_FILE        → /etc/k8s-daas/agent.toml (0644)
//!   identity.key             IDENTITY_KEY_FILE  → <key_dir>/identity.key (0600, dir 0700)
//!   sealing.key              SEALING_KEY_FILE   → <key_dir>/sealing.key  (0600)
//!   node_id                  NODE_ID_FILE       → <key_dir>/node_id (0644): `<label>-<fp>`
//!   seal-token               SEAL_TOKEN_FILE    the 0x-hex seal token, for the owner (not secret)
//!   README.txt               README_FILE        what the folder is; left in place
//! ```
//!
//! The key files use the format of [`crate::keys`]. Secret files in the bundle
//! ([`SECRET_FILES`]) are overwritten with zeros, synced and removed after the import
//! ([`crate::keys::wipe_file`]). Image stamping writes the folder as [`PARTITION_DIR`] in
//! the root of the image's first FAT partition; `README.txt` holds [`readme`].

use crate::keys::DeviceKeys;

/// Where the bundle sits on a board's boot partition mounted at `/boot` (Yocto images).
pub const DEFAULT_BOOT_DIR: &str = "/boot/k8s-daas";
/// Where the bundle sits when the OS mounts the FAT boot partition at `/boot/firmware`
/// (Raspberry Pi OS since bookworm, Debian's raspi images).
pub const FIRMWARE_BOOT_DIR: &str = "/boot/firmware/k8s-daas";
/// Where `daas-agent run`/`import` look without `--boot-dir`, in this order: the first
/// that holds a bundle is imported.
pub const DEFAULT_BOOT_DIRS: [&str; 2] = [DEFAULT_BOOT_DIR, FIRMWARE_BOOT_DIR];
/// The bundle's folder in the root of the boot (FAT) partition: the last component of
/// [`DEFAULT_BOOT_DIR`], where image stamping writes it.
pub const PARTITION_DIR: &str = "k8s-daas";
/// The agent's config (`daas-agent run --config`'s default destination).
pub const CONFIG_FILE: &str = "agent.toml";
/// The device identity key (Ed25519), in the key-file format of [`crate::keys`].
pub const IDENTITY_KEY_FILE: &str = DeviceKeys::IDENTITY_FILE;
/// The device sealing key (X25519), in the key-file format of [`crate::keys`].
pub const SEALING_KEY_FILE: &str = DeviceKeys::SEALING_FILE;
/// The node_id (`<label>-<fingerprint>`, one line). Also kept in the key directory.
pub const NODE_ID_FILE: &str = "node_id";
/// The seal token as one line of `0x` hex (public: the owner registers it on chain).
pub const SEAL_TOKEN_FILE: &str = "seal-token";
/// A short human-readable note on what the folder is for.
pub const README_FILE: &str = "README.txt";
/// The files holding secrets: zeroed, synced and removed once imported.
pub const SECRET_FILES: [&str; 2] = [IDENTITY_KEY_FILE, SEALING_KEY_FILE];
/// Every file of a bundle, in the order tools write them.
pub const ALL_FILES: [&str; 6] = [
    CONFIG_FILE,
    IDENTITY_KEY_FILE,
    SEALING_KEY_FILE,
    NODE_ID_FILE,
    SEAL_TOKEN_FILE,
    README_FILE,
];

/// The text of [`README_FILE`] for the device `node_id`.
pub fn readme(node_id: &str) -> String {
    format!(
        "k8s-daas first-boot bundle for device {node_id}

This folder holds the PRIVATE KEYS of that one device (identity.key, sealing.key),
its agent.toml, its node_id and its seal token. On the first boot, `daas-agent import`
(also run by `daas-agent run` at start) moves the keys to /var/lib/k8s-daas (0600),
the config to /etc/k8s-daas/agent.toml, then overwrites the key files here with
zeros and removes them, with everything but this note.

Until that first boot, anyone holding this card or a copy of this folder holds the
device's identity: keep it as you would a key, never copy it to another card, and
boot the board soon after flashing. After the first boot only this note remains.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_plain_file_names() {
        let all = ALL_FILES;
        for dir in DEFAULT_BOOT_DIRS {
            assert!(dir.ends_with(&format!("/{PARTITION_DIR}")), "{dir}");
        }
        assert!(readme("pi-001-0123456789abcdef").contains("pi-001-0123456789abcdef"));
        for (i, a) in all.iter().enumerate() {
            assert!(!a.contains('/') && !a.is_empty(), "{a}");
            assert!(!all[i + 1..].contains(a), "{a} twice");
        }
        assert_eq!(
            SECRET_FILES,
            [DeviceKeys::IDENTITY_FILE, DeviceKeys::SEALING_FILE]
        );
    }
}
