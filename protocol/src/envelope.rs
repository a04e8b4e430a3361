//! Join envelope v1 (DESIGN §5): what `set_join_token` stores on chain.
//!
//! ```text
//! 0      1   version = 0x01
//! 1      8   token_version (u64 LE)
//! 9      8   expires_at_ms (u64 LE)
//! 17    32   HPKE encapsulated key
//! 49     2   ciphertext length n (u16 LE), n >= 16
//! 51     n   HPKE ciphertext
//! 51+n  64   Ed25519 signature by the certified envelope key over
//!            "k8s-daas/envelope/v1" || chain_id (32) || bcs(registry_id) || bcs(worker_id)
//!            || bcs(node_id) || bytes[0..51+n]
//! ```
//!
//! HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305, `info = "k8s-daas/join/v1" || bcs(worker_id)`, `aad = bytes[0..17]`.
//! The plaintext is JSON with exactly the keys `server`, `token`, `node_password`.
//!
//! [`open`] verifies the signature before it decrypts anything.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::CryptoRng;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::chain_id::ChainId;
use crate::ids::ObjectId;
use crate::keys::{EnvelopeKey, EnvelopePublicKey, SealingKey, SealingPublicKey};
use crate::node_id::NodeId;
use crate::secret::{JoinToken, NodePassword};

/// Version byte.
pub const VERSION: u8 = 1;
/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = 51;
/// Bytes of the AAD prefix (version, token_version, expires_at_ms).
pub const AAD_LEN: usize = 17;
/// Signature length.
pub const SIGNATURE_LEN: usize = 64;
/// Shortest envelope (16-byte ciphertext: an empty plaintext's tag).
pub const MIN_LEN: usize = 131;
/// Longest envelope.
pub const MAX_LEN: usize = 2048;
/// Shortest ciphertext (the AEAD tag).
pub const MIN_CIPHERTEXT_LEN: usize = 16;
/// Longest plaintext.
pub const MAX_PLAINTEXT_LEN: usize = 1024;
/// Domain tag of the signature.
pub const SIGNATURE_TAG: &[u8] = b"k8s-daas/envelope/v1";
/// Prefix of the HPKE `info`.
pub const INFO_TAG: &[u8] = b"k8s-daas/join/v1";

/// Why an envelope was refused. Never carries plaintext.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Outside 131..=2048 bytes.
    #[error("envelope is {got} bytes, expected {MIN_LEN} to {MAX_LEN}")]
    Length {
        /// Bytes found.
        got: usize,
    },
    /// Version byte is not 1.
    #[error("envelope version is {got}, expected {VERSION}")]
    Version {
        /// The version byte.
        got: u8,
    },
    /// The ciphertext is shorter than an AEAD tag.
    #[error("envelope ciphertext length {n} is below the minimum {MIN_CIPHERTEXT_LEN}")]
    CiphertextTooShort {
        /// The length field.
        n: usize,
    },
    /// The length field does not match the envelope's size.
    #[error(
        "envelope length field says {n} ciphertext bytes, so {expected} bytes in all, but it is {got} bytes"
    )]
    LengthMismatch {
        /// The length field.
        n: usize,
        /// Total implied by it.
        expected: usize,
        /// Actual total.
        got: usize,
    },
    /// The signature is not by the certified envelope key over this chain, registry,
    /// worker and node_id.
    #[error(
        "envelope signature does not verify under the certified envelope key for chain {chain}, registry {registry}, worker {worker}, node_id {node_id}"
    )]
    Signature {
        /// Chain checked.
        chain: ChainId,
        /// Registry checked.
        registry: ObjectId,
        /// Worker checked.
        worker: ObjectId,
        /// node_id checked.
        node_id: String,
    },
    /// A token_version below one already used for this worker (a replay).
    #[error(
        "envelope token_version {got} is lower than version {highest_used} already used for this worker: refusing a replay"
    )]
    OldTokenVersion {
        /// Version in the envelope.
        got: u64,
        /// Highest version used.
        highest_used: u64,
    },
    /// Expired against max(clock, newest chain time seen).
    #[error(
        "envelope expired at {expires_at_ms} ms, now is {now_ms} ms: the master re-issues it, or ask again with request_join_token"
    )]
    Expired {
        /// Its expiry.
        expires_at_ms: u64,
        /// The time checked against.
        now_ms: u64,
    },
    /// HPKE could not open the ciphertext (sealed to another key, or corrupted).
    #[error("envelope does not open with this device's sealing key: it was sealed to another key")]
    Decrypt,
    /// The plaintext is not the expected JSON object.
    #[error("envelope plaintext: {0}")]
    Plaintext(String),
    /// The plaintext is longer than 1024 bytes.
    #[error("envelope plaintext is {len} bytes, at most {MAX_PLAINTEXT_LEN} allowed")]
    PlaintextTooLong {
        /// Its length.
        len: usize,
    },
    /// `server` is not `https://host[:port]`.
    #[error(
        "envelope plaintext: server {server:?} must be https://host[:port] without a path or trailing '/'"
    )]
    Server {
        /// The server URL (not secret).
        server: String,
    },
    /// HPKE sealing failed.
    #[error("HPKE sealing failed: {0}")]
    Seal(String),
}

