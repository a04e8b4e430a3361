//! The five kinds of key (DESIGN §1) as distinct types, and their key files.
//!
//! | role | algorithm | held by |
//! |---|---|---|
//! | device identity | Ed25519 | the device; signs its seal token |
//! | device sealing | X25519 | the device; opens join envelopes (HPKE) |
//! | envelope | Ed25519 | the master; signs join envelopes, certified by the root key |
//! | root | Ed25519 | the operator, offline; certifies envelope keys |
//! | Sui account | Ed25519, Secp256k1 or Secp256r1 | anyone sending transactions ([`crate::sui::SuiKeypair`]) |
//! | node password | 32-byte secret (HMAC key) | the master (shared by HA masters); derives each Worker's k3s node password (DESIGN §10) |
//!
//! A key of one role cannot be passed where another is expected (each is its own
//! type, and each signs only its own domain-separated messages), a key file names its
//! role and loading it as another role fails, and [`ensure_distinct`] refuses one
//! secret in two roles. Ed25519 public keys of small order (the eight points whose
//! multiples never leave a subgroup of size 8, in any encoding) are refused for every
//! role: a signature under one proves nothing.
//!
//! Key files are `0600` in a `0700` directory (DESIGN §5), owned by the user the
//! process runs as. Reading one opens the directory, checks it on the open descriptor
//! (owned by this user or root, no access for group or others — a directory others
//! can write lets them swap the key, one they can read or search tells them which keys
//! exist and when they change), then opens the file inside it with `O_NOFOLLOW` and
//! checks the opened file (a regular file, owned by this user, no access for group or
//! others): nothing is checked by name and then opened again, so there is no window
//! in which the file can be switched. The decoded secret lives only in zeroizing
//! buffers.
//!
//! Key file format (one line, so an operator can tell files apart with `head -c 30`):
//! `k8s-daas-key v1 <role> <64 hex of the 32-byte secret>\n`.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustix::fs::{Mode, OFlags};

use hpke::kem::{Kem as _, X25519HkdfSha256};
use hpke::{Deserializable, Serializable};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

/// What a key is for. Every key has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyRole {
    /// The device's Ed25519 identity key (names the node_id, signs the seal token).
    Identity,
    /// The device's X25519 sealing key (opens join envelopes).
    Sealing,
    /// The master's Ed25519 envelope key (signs join envelopes).
    Envelope,
    /// The operator's Ed25519 root key (certifies envelope keys).
    Root,
    /// A Sui account key (Ed25519, Secp256k1 or Secp256r1; signs transactions).
    SuiAccount,
    /// The master's 32-byte node-password key (derives per-Worker node passwords).
    NodePassword,
}

