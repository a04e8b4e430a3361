//! The pipeline end to end on both transports; the status listener; activation
//! refused for a wrong node password; the database rebuilt from the chain and the
//! cluster; quorum disagreement; rotation.

use daas_protocol::config::TransportKind;
use daas_protocol::onchain::WorkerStatus;

use crate::world::{MINUTE, World, eventually};

async fn end_to_end(transport: TransportKind) {
    let mut w = World::new(transport).await;
    w.start_master(None).await;
    let devices: Vec<usize> = (0..3)
        .map(|n| w.device(n % 2, &format!("e2e{n}")))
        .collect();
    w.register(&devices).await;
    for &d in &devices {
        w.wait_status(d, WorkerStatus::TokenIssued, MINUTE).await;
    }
    // Each TokenIssued worker has one token Secret, labelled as DESIGN §10 says.
    let (issued, orphans, duplicates) = w.invariant().await;
    assert_eq!((issued, orphans, duplicates), (3, 0, 0));
    let (wo, opened) = w.wait_envelope(devices[0], 1).await;
    assert_eq!(opened.token_version, 1);
    assert_eq!(opened.secret.server, w.k3s_url);
    let token = opened.secret.token.expose().to_string();
    let secret = w
        .secrets()
        .get(&format!(
            "bootstrap-token-{}",
            opened.secret.token.token_id()
        ))
        .await
        .unwrap();
    let labels = secret.metadata.labels.clone().unwrap();
    assert_eq!(
        labels["k8s-daas.io/node-id"],
        w.devices[devices[0]].node_id.as_str()
    );
    assert_eq!(labels["k8s-daas.io/token-version"], "1");
    assert_eq!(
        secret.metadata.annotations.clone().unwrap()["k8s-daas.io/worker-id"],
        wo.info.id.to_string()
    );
    assert_eq!(
        secret.type_.as_deref(),
        Some("bootstrap.kubernetes.io/token")
    );
    // The k3s CA hash in the token is SHA-256 of the server's /cacerts.
    let cacerts = std::fs::read(w.dir.path().join("k3s/server/tls/server-ca.crt")).unwrap();
    assert_eq!(
        &token[3..67],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&cacerts))
    );

    // The device joins; the master activates it and deletes its token.
    w.join_device(devices[0]).await;
    w.wait_status(devices[0], WorkerStatus::Active, MINUTE)
        .await;
    let token_id = opened.secret.token.token_id().to_string();
    eventually(
        MINUTE,
        "the activated worker's token to be deleted",
        || async { (!w.tokens().await.iter().any(|t| t.2 == token_id)).then_some(()) },
    )
    .await;
    assert!(w.node_ready(w.devices[devices[0]].node_id.as_str()).await);
    w.converged(MINUTE).await;

    // Status listener.
    let (code, body) = w.http_get("/healthz").await;
    assert_eq!((code, body.trim()), (200, "ok"));
    let ready = eventually(MINUTE, "/readyz to say ready", || async {
        let (code, body) = w.http_get("/readyz").await;
        (code == 200).then_some(body)
    })
    .await;
    let ready: daas_master::http::ReadyView = serde_json::from_str(&ready).unwrap();
    assert!(ready.ready && ready.chain && ready.kubernetes && ready.caught_up && ready.leader);
    let view = w.api_workers().await;
    assert_eq!(view.count, 3);
    let active = view
        .workers
        .iter()
        .find(|x| x.node_id == w.devices[devices[0]].node_id.as_str())
        .unwrap();
    assert_eq!(active.stage, "active");
    assert_eq!(active.chain_status.as_deref(), Some("active"));
    assert_eq!(active.token_id, None);
    let issued: Vec<_> = view
        .workers
        .iter()
        .filter(|x| x.stage == "issued")
        .collect();
    assert_eq!(issued.len(), 2);
    assert!(
        issued
            .iter()
            .all(|x| x.issued_version == Some(1) && x.token_id.is_some())
    );
    let (code, metrics) = w.http_get("/metrics").await;
    assert_eq!(code, 200);
    for needle in [
        "daas_master_workers{stage=\"issued\"} 2",
        "daas_master_workers{stage=\"active\"} 1",
        "daas_master_transactions_submitted_total",
        "daas_master_mint_to_chain_seconds_count 3",
        "daas_master_events_processed_total",
        "daas_master_leader 1",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from:\n{metrics}"
        );
    }
    // Nothing secret reaches the log.
    let log = w.master_logs().text();
    assert!(!log.contains(&token[69..]), "a token secret was logged");
    assert!(
        !log.contains(opened.secret.node_password.expose()),
        "a node password was logged"
    );
    w.stop_master().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_end_to_end_over_jsonrpc() {
    end_to_end(TransportKind::Jsonrpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_end_to_end_over_graphql() {
    end_to_end(TransportKind::Graphql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_device_with_the_token_but_another_node_password_is_not_activated() {
    let mut w = World::new(TransportKind::Jsonrpc).await;
    w.start_master(None).await;
    let d = w.device(0, "leak");
    w.register(&[d]).await;
    let (_, opened) = w.wait_envelope(d, 1).await;
    let node = w.devices[d].node_id.to_string();
    // Another machine uses the leaked token with its own password.
    w.join(
        &node,
        opened.secret.token.expose(),
        "00112233445566778899aabbccddeeff",
    );
    eventually(MINUTE, "the impostor's Node to be Ready", || async {
        w.node_ready(&node).await.then_some(())
    })
    .await;
    let note = eventually(MINUTE, "the master to refuse the activation", || async {
        w.api_workers()
            .await
            .workers
            .into_iter()
            .find(|x| x.node_id == node)
            .and_then(|x| x.note)
            .filter(|n| n.contains("does not match"))
    })
    .await;
    assert!(note.contains("not activated"), "{note}");
    // Still not active two reconcile rounds later, and its token is kept for the owner.
    w.reconcile_rounds(2).await;
    assert_eq!(w.status(d).await, Some(WorkerStatus::TokenIssued));
    let id = opened.secret.token.token_id().to_string();
    assert!(w.tokens().await.iter().any(|t| t.2 == id));
    w.stop_master().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_database_is_rebuilt_from_the_chain_and_the_cluster() {
    let mut w = World::new(TransportKind::Graphql).await;
    // 1. Deleted after the envelope is on chain and before the Node is Ready.
    let a = w.device(0, "dbloss-a");
    w.start_master(None).await;
    w.register(&[a]).await;
    let (_, first) = w.wait_envelope(a, 1).await;
    w.kill_master().await;
    remove_db(&w);
    // 2. Deleted after a batch was signed and stored but never sent: the signed bytes
    //    are lost with the database; the Secret minted for version 1 is reused.
    let b = w.device(1, "dbloss-b");
    w.register(&[b]).await;
    w.start_master(Some("stored-set_join_token")).await;
    w.wait_crash("stored-set_join_token").await;
    let before: Vec<_> = w.tokens().await;
    remove_db(&w);
    w.start_master(None).await;
    let (_, opened_b) = w.wait_envelope(b, 1).await;
    let after = w.tokens().await;
    let token_b = opened_b.secret.token.token_id().to_string();
    assert!(
        before.iter().any(|t| t.2 == token_b),
        "the rebuilt master sealed the Secret minted before the loss, not a new one"
    );
    assert_eq!(after.iter().filter(|t| t.1 == 1).count(), 2);
    // Both devices join; both are activated by the master that lost its database.
    w.join(
        w.devices[a].node_id.as_str().to_string().as_str(),
        first.secret.token.expose(),
        first.secret.node_password.expose(),
    );
    w.join(
        w.devices[b].node_id.as_str().to_string().as_str(),
        opened_b.secret.token.expose(),
        opened_b.secret.node_password.expose(),
    );
    w.wait_status(a, WorkerStatus::Active, MINUTE).await;
    w.wait_status(b, WorkerStatus::Active, MINUTE).await;
    w.converged(MINUTE).await;
    for d in [a, b] {
        let wo = w.worker(d).await.unwrap();
        assert_eq!(wo.worker.token_version, 1, "no version issued twice");
    }
    w.stop_master().await;
}

fn remove_db(w: &World) {
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", w.state_db.display());
        let _ = std::fs::remove_file(p);
    }
    assert!(!w.state_db.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoints_that_disagree_on_a_worker_get_no_mint() {
    // Two sandboxes of the same seed (same chain id, same genesis objects); the
    // worker exists only on the first, so a quorum of 2 never agrees on it.
    let mut w = World::with_endpoints(TransportKind::Jsonrpc, 1).await;
    w.start_master(None).await;
    let d = w.device(0, "split");
    w.register(&[d]).await;
    let node = w.devices[d].node_id.to_string();
    eventually(MINUTE, "the master to see the disagreement", || async {
        w.api_workers()
            .await
            .workers
            .into_iter()
            .find(|x| x.node_id == node)
            .and_then(|x| x.note)
            .filter(|n| n.contains("disagree"))
    })
    .await;
    // Two more reads of the Worker, each refused as a disagreement (the listing of the
    // registry fails as well, one endpoint lacking the entry: no reconcile completes).
    w.counter_grows("daas_master_rpc_errors_total{kind=\"disagreement\"}", 2)
        .await;
    assert!(
        w.tokens().await.is_empty(),
        "nothing is minted on a disagreement"
    );
    assert_eq!(w.status(d).await, Some(WorkerStatus::Pending));
    w.stop_master().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotate_reissues_to_an_active_worker_with_the_same_node_password() {
    let mut w = World::new(TransportKind::Jsonrpc).await;
    w.start_master(None).await;
    let d = w.device(0, "rot");
    w.register(&[d]).await;
    let (_, first) = w.wait_envelope(d, 1).await;
    let agent = w.join_device(d).await;
    w.wait_status(d, WorkerStatus::Active, MINUTE).await;
    let node = w.devices[d].node_id.to_string();
    // The device loses its cluster credentials: its agent dies with its data dir.
    drop(w.agents.remove(agent));
    let out = std::process::Command::new(crate::world::MASTER)
        .args(["rotate", "--node-id", &node, "--config"])
        .arg(&w.config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok"));
    let (wo, second) = w.wait_envelope(d, 2).await;
    assert_eq!(wo.worker.status(), Ok(WorkerStatus::Active));
    assert_eq!(second.token_version, 2);
    assert_eq!(
        second.secret.node_password, first.secret.node_password,
        "a rotation keeps the Worker's node password"
    );
    assert_ne!(
        second.secret.token.token_id(),
        first.secret.token.token_id()
    );
    // Wait for the old Node to go NotReady, then rejoin fresh with the new token.
    eventually(MINUTE, "the Node to go NotReady", || async {
        (!w.node_ready(&node).await).then_some(())
    })
    .await;
    w.join(
        &node,
        second.secret.token.expose(),
        second.secret.node_password.expose(),
    );
    let id = second.secret.token.token_id().to_string();
    eventually(
        MINUTE,
        "the rotated token to be deleted once the Node is Ready",
        || async {
            (w.node_ready(&node).await && !w.tokens().await.iter().any(|t| t.2 == id)).then_some(())
        },
    )
    .await;
    assert_eq!(w.status(d).await, Some(WorkerStatus::Active));
    // An unknown node is refused with a message.
    let out = std::process::Command::new(crate::world::MASTER)
        .args(["rotate", "--node-id", "nope-0123456789abcdef", "--config"])
        .arg(&w.config_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Active worker"));
    w.stop_master().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_config_exits_64_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.toml");
    std::fs::write(&p, "[chain]\nchain_idd = 1\n").unwrap();
    let out = std::process::Command::new(crate::world::MASTER)
        .args(["run", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chain_idd"));
}
