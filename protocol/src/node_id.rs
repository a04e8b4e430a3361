//! node_id = `<label>-<fp>` (DESIGN §4): `label` is 1..=46 bytes of `[a-z0-9-]`, not
//! starting or ending with `-`; `fp` is 16 lowercase hex characters, the first 8 bytes
//! of Blake2b-256 of the identity public key. The whole id is an RFC 1123 DNS label
//! of at most 63 bytes (it becomes the Kubernetes node name). The Move package applies
//! the same rule (`worker_registry::check_node_id`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::keys::IdentityPublicKey;

/// Longest label.
pub const MAX_LABEL_LEN: usize = 46;
/// Fingerprint length in hex characters.
pub const FINGERPRINT_LEN: usize = 16;
/// Longest node_id (`46 + 1 + 16`).
pub const MAX_NODE_ID_LEN: usize = MAX_LABEL_LEN + 1 + FINGERPRINT_LEN;

/// Why a string is not a node_id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// Longer than 63 bytes.
    #[error("node_id is {len} bytes, at most {MAX_NODE_ID_LEN} allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// No `-<fingerprint>` part.
    #[error(
        "node_id {input:?} has no `-<16 hex fingerprint>` suffix: expected <label>-<fingerprint>"
    )]
    MissingFingerprint {
        /// The input.
        input: String,
    },
    /// The fingerprint is not 16 lowercase hex characters.
    #[error("node_id fingerprint {fp:?} is not 16 lowercase hex characters")]
    BadFingerprint {
        /// The fingerprint part.
        fp: String,
    },
    /// The label is empty.
    #[error("node_id label is empty: expected 1 to {MAX_LABEL_LEN} characters of [a-z0-9-]")]
    EmptyLabel,
    /// The label is longer than 46 bytes.
    #[error("node_id label is {len} bytes, at most {MAX_LABEL_LEN} allowed")]
    LabelTooLong {
        /// Its length.
        len: usize,
    },
    /// A character outside `[a-z0-9-]`.
    #[error(
        "node_id label has {ch:?} at position {index}: only lowercase letters, digits and '-' are allowed"
    )]
    LabelChar {
        /// The character.
        ch: char,
        /// Its position.
        index: usize,
    },
    /// The label starts or ends with `-`.
    #[error("node_id label {label:?} starts or ends with '-'")]
    LabelHyphen {
        /// The label.
        label: String,
    },
    /// The fingerprint does not name the given identity key.
    #[error("node_id fingerprint {found} is not that of the device's identity key ({expected})")]
    FingerprintMismatch {
        /// The fingerprint in the node_id.
        found: String,
        /// The fingerprint of the identity key.
        expected: String,
    },
}

/// The 16-hex-character fingerprint of an identity key.
pub fn fingerprint(identity: &IdentityPublicKey) -> String {
    fingerprint_of_bytes(identity.as_bytes())
}

/// The fingerprint of any identity-key bytes, point or not (the Move contract hashes
/// the token's bytes before it verifies the signature).
pub fn fingerprint_of_bytes(identity: &[u8]) -> String {
    ::hex::encode(&crate::hash::blake2b256(&[identity])[..8])
}

/// Checks a label (`[a-z0-9-]{1,46}`, no leading or trailing `-`).
pub fn validate_label(label: &str) -> Result<(), NodeIdError> {
    if label.is_empty() {
        return Err(NodeIdError::EmptyLabel);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(NodeIdError::LabelTooLong { len: label.len() });
    }
    if let Some((index, ch)) = label
        .char_indices()
        .find(|(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(NodeIdError::LabelChar { ch, index });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(NodeIdError::LabelHyphen {
            label: label.into(),
        });
    }
    Ok(())
}

/// The one node_id syntax check used everywhere; returns `(label, fingerprint)`.
pub fn validate(s: &str) -> Result<(&str, &str), NodeIdError> {
    if s.len() > MAX_NODE_ID_LEN {
        return Err(NodeIdError::TooLong { len: s.len() });
    }
    let (label, fp) = s
        .rsplit_once('-')
        .ok_or_else(|| NodeIdError::MissingFingerprint { input: s.into() })?;
    if fp.len() != FINGERPRINT_LEN || !fp.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NodeIdError::BadFingerprint { fp: fp.into() });
    }
    validate_label(label)?;
    Ok((label, fp))
}

