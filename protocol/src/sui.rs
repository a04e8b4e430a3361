//! Sui accounts and transaction signing (SUI-WIRE.md §4), with no Sui SDK.
//!
//! - address = Blake2b-256(0x00 || ed25519 public key);
//! - signing digest = Blake2b-256([0,0,0] || BCS(TransactionData)), signed with pure Ed25519;
//! - serialized signature = 0x00 || signature (64) || public key (32), Base64;
//! - transaction digest = Base58(Blake2b-256("TransactionData::" || BCS(TransactionData)));
//! - private keys as `suiprivkey1…` (Bech32, HRP `suiprivkey`, payload flag || 32 bytes)
//!   or the `sui.keystore` JSON array of Base64 `flag || 32 bytes`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bech32::{Bech32, Hrp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::hash::blake2b256;
use crate::ids::Address;
use crate::keys::{Ed25519Secret, KeyError, read_private_file, verify_ed25519};

/// Signature scheme flag of Ed25519.
pub const ED25519_FLAG: u8 = 0x00;
/// Intent prefix of a transaction: scope TransactionData, version V0, app Sui.
pub const TRANSACTION_INTENT: [u8; 3] = [0, 0, 0];
/// Length of a serialized Ed25519 user signature.
pub const USER_SIGNATURE_LEN: usize = 97;
const SUIPRIVKEY_HRP: &str = "suiprivkey";

/// Why a Sui key or signature was refused. Never contains key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SuiKeyError {
    /// Not a Bech32 `suiprivkey1…` string (Bech32m is refused, as Sui does).
    #[error(
        "not a suiprivkey1… private key (Bech32 with HRP `suiprivkey`): export it with `sui keytool export --key-identity <alias>`"
    )]
    Bech32,
    /// A scheme other than Ed25519.
    #[error(
        "Sui key uses signature scheme flag {flag:#04x}; only Ed25519 (0x00) accounts are supported"
    )]
    Scheme {
        /// The flag found.
        flag: u8,
    },
    /// The payload is not flag + 32 bytes.
    #[error("Sui private key payload is {got} bytes, expected 33 (flag + 32-byte key)")]
    Length {
        /// Bytes found.
        got: usize,
    },
    /// A keystore that is not a JSON array of Base64 strings.
    #[error("sui.keystore {path}: {reason}")]
    Keystore {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading the key file failed (permissions, I/O).
    #[error(transparent)]
    File(#[from] KeyError),
    /// A serialized signature that is not 97 bytes of flag || sig || key.
    #[error(
        "user signature is {got} bytes, expected {USER_SIGNATURE_LEN} (Ed25519: flag || signature || public key)"
    )]
    SignatureLength {
        /// Bytes found.
        got: usize,
    },
    /// Not Base64.
    #[error("user signature is not Base64")]
    SignatureBase64,
    /// Signature does not verify over the transaction.
    #[error("signature does not verify for this transaction")]
    SignatureInvalid,
    /// The signer is not the transaction's sender.
    #[error("transaction is signed by {signer}, but its sender is {sender}")]
    WrongSigner {
        /// Address of the signing key.
        signer: Address,
        /// The sender.
        sender: Address,
    },
}

impl Address {
    /// The address of an Ed25519 account: Blake2b-256(0x00 || public key).
    pub fn from_ed25519(public: &[u8; 32]) -> Address {
        Address(blake2b256(&[&[ED25519_FLAG], public]))
    }
}

/// Blake2b-256(intent || tx_bytes): what the account key signs.
pub fn signing_digest(tx_bytes: &[u8]) -> [u8; 32] {
    blake2b256(&[&TRANSACTION_INTENT, tx_bytes])
}

/// A transaction digest, written in Base58.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransactionDigest(pub [u8; 32]);

impl TransactionDigest {
    /// The digest of BCS(TransactionData).
    pub fn of_transaction(tx_bytes: &[u8]) -> Self {
        TransactionDigest(blake2b256(&[b"TransactionData::", tx_bytes]))
    }
}

