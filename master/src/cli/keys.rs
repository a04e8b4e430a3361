//! `key gen | address | envelope-pubkey` and `cert issue`: offline, no chain.

use std::path::PathBuf;
use std::process::ExitCode;

use daas_master::ops::keys::{self, EnvelopeSource, GenRole};
use daas_master::ops::{KeySource, OpsError};
use daas_protocol::sui::SignatureScheme;
use daas_protocol::{Address, ChainId, EnvelopePublicKey, ObjectId};

use super::{ConfigArg, JsonArg, fail, print};

/// `key …`.
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Generate a key into a new 0600 file (never overwriting one).
    ///
    /// Roles: `root` (the operator's offline root key, certifies envelope keys),
    /// `envelope` (the master's envelope-signing key), `node-password` (the master's
    /// 32-byte node-password key), `sui` (a Sui account, written as a `suiprivkey1…`
    /// line that `sui keytool import` takes; `--scheme` picks ed25519, secp256k1 or
    /// secp256r1). Prints the public key or address, never the secret.
    #[command(
        after_long_help = "Examples:\n  daas-master key gen --role root --out /secure/root.key\n  daas-master key gen --role sui --scheme secp256k1 --out ~/.k8s-daas/owner.key --json"
    )]
    Gen {
        /// root, envelope, node-password or sui.
        #[arg(long, value_parser = ["root", "envelope", "node-password", "sui"])]
        role: String,
        /// For `--role sui`: ed25519 (default), secp256k1 or secp256r1.
        #[arg(long, value_name = "SCHEME")]
        scheme: Option<SignatureScheme>,
        /// The new key file (its directory is created 0700 if missing).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print the Sui address (and scheme and public key) of a Sui key file.
    #[command(
        after_long_help = "Examples:\n  daas-master key address --key ~/.sui/sui_config/sui.keystore\n  sui keytool export --key-identity main | grep suiprivkey | daas-master key address --key -"
    )]
    Address {
        /// `suiprivkey1…` file or `sui.keystore`; `-` for stdin.
        #[arg(long, value_name = "FILE")]
        key: String,
        /// With a keystore: the address to pick (to check it is there).
        #[arg(long, value_name = "ADDR")]
        address: Option<Address>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Print the public key of an envelope key file (what `cert issue --envelope-pubkey` takes).
    #[command(
        after_long_help = "Example:\n  daas-master key envelope-pubkey --key /etc/k8s-daas/envelope.key"
    )]
    EnvelopePubkey {
        /// The envelope key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[command(flatten)]
        json: JsonArg,
    },
}

/// `cert …`.
#[derive(Debug, clap::Subcommand)]
pub enum CertCommand {
    /// Certify an envelope key with the root key for one chain and registry (offline);
    /// prints the 105-byte certificate as 0x hex for `admin set-envelope-cert --cert`.
    ///
    /// The chain id and registry come from `--chain-id`/`--registry`, or from the
    /// `[chain]` table of `--config`. The envelope key is given as its key file or,
    /// on an offline machine that holds only the root key, as its public key.
    #[command(
        after_long_help = "Examples:\n  daas-master cert issue --root-key /secure/root.key --envelope-pubkey 0x5d…e1 --serial 2 \\\n      --chain-id 4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S --registry 0x2b…\n  daas-master cert issue --root-key root.key --envelope-key envelope.key --serial 2 --config master.toml"
    )]
    Issue {
        /// The root key file.
        #[arg(long, value_name = "FILE")]
        root_key: PathBuf,
        /// The envelope key file.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "envelope_pubkey",
            conflicts_with = "envelope_pubkey"
        )]
        envelope_key: Option<PathBuf>,
        /// The envelope public key (0x hex, from `key envelope-pubkey`).
        #[arg(long, value_name = "HEX")]
        envelope_pubkey: Option<EnvelopePublicKey>,
        /// The certificate's serial: above the registry's current one.
        #[arg(long, value_name = "N")]
        serial: u64,
        /// The chain (Base58 genesis checkpoint digest).
        #[arg(long, value_name = "BASE58", required_unless_present = "config")]
        chain_id: Option<ChainId>,
        /// The registry object id.
        #[arg(long, value_name = "ID", required_unless_present = "config")]
        registry: Option<ObjectId>,
        /// Take the chain id and registry from this file's `[chain]` table instead.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        json: JsonArg,
    },
}

/// Runs `key …`.
pub fn key(c: KeyCommand) -> ExitCode {
    let r = match c {
        KeyCommand::Gen {
            role,
            scheme,
            out,
            json,
        } => (|| {
            let role = match (role.as_str(), scheme) {
                ("sui", s) => GenRole::Sui(s.unwrap_or(SignatureScheme::Ed25519)),
                (_, Some(_)) => {
                    return Err(OpsError::usage(
                        "--scheme",
                        "only `--role sui` keys have a scheme (the others are Ed25519 or a plain secret)",
                    ));
                }
                ("root", None) => GenRole::Root,
                ("envelope", None) => GenRole::Envelope,
                ("node-password", None) => GenRole::NodePassword,
                (other, _) => {
                    return Err(OpsError::usage("--role", format!("unknown role {other}")));
                }
            };
            let g = keys::generate(role, &out)?;
            print(json.json, &g, || {
                let mut s = format!("wrote {} key to {} (0600)\n", g.role, g.file.display());
                if let Some(sc) = g.scheme {
                    s.push_str(&format!("  scheme: {sc}\n"));
                }
                if let Some(a) = g.address {
                    s.push_str(&format!("  address: {a}\n"));
                }
                if let Some(p) = &g.public_key {
                    s.push_str(&format!("  public key: {p}\n"));
                }
                s
            });
            Ok(())
        })(),
        KeyCommand::Address { key, address, json } => {
            keys::address(&KeySource::from_arg(&key), address.as_ref()).map(|a| {
                print(json.json, &a, || {
                    format!(
                        "{}\n  scheme: {}\n  public key: {}\n",
                        a.address, a.scheme, a.public_key
                    )
                })
            })
        }
        KeyCommand::EnvelopePubkey { key, json } => keys::envelope_pubkey(&key).map(|p| {
            print(
                json.json,
                &serde_json::json!({ "envelope_public_key": p }),
                || format!("{p}\n"),
            )
        }),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Runs `cert …`.
pub fn cert(c: CertCommand) -> ExitCode {
    let CertCommand::Issue {
        root_key,
        envelope_key,
        envelope_pubkey,
        serial,
        chain_id,
        registry,
        config,
        json,
    } = c;
    let r = (|| {
        let (chain_id, registry) = match (chain_id, registry, config) {
            (Some(c), Some(r), _) => (c, r),
            (c, r, Some(path)) => {
                let table = ConfigArg { config: path }.load()?;
                (c.unwrap_or(table.chain_id), r.unwrap_or(table.registry_id))
            }
            _ => {
                return Err(OpsError::usage(
                    "--chain-id",
                    "give --chain-id and --registry, or --config with a [chain] table",
                ));
            }
        };
        let source = match (envelope_key, envelope_pubkey) {
            (Some(p), _) => EnvelopeSource::KeyFile(p),
            (None, Some(p)) => EnvelopeSource::Public(p),
            (None, None) => {
                return Err(OpsError::usage(
                    "--envelope-key",
                    "give --envelope-key FILE or --envelope-pubkey HEX",
                ));
            }
        };
        let cert = keys::issue_cert(&root_key, &source, serial, chain_id, registry)?;
        print(json.json, &cert, || format!("{}\n", cert.certificate));
        Ok(())
    })();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
