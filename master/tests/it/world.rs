//! The world the master runs in for these tests: the sandbox chain (in-process, over
//! HTTP), `daas-k3s server` (a real process, real HTTPS, real kube-rs traffic), the
//! `daas-master` binary itself, devices whose keys the test holds, and `daas-k3s
//! agent` processes joining with what the test opened from their envelopes.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use daas_protocol::chain::{AnyChain, Chain, RegistryReader, Submitter, WorkerObject};
use daas_protocol::config::{ChainConfig, TransportKind};
use daas_protocol::envelope::{self, EnvelopeContext, OpenPolicy, OpenedEnvelope};
use daas_protocol::keys::NodePasswordKey;
use daas_protocol::onchain::{RegistryEvent, WorkerStatus};
use daas_protocol::tx::{PtbBuilder, RegistryCalls, SharedRef};
use daas_protocol::{
    ChainId, EnvelopeKey, EnvelopePublicKey, IdentityKey, NodeId, ObjectId, SealToken, SealingKey,
    SuiKeypair,
};
use daas_sandbox::SandboxInfo;
use daas_sandbox::testbin::{self, Guard};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use kube::api::{Api, ListParams};
use nix::sys::signal::Signal;

/// One SUI.
/// The deadline most waits in these tests use.
pub const MINUTE: Duration = Duration::from_secs(60);
pub const SUI: u64 = 1_000_000_000;
/// The master binary under test.
pub const MASTER: &str = env!("CARGO_BIN_EXE_daas-master");

/// Polls `probe` until it returns `Some`, for at most `timeout`; panics naming `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts `daas-master run --config CONFIG` (crashing at `crash_at`, test-only) and
/// waits for it to serve.
pub async fn spawn_master(config: &Path, crash_at: Option<&str>) -> Guard {
    // `sh` sets no core file for the crash points' abort, then becomes the master.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -c 0; exec \"$0\" run --config \"$1\"")
        .arg(MASTER)
        .arg(config)
        .env("RUST_LOG", "info");
    match crash_at {
        Some(step) => cmd.env("DAAS_MASTER_CRASH_AT", step),
        None => cmd.env_remove("DAAS_MASTER_CRASH_AT"),
    };
    let g = Guard::spawn(cmd).expect("daas-master starts");
    let logs = g.logs().clone();
    eventually(Duration::from_secs(60), "daas-master to serve", || {
        let logs = logs.clone();
        async move {
            if logs.count("serving /healthz") > 0 {
                return Some(());
            }
            if logs.count("daas-master:") > 0 && logs.count("serving") == 0 {
                panic!("daas-master failed to start:\n{}", logs.text());
            }
            None
        }
    })
    .await;
    g
}

/// The value of one series in `/metrics` of the master serving `http` (`name` or
/// `name{labels}` exactly as exported), 0 while it has not been exported yet.
pub async fn metric_at(http: &str, series: &str) -> u64 {
    let r = reqwest::get(format!("http://{http}/metrics"))
        .await
        .expect("http");
    let code = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(code, 200, "{body}");
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{series} in /metrics: {e}: {v}"))
        })
}

/// A device: its keys, node_id and seal token.
pub struct Device {
    pub identity: IdentityKey,
    pub sealing: SealingKey,
    pub node_id: NodeId,
    pub token: SealToken,
    pub owner: usize,
}

/// A `daas-sandbox chain` process and its info file.
pub struct ChainSide {
    /// Kept so the process lives as long as the side (killed on drop).
    #[allow(dead_code)]
    pub process: Guard,
    pub info: SandboxInfo,
}

