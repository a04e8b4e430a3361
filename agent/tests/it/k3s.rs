//! The agent supervising the real k3s stand-in (`daas-k3s agent`) joined to a
//! `daas-k3s server`: join, token rotation, sealing-key rotation, revocation agreed by
//! two endpoints and a single lying endpoint, crash-loop backoff, SIGTERM, RPC failover,
//! restart after the envelope expired, and where the token may and may not appear.

use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use daas_agent::status::Phase;
use daas_protocol::secret::NodePassword;
use daas_protocol::{DeviceKeys, SealToken};

use crate::harness::{
    Agent, Chain, Cluster, HOUR, MINUTE, Proxy, Registered, Rewrite, Setup, WAIT, files_containing,
    k3s_binary, proc_texts, run_cli, wait_for,
};

/// A registered device whose agent supervises `daas-k3s agent`.
struct World {
    chain: Chain,
    cluster: Cluster,
    agent: Agent,
    worker: Registered,
    setup: Setup,
    password: NodePassword,
}

impl World {
    async fn new(label: &str) -> World {
        let (chain, cluster) = tokio::join!(Chain::start(), Cluster::start());
        let agent = Agent::new();
        let (node_id, seal) = agent.init(label, &chain.info.registry_id, &chain.owner(0));
        let worker = chain.register(0, &node_id, &seal).await;
        let mut setup = Setup::new(&chain, k3s_binary().to_path_buf());
        setup.k3s_args = vec![
            "--data-dir".into(),
            agent.k3s_data_dir.display().to_string(),
        ];
        agent.write_config(&setup);
        World {
            chain,
            cluster,
            agent,
            worker,
            setup,
            // The master derives it per Worker: the same in every envelope of this Worker.
            password: NodePassword::generate(),
        }
    }

    fn node(&self) -> &str {
        self.worker.node_id.as_str()
    }

    /// Mints a token and stores an envelope for it: what the master does.
    async fn issue(&self, ttl_ms: u64) -> (u64, daas_protocol::secret::JoinToken) {
        let version = self.chain.next_version(self.worker.id).await;
        let token = self
            .cluster
            .mint(&self.worker.node_id, self.worker.id, version, HOUR)
            .await;
        let secret = self.cluster.secret(token.clone(), &self.password);
        let (v, _) = self
            .chain
            .issue(&self.worker, &self.agent.sealing_public(), &secret, ttl_ms)
            .await;
        assert_eq!(v, version);
        (version, token)
    }