impl KeyRole {
    /// The word used in key files and messages.
    pub const fn name(self) -> &'static str {
        match self {
            KeyRole::Identity => "identity",
            KeyRole::Sealing => "sealing",
            KeyRole::Envelope => "envelope",
            KeyRole::Root => "root",
            KeyRole::SuiAccount => "sui-account",
            KeyRole::NodePassword => "node-password",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        [
            KeyRole::Identity,
            KeyRole::Sealing,
            KeyRole::Envelope,
            KeyRole::Root,
            KeyRole::SuiAccount,
            KeyRole::NodePassword,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a key or key file was refused. Messages name the file and the fix, never a secret.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file or its directory could not be read or written.
    #[error("key file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "key file {} has mode {mode:04o}, which lets group or others read it: run `chmod 600 {}` (and consider the key leaked if others could log in)",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key directory is open to group or others.
    #[error(
        "key directory {} has mode {mode:04o}, which lets group or others list or change the keys in it: run `chmod 700 {}`",
        path.display(),
        path.display()
    )]
    DirPermissions {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is a symbolic link (key files are opened with `O_NOFOLLOW`).
    #[error(
        "key file {} is a symbolic link: key files are never read through links; put the file itself there",
        path.display()
    )]
    Symlink {
        /// The file.
        path: PathBuf,
    },
    /// The path is not a regular file.
    #[error("key file {} is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The key file or its directory belongs to another user.
    #[error(
        "key {what} {} belongs to uid {uid}, but this process runs as uid {euid}: run `chown {euid} {}` or run as its owner",
        path.display(),
        path.display()
    )]
    Owner {
        /// `file` or `directory`.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// Who we are.
        euid: u32,
    },
    /// A key file far larger than any key file.
    #[error("key file {} is {len} bytes, more than any key file (at most {max}): check the path", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The file already exists; keys are never overwritten.
    #[error(
        "key file {} already exists: refusing to overwrite a key (move it away first if you really mean to replace it)",
        path.display()
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a key file of this project.
    #[error("key file {} is not a k8s-daas key file ({reason})", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file holds a key of another role.
    #[error(
        "key file {} holds a {found} key, expected a {expected} key: a key is never used in two roles",
        path.display()
    )]
    WrongRole {
        /// The file.
        path: PathBuf,
        /// The role it names.
        found: String,
        /// The role asked for.
        expected: KeyRole,
    },
    /// The same secret was given for two roles.
    #[error(
        "the same key is configured as the {first} key and the {second} key: every role needs its own key"
    )]
    SameKeyTwoRoles {
        /// One role.
        first: KeyRole,
        /// The other.
        second: KeyRole,
    },
    /// Only one of a device's two key files exists.
    #[error(
        "device key directory {} has {present} but not {missing}: restore the missing file from backup, or move both away to make a new device identity",
        dir.display()
    )]
    PartialDevice {
        /// The directory.
        dir: PathBuf,
        /// The file that exists.
        present: &'static str,
        /// The file that is missing.
        missing: &'static str,
    },
    /// A low-order X25519 public key (its shared secret would be predictable).
    #[error(
        "sealing public key is a low-order X25519 point: the device must generate a fresh sealing key"
    )]
    LowOrderSealingKey,
    /// Bytes that are not a valid Ed25519 public key.
    #[error("{role} public key is not a valid Ed25519 point")]
    InvalidPublicKey {
        /// Which key.
        role: KeyRole,
    },
    /// A small-order Ed25519 point: anyone can make signatures that verify under it.
    #[error(
        "{role} public key is a small-order Ed25519 point, under which signatures prove nothing: use a freshly generated key"
    )]
    SmallOrderPublicKey {
        /// Which key.
        role: KeyRole,
    },
    /// Hex that does not decode to 32 bytes.
    #[error("{role} public key: {source}")]
    Hex {
        /// Which key.
        role: KeyRole,
        /// The hex error.
        source: crate::hex::HexError,
    },
}

/// 32 bytes from the OS random source.
pub(crate) fn random_32() -> Zeroizing<[u8; 32]> {
    let mut b = Zeroizing::new([0u8; 32]);
    getrandom::fill(b.as_mut()).expect("the OS random source is available");
    b
}

/// Whether 32 bytes encode one of the eight Ed25519 points of small order (the
/// identity and the torsion points), in any of their encodings: the decompression
/// accepts non-canonical y coordinates (y ≥ p) and both signs of x = 0, as ZIP-215
/// verification does, so every encoding a verifier would take is caught.
pub(crate) fn is_small_order_ed25519(b: &[u8; 32]) -> bool {
    curve25519_dalek::edwards::CompressedEdwardsY(*b)
        .decompress()
        .is_some_and(|p| p.is_small_order())
}

/// ZIP-215 Ed25519 verification, as Sui's `ed25519_verify` and fastcrypto do it.
pub(crate) fn verify_ed25519(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    match ed25519_zebra::VerificationKey::try_from(*public) {
        Ok(vk) => vk
            .verify(&ed25519_zebra::Signature::from_bytes(sig), msg)
            .is_ok(),
        Err(_) => false,
    }
}

/// An Ed25519 secret that zeroizes on drop and never prints.
#[derive(Clone)]
pub(crate) struct Ed25519Secret(ed25519_zebra::SigningKey);

impl Ed25519Secret {
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        let seed = Zeroizing::new(seed);
        Ed25519Secret(ed25519_zebra::SigningKey::from(*seed))
    }
    pub(crate) fn generate() -> Self {
        Self::from_seed(*random_32())
    }
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.0.as_bytes())
    }
    pub(crate) fn public(&self) -> [u8; 32] {
        ed25519_zebra::VerificationKeyBytes::from(&self.0).into()
    }
    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl Drop for Ed25519Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

