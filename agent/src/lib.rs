//! `daas-agent`: the k8s-daas edge agent.
//!
//! Where it runs: on every board of the fleet (aarch64 musl, static, a few MiB), as a
//! systemd service (`daas-agent run`, unit `agent/daas-agent.service`), started at boot
//! with nobody logged in. It trusts exactly two pinned values, the chain id and the root
//! public key (DESIGN §1): it finds its Worker on Sui by node_id, checks that the
//! Worker's seal token is its own, accepts the registry's envelope-key certificate
//! only under the pinned root, verifies and opens its join envelope (DESIGN §5), checks
//! the cluster CA against the token's `K10<hash>` itself, and starts and supervises
//! `k3s agent` — stopping it (and tearing down what k3s leaves running) only when two
//! RPC endpoints agree the worker is revoked, or when the k3s server itself refuses it.
//!
//! What it must never do: build, sign or send a transaction (it links `daas-protocol`
//! without the `tx` feature); put the join token or node password on a command line,
//! into an environment, a log line, the status file or any file but the 0600 token and
//! password files k3s reads; decrypt an envelope before its signature has verified;
//! stop k3s because one RPC endpoint said so.
//!
//! Modules: [`config`] (`agent.toml`), [`device`] (keys, node_id, seal tokens),
//! [`import`] (the first-boot bundle), [`state`] (what must survive a restart),
//! [`watch`] (chain reads and every trust check), [`cacerts`] (the CA hash check),
//! [`k3s`] (the supervised child), [`notify`] (systemd and the child's `NOTIFY_SOCKET`),
//! [`service`] (the run loop), [`status`] and [`metrics`] (what `status` and
//! node_exporter read), [`commands`] (the owner-facing text of `init`), [`sys`] and
//! [`fsx`] (syscalls and careful file writes), [`cli`] (the binary's front end).

pub mod cacerts;
pub mod cli;
pub mod commands;
pub mod config;
pub mod device;
pub mod fsx;
pub mod import;
pub mod k3s;
pub mod metrics;
pub mod notify;
pub mod service;
pub mod state;
pub mod status;
pub mod sys;
pub mod watch;

pub use config::AgentConfig;
pub use service::{RunEnv, run};