/// A syntactically valid node_id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

impl NodeId {
    /// Validates `s` (syntax only; see [`NodeId::check_identity`]).
    pub fn parse(s: &str) -> Result<Self, NodeIdError> {
        validate(s)?;
        Ok(NodeId(s.to_string()))
    }

    /// `<label>-<fingerprint(identity)>`.
    pub fn from_label(label: &str, identity: &IdentityPublicKey) -> Result<Self, NodeIdError> {
        validate_label(label)?;
        Ok(NodeId(format!("{label}-{}", fingerprint(identity))))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The label part.
    pub fn label(&self) -> &str {
        &self.0[..self.0.len() - FINGERPRINT_LEN - 1]
    }

    /// The fingerprint part.
    pub fn fingerprint(&self) -> &str {
        &self.0[self.0.len() - FINGERPRINT_LEN..]
    }

    /// Checks that the fingerprint names `identity`.
    pub fn check_identity(&self, identity: &IdentityPublicKey) -> Result<(), NodeIdError> {
        let expected = fingerprint(identity);
        if self.fingerprint() != expected {
            return Err(NodeIdError::FingerprintMismatch {
                found: self.fingerprint().into(),
                expected,
            });
        }
        Ok(())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.0)
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;
    fn from_str(s: &str) -> Result<Self, NodeIdError> {
        NodeId::parse(s)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NodeId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKey;

    fn key() -> IdentityPublicKey {
        IdentityKey::from_secret_bytes([1; 32]).public()
    }

    #[test]
    fn from_label_round_trips_and_names_the_key() {
        let id = NodeId::from_label("rpi-7", &key()).unwrap();
        assert_eq!(id.label(), "rpi-7");
        assert_eq!(id.fingerprint(), fingerprint(&key()));
        assert_eq!(NodeId::parse(id.as_str()).unwrap(), id);
        id.check_identity(&key()).unwrap();
        let other = IdentityKey::from_secret_bytes([2; 32]).public();
        assert!(matches!(
            id.check_identity(&other),
            Err(NodeIdError::FingerprintMismatch { .. })
        ));
    }

    #[test]
    fn longest_valid_id_is_a_63_byte_dns_label() {
        let id = NodeId::from_label(&"a".repeat(46), &key()).unwrap();
        assert_eq!(id.as_str().len(), 63);
        assert!(NodeId::from_label(&"a".repeat(47), &key()).is_err());
    }

    #[test]
    fn rejects_each_syntax_defect() {
        let fp = fingerprint(&key());
        type Expect = fn(&NodeIdError) -> bool;
        let cases: Vec<(String, Expect)> = vec![
            (format!("Rpi-{fp}"), |e| {
                matches!(e, NodeIdError::LabelChar { .. })
            }),
            (format!("rpi_1-{fp}"), |e| {
                matches!(e, NodeIdError::LabelChar { .. })
            }),
            (format!("{}-{fp}", "a".repeat(47)), |e| {
                matches!(e, NodeIdError::TooLong { .. })
            }),
            (format!("-rpi-{fp}"), |e| {
                matches!(e, NodeIdError::LabelHyphen { .. })
            }),
            (format!("rpi--{fp}"), |e| {
                matches!(e, NodeIdError::LabelHyphen { .. })
            }),
            (format!("-{fp}"), |e| matches!(e, NodeIdError::EmptyLabel)),
            ("rpi".to_string(), |e| {
                matches!(e, NodeIdError::MissingFingerprint { .. })
            }),
            (format!("rpi-{}", &fp[..15]), |e| {
                matches!(e, NodeIdError::BadFingerprint { .. })
            }),
            (format!("rpi-{}", fp.to_uppercase()), |e| {
                matches!(e, NodeIdError::BadFingerprint { .. })
            }),
            (format!("rpi-{fp}0"), |e| {
                matches!(e, NodeIdError::BadFingerprint { .. })
            }),
            (String::new(), |e| {
                matches!(e, NodeIdError::MissingFingerprint { .. })
            }),
            (format!("rpi-é{}", &fp[2..]), |e| {
                matches!(e, NodeIdError::BadFingerprint { .. })
            }),
        ];
        for (input, want) in cases {
            let err = NodeId::parse(&input).unwrap_err();
            assert!(want(&err), "{input:?} gave {err:?}");
        }
    }
}
