//! Sui accounts and transaction signing (SUI-WIRE.md §4), with no Sui SDK, for the three
//! schemes the Sui CLI and wallets make accounts with.
//!
//! | scheme | flag | public key | signs |
//! |---|---|---|---|
//! | Ed25519 | `0x00` | 32 bytes | the 32-byte intent digest, pure Ed25519 |
//! | Secp256k1 | `0x01` | 33 bytes, compressed SEC1 | SHA-256 of the intent digest, ECDSA, low S |
//! | Secp256r1 | `0x02` | 33 bytes, compressed SEC1 | SHA-256 of the intent digest, ECDSA, low S |
//!
//! - intent digest = Blake2b-256([0,0,0] || BCS(TransactionData));
//! - address = Blake2b-256(flag || public key);
//! - serialized signature = flag || signature (64; ECDSA as compact `r || s`) || public
//!   key, Base64: 97 bytes for Ed25519, 98 for the ECDSA schemes;
//! - transaction digest = Base58(Blake2b-256("TransactionData::" || BCS(TransactionData)));
//! - private keys as `suiprivkey1…` (Bech32, HRP `suiprivkey`, payload flag || 32 bytes)
//!   or the `sui.keystore` JSON array of Base64 `flag || 32 bytes`.
//!
//! These are Sui's rules as `sui-types/src/crypto.rs` (`SuiSignatureInner::verify_secure`:
//! Blake2b-256 of the BCS intent message, then the scheme's `verify`) and fastcrypto
//! (`Secp256k1PublicKey::verify` and `Secp256r1PublicKey::verify` hash with SHA-256 and
//! refuse a high S) apply them, and as the TypeScript SDK `@mysten/sui` signs
//! (`Keypair::signWithIntent`; `secp256k1.sign(digest, sk, { lowS: true })`, which
//! SHA-256-hashes first). The tests check vectors made with that SDK
//! (`tests/fixtures/sui_key_vectors.json`).
//!
//! Ed25519 is built in everywhere (ZIP-215 through `ed25519-zebra`, the same rules as
//! fastcrypto's `ed25519-consensus`). The ECDSA schemes use fastcrypto, Sui's own crypto
//! library, and need feature `tx`: the agent never signs a transaction and builds
//! without it. Without `tx`, an ECDSA key or signature parses but refuses to sign or
//! verify, naming the feature.

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
use crate::keys::{Ed25519Secret, KeyError, read_private_file, verify_ed25519, write_private_file};

/// Signature scheme flag of Ed25519.
pub const ED25519_FLAG: u8 = 0x00;
/// Signature scheme flag of Secp256k1.
pub const SECP256K1_FLAG: u8 = 0x01;
/// Signature scheme flag of Secp256r1.
pub const SECP256R1_FLAG: u8 = 0x02;
/// Intent prefix of a transaction: scope TransactionData, version V0, app Sui.
pub const TRANSACTION_INTENT: [u8; 3] = [0, 0, 0];
/// Length of a serialized Ed25519 user signature.
pub const USER_SIGNATURE_LEN: usize = 97;
/// Length of a serialized Secp256k1 or Secp256r1 user signature.
pub const ECDSA_USER_SIGNATURE_LEN: usize = 98;
const MAX_SIGNATURE_LEN: usize = ECDSA_USER_SIGNATURE_LEN;
const MAX_PUBLIC_KEY_LEN: usize = 33;
const SUIPRIVKEY_HRP: &str = "suiprivkey";

/// A Sui account signature scheme (the flag byte of keys, signatures and addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// Ed25519, flag 0x00.
    Ed25519,
    /// ECDSA over secp256k1, flag 0x01.
    Secp256k1,
    /// ECDSA over secp256r1 (P-256), flag 0x02.
    Secp256r1,
}

impl SignatureScheme {
    /// All account schemes, in flag order.
    pub const ALL: [SignatureScheme; 3] = [
        SignatureScheme::Ed25519,
        SignatureScheme::Secp256k1,
        SignatureScheme::Secp256r1,
    ];

    /// The flag byte.
    pub const fn flag(self) -> u8 {
        match self {
            SignatureScheme::Ed25519 => ED25519_FLAG,
            SignatureScheme::Secp256k1 => SECP256K1_FLAG,
            SignatureScheme::Secp256r1 => SECP256R1_FLAG,
        }
    }

