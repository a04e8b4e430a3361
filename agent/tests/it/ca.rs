//! Against the real `daas-k3s server` (real HTTPS, its own CA): a token whose CA hash is
//! not the cluster's never starts k3s, and a replayed older envelope served by a lying
//! RPC node is refused after a restart. The k3s binary here is a script that records
//! any start.

use daas_protocol::secret::{JoinToken, NodePassword};

use crate::harness::{Agent, Chain, Cluster, HOUR, Proxy, Rewrite, Setup, fake_k3s};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_ca_that_does_not_match_the_token_never_starts_k3s() {
    let (chain, cluster) = tokio::join!(Chain::start(), Cluster::start());
    let mut agent = Agent::new();
    let (node_id, seal) = agent.init("ca", &chain.info.registry_id, &chain.owner(0));
    let w = chain.register(0, &node_id, &seal).await;
    let (k3s, marker) = fake_k3s(agent.root.path());
    agent.write_config(&Setup::new(&chain, k3s));
    // A real bootstrap token of this cluster, but the CA hash of another one (a token
    // minted on a reinstalled server, or an envelope pointing at the wrong cluster).
    let good = cluster.mint(&node_id, w.id, 1, HOUR).await;
    let wrong_hash = format!("K10{}::{}", "ab".repeat(32), &good.expose()[69..]);
    let secret = cluster.secret(
        JoinToken::new(wrong_hash).unwrap(),
        &NodePassword::generate(),
    );
    let (version, _) = chain
        .issue(&w, &agent.sealing_public(), &secret, HOUR)
        .await;
    agent.start();
    let s = agent
        .wait_status("the CA mismatch", |s| {
            s.last_error.as_deref().is_some_and(|e| {
                e.contains("token CA hash does not match the cluster CA certificate hash")
            })
        })
        .await;
    let e = s.last_error.unwrap();
    assert!(e.contains(&format!("token version {version}")), "{e}");
    // The agent names both hashes: the token's, and the served CA's (the cluster's).
    assert!(
        e.contains(&"ab".repeat(32)) && e.contains(&cluster.ca_prefix[3..]),
        "{e}"
    );
    let seen = s.last_chain_contact_ms.unwrap();
    agent
        .wait_status("more polls", |s| {
            s.last_chain_contact_ms.is_some_and(|t| t >= seen + 600)
        })
        .await;
    assert!(!marker.exists(), "k3s was started");
    assert!(!agent.token_file.exists());
    assert!(
        !agent.node_password_file.exists(),
        "nothing is written for a refused envelope"
    );
    assert_eq!(
        agent.count("token CA hash does not match"),
        1,
        "logged once:\n{}",
        agent.log()
    );
    assert_eq!(agent.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_older_envelope_is_refused_after_a_restart() {
    let (chain, cluster) = tokio::join!(Chain::start(), Cluster::start());
    let mut agent = Agent::new();
    let (node_id, seal) = agent.init("replay", &chain.info.registry_id, &chain.owner(0));
    let w = chain.register(0, &node_id, &seal).await;
    let (k3s, marker) = fake_k3s(agent.root.path());
    let mut setup = Setup::new(&chain, k3s);
    agent.write_config(&setup);
    let sealing = agent.sealing_public();
    let pw = NodePassword::generate();
    // v1: verified, CA checked, (the fake) k3s started with it.
    let t1 = cluster.mint(&node_id, w.id, 1, HOUR).await;
    let (v1, env1) = chain
        .issue(&w, &sealing, &cluster.secret(t1, &pw), HOUR)
        .await;
    agent.start();
    agent
        .wait_status("k3s started with v1", |s| s.token_version == Some(v1))
        .await;
    assert_eq!(agent.stop().await.code(), Some(0));
    agent.reset();
    // v2 replaces it on chain; the agent uses it.
    let t2 = cluster.mint(&node_id, w.id, 2, HOUR).await;
    let (v2, _) = chain
        .issue(&w, &sealing, &cluster.secret(t2, &pw), HOUR)
        .await;
    agent.start();
    agent
        .wait_status("k3s started with v2", |s| s.token_version == Some(v2))
        .await;
    assert_eq!(agent.stop().await.code(), Some(0));
    agent.reset();
    assert_eq!(std::fs::read_to_string(&marker).unwrap().lines().count(), 2);
    // Now its only RPC endpoint lies: it serves the Worker with the old v1 envelope
    // (still signed, not expired, sealed to this device — a perfect replay).
    let proxy = Proxy::start(&chain.info.rpc_url).await;
    proxy.set(w.id, Rewrite::Envelope(env1, v1));
    setup.endpoints = vec![proxy.url.clone()];
    agent.write_config(&setup);
    agent.start();
    let s = agent
        .wait_status("the replay refused", |s| {
            s.last_error
                .as_deref()
                .is_some_and(|e| e.contains("refusing a replay"))
        })
        .await;
    assert!(
        s.last_error
            .unwrap()
            .contains(&format!("lower than version {v2}"))
    );
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().lines().count(),
        2,
        "k3s started again"
    );
    assert!(s.k3s.pid.is_none());
    agent.stop().await;
}
