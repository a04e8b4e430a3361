//! Envelope-key certificate v1 (DESIGN §5), 105 bytes, stored in the registry by the
//! AdminCap:
//!
//! ```text
//! 0      1   version = 0x01
//! 1      8   serial (u64 LE)
//! 9     32   envelope public key (Ed25519)
//! 41    64   Ed25519 signature by the root key over
//!            "k8s-daas/envkey/v1" || chain_id (32) || bcs(registry_id) || bytes[0..41]
//! ```
//!
//! Devices pin the root key and chain id, keep the highest serial they have seen
//! ([`EnvelopeKeyPin`]), and accept envelopes only under that certificate's key.

use thiserror::Error;

use crate::chain_id::ChainId;
use crate::ids::ObjectId;
use crate::keys::{EnvelopePublicKey, KeyError, RootKey, RootPublicKey};

/// Version byte.
pub const VERSION: u8 = 1;
/// Exact length.
pub const LEN: usize = 105;
/// Domain tag of the signed message.
pub const TAG: &[u8] = b"k8s-daas/envkey/v1";

/// Why a certificate was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CertError {
    /// The registry has no certificate yet.
    #[error(
        "the registry has no envelope-key certificate yet: the operator must run `set_envelope_key_cert`"
    )]
    Missing,
    /// Not 105 bytes.
    #[error("envelope-key certificate is {got} bytes, expected {LEN}")]
    Length {
        /// Bytes found.
        got: usize,
    },
    /// Version byte is not 1.
    #[error("envelope-key certificate version is {got}, expected {VERSION}")]
    Version {
        /// The version byte.
        got: u8,
    },
    /// The key inside is not an Ed25519 point.
    #[error("envelope-key certificate: {0}")]
    Key(#[from] KeyError),
    /// The root key did not sign it for this chain and registry.
    #[error(
        "envelope-key certificate serial {serial} is not signed by the pinned root key for chain {chain} and registry {registry}"
    )]
    Signature {
        /// Its serial.
        serial: u64,
        /// Chain checked.
        chain: ChainId,
        /// Registry checked.
        registry: ObjectId,
    },
    /// The certified key is the root key itself (one key in two roles).
    #[error(
        "envelope-key certificate certifies the root key itself: the envelope key must be its own key"
    )]
    RootAsEnvelopeKey,
    /// A lower serial than one already seen (a rollback, or a stale RPC node).
    #[error(
        "envelope-key certificate serial {got} is lower than serial {highest} already seen: refusing a rollback"
    )]
    Rollback {
        /// Serial offered.
        got: u64,
        /// Highest serial seen.
        highest: u64,
    },
    /// Same serial as the one seen, but another key.
    #[error(
        "envelope-key certificate serial {serial} names a different key than the one already seen with that serial"
    )]
    Conflict {
        /// The serial.
        serial: u64,
    },
}

/// A parsed envelope-key certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeKeyCert {
    /// Grows with each new envelope key.
    pub serial: u64,
    /// The certified envelope key.
    pub envelope_key: EnvelopePublicKey,
    signature: [u8; 64],
}

/// A verified (serial, key) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertifiedEnvelopeKey {
    /// The certificate's serial.
    pub serial: u64,
    /// The key envelopes must be signed with.
    pub key: EnvelopePublicKey,
}

fn signed_message(chain: &ChainId, registry: &ObjectId, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(TAG.len() + 32 + 32 + body.len());
    m.extend_from_slice(TAG);
    m.extend_from_slice(chain.as_bytes());
    m.extend_from_slice(registry.as_bytes());
    m.extend_from_slice(body);
    m
}

impl EnvelopeKeyCert {
    /// The root key certifies `envelope_key` under `serial` for one chain and registry.
    pub fn issue(
        root: &RootKey,
        chain: &ChainId,
        registry: &ObjectId,
        serial: u64,
        envelope_key: &EnvelopePublicKey,
    ) -> Self {
        let mut cert = EnvelopeKeyCert {
            serial,
            envelope_key: *envelope_key,
            signature: [0; 64],
        };
        let body = cert.to_bytes();
        cert.signature = root.sign(&signed_message(chain, registry, &body[..41]));
        cert
    }

