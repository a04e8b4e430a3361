//! Measures `suix_queryEvents` requests per second against an in-process sandbox on
//! 127.0.0.1 (the same code path as `daas-sandbox chain`), through the project's own
//! JSON-RPC client. Prints the startup time, the event count and the rate.
//!
//! `cargo run --release -p daas-sandbox --example query_events_rps -- [workers] [seconds] [concurrency]`
//! (defaults: 400 workers → 800 events, 5 s, 8 concurrent clients).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use daas_protocol::chain::{Chain, ClientConfig, JsonRpcClient, RetryPolicy, Submitter};
use daas_protocol::hash::blake2b256;
use daas_protocol::tx::{PtbBuilder, RegistryCalls, SharedRef};
use daas_protocol::{ChainId, IdentityKey, NodeId, SealToken, SealingKey, SuiKeypair};
use daas_sandbox::{Faults, GenesisParams, Sandbox, SandboxConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let workers = args.first().copied().unwrap_or(400);
    let seconds = args.get(1).copied().unwrap_or(5);
    let concurrency = args.get(2).copied().unwrap_or(8);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let started = Instant::now();
    let sb = Sandbox::start(
        SandboxConfig {
            listen: "127.0.0.1:0".parse()?,
            genesis: GenesisParams::new(1, 1, now),
            state_dir: None,
            faults: Faults::none(),
            read_lag: 0,
            read_lag_interval_ms: daas_sandbox::server::CHECKPOINT_INTERVAL_MS,
            #[cfg(feature = "conformance")]
            spec: None,
        },
        std::future::pending(),
    )
    .await?;
    println!(
        "startup: {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let chain: ChainId = sb
        .info
        .chain_id
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = ClientConfig {
        endpoints: vec![sb.info.rpc_url.clone()],
        chain_id: chain,
        retry: RetryPolicy::default(),
    };
    let client = JsonRpcClient::new(config.clone())?;
    let staker = SuiKeypair::from_suiprivkey(&sb.info.accounts[0].suiprivkey)?;
    let calls = RegistryCalls {
        package: sb.info.package_id,
        registry: SharedRef {
            id: sb.info.registry_id,
            initial_shared_version: sb.info.registry_initial_shared_version,
        },
    };
    let mut done = 0;
    while done < workers {
        let mut b = PtbBuilder::new();
        for i in done..(done + 100).min(workers) {
            let identity =
                IdentityKey::from_secret_bytes(blake2b256(&[b"bench-id", &i.to_le_bytes()]));
            let sealing =
                SealingKey::from_secret_bytes(blake2b256(&[b"bench-seal", &i.to_le_bytes()]));
            let node_id = NodeId::from_label(&format!("bench-{i}"), &identity.public())?;
            let token = SealToken::create(
                &identity,
                &sealing.public(),
                &sb.info.registry_id,
                &staker.address(),
                &node_id,
            )?;
            calls.stake_and_register_worker(
                &mut b,
                1_000_000_000,
                node_id.as_str(),
                &token.to_bytes(),
            );
        }
        let out = Submitter::new(&client, &staker).submit(b.finish()).await?;
        anyhow::ensure!(
            out.is_success(),
            "registration batch failed: {:?}",
            out.status
        );
        done = (done + 100).min(workers);
    }
    let events = sb
        .node
        .engine
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .store
        .events
        .len();
    println!("events on chain: {events}");

    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let c = JsonRpcClient::new(config.clone())?;
        let count = Arc::clone(&count);
        let package = sb.info.package_id;
        tasks.push(tokio::spawn(async move {
            let mut cursor = None;
            while Instant::now() < deadline {
                let page = c
                    .events(package, cursor.as_ref(), 50)
                    .await
                    .expect("queryEvents");
                count.fetch_add(1, Ordering::Relaxed);
                cursor = if page.has_next_page {
                    page.next_cursor
                } else {
                    None
                };
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let n = count.load(Ordering::Relaxed);
    println!(
        "suix_queryEvents: {n} requests of 50 events in {seconds} s with {concurrency} clients = {:.0} requests/s",
        n as f64 / seconds as f64
    );
    Ok(())
}
