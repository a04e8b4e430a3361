//! Command line of `daas-sandbox`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use daas_sandbox::{Faults, GenesisParams, Sandbox, SandboxConfig};

/// The outside world in a box for k8s-daas: a Sui full-node stand-in for the
/// worker registry. A test and demo tool — it is not Sui.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the chain: JSON-RPC at `POST /`, GraphQL at `POST /graphql`.
    ///
    /// Example: `daas-sandbox chain --listen 127.0.0.1:9000 --info /tmp/i.json --cooldown-ms 60000`
    Chain {
        /// Address to listen on (loopback only in tests and demos).
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// Write the chain's ids, URLs and test keys as JSON to this file (mode 0600).
        #[arg(long)]
        info: Option<PathBuf>,
        /// Persist the chain here and continue from it on restart.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Seed of every id and key (same seed, same chain).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Funded staker accounts.
        #[arg(long, default_value_t = 4)]
        accounts: usize,
        /// Faults per request, e.g. `429:0.1,5xx:0.05,timeout:0.02,malformed:0.02,drop:0.02,latency:50ms`.
        #[arg(long, default_value = "")]
        faults: String,
        /// Serve reads N checkpoints behind the newest, as a lagging node or indexer
        /// does (execution stays current). Not persisted; change it at run time with
        /// `POST /admin/faults {"read_lag": N}`.
        #[arg(long, default_value_t = 0)]
        read_lag: u64,
        /// The network's checkpoint interval the read lag is measured in (ms): Sui
        /// seals a checkpoint about every 250 ms even without user transactions, so a
        /// checkpoint sealed `read-lag × interval` ago is served even when no newer
        /// one came.
        #[arg(long, default_value_t = daas_sandbox::server::CHECKPOINT_INTERVAL_MS)]
        read_lag_interval_ms: u64,
        /// Check every request and answer against Sui's spec files in DIR
        /// (openrpc.json, schema.graphql); violations are logged and listed at
        /// `GET /admin/violations`. For tests.
        #[cfg(feature = "conformance")]
        #[arg(long, value_name = "DIR")]
        check_spec: Option<PathBuf>,
        /// Registry min_stake (MIST).
        #[arg(long)]
        min_stake: Option<u64>,
        /// Registry registration_fee (MIST).
        #[arg(long)]
        registration_fee: Option<u64>,
        /// Registry cooldown_ms.
        #[arg(long)]
        cooldown_ms: Option<u64>,
        /// Registry revoke_grace_ms.
        #[arg(long)]
        revoke_grace_ms: Option<u64>,
        /// Registry max_envelope_ttl_ms.
        #[arg(long)]
        max_envelope_ttl_ms: Option<u64>,
        /// The genesis timestamp (Unix ms; default now). With the same seed it gives
        /// the same chain id and objects: two processes then serve one chain's
        /// genesis, as two full nodes do (tests of quorum reads).
        #[arg(long)]
        genesis_time_ms: Option<u64>,
    },
}

/// Parses argv; a usage error exits 64 (2 for help/version is clap's own).
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

/// Runs the command until Ctrl-C / SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let Cmd::Chain {
        listen,
        info,
        state_dir,
        seed,
        accounts,
        faults,
        read_lag,
        read_lag_interval_ms,
        #[cfg(feature = "conformance")]
        check_spec,
        min_stake,
        registration_fee,
        cooldown_ms,
        revoke_grace_ms,
        max_envelope_ttl_ms,
        genesis_time_ms,
    } = args.command;
    let faults: Faults = faults
        .parse()
        .map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let mut genesis = GenesisParams::new(seed, accounts, genesis_time_ms.unwrap_or(now));
    genesis.min_stake = min_stake.unwrap_or(genesis.min_stake);
    genesis.registration_fee = registration_fee.unwrap_or(genesis.registration_fee);
    genesis.cooldown_ms = cooldown_ms.unwrap_or(genesis.cooldown_ms);
    genesis.revoke_grace_ms = revoke_grace_ms.unwrap_or(genesis.revoke_grace_ms);
    genesis.max_envelope_ttl_ms = max_envelope_ttl_ms.unwrap_or(genesis.max_envelope_ttl_ms);
    let sandbox = Sandbox::start(
        SandboxConfig {
            listen,
            genesis,
            state_dir,
            faults,
            read_lag,
            read_lag_interval_ms,
            #[cfg(feature = "conformance")]
            spec: check_spec
                .map(|dir| daas_sandbox::conformance::Spec::load(&dir).map(std::sync::Arc::new))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--check-spec: {e}"))?,
        },
        daas_sandbox::server::shutdown_signal(),
    )
    .await?;
    if let Some(path) = info {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("writing --info {}", path.display()))?;
        f.write_all(serde_json::to_string_pretty(&sandbox.info)?.as_bytes())?;
    }
    eprintln!(
        "daas-sandbox: chain {} at {} (GraphQL {})",
        sandbox.info.chain_id, sandbox.info.rpc_url, sandbox.info.graphql_url
    );
    sandbox.task.await?;
    Ok(())
}