    /// Parses exactly 105 bytes (no signature check).
    pub fn from_bytes(b: &[u8]) -> Result<Self, CertError> {
        if b.is_empty() {
            return Err(CertError::Missing);
        }
        if b.len() != LEN {
            return Err(CertError::Length { got: b.len() });
        }
        if b[0] != VERSION {
            return Err(CertError::Version { got: b[0] });
        }
        Ok(EnvelopeKeyCert {
            serial: u64::from_le_bytes(b[1..9].try_into().expect("8")),
            envelope_key: EnvelopePublicKey::from_bytes(b[9..41].try_into().expect("32"))?,
            signature: b[41..105].try_into().expect("64"),
        })
    }

    /// The 105 bytes.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[0] = VERSION;
        out[1..9].copy_from_slice(&self.serial.to_le_bytes());
        out[9..41].copy_from_slice(self.envelope_key.as_bytes());
        out[41..].copy_from_slice(&self.signature);
        out
    }

    /// Checks the root signature for this chain and registry.
    pub fn verify(
        &self,
        root: &RootPublicKey,
        chain: &ChainId,
        registry: &ObjectId,
    ) -> Result<CertifiedEnvelopeKey, CertError> {
        if self.envelope_key.as_bytes() == root.as_bytes() {
            return Err(CertError::RootAsEnvelopeKey);
        }
        let body = self.to_bytes();
        if !root.verify(
            &signed_message(chain, registry, &body[..41]),
            &self.signature,
        ) {
            return Err(CertError::Signature {
                serial: self.serial,
                chain: *chain,
                registry: *registry,
            });
        }
        Ok(CertifiedEnvelopeKey {
            serial: self.serial,
            key: self.envelope_key,
        })
    }
}

/// A device's trust in envelope keys: the pinned root key, chain and registry, and the
/// highest-serial certificate seen so far (persist [`EnvelopeKeyPin::highest`] and
/// restore it with [`EnvelopeKeyPin::with_highest`] so a restart cannot be rolled back).
#[derive(Debug, Clone)]
pub struct EnvelopeKeyPin {
    root: RootPublicKey,
    chain: ChainId,
    registry: ObjectId,
    highest: Option<CertifiedEnvelopeKey>,
}

impl EnvelopeKeyPin {
    /// A pin that has seen no certificate yet.
    pub fn new(root: RootPublicKey, chain: ChainId, registry: ObjectId) -> Self {
        EnvelopeKeyPin {
            root,
            chain,
            registry,
            highest: None,
        }
    }

    /// Restores the highest certificate seen before a restart.
    pub fn with_highest(mut self, highest: CertifiedEnvelopeKey) -> Self {
        self.highest = Some(highest);
        self
    }

    /// The highest certificate accepted so far.
    pub fn highest(&self) -> Option<&CertifiedEnvelopeKey> {
        self.highest.as_ref()
    }

    /// Verifies the registry's current certificate bytes and, if its serial is not
    /// lower than any seen, makes it the accepted envelope key.
    pub fn accept(&mut self, cert_bytes: &[u8]) -> Result<CertifiedEnvelopeKey, CertError> {
        let cert = EnvelopeKeyCert::from_bytes(cert_bytes)?;
        let certified = cert.verify(&self.root, &self.chain, &self.registry)?;
        if let Some(h) = &self.highest {
            if certified.serial < h.serial {
                return Err(CertError::Rollback {
                    got: certified.serial,
                    highest: h.serial,
                });
            }
            if certified.serial == h.serial && certified.key != h.key {
                return Err(CertError::Conflict {
                    serial: certified.serial,
                });
            }
        }
        self.highest = Some(certified);
        Ok(certified)
    }
}
