//! `daas-k3s agent`: k3s's agent flags and environment variables, plus the stand-in's
//! `DAAS_K3S_*` ones (see sandbox/README.md); the agent itself is
//! `daas_sandbox::k3s::agent`.

use std::process::ExitCode;

use daas_sandbox::k3s::agent;

pub use daas_sandbox::k3s::agent::AgentArgs;

/// Runs the agent until SIGTERM/SIGINT (exit 0; a second signal exits 1), a fatal
/// error (1) or `DAAS_K3S_EXIT_AFTER`; a bad `DAAS_K3S_*` value exits 64.
pub async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let cfg = match args.into_config(|k| std::env::var(k).ok()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(64));
        }
    };
    let shutdown = agent::shutdown_signal(cfg.stand_in.ignore_sigterm);
    Ok(ExitCode::from(agent::run(cfg, shutdown).await))
}