macro_rules! public_key_type {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name([u8; 32]);

        impl $name {
            /// The raw 32 bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// `0x`-hex.
            pub fn to_hex(&self) -> String {
                crate::hex::encode_0x(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = KeyError;
            fn from_str(s: &str) -> Result<Self, KeyError> {
                let b = crate::hex::decode_array::<32>(s)
                    .map_err(|source| KeyError::Hex { role: $role, source })?;
                Self::from_bytes(b)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

macro_rules! ed25519_role {
    ($(#[$doc:meta])* $key:ident, $(#[$pdoc:meta])* $public:ident, $role:expr) => {
        public_key_type!($(#[$pdoc])* $public, $role);

        impl $public {
            /// From 32 bytes; refuses bytes that are not an Ed25519 point and the
            /// small-order points.
            pub fn from_bytes(b: [u8; 32]) -> Result<Self, KeyError> {
                ed25519_zebra::VerificationKey::try_from(b)
                    .map_err(|_| KeyError::InvalidPublicKey { role: $role })?;
                if is_small_order_ed25519(&b) {
                    return Err(KeyError::SmallOrderPublicKey { role: $role });
                }
                Ok(Self(b))
            }
            /// ZIP-215 verification of `sig` over `msg`.
            pub(crate) fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
                verify_ed25519(&self.0, msg, sig)
            }
        }

        $(#[$doc])*
        #[derive(Clone)]
        pub struct $key(Ed25519Secret);

        impl $key {
            /// The role this key plays.
            pub const ROLE: KeyRole = $role;
            /// A fresh key from the OS random source.
            pub fn generate() -> Self {
                Self(Ed25519Secret::generate())
            }
            /// From the 32-byte Ed25519 seed.
            pub fn from_secret_bytes(seed: [u8; 32]) -> Self {
                Self(Ed25519Secret::from_seed(seed))
            }
            /// The 32-byte seed (zeroized when dropped).
            pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
                self.0.seed()
            }
            /// The public key.
            pub fn public(&self) -> $public {
                $public(self.0.public())
            }
            /// Reads a key file written by [`Self::save`]; refuses files open to group/others.
            pub fn load(path: &Path) -> Result<Self, KeyError> {
                load_key_file(path, $role).map(|s| Self::from_secret_bytes(*s))
            }
            /// Writes a new 0600 key file (the directory is created 0700); never overwrites.
            pub fn save(&self, path: &Path) -> Result<(), KeyError> {
                save_key_file(path, $role, &self.secret_bytes())
            }
            pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
                self.0.sign(msg)
            }
        }

        impl fmt::Debug for $key {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($key), "(public {}, secret redacted)"), self.public())
            }
        }
    };
}

ed25519_role!(
    /// The device's Ed25519 identity key.
    IdentityKey,
    /// The device's identity public key (its fingerprint is in the node_id).
    IdentityPublicKey,
    KeyRole::Identity
);
ed25519_role!(
    /// The master's Ed25519 envelope-signing key.
    EnvelopeKey,
    /// The envelope public key a certificate vouches for.
    EnvelopePublicKey,
    KeyRole::Envelope
);
ed25519_role!(
    /// The operator's Ed25519 root key (kept offline).
    RootKey,
    /// The root public key devices pin.
    RootPublicKey,
    KeyRole::Root
);

type HpkePrivateKey = <X25519HkdfSha256 as hpke::Kem>::PrivateKey;
pub(crate) type HpkePublicKey = <X25519HkdfSha256 as hpke::Kem>::PublicKey;

public_key_type!(
    /// The device's X25519 sealing public key (never low-order).
    SealingPublicKey,
    KeyRole::Sealing
);

/// The canonical u-coordinates of the X25519 points of small order, and the two
/// non-canonical encodings of 0 and 1 (libsodium's list). Compared after masking the
/// top bit, which RFC 7748 ignores.
const LOW_ORDER_U: [[u8; 32]; 7] = {
    let mut p_minus_1 = [0xff; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    let mut one = [0u8; 32];
    one[0] = 1;
    [
        [0u8; 32],
        one,
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
        p_minus_1,
        p,
        p_plus_1,
    ]
};

impl SealingPublicKey {
    /// From 32 bytes; refuses the low-order points.
    pub fn from_bytes(b: [u8; 32]) -> Result<Self, KeyError> {
        let mut masked = b;
        masked[31] &= 0x7f;
        if LOW_ORDER_U.contains(&masked) {
            return Err(KeyError::LowOrderSealingKey);
        }
        Ok(Self(b))
    }

    pub(crate) fn hpke(&self) -> HpkePublicKey {
        HpkePublicKey::from_bytes(&self.0).expect("any 32 bytes are an X25519 public key")
    }
}

/// The device's X25519 sealing key. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct SealingKey(Zeroizing<[u8; 32]>);

impl SealingKey {
    /// The role this key plays.
    pub const ROLE: KeyRole = KeyRole::Sealing;

    /// A fresh key from the OS random source.
    pub fn generate() -> Self {
        SealingKey(random_32())
    }

    /// From the 32-byte X25519 secret (clamped when used, as RFC 7748 says).
    pub fn from_secret_bytes(secret: [u8; 32]) -> Self {
        SealingKey(Zeroizing::new(secret))
    }

    /// The 32-byte secret.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }

    /// The public key.
    pub fn public(&self) -> SealingPublicKey {
        let pk = X25519HkdfSha256::sk_to_pk(&self.hpke());
        let bytes: [u8; 32] = pk.to_bytes().into();
        // A clamped scalar times the base point lies in the prime-order subgroup.
        SealingPublicKey(bytes)
    }

    pub(crate) fn hpke(&self) -> HpkePrivateKey {
        HpkePrivateKey::from_bytes(self.0.as_ref()).expect("any 32 bytes are an X25519 secret")
    }

    /// Reads a key file written by [`Self::save`]; refuses files open to group/others.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        load_key_file(path, KeyRole::Sealing).map(|s| Self::from_secret_bytes(*s))
    }

    /// Writes a new 0600 key file; never overwrites.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        save_key_file(path, KeyRole::Sealing, &self.0)
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKey(public {}, secret redacted)", self.public())
    }
}

/// The master's node-password key: a 32-byte secret from which every Worker's k3s
/// node password is derived (DESIGN §10), so that any master holding it can recompute
/// them after losing its database. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct NodePasswordKey(Zeroizing<[u8; 32]>);

impl NodePasswordKey {
    /// The role this key plays.
    pub const ROLE: KeyRole = KeyRole::NodePassword;

    /// A fresh key from the OS random source.
    pub fn generate() -> Self {
        NodePasswordKey(random_32())
    }

    /// From the 32-byte secret.
    pub fn from_secret_bytes(secret: [u8; 32]) -> Self {
        NodePasswordKey(Zeroizing::new(secret))
    }

    /// The 32-byte secret.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }

    /// Reads a key file written by [`Self::save`]; refuses files open to group/others.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        load_key_file(path, KeyRole::NodePassword).map(|s| Self::from_secret_bytes(*s))
    }

    /// Writes a new 0600 key file (`k8s-daas-key v1 node-password <hex>`); never
    /// overwrites.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        save_key_file(path, KeyRole::NodePassword, &self.0)
    }
}