/// What an envelope is bound to; every field is covered by the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeContext {
    /// The pinned chain.
    pub chain_id: ChainId,
    /// The registry object.
    pub registry_id: ObjectId,
    /// The Worker object.
    pub worker_id: ObjectId,
    /// The worker's node_id.
    pub node_id: NodeId,
}

impl EnvelopeContext {
    fn signed_message(&self, body: &[u8]) -> Vec<u8> {
        let node_id = crate::bcs_util::string(self.node_id.as_str());
        let mut m = Vec::with_capacity(SIGNATURE_TAG.len() + 96 + node_id.len() + body.len());
        m.extend_from_slice(SIGNATURE_TAG);
        m.extend_from_slice(self.chain_id.as_bytes());
        m.extend_from_slice(self.registry_id.as_bytes());
        m.extend_from_slice(self.worker_id.as_bytes());
        m.extend_from_slice(&node_id);
        m.extend_from_slice(body);
        m
    }

    fn info(&self) -> Vec<u8> {
        let mut info = Vec::with_capacity(INFO_TAG.len() + 32);
        info.extend_from_slice(INFO_TAG);
        info.extend_from_slice(self.worker_id.as_bytes());
        info
    }
}

/// The public header fields of an envelope whose layout checks passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// Must be the Worker's token_version + 1 when stored.
    pub token_version: u64,
    /// Expiry (ms since the epoch).
    pub expires_at_ms: u64,
    /// Ciphertext length n.
    pub ciphertext_len: usize,
}

impl EnvelopeHeader {
    /// Checks the layout (total length, version, length field, n >= 16) — the checks
    /// the Move contract makes, besides the expiry window — and returns the header.
    pub fn parse(b: &[u8]) -> Result<Self, EnvelopeError> {
        if !(MIN_LEN..=MAX_LEN).contains(&b.len()) {
            return Err(EnvelopeError::Length { got: b.len() });
        }
        if b[0] != VERSION {
            return Err(EnvelopeError::Version { got: b[0] });
        }
        let n = u16::from_le_bytes([b[49], b[50]]) as usize;
        if n < MIN_CIPHERTEXT_LEN {
            return Err(EnvelopeError::CiphertextTooShort { n });
        }
        let expected = HEADER_LEN + n + SIGNATURE_LEN;
        if expected != b.len() {
            return Err(EnvelopeError::LengthMismatch {
                n,
                expected,
                got: b.len(),
            });
        }
        Ok(EnvelopeHeader {
            token_version: u64::from_le_bytes(b[1..9].try_into().expect("8")),
            expires_at_ms: u64::from_le_bytes(b[9..17].try_into().expect("8")),
            ciphertext_len: n,
        })
    }
}

/// The sealed secret: where to join, with what, and the node password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinSecret {
    /// `https://host:port` of the k3s server, no trailing `/`.
    pub server: String,
    /// The per-worker bootstrap token.
    pub token: JoinToken,
    /// The node password the master will look for in the Node's password Secret.
    pub node_password: NodePassword,
}

impl JoinSecret {
    /// Decodes and checks the decrypted plaintext of an envelope: a JSON object with
    /// exactly `server`, `token` and `node_password`. Errors never quote a value.
    pub fn from_plaintext(plaintext: &[u8]) -> Result<Self, EnvelopeError> {
        let secret: JoinSecret = serde_json::from_slice(plaintext)
            .map_err(|e| EnvelopeError::Plaintext(safe_json_error(&e)))?;
        secret.validate()?;
        Ok(secret)
    }

    /// Checks `server`'s shape (token and password are checked by their types).
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        if valid_server(&self.server) {
            Ok(())
        } else {
            Err(EnvelopeError::Server {
                server: self.server.chars().take(200).collect(),
            })
        }
    }
}

/// Whether `s` is a `server` an envelope may carry: `https://host[:port]` with a DNS
/// name, IPv4 or bracketed IPv6 host; no user info, path, query or trailing `/`.
pub fn is_valid_server_url(s: &str) -> bool {
    valid_server(s)
}

fn valid_server(s: &str) -> bool {
    let Some(authority) = s.strip_prefix("https://") else {
        return false;
    };
    let (host, port, bracketed) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((h, "")) => (h, None, true),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(p) => (h, Some(p), true),
                None => return false,
            },
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (authority, None, false),
        },
    };
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| {
            if bracketed {
                b.is_ascii_hexdigit() || b == b':' || b == b'.'
            } else {
                b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
            }
        });
    let port_ok = port.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|v| v > 0)
    });
    host_ok && port_ok
}

/// A verified, opened envelope.
#[derive(Debug)]
pub struct OpenedEnvelope {
    /// Its token_version (record it as the highest used for this worker).
    pub token_version: u64,
    /// Its expiry.
    pub expires_at_ms: u64,
    /// The secret.
    pub secret: JoinSecret,
}