    /// The scheme of a flag byte (multisig, BLS, zkLogin and passkey flags are not
    /// account keys this project can hold).
    pub fn from_flag(flag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.flag() == flag)
    }

    /// Lower-case name, as `--scheme` takes it (`ed25519`, `secp256k1`, `secp256r1`).
    pub const fn name(self) -> &'static str {
        match self {
            SignatureScheme::Ed25519 => "ed25519",
            SignatureScheme::Secp256k1 => "secp256k1",
            SignatureScheme::Secp256r1 => "secp256r1",
        }
    }

    /// Public key length: 32 (Ed25519) or 33 (compressed SEC1).
    pub const fn public_key_len(self) -> usize {
        match self {
            SignatureScheme::Ed25519 => 32,
            _ => 33,
        }
    }

    /// Serialized user signature length: 97 or 98.
    pub const fn signature_len(self) -> usize {
        1 + 64 + self.public_key_len()
    }

    /// Whether this build can sign and verify with it (the ECDSA schemes need `tx`).
    pub const fn is_supported(self) -> bool {
        matches!(self, SignatureScheme::Ed25519) || cfg!(feature = "tx")
    }

    fn require_supported(self) -> Result<(), SuiKeyError> {
        if self.is_supported() {
            Ok(())
        } else {
            Err(SuiKeyError::Unsupported { scheme: self })
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for SignatureScheme {
    /// By name (`"secp256k1"`).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl FromStr for SignatureScheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("{s:?} is not a Sui key scheme: use ed25519, secp256k1 or secp256r1")
            })
    }
}

/// Why a Sui key or signature was refused. Never contains key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SuiKeyError {
    /// Not a Bech32 `suiprivkey1…` string (Bech32m is refused, as Sui does).
    #[error(
        "not a suiprivkey1… private key (Bech32 with HRP `suiprivkey`): export it with `sui keytool export --key-identity <alias>`"
    )]
    Bech32,
    /// A flag that is not an account scheme (multisig, BLS, zkLogin, passkey, unknown).
    #[error(
        "Sui key or signature uses scheme flag {flag:#04x}; accounts are Ed25519 (0x00), Secp256k1 (0x01) or Secp256r1 (0x02)"
    )]
    Scheme {
        /// The flag found.
        flag: u8,
    },
    /// A scheme this build cannot sign or verify with.
    #[error(
        "{scheme} keys need daas-protocol's `tx` feature (fastcrypto); this build signs and verifies Ed25519 only"
    )]
    Unsupported {
        /// The scheme.
        scheme: SignatureScheme,
    },
    /// The payload is not flag + 32 bytes.
    #[error("Sui private key payload is {got} bytes, expected 33 (flag + 32-byte key)")]
    Length {
        /// Bytes found.
        got: usize,
    },
    /// 32 bytes that are not a private key of the scheme (0, or not below the group
    /// order).
    #[error(
        "the 32 bytes are not a valid {scheme} private key (zero, or not below the group order)"
    )]
    InvalidSecret {
        /// The scheme.
        scheme: SignatureScheme,
    },
    /// A keystore that is not a JSON array of Base64 strings.
    #[error("sui.keystore {path}: {reason}")]
    Keystore {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing the key file failed (permissions, I/O, already exists).
    #[error(transparent)]
    File(#[from] KeyError),
    /// A serialized signature whose length does not fit its scheme.
    #[error(
        "user signature is {got} bytes, expected {expected} for {scheme} (flag || signature || public key)"
    )]
    SignatureLength {
        /// Bytes found.
        got: usize,
        /// Bytes the scheme needs.
        expected: usize,
        /// The scheme its flag names.
        scheme: SignatureScheme,
    },
    /// An empty signature.
    #[error("user signature is empty")]
    SignatureEmpty,
    /// Not Base64.
    #[error("user signature is not Base64")]
    SignatureBase64,
    /// The public key inside the signature is not a point of its curve.
    #[error("the {scheme} public key in the signature is not a valid point")]
    InvalidPublicKey {
        /// The scheme.
        scheme: SignatureScheme,
    },
    /// Signature does not verify over the transaction (a high-S ECDSA signature is
    /// refused, as Sui refuses it).
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

/// Blake2b-256(intent || tx_bytes): the intent digest every scheme signs (the ECDSA
/// schemes through SHA-256).
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

/// A Sui account public key of any scheme (32 or 33 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SuiPublicKey {
    scheme: SignatureScheme,
    bytes: [u8; MAX_PUBLIC_KEY_LEN],
}

