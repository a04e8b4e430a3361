//! The two secrets that travel inside a join envelope: the k3s bootstrap token and the
//! node password. Both zeroize on drop and print redacted (`K10ab…(redacted)`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use zeroize::Zeroizing;

/// A secret string that does not have the shape the protocol requires. The message
/// never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SecretShapeError {
    /// The token is not `K10<64 lowercase hex>::<6 [a-z0-9]>.<16 [a-z0-9]>`.
    #[error(
        "join token is not a k3s bootstrap token of the form K10<64 hex>::<6 chars>.<16 chars> (length {len})"
    )]
    Token {
        /// Length of the rejected value (the value itself is secret).
        len: usize,
    },
    /// The node password is not 32 lowercase hex characters.
    #[error("node_password is not 32 lowercase hex characters (length {len})")]
    NodePassword {
        /// Length of the rejected value.
        len: usize,
    },
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_token_chars(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'z'))
}

/// The first characters of a secret, then `…(redacted)`.
pub fn redacted(secret: &str, keep: usize) -> String {
    let head: String = secret.chars().take(keep).collect();
    format!("{head}…(redacted)")
}

/// A per-worker k3s bootstrap token: `K10<sha256(CA) hex>::<id>.<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken(Zeroizing<String>);

impl JoinToken {
    /// Checks the shape and takes ownership of the string.
    pub fn new(token: String) -> Result<Self, SecretShapeError> {
        let token = Zeroizing::new(token);
        let bad = || SecretShapeError::Token { len: token.len() };
        let rest = token.strip_prefix("K10").ok_or_else(bad)?;
        let (hash, creds) = rest.split_once("::").ok_or_else(bad)?;
        let (id, secret) = creds.split_once('.').ok_or_else(bad)?;
        let ok = hash.len() == 64
            && is_lower_hex(hash)
            && id.len() == 6
            && is_token_chars(id)
            && secret.len() == 16
            && is_token_chars(secret);
        if !ok {
            return Err(bad());
        }
        Ok(JoinToken(token))
    }

    /// The secret string (for the 0600 token file the agent hands to k3s, and nothing else).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the cluster CA bundle the token pins (the agent compares it with
    /// the hash of the server's `/cacerts`).
    pub fn ca_hash(&self) -> [u8; 32] {
        crate::hex::decode_array(&self.0[3..67]).expect("shape checked in new")
    }

    /// The public token id (`<id>` of `<id>.<secret>`), as `k3s token` lists it.
    pub fn token_id(&self) -> &str {
        &self.0[69..75]
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(&self.0, 5))
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The random node password the master seals and later finds in the Node's
/// password Secret: 32 lowercase hex characters.
#[derive(Clone, PartialEq, Eq)]
pub struct NodePassword(Zeroizing<String>);

impl NodePassword {
    /// Checks the shape and takes ownership.
    pub fn new(password: String) -> Result<Self, SecretShapeError> {
        let password = Zeroizing::new(password);
        if password.len() != 32 || !is_lower_hex(&password) {
            return Err(SecretShapeError::NodePassword {
                len: password.len(),
            });
        }
        Ok(NodePassword(password))
    }

    /// 16 bytes from the OS random source, as hex.
    pub fn generate() -> Self {
        let mut raw = Zeroizing::new([0u8; 16]);
        getrandom::fill(raw.as_mut()).expect("the OS random source is available");
        NodePassword(Zeroizing::new(::hex::encode(raw.as_ref())))
    }

