//! The operator and owner subcommands of `daas-master` (issue 10 item 9): clap
//! definitions and output only; the logic is in `daas_master::ops`. `main.rs` flattens
//! [`Command`] next to `run`. Every subcommand that reads the chain takes
//! `--config FILE` for the `[chain]` table (`daas_master::chain::load_chain_table`);
//! private keys come only from files or stdin (`--key FILE`, `--key -`).
//!
//! Exit codes: 0 done, 1 chain or transaction failure (a Move abort included; nothing
//! is sent when the dry run aborts), 64 usage or configuration error.

mod fleet;
mod keys;
mod tx;

use std::path::PathBuf;
use std::process::ExitCode;

use daas_master::ops::{self, OpsError};
use daas_protocol::Address;
use serde::Serialize;

/// The CLI's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make keys and show their public halves (offline).
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Certify an envelope key with the root key (offline).
    #[command(subcommand)]
    Cert(keys::CertCommand),
    #[command(flatten)]
    Tx(tx::TxCommand),
    /// Per-device disk images: write a first-boot bundle onto an image's FAT boot
    /// partition (no root).
    #[command(subcommand)]
    Image(fleet::ImageCommand),
    /// Fleet provisioning: bundles for many devices, their batched registration, and
    /// one stamped image each.
    #[command(subcommand)]
    Fleet(fleet::FleetCommand),
}

/// `--config FILE`.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// A file with the `[chain]` table (`master.toml`, `agent.toml`, or a file holding
    /// only `[chain]`); other tables in it are ignored.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

impl ConfigArg {
    /// The validated `[chain]` table.
    pub fn load(&self) -> Result<daas_protocol::config::ChainConfig, OpsError> {
        Ok(daas_master::chain::load_chain_table(&self.config)?)
    }

    /// A session on the chain the table names.
    pub fn session(&self) -> Result<ops::Session, OpsError> {
        ops::Session::new(self.load()?)
    }
}

/// `--key FILE` (or `-` for stdin) and `--address`.
#[derive(Debug, clap::Args)]
pub struct KeyArg {
    /// The Sui account key: a file holding `suiprivkey1…` (`sui keytool export`) or a
    /// `sui.keystore`; `-` reads it from stdin. The file must be 0600. There is no way
    /// to pass the key itself as an argument.
    #[arg(long, value_name = "FILE")]
    pub key: String,
    /// With a `sui.keystore`: the address whose key to use (default: the first).
    #[arg(long, value_name = "ADDR")]
    pub address: Option<Address>,
}

impl KeyArg {
    /// The key.
    pub fn load(&self) -> Result<daas_protocol::SuiKeypair, OpsError> {
        ops::KeySource::from_arg(&self.key).load_sui(self.address.as_ref())
    }
}

/// `--json`.
#[derive(Debug, clap::Args)]
pub struct JsonArg {
    /// Print one JSON document (shapes in master/README.md) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints `value` as JSON, or `human` as text.
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce() -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("reports serialize")
        );
    } else {
        print!("{}", human());
    }
}

/// Prints an error (the whole chain, never `Debug`) and maps it to the exit code.
pub fn fail(e: &OpsError) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(e.exit_code())
}

/// A current-thread runtime for one command.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(f)
}

/// Runs one CLI subcommand.
pub fn main(command: Command) -> ExitCode {
    match command {
        Command::Key(c) => keys::key(c),
        Command::Cert(c) => keys::cert(c),
        Command::Tx(c) => tx::run(c),
        Command::Image(c) => fleet::image(c),
        Command::Fleet(c) => fleet::fleet(c),
    }
}
