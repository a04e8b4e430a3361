//! Offline key and certificate operations: `key gen`, `key address`,
//! `key envelope-pubkey`, `cert issue`. None of them talks to a chain; none prints or
//! returns a secret (reports carry public keys and addresses only).

use std::path::{Path, PathBuf};

use daas_protocol::envkey_cert::EnvelopeKeyCert;
use daas_protocol::sui::SignatureScheme;
use daas_protocol::{
    Address, ChainId, EnvelopeKey, EnvelopePublicKey, NodePasswordKey, ObjectId, RootKey,
    SuiKeypair,
};
use serde::Serialize;

use super::{KeySource, OpsError};

/// The roles `key gen` makes keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenRole {
    /// The operator's root key (`k8s-daas-key v1 root …`).
    Root,
    /// The master's envelope key (`k8s-daas-key v1 envelope …`).
    Envelope,
    /// The master's node-password key (`k8s-daas-key v1 node-password …`).
    NodePassword,
    /// A Sui account (`suiprivkey1…`, as `sui keytool import` takes it).
    Sui(SignatureScheme),
}

impl GenRole {
    /// The role's name as `--role` takes it.
    pub fn name(self) -> &'static str {
        match self {
            GenRole::Root => "root",
            GenRole::Envelope => "envelope",
            GenRole::NodePassword => "node-password",
            GenRole::Sui(_) => "sui",
        }
    }
}

/// What `key gen` made (public parts only).
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedKey {
    /// `root`, `envelope`, `node-password` or `sui`.
    pub role: &'static str,
    /// The file written (0600).
    pub file: PathBuf,
    /// The Sui scheme, for `sui`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<SignatureScheme>,
    /// The public key: `0x` hex for root/envelope, Base64 flag || key for `sui`;
    /// absent for `node-password` (a symmetric secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The Sui address, for `sui`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// `key gen`: a fresh key of `role` into a new 0600 file (its directory created 0700
/// if missing); refuses to overwrite anything.
pub fn generate(role: GenRole, out: &Path) -> Result<GeneratedKey, OpsError> {
    let key_err = |source| OpsError::Key {
        arg: "--out",
        source,
    };
    let mut report = GeneratedKey {
        role: role.name(),
        file: out.to_path_buf(),
        scheme: None,
        public_key: None,
        address: None,
    };
    match role {
        GenRole::Root => {
            let k = RootKey::generate();
            k.save(out).map_err(key_err)?;
            report.public_key = Some(k.public().to_hex());
        }
        GenRole::Envelope => {
            let k = EnvelopeKey::generate();
            k.save(out).map_err(key_err)?;
            report.public_key = Some(k.public().to_hex());
        }
        GenRole::NodePassword => {
            NodePasswordKey::generate().save(out).map_err(key_err)?;
        }
        GenRole::Sui(scheme) => {
            let k = SuiKeypair::generate_scheme(scheme).map_err(|source| OpsError::SuiKey {
                arg: "--scheme",
                source,
            })?;
            k.save(out).map_err(|source| OpsError::SuiKey {
                arg: "--out",
                source,
            })?;
            report.scheme = Some(scheme);
            report.public_key = Some(k.public_key().to_base64());
            report.address = Some(k.address());
        }
    }
    Ok(report)
}

/// What `key address` shows.
#[derive(Debug, Clone, Serialize)]
pub struct AddressReport {
    /// The account address.
    pub address: Address,
    /// Its scheme.
    pub scheme: SignatureScheme,
    /// Base64 flag || public key.
    pub public_key: String,
}

/// `key address`: the Sui address of a `suiprivkey` or `sui.keystore` key.
pub fn address(key: &KeySource, pick: Option<&Address>) -> Result<AddressReport, OpsError> {
    let k = key.load_sui(pick)?;
    Ok(AddressReport {
        address: k.address(),
        scheme: k.scheme(),
        public_key: k.public_key().to_base64(),
    })
}

/// `key envelope-pubkey`: the public key of an envelope key file, to certify.
pub fn envelope_pubkey(path: &Path) -> Result<EnvelopePublicKey, OpsError> {
    EnvelopeKey::load(path)
        .map(|k| k.public())
        .map_err(|source| OpsError::Key {
            arg: "--key",
            source,
        })
}

/// Where `cert issue` takes the envelope public key from.
#[derive(Debug, Clone)]
pub enum EnvelopeSource {
    /// An envelope key file (on the master).
    KeyFile(PathBuf),
    /// Just the public key (`key envelope-pubkey` output), for a root key kept on an
    /// offline machine that never sees the envelope key.
    Public(EnvelopePublicKey),
}

/// A certificate `cert issue` made.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedCert {
    /// Its serial.
    pub serial: u64,
    /// The certified envelope key.
    pub envelope_public_key: EnvelopePublicKey,
    /// The chain it is bound to.
    pub chain_id: ChainId,
    /// The registry it is bound to.
    pub registry_id: ObjectId,
    /// The 105 bytes as `0x` hex (what `admin set-envelope-cert --cert` takes).
    pub certificate: String,
}

/// `cert issue`: the root key certifies an envelope key for one chain and registry.
pub fn issue_cert(
    root_key: &Path,
    envelope: &EnvelopeSource,
    serial: u64,
    chain_id: ChainId,
    registry_id: ObjectId,
) -> Result<IssuedCert, OpsError> {
    let root = RootKey::load(root_key).map_err(|source| OpsError::Key {
        arg: "--root-key",
        source,
    })?;
    let envelope_public_key = match envelope {
        EnvelopeSource::KeyFile(p) => {
            let k = EnvelopeKey::load(p).map_err(|source| OpsError::Key {
                arg: "--envelope-key",
                source,
            })?;
            daas_protocol::keys::ensure_distinct(&[
                (RootKey::ROLE, &root.secret_bytes()),
                (EnvelopeKey::ROLE, &k.secret_bytes()),
            ])
            .map_err(|source| OpsError::Key {
                arg: "--envelope-key",
                source,
            })?;
            k.public()
        }
        EnvelopeSource::Public(p) => *p,
    };
    if envelope_public_key.as_bytes() == root.public().as_bytes() {
        return Err(OpsError::usage(
            "--envelope-pubkey",
            "that is the root key's own public key: the envelope key must be its own key",
        ));
    }
    let cert = EnvelopeKeyCert::issue(&root, &chain_id, &registry_id, serial, &envelope_public_key);
    Ok(IssuedCert {
        serial,
        envelope_public_key,
        chain_id,
        registry_id,
        certificate: daas_protocol::hex::encode_0x(&cert.to_bytes()),
    })
}