impl fmt::Debug for NodePasswordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodePasswordKey(secret redacted)")
    }
}

/// Refuses a set of secrets in which one secret plays two roles.
pub fn ensure_distinct(keys: &[(KeyRole, &[u8; 32])]) -> Result<(), KeyError> {
    for (i, (ra, a)) in keys.iter().enumerate() {
        for (rb, b) in &keys[i + 1..] {
            if a == b {
                return Err(KeyError::SameKeyTwoRoles {
                    first: *ra,
                    second: *rb,
                });
            }
        }
    }
    Ok(())
}

/// A device's two keys, kept together in one 0700 directory
/// (`/var/lib/k8s-daas/` on a board).
#[derive(Clone, Debug)]
pub struct DeviceKeys {
    /// Ed25519 identity key.
    pub identity: IdentityKey,
    /// X25519 sealing key.
    pub sealing: SealingKey,
}

impl DeviceKeys {
    /// File name of the identity key in the key directory.
    pub const IDENTITY_FILE: &'static str = "identity.key";
    /// File name of the sealing key in the key directory.
    pub const SEALING_FILE: &'static str = "sealing.key";

    /// Two fresh keys.
    pub fn generate() -> Self {
        let keys = DeviceKeys {
            identity: IdentityKey::generate(),
            sealing: SealingKey::generate(),
        };
        keys.check_distinct()
            .expect("two independent random keys are distinct");
        keys
    }

    fn check_distinct(&self) -> Result<(), KeyError> {
        ensure_distinct(&[
            (KeyRole::Identity, &self.identity.secret_bytes()),
            (KeyRole::Sealing, &self.sealing.secret_bytes()),
        ])
    }