    async fn joined(&self, version: u64) -> daas_agent::status::Status {
        let s = self
            .agent
            .wait_status(&format!("joined with token version {version}"), |s| {
                s.phase == Phase::Joined && s.token_version == Some(version)
            })
            .await;
        let deadline = std::time::Instant::now() + WAIT;
        while !self.cluster.node_ready(self.node()).await {
            assert!(
                std::time::Instant::now() < deadline,
                "the Node never turned Ready\n{}",
                self.agent.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s
    }
}

fn group_alive(pgid: u32) -> bool {
    rustix::process::Pid::from_raw(pgid as i32)
        .is_some_and(|p| rustix::process::test_kill_process_group(p).is_ok())
}

async fn group_gone(pgid: u32, agent: &Agent) {
    wait_for(
        WAIT,
        &format!("process group {pgid} gone"),
        || (!group_alive(pgid)).then_some(()),
        || agent.log(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_with_the_sealed_token_which_never_leaves_its_0600_file() {
    let mut w = World::new("join").await;
    // A slow join, so the token file can be seen while it exists.
    w.agent
        .env
        .insert("DAAS_K3S_READY_DELAY".into(), "1500ms".into());
    w.agent.start();
    w.agent
        .wait_status("waiting for the token", |s| {
            s.phase == Phase::WaitingForToken
        })
        .await;
    let (version, token) = w.issue(HOUR).await;
    let s = w
        .agent
        .wait_status("k3s starting", |s| s.phase == Phase::Joining)
        .await;
    let pid = s.k3s.pid.unwrap();
    // While k3s starts: the token file is 0600 in a 0700 directory, and it is the only
    // place the token is written.
    assert_eq!(
        std::fs::read_to_string(&w.agent.token_file).unwrap(),
        token.expose()
    );
    assert_eq!(
        std::fs::metadata(&w.agent.token_file).unwrap().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(w.agent.token_file.parent().unwrap())
            .unwrap()
            .mode()
            & 0o777,
        0o700
    );
    let holders = files_containing(w.agent.root.path(), token.expose().as_bytes());
    assert_eq!(
        holders,
        vec![(w.agent.token_file.clone(), 0o600)],
        "token written elsewhere"
    );
    // Never on a command line or in an environment: the agent's, k3s's, or their children's.
    let secret_part = token.expose().rsplit('.').next().unwrap().to_string();
    let agent_pid = w.agent.proc().pid();
    for (p, text) in proc_texts(agent_pid) {
        assert!(!text.contains(&secret_part), "the token is in /proc/{p}");
    }
    // The child: its own process group, its own NOTIFY_SOCKET in the private directory,
    // `--token-file`, and never --token.
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .replace('\0', " ");
    assert!(
        cmdline.contains(&format!(
            "agent --server {} --token-file {} --node-name {}",
            w.cluster.url,
            w.agent.token_file.display(),
            w.node()
        )),
        "{cmdline}"
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let pgrp: u32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(pgrp, pid, "k3s leads its own process group");
    let environ = std::fs::read_to_string(format!("/proc/{pid}/environ")).unwrap();
    let notify = environ
        .split('\0')
        .find_map(|v| v.strip_prefix("NOTIFY_SOCKET="))
        .unwrap();
    assert!(
        notify.starts_with(w.agent.token_file.parent().unwrap().to_str().unwrap()),
        "{notify}"
    );
    assert_eq!(std::fs::metadata(notify).unwrap().mode() & 0o777, 0o600);
    assert!(!environ.contains("K3S_TOKEN"));

    // READY=1 on that socket: joined; the token file is gone.
    let s = w.joined(version).await;
    assert!(
        !w.agent.token_file.exists(),
        "the token file outlived the join"
    );
    assert_eq!(s.summary, "k3s running, node joined");
    assert_eq!(s.chain_status.as_deref(), Some("token_issued"));
    assert_eq!(s.k3s.state, "running");
    assert_eq!(s.k3s.pid, Some(pid));
    assert_eq!(s.k3s.restarts, 0);
    // The node password: 0600, what the master sealed, and what the server now holds.
    assert_eq!(
        std::fs::read_to_string(&w.agent.node_password_file).unwrap(),
        w.password.expose()
    );
    assert_eq!(
        std::fs::metadata(&w.agent.node_password_file)
            .unwrap()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        w.cluster
            .node_password_hash(w.node())
            .await
            .unwrap()
            .starts_with("$1:")
    );
    // systemd saw READY=1 while waiting (not after the join), then the human lines.
    let statuses = w.agent.systemd.statuses();
    let messages = w.agent.systemd.messages();
    let ready = messages.iter().position(|m| m.starts_with("READY=1\n"));
    let started = messages
        .iter()
        .position(|m| m.contains("STATUS=k3s started"));
    assert!(
        ready.is_some() && started.is_some() && ready < started,
        "READY=1 must come once watching, before k3s starts: {messages:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| s == "waiting for join token (worker pending on chain)"),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s == "k3s running, node joined"),
        "{statuses:?}"
    );
    // The metrics textfile follows the status.
    let metrics = std::fs::read_to_string(&w.agent.metrics_file).unwrap();
    assert!(metrics.contains("k8s_daas_agent_joined 1"), "{metrics}");
    assert!(
        metrics.contains(&format!("k8s_daas_agent_token_version {version}")),
        "{metrics}"
    );
    // `status` while `run` runs, in both forms.
    let out = run_cli(&[
        "status",
        "--config",
        w.agent.config.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["phase"], "joined");
    assert_eq!(j["k3s"]["pid"], pid);
    let human = run_cli(&["status", "--config", w.agent.config.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&human.stdout).contains(&format!("running, pid {pid}")));
    // And nowhere after all this: not in logs, not in any file, not in /proc.
    assert!(
        !w.agent.log().contains(&secret_part),
        "the token reached the log"
    );
    assert!(files_containing(w.agent.root.path(), secret_part.as_bytes()).is_empty());
    for (p, text) in proc_texts(agent_pid) {
        assert!(!text.contains(&secret_part), "the token is in /proc/{p}");
    }
    assert_eq!(w.agent.stop().await.code(), Some(0));
    group_gone(pid, &w.agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_version_restarts_k3s_which_rejoins_with_the_same_node_password() {
    let mut w = World::new("rotate").await;
    let (v1, _) = w.issue(HOUR).await;
    w.agent.start();
    let s1 = w.joined(v1).await;
    let hash = w.cluster.node_password_hash(w.node()).await.unwrap();
    let (v2, _) = w.issue(HOUR).await;
    assert!(v2 > v1);
    let s2 = w.joined(v2).await;
    assert_ne!(s1.k3s.pid, s2.k3s.pid, "k3s was restarted");
    assert_eq!(s2.k3s.restarts, 0, "a planned restart is not a crash");
    group_gone(s1.k3s.pid.unwrap(), &w.agent).await;
    // The immutable node-password Secret still matches: same password, same hash.
    assert_eq!(w.cluster.node_password_hash(w.node()).await.unwrap(), hash);
    assert!(!w.agent.token_file.exists());
    w.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_sealing_key_is_used_once_the_owner_rotated_the_seal_token() {
    let mut w = World::new("sealrot").await;
    let (v1, _) = w.issue(HOUR).await;
    w.agent.start();
    let s1 = w.joined(v1).await;
    let old = w.agent.sealing_public();
    // The owner asks the device (another process, while `run` runs) for a new key…
    let out = run_cli(&[
        "rotate-sealing-key",
        "--dir",
        w.agent.key_dir.to_str().unwrap(),
        "--registry",
        &w.chain.info.registry_id.to_string(),
        "--owner",
        &w.chain.owner(0).to_string(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = SealToken::from_hex(v["seal_token"].as_str().unwrap()).unwrap();
    // …and rotates it on chain: the Worker is Pending again, its envelope cleared.
    w.chain.rotate_seal_token(&w.worker, &token).await;
    let s = w
        .agent
        .wait_status("pending after the rotation", |s| {
            s.chain_status.as_deref() == Some("pending")
        })
        .await;
    assert_eq!(s.phase, Phase::Joined, "k3s keeps running meanwhile");
    // The master seals the next envelope to the new key.
    let version = w.chain.next_version(w.worker.id).await;
    let t = w
        .cluster
        .mint(&w.worker.node_id, w.worker.id, version, HOUR)
        .await;
    let (v3, _) = w
        .chain
        .issue(
            &w.worker,
            token.sealing(),
            &w.cluster.secret(t, &w.password),
            HOUR,
        )
        .await;
    let s3 = w.joined(v3).await;
    assert_ne!(s3.k3s.pid, s1.k3s.pid);
    // The new key is the sealing key now; the old one is gone.
    let keys = DeviceKeys::load(&w.agent.key_dir).unwrap();
    assert_eq!(keys.sealing.public(), *token.sealing());
    assert_ne!(keys.sealing.public(), old);
    assert!(!w.agent.key_dir.join("sealing.next.key").exists());
    w.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_two_endpoints_agree_on_stops_k3s_and_runs_the_teardown() {
    let mut w = World::new("revoke").await;
    let second = Proxy::start(&w.chain.info.rpc_url).await;
    w.setup.endpoints.push(second.url.clone());
    w.agent.write_config(&w.setup);
    let (v, _) = w.issue(HOUR).await;
    w.agent.start();
    let s = w.joined(v).await;
    let pid = s.k3s.pid.unwrap();
    assert!(!w.agent.teardown_marker.exists());
    w.chain.slash(&w.worker).await;
    let s = w
        .agent
        .wait_status("stopped for the slash", |s| s.phase == Phase::Stopped)
        .await;
    assert_eq!(s.summary, "stopped: worker slashed");
    assert_eq!(s.chain_status.as_deref(), Some("slashed"));
    assert_eq!(s.k3s.pid, None);
    group_gone(pid, &w.agent).await;
    assert_eq!(
        std::fs::read_to_string(&w.agent.teardown_marker).unwrap(),
        "ran\n"
    );
    assert!(
        w.agent
            .systemd
            .statuses()
            .iter()
            .any(|s| s == "stopped: worker slashed")
    );
    // It stays stopped: more polls, no restart, no second teardown.
    let seen = s.last_chain_contact_ms.unwrap();
    w.agent
        .wait_status("more polls", |s| {
            s.last_chain_contact_ms.is_some_and(|t| t > seen + 2_000)
        })
        .await;
    let s = w.agent.status().unwrap();
    assert_eq!((s.phase, s.k3s.pid), (Phase::Stopped, None));
    assert_eq!(
        std::fs::read_to_string(&w.agent.teardown_marker).unwrap(),
        "ran\n"
    );
    assert_eq!(w.agent.stop().await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_lying_endpoint_does_not_take_the_board_down() {
    let mut w = World::new("liar").await;
    let liar = Proxy::start(&w.chain.info.rpc_url).await;
    // Three providers, one of them lying; quorum 2. Requests go round-robin over the
    // endpoints, so with three the Worker read lands on the liar every few polls
    // (with two, an even number of reads per poll could always miss it).
    let honest = Proxy::start(&w.chain.info.rpc_url).await;
    w.setup.endpoints = vec![
        liar.url.clone(),
        w.chain.info.rpc_url.clone(),
        honest.url.clone(),
    ];
    w.setup.quorum = Some(2);
    w.agent.write_config(&w.setup);
    let (v, _) = w.issue(HOUR).await;
    w.agent.start();
    let s = w.joined(v).await;
    let pid = s.k3s.pid.unwrap();
    liar.set(w.worker.id, Rewrite::Status(4));
    let s = w
        .agent
        .wait_status("the liar noticed", |s| {
            s.chain_status.as_deref() == Some("slashed")
        })
        .await;
    let seen = s.last_chain_contact_ms.unwrap();
    w.agent
        .wait_status("more polls", |s| {
            s.last_chain_contact_ms.is_some_and(|t| t > seen + 3_000)
        })
        .await;
    let s = w.agent.status().unwrap();
    assert_eq!(s.phase, Phase::Joined, "{s:?}");
    assert_eq!(s.k3s.pid, Some(pid));
    assert!(group_alive(pid));
    assert!(!w.agent.teardown_marker.exists());
    assert!(
        s.last_error
            .unwrap()
            .contains("the quorum does not confirm it")
    );
    assert_eq!(
        w.agent.count("an endpoint reports worker slashed"),
        1,
        "logged once:\n{}",
        w.agent.log()
    );
    // When the chain really moves and every endpoint says so, it stops.
    liar.set(w.worker.id, Rewrite::None);
    w.chain.request_unstake(&w.worker).await;
    let s = w
        .agent
        .wait_status("stopped: worker leaving", |s| s.phase == Phase::Stopped)
        .await;
    assert_eq!(s.summary, "stopped: worker leaving");
    group_gone(pid, &w.agent).await;
    assert!(w.agent.teardown_marker.exists());
    w.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_k3s_is_restarted_with_growing_backoff_and_a_fresh_token_file() {
    let mut w = World::new("crash").await;
    w.agent
        .env
        .insert("DAAS_K3S_EXIT_AFTER".into(), "400ms".into());
    w.agent.env.insert("DAAS_K3S_EXIT_CODE".into(), "3".into());
    w.issue(HOUR).await;
    w.agent.start();
    let s = w
        .agent
        .wait_status("five crashes", |s| s.k3s.restarts >= 5)
        .await;
    assert_eq!(s.k3s.last_exit.as_deref(), Some("exit code 3"));
    // The delays the agent announced: doubling from 300 ms (±10 %) up to the 3 s cap.
    let delays: Vec<f64> = w
        .agent
        .systemd
        .statuses()
        .iter()
        .filter_map(|s| s.strip_prefix("k3s exited (exit code 3); restarting in "))
        .map(|d| d.trim_end_matches('s').parse().unwrap())
        .collect();
    assert!(delays.len() >= 4, "{delays:?}");
    assert!((0.25..=0.35).contains(&delays[0]), "{delays:?}");
    for pair in delays.windows(2) {
        assert!(
            pair[1] > pair[0] || pair[1] >= 2.7,
            "not growing: {delays:?}"
        );
        assert!(pair[1] <= 3.0, "above the cap: {delays:?}");
    }
    // Every start had its token file: the stand-in reads it once at start and would
    // otherwise sit waiting for it ("Waiting for … to be available").
    assert_eq!(w.agent.count("to be available"), 0, "{}", w.agent.log());
    // The re-read chain (same envelope) keeps the token version.
    assert_eq!(s.token_version, Some(1));
    w.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_k3s_and_its_whole_group_then_exits_0() {
    let mut w = World::new("sigterm").await;
    // k3s ignores SIGTERM here: the agent must SIGKILL the group after its grace.
    w.agent
        .env
        .insert("DAAS_K3S_IGNORE_SIGTERM".into(), "1".into());
    let (v, _) = w.issue(HOUR).await;
    w.agent.start();
    let s = w.joined(v).await;
    let pid = s.k3s.pid.unwrap();
    let t0 = std::time::Instant::now();
    assert_eq!(w.agent.stop().await.code(), Some(0));
    assert!(
        t0.elapsed() >= Duration::from_secs(4),
        "SIGKILL came before the 5 s grace"
    );
    group_gone(pid, &w.agent).await;
    assert!(
        w.agent
            .systemd
            .messages()
            .iter()
            .any(|m| m.starts_with("STOPPING=1"))
    );
    assert!(!w.agent.token_file.exists());
    assert!(
        !w.agent.teardown_marker.exists(),
        "an agent restart must not kill workloads"
    );
    let s = w.agent.status().unwrap();
    assert_eq!(
        (s.phase, s.k3s.state.as_str(), s.k3s.pid),
        (Phase::Stopping, "stopped", None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_first_endpoint_fails_over_to_the_next() {
    let mut w = World::new("failover").await;
    w.setup.endpoints = vec!["http://127.0.0.1:9".into(), w.chain.info.rpc_url.clone()];
    w.setup.quorum = Some(1);
    w.agent.write_config(&w.setup);
    let (v, _) = w.issue(HOUR).await;
    w.agent.start();
    w.joined(v).await;
    w.agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_envelope_expired_a_restarted_agent_rejoins_on_the_kept_certificate() {
    let mut w = World::new("expiry").await;
    let (v, token) = w.issue(2 * MINUTE).await;
    w.agent.start();
    w.joined(v).await;
    // The master activates the Worker once its Node is Ready.
    w.chain.activate(&w.worker).await;
    w.agent
        .wait_status("active", |s| s.chain_status.as_deref() == Some("active"))
        .await;
    assert_eq!(w.agent.stop().await.code(), Some(0));
    w.agent.reset();
    // The master deleted the bootstrap token after the join; the envelope expires.
    w.cluster.delete_token(&token).await;
    w.chain.advance_clock(3 * MINUTE).await;
    w.agent.start();
    // The agent re-opens the expired envelope (signature and replay still checked) and
    // restarts k3s with that same token, which k3s needs for its CA check; the bootstrap
    // Secret is gone, so the Node becomes Ready again only through the kubelet
    // certificate k3s kept.
    let s = w.joined(v).await;
    assert!(
        w.agent
            .log()
            .contains("the envelope k3s joined with has expired"),
        "{}",
        w.agent.log()
    );
    assert_eq!(s.token_version, Some(v));
    assert!(
        !w.agent.token_file.exists(),
        "the token file outlived the rejoin"
    );
    assert_eq!(w.agent.stop().await.code(), Some(0));
}
