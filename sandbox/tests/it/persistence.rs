//! A sandbox restarted on its state directory continues where it stopped, and faults
//! injected on request are ridden out by the clients' retries.

use std::time::Duration;

use daas_protocol::chain::{Chain, ClientConfig, GraphQlClient, JsonRpcClient, RetryPolicy};
use daas_protocol::{ChainId, SuiKeypair};

use crate::world::{World, params, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sandbox_replays_its_log_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = params();
    let (sb, stop) = start(genesis.clone(), Some(dir.path().to_path_buf())).await;
    let chain: ChainId = sb.info.chain_id.parse().unwrap();
    let client = JsonRpcClient::new(crate::world::client_config(&sb.info.rpc_url, chain)).unwrap();
    let w = World::with(sb, stop, client);
    let (_, worker) = w.register(0, "rpi-a", 1).await;
    w.register(1, "rpi-b", 2).await;
    w.advance(3_600_000);
    let events_before = w.events().await;
    let registry_before = w.reader.registry().await.unwrap();
    let checkpoint_before = w
        .sandbox
        .node
        .engine
        .lock()
        .unwrap()
        .store
        .latest_checkpoint();
    let World {
        sandbox,
        _stop: stop,
        ..
    } = w;
    stop.send(()).unwrap();
    sandbox.task.await.unwrap();

    let (sb, stop) = start(genesis, Some(dir.path().to_path_buf())).await;
    let client = JsonRpcClient::new(crate::world::client_config(&sb.info.rpc_url, chain)).unwrap();
    let w = World::with(sb, stop, client);
    assert_eq!(w.events().await, events_before);
    assert_eq!(w.reader.registry().await.unwrap(), registry_before);
    assert_eq!(
        w.sandbox
            .node
            .engine
            .lock()
            .unwrap()
            .store
            .latest_checkpoint(),
        checkpoint_before
    );
    assert_eq!(w.worker_by_id(worker.info.id).await.unwrap(), worker);
    assert!(
        w.now() >= worker.worker.registered_at_ms + 3_600_000,
        "the clock offset survives the restart"
    );
    // and it keeps going: the next registration works on top of the replayed state
    w.register(2, "rpi-c", 3).await;
    assert_eq!(w.reader.all_workers().await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_seed_on_the_same_state_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (sb, stop) = start(params(), Some(dir.path().to_path_buf())).await;
    stop.send(()).unwrap();
    sb.task.await.unwrap();
    let mut other = params();
    other.seed += 1;
    let err = daas_sandbox::Sandbox::start(
        daas_sandbox::SandboxConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            genesis: other,
            state_dir: Some(dir.path().to_path_buf()),
            faults: daas_sandbox::Faults::none(),
            read_lag: 0,
            read_lag_interval_ms: 3_600_000,
            spec: None,
        },
        std::future::pending(),
    )
    .await
    .err()
    .expect("a state dir of another chain is refused");
    assert!(err.to_string().contains("seed"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_ride_out_injected_faults_on_both_transports() {
    let (sb, _stop) = start(params(), None).await;
    let chain: ChainId = sb.info.chain_id.parse().unwrap();
    *sb.node.faults.lock().unwrap() = "429:0.2,5xx:0.1,malformed:0.1,drop:0.1,timeout:0.05"
        .parse::<daas_sandbox::Faults>()
        .unwrap()
        .with_timeout_after(Duration::from_millis(300));
    let retry = RetryPolicy {
        attempts: 12,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        request_timeout: Duration::from_millis(200),
    };
    let cfg = |url: &str| ClientConfig {
        endpoints: vec![url.to_string()],
        chain_id: chain,
        retry,
    };
    let rpc = JsonRpcClient::new(cfg(&sb.info.rpc_url)).unwrap();
    let gql = GraphQlClient::new(cfg(&sb.info.graphql_url)).unwrap();
    let master = SuiKeypair::from_suiprivkey(&sb.info.master.suiprivkey).unwrap();
    for _ in 0..20 {
        assert_eq!(rpc.reference_gas_price().await.unwrap(), 1000);
        assert_eq!(gql.reference_gas_price().await.unwrap(), 1000);
        assert_eq!(rpc.coins(master.address()).await.unwrap().len(), 2);
        assert!(gql.object(sb.info.registry_id).await.unwrap().is_some());
    }
    // with every request failing, the error says so instead of returning "nothing"
    *sb.node.faults.lock().unwrap() = "5xx:1".parse().unwrap();
    let err = rpc.coins(master.address()).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmitting_the_same_signed_bytes_applies_them_once() {
    let w = World::jsonrpc().await;
    let d = w.device(0, "rpi", 1);
    let mut b = daas_protocol::tx::PtbBuilder::new();
    w.calls.stake_and_register_worker(
        &mut b,
        1_000_000_000,
        d.node_id.as_str(),
        &d.token.to_bytes(),
    );
    let submitter = daas_protocol::chain::Submitter::new(w.chain(), &w.accounts[0]);
    let signed = submitter.sign(b.finish()).await.unwrap();
    let first = submitter.execute(&signed).await.unwrap();
    let events = w.events().await.len();
    // a master that crashed after sending resubmits exactly what it signed
    let again = submitter.execute(&signed).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(w.events().await.len(), events, "applied once");
    assert_eq!(w.reader.all_workers().await.unwrap().len(), 1);
    w.assert_conformant();
}