impl SuiPublicKey {
    fn new(scheme: SignatureScheme, b: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_PUBLIC_KEY_LEN];
        bytes[..b.len()].copy_from_slice(b);
        SuiPublicKey { scheme, bytes }
    }

    /// The scheme.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The raw key: 32 bytes (Ed25519) or 33 (compressed SEC1).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.scheme.public_key_len()]
    }

    /// The account address: Blake2b-256(flag || key).
    pub fn address(&self) -> Address {
        Address(blake2b256(&[&[self.scheme.flag()], self.as_bytes()]))
    }

    /// Base64 of flag || key, as `sui keytool list` shows it and the SDK's
    /// `toSuiPublicKey()` returns it.
    pub fn to_base64(&self) -> String {
        BASE64.encode([&[self.scheme.flag()], self.as_bytes()].concat())
    }
}

impl fmt::Display for SuiPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for SuiPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SuiPublicKey({}, {})", self.scheme, self.to_base64())
    }
}

/// A serialized user signature: flag || signature (64) || public key, 97 bytes for
/// Ed25519 and 98 for Secp256k1/Secp256r1.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UserSignature {
    scheme: SignatureScheme,
    bytes: [u8; MAX_SIGNATURE_LEN],
}

impl UserSignature {
    fn assemble(scheme: SignatureScheme, sig: &[u8; 64], public: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_SIGNATURE_LEN];
        bytes[0] = scheme.flag();
        bytes[1..65].copy_from_slice(sig);
        bytes[65..65 + public.len()].copy_from_slice(public);
        UserSignature { scheme, bytes }
    }

    /// Parses the Base64 form Sui's RPCs take and `sui keytool sign` prints.
    pub fn from_base64(s: &str) -> Result<Self, SuiKeyError> {
        let v = BASE64
            .decode(s.trim())
            .map_err(|_| SuiKeyError::SignatureBase64)?;
        Self::from_bytes(&v)
    }

    /// Parses flag || signature || public key of an account scheme. (It parses in every
    /// build; verifying an ECDSA one needs feature `tx`.)
    pub fn from_bytes(b: &[u8]) -> Result<Self, SuiKeyError> {
        let flag = *b.first().ok_or(SuiKeyError::SignatureEmpty)?;
        let scheme = SignatureScheme::from_flag(flag).ok_or(SuiKeyError::Scheme { flag })?;
        if b.len() != scheme.signature_len() {
            return Err(SuiKeyError::SignatureLength {
                got: b.len(),
                expected: scheme.signature_len(),
                scheme,
            });
        }
        let mut bytes = [0u8; MAX_SIGNATURE_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Ok(UserSignature { scheme, bytes })
    }

    /// The scheme its flag names.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The serialized bytes (97 or 98).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.scheme.signature_len()]
    }

    /// Standard padded Base64.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.as_bytes())
    }

    /// The 64-byte signature (Ed25519 `R || S`, or ECDSA compact `r || s`).
    pub fn signature(&self) -> [u8; 64] {
        self.bytes[1..65].try_into().expect("64")
    }

    /// The signer's public key.
    pub fn public_key(&self) -> SuiPublicKey {
        SuiPublicKey::new(
            self.scheme,
            &self.bytes[65..65 + self.scheme.public_key_len()],
        )
    }

    /// The signer's address.
    pub fn signer(&self) -> Address {
        self.public_key().address()
    }

    /// Verifies the signature over `tx_bytes` with Sui's rules for its scheme (Ed25519
    /// ZIP-215; ECDSA over SHA-256 of the intent digest, low S only) and that the signer
    /// is `sender`.
    pub fn verify_transaction(&self, tx_bytes: &[u8], sender: &Address) -> Result<(), SuiKeyError> {
        self.verify_digest(&signing_digest(tx_bytes))?;
        let signer = self.signer();
        if signer != *sender {
            return Err(SuiKeyError::WrongSigner {
                signer,
                sender: *sender,
            });
        }
        Ok(())
    }

    /// Verifies the signature over a 32-byte intent digest.
    fn verify_digest(&self, digest: &[u8; 32]) -> Result<(), SuiKeyError> {
        self.scheme.require_supported()?;
        let sig = self.signature();
        let public = self.public_key();
        let ok = match self.scheme {
            SignatureScheme::Ed25519 => {
                let pk: [u8; 32] = public.as_bytes().try_into().expect("32");
                verify_ed25519(&pk, digest, &sig)
            }
            #[cfg(feature = "tx")]
            _ => ecdsa::verify(self.scheme, public.as_bytes(), digest, &sig)?,
            #[cfg(not(feature = "tx"))]
            _ => unreachable!("require_supported refused it"),
        };
        if ok {
            Ok(())
        } else {
            Err(SuiKeyError::SignatureInvalid)
        }
    }
}

