//! Seal token v1 (DESIGN §5), 129 bytes:
//!
//! ```text
//! 0      1   version = 0x01
//! 1     32   identity public key (Ed25519)
//! 33    32   sealing public key (X25519)
//! 65    64   Ed25519 signature by the identity key over the claim
//! claim = "k8s-daas/seal/v1" || bcs(registry_id: ID) || bcs(owner: address)
//!         || bcs(node_id: String) || bcs(sealing_key: vector<u8>)
//! ```
//!
//! The Move contract rebuilds the claim with the transaction sender as owner and
//! checks it with `ed25519_verify`; master and agent check the same claim here.

use std::fmt;

use thiserror::Error;

use crate::ids::{Address, ObjectId};
use crate::keys::{IdentityKey, IdentityPublicKey, KeyError, SealingPublicKey};
use crate::node_id::{NodeId, NodeIdError};

/// Version byte of the only format.
pub const VERSION: u8 = 1;
/// Exact length.
pub const LEN: usize = 129;
/// Domain tag of the claim.
pub const CLAIM_TAG: &[u8] = b"k8s-daas/seal/v1";

/// Why a seal token was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SealTokenError {
    /// Not 129 bytes.
    #[error(
        "seal token is {got} bytes, expected {LEN}: copy the whole token printed by `daas-agent init`"
    )]
    Length {
        /// Bytes found.
        got: usize,
    },
    /// Version byte is not 1.
    #[error("seal token version is {got}, expected {VERSION}")]
    Version {
        /// The version byte.
        got: u8,
    },
    /// Not hex.
    #[error("seal token is not hex: {0}")]
    Hex(#[from] crate::hex::HexError),
    /// A public key inside is unusable (invalid Ed25519 point, low-order X25519).
    #[error("seal token: {0}")]
    Key(#[from] KeyError),
    /// The node_id does not name this token's identity key.
    #[error("seal token does not match the node_id: {0}")]
    NodeId(#[from] NodeIdError),
    /// The signature does not verify for (registry, owner, node_id, sealing key).
    #[error(
        "seal token signature does not verify for registry {registry}, owner {owner}, node_id {node_id}: it was made for another registry, owner or node_id"
    )]
    Signature {
        /// Registry checked.
        registry: ObjectId,
        /// Owner checked.
        owner: Address,
        /// node_id checked.
        node_id: String,
    },
}

/// A parsed seal token.
#[derive(Clone, PartialEq, Eq)]
pub struct SealToken {
    identity: IdentityPublicKey,
    sealing: SealingPublicKey,
    signature: [u8; 64],
}

/// The claim bytes a seal token signs.
pub fn claim(
    registry: &ObjectId,
    owner: &Address,
    node_id: &NodeId,
    sealing: &SealingPublicKey,
) -> Vec<u8> {
    claim_bytes(registry, owner, node_id.as_str(), sealing.as_bytes())
}

/// The claim over unchecked parts, as the Move contract rebuilds it from the token's
/// bytes (any node_id string, any 32 sealing-key bytes): what a chain stand-in needs to
/// accept exactly what the contract accepts. Devices and masters use [`claim`].
pub fn claim_bytes(registry: &ObjectId, owner: &Address, node_id: &str, sealing: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(CLAIM_TAG.len() + 64 + 1 + node_id.len() + 1 + sealing.len());
    m.extend_from_slice(CLAIM_TAG);
    m.extend_from_slice(registry.as_bytes());
    m.extend_from_slice(owner.as_bytes());
    m.extend_from_slice(&crate::bcs_util::string(node_id));
    m.extend_from_slice(&crate::bcs_util::bytes(sealing));
    m
}

impl SealToken {
    /// Signs a token for `node_id` (which must carry `identity`'s fingerprint) owned by
    /// `owner` in `registry`.
    pub fn create(
        identity: &IdentityKey,
        sealing: &SealingPublicKey,
        registry: &ObjectId,
        owner: &Address,
        node_id: &NodeId,
    ) -> Result<Self, SealTokenError> {
        let identity_public = identity.public();
        node_id.check_identity(&identity_public)?;
        let signature = identity.sign(&claim(registry, owner, node_id, sealing));
        Ok(SealToken {
            identity: identity_public,
            sealing: *sealing,
            signature,
        })
    }

    /// Parses exactly 129 bytes (length, version and key checks; no signature check).
    pub fn from_bytes(b: &[u8]) -> Result<Self, SealTokenError> {
        if b.len() != LEN {
            return Err(SealTokenError::Length { got: b.len() });
        }
        if b[0] != VERSION {
            return Err(SealTokenError::Version { got: b[0] });
        }
        let identity = IdentityPublicKey::from_bytes(b[1..33].try_into().expect("32"))?;
        let sealing = SealingPublicKey::from_bytes(b[33..65].try_into().expect("32"))?;
        Ok(SealToken {
            identity,
            sealing,
            signature: b[65..129].try_into().expect("64"),
        })
    }

    /// Parses the hex form (with or without `0x`).
    pub fn from_hex(s: &str) -> Result<Self, SealTokenError> {
        Self::from_bytes(&crate::hex::decode(s)?)
    }

    /// The 129 bytes.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[0] = VERSION;
        out[1..33].copy_from_slice(self.identity.as_bytes());
        out[33..65].copy_from_slice(self.sealing.as_bytes());
        out[65..].copy_from_slice(&self.signature);
        out
    }

    /// `0x`-hex of the 129 bytes.
    pub fn to_hex(&self) -> String {
        crate::hex::encode_0x(&self.to_bytes())
    }

    /// The device's identity key.
    pub fn identity(&self) -> &IdentityPublicKey {
        &self.identity
    }

    /// The device's sealing key (what the master seals envelopes to).
    pub fn sealing(&self) -> &SealingPublicKey {
        &self.sealing
    }

    /// Checks the token for this registry, owner and node_id: the node_id's fingerprint
    /// names the identity key, and the signature verifies (ZIP-215).
    pub fn verify(
        &self,
        registry: &ObjectId,
        owner: &Address,
        node_id: &NodeId,
    ) -> Result<(), SealTokenError> {
        node_id.check_identity(&self.identity)?;
        let msg = claim(registry, owner, node_id, &self.sealing);
        if !self.identity.verify(&msg, &self.signature) {
            return Err(SealTokenError::Signature {
                registry: *registry,
                owner: *owner,
                node_id: node_id.to_string(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for SealToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealToken")
            .field("identity", &self.identity)
            .field("sealing", &self.sealing)
            .finish_non_exhaustive()
    }
}