impl fmt::Display for TransactionDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl fmt::Debug for TransactionDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionDigest({self})")
    }
}

impl FromStr for TransactionDigest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v = bs58::decode(s)
            .into_vec()
            .map_err(|_| format!("{s:?} is not a Base58 digest"))?;
        v.try_into()
            .map(TransactionDigest)
            .map_err(|_| format!("{s:?} is not a 32-byte digest"))
    }
}

impl Serialize for TransactionDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TransactionDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A serialized Ed25519 user signature: flag || signature || public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UserSignature(pub [u8; USER_SIGNATURE_LEN]);

impl UserSignature {
    /// Parses the Base64 form Sui's RPCs take.
    pub fn from_base64(s: &str) -> Result<Self, SuiKeyError> {
        let v = BASE64
            .decode(s.trim())
            .map_err(|_| SuiKeyError::SignatureBase64)?;
        Self::from_bytes(&v)
    }

    /// Parses 97 bytes with the Ed25519 flag.
    pub fn from_bytes(b: &[u8]) -> Result<Self, SuiKeyError> {
        match b.first() {
            Some(&ED25519_FLAG) => {}
            Some(&flag) => return Err(SuiKeyError::Scheme { flag }),
            None => return Err(SuiKeyError::SignatureLength { got: 0 }),
        }
        b.try_into()
            .map(UserSignature)
            .map_err(|_| SuiKeyError::SignatureLength { got: b.len() })
    }