impl fmt::Debug for UserSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserSignature({}, {})", self.scheme, self.to_base64())
    }
}

#[derive(Clone)]
enum Secret {
    Ed25519(Box<Ed25519Secret>),
    /// A Secp256k1 or Secp256r1 scalar (checked valid), with its public key.
    #[cfg(feature = "tx")]
    Ecdsa {
        scheme: SignatureScheme,
        secret: Zeroizing<[u8; 32]>,
        public: [u8; 33],
    },
}

/// A Sui account key of any scheme. Zeroized on drop; prints only its address.
#[derive(Clone)]
pub struct SuiKeypair(Secret);

impl SuiKeypair {
    /// A fresh Ed25519 key from the OS random source.
    pub fn generate() -> Self {
        SuiKeypair(Secret::Ed25519(Box::new(Ed25519Secret::generate())))
    }

    /// A fresh key of `scheme` from the OS random source.
    pub fn generate_scheme(scheme: SignatureScheme) -> Result<Self, SuiKeyError> {
        scheme.require_supported()?;
        loop {
            // A random 32-byte string is a valid ECDSA scalar except with probability
            // below 2^-127 (zero or not below the order); draw again then.
            match Self::from_scheme_secret(scheme, *crate::keys::random_32()) {
                Err(SuiKeyError::InvalidSecret { .. }) => continue,
                other => return other,
            }
        }
    }

    /// An Ed25519 key from its 32-byte seed.
    pub fn from_secret_bytes(seed: [u8; 32]) -> Self {
        SuiKeypair(Secret::Ed25519(Box::new(Ed25519Secret::from_seed(seed))))
    }

    /// A key of `scheme` from its 32-byte private key (an Ed25519 seed, or an ECDSA
    /// scalar below the group order).
    pub fn from_scheme_secret(
        scheme: SignatureScheme,
        secret: [u8; 32],
    ) -> Result<Self, SuiKeyError> {
        let secret = Zeroizing::new(secret);
        scheme.require_supported()?;
        match scheme {
            SignatureScheme::Ed25519 => Ok(Self::from_secret_bytes(*secret)),
            #[cfg(feature = "tx")]
            _ => {
                let public = ecdsa::public_key(scheme, &secret)?;
                Ok(SuiKeypair(Secret::Ecdsa {
                    scheme,
                    secret,
                    public,
                }))
            }
            #[cfg(not(feature = "tx"))]
            _ => unreachable!("require_supported refused it"),
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> SignatureScheme {
        match &self.0 {
            Secret::Ed25519(_) => SignatureScheme::Ed25519,
            #[cfg(feature = "tx")]
            Secret::Ecdsa { scheme, .. } => *scheme,
        }
    }

    /// The 32-byte private key (Ed25519 seed or ECDSA scalar).
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        match &self.0 {
            Secret::Ed25519(s) => s.seed(),
            #[cfg(feature = "tx")]
            Secret::Ecdsa { secret, .. } => secret.clone(),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> SuiPublicKey {
        match &self.0 {
            Secret::Ed25519(s) => SuiPublicKey::new(SignatureScheme::Ed25519, &s.public()),
            #[cfg(feature = "tx")]
            Secret::Ecdsa { scheme, public, .. } => SuiPublicKey::new(*scheme, public),
        }
    }

    /// The account address.
    pub fn address(&self) -> Address {
        self.public_key().address()
    }

    /// Signs BCS(TransactionData) with the transaction intent.
    pub fn sign_transaction(&self, tx_bytes: &[u8]) -> UserSignature {
        let digest = signing_digest(tx_bytes);
        let sig = match &self.0 {
            Secret::Ed25519(s) => s.sign(&digest),
            #[cfg(feature = "tx")]
            Secret::Ecdsa { scheme, secret, .. } => ecdsa::sign(*scheme, secret, &digest),
        };
        UserSignature::assemble(self.scheme(), &sig, self.public_key().as_bytes())
    }

    /// flag || 32-byte private key, the payload of both export forms.
    fn payload(&self) -> Zeroizing<[u8; 33]> {
        let mut payload = Zeroizing::new([0u8; 33]);
        payload[0] = self.scheme().flag();
        payload[1..].copy_from_slice(self.secret_bytes().as_ref());
        payload
    }

    fn from_payload(payload: &[u8]) -> Result<Self, SuiKeyError> {
        if payload.len() != 33 {
            return Err(SuiKeyError::Length { got: payload.len() });
        }
        let scheme = SignatureScheme::from_flag(payload[0])
            .ok_or(SuiKeyError::Scheme { flag: payload[0] })?;
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&payload[1..]);
        Self::from_scheme_secret(scheme, *secret)
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

    /// Exports `suiprivkey1…` (what `sui keytool export` prints and `sui keytool import`
    /// takes).
    pub fn to_suiprivkey(&self) -> Zeroizing<String> {
        let hrp = Hrp::parse(SUIPRIVKEY_HRP).expect("valid HRP");
        Zeroizing::new(
            bech32::encode::<Bech32>(hrp, self.payload().as_ref()).expect("33 bytes fit in Bech32"),
        )
    }

    /// One entry of `sui.keystore`: Base64 of flag || 32 bytes.
    pub fn to_keystore_entry(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.payload().as_ref()))
    }

    /// Parses one entry of `sui.keystore`: Base64 of flag || 32 bytes.
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
        Self::parse_key_text(&raw, &path.display().to_string(), address)
    }

