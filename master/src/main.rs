//! `daas-master`: the k8s-daas master service (`run`, `rotate`) and the operator and
//! owner CLI (`cli/`). Thin: parse argv, dispatch; a usage error exits 64.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;
mod serve;

/// The k8s-daas master: follows the worker registry on Sui, mints per-worker k3s
/// bootstrap tokens, seals them to each device and writes them on chain, activates
/// joined nodes and revokes leaving or slashed ones. Also the operator and owner CLI.
#[derive(Debug, Parser)]
#[command(name = "daas-master", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(serve::RunArgs),
    Rotate(serve::RotateArgs),
    #[command(flatten)]
    Cli(cli::Command),
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(64)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match args.command {
        Command::Run(a) => serve::run(a),
        Command::Rotate(a) => serve::rotate(a),
        Command::Cli(c) => cli::main(c),
    }
}
