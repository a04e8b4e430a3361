//! `daas-demo`: the real master and agents wired to the stand-ins (the sandbox chain
//! and the k3s stand-in's server, in this process): `up`, the demo, and the
//! end-to-end benchmarks. The master and the boards' agents run as child processes of
//! this binary (`daas-demo master run`, and the names `daas-agent` and `k3s`:
//! [`multicall`]), so one `cargo run -p daas-demo` builds everything it runs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod bench_fleet;
mod boot_test;
mod configs;
mod multicall;
mod stage;
mod suite;
mod up;
mod world;

/// k8s-daas on the stand-ins: the demo and the benchmarks.
#[derive(Debug, Parser)]
#[command(name = "daas-demo", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Up(up::Up),
    Suite(suite::SuiteArgs),
    /// Boot a stamped Debian arm64 image under qemu against the stand-ins (cross/boot-test).
    BootTest(boot_test::BootTestArgs),
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
    if let Some(code) = multicall::dispatch() {
        return code;
    }
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 64 } else { 0 });
        }
    };
    match args.command {
        Command::Up(u) => up::main(u),
        Command::Suite(s) => suite::main(s),
        Command::BootTest(b) => boot_test::main(b),
        Command::Bench(b) => bench::main(b),
        Command::Master { run } => stage::master_main(run),
    }
}