    /// Loads both keys from `dir`.
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let keys = DeviceKeys {
            identity: IdentityKey::load(&dir.join(Self::IDENTITY_FILE))?,
            sealing: SealingKey::load(&dir.join(Self::SEALING_FILE))?,
        };
        keys.check_distinct()?;
        Ok(keys)
    }

    /// Writes both keys into `dir` (created 0700); refuses to overwrite either file.
    pub fn save(&self, dir: &Path) -> Result<(), KeyError> {
        self.check_distinct()?;
        let id_path = dir.join(Self::IDENTITY_FILE);
        let seal_path = dir.join(Self::SEALING_FILE);
        for p in [&id_path, &seal_path] {
            if p.exists() {
                return Err(KeyError::Exists { path: p.clone() });
            }
        }
        self.identity.save(&id_path)?;
        self.sealing.save(&seal_path)
    }

    /// Loads the keys in `dir`, or generates and saves them when neither file exists.
    /// Returns whether they were created. Half a device (one file) is an error.
    pub fn load_or_generate(dir: &Path) -> Result<(Self, bool), KeyError> {
        let id = dir.join(Self::IDENTITY_FILE).exists();
        let seal = dir.join(Self::SEALING_FILE).exists();
        match (id, seal) {
            (true, true) => Ok((Self::load(dir)?, false)),
            (false, false) => {
                let keys = Self::generate();
                keys.save(dir)?;
                Ok((keys, true))
            }
            (true, false) => Err(KeyError::PartialDevice {
                dir: dir.to_path_buf(),
                present: Self::IDENTITY_FILE,
                missing: Self::SEALING_FILE,
            }),
            (false, true) => Err(KeyError::PartialDevice {
                dir: dir.to_path_buf(),
                present: Self::SEALING_FILE,
                missing: Self::IDENTITY_FILE,
            }),
        }
    }
}