/// Starts `daas-sandbox chain` on a free loopback port (seed 7, 3 staker accounts, a
/// 2 s cooldown so stakes can be withdrawn in a test).
pub async fn start_chain(dir: &Path, name: &str, genesis_time_ms: u64) -> ChainSide {
    let info_path = dir.join(format!("{name}.json"));
    let mut cmd = Command::new(&testbin::binaries().sandbox);
    cmd.args([
        "chain",
        "--listen",
        "127.0.0.1:0",
        "--seed",
        "7",
        "--accounts",
        "3",
    ])
    .args(["--cooldown-ms", "2000"])
    .arg("--genesis-time-ms")
    .arg(genesis_time_ms.to_string())
    .arg("--info")
    .arg(&info_path);
    let process = Guard::spawn(cmd).expect("daas-sandbox starts");
    let bytes = testbin::wait_for_file(&info_path, Duration::from_secs(60)).await;
    let info: SandboxInfo = serde_json::from_slice(&bytes).expect("the info file parses");
    ChainSide { process, info }
}

/// Everything.
pub struct World {
    pub dir: tempfile::TempDir,
    pub chain_side: ChainSide,
    #[allow(dead_code)] // held for the test's lifetime; not every test reads it
    pub extra_chains: Vec<ChainSide>,
    #[allow(dead_code)] // held for the test's lifetime; not every test reads it
    pub transport: TransportKind,
    pub chain: AnyChain,
    pub chain_id: ChainId,
    pub calls: RegistryCalls,
    pub registry_id: ObjectId,
    pub package_id: ObjectId,
    pub accounts: Vec<SuiKeypair>,
    pub master_key: SuiKeypair,
    pub envelope_pub: EnvelopePublicKey,
    #[allow(dead_code)] // held for the test's lifetime; not every test reads it
    pub k3s: Guard,
    pub k3s_url: String,
    #[allow(dead_code)] // held for the test's lifetime; not every test reads it
    pub kubeconfig: PathBuf,
    pub kube: kube::Client,
    pub config_path: PathBuf,
    pub state_db: PathBuf,
    pub http: String,
    pub master: Option<Guard>,
    pub agents: Vec<Guard>,
    pub devices: Vec<Device>,
    seq: u64,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn write_private(path: &Path, contents: &[u8]) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.write_all(contents).unwrap();
}

impl World {
    /// A world on `transport`.
    pub async fn new(transport: TransportKind) -> World {
        Self::with_endpoints(transport, 0).await
    }

    /// A world with `extra` more sandboxes of the same seed as further endpoints
    /// (the default quorum is then 2).
    pub async fn with_endpoints(transport: TransportKind, extra: usize) -> World {
        let dir = tempfile::Builder::new()
            .prefix("daas-master-it")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let genesis = daas_master::service::now_ms();
        let chain_side = start_chain(dir.path(), "chain", genesis).await;
        let mut extra_chains = Vec::new();
        for n in 0..extra {
            extra_chains.push(start_chain(dir.path(), &format!("chain{n}"), genesis).await);
        }
        let info = chain_side.info.clone();
        let url = |c: &ChainSide| match transport {
            TransportKind::Jsonrpc => c.info.rpc_url.clone(),
            _ => c.info.graphql_url.clone(),
        };
        let mut endpoints = vec![url(&chain_side)];
        endpoints.extend(extra_chains.iter().map(url));
        let chain_id: ChainId = info.chain_id.parse().unwrap();
        let chain_cfg = ChainConfig::new(
            chain_id,
            transport,
            vec![endpoints[0].clone()],
            info.package_id,
            info.registry_id,
        );
        let chain = AnyChain::connect(&chain_cfg).unwrap();

        // The k3s stand-in.
        let bins = testbin::binaries();
        let k3s_dir = dir.path().join("k3s");
        let kubeconfig = dir.path().join("k3s.yaml");
        let mut cmd = Command::new(&bins.k3s);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(&k3s_dir)
            .args(["--https-listen-port", "0", "--write-kubeconfig"])
            .arg(&kubeconfig)
            .env("DAAS_K3S_NODE_MONITOR_GRACE", "2s")
            // its ready line is on stdout: into the guard's logs
            .stdout(std::process::Stdio::piped());
        let k3s = Guard::spawn(cmd).expect("daas-k3s server starts");
        let ready = k3s
            .logs()
            .wait_for("daas-k3s server is ready", Duration::from_secs(60))
            .await;
        let k3s_url = ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix("url="))
            .expect("the ready line names the url")
            .to_string();
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let kcfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let kube = kube::Client::try_from(kcfg).unwrap();

