//! Crash and restart between every pair of steps: the master is stopped dead at each
//! crash point (`DAAS_MASTER_CRASH_AT`, an abort as abrupt as `kill -9`) and at an
//! arbitrary moment with a real SIGKILL; each restart must converge to one live token
//! per issued worker, no orphan token, no version issued twice.

use daas_protocol::config::TransportKind;
use daas_protocol::onchain::WorkerStatus;

use crate::world::{MINUTE, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_at_every_step_of_an_issue_converges() {
    let mut w = World::new(TransportKind::Jsonrpc).await;
    for (n, step) in [
        "minting-recorded",
        "secret-created",
        "minted",
        "stored-set_join_token",
        "executed-set_join_token",
        "issued",
    ]
    .into_iter()
    .enumerate()
    {
        let devices = [
            w.device(0, &format!("c{n}a")),
            w.device(1, &format!("c{n}b")),
        ];
        w.register(&devices).await;
        w.start_master(Some(step)).await;
        w.wait_crash(step).await;
        w.start_master(None).await;
        for d in devices {
            w.wait_status(d, WorkerStatus::TokenIssued, MINUTE).await;
        }
        w.converged(MINUTE).await;
        for d in devices {
            let wo = w.worker(d).await.unwrap();
            assert_eq!(
                wo.worker.token_version, 1,
                "{step}: one version per registration"
            );
            // The envelope on chain carries the live token.
            let opened = w.open(d, &wo);
            let id = opened.secret.token.token_id().to_string();
            assert!(
                w.tokens().await.iter().any(|t| t.2 == id),
                "{step}: the sealed token exists"
            );
        }
        w.stop_master().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_at_every_step_of_an_activation_converges() {
    let mut w = World::new(TransportKind::Graphql).await;
    for (n, step) in [
        "stored-activate_worker",
        "executed-activate_worker",
        "token-deleted",
    ]
    .into_iter()
    .enumerate()
    {
        let d = w.device(0, &format!("act{n}"));
        w.register(&[d]).await;
        w.start_master(None).await;
        w.wait_status(d, WorkerStatus::TokenIssued, MINUTE).await;
        w.stop_master().await;
        w.join_device(d).await;
        let node = w.devices[d].node_id.to_string();
        crate::world::eventually(MINUTE, "the Node to be Ready", || async {
            w.node_ready(&node).await.then_some(())
        })
        .await;
        w.start_master(Some(step)).await;
        w.wait_crash(step).await;
        w.start_master(None).await;
        w.wait_status(d, WorkerStatus::Active, MINUTE).await;
        w.converged(MINUTE).await;
        let worker_id = w.worker(d).await.unwrap().info.id;
        assert!(
            !w.tokens().await.iter().any(|t| t.0 == worker_id),
            "{step}: the activated worker's token is deleted"
        );
        w.stop_master().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_burst_converges() {
    let mut w = World::new(TransportKind::Jsonrpc).await;
    let devices: Vec<usize> = (0..60)
        .map(|n| w.device(n % 3, &format!("burst{n}")))
        .collect();
    w.start_master(None).await;
    w.register(&devices).await;
    // Kill as soon as the first batch is on its way.
    w.master_logs()
        .wait_for("batch stored, sending", MINUTE)
        .await;
    w.kill_master().await;
    w.start_master(None).await;
    for &d in &devices {
        w.wait_status(d, WorkerStatus::TokenIssued, MINUTE).await;
    }
    w.converged(MINUTE).await;
    let (issued, orphans, duplicates) = w.invariant().await;
    assert_eq!((issued, orphans, duplicates), (60, 0, 0));
    w.stop_master().await;
}
