//! Envelopes the agent must refuse — forged, made under an uncertified key, made for
//! another worker, expired by the chain's clock, replayed by a lying RPC node — and a
//! node_id registered with a seal token that is not this device's. In every case k3s is
//! never started (the k3s binary is a script that records any start), the reason shows
//! in the status file, and it is logged once, not once per poll.

use daas_protocol::{DeviceKeys, EnvelopeKey, NodeId, SealToken};

use crate::harness::{
    Agent, Chain, HOUR, MINUTE, Proxy, Registered, Rewrite, Setup, fake_k3s, unreachable_secret,
};

/// A device initialised and registered by staker 0, its agent configured with the
/// fake k3s (not started yet).
async fn registered(chain: &Chain, label: &str) -> (Agent, Registered, std::path::PathBuf, Setup) {
    let agent = Agent::new();
    let (node_id, token) = agent.init(label, &chain.info.registry_id, &chain.owner(0));
    let w = chain.register(0, &node_id, &token).await;
    let (k3s, marker) = fake_k3s(agent.root.path());
    let setup = Setup::new(chain, k3s);
    agent.write_config(&setup);
    (agent, w, marker, setup)
}

/// Waits until the agent has polled at least `n` more times after the status showed
/// `pred`, then checks k3s was never started and the reason was logged exactly once.
async fn refused_for_good(agent: &Agent, marker: &std::path::Path, needle: &str) {
    let s = agent
        .wait_status(&format!("a rejection naming {needle:?}"), |s| {
            s.last_error.as_deref().is_some_and(|e| e.contains(needle))
        })
        .await;
    let seen = s.last_chain_contact_ms.unwrap();
    // Several more polls (pending_ms = 200): still refused, still logged once.
    agent
        .wait_status("three more polls", |s| {
            s.last_chain_contact_ms.is_some_and(|t| t >= seen + 600)
        })
        .await;
    assert!(
        !marker.exists(),
        "k3s was started: {}",
        std::fs::read_to_string(marker).unwrap_or_default()
    );
    let s = agent.status().unwrap();
    assert_eq!(s.k3s.state, "not_started");
    assert_eq!(s.k3s.pid, None);
    assert!(s.token_version.is_none());
    assert!(!agent.token_file.exists(), "a token file was written");
    let lines = agent.count(needle);
    assert_eq!(lines, 1, "the reason must be logged once:\n{}", agent.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_envelope_is_refused_before_decryption_and_k3s_never_starts() {
    let chain = Chain::start().await;
    let (mut agent, w, marker, _) = registered(&chain, "forged").await;
    let sealing = agent.sealing_public();
    let version = chain.next_version(w.id).await;
    let mut env = chain.seal(
        &w,
        &sealing,
        &chain.envelope_key,
        version,
        chain.chain_now().await + HOUR,
        &unreachable_secret(),
    );
    // One ciphertext byte flipped: the layout still passes the contract's checks.
    env[60] ^= 0x01;
    chain.set_join_token(w.id, &env).await;
    agent.start();
    refused_for_good(&agent, &marker, "envelope signature does not verify").await;
    let s = agent.status().unwrap();
    assert_eq!(s.chain_status.as_deref(), Some("token_issued"));
    assert_eq!(s.worker_id, Some(w.id.to_string()));
    assert_eq!(s.envelope_key_serial, Some(1));
    assert!(
        agent
            .systemd
            .messages()
            .iter()
            .any(|m| m.starts_with("READY=1")),
        "READY=1 once watching"
    );
    assert_eq!(agent.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_signed_by_an_uncertified_key_is_refused() {
    let chain = Chain::start().await;
    let (mut agent, w, marker, _) = registered(&chain, "uncertified").await;
    let rogue = EnvelopeKey::generate();
    let version = chain.next_version(w.id).await;
    let env = chain.seal(
        &w,
        &agent.sealing_public(),
        &rogue,
        version,
        chain.chain_now().await + HOUR,
        &unreachable_secret(),
    );
    chain.set_join_token(w.id, &env).await;
    agent.start();
    refused_for_good(&agent, &marker, "envelope signature does not verify").await;
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_made_for_another_worker_is_refused() {
    let chain = Chain::start().await;
    let (mut agent, w, marker, _) = registered(&chain, "mine").await;
    // Another device of the same owner, registered too.
    let other = DeviceKeys::generate();
    let other_id = NodeId::from_label("theirs", &other.identity.public()).unwrap();
    let other_token = SealToken::create(
        &other.identity,
        &other.sealing.public(),
        &chain.info.registry_id,
        &chain.owner(0),
        &other_id,
    )
    .unwrap();
    let ow = chain.register(0, &other_id, &other_token).await;
    // Sealed to this device's key, signed by the certified key — but bound to the
    // other worker (id and node_id), and stored on this worker.
    let version = chain.next_version(w.id).await;
    let env = chain.seal_for(
        ow.id,
        &ow.node_id,
        &agent.sealing_public(),
        &chain.envelope_key,
        version,
        chain.chain_now().await + HOUR,
        &unreachable_secret(),
    );
    chain.set_join_token(w.id, &env).await;
    agent.start();
    refused_for_good(&agent, &marker, "envelope signature does not verify").await;
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_expired_by_the_chain_clock_is_refused_though_the_board_clock_is_behind() {
    let chain = Chain::start().await;
    let (mut agent, w, marker, _) = registered(&chain, "expired").await;
    let (version, _) = chain
        .issue(&w, &agent.sealing_public(), &unreachable_secret(), MINUTE)
        .await;
    // The chain moves two minutes on; this machine's clock (the agent's) does not.
    chain.advance_clock(2 * MINUTE).await;
    agent.start();
    refused_for_good(&agent, &marker, "envelope expired").await;
    let s = agent.status().unwrap();
    assert!(
        s.last_error
            .unwrap()
            .contains(&format!("token version {version}"))
    );
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_id_registered_with_a_seal_token_that_is_not_this_devices_is_never_joined() {
    let chain = Chain::start().await;
    let (mut agent, w, marker, mut setup) = registered(&chain, "squat").await;
    let (_, _env) = chain
        .issue(&w, &agent.sealing_public(), &unreachable_secret(), HOUR)
        .await;
    // The contract checks the seal token on chain, so the squatting Worker can only be
    // shown by a lying endpoint: another sealing key, signed by nobody.
    let proxy = Proxy::start(&chain.info.rpc_url).await;
    let fake = DeviceKeys::generate();
    let mut bytes = chain.worker(w.id).await.unwrap().worker.seal_token;
    bytes[33..65].copy_from_slice(fake.sealing.public().as_bytes());
    proxy.set(w.id, Rewrite::SealToken(bytes));
    setup.endpoints = vec![proxy.url.clone()];
    agent.write_config(&setup);
    agent.start();
    let s = agent
        .wait_status("squatted", |s| {
            s.phase == daas_agent::status::Phase::Squatted
        })
        .await;
    assert!(
        s.summary.contains("which this device does not hold"),
        "{}",
        s.summary
    );
    assert!(!marker.exists());
    agent.stop().await;
}
