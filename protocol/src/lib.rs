//! `daas-protocol`: everything the k8s-daas master, agent, chain emulator and Move
//! package must agree on, in one place.
//!
//! - [`node_id`]: the `<label>-<fingerprint>` worker name rule (DESIGN §4).
//! - [`ids`] and [`chain_id`]: Sui addresses/object ids and the pinned genesis digest.
//! - [`keys`]: the device's identity (Ed25519) and sealing (X25519) keys, the master's
//!   envelope key, the operator's root key, and their 0600 key files.
//! - [`seal_token`], [`envkey_cert`], [`envelope`]: the v1 byte formats of DESIGN §5.
//! - [`config`]: the shared `[chain]` table of every config file (DESIGN §10).
//! - [`bundle`]: the file names of a device's first-boot bundle.
//! - [`sui`]: Sui accounts (`suiprivkey1…`, `sui.keystore`), intent signing and digests.
//!
//! Where it runs: linked into the agent (aarch64 musl, size-tuned), the master and the
//! sandbox. It performs no I/O except reading and writing key files.
//!
//! What it must never do: put a secret (private key, join token, node password) into a
//! `Debug`/`Display` string, an error message or a file readable by group or others;
//! accept a signature that Sui's `ed25519_verify` would reject or reject one it would
//! accept (verification follows ZIP-215, as fastcrypto does); decrypt an envelope before
//! its signature has been verified.

pub mod bundle;
#[cfg(feature = "client")]
pub mod chain;
pub mod chain_id;
pub mod config;
pub mod envelope;
pub mod envkey_cert;
pub mod hash;
pub mod hex;
pub mod ids;
#[cfg(feature = "k3s")]
pub mod k3s;
pub mod keys;
#[cfg(feature = "tx")]
pub mod ledger;
pub mod node_id;
pub mod onchain;
pub mod seal_token;
pub mod secret;
pub mod sui;
#[cfg(feature = "tx")]
pub mod tx;

mod bcs_util;

pub use chain_id::ChainId;
pub use envelope::{EnvelopeContext, EnvelopeHeader, JoinSecret, OpenedEnvelope};
pub use envkey_cert::{CertifiedEnvelopeKey, EnvelopeKeyCert, EnvelopeKeyPin};
pub use ids::{Address, ObjectId};
pub use keys::{
    DeviceKeys, EnvelopeKey, EnvelopePublicKey, IdentityKey, IdentityPublicKey, KeyRole,
    NodePasswordKey, RootKey, RootPublicKey, SealingKey, SealingPublicKey,
};
pub use node_id::NodeId;
pub use seal_token::SealToken;
pub use sui::{SignatureScheme, SuiKeypair, SuiPublicKey, TransactionDigest, UserSignature};
