//! `daas-k3s agent`: k3s's agent flags and environment variables, plus the stand-in's
//! `DAAS_K3S_*` ones (see sandbox/README.md); the agent itself is
//! `daas_sandbox::k3s::agent`.

use std::process::ExitCode;

use daas_sandbox::k3s::agent;

pub use daas_sandbox::k3s::agent::AgentArgs;

/// Runs the agent ([`agent::run_cli`]) with the process's environment.
pub async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::from(
        agent::run_cli(args, |k| std::env::var(k).ok()).await,
    ))
}
