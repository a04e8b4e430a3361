//! The k3s stand-in's load figure: `cargo run --release -p daas-sandbox --example k3s_bench`
//! prints one line
//! `bench=k3s secrets=1000 create_seconds=S agents=100 ready_seconds=R server_rss_kib=M`.
//!
//! A `daas-k3s server` process on 127.0.0.1 (port 0); 1,000 bootstrap-token Secrets
//! created through kube-rs as DESIGN §10 mints them (16 at a time); then 100
//! `daas-k3s agent` processes started at once, each with its own token file, node
//! password file and data dir; R runs until all 100 Nodes are Ready as the API shows
//! them; M is the server's peak RSS (`VmHWM`). Bounded (it gives up after 5 minutes)
//! and stops everything it started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};

const SECRETS: usize = 1000;
const AGENTS: usize = 100;
const LIMIT: Duration = Duration::from_secs(300);

struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn k3s_binary() -> PathBuf {
    let mut build = escargot::CargoBuild::new()
        .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .package("daas-sandbox")
        .bin("daas-k3s");
    if !cfg!(debug_assertions) {
        build = build.release();
    }
    build.run().expect("build daas-k3s").path().to_path_buf()
}

fn token_chars(n: usize, seed: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("random");
    b.iter()
        .enumerate()
        .map(|(i, x)| A[(*x as usize + seed + i) % A.len()] as char)
        .collect()
}

fn secret_for(id: &str, secret: &str, node: &str) -> Secret {
    let expiration = k8s_openapi::jiff::Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(1))
        .expect("time")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let data: BTreeMap<String, String> = [
        ("token-id", id.to_string()),
        ("token-secret", secret.to_string()),
        ("expiration", expiration),
        ("usage-bootstrap-authentication", "true".into()),
        ("usage-bootstrap-signing", "true".into()),
        (
            "auth-extra-groups",
            "system:bootstrappers:k3s:default-node-token".into(),
        ),
        ("description", format!("k8s-daas {node}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("bootstrap-token-{id}")),
            namespace: Some("kube-system".into()),
            labels: Some(
                [
                    ("k8s-daas.io/node-id".to_string(), node.to_string()),
                    ("k8s-daas.io/token-version".to_string(), "1".to_string()),
                ]
                .into(),
            ),
            annotations: Some(
                [(
                    "k8s-daas.io/worker-id".to_string(),
                    format!("0x{}", "cd".repeat(32)),
                )]
                .into(),
            ),
            ..Default::default()
        },
        type_: Some("bootstrap.kubernetes.io/token".into()),
        string_data: Some(data),
        ..Default::default()
    }
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    field("VmHWM:").or_else(|| field("VmRSS:")).unwrap_or(0)
}

fn ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn wait_ready_line(child: &mut Child) -> String {
    use std::io::BufRead as _;
    let out = child.stdout.take().expect("server stdout");
    tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("daas-k3s server is ready:"))
            .expect("daas-k3s server printed no ready line")
    })
    .await
    .expect("reader")
}

fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .unwrap_or_else(|| panic!("{key} in {line:?}"))
        .to_string()
}

#[tokio::main]
async fn main() {
    let k3s = k3s_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Command::new(&k3s)
        .args(["server", "--https-listen-port", "0", "--data-dir"])
        .arg(dir.path().join("server"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daas-k3s server");
    let server_pid = server.id();
    let line = tokio::time::timeout(LIMIT, wait_ready_line(&mut server))
        .await
        .expect("server start");
    let mut procs = Kill(vec![server]);
    let url = field(&line, "url=");
    let ca_hash = std::fs::read_to_string(field(&line, "token="))
        .expect("token file")
        .trim()
        .strip_prefix("K10")
        .and_then(|t| t.split_once("::"))
        .map(|(h, _)| h.to_string())
        .expect("K10 token");
    let kc = kube::config::Kubeconfig::read_from(field(&line, "kubeconfig=")).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config");
    let client = kube::Client::try_from(config).expect("kube client");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");

    // 1,000 Secrets, 16 requests in flight.
    let tokens: Vec<(String, String, String)> = (0..SECRETS)
        .map(|i| {
            let id = format!("b{i:05}");
            (id, token_chars(16, i), format!("bench-{i:04}"))
        })
        .collect();
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for (id, secret, node) in tokens.clone() {
        let secrets = secrets.clone();
        let gate = Arc::clone(&gate);
        tasks.spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore");
            secrets
                .create(&PostParams::default(), &secret_for(&id, &secret, &node))
                .await
                .map(|_| ())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task").expect("create bootstrap-token Secret");
    }
    let create_seconds = started.elapsed().as_secs_f64();

    // 100 agents at once.
    let started = Instant::now();
    for (i, (id, secret, node)) in tokens.iter().take(AGENTS).enumerate() {
        let home = dir.path().join(format!("agent-{i:03}"));
        std::fs::create_dir_all(&home).expect("agent dir");
        let token_file = home.join("token");
        std::fs::write(&token_file, format!("K10{ca_hash}::{id}.{secret}\n")).expect("token");
        procs
            .0
            .push(spawn_agent(&k3s, &url, node, &token_file, &home));
    }
    let nodes: Api<Node> = Api::all(client);
    loop {
        let list = nodes
            .list(&ListParams::default())
            .await
            .expect("list nodes");
        if list.items.iter().filter(|n| ready(n)).count() >= AGENTS {
            break;
        }
        assert!(
            started.elapsed() < LIMIT,
            "not all agents joined in {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready_seconds = started.elapsed().as_secs_f64();
    let rss = vm_hwm_kib(server_pid);
    drop(procs);
    println!(
        "bench=k3s secrets={SECRETS} create_seconds={create_seconds:.2} agents={AGENTS} ready_seconds={ready_seconds:.2} server_rss_kib={rss}"
    );
}

fn spawn_agent(k3s: &Path, url: &str, node: &str, token_file: &Path, home: &Path) -> Child {
    Command::new(k3s)
        .arg("agent")
        .args(["--server", url, "--node-name", node, "--token-file"])
        .arg(token_file)
        .arg("--data-dir")
        .arg(home.join("data"))
        .env("DAAS_K3S_NODE_PASSWORD_FILE", home.join("node/password"))
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daas-k3s agent")
}
