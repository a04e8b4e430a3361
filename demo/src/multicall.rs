//! The demo's binary is also `daas-agent` and `k3s` (the k3s stand-in's `agent`),
//! chosen by the name it is started under, as busybox does: `daas-demo up` puts
//! symlinks named `daas-agent` and `k3s` to itself in its `bin/` folder, so one
//! `cargo run -p daas-demo` builds every program the demo runs, and each board runs
//! the very `daas-agent` code a board runs ([`daas_agent::cli::main`]), which starts
//! and supervises `k3s agent` as it would on a board.

use std::process::ExitCode;

use clap::Parser;
use daas_sandbox::k3s::agent::AgentArgs;

/// The names this binary answers to besides `daas-demo`.
pub const AGENT: &str = "daas-agent";
/// See [`AGENT`].
pub const K3S: &str = "k3s";

/// Runs the program named by argv\[0\], if it is one of [`AGENT`] and [`K3S`].
pub fn dispatch() -> Option<ExitCode> {
    let argv0 = std::env::args_os().next()?;
    let name = std::path::Path::new(&argv0)
        .file_name()?
        .to_str()?
        .to_string();
    match name.as_str() {
        AGENT => Some(daas_agent::cli::main()),
        K3S => Some(k3s_main()),
        _ => None,
    }
}

/// `k3s agent …`: the stand-in's flags (k3s's names).
#[derive(Debug, Parser)]
#[command(
    name = "k3s",
    about = "k3s stand-in (daas-k3s agent), run by the demo's boards"
)]
struct K3sArgs {
    #[command(subcommand)]
    command: K3sCmd,
}

#[derive(Debug, clap::Subcommand)]
enum K3sCmd {
    /// Run the agent stand-in.
    Agent(AgentArgs),
}

fn k3s_main() -> ExitCode {
    let args = match K3sArgs::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 64 } else { 0 });
        }
    };
    let K3sCmd::Agent(agent) = args.command;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => ExitCode::from(rt.block_on(daas_sandbox::k3s::agent::run_cli(agent, |k| {
            std::env::var(k).ok()
        }))),
        Err(e) => {
            eprintln!("k3s: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