    /// Standard padded Base64.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// The signer's public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.0[65..].try_into().expect("32")
    }

    /// The signer's address.
    pub fn signer(&self) -> Address {
        Address::from_ed25519(&self.public_key())
    }

    /// Verifies the signature over `tx_bytes` (ZIP-215) and that the signer is `sender`.
    pub fn verify_transaction(&self, tx_bytes: &[u8], sender: &Address) -> Result<(), SuiKeyError> {
        let sig: [u8; 64] = self.0[1..65].try_into().expect("64");
        if !verify_ed25519(&self.public_key(), &signing_digest(tx_bytes), &sig) {
            return Err(SuiKeyError::SignatureInvalid);
        }
        let signer = self.signer();
        if signer != *sender {
            return Err(SuiKeyError::WrongSigner {
                signer,
                sender: *sender,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for UserSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserSignature({})", self.to_base64())
    }
}

/// A Sui Ed25519 account key. Zeroized on drop; prints only its address.
#[derive(Clone)]
pub struct SuiKeypair(Ed25519Secret);

impl SuiKeypair {
    /// A fresh key from the OS random source.
    pub fn generate() -> Self {
        SuiKeypair(Ed25519Secret::generate())
    }

    /// From the 32-byte Ed25519 seed.
    pub fn from_secret_bytes(seed: [u8; 32]) -> Self {
        SuiKeypair(Ed25519Secret::from_seed(seed))
    }

    /// The 32-byte seed.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.seed()
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.public()
    }

    /// The account address.
    pub fn address(&self) -> Address {
        Address::from_ed25519(&self.public_key())
    }

    /// Signs BCS(TransactionData) with the transaction intent.
    pub fn sign_transaction(&self, tx_bytes: &[u8]) -> UserSignature {
        let sig = self.0.sign(&signing_digest(tx_bytes));
        let mut out = [0u8; USER_SIGNATURE_LEN];
        out[0] = ED25519_FLAG;
        out[1..65].copy_from_slice(&sig);
        out[65..].copy_from_slice(&self.public_key());
        UserSignature(out)
    }

    fn from_payload(payload: &[u8]) -> Result<Self, SuiKeyError> {
        if payload.len() != 33 {
            return Err(SuiKeyError::Length { got: payload.len() });
        }
        if payload[0] != ED25519_FLAG {
            return Err(SuiKeyError::Scheme { flag: payload[0] });
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&payload[1..]);
        Ok(Self::from_secret_bytes(*seed))
    }

    /// Imports `suiprivkey1…` (Bech32 only; Bech32m is refused as Sui does).
    pub fn from_suiprivkey(s: &str) -> Result<Self, SuiKeyError> {
        let parsed = bech32::primitives::decode::CheckedHrpstring::new::<Bech32>(s.trim())
            .map_err(|_| SuiKeyError::Bech32)?;
        if parsed.hrp().as_str() != SUIPRIVKEY_HRP {
            return Err(SuiKeyError::Bech32);
        }
        let payload = Zeroizing::new(parsed.byte_iter().collect::<Vec<u8>>());
        Self::from_payload(&payload)
    }

    /// Exports `suiprivkey1…`.
    pub fn to_suiprivkey(&self) -> Zeroizing<String> {
        let mut payload = Zeroizing::new([0u8; 33]);
        payload[0] = ED25519_FLAG;
        payload[1..].copy_from_slice(self.secret_bytes().as_ref());
        let hrp = Hrp::parse(SUIPRIVKEY_HRP).expect("valid HRP");
        Zeroizing::new(
            bech32::encode::<Bech32>(hrp, payload.as_ref()).expect("33 bytes fit in Bech32"),
        )
    }

    /// One entry of `sui.keystore`: Base64 of flag || 32 bytes.
    pub fn from_keystore_entry(b64: &str) -> Result<Self, SuiKeyError> {
        let payload =
            Zeroizing::new(
                BASE64
                    .decode(b64.trim())
                    .map_err(|_| SuiKeyError::Keystore {
                        path: "-".into(),
                        reason: "an entry is not Base64".into(),
                    })?,
            );
        Self::from_payload(&payload)
    }

    /// Reads a key file holding either a `suiprivkey1…` line or a `sui.keystore` JSON
    /// array, picking the entry whose address is `address` (or the only/first entry
    /// when `address` is `None`). The file must not be readable by group/others.
    pub fn load(path: &Path, address: Option<&Address>) -> Result<Self, SuiKeyError> {
        let raw = read_private_file(path)?;
        let text = std::str::from_utf8(&raw).map_err(|_| SuiKeyError::Keystore {
            path: path.display().to_string(),
            reason: "not UTF-8".into(),
        })?;
        let keys = if text.trim_start().starts_with('[') {
            Self::parse_keystore(text).map_err(|reason| SuiKeyError::Keystore {
                path: path.display().to_string(),
                reason,
            })?
        } else {
            vec![Self::from_suiprivkey(text)?]
        };
        let found = match address {
            Some(a) => keys.into_iter().find(|k| k.address() == *a),
            None => keys.into_iter().next(),
        };
        found.ok_or_else(|| SuiKeyError::Keystore {
            path: path.display().to_string(),
            reason: match address {
                Some(a) => format!("no Ed25519 key for address {a}: check `sui keytool list`"),
                None => "it holds no key".into(),
            },
        })
    }

    /// Parses a `sui.keystore` JSON array; entries of other schemes are skipped.
    pub fn parse_keystore(json: &str) -> Result<Vec<Self>, String> {
        let entries: Vec<Zeroizing<String>> = serde_json::from_str::<Vec<String>>(json)
            .map_err(|_| "expected a JSON array of Base64 strings".to_string())?
            .into_iter()
            .map(Zeroizing::new)
            .collect();
        let mut keys = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match Self::from_keystore_entry(e) {
                Ok(k) => keys.push(k),
                Err(SuiKeyError::Scheme { .. }) => {}
                Err(_) => return Err(format!("entry {i} is not Base64 of flag || 32-byte key")),
            }
        }
        Ok(keys)
    }
}

impl fmt::Debug for SuiKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SuiKeypair(address {}, secret redacted)", self.address())
    }
}