    /// [`Self::load`] on bytes already read (from stdin, say); `origin` names them in
    /// errors.
    pub fn parse_key_text(
        raw: &[u8],
        origin: &str,
        address: Option<&Address>,
    ) -> Result<Self, SuiKeyError> {
        let keystore_err = |reason: String| SuiKeyError::Keystore {
            path: origin.to_string(),
            reason,
        };
        let text = std::str::from_utf8(raw).map_err(|_| keystore_err("not UTF-8".into()))?;
        let keys = if text.trim_start().starts_with('[') {
            Self::parse_keystore(text).map_err(keystore_err)?
        } else {
            vec![Self::from_suiprivkey(text)?]
        };
        let found = match address {
            Some(a) => keys.into_iter().find(|k| k.address() == *a),
            None => keys.into_iter().next(),
        };
        found.ok_or_else(|| {
            keystore_err(match address {
                Some(a) => format!("no key for address {a}: check `sui keytool list`"),
                None => "it holds no key".into(),
            })
        })
    }

    /// Writes the key as a `suiprivkey1…` line into a new 0600 file (the directory is
    /// created 0700); never overwrites. `sui keytool import` takes the line as it is.
    pub fn save(&self, path: &Path) -> Result<(), SuiKeyError> {
        let mut line = Zeroizing::new(self.to_suiprivkey().to_string());
        line.push('\n');
        Ok(write_private_file(path, line.as_bytes())?)
    }

    /// Parses a `sui.keystore` JSON array. Entries of schemes this build cannot use
    /// (and non-account flags) are skipped, as a keystore may hold them.
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
                Err(SuiKeyError::Scheme { .. } | SuiKeyError::Unsupported { .. }) => {}
                Err(SuiKeyError::InvalidSecret { scheme }) => {
                    return Err(format!("entry {i} is not a valid {scheme} private key"));
                }
                Err(_) => return Err(format!("entry {i} is not Base64 of flag || 32-byte key")),
            }
        }
        Ok(keys)
    }
}

impl fmt::Debug for SuiKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SuiKeypair({} address {}, secret redacted)",
            self.scheme(),
            self.address()
        )
    }
}

/// Secp256k1 and Secp256r1 through fastcrypto, the library Sui's validators verify
/// with (`fastcrypto::secp256k1` wraps libsecp256k1; `fastcrypto::secp256r1` the
/// RustCrypto `p256` crate). Both sign SHA-256 of the message with RFC 6979 nonces and
/// return low-S compact signatures; both verify only low-S signatures.
#[cfg(feature = "tx")]
mod ecdsa {
    use fastcrypto::secp256k1::{
        Secp256k1KeyPair, Secp256k1PrivateKey, Secp256k1PublicKey, Secp256k1Signature,
    };
    use fastcrypto::secp256r1::{
        Secp256r1KeyPair, Secp256r1PrivateKey, Secp256r1PublicKey, Secp256r1Signature,
    };
    use fastcrypto::traits::{KeyPair as _, Signer as _, ToFromBytes, VerifyingKey as _};

    use super::{SignatureScheme, SuiKeyError};