/// What [`open`] checks besides the binding: the certified key, replay and expiry.
#[derive(Debug, Clone, Copy)]
pub struct OpenPolicy<'a> {
    /// The envelope key from the accepted certificate.
    pub envelope_key: &'a EnvelopePublicKey,
    /// Highest token_version already used for this worker (0 if none).
    pub highest_used_version: u64,
    /// max(clock, newest chain timestamp seen), in ms.
    pub now_ms: u64,
}

fn os_rng() -> hpke::rand_core::UnwrapErr<getrandom::SysRng> {
    hpke::rand_core::UnwrapErr(getrandom::SysRng)
}

/// Seals `secret` to `recipient` and signs the result with `key` (OS randomness).
pub fn seal(
    ctx: &EnvelopeContext,
    key: &EnvelopeKey,
    recipient: &SealingPublicKey,
    token_version: u64,
    expires_at_ms: u64,
    secret: &JoinSecret,
) -> Result<Vec<u8>, EnvelopeError> {
    seal_with_rng(
        ctx,
        key,
        recipient,
        token_version,
        expires_at_ms,
        secret,
        &mut os_rng(),
    )
}

/// [`seal`] with a caller-chosen RNG (tests use a seeded one).
pub fn seal_with_rng(
    ctx: &EnvelopeContext,
    key: &EnvelopeKey,
    recipient: &SealingPublicKey,
    token_version: u64,
    expires_at_ms: u64,
    secret: &JoinSecret,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, EnvelopeError> {
    secret.validate()?;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(MAX_PLAINTEXT_LEN));
    serde_json::to_writer(&mut *plaintext, secret)
        .map_err(|_| EnvelopeError::Plaintext("cannot encode the join secret as JSON".into()))?;
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::PlaintextTooLong {
            len: plaintext.len(),
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16 + SIGNATURE_LEN);
    out.push(VERSION);
    out.extend_from_slice(&token_version.to_le_bytes());
    out.extend_from_slice(&expires_at_ms.to_le_bytes());
    let (enc, ciphertext) =
        hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &recipient.hpke(),
            &ctx.info(),
            &plaintext,
            &out[..AAD_LEN],
            rng,
        )
        .map_err(|e| EnvelopeError::Seal(e.to_string()))?;
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&(ciphertext.len() as u16).to_le_bytes());
    out.extend_from_slice(&ciphertext);
    let signature = key.sign(&ctx.signed_message(&out));
    out.extend_from_slice(&signature);
    if out.len() > MAX_LEN {
        return Err(EnvelopeError::Length { got: out.len() });
    }
    Ok(out)
}

/// Verifies and opens an envelope on the device. Checks, in order: layout, signature
/// under the certified key for this chain/registry/worker/node_id, token_version
/// against the highest used, expiry against `now_ms`, then decrypts and checks the
/// plaintext (exact keys, token and password shapes, server URL).
pub fn open(
    bytes: &[u8],
    ctx: &EnvelopeContext,
    sealing: &SealingKey,
    policy: &OpenPolicy<'_>,
) -> Result<OpenedEnvelope, EnvelopeError> {
    let header = EnvelopeHeader::parse(bytes)?;
    let signed_len = HEADER_LEN + header.ciphertext_len;
    let signature: [u8; 64] = bytes[signed_len..].try_into().expect("length checked");
    if !policy
        .envelope_key
        .verify(&ctx.signed_message(&bytes[..signed_len]), &signature)
    {
        return Err(EnvelopeError::Signature {
            chain: ctx.chain_id,
            registry: ctx.registry_id,
            worker: ctx.worker_id,
            node_id: ctx.node_id.to_string(),
        });
    }
    if header.token_version < policy.highest_used_version {
        return Err(EnvelopeError::OldTokenVersion {
            got: header.token_version,
            highest_used: policy.highest_used_version,
        });
    }
    if policy.now_ms >= header.expires_at_ms {
        return Err(EnvelopeError::Expired {
            expires_at_ms: header.expires_at_ms,
            now_ms: policy.now_ms,
        });
    }
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&bytes[AAD_LEN..49])
        .map_err(|_| EnvelopeError::Decrypt)?;
    let plaintext = Zeroizing::new(
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sealing.hpke(),
            &enc,
            &ctx.info(),
            &bytes[HEADER_LEN..signed_len],
            &bytes[..AAD_LEN],
        )
        .map_err(|_| EnvelopeError::Decrypt)?,
    );
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::PlaintextTooLong {
            len: plaintext.len(),
        });
    }
    let secret = JoinSecret::from_plaintext(&plaintext)?;
    Ok(OpenedEnvelope {
        token_version: header.token_version,
        expires_at_ms: header.expires_at_ms,
        secret,
    })
}

/// serde_json's message when it names only keys or shapes, never a value.
fn safe_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or_default();
    const SAFE: [&str; 5] = [
        "unknown field",
        "missing field",
        "duplicate field",
        "join token is not",
        "node_password is not",
    ];
    if SAFE.iter().any(|p| msg.starts_with(p)) {
        msg.to_string()
    } else {
        format!(
            "not a JSON object of strings server, token, node_password (line {}, column {})",
            e.line(),
            e.column()
        )
    }
}
