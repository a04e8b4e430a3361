//! Two masters on one Lease (`[ha]`, DESIGN §10): each its own Sui account and
//! MasterCap (the second one issued with `daas-master admin issue-master-cap`), both
//! the same envelope and node-password keys, real processes against the sandbox chain
//! and `daas-k3s server`, with the default lease settings (8 s / 5 s / 1 s).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use daas_protocol::ObjectId;
use daas_protocol::config::TransportKind;
use daas_protocol::onchain::{RegistryEvent, WorkerStatus};
use daas_sandbox::testbin::{Guard, Logs};
use nix::sys::signal::Signal;

use crate::world::{
    MASTER, MINUTE, World, eventually, free_port, metric_at, spawn_master, write_private,
};

const LEASE: &str = "kube-system/k8s-daas-master";

/// The second master, and both masters' status addresses.
struct Ha {
    a_http: String,
    b_http: String,
    b_config: PathBuf,
    b: Option<Guard>,
}

impl Ha {
    async fn start_b(&mut self) {
        self.b = Some(spawn_master(&self.b_config, None).await);
    }

    fn b_logs(&self) -> Logs {
        self.b.as_ref().expect("master b runs").logs().clone()
    }
}

/// Issues a MasterCap to staker account 2 (the tests register devices for 0 and 1),
/// writes master b's key and config, and adds `[ha]` to both configs. Master a's
/// Kubernetes API goes through `kubeconfig_a` if given.
async fn ha(w: &mut World, kubeconfig_a: Option<&Path>) -> Ha {
    let info = w.chain_side.info.clone();
    let keys = w.dir.path().join("keys");
    let out = Command::new(MASTER)
        .args(["admin", "issue-master-cap", "--config"])
        .arg(&w.config_path)
        .arg("--key")
        .arg(keys.join("master-sui.key"))
        .args(["--admin-cap", &info.admin_cap_id.to_string()])
        .args(["--to", &w.accounts[2].address().to_string(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "issue-master-cap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, registry) = w.reader().registry().await.unwrap();
    let cap_b: ObjectId = j["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .find(|id| registry.master_caps.contents.contains(id))
        .expect("a new valid MasterCap");
    write_private(
        &keys.join("master-b-sui.key"),
        info.accounts[2].suiprivkey.as_bytes(),
    );
    let base = std::fs::read_to_string(&w.config_path).unwrap();
    let ha = |identity: &str| format!("\n[ha]\nlease = \"{LEASE}\"\nidentity = \"{identity}\"\n");
    let mut a = base.clone();
    if let Some(k) = kubeconfig_a {
        a = a.replace(
            &format!("kubeconfig = \"{}\"", w.kubeconfig.display()),
            &format!("kubeconfig = \"{}\"", k.display()),
        );
        assert_ne!(a, base, "the kubeconfig line");
    }
    std::fs::write(&w.config_path, a + &ha("master-a")).unwrap();
    let b_http = format!("127.0.0.1:{}", free_port());
    let b = base
        .replace(&info.master_cap_id.to_string(), &cap_b.to_string())
        .replace("master-sui.key", "master-b-sui.key")
        .replace(
            &w.state_db.display().to_string(),
            &w.dir.path().join("state-b/master.db").display().to_string(),
        )
        .replace(&w.http, &b_http)
        + &ha("master-b");
    let b_config = w.dir.path().join("master-b.toml");
    std::fs::write(&b_config, b).unwrap();
    Ha {
        a_http: w.http.clone(),
        b_http,
        b_config,
        b: None,
    }
}

/// `/readyz`'s `role` of the master serving `http`.
async fn role(http: &str) -> Option<String> {
    let r = reqwest::get(format!("http://{http}/readyz")).await.ok()?;
    let v: serde_json::Value = r.json().await.ok()?;
    v["role"].as_str().map(str::to_string)
}

async fn wait_role(http: &str, want: &str, timeout: Duration) {
    eventually(timeout, &format!("{http} to be {want}"), || async {
        (role(http).await.as_deref() == Some(want)).then_some(())
    })
    .await;
}

/// The time at the start of a log line (tracing's plain format).
fn line_time(line: &str) -> k8s_openapi::jiff::Timestamp {
    line.split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no timestamp at the start of {line:?}"))
}

/// No transaction of this master was refused for an object locked by another
/// signer or a stale version (what two processes on one owned object would cause).
async fn assert_no_object_refusals(http: &str, logs: &Logs) {
    assert_eq!(
        metric_at(http, "daas_master_rpc_errors_total{kind=\"rejected\"}").await,
        0,
        "{http}: a transaction was refused"
    );
    for needle in ["equivocat", "already consumed"] {
        assert_eq!(logs.count(needle), 0, "{needle:?} in:\n{}", logs.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_standby_takes_over_a_burst_when_the_leader_is_killed() {
    let mut w = World::new(TransportKind::Graphql).await;
    let mut ha = ha(&mut w, None).await;
    w.start_master(None).await;
    wait_role(&ha.a_http, "leader", MINUTE).await;
    ha.start_b().await;
    wait_role(&ha.b_http, "standby", MINUTE).await;
    ha.b_logs()
        .wait_for("standby: another master leads", MINUTE)
        .await;

    let devices: Vec<usize> = (0..200)
        .map(|i| w.device(i % 2, &format!("b{i}")))
        .collect();
    w.register(&devices).await;
    // Mid-burst: once the leader has minted its first tokens.
    eventually(MINUTE, "the leader's first tokens", || async {
        (!w.tokens().await.is_empty()).then_some(())
    })
    .await;
    let killed = Instant::now();
    w.kill_master().await;
    wait_role(&ha.b_http, "leader", MINUTE).await;
    eprintln!("standby leads {:?} after kill -9", killed.elapsed());
    ha.b_logs().wait_for("became the leader", MINUTE).await;

    w.http = ha.b_http.clone();
    w.converged(2 * MINUTE).await;
    let (issued, orphans, duplicates) = w.invariant().await;
    assert_eq!((issued, orphans, duplicates), (200, 0, 0));
    assert_no_object_refusals(&ha.b_http, &ha.b_logs()).await;
    for &d in &devices[..5] {
        let wo = w.worker(d).await.unwrap();
        assert_eq!(wo.worker.token_version, 1, "one envelope per worker");
        let opened = w.open(d, &wo);
        let id = opened.secret.token.token_id().to_string();
        assert!(
            w.tokens().await.iter().any(|t| t.2 == id),
            "the sealed token exists"
        );
    }
}

/// A TCP proxy in front of the Kubernetes API that the test can cut: while cut it
/// forwards nothing (open connections go silent, new ones are accepted and held),
/// as a partitioned network does.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let c = Arc::clone(&cut);
        tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                let c = Arc::clone(&c);
                tokio::spawn(async move {
                    let Ok(up) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (dr, dw) = down.into_split();
                    let (ur, uw) = up.into_split();
                    tokio::join!(pipe(dr, uw, Arc::clone(&c)), pipe(ur, dw, c));
                });
            }
        });
        Proxy { port, cut }
    }
}

/// Copies `from` to `to` while the link is up; while cut, holds both silently.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes read just as the link was cut are lost with it.
        if cut.load(Ordering::SeqCst) || to.write_all(&buf[..n]).await.is_err() {
            if cut.load(Ordering::SeqCst) {
                continue;
            }
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_cut_off_from_the_kubernetes_api_stops_before_the_standby_starts() {
    let mut w = World::new(TransportKind::Jsonrpc).await;
    let api: std::net::SocketAddr = w.k3s_url.strip_prefix("https://").unwrap().parse().unwrap();
    let proxy = Proxy::start(api).await;
    let kc = std::fs::read_to_string(&w.kubeconfig).unwrap();
    let proxied = kc.replace(&w.k3s_url, &format!("https://127.0.0.1:{}", proxy.port));
    assert_ne!(proxied, kc, "the kubeconfig names the server");
    let kubeconfig_a = w.dir.path().join("k3s-via-proxy.yaml");
    write_private(&kubeconfig_a, proxied.as_bytes());
    let mut ha = ha(&mut w, Some(&kubeconfig_a)).await;
    w.start_master(None).await;
    wait_role(&ha.a_http, "leader", MINUTE).await;
    ha.start_b().await;
    wait_role(&ha.b_http, "standby", MINUTE).await;

    proxy.cut.store(true, Ordering::SeqCst);
    let a_logs = w.master_logs();
    let stopped = a_logs.wait_for("lost the lease", MINUTE).await;
    wait_role(&ha.b_http, "leader", MINUTE).await;
    let started = ha.b_logs().wait_for("became the leader", MINUTE).await;
    assert!(
        line_time(&stopped) < line_time(&started),
        "the old leader stopped ({stopped}) before the new one started ({started})"
    );
    // The cut-off master is a standby now (its status listener still answers).
    assert_eq!(role(&ha.a_http).await.as_deref(), Some("standby"));

    // The new leader issues; the old one, still reaching the chain, sends nothing.
    let devices = [w.device(0, "p0"), w.device(1, "p1")];
    w.register(&devices).await;
    for d in devices {
        w.wait_status(d, WorkerStatus::TokenIssued, MINUTE).await;
    }
    assert_eq!(a_logs.count("batch stored"), 0, "{}", a_logs.text());
    assert!(ha.b_logs().count("batch stored") >= 1);

    // The link comes back: the lease is b's, a stays a standby while b renews.
    proxy.cut.store(false, Ordering::SeqCst);
    // (A standby never counts reconcile rounds: the leader's are the clock.)
    w.http = ha.b_http.clone();
    w.reconcile_rounds(2).await;
    assert_eq!(role(&ha.a_http).await.as_deref(), Some("standby"));
    assert_eq!(role(&ha.b_http).await.as_deref(), Some("leader"));
    w.converged(MINUTE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_killed_between_signing_and_sending_never_conflicts_with_the_standby() {
    let mut w = World::new(TransportKind::Jsonrpc).await;
    let mut ha = ha(&mut w, None).await;
    w.start_master(Some("stored-set_join_token")).await;
    wait_role(&ha.a_http, "leader", MINUTE).await;
    ha.start_b().await;
    wait_role(&ha.b_http, "standby", MINUTE).await;
    let devices: Vec<usize> = (0..6).map(|i| w.device(i % 2, &format!("s{i}"))).collect();
    w.register(&devices).await;
    // a signed and stored its batch, then died before sending it.
    w.wait_crash("stored-set_join_token").await;
    wait_role(&ha.b_http, "leader", MINUTE).await;
    w.http = ha.b_http.clone();
    w.converged(MINUTE).await;

    // a comes back as a standby; b steps down (SIGTERM releases the lease), a leads
    // and sends the bytes it stored: every call in them is a race the contract skips.
    w.start_master(None).await;
    wait_role(&ha.a_http, "standby", MINUTE).await;
    assert_no_object_refusals(&ha.b_http, &ha.b_logs()).await;
    let mut b = ha.b.take().unwrap();
    b.signal(Signal::SIGTERM).unwrap();
    let status = b.wait_exit(MINUTE, "master b to stop").await;
    assert!(status.success(), "{}", b.logs().text());
    assert!(
        b.logs().count("released the lease") == 1,
        "{}",
        b.logs().text()
    );
    wait_role(&ha.a_http, "leader", MINUTE).await;
    let a_logs = w.master_logs();
    let executed = a_logs.wait_for("batch executed", MINUTE).await;
    w.http = ha.a_http.clone();
    w.converged(MINUTE).await;
    let (issued, orphans, duplicates) = w.invariant().await;
    assert_eq!((issued, orphans, duplicates), (6, 0, 0));
    // The stored bytes ran: each call a race the contract skipped, or — the Workers
    // having grown by b's envelopes since the dry run sized the budget — an executed
    // failure (InsufficientGas) that changes nothing, as on Sui. Never a second envelope.
    let calls: usize = executed
        .split_whitespace()
        .find_map(|w| w.strip_prefix("calls="))
        .and_then(|n| n.parse().ok())
        .expect("calls= in the executed line");
    let skipped = w
        .events()
        .await
        .iter()
        .filter(|e| matches!(e, RegistryEvent::MasterActionSkipped(s) if s.action == 1))
        .count();
    if executed.contains("outcome=success") {
        assert_eq!(
            skipped, calls,
            "each stored call was skipped as a race: {executed}"
        );
    } else {
        assert_eq!(skipped, 0, "{executed}");
    }
    for &d in &devices {
        assert_eq!(w.worker(d).await.unwrap().worker.token_version, 1);
    }
    assert_no_object_refusals(&ha.a_http, &a_logs).await;
}
