//! The operator and owner subcommands of `daas-master` (keys, certificates, owner
//! and admin transactions, `submit`): issue 10 item 9, written on branch `master-cli`.
//! `main.rs` flattens [`Command`] next to `run` and `rotate`; each subcommand takes
//! `--config FILE` for the `[chain]` table (`daas_master::chain::load_chain_table`).

use std::process::ExitCode;

/// The CLI's subcommands (added on branch `master-cli`).
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

/// Runs one CLI subcommand.
pub fn main(command: Command) -> ExitCode {
    match command {}
}