const KEY_FILE_MAGIC: &str = "k8s-daas-key v1";

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The largest file [`read_private_file`] reads (a `sui.keystore` with many keys fits).
pub const MAX_PRIVATE_FILE: u64 = 1 << 20;

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A key directory must belong to this user (or root, as `/var/lib` does for a
/// service running as root) and give group and others no access at all.
fn check_dir(dir: &Path, meta: &fs::Metadata) -> Result<(), KeyError> {
    let euid = rustix::process::geteuid().as_raw();
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(KeyError::Owner {
            what: "directory",
            path: dir.to_path_buf(),
            uid: meta.uid(),
            euid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::DirPermissions {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Reads a secret file after checking, on the opened descriptors, that its directory
/// and the file itself are this user's and closed to group and others (module docs).
/// A symbolic link as the file is refused (`O_NOFOLLOW`); the directory may be one.
pub fn read_private_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let dir = parent_dir(path);
    let name = path.file_name().ok_or_else(|| KeyError::NotAFile {
        path: path.to_path_buf(),
    })?;
    let dir_fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(dir)(e.into()))?;
    let dir_file = fs::File::from(dir_fd);
    check_dir(dir, &dir_file.metadata().map_err(io_err(dir))?)?;
    let fd = rustix::fs::openat(
        &dir_file,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == rustix::io::Errno::LOOP {
            KeyError::Symlink {
                path: path.to_path_buf(),
            }
        } else {
            io_err(path)(e.into())
        }
    })?;
    let mut file = fs::File::from(fd);
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let euid = rustix::process::geteuid().as_raw();
    if meta.uid() != euid {
        return Err(KeyError::Owner {
            what: "file",
            path: path.to_path_buf(),
            uid: meta.uid(),
            euid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > MAX_PRIVATE_FILE {
        return Err(KeyError::TooLarge {
            path: path.to_path_buf(),
            len: meta.len(),
            max: MAX_PRIVATE_FILE,
        });
    }
    // Sized once, so no reallocation leaves a copy of the secret behind; one byte
    // more to see the end of a file that grew since the fstat.
    let mut buf = Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
    (&mut file)
        .take(MAX_PRIVATE_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    if buf.len() as u64 > MAX_PRIVATE_FILE {
        return Err(KeyError::TooLarge {
            path: path.to_path_buf(),
            len: buf.len() as u64,
            max: MAX_PRIVATE_FILE,
        });
    }
    Ok(buf)
}

fn load_key_file(path: &Path, role: KeyRole) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let raw = read_private_file(path)?;
    let format = |reason| KeyError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::str::from_utf8(&raw).map_err(|_| format("not UTF-8 text"))?;
    let rest = text
        .strip_prefix(KEY_FILE_MAGIC)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| format("it does not start with `k8s-daas-key v1`"))?;
    let (found, hex) = rest
        .trim_end_matches('\n')
        .split_once(' ')
        .ok_or_else(|| format("expected `<role> <hex>` after the header"))?;
    if found != role.name() {
        return Err(KeyError::WrongRole {
            path: path.to_path_buf(),
            found: KeyRole::from_name(found)
                .map(|r| r.name().to_string())
                .unwrap_or_else(|| "unknown".into()),
            expected: role,
        });
    }
    // decoded straight into the zeroizing buffer: no copy of the secret on the stack
    let mut out = Zeroizing::new([0u8; 32]);
    ::hex::decode_to_slice(hex, out.as_mut_slice())
        .map_err(|_| format("the key is not 64 hex digits"))?;
    Ok(out)
}

fn save_key_file(path: &Path, role: KeyRole, secret: &[u8; 32]) -> Result<(), KeyError> {
    let mut text = Zeroizing::new(format!(
        "{KEY_FILE_MAGIC} {} {}\n",
        role.name(),
        ::hex::encode(secret)
    ));
    let r = write_private_file(path, text.as_bytes());
    text.zeroize();
    r
}

/// Overwrites a file's bytes with zeros in place, syncs it, removes it and syncs its
/// directory: what happens to a secret file once its only needed copy is elsewhere (a
/// first-boot bundle after the import, a fleet bundle after its image is written). A
/// missing file is fine; a symbolic link is removed, never followed. On flash media and
/// copy-on-write file systems the zeros may land in new blocks: this leaves no key in
/// the file or the directory, it is not a secure erase of the medium.
pub fn wipe_file(path: &Path) -> io::Result<()> {
    let len = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::remove_file(path)?;
            return sync_parent(path);
        }
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    let zeros = [0u8; 4096];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    drop(f);
    fs::remove_file(path)?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> io::Result<()> {
    fs::File::open(parent_dir(path))?.sync_all()
}

/// Writes a new file with mode 0600, atomically and without replacing an existing
/// one: the bytes go to a temporary file in the same directory, are synced, and are
/// then hard-linked into place (which fails if the name exists). The directory is
/// created 0700 if missing; an existing directory open to group/others is refused.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let dir = parent_dir(path);
    match fs::metadata(dir) {
        Ok(meta) => check_dir(dir, &meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?,
        Err(e) => return Err(io_err(dir)(e)),
    }
    if path.exists() {
        return Err(KeyError::Exists {
            path: path.to_path_buf(),
        });
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(contents).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::hard_link(&tmp, path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io_err(path)(e)
            }
        })?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    })();
    let _ = fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn key_files_are_0600_in_a_0700_dir_and_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("k8s-daas");
        let (keys, created) = DeviceKeys::load_or_generate(&dir).unwrap();
        assert!(created);
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        for f in [DeviceKeys::IDENTITY_FILE, DeviceKeys::SEALING_FILE] {
            assert_eq!(fs::metadata(dir.join(f)).unwrap().mode() & 0o777, 0o600);
        }
        let (again, created) = DeviceKeys::load_or_generate(&dir).unwrap();
        assert!(!created);
        assert_eq!(again.identity.public(), keys.identity.public());
        assert_eq!(again.sealing.public(), keys.sealing.public());
        // no temporary files left behind
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn refuses_a_key_file_readable_by_others_naming_file_and_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let key = IdentityKey::generate();
        let path = dir.join("identity.key");
        key.save(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let msg = IdentityKey::load(&path).unwrap_err().to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("chmod 600"), "{msg}");
        assert!(msg.contains("0644"), "{msg}");
    }

    #[test]
    fn refuses_to_overwrite_and_to_write_into_an_open_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let path = dir.join("root.key");
        RootKey::generate().save(&path).unwrap();
        let before = fs::read(&path).unwrap();
        assert!(matches!(
            RootKey::generate().save(&path),
            Err(KeyError::Exists { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), before, "existing key was changed");

        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = RootKey::generate().save(&open.join("r.key")).unwrap_err();
        assert!(err.to_string().contains("chmod 700"), "{err}");
    }

    #[test]
    fn a_key_file_of_one_role_does_not_load_as_another() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k").join("envelope.key");
        EnvelopeKey::generate().save(&path).unwrap();
        let err = RootKey::load(&path).unwrap_err();
        assert!(
            matches!(&err, KeyError::WrongRole { found, expected: KeyRole::Root, .. } if found == "envelope"),
            "{err}"
        );
        assert!(SealingKey::load(&path).is_err());
        assert!(EnvelopeKey::load(&path).is_ok());
    }

    #[test]
    fn node_password_key_files_name_their_role() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k").join("node-password.key");
        let k = NodePasswordKey::from_secret_bytes([0x5a; 32]);
        k.save(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("k8s-daas-key v1 node-password {}\n", "5a".repeat(32))
        );
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            *NodePasswordKey::load(&path).unwrap().secret_bytes(),
            [0x5a; 32]
        );
        assert!(matches!(
            EnvelopeKey::load(&path),
            Err(KeyError::WrongRole { .. })
        ));
        assert!(!format!("{k:?}").contains("5a5a"));
    }

    #[test]
    fn half_a_device_is_an_error_not_a_new_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        DeviceKeys::generate().save(&dir).unwrap();
        fs::remove_file(dir.join(DeviceKeys::SEALING_FILE)).unwrap();
        assert!(matches!(
            DeviceKeys::load_or_generate(&dir),
            Err(KeyError::PartialDevice { .. })
        ));
    }

    #[test]
    fn same_secret_in_two_roles_is_refused() {
        let s = [7u8; 32];
        let err = ensure_distinct(&[
            (KeyRole::Envelope, &[1u8; 32]),
            (KeyRole::Root, &s),
            (KeyRole::SuiAccount, &s),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            KeyError::SameKeyTwoRoles {
                first: KeyRole::Root,
                second: KeyRole::SuiAccount
            }
        ));
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let keys = DeviceKeys {
            identity: IdentityKey::from_secret_bytes(s),
            sealing: SealingKey::from_secret_bytes(s),
        };
        assert!(matches!(
            keys.save(&dir),
            Err(KeyError::SameKeyTwoRoles { .. })
        ));
    }

    #[test]
    fn a_symlinked_key_file_is_refused_even_to_a_good_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let real = dir.join("root.key");
        let key = RootKey::generate();
        key.save(&real).unwrap();
        let link = dir.join("link.key");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = RootKey::load(&link).unwrap_err();
        assert!(
            matches!(&err, KeyError::Symlink { path } if *path == link),
            "{err}"
        );
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // the same for the Sui account path, which reads through the same function
        assert!(read_private_file(&link).is_err());
        // the file itself loads
        assert_eq!(RootKey::load(&real).unwrap().public(), key.public());
        // a directory as the key file is not a file
        fs::create_dir(dir.join("d")).unwrap();
        fs::set_permissions(dir.join("d"), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(
            read_private_file(&dir.join("d")),
            Err(KeyError::NotAFile { .. })
        ));
    }

    /// A key directory that group or others can search, read or write is refused on
    /// load too (0755 included): others could list and stat the keys, or with write
    /// access swap them. 0700 (and 0500) pass.
    #[test]
    fn a_key_directory_open_to_group_or_others_is_refused_on_load() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let path = dir.join("envelope.key");
        EnvelopeKey::generate().save(&path).unwrap();
        for mode in [0o755, 0o750, 0o711, 0o770, 0o707, 0o1777] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let err = EnvelopeKey::load(&path).unwrap_err();
            assert!(
                matches!(&err, KeyError::DirPermissions { mode: m, .. } if *m == mode),
                "{mode:o}: {err}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("chmod 700 {}", dir.display())),
                "{msg}"
            );
        }
        for mode in [0o700, 0o500] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            assert!(EnvelopeKey::load(&path).is_ok(), "{mode:o}");
        }
    }

    #[test]
    fn a_key_file_or_directory_of_another_user_is_refused() {
        use std::os::unix::fs::chown;
        let euid = rustix::process::geteuid().as_raw();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("keys");
        let path = dir.join("identity.key");
        IdentityKey::generate().save(&path).unwrap();
        if euid != 0 {
            // Only root can give a file away; what is checked for everyone else is
            // that their own files load.
            assert!(IdentityKey::load(&path).is_ok());
            return;
        }
        let other = 4242;
        chown(&path, Some(other), None).unwrap();
        let err = IdentityKey::load(&path).unwrap_err();
        assert!(
            matches!(&err, KeyError::Owner { what: "file", uid, euid: 0, .. } if *uid == other),
            "{err}"
        );
        assert!(err.to_string().contains("chown 0"), "{err}");
        chown(&path, Some(0), None).unwrap();
        chown(&dir, Some(other), None).unwrap();
        let err = IdentityKey::load(&path).unwrap_err();
        assert!(
            matches!(
                &err,
                KeyError::Owner {
                    what: "directory",
                    ..
                }
            ),
            "{err}"
        );
        // and nothing is written into it either
        assert!(IdentityKey::generate().save(&dir.join("x.key")).is_err());
        chown(&dir, Some(0), None).unwrap();
        assert!(IdentityKey::load(&path).is_ok());
    }

    /// The eight small-order points (multiples of a point of order 8) in their
    /// canonical encodings, and every non-canonical encoding of them a ZIP-215
    /// verifier accepts: y + p for y < 19 (y = 0 and y = 1), and the sign bit set on
    /// the points with x = 0.
    fn small_order_encodings() -> Vec<[u8; 32]> {
        use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
        use curve25519_dalek::traits::Identity;
        let p8 = CompressedEdwardsY(
            crate::hex::decode_array::<32>(
                "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            )
            .unwrap(),
        )
        .decompress()
        .unwrap();
        let mut out = Vec::new();
        let mut q = EdwardsPoint::identity();
        for _ in 0..8 {
            out.push(q.compress().0);
            q += p8;
        }
        // of order exactly 8: back at the identity after 8 steps, not after 4
        assert!(q == EdwardsPoint::identity() && out[4] != out[0]);
        // p = 2^255 - 19, little-endian
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let canonical = out.clone();
        for e in &canonical {
            let mut y = *e;
            y[31] &= 0x7f;
            let x_is_zero = CompressedEdwardsY(y).decompress().unwrap()
                == CompressedEdwardsY({
                    let mut n = y;
                    n[31] |= 0x80;
                    n
                })
                .decompress()
                .unwrap();
            if x_is_zero {
                let mut neg = *e;
                neg[31] |= 0x80;
                out.push(neg);
            }
            if y[1..].iter().all(|b| *b == 0) && y[0] < 19 {
                let mut big = p;
                big[0] += y[0];
                out.push(big);
                big[31] |= 0x80;
                out.push(big);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn small_order_ed25519_keys_are_refused_in_every_encoding_for_every_role() {
        let bad = small_order_encodings();
        assert_eq!(
            bad.len(),
            8 + 2 + 4,
            "8 canonical, 2 negative zeros, 4 over p"
        );
        for b in &bad {
            // ZIP-215 key parsing takes them: the refusal is ours
            assert!(ed25519_zebra::VerificationKey::try_from(*b).is_ok());
            assert!(matches!(
                RootPublicKey::from_bytes(*b),
                Err(KeyError::SmallOrderPublicKey {
                    role: KeyRole::Root
                })
            ));
            assert!(EnvelopePublicKey::from_bytes(*b).is_err());
            assert!(IdentityPublicKey::from_bytes(*b).is_err());
            let hex = crate::hex::encode_0x(b);
            assert!(hex.parse::<RootPublicKey>().is_err(), "{hex}");
        }
        // real keys pass
        for _ in 0..16 {
            let k = IdentityKey::generate().public();
            assert!(IdentityPublicKey::from_bytes(*k.as_bytes()).is_ok());
        }
        // a seal token naming a small-order identity key does not parse
        let mut token = vec![1u8];
        token.extend_from_slice(&bad[0]);
        token.extend_from_slice(SealingKey::generate().public().as_bytes());
        token.extend_from_slice(&[0u8; 64]);
        assert!(crate::SealToken::from_bytes(&token).is_err());
    }

    #[test]
    fn low_order_sealing_keys_are_refused_including_high_bit_variants() {
        for p in LOW_ORDER_U {
            assert!(SealingPublicKey::from_bytes(p).is_err());
            let mut hi = p;
            hi[31] |= 0x80;
            assert!(SealingPublicKey::from_bytes(hi).is_err());
        }
        let good = SealingKey::generate().public();
        assert!(SealingPublicKey::from_bytes(*good.as_bytes()).is_ok());
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let k = IdentityKey::from_secret_bytes([0xab; 32]);
        let s = SealingKey::from_secret_bytes([0xcd; 32]);
        let dbg = format!("{k:?} {s:?}");
        assert!(!dbg.contains("abababab"), "{dbg}");
        assert!(!dbg.contains("cdcdcdcd"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn rfc7748_public_key_derivation() {
        // RFC 7748 §6.1, Alice's key pair.
        let sk = crate::hex::decode_array::<32>(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        )
        .unwrap();
        assert_eq!(
            SealingKey::from_secret_bytes(sk).public().to_hex(),
            "0x8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
    }
}
