//! `daas-demo`: the real master wired to the stand-ins (the sandbox chain and the k3s
//! stand-in, in this process), for the demo and the end-to-end benchmarks. The master
//! runs as a child process: this binary re-executes itself as `daas-demo master run`
//! (multi-call), so one `cargo run -p daas-demo` builds everything it runs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod stage;

/// k8s-daas on the stand-ins: benchmarks of the real master.
#[derive(Debug, Parser)]
#[command(name = "daas-demo", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(subcommand)]
    Bench(bench::Bench),
    /// The master itself (what the benchmarks run as their child process).
    #[command(hide = true)]
    Master {
        #[command(subcommand)]
        run: stage::MasterCmd,
    },
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
        Command::Bench(b) => bench::main(b),
        Command::Master { run } => stage::master_main(run),
    }
}
