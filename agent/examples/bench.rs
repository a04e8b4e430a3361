//! The agent's budgets (DESIGN §9), measured, one line on stdout:
//!
//! `bench=agent spawn_p99_ms=… poll_ms=… rss_kib=…`
//!
//! - `spawn_p99_ms`: from the moment `set_join_token` has executed on the sandbox chain
//!   (the envelope is visible) to the moment the agent has spawned `k3s agent` (the k3s
//!   binary is a wrapper that records the time it starts, then execs `daas-k3s agent`),
//!   p99 over `RUNS` fresh devices (each: keys, registration, agent started and waiting).
//!   The path includes the poll wait, the envelope checks, both `/cacerts` fetches and
//!   the file writes. Budget: ≤ 200 ms + `poll_ms`.
//! - `poll_ms`: the configured `poll.pending_ms`.
//! - `rss_kib`: the agent's resident set (`VmRSS`) while it supervises a joined k3s,
//!   idle between polls. Budget ≤ 8 MiB on the x86_64 musl build (goal 4 MiB): run
//!   `cross/build x86_64`, then
//!   `DAAS_AGENT_BIN=target/dist/x86_64-unknown-linux-musl/daas-agent cargo run --release -p daas-agent --example bench`.
//!
//! Usage: `cargo run --release -p daas-agent --example bench [-- RUNS [POLL_MS]]`
//! (defaults 30 and 500). `DAAS_AGENT_BIN` picks the agent binary (default: this
//! workspace's, built with the example's profile).

#[path = "../tests/it/harness.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use daas_protocol::secret::NodePassword;
use harness::{Agent, Chain, Cluster, HOUR, Setup, k3s_binary};

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .map_or(30, |a| a.parse().expect("RUNS is a number"));
    let poll_ms: u64 = args
        .next()
        .map_or(500, |a| a.parse().expect("POLL_MS is a number"));
    if let Ok(bin) = std::env::var("DAAS_AGENT_BIN") {
        harness::set_agent_binary(bin.into());
    }
    eprintln!("bench: agent binary {}", harness::agent_binary().display());
    let (chain, cluster) = tokio::join!(Chain::start(), Cluster::start());
    let mut latencies = Vec::with_capacity(runs);
    let mut last: Option<(Agent, harness::Registered, u64)> = None;
    for i in 0..runs {
        let mut agent = Agent::new();
        let (node_id, seal) = agent.init(
            &format!("bench-{i}"),
            &chain.info.registry_id,
            &chain.owner(i % 2),
        );
        let worker = chain.register(i % 2, &node_id, &seal).await;
        // The k3s binary: a wrapper that stamps its start (ns) and execs the stand-in.
        let stamp = agent.root.path().join("k3s.started");
        let wrapper = agent.root.path().join("k3s");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\ndate +%s%N > '{}'\nexec '{}' \"$@\"\n",
                stamp.display(),
                k3s_binary().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut setup = Setup::new(&chain, wrapper);
        setup.pending_ms = poll_ms;
        setup.joined_ms = 10_000;
        setup.k3s_args = vec![
            "--data-dir".into(),
            agent.k3s_data_dir.display().to_string(),
        ];
        agent.write_config(&setup);
        agent.start();
        agent
            .wait_status("watching", |s| {
                s.phase == daas_agent::status::Phase::WaitingForToken
            })
            .await;
        let version = chain.next_version(worker.id).await;
        let token = cluster.mint(&node_id, worker.id, version, HOUR).await;
        let secret = cluster.secret(token, &NodePassword::generate());
        // Sealed before the clock starts: the master's work is not the agent's.
        let env = chain.seal(
            &worker,
            &agent.sealing_public(),
            &chain.envelope_key,
            version,
            chain.chain_now().await + HOUR,
            &secret,
        );
        chain.set_join_token(worker.id, &env).await;
        let visible_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let started_ns: u128 = harness::wait_for(
            harness::WAIT,
            "k3s spawned",
            || {
                std::fs::read_to_string(&stamp)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
            },
            || agent.log(),
        )
        .await;
        let ms = started_ns.saturating_sub(visible_ns) as f64 / 1e6;
        latencies.push(ms);
        eprintln!("bench: run {i}: envelope visible → k3s spawned {ms:.1} ms");
        if i + 1 < runs {
            agent.stop().await;
        } else {
            last = Some((agent, worker, version));
        }
    }
    latencies.sort_by(f64::total_cmp);
    let p = |q: f64| {
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    let (agent, _worker, version) = last.expect("at least one run");
    // Idle while supervising: joined, then a few seconds without a poll.
    agent
        .wait_status("joined", |s| {
            s.phase == daas_agent::status::Phase::Joined && s.token_version == Some(version)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = agent.proc().pid();
    let rss = vm_rss_kib(pid);
    eprintln!(
        "bench: {runs} runs, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; agent pid {pid} VmRSS {rss} KiB",
        p(0.5),
        p(0.99),
        latencies[latencies.len() - 1]
    );
    println!(
        "bench=agent spawn_p99_ms={:.1} poll_ms={poll_ms} rss_kib={rss}",
        p(0.99)
    );
}
