//! `daas-demo bench …`: the master's budgets (DESIGN §9), measured end to end on the
//! stand-ins and counted from the chain and the cluster. Each prints one line.
//!
//! - `bench master --registrations 1000`: registrations made while the master runs;
//!   seconds from the first registration sent to the last envelope on chain.
//!   `bench=master registrations=N seconds=S transactions=T issued=N duplicates=0 orphans=0`
//! - `bench master --backlog 10000`: registrations made while the master is down;
//!   seconds from its start to the last envelope. Same line with `backlog=N`.
//! - `bench activation --nodes 100`: that many agents (the k3s stand-in's, in process)
//!   join at once; `seconds` runs from the moment every Node is Ready to every worker
//!   activated and its bootstrap token deleted (DESIGN §9: "100 nodes turn Ready → all
//!   activated and their tokens deleted"). `worst_node_seconds` is the longest one
//!   node waited from its Ready to its activation; `join_seconds` is the stand-in's
//!   part, from the agents' start to the last Node Ready (not the master's).
//!   `bench=activation nodes=N seconds=S worst_node_seconds=W join_seconds=J`
//! - `bench failover --registrations 200`: two masters on one Lease (`[ha]`, default
//!   settings); half the registrations are made, the leader is killed with SIGKILL
//!   once its first envelopes are on chain, the other half are made at once; seconds
//!   from the kill to the standby's first envelope on chain (for a registration only
//!   it can have issued). `minted_twice` counts envelopes beyond one per worker and
//!   labelled tokens no live envelope refers to; `equivocated` the transactions the
//!   chain refused either master (an owned object signed twice would be one).
//!   `bench=failover seconds=S registrations=N issued=N minted_twice=0 equivocated=0`

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use daas_protocol::ObjectId;
use daas_protocol::chain::RegistryReader;
use daas_protocol::config::TransportKind;
use daas_sandbox::faults::Faults;
use daas_sandbox::k3s::agent::{self, AgentArgs};

use crate::stage::{Stage, Tally};

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// 1,000 registrations → all envelopes on chain (budget: 10 s, 20 transactions).
    ///
    /// Example: `cargo run --release -p daas-demo -- bench master --registrations 1000`
    Master {
        /// Registrations made while the master runs.
        #[arg(long, default_value_t = 1000, conflicts_with = "backlog")]
        registrations: usize,
        /// Registrations made while the master is down, then it starts (budget: caught
        /// up in 60 s).
        #[arg(long)]
        backlog: Option<usize>,
        /// `jsonrpc` or `graphql`.
        #[arg(long, default_value = "graphql")]
        transport: String,
    },
    /// Leader killed → the standby's first mint (budget: 15 s, nothing minted twice).
    ///
    /// Example: `cargo run --release -p daas-demo -- bench failover`
    Failover {
        /// Registrations: half before the kill, half after.
        #[arg(long, default_value_t = 200)]
        registrations: usize,
        /// `jsonrpc` or `graphql`.
        #[arg(long, default_value = "graphql")]
        transport: String,
    },
    /// 100 nodes turning Ready → all activated and their tokens deleted (budget: 10 s).
    ///
    /// Example: `cargo run --release -p daas-demo -- bench activation --nodes 100`
    Activation {
        /// Nodes joining at once.
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// `jsonrpc` or `graphql`.
        #[arg(long, default_value = "graphql")]
        transport: String,
    },
    /// 500 fleet bundles registered by `fleet register` (budget: 10 transactions).
    ///
    /// Example: `cargo run --release -p daas-demo -- bench fleet`
    Fleet {
        /// Bundles made and registered.
        #[arg(long, default_value_t = 500)]
        bundles: usize,
        /// `jsonrpc` or `graphql`.
        #[arg(long, default_value = "graphql")]
        transport: String,
    },
}

fn transport(s: &str) -> anyhow::Result<TransportKind> {
    crate::stage::parse_transport(s).map_err(|e| anyhow::anyhow!("--transport {e}"))
}

