//! The pinned chain: the 32-byte digest of the genesis checkpoint (DESIGN §1).
//!
//! GraphQL's `chainIdentifier` is this digest in Base58; JSON-RPC's
//! `sui_getChainIdentifier` is the hex of its first 4 bytes. Clients check it on every
//! endpoint before any other call.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// A chain id that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChainIdError {
    /// Not Base58, or not 32 bytes.
    #[error(
        "chain id {input:?} is not the Base58 genesis checkpoint digest (32 bytes): copy `chainIdentifier` from the GraphQL service or the sandbox info file"
    )]
    Malformed {
        /// The rejected text.
        input: String,
    },
}

/// The genesis checkpoint digest that names a Sui chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainId(pub [u8; 32]);

impl ChainId {
    /// The raw 32 bytes (what envelope and certificate signatures cover).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// JSON-RPC's form: lowercase hex of the first 4 bytes, no prefix (`35834a8a` on mainnet).
    pub fn jsonrpc_identifier(&self) -> String {
        ::hex::encode(&self.0[..4])
    }

    /// Whether a `sui_getChainIdentifier` answer names this chain (any case, optional `0x`).
    pub fn matches_jsonrpc_identifier(&self, answer: &str) -> bool {
        crate::hex::strip_prefix(answer.trim()).eq_ignore_ascii_case(&self.jsonrpc_identifier())
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({self})")
    }
}

impl FromStr for ChainId {
    type Err = ChainIdError;
    fn from_str(s: &str) -> Result<Self, ChainIdError> {
        let malformed = || ChainIdError::Malformed {
            input: s.chars().take(80).collect(),
        };
        let v = bs58::decode(s.trim()).into_vec().map_err(|_| malformed())?;
        v.try_into().map(ChainId).map_err(|_| malformed())
    }
}

impl Serialize for ChainId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChainId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_genesis_digest_maps_to_the_jsonrpc_identifier() {
        // SUI-WIRE.md §2: mainnet genesis digest and its `sui_getChainIdentifier` answer.
        let id: ChainId = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
            .parse()
            .unwrap();
        assert_eq!(id.jsonrpc_identifier(), "35834a8a");
        assert!(id.matches_jsonrpc_identifier("0x35834A8A"));
        assert!(!id.matches_jsonrpc_identifier("4c78adac"));
        assert_eq!(
            id.to_string(),
            "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
        );
    }

    #[test]
    fn rejects_wrong_length_and_non_base58() {
        assert!(
            "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6"
                .parse::<ChainId>()
                .is_err()
        );
        assert!("0OIl".parse::<ChainId>().is_err());
        assert!("35834a8a".parse::<ChainId>().is_err());
    }
}