        // The master's keys and config.
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        write_private(
            &keys.join("master-sui.key"),
            info.master.suiprivkey.as_bytes(),
        );
        let envelope = EnvelopeKey::from_secret_bytes(
            daas_protocol::hex::decode_array(&info.envelope_key.private).unwrap(),
        );
        envelope.save(&keys.join("envelope.key")).unwrap();
        NodePasswordKey::generate()
            .save(&keys.join("node-password.key"))
            .unwrap();
        let state_db = dir.path().join("state/master.db");
        let http = format!("127.0.0.1:{}", free_port());
        let endpoint_list = endpoints
            .iter()
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = format!(
            r#"
[chain]
chain_id = "{chain_id}"
transport = "{transport}"
endpoints = [{endpoint_list}]
package_id = "{package}"
registry_id = "{registry}"
request_timeout_ms = 10000

[master]
master_cap_id = "{cap}"
sui_key = "{keys}/master-sui.key"
envelope_key = "{keys}/envelope.key"
node_password_key = "{keys}/node-password.key"
state_db = "{state_db}"

[kubernetes]
kubeconfig = "{kubeconfig}"
server_url = "{k3s_url}"
token_ttl_s = 3600

[pipeline]
batch_linger_ms = 50
reconcile_interval_s = 3
poll_interval_ms = 100
drain_timeout_s = 5

[http]
listen = "{http}"
"#,
            transport = match transport {
                TransportKind::Jsonrpc => "jsonrpc",
                _ => "graphql",
            },
            package = info.package_id,
            registry = info.registry_id,
            cap = info.master_cap_id,
            keys = keys.display(),
            state_db = state_db.display(),
            kubeconfig = kubeconfig.display(),
        );
        let config_path = dir.path().join("master.toml");
        std::fs::write(&config_path, config).unwrap();
        World {
            calls: RegistryCalls {
                package: info.package_id,
                registry: SharedRef {
                    id: info.registry_id,
                    initial_shared_version: info.registry_initial_shared_version,
                },
            },
            registry_id: info.registry_id,
            package_id: info.package_id,
            accounts: info
                .accounts
                .iter()
                .map(|a| SuiKeypair::from_suiprivkey(&a.suiprivkey).unwrap())
                .collect(),
            master_key: SuiKeypair::from_suiprivkey(&info.master.suiprivkey).unwrap(),
            envelope_pub: envelope.public(),
            dir,
            chain_side,
            extra_chains,
            transport,
            chain,
            chain_id,
            k3s,
            k3s_url,
            kubeconfig,
            kube,
            config_path,
            state_db,
            http,
            master: None,
            agents: Vec::new(),
            devices: Vec::new(),
            seq: 0,
        }
    }

    pub fn reader(&self) -> RegistryReader<&AnyChain> {
        RegistryReader::new(&self.chain, self.package_id, self.registry_id)
    }

    /// Starts `daas-master run` (crashing at `crash_at`, test-only), waits for its
    /// start line.
    pub async fn start_master(&mut self, crash_at: Option<&str>) {
        assert!(self.master.is_none(), "a master is already running");
        self.master = Some(spawn_master(&self.config_path, crash_at).await);
    }

    pub fn master_logs(&self) -> daas_sandbox::testbin::Logs {
        self.master.as_ref().expect("a master runs").logs().clone()
    }

    /// Waits for the crash point's line and for the process to be gone.
    pub async fn wait_crash(&mut self, step: &str) {
        let logs = self.master_logs();
        logs.wait_for(
            &format!("crash point {step} reached"),
            Duration::from_secs(90),
        )
        .await;
        let mut g = self.master.take().unwrap();
        let status = g
            .wait_exit(Duration::from_secs(20), "the crashed master")
            .await;
        assert!(!status.success(), "a crash is not a clean exit: {status:?}");
    }

    /// SIGTERM and wait for a clean exit.
    pub async fn stop_master(&mut self) {
        let mut g = self.master.take().expect("a master runs");
        g.signal(Signal::SIGTERM).unwrap();
        let status = g
            .wait_exit(Duration::from_secs(30), "the master to stop")
            .await;
        assert!(
            status.success(),
            "SIGTERM ends the master cleanly: {status:?}\n{}",
            g.logs().text()
        );
    }

    /// `kill -9`.
    pub async fn kill_master(&mut self) {
        let mut g = self.master.take().expect("a master runs");
        g.signal(Signal::SIGKILL).unwrap();
        g.wait_exit(Duration::from_secs(20), "the killed master")
            .await;
    }

    /// A fresh device for staker account `owner` (random keys).
    pub fn device(&mut self, owner: usize, label: &str) -> usize {
        let identity = IdentityKey::generate();
        self.device_with(owner, label, identity)
    }

    /// A device with a given identity (re-registering a name keeps the identity).
    pub fn device_with(&mut self, owner: usize, label: &str, identity: IdentityKey) -> usize {
        self.seq += 1;
        let sealing = SealingKey::generate();
        let node_id = NodeId::from_label(label, &identity.public()).unwrap();
        let token = SealToken::create(
            &identity,
            &sealing.public(),
            &self.registry_id,
            &self.accounts[owner].address(),
            &node_id,
        )
        .unwrap();
        self.devices.push(Device {
            identity,
            sealing,
            node_id,
            token,
            owner,
        });
        self.devices.len() - 1
    }

    /// Registers devices (indices) in one transaction per owner.
    pub async fn register(&self, devices: &[usize]) {
        for owner in 0..self.accounts.len() {
            let mine: Vec<&Device> = devices
                .iter()
                .map(|&i| &self.devices[i])
                .filter(|d| d.owner == owner)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut b = PtbBuilder::new();
            for d in &mine {
                self.calls.stake_and_register_worker(
                    &mut b,
                    SUI,
                    d.node_id.as_str(),
                    &d.token.to_bytes(),
                );
            }
            let out = Submitter::new(&self.chain, &self.accounts[owner])
                .submit(b.finish())
                .await
                .expect("registration reaches the chain");
            assert!(out.is_success(), "registration failed: {:?}", out.status);
        }
    }

    /// The Worker registered under device `i`'s node_id.
    pub async fn worker(&self, i: usize) -> Option<WorkerObject> {
        self.reader()
            .worker_by_node_id(self.devices[i].node_id.as_str())
            .await
            .expect("worker lookup")
    }

    pub async fn status(&self, i: usize) -> Option<WorkerStatus> {
        self.worker(i).await.map(|w| w.worker.status().unwrap())
    }

    /// Waits until device `i`'s Worker has `status`.
    pub async fn wait_status(
        &self,
        i: usize,
        status: WorkerStatus,
        timeout: Duration,
    ) -> WorkerObject {
        let what = format!("{} to be {}", self.devices[i].node_id, status.name());
        eventually(timeout, &what, || async move {
            self.worker(i)
                .await
                .filter(|w| w.worker.status() == Ok(status))
        })
        .await
    }

    /// Waits for an envelope on device `i`'s Worker and opens it with the device's key.
    pub async fn wait_envelope(
        &self,
        i: usize,
        min_version: u64,
    ) -> (WorkerObject, OpenedEnvelope) {
        let what = format!(
            "an envelope of version >= {min_version} for {}",
            self.devices[i].node_id
        );
        let w = eventually(Duration::from_secs(60), &what, || async move {
            self.worker(i).await.filter(|w| {
                !w.worker.join_envelope.is_empty() && w.worker.token_version >= min_version
            })
        })
        .await;
        let opened = self.open(i, &w);
        (w, opened)
    }

    pub fn open(&self, i: usize, w: &WorkerObject) -> OpenedEnvelope {
        let d = &self.devices[i];
        envelope::open(
            &w.worker.join_envelope,
            &EnvelopeContext {
                chain_id: self.chain_id,
                registry_id: self.registry_id,
                worker_id: w.info.id,
                node_id: d.node_id.clone(),
            },
            &d.sealing,
            &OpenPolicy {
                envelope_key: &self.envelope_pub,
                highest_used_version: 0,
                now_ms: daas_master::service::now_ms(),
            },
        )
        .expect("the device opens its envelope")
    }

    /// Starts `daas-k3s agent` for `node_id` with `token` and `password` (as the
    /// agent would, from the envelope), in its own data dir.
    pub fn join(&mut self, node_id: &str, token: &str, password: &str) -> usize {
        self.seq += 1;
        let base = self
            .dir
            .path()
            .join(format!("agent-{}-{}", node_id, self.seq));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        write_private(&base.join("token"), token.as_bytes());
        write_private(&base.join("password"), format!("{password}\n").as_bytes());
        let mut cmd = Command::new(&testbin::binaries().k3s);
        cmd.arg("agent")
            .args(["--server", &self.k3s_url, "--node-name", node_id])
            .arg("--token-file")
            .arg(base.join("token"))
            .arg("--data-dir")
            .arg(base.join("data"))
            .env("DAAS_K3S_NODE_PASSWORD_FILE", base.join("password"))
            .env("DAAS_K3S_LEASE_RENEW_INTERVAL", "1s")
            .env("DAAS_K3S_NODE_STATUS_INTERVAL", "1s");
        self.agents
            .push(Guard::spawn(cmd).expect("daas-k3s agent starts"));
        self.agents.len() - 1
    }

    /// Opens device `i`'s current envelope and joins with it.
    pub async fn join_device(&mut self, i: usize) -> usize {
        let (_, opened) = self.wait_envelope(i, 1).await;
        let node = self.devices[i].node_id.to_string();
        self.join(
            &node,
            opened.secret.token.expose(),
            opened.secret.node_password.expose(),
        )
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.kube.clone(), "kube-system")
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.kube.clone())
    }

    /// Our labelled bootstrap tokens: (worker id, version, token id).
    pub async fn tokens(&self) -> Vec<(ObjectId, u64, String)> {
        let list = self
            .secrets()
            .list(&ListParams::default().labels("k8s-daas.io/node-id"))
            .await
            .expect("list tokens");
        list.items
            .iter()
            .map(|s| {
                let w = s.metadata.annotations.as_ref().unwrap()["k8s-daas.io/worker-id"]
                    .parse()
                    .unwrap();
                let v = s.metadata.labels.as_ref().unwrap()["k8s-daas.io/token-version"]
                    .parse()
                    .unwrap();
                let id = s.metadata.name.clone().unwrap()["bootstrap-token-".len()..].to_string();
                (w, v, id)
            })
            .collect()
    }

    pub async fn node_ready(&self, name: &str) -> bool {
        self.nodes()
            .get_opt(name)
            .await
            .unwrap()
            .and_then(|n| n.status)
            .and_then(|s| s.conditions)
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }

    /// Names on the deny-list.
    pub async fn denied(&self) -> Vec<String> {
        let cms: Api<ConfigMap> = Api::namespaced(self.kube.clone(), "kube-system");
        cms.list(&ListParams::default().labels("k8s-daas.io/revoked-nodes=true"))
            .await
            .unwrap()
            .items
            .into_iter()
            .flat_map(|c| c.data.unwrap_or_default().into_keys())
            .collect()
    }

    /// Every event of the registry package, decoded.
    pub async fn events(&self) -> Vec<RegistryEvent> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .chain
                .events(self.package_id, cursor.as_ref(), 50)
                .await
                .expect("events");
            out.extend(page.events.iter().filter_map(|e| e.event.clone()));
            if !page.has_next_page || page.events.is_empty() {
                return out;
            }
            cursor = page.next_cursor;
        }
    }

    /// `GET` on the master's status listener.
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("http://{}{path}", self.http))
            .await
            .expect("http");
        let code = r.status().as_u16();
        (code, r.text().await.unwrap())
    }

    pub async fn api_workers(&self) -> daas_master::http::WorkersView {
        let (code, body) = self.http_get("/api/workers").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/api/workers shape: {e}: {body}"))
    }

    /// [`metric_at`] of this world's master.
    pub async fn metric(&self, series: &str) -> u64 {
        metric_at(&self.http, series).await
    }

    /// Waits until a counter has grown by `n` from now, so a test can assert that
    /// something did *not* happen over that many rounds without guessing a duration.
    pub async fn counter_grows(&self, series: &str, n: u64) {
        let target = self.metric(series).await + n;
        eventually(MINUTE, &format!("{series} to reach {target}"), || async {
            (self.metric(series).await >= target).then_some(())
        })
        .await;
    }

    /// Waits for `n` more reconcile rounds (each lists the registry and the cluster and
    /// decides every worker).
    pub async fn reconcile_rounds(&self, n: u64) {
        self.counter_grows("daas_master_reconciles_total", n).await;
    }

    /// Submits a transaction signed by `key`.
    pub async fn submit(
        &self,
        key: &SuiKeypair,
        build: impl FnOnce(&mut PtbBuilder, &RegistryCalls),
    ) {
        let mut b = PtbBuilder::new();
        build(&mut b, &self.calls);
        let out = Submitter::new(&self.chain, key)
            .submit(b.finish())
            .await
            .expect("transaction reaches the chain");
        assert!(out.is_success(), "transaction failed: {:?}", out.status);
    }

    pub fn shared(w: &WorkerObject) -> SharedRef {
        SharedRef {
            id: w.info.id,
            initial_shared_version: match w.info.owner {
                daas_protocol::chain::Owner::Shared {
                    initial_shared_version,
                } => initial_shared_version,
                other => panic!("worker is not shared: {other:?}"),
            },
        }
    }

    /// Checks the exactly-once invariant: every TokenIssued worker has exactly one
    /// labelled token, of its live version; no token exists for anything else; no
    /// worker got a version twice. Returns (issued, orphans, duplicates).
    pub async fn invariant(&self) -> (usize, usize, usize) {
        let tokens = self.tokens().await;
        let mut issued = 0;
        let mut orphans = 0;
        let reader = self.reader();
        let mut live: Vec<(ObjectId, u64)> = Vec::new();
        for e in reader.all_workers().await.unwrap() {
            let Some(w) = reader.worker(e.value).await.unwrap() else {
                continue;
            };
            if w.worker.status() == Ok(WorkerStatus::TokenIssued) {
                issued += 1;
                live.push((w.info.id, w.worker.token_version));
            }
        }
        for (w, v) in &live {
            let n = tokens
                .iter()
                .filter(|(tw, tv, _)| tw == w && tv == v)
                .count();
            assert_eq!(
                n, 1,
                "worker {w} version {v} has {n} live tokens: {tokens:?}"
            );
        }
        for t in &tokens {
            if !live.contains(&(t.0, t.1)) {
                orphans += 1;
            }
        }
        let mut set: Vec<(ObjectId, u64)> = Vec::new();
        let mut duplicates = 0;
        for e in self.events().await {
            if let RegistryEvent::JoinTokenSet(j) = e {
                if set.contains(&(j.worker_id, j.token_version)) {
                    duplicates += 1;
                }
                set.push((j.worker_id, j.token_version));
            }
        }
        (issued, orphans, duplicates)
    }

    /// Waits until nothing is in flight and the invariant holds with no orphan.
    pub async fn converged(&self, timeout: Duration) {
        eventually(
            timeout,
            "the master to converge (one live token per issued worker, no orphan)",
            || async move {
                let v = self.api_workers().await;
                let busy = v.workers.iter().any(|w| {
                    matches!(
                        w.stage.as_str(),
                        "seen"
                            | "minting"
                            | "minted"
                            | "submitted"
                            | "activating"
                            | "revoking"
                            | "confirming"
                    )
                });
                if busy {
                    return None;
                }
                let (_, orphans, duplicates) = self.invariant().await;
                assert_eq!(duplicates, 0, "a version was issued twice");
                (orphans == 0).then_some(())
            },
        )
        .await;
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Guards kill their processes; keep the logs of a failing test visible.
        if std::thread::panicking()
            && let Some(m) = &self.master
        {
            eprintln!("--- daas-master output ---\n{}", m.logs().text());
        }
    }
}
