//! Command line of `daas-k3s`: k3s's subcommands and flag names. Each subcommand's
//! arguments and runner live in their own module, so adding one touches two lines here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[path = "agent_cmd.rs"]
mod agent_cmd;
#[path = "server_cmd.rs"]
mod server_cmd;

/// A k3s stand-in for k8s-daas tests and demos: k3s's join endpoints and the part of the
/// Kubernetes API the master and kubectl use. A test and demo tool — it is not k3s.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the server: HTTPS with its own CA, `/cacerts`, `/v1-k3s/...`, the Kubernetes API.
    ///
    /// Example: `daas-k3s server --data-dir /tmp/k3s --https-listen-port 0 --write-kubeconfig /tmp/k3s.yaml`
    Server(server_cmd::ServerArgs),
    /// Run an agent: check the token's CA hash against `/cacerts`, join with the token
    /// and the node password, register the Node and keep it Ready; k3s's log lines and
    /// retry intervals on failure, never exiting on a bad token.
    ///
    /// Example: `daas-k3s agent --server https://127.0.0.1:6443 --token-file /run/k3s-token --node-name pi-0123456789abcdef`
    Agent(agent_cmd::AgentArgs),
}

/// Parses argv; a usage error exits 64 (help/version exit 0).
pub fn parse() -> Result<Args, ExitCode> {
    Args::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(64)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// Runs the subcommand until it ends (a signal, for the server).
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Cmd::Server(a) => server_cmd::run(a).await,
        Cmd::Agent(a) => agent_cmd::run(a).await,
    }
}
