//! The operator and owner commands of `daas-master` as library functions (the clap
//! layer is `src/cli/` in the binary): offline keys and certificates ([`keys`]), the
//! owner's transactions and the worker list ([`owner`]), the AdminCap's and SlashCap's
//! transactions ([`admin`]), fleet provisioning — first-boot bundles ([`bundle`]),
//! per-device disk images ([`image`]) and the batched commands over them ([`fleet`]) —
//! and the one path every transaction takes ([`send`]):
//! built with `daas_protocol::tx`, gas and budget from `daas_protocol::chain::Submitter`,
//! dry-run before it is sent (an abort is reported, not paid for), then either signed
//! and executed or written unsigned for a cold or multisig signer.
//!
//! What it must never do: take a private key from anywhere but a file or stdin
//! ([`KeySource`]), print one, or send a transaction whose checks (fee cap, min stake,
//! seal token, ownership, cap validity) failed locally.

pub mod admin;
pub mod amount;
pub mod bundle;
pub mod explain;
pub mod fleet;
pub mod image;
pub mod keys;
pub mod owner;
pub mod send;

use std::io::Read as _;
use std::path::PathBuf;

use daas_protocol::chain::{AnyChain, ChainError, RegistryReader};
use daas_protocol::config::{ChainConfig, ConfigError};
use daas_protocol::keys::KeyError;
use daas_protocol::onchain::WorkerRegistry;
use daas_protocol::sui::SuiKeyError;
use daas_protocol::tx::{RegistryCalls, SharedRef};
use daas_protocol::{Address, SuiKeypair};
use thiserror::Error;
use zeroize::Zeroizing;

/// Exit code of a usage or configuration error (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;
/// Exit code of a chain or transaction failure (including a Move abort).
pub const EXIT_FAILURE: u8 = 1;

/// Why a command failed. Messages name the argument or file and the fix; none carries a
/// secret.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OpsError {
    /// A bad argument.
    #[error("{arg}: {message}")]
    Usage {
        /// The argument (`--stake`).
        arg: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The `--config` file.
    #[error("--config: {0}")]
    Config(#[from] ConfigError),
    /// A k8s-daas key file.
    #[error("{arg}: {source}")]
    Key {
        /// The argument naming the file.
        arg: &'static str,
        /// Why.
        source: KeyError,
    },
    /// A Sui key or signature.
    #[error("{arg}: {source}")]
    SuiKey {
        /// The argument.
        arg: &'static str,
        /// Why.
        source: SuiKeyError,
    },
    /// A file that cannot be read or written.
    #[error("{arg} {}: {source}", path.display())]
    Io {
        /// The argument naming it.
        arg: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Talking to the chain failed.
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// A first-boot bundle.
    #[error("{0}")]
    Bundle(#[from] bundle::BundleError),
    /// A disk image to stamp.
    #[error("{0}")]
    Image(#[from] image::ImageError),
    /// The chain's state says no (fee above the cap, stake below the minimum, not the
    /// owner, unknown worker, revoked cap …): nothing was sent.
    #[error("{0}")]
    Refused(String),
}

impl OpsError {
    /// A [`OpsError::Usage`].
    pub fn usage(arg: impl Into<String>, message: impl Into<String>) -> Self {
        OpsError::Usage {
            arg: arg.into(),
            message: message.into(),
        }
    }

    /// 64 for what the caller typed or configured, 1 for what the chain said.
    pub fn exit_code(&self) -> u8 {
        match self {
            OpsError::Chain(_) | OpsError::Refused(_) => EXIT_FAILURE,
            // reading or writing failed (a card pulled out, a full disk): not a usage error
            OpsError::Image(image::ImageError::Io { source, .. })
            | OpsError::Bundle(bundle::BundleError::Io { source, .. })
                if !matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                EXIT_FAILURE
            }
            _ => EXIT_USAGE,
        }
    }
}

/// Where a private key comes from: a file (`--key FILE`, refused when group or others
/// can read it) or stdin (`--key -`). Never an argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A `suiprivkey1…` file or a `sui.keystore`.
    File(PathBuf),
    /// The same text on stdin.
    Stdin,
}

impl KeySource {
    /// `-` is stdin, anything else a path.
    pub fn from_arg(s: &str) -> Self {
        if s == "-" {
            KeySource::Stdin
        } else {
            KeySource::File(PathBuf::from(s))
        }
    }

    /// Loads a Sui account key, picking `pick` from a keystore.
    pub fn load_sui(&self, pick: Option<&Address>) -> Result<SuiKeypair, OpsError> {
        let err = |source| OpsError::SuiKey {
            arg: "--key",
            source,
        };
        match self {
            KeySource::File(p) => SuiKeypair::load(p, pick).map_err(err),
            KeySource::Stdin => {
                let mut raw = Zeroizing::new(Vec::new());
                std::io::stdin()
                    .read_to_end(&mut raw)
                    .map_err(|source| OpsError::Io {
                        arg: "--key",
                        path: PathBuf::from("-"),
                        source,
                    })?;
                SuiKeypair::parse_key_text(&raw, "stdin", pick).map_err(err)
            }
        }
    }
}

/// A connection to one registry deployment, from a `[chain]` table.
pub struct Session {
    /// The table.
    pub config: ChainConfig,
    /// The client it names.
    pub chain: AnyChain,
}

impl Session {
    /// A client for `config` (no request yet; the chain id is checked before the first).
    pub fn new(config: ChainConfig) -> Result<Self, OpsError> {
        let chain = crate::chain::connect(&config)?;
        Ok(Session { config, chain })
    }

    /// A reader of the registry.
    pub fn reader(&self) -> RegistryReader<&AnyChain> {
        RegistryReader::new(&self.chain, self.config.package_id, self.config.registry_id)
    }

    /// The registry, and the call builder for it (its initial shared version read from
    /// the object's owner).
    pub async fn registry(&self) -> Result<(WorkerRegistry, RegistryCalls), OpsError> {
        let (info, reg) = self.reader().registry().await?;
        let registry = info.shared_ref().ok_or_else(|| {
            OpsError::Refused(format!(
                "registry {} is not a shared object: check `registry_id` in the config",
                self.config.registry_id
            ))
        })?;
        Ok((
            reg,
            RegistryCalls {
                package: self.config.package_id,
                registry: SharedRef {
                    id: registry.id,
                    initial_shared_version: registry.initial_shared_version,
                },
            },
        ))
    }
}
