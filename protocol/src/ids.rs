//! Sui addresses and object ids: 32 bytes, written `0x` + 64 lowercase hex.
//!
//! Input accepts the short forms Sui tools print (`0x6` is the Clock), with or without
//! `0x`, any case; in BCS both are 32 raw bytes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// A string that is not a Sui address or object id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdError {
    /// Empty, too long, or not hex.
    #[error("{input:?} is not a Sui id: expected 0x followed by 1 to 64 hex digits")]
    Malformed {
        /// The rejected text (ids are public; safe to echo).
        input: String,
    },
}

fn parse_32(s: &str) -> Result<[u8; 32], IdError> {
    let digits = crate::hex::strip_prefix(s.trim());
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(IdError::Malformed {
            input: s.chars().take(80).collect(),
        });
    }
    let padded = format!("{digits:0>64}");
    Ok(::hex::decode(padded)
        .expect("checked hex of 64 digits")
        .try_into()
        .expect("64 hex digits are 32 bytes"))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The 32 raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            /// From a byte slice of exactly 32 bytes.
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                b.try_into().ok().map(Self)
            }
            /// The id with the given small value in its last bytes (`0x6` is the Clock).
            pub const fn from_u64(v: u64) -> Self {
                let mut out = [0u8; 32];
                let be = v.to_be_bytes();
                let mut i = 0;
                while i < 8 {
                    out[24 + i] = be[i];
                    i += 1;
                }
                Self(out)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0x")?;
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_32(s).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    self.0.serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    <[u8; 32]>::deserialize(d).map(Self)
                }
            }
        }
    };
}

id_type!(
    /// A Sui account address (`Blake2b-256(flag || public key)`).
    Address
);
id_type!(
    /// A Sui object id (`UID`/`ID` in Move).
    ObjectId
);

impl From<ObjectId> for Address {
    fn from(id: ObjectId) -> Self {
        Address(id.0)
    }
}

impl From<Address> for ObjectId {
    fn from(a: Address) -> Self {
        ObjectId(a.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_pad_and_display_is_full_lowercase() {
        let clock: ObjectId = "0x6".parse().unwrap();
        assert_eq!(clock, ObjectId::from_u64(6));
        assert_eq!(
            clock.to_string(),
            "0x0000000000000000000000000000000000000000000000000000000000000006"
        );
        let a: Address = "CC2196EE1FA156836DAF9BB021D88D648A0023FA387E695D3701667A634A331F"
            .parse()
            .unwrap();
        assert_eq!(
            a.to_string(),
            "0xcc2196ee1fa156836daf9bb021d88d648a0023fa387e695d3701667a634a331f"
        );
    }

    #[test]
    fn rejects_empty_long_and_non_hex() {
        for bad in ["", "0x", "0xg1", &"1".repeat(65)] {
            assert!(bad.parse::<Address>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn json_is_a_hex_string_and_bcs_is_32_raw_bytes() {
        let id = ObjectId::from_u64(0x1234);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<ObjectId>(&json).unwrap(), id);
        let b = bcs::to_bytes(&id).unwrap();
        assert_eq!(b.as_slice(), id.as_bytes());
        assert_eq!(bcs::from_bytes::<ObjectId>(&b).unwrap(), id);
    }
}