    /// The secret string (for `/etc/rancher/node/password`, and nothing else).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Domain tag of the node-password derivation (DESIGN §10).
#[cfg(feature = "k3s")]
pub const NODE_PASSWORD_TAG: &[u8] = b"k8s-daas/nodepw/v1";

#[cfg(feature = "k3s")]
impl NodePassword {
    /// The Worker's node password (DESIGN §10): the first 16 bytes of
    /// `HMAC-SHA256(node_password_key, "k8s-daas/nodepw/v1" || worker_id)` as 32
    /// lowercase hex characters. Any master holding the key recomputes the same
    /// password; a new registration (a new Worker id) gets a new one.
    pub fn derive(key: &crate::keys::NodePasswordKey, worker_id: &crate::ids::ObjectId) -> Self {
        use hmac::{KeyInit as _, Mac as _};
        let secret = key.secret_bytes();
        let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(secret.as_ref())
            .expect("HMAC takes a key of any length");
        mac.update(NODE_PASSWORD_TAG);
        mac.update(worker_id.as_bytes());
        let tag = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
        NodePassword(Zeroizing::new(::hex::encode(&tag[..16])))
    }
}

impl fmt::Debug for NodePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl fmt::Display for NodePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

macro_rules! secret_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}
secret_serde!(JoinToken);
secret_serde!(NodePassword);

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const TOKEN: &str = "K10aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa::abc123.0123456789abcdef";

    #[test]
    fn accepts_the_k3s_bootstrap_shape_and_exposes_its_parts() {
        let t = JoinToken::new(TOKEN.into()).unwrap();
        assert_eq!(t.token_id(), "abc123");
        assert_eq!(t.ca_hash(), [0xaa; 32]);
        assert_eq!(format!("{t:?}"), "K10aa…(redacted)");
        assert!(!format!("{t}").contains("0123456789abcdef"));
    }

    #[test]
    fn rejects_every_other_shape_without_echoing_it() {
        let bad = [
            "",
            "K10",
            &TOKEN[..TOKEN.len() - 1],
            &TOKEN.replace("K10", "K11"),
            &TOKEN.replace("::", ":"),
            &TOKEN.replace(".", ":"),
            &TOKEN.replace("aaaa", "AAAA"),
            &TOKEN.replace("abc123", "ABC123"),
            &format!("{TOKEN}0"),
            "K10aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa::server:0123456789abcdef",
        ];
        for b in bad {
            let err = JoinToken::new(b.to_string()).unwrap_err();
            if b.len() > 20 {
                assert!(!err.to_string().contains(&b[b.len() - 16..]));
            }
        }
    }

    /// Vectors computed independently with Python's `hmac`:
    /// `hmac.new(key, b"k8s-daas/nodepw/v1" + worker_id, hashlib.sha256).hexdigest()[:32]`.
    #[cfg(feature = "k3s")]
    #[test]
    fn node_password_derivation_matches_python_hmac() {
        use crate::ids::ObjectId;
        use crate::keys::NodePasswordKey;
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        let p = NodePassword::derive(
            &NodePasswordKey::from_secret_bytes(k),
            &ObjectId::from_u64(0x77),
        );
        assert_eq!(p.expose(), "8b3293be93f8d515642b8a41563f9d1a");
        let p = NodePassword::derive(
            &NodePasswordKey::from_secret_bytes([0xab; 32]),
            &ObjectId([0x5f; 32]),
        );
        assert_eq!(p.expose(), "db98bf13df7caa3f170a09d0f494a2af");
        // Stable per Worker, different across Workers.
        let key = NodePasswordKey::from_secret_bytes([0xab; 32]);
        assert_eq!(
            NodePassword::derive(&key, &ObjectId::from_u64(1)),
            NodePassword::derive(&key, &ObjectId::from_u64(1))
        );
        assert_ne!(
            NodePassword::derive(&key, &ObjectId::from_u64(1)),
            NodePassword::derive(&key, &ObjectId::from_u64(2))
        );
    }

    #[test]
    fn node_password_is_32_lowercase_hex_and_random() {
        let a = NodePassword::generate();
        let b = NodePassword::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 32);
        assert!(NodePassword::new("A".repeat(32)).is_err());
        assert!(NodePassword::new("a".repeat(31)).is_err());
        assert_eq!(format!("{a:?}"), "(redacted)");
    }
}