    fn public_bytes(pk: &impl AsRef<[u8]>) -> [u8; 33] {
        pk.as_ref()
            .try_into()
            .expect("fastcrypto serializes secp public keys compressed (33 bytes)")
    }

    /// The compressed public key of a valid private key.
    pub(super) fn public_key(
        scheme: SignatureScheme,
        secret: &[u8; 32],
    ) -> Result<[u8; 33], SuiKeyError> {
        let invalid = |_| SuiKeyError::InvalidSecret { scheme };
        Ok(match scheme {
            SignatureScheme::Secp256k1 => {
                let kp = Secp256k1KeyPair::from(
                    Secp256k1PrivateKey::from_bytes(secret).map_err(invalid)?,
                );
                public_bytes(kp.public())
            }
            SignatureScheme::Secp256r1 => {
                let kp = Secp256r1KeyPair::from(
                    Secp256r1PrivateKey::from_bytes(secret).map_err(invalid)?,
                );
                public_bytes(kp.public())
            }
            SignatureScheme::Ed25519 => unreachable!("Ed25519 is not ECDSA"),
        })
    }

    /// Signs `digest` (fastcrypto hashes it with SHA-256 first).
    pub(super) fn sign(scheme: SignatureScheme, secret: &[u8; 32], digest: &[u8; 32]) -> [u8; 64] {
        const CHECKED: &str = "the private key was checked when the keypair was made";
        let sig: Vec<u8> = match scheme {
            SignatureScheme::Secp256k1 => {
                let kp =
                    Secp256k1KeyPair::from(Secp256k1PrivateKey::from_bytes(secret).expect(CHECKED));
                kp.sign(digest).as_ref().to_vec()
            }
            SignatureScheme::Secp256r1 => {
                let kp =
                    Secp256r1KeyPair::from(Secp256r1PrivateKey::from_bytes(secret).expect(CHECKED));
                kp.sign(digest).as_ref().to_vec()
            }
            SignatureScheme::Ed25519 => unreachable!("Ed25519 is not ECDSA"),
        };
        sig.try_into()
            .expect("compact ECDSA signatures are 64 bytes")
    }

    /// Verifies a compact signature over `digest`; `Ok(false)` for a bad or high-S
    /// signature, an error for a public key that is not a curve point.
    pub(super) fn verify(
        scheme: SignatureScheme,
        public: &[u8],
        digest: &[u8; 32],
        sig: &[u8; 64],
    ) -> Result<bool, SuiKeyError> {
        let bad_key = |_| SuiKeyError::InvalidPublicKey { scheme };
        Ok(match scheme {
            SignatureScheme::Secp256k1 => {
                let pk = Secp256k1PublicKey::from_bytes(public).map_err(bad_key)?;
                Secp256k1Signature::from_bytes(sig).is_ok_and(|s| pk.verify(digest, &s).is_ok())
            }
            SignatureScheme::Secp256r1 => {
                let pk = Secp256r1PublicKey::from_bytes(public).map_err(bad_key)?;
                Secp256r1Signature::from_bytes(sig).is_ok_and(|s| pk.verify(digest, &s).is_ok())
            }
            SignatureScheme::Ed25519 => unreachable!("Ed25519 is not ECDSA"),
        })
    }
}

#[cfg(all(test, feature = "tx"))]
mod tests {
    use super::*;

    /// fastcrypto's own Ed25519 (ed25519-consensus, what Sui's validators run) accepts
    /// what ed25519-zebra signs, and rejects what ZIP-215 rejects: the tree's one
    /// Ed25519 implementation agrees with Sui's library.
    #[test]
    fn fastcrypto_ed25519_agrees_with_ours() {
        use fastcrypto::ed25519::{Ed25519PublicKey, Ed25519Signature};
        use fastcrypto::traits::{ToFromBytes, VerifyingKey};
        for i in 0..32u8 {
            let k = SuiKeypair::from_secret_bytes([i; 32]);
            let tx = [i; 100];
            let sig = k.sign_transaction(&tx);
            let pk = Ed25519PublicKey::from_bytes(k.public_key().as_bytes()).unwrap();
            let s = Ed25519Signature::from_bytes(&sig.signature()).unwrap();
            pk.verify(&signing_digest(&tx), &s).unwrap();
            let mut other = tx;
            other[0] ^= 1;
            assert!(pk.verify(&signing_digest(&other), &s).is_err());
            assert!(sig.verify_transaction(&other, &k.address()).is_err());
        }
    }
}
