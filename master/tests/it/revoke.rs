//! Revocation on Leaving and Slashed (token, Node and node-password Secret deleted, the
//! name deny-listed, `confirm_revoked`), a kept kubelet certificate refused by
//! admission, a crash at each revocation step, and a re-registered name coming off the
//! deny-list.

use daas_protocol::chain::Chain as _;
use daas_protocol::config::TransportKind;
use daas_protocol::onchain::WorkerStatus;
use daas_protocol::tx::Arg;

use crate::world::{MINUTE, World, eventually};

/// An Active worker with its agent running.
async fn active(w: &mut World, owner: usize, label: &str) -> (usize, usize) {
    let d = w.device(owner, label);
    w.register(&[d]).await;
    let agent = w.join_device(d).await;
    w.wait_status(d, WorkerStatus::Active, MINUTE).await;
    (d, agent)
}

async fn request_unstake(w: &World, d: usize) {
    let wo = w.worker(d).await.unwrap();
    let key = w.accounts[w.devices[d].owner].clone();
    w.submit(&key, |b, calls| {
        calls
            .call(b, "request_unstake", &[Arg::Worker(World::shared(&wo))])
            .unwrap();
    })
    .await;
}

async fn slash(w: &World, d: usize, slash_cap: daas_protocol::ObjectId) {
    let wo = w.worker(d).await.unwrap();
    let cap = w
        .chain
        .object(slash_cap)
        .await
        .unwrap()
        .expect("the SlashCap exists")
        .object_ref();
    w.submit(&w.master_key.clone(), |b, calls| {
        calls
            .call(
                b,
                "slash",
                &[
                    Arg::Cap(cap),
                    Arg::Worker(World::shared(&wo)),
                    Arg::U64(100_000_000),
                    Arg::Str("test: misbehaviour"),
                ],
            )
            .unwrap();
    })
    .await;
}

/// The cluster side is gone, the name is denied, and the kept client certificate
/// cannot bring the Node back.
async fn assert_revoked(w: &World, d: usize, agent: usize) {
    let node = w.devices[d].node_id.to_string();
    w.wait_status(d, WorkerStatus::Revoked, MINUTE).await;
    assert!(
        w.denied().await.contains(&node),
        "{node} is on the deny-list"
    );
    assert!(
        w.secrets()
            .get_opt(&format!("{node}.node-password.k3s"))
            .await
            .unwrap()
            .is_none(),
        "the node-password Secret is deleted"
    );
    let id = w.worker(d).await.unwrap().info.id;
    assert!(
        !w.tokens().await.iter().any(|t| t.0 == id),
        "no token is left"
    );
    // The agent still runs with its client certificate and tries to register again:
    // admission refuses it, and the Node stays gone.
    let logs = w.agents[agent].logs().clone();
    let before = logs.count("Unable to register node");
    eventually(MINUTE, "the agent's re-registration to be refused", || {
        let logs = logs.clone();
        async move { (logs.count("Unable to register node") > before).then_some(()) }
    })
    .await;
    assert!(
        w.nodes().get_opt(&node).await.unwrap().is_none(),
        "the revoked Node cannot come back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leaving_and_slashed_workers_are_revoked_and_cannot_come_back() {
    let mut w = World::new(TransportKind::Jsonrpc).await;
    w.start_master(None).await;
    let (leaving, leaving_agent) = active(&mut w, 0, "leave").await;
    let (slashed, slashed_agent) = active(&mut w, 1, "slash").await;
    request_unstake(&w, leaving).await;
    assert_revoked(&w, leaving, leaving_agent).await;
    // The SlashCap is held by the master's account: stop the master while the
    // operator's transaction uses it, so they never race for the account's coins.
    w.stop_master().await;
    let cap = w.chain_side.info.slash_cap_id;
    slash(&w, slashed, cap).await;
    w.start_master(None).await;
    assert_revoked(&w, slashed, slashed_agent).await;
    w.converged(MINUTE).await;
    w.stop_master().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_at_every_step_of_a_revocation_converges() {
    let mut w = World::new(TransportKind::Graphql).await;
    for (n, step) in [
        "revoke-cleaned",
        "stored-confirm_revoked",
        "executed-confirm_revoked",
    ]
    .into_iter()
    .enumerate()
    {
        w.start_master(None).await;
        let (d, agent) = active(&mut w, n % 3, &format!("rv{n}")).await;
        w.stop_master().await;
        request_unstake(&w, d).await;
        w.start_master(Some(step)).await;
        w.wait_crash(step).await;
        w.start_master(None).await;
        assert_revoked(&w, d, agent).await;
        w.converged(MINUTE).await;
        w.stop_master().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_re_registered_name_comes_off_the_deny_list_and_joins() {
    let mut w = World::new(TransportKind::Graphql).await;
    w.start_master(None).await;
    let (d, agent) = active(&mut w, 0, "again").await;
    let node = w.devices[d].node_id.to_string();
    request_unstake(&w, d).await;
    assert_revoked(&w, d, agent).await;
    drop(w.agents.remove(agent));
    // After the cooldown (2 s in these tests) the owner withdraws; the name is free.
    let old = w.worker(d).await.unwrap();
    let key = w.accounts[0].clone();
    let owner = key.clone();
    eventually(MINUTE, "the stake to be withdrawn", || {
        let (w, old, key) = (&w, old.clone(), key.clone());
        async move {
            let mut b = daas_protocol::tx::PtbBuilder::new();
            w.calls
                .call(
                    &mut b,
                    "withdraw_stake",
                    &[Arg::Worker(World::shared(&old))],
                )
                .unwrap();
            let out = daas_protocol::chain::Submitter::new(&w.chain, &key)
                .submit(b.finish())
                .await
                .ok()?;
            out.is_success().then_some(())
        }
    })
    .await;
    let _ = owner;
    // The same device registers again (same identity key, so the same node_id).
    let identity =
        daas_protocol::IdentityKey::from_secret_bytes(*w.devices[d].identity.secret_bytes());
    let again = w.device_with(0, "again", identity);
    assert_eq!(w.devices[again].node_id.as_str(), node);
    w.register(&[again]).await;
    let new_worker = w
        .wait_status(again, WorkerStatus::TokenIssued, MINUTE)
        .await;
    assert_ne!(
        new_worker.info.id, old.info.id,
        "a new registration is a new Worker"
    );
    assert!(
        !w.denied().await.contains(&node),
        "the name came off the deny-list"
    );
    w.join_device(again).await;
    w.wait_status(again, WorkerStatus::Active, MINUTE).await;
    assert!(w.node_ready(&node).await);
    w.converged(MINUTE).await;
    w.stop_master().await;
}