/// Runs a benchmark; its line on stdout.
pub fn main(b: Bench) -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = rt.block_on(async {
        match b {
            Bench::Master {
                registrations,
                backlog,
                transport: t,
            } => {
                master(
                    backlog.unwrap_or(registrations),
                    backlog.is_some(),
                    transport(&t)?,
                )
                .await
            }
            Bench::Activation {
                nodes,
                transport: t,
            } => activation(nodes, transport(&t)?).await,
            Bench::Failover {
                registrations,
                transport: t,
            } => failover(registrations, transport(&t)?).await,
            Bench::Fleet {
                bundles,
                transport: t,
            } => crate::bench_fleet::fleet(bundles, transport(&t)?).await,
        }
    });
    match r {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("daas-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Stakers for `n` registrations (each holds 2,000 SUI; a registration takes 1 SUI).
fn stakers(n: usize) -> usize {
    (n / 500 + 2).clamp(4, 64)
}

async fn wait_all_issued(
    stage: &Stage,
    tally: &mut Tally,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        tally.update(stage).await?;
        if tally.issued_workers() >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} envelopes on chain after {timeout:?}; master log: {}",
                tally.issued_workers(),
                stage.log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Tokens that no live envelope refers to, once the master has settled.
async fn orphans(stage: &Stage, tally: &Tally) -> anyhow::Result<usize> {
    let live: HashSet<(daas_protocol::ObjectId, u64)> = tally.issued.iter().copied().collect();
    // The master deletes superseded tokens right after it sees the envelope: give it
    // a moment past the last envelope to be at rest, then count.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tokens = stage.tokens().await?;
        let n = tokens.iter().filter(|t| !live.contains(t)).count();
        if n == 0 || Instant::now() > deadline {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn master(n: usize, backlog: bool, t: TransportKind) -> anyhow::Result<String> {
    let mut stage = Stage::start(t, stakers(n), Faults::none()).await?;
    let devices = stage.devices(n, "bench");
    let mut tally = Tally::default();
    tally.update(&stage).await?;
    let (start, budget) = if backlog {
        stage.register(&devices).await?;
        let start = Instant::now();
        stage.start_master().await?;
        (start, Duration::from_secs(600))
    } else {
        stage.start_master().await?;
        let start = Instant::now();
        stage.register(&devices).await?;
        (start, Duration::from_secs(600))
    };
    wait_all_issued(&stage, &mut tally, n, budget).await?;
    let seconds = start.elapsed().as_secs_f64();
    let orphans = orphans(&stage, &tally).await?;
    stage.stop_master().await?;
    Ok(format!(
        "bench=master {}={n} seconds={seconds:.2} transactions={} issued={} duplicates={} orphans={orphans}",
        if backlog { "backlog" } else { "registrations" },
        tally.envelope_txs.len(),
        tally.issued_workers(),
        tally.duplicates(),
    ))
}

async fn activation(n: usize, t: TransportKind) -> anyhow::Result<String> {
    let mut stage = Stage::start(t, stakers(n), Faults::none()).await?;
    let devices = stage.devices(n, "act");
    let mut tally = Tally::default();
    stage.start_master().await?;
    stage.register(&devices).await?;
    wait_all_issued(&stage, &mut tally, n, Duration::from_secs(300)).await?;
    // Open every envelope with its device's key, as the agents would.
    let reader = RegistryReader::new(&stage.chain, stage.package_id, stage.registry_id);
    let mut joins = Vec::new();
    for d in &devices {
        let w = reader
            .worker_by_node_id(d.node_id.as_str())
            .await?
            .context("a registered worker")?;
        let opened = stage.open(d, w.info.id, &w.worker.join_envelope)?;
        let base: PathBuf = stage.dir.path().join("agents").join(d.node_id.as_str());
        std::fs::create_dir_all(&base)?;
        write_secret(&base.join("token"), opened.secret.token.expose())?;
        write_secret(&base.join("password"), opened.secret.node_password.expose())?;
        joins.push((w.info.id, d.node_id.to_string(), base));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (_, node, base) in &joins {
        let args = AgentArgs {
            server: Some(stage.k3s.url.clone()),
            token: None,
            token_file: Some(base.join("token")),
            node_name: Some(node.clone()),
            data_dir: base.join("data"),
            node_label: vec![],
            with_node_id: false,
        };
        let pw = base.join("password").display().to_string();
        let cfg = args
            .into_config(|k| (k == "DAAS_K3S_NODE_PASSWORD_FILE").then(|| pw.clone()))
            .map_err(|e| anyhow::anyhow!("agent config: {e}"))?;
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(agent::run(cfg, async move {
            let _ = stop.wait_for(|s| *s).await;
        })));
    }
    let ids: HashSet<_> = joins.iter().map(|(w, _, _)| *w).collect();
    let node_of: HashMap<_, _> = joins.iter().map(|(w, n, _)| (*w, n.clone())).collect();
    // When each Node was first seen Ready and each worker first seen Active (50 ms looks).
    let mut ready: HashMap<String, Instant> = HashMap::new();
    let mut active_at: HashMap<ObjectId, Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let now = Instant::now();
        for name in stage.ready_nodes().await? {
            ready.entry(name).or_insert(now);
        }
        tally.update(&stage).await?;
        for w in ids.iter().filter(|w| tally.activated.contains(w)) {
            active_at.entry(*w).or_insert(now);
        }
        let active = active_at.len();
        if active == n {
            let tokens = stage.tokens().await?;
            if !tokens.iter().any(|(w, _)| ids.contains(w)) {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{active} of {n} activated after 300 s; master log: {}",
                stage.log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = Instant::now();
    let all_ready = node_of
        .values()
        .map(|n| ready.get(n).copied().unwrap_or(done))
        .max()
        .unwrap_or(done);
    let worst = active_at
        .iter()
        .map(|(w, at)| {
            let r = ready.get(&node_of[w]).copied().unwrap_or(*at);
            at.saturating_duration_since(r)
        })
        .max()
        .unwrap_or_default();
    let seconds = done.saturating_duration_since(all_ready).as_secs_f64();
    let join_seconds = all_ready.saturating_duration_since(start).as_secs_f64();
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    stage.stop_master().await?;
    Ok(format!(
        "bench=activation nodes={n} seconds={seconds:.2} worst_node_seconds={:.2} join_seconds={join_seconds:.2}",
        worst.as_secs_f64()
    ))
}

/// `/readyz`'s `role` of the master at `addr`.
async fn role(addr: Option<std::net::SocketAddr>) -> Option<String> {
    let r = reqwest::get(format!("http://{}/readyz", addr?))
        .await
        .ok()?;
    let v: serde_json::Value = r.json().await.ok()?;
    v["role"].as_str().map(str::to_string)
}

async fn wait_role(
    addr: impl Fn() -> Option<std::net::SocketAddr>,
    want: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while role(addr()).await.as_deref() != Some(want) {
        if Instant::now() > deadline {
            bail!("no master became {want} within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A `/metrics` series of the master at `addr` (0 if absent).
async fn metric(addr: std::net::SocketAddr, series: &str) -> anyhow::Result<u64> {
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?;
    Ok(body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

async fn failover(n: usize, t: TransportKind) -> anyhow::Result<String> {
    const REJECTED: &str = "daas_master_rpc_errors_total{kind=\"rejected\"}";
    let mut stage = Stage::start(t, stakers(n) + 1, Faults::none()).await?;
    stage.enable_ha().await?;
    stage.start_master().await?;
    wait_role(|| stage.master_http(), "leader").await?;
    stage.start_standby().await?;
    wait_role(|| stage.standby_http(), "standby").await?;
    let leader = stage.master_http().context("the leader's address")?;
    let standby = stage.standby_http().context("the standby's address")?;
    let first = stage.devices(n / 2, "fa");
    let second = stage.devices(n - n / 2, "fb");
    let mut tally = Tally::default();
    tally.update(&stage).await?;
    stage.register(&first).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while tally.issued_workers() == 0 {
        if Instant::now() > deadline {
            bail!(
                "the leader issued nothing in 120 s; log: {}",
                stage.log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        tally.update(&stage).await?;
    }
    let refused_by_leader = metric(leader, REJECTED).await?;
    stage.kill_master().await?;
    let killed = Instant::now();
    stage.register(&second).await?;
    let after: HashSet<&str> = second.iter().map(|d| d.node_id.as_str()).collect();
    let first_mint = loop {
        tally.update(&stage).await?;
        let standby_issued = tally.issued.iter().any(|(w, _)| {
            tally
                .registered
                .get(w)
                .is_some_and(|node| after.contains(node.as_str()))
        });
        if standby_issued {
            break killed.elapsed();
        }
        if killed.elapsed() > Duration::from_secs(120) {
            bail!(
                "the standby issued nothing within 120 s of the kill; log: {}",
                stage.standby_log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    wait_all_issued(&stage, &mut tally, n, Duration::from_secs(300)).await?;
    let orphans = orphans(&stage, &tally).await?;
    let equivocated = refused_by_leader + metric(standby, REJECTED).await?;
    stage.stop_standby().await?;
    Ok(format!(
        "bench=failover seconds={:.2} registrations={n} issued={} minted_twice={} equivocated={equivocated}",
        first_mint.as_secs_f64(),
        tally.issued_workers(),
        tally.duplicates() + orphans,
    ))
}

fn write_secret(path: &std::path::Path, s: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{s}")?;
    Ok(())
}
