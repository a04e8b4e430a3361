//! The world the agent tests run in, with the tests playing the master's part (there
//! is no master yet, and the agent must never depend on it):
//!
//! - [`Chain`]: the `daas-sandbox chain` process over HTTP (JSON-RPC), and the
//!   transactions a staker and a master send (register, `set_join_token` with an
//!   envelope sealed under the sandbox's certified envelope key, rotate, unstake,
//!   slash), signed with the keys from its `--info` file;
//! - [`Proxy`]: a second RPC endpoint in front of the same chain, honest or lying
//!   (rewrites one Worker's answer);
//! - [`Agent`]: the real `daas-agent` binary in its own process group, its files in a
//!   temporary tree, a `NOTIFY_SOCKET` bound by the test as systemd would, its log
//!   collected line by line;
//! - `fake_k3s`: a script that only records that it was started, for the tests whose
//!   point is that k3s is never started.

// Shared with `examples/bench.rs`, which uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use daas_agent::status::Status;
use daas_protocol::chain::{
    Chain as _, ClientConfig, ExecOutcome, JsonRpcClient, Owner, RegistryReader, RetryPolicy,
    Submitter, WorkerObject,
};
use daas_protocol::envelope::{self, EnvelopeContext, JoinSecret};
use daas_protocol::onchain::Worker;
use daas_protocol::secret::{JoinToken, NodePassword};
use daas_protocol::tx::{Arg, PtbBuilder, RegistryCalls, SharedRef};
use daas_protocol::{
    Address, ChainId, EnvelopeKey, NodeId, ObjectId, SealToken, SealingPublicKey, SuiKeypair,
};
use daas_sandbox::SandboxInfo;
use daas_sandbox::testbin::{self, Guard};

pub const SUI: u64 = 1_000_000_000;
pub const MINUTE: u64 = 60_000;
pub const HOUR: u64 = 3_600_000;

/// How long any awaited condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn now_ms() -> u64 {
    daas_agent::service::now_ms()
}

/// `testbin::wait_until` that shows `context()` (logs, status) when it times out.
pub async fn wait_for<T>(
    timeout: Duration,
    what: &str,
    probe: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    testbin::wait_until(timeout, what, probe)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", context()))
}

fn sandbox_binary() -> &'static Path {
    &testbin::binaries().sandbox
}

/// The `daas-k3s` binary (`server`, and `agent` — the supervised k3s).
pub fn k3s_binary() -> &'static Path {
    &testbin::binaries().k3s
}

static AGENT_BIN: OnceLock<PathBuf> = OnceLock::new();

/// Uses `path` as the `daas-agent` binary (the benchmark measures other builds).
pub fn set_agent_binary(path: PathBuf) {
    let _ = AGENT_BIN.set(path);
}

/// The `daas-agent` binary under test: cargo's for the integration tests; for the
/// benchmark (an example, which cargo gives no binary path) built with its profile.
pub fn agent_binary() -> &'static Path {
    AGENT_BIN.get_or_init(|| match option_env!("CARGO_BIN_EXE_daas-agent") {
        Some(p) => PathBuf::from(p),
        None => {
            let mut b = escargot::CargoBuild::new()
                .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
                .package("daas-agent")
                .bin("daas-agent");
            if !cfg!(debug_assertions) {
                b = b.release();
            }
            b.run()
                .unwrap_or_else(|e| panic!("building daas-agent: {e}"))
                .path()
                .to_path_buf()
        }
    })
}

/// Spawns `cmd` under a [`Guard`] (own process group, killed on drop), stdout and
/// stderr collected.
pub fn spawn(mut cmd: Command, what: &str) -> Guard {
    cmd.stdout(Stdio::piped());
    Guard::spawn(cmd).unwrap_or_else(|e| panic!("spawning {what}: {e}"))
}

/// A `daas-k3s server`: real HTTPS with its own CA, k3s's join endpoints, the
/// Kubernetes API the master would use (through kube-rs here).
pub struct Cluster {
    _proc: Guard,
    _dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The `K10<hash>` of the server token: the CA hash every join token carries.
    pub ca_prefix: String,
    kubeconfig: PathBuf,
}

impl Cluster {
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(k3s_binary());
        cmd.args([
            "server",
            "--bind-address",
            "127.0.0.1",
            "--https-listen-port",
            "0",
            "--data-dir",
        ])
        .arg(dir.path());
        let proc = spawn(cmd, "daas-k3s server");
        let line = proc.logs().wait_for("daas-k3s server is ready", WAIT).await;
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap_or_else(|| panic!("no {k} in {line:?}"))
                .to_string()
        };
        let url = field("url=");
        let kubeconfig = PathBuf::from(field("kubeconfig="));
        let token = std::fs::read_to_string(field("token=")).unwrap();
        let ca_prefix = token.trim().split("::").next().unwrap().to_string();
        assert!(
            ca_prefix.starts_with("K10") && ca_prefix.len() == 67,
            "{ca_prefix}"
        );
        Cluster {
            _proc: proc,
            _dir: dir,
            url,
            ca_prefix,
            kubeconfig,
        }
    }

    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    /// Mints a bootstrap token the way DESIGN §10 says the master does (the Secret
    /// `k3s token create` would make, plus the k8s-daas labels), valid for `ttl_ms`.
    pub async fn mint(
        &self,
        node_id: &NodeId,
        worker: ObjectId,
        version: u64,
        ttl_ms: u64,
    ) -> JoinToken {
        use k8s_openapi::api::core::v1::Secret;
        let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut raw = [0u8; 22];
        getrandom::fill(&mut raw).unwrap();
        let chars: String = raw
            .iter()
            .map(|b| alphabet[*b as usize % alphabet.len()] as char)
            .collect();
        let (id, secret) = chars.split_at(6);
        let expiration = daas_agent::status::iso8601(now_ms() + ttl_ms);
        let s: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": format!("bootstrap-token-{id}"),
                "namespace": "kube-system",
                "labels": {
                    "k8s-daas.io/node-id": node_id.as_str(),
                    "k8s-daas.io/token-version": version.to_string(),
                },
                "annotations": { "k8s-daas.io/worker-id": worker.to_string() },
            },
            "type": "bootstrap.kubernetes.io/token",
            "stringData": {
                "token-id": id,
                "token-secret": secret,
                "expiration": expiration,
                "usage-bootstrap-authentication": "true",
                "usage-bootstrap-signing": "true",
                "auth-extra-groups": "system:bootstrappers:k3s:default-node-token",
                "description": format!("k8s-daas {node_id}"),
            },
        }))
        .unwrap();
        let api: kube::Api<Secret> = kube::Api::namespaced(self.client().await, "kube-system");
        api.create(&kube::api::PostParams::default(), &s)
            .await
            .unwrap();
        JoinToken::new(format!("{}::{id}.{secret}", self.ca_prefix)).unwrap()
    }

    /// A join secret for this cluster.
    pub fn secret(&self, token: JoinToken, node_password: &NodePassword) -> JoinSecret {
        JoinSecret {
            server: self.url.clone(),
            token,
            node_password: node_password.clone(),
        }
    }

    /// The Node `name`, if registered.
    pub async fn node(&self, name: &str) -> Option<k8s_openapi::api::core::v1::Node> {
        let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(self.client().await);
        api.get_opt(name).await.unwrap()
    }

    /// Whether Node `name` is registered with condition Ready=True.
    pub async fn node_ready(&self, name: &str) -> bool {
        self.node(name).await.is_some_and(|n| {
            n.status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
    }

    /// The node-password Secret's `hash` (k3s's scrypt format).
    pub async fn node_password_hash(&self, name: &str) -> Option<String> {
        use k8s_openapi::api::core::v1::Secret;
        let api: kube::Api<Secret> = kube::Api::namespaced(self.client().await, "kube-system");
        api.get_opt(&format!("{name}.node-password.k3s"))
            .await
            .unwrap()
            .and_then(|s| s.data)
            .and_then(|d| {
                d.get("hash")
                    .map(|h| String::from_utf8_lossy(&h.0).into_owned())
            })
    }

    /// Deletes the bootstrap token of `token` (as the master does once the node is up).
    pub async fn delete_token(&self, token: &JoinToken) {
        use k8s_openapi::api::core::v1::Secret;
        let api: kube::Api<Secret> = kube::Api::namespaced(self.client().await, "kube-system");
        api.delete(
            &format!("bootstrap-token-{}", token.token_id()),
            &Default::default(),
        )
        .await
        .unwrap();
    }
}

/// The sandbox chain process.
pub struct Chain {
    _proc: Guard,
    _dir: tempfile::TempDir,
    pub info: SandboxInfo,
    pub chain_id: ChainId,
    client: JsonRpcClient,
    pub master: SuiKeypair,
    pub stakers: Vec<SuiKeypair>,
    calls: RegistryCalls,
    pub envelope_key: EnvelopeKey,
    http: reqwest::Client,
}

/// A registered worker as the tests track it.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: ObjectId,
    pub node_id: NodeId,
    pub owner: usize,
}

impl Chain {
    /// Starts `daas-sandbox chain` on 127.0.0.1:0 and reads its `--info` file.
    pub async fn start() -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let info_path = dir.path().join("info.json");
        let mut cmd = Command::new(sandbox_binary());
        cmd.args([
            "chain",
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "11",
            "--accounts",
            "3",
        ])
        .arg("--info")
        .arg(&info_path);
        let proc = spawn(cmd, "daas-sandbox");
        let text = wait_for(
            WAIT,
            "the sandbox --info file",
            || {
                std::fs::read_to_string(&info_path)
                    .ok()
                    .filter(|t| t.ends_with('}'))
            },
            || proc.logs().text(),
        )
        .await;
        let info: SandboxInfo = serde_json::from_str(&text).unwrap();
        let chain_id: ChainId = info.chain_id.parse().unwrap();
        let client = JsonRpcClient::new(ClientConfig {
            endpoints: vec![info.rpc_url.clone()],
            chain_id,
            retry: RetryPolicy {
                attempts: 3,
                ..RetryPolicy::default()
            },
        })
        .unwrap();
        Chain {
            master: SuiKeypair::from_suiprivkey(&info.master.suiprivkey).unwrap(),
            stakers: info
                .accounts
                .iter()
                .map(|a| SuiKeypair::from_suiprivkey(&a.suiprivkey).unwrap())
                .collect(),
            calls: RegistryCalls {
                package: info.package_id,
                registry: SharedRef {
                    id: info.registry_id,
                    initial_shared_version: info.registry_initial_shared_version,
                },
            },
            envelope_key: EnvelopeKey::from_secret_bytes(
                daas_protocol::hex::decode_array(&info.envelope_key.private).unwrap(),
            ),
            chain_id,
            client,
            info,
            _proc: proc,
            _dir: dir,
            http: reqwest::Client::new(),
        }
    }

    pub fn root_public_key(&self) -> String {
        self.info.root_key.public.clone()
    }

    pub fn owner(&self, staker: usize) -> Address {
        self.stakers[staker].address()
    }

    async fn submit(
        &self,
        signer: &SuiKeypair,
        build: impl FnOnce(&mut PtbBuilder),
    ) -> ExecOutcome {
        let mut b = PtbBuilder::new();
        build(&mut b);
        Submitter::new(&self.client, signer)
            .submit(b.finish())
            .await
            .expect("the transaction reaches the chain")
    }

    fn reader(&self) -> RegistryReader<&JsonRpcClient> {
        RegistryReader::new(&self.client, self.info.package_id, self.info.registry_id)
    }

    pub async fn worker(&self, id: ObjectId) -> Option<WorkerObject> {
        self.reader().worker(id).await.expect("worker read")
    }

    fn shared(w: &WorkerObject) -> SharedRef {
        match w.info.owner {
            Owner::Shared {
                initial_shared_version,
            } => SharedRef {
                id: w.info.id,
                initial_shared_version,
            },
            other => panic!("worker is not shared: {other:?}"),
        }
    }

    /// `stake_and_register_worker` from staker `staker`.
    pub async fn register(&self, staker: usize, node_id: &NodeId, token: &SealToken) -> Registered {
        let calls = self.calls;
        let bytes = token.to_bytes();
        let out = self
            .submit(&self.stakers[staker], |b| {
                calls.stake_and_register_worker(b, SUI, node_id.as_str(), &bytes);
            })
            .await;
        assert!(out.is_success(), "registration failed: {:?}", out.status);
        let w = self
            .reader()
            .worker_by_node_id(node_id.as_str())
            .await
            .unwrap()
            .expect("the registered worker is found");
        Registered {
            id: w.info.id,
            node_id: node_id.clone(),
            owner: staker,
        }
    }

    /// `set_join_token` from the master with `envelope`.
    pub async fn set_join_token(&self, worker: ObjectId, envelope: &[u8]) -> ExecOutcome {
        let w = self.worker(worker).await.expect("worker exists");
        let cap = self
            .client
            .object(self.info.master_cap_id)
            .await
            .unwrap()
            .expect("MasterCap")
            .object_ref();
        let calls = self.calls;
        let shared = Self::shared(&w);
        let out = self
            .submit(&self.master, |b| {
                calls.set_join_token(b, cap, shared, envelope);
            })
            .await;
        assert!(out.is_success(), "set_join_token failed: {:?}", out.status);
        out
    }

    /// The token_version the next envelope of `worker` must carry.
    pub async fn next_version(&self, worker: ObjectId) -> u64 {
        self.worker(worker)
            .await
            .expect("worker")
            .worker
            .token_version
            + 1
    }

    /// Seals `secret` for `worker` (context: its own id and node_id) under `key`.
    pub fn seal(
        &self,
        worker: &Registered,
        sealing: &SealingPublicKey,
        key: &EnvelopeKey,
        version: u64,
        expires_at_ms: u64,
        secret: &JoinSecret,
    ) -> Vec<u8> {
        self.seal_for(
            worker.id,
            &worker.node_id,
            sealing,
            key,
            version,
            expires_at_ms,
            secret,
        )
    }

    /// Seals with an explicit context (for envelopes made for another worker).
    #[allow(clippy::too_many_arguments)]
    pub fn seal_for(
        &self,
        worker_id: ObjectId,
        node_id: &NodeId,
        sealing: &SealingPublicKey,
        key: &EnvelopeKey,
        version: u64,
        expires_at_ms: u64,
        secret: &JoinSecret,
    ) -> Vec<u8> {
        let ctx = EnvelopeContext {
            chain_id: self.chain_id,
            registry_id: self.info.registry_id,
            worker_id,
            node_id: node_id.clone(),
        };
        envelope::seal(&ctx, key, sealing, version, expires_at_ms, secret).unwrap()
    }

    /// Seals under the sandbox's certified envelope key and stores it: what the master
    /// does. Returns the envelope bytes.
    pub async fn issue(
        &self,
        worker: &Registered,
        sealing: &SealingPublicKey,
        secret: &JoinSecret,
        ttl_ms: u64,
    ) -> (u64, Vec<u8>) {
        let version = self.next_version(worker.id).await;
        let env = self.seal(
            worker,
            sealing,
            &self.envelope_key,
            version,
            self.chain_now().await + ttl_ms,
            secret,
        );
        self.set_join_token(worker.id, &env).await;
        (version, env)
    }

    async fn call(&self, signer: &SuiKeypair, function: &str, args: Vec<Arg<'_>>) -> ExecOutcome {
        let calls = self.calls;
        let out = self
            .submit(signer, |b| {
                calls
                    .call(b, function, &args)
                    .expect("matches the entry table");
            })
            .await;
        assert!(out.is_success(), "{function} failed: {:?}", out.status);
        out
    }

    /// `rotate_seal_token` by the owner.
    pub async fn rotate_seal_token(&self, worker: &Registered, token: &SealToken) {
        let w = self.worker(worker.id).await.expect("worker");
        let bytes = token.to_bytes();
        self.call(
            &self.stakers[worker.owner],
            "rotate_seal_token",
            vec![Arg::Worker(Self::shared(&w)), Arg::Bytes(&bytes)],
        )
        .await;
    }

    /// `activate_worker` by the master (→ Active), as it does once the Node is Ready.
    pub async fn activate(&self, worker: &Registered) {
        let w = self.worker(worker.id).await.expect("worker");
        let cap = self
            .client
            .object(self.info.master_cap_id)
            .await
            .unwrap()
            .expect("MasterCap")
            .object_ref();
        self.call(
            &self.master,
            "activate_worker",
            vec![Arg::Cap(cap), Arg::Worker(Self::shared(&w))],
        )
        .await;
    }

    /// `request_unstake` by the owner (→ Leaving).
    pub async fn request_unstake(&self, worker: &Registered) {
        let w = self.worker(worker.id).await.expect("worker");
        self.call(
            &self.stakers[worker.owner],
            "request_unstake",
            vec![Arg::Worker(Self::shared(&w))],
        )
        .await;
    }

    /// `slash` with the SlashCap (→ Slashed).
    pub async fn slash(&self, worker: &Registered) {
        let w = self.worker(worker.id).await.expect("worker");
        let cap = self
            .client
            .object(self.info.slash_cap_id)
            .await
            .unwrap()
            .expect("SlashCap")
            .object_ref();
        self.call(
            &self.master,
            "slash",
            vec![
                Arg::Cap(cap),
                Arg::Worker(Self::shared(&w)),
                Arg::U64(SUI / 2),
                Arg::Str("test: misbehaving worker"),
            ],
        )
        .await;
    }

    /// Moves the chain clock forward (admin endpoint) and lands a transaction so that
    /// the Clock object shows the new time.
    pub async fn advance_clock(&self, ms: u64) {
        let r = self
            .http
            .post(format!("{}/admin/clock", self.info.rpc_url))
            .json(&serde_json::json!({ "advance_ms": ms }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        // Any transaction stamps the Clock; a zero-amount self-transfer would do, a
        // registration of a throwaway device is at hand.
        let d = daas_protocol::DeviceKeys::generate();
        let node_id = NodeId::from_label("tick", &d.identity.public()).unwrap();
        let staker = self.stakers.len() - 1;
        let token = SealToken::create(
            &d.identity,
            &d.sealing.public(),
            &self.info.registry_id,
            &self.owner(staker),
            &node_id,
        )
        .unwrap();
        self.register(staker, &node_id, &token).await;
    }

    /// The chain's time (the Clock object).
    pub async fn chain_now(&self) -> u64 {
        #[derive(serde::Deserialize)]
        struct Clock {
            _id: ObjectId,
            timestamp_ms: u64,
        }
        let info = self
            .client
            .object(daas_protocol::onchain::CLOCK_ID)
            .await
            .unwrap()
            .expect("the Clock");
        let c: Clock = info.decode("Clock").unwrap();
        c.timestamp_ms.max(now_ms())
    }
}

/// A join secret for tests that never reach a k3s server.
pub fn unreachable_secret() -> JoinSecret {
    JoinSecret {
        server: "https://127.0.0.1:1".into(),
        token: JoinToken::new(format!("K10{}::abcdef.0123456789abcdef", "ab".repeat(32))).unwrap(),
        node_password: NodePassword::generate(),
    }
}

/// How the proxy treats the watched Worker's object.
#[derive(Debug, Clone)]
pub enum Rewrite {
    /// Pass everything through.
    None,
    /// Report this status byte.
    Status(u8),
    /// Serve this envelope (and token_version).
    Envelope(Vec<u8>, u64),
    /// Serve this seal token.
    SealToken(Vec<u8>),
}

/// A JSON-RPC endpoint in front of the sandbox: a second RPC provider for the same
/// chain, honest or lying about one Worker.
pub struct Proxy {
    pub url: String,
    rewrite: Arc<Mutex<(Option<ObjectId>, Rewrite)>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        use axum::extract::State;
        use axum::routing::post;
        let rewrite = Arc::new(Mutex::new((None, Rewrite::None)));
        let state = (
            upstream.to_string(),
            Arc::clone(&rewrite),
            reqwest::Client::new(),
        );
        type S = (
            String,
            Arc<Mutex<(Option<ObjectId>, Rewrite)>>,
            reqwest::Client,
        );
        async fn forward(
            State((up, rw, http)): State<S>,
            body: axum::body::Bytes,
        ) -> axum::response::Response {
            use axum::response::IntoResponse as _;
            let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let resp = match http
                .post(&up)
                .header("content-type", "application/json")
                .body(body.to_vec())
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    return (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response();
                }
            };
            let status = resp.status();
            let mut v: serde_json::Value = match resp.json().await {
                Ok(v) => v,
                Err(e) => {
                    return (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response();
                }
            };
            let (target, how) = rw.lock().unwrap().clone();
            if let Some(target) = target
                && req["method"] == "sui_getObject"
                && req["params"][0].as_str() == Some(&target.to_string())
            {
                rewrite_worker(&mut v["result"], &how);
            }
            (status, axum::Json(v)).into_response()
        }
        let app = axum::Router::new()
            .route("/", post(forward))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Proxy {
            url,
            rewrite,
            _task: task,
        }
    }

    /// From now on, answer for `worker` as `how` says.
    pub fn set(&self, worker: ObjectId, how: Rewrite) {
        *self.rewrite.lock().unwrap() = (Some(worker), how);
    }
}

fn rewrite_worker(result: &mut serde_json::Value, how: &Rewrite) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(bytes) = result["data"]["bcs"]["bcsBytes"].as_str() else {
        return;
    };
    let mut w: Worker = bcs::from_bytes(&b64.decode(bytes).unwrap()).unwrap();
    match how {
        Rewrite::None => return,
        Rewrite::Status(s) => w.status = *s,
        Rewrite::Envelope(env, version) => {
            w.join_envelope = env.clone();
            w.token_version = *version;
        }
        Rewrite::SealToken(t) => w.seal_token = t.clone(),
    }
    result["data"]["bcs"]["bcsBytes"] = b64.encode(bcs::to_bytes(&w).unwrap()).into();
}

/// The systemd side of `NOTIFY_SOCKET`: a datagram socket the test binds.
pub struct Systemd {
    pub path: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
}

impl Systemd {
    pub fn bind(path: PathBuf) -> Systemd {
        let sock = UnixDatagram::bind(&path).unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = Arc::clone(&messages);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                m.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        Systemd { path, messages }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// The `STATUS=` values so far, in order.
    pub fn statuses(&self) -> Vec<String> {
        self.messages()
            .iter()
            .flat_map(|m| m.lines().map(str::to_string).collect::<Vec<_>>())
            .filter_map(|l| l.strip_prefix("STATUS=").map(str::to_string))
            .collect()
    }
}

/// A script standing in for k3s in the tests where k3s must never start: it appends a
/// line to `marker` when started, then sleeps.
pub fn fake_k3s(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("fake-k3s");
    let marker = dir.join("fake-k3s.started");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec sleep 600\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, marker)
}

/// Where an agent's files live (a temporary tree standing in for /etc, /var/lib, /run).
pub struct Agent {
    pub root: tempfile::TempDir,
    pub config: PathBuf,
    pub key_dir: PathBuf,
    pub data_dir: PathBuf,
    pub status_file: PathBuf,
    pub token_file: PathBuf,
    pub node_password_file: PathBuf,
    pub boot_dir: PathBuf,
    pub teardown_marker: PathBuf,
    pub metrics_file: PathBuf,
    pub k3s_data_dir: PathBuf,
    pub systemd: Systemd,
    pub proc: Option<Guard>,
    pub env: BTreeMap<String, String>,
}

/// Values that go into `agent.toml`.
#[derive(Debug, Clone)]
pub struct Setup {
    pub endpoints: Vec<String>,
    pub chain_id: String,
    pub package_id: ObjectId,
    pub registry_id: ObjectId,
    pub root_public_key: String,
    pub quorum: Option<usize>,
    pub k3s_binary: PathBuf,
    pub k3s_args: Vec<String>,
    pub pending_ms: u64,
    pub joined_ms: u64,
    pub extra: String,
}

impl Setup {
    pub fn new(chain: &Chain, k3s_binary: PathBuf) -> Setup {
        Setup {
            endpoints: vec![chain.info.rpc_url.clone()],
            chain_id: chain.info.chain_id.clone(),
            package_id: chain.info.package_id,
            registry_id: chain.info.registry_id,
            root_public_key: chain.root_public_key(),
            quorum: None,
            k3s_binary,
            k3s_args: Vec::new(),
            pending_ms: 200,
            joined_ms: 1_000,
            extra: String::new(),
        }
    }
}

/// Runs `daas-agent` with `args` to completion.
pub fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(agent_binary())
        .args(args)
        .env("DAAS_AGENT_LOG", "info")
        .output()
        .unwrap()
}

impl Agent {
    /// A fresh file tree (nothing written yet but the teardown script).
    pub fn new() -> Agent {
        let root = tempfile::tempdir().unwrap();
        let p = |s: &str| root.path().join(s);
        let teardown_marker = p("teardown.ran");
        let teardown = p("k3s-killall.sh");
        std::fs::write(
            &teardown,
            format!("#!/bin/sh\necho ran >> '{}'\n", teardown_marker.display()),
        )
        .unwrap();
        std::fs::set_permissions(&teardown, std::fs::Permissions::from_mode(0o755)).unwrap();
        let systemd = Systemd::bind(p("systemd-notify.sock"));
        Agent {
            config: p("etc/k8s-daas/agent.toml"),
            key_dir: p("var/lib/k8s-daas"),
            data_dir: p("var/lib/k8s-daas"),
            status_file: p("run/k8s-daas/status.json"),
            token_file: p("run/k8s-daas/private/k3s-token"),
            node_password_file: p("etc/rancher/node/password"),
            boot_dir: p("boot/k8s-daas"),
            metrics_file: p("var/lib/node_exporter/k8s_daas.prom"),
            k3s_data_dir: p("var/lib/rancher/k3s"),
            teardown_marker,
            systemd,
            proc: None,
            env: BTreeMap::new(),
            root,
        }
    }

    fn teardown_script(&self) -> PathBuf {
        self.root.path().join("k3s-killall.sh")
    }

    /// The `agent.toml` text for `s`.
    pub fn config_text(&self, s: &Setup) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let quorum = s
            .quorum
            .map(|q| format!("quorum = {q}\n"))
            .unwrap_or_default();
        format!(
            r#"root_public_key = "{root}"
key_dir = "{key_dir}"
data_dir = "{data_dir}"
status_file = "{status}"
metrics_file = "{metrics}"
{extra}
[chain]
chain_id = "{chain_id}"
transport = "jsonrpc"
endpoints = [{endpoints}]
{quorum}package_id = "{package}"
registry_id = "{registry}"
request_timeout_ms = 2000
attempts = 3

[k3s]
binary = "{binary}"
args = [{args}]
token_file = "{token_file}"
node_password_file = "{pw}"
teardown = ["{teardown}"]
stop_grace_ms = 5000
backoff_initial_ms = 300
backoff_max_ms = 3000
healthy_after_ms = 20000
cacerts_timeout_ms = 3000

[poll]
pending_ms = {pending}
joined_ms = {joined}
jitter_percent = 10
"#,
            root = s.root_public_key,
            key_dir = self.key_dir.display(),
            data_dir = self.data_dir.display(),
            status = self.status_file.display(),
            metrics = self.metrics_file.display(),
            extra = s.extra,
            chain_id = s.chain_id,
            endpoints = list(&s.endpoints),
            package = s.package_id,
            registry = s.registry_id,
            binary = s.k3s_binary.display(),
            args = list(&s.k3s_args),
            token_file = self.token_file.display(),
            pw = self.node_password_file.display(),
            teardown = self.teardown_script().display(),
            pending = s.pending_ms,
            joined = s.joined_ms,
        )
    }

    pub fn write_config(&self, s: &Setup) {
        std::fs::create_dir_all(self.config.parent().unwrap()).unwrap();
        std::fs::write(&self.config, self.config_text(s)).unwrap();
    }

    /// `daas-agent init --json` for `owner` in `registry`: returns the node_id and the
    /// seal token.
    pub fn init(&self, label: &str, registry: &ObjectId, owner: &Address) -> (NodeId, SealToken) {
        let out = run_cli(&[
            "init",
            "--label",
            label,
            "--dir",
            self.key_dir.to_str().unwrap(),
            "--registry",
            &registry.to_string(),
            "--owner",
            &owner.to_string(),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let node_id: NodeId = v["node_id"].as_str().unwrap().parse().unwrap();
        let token = SealToken::from_hex(v["registration"]["seal_token"].as_str().unwrap()).unwrap();
        (node_id, token)
    }

    /// The device's current sealing public key (from its key file, as `init` wrote it).
    pub fn sealing_public(&self) -> SealingPublicKey {
        daas_protocol::DeviceKeys::load(&self.key_dir)
            .unwrap()
            .sealing
            .public()
    }

    /// Starts `daas-agent run`.
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "already running");
        let mut cmd = Command::new(agent_binary());
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .arg("--boot-dir")
            .arg(&self.boot_dir)
            .env("NOTIFY_SOCKET", &self.systemd.path)
            .env("DAAS_AGENT_LOG", "info,daas_agent=debug")
            .env("DAAS_K3S_NODE_PASSWORD_FILE", &self.node_password_file);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.proc = Some(spawn(cmd, "daas-agent"));
    }

    pub fn proc(&self) -> &Guard {
        self.proc.as_ref().expect("agent running")
    }

    /// Lines the agent printed containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.proc().logs().count(needle)
    }

    pub fn log(&self) -> String {
        self.proc.as_ref().map_or_else(String::new, |p| {
            format!("--- daas-agent output ---\n{}", p.logs().text())
        })
    }

    pub fn status(&self) -> Option<Status> {
        Status::read(&self.status_file).ok()
    }

    /// Waits for a status `pred` accepts.
    pub async fn wait_status(&self, what: &str, pred: impl Fn(&Status) -> bool) -> Status {
        wait_for(
            WAIT,
            what,
            || self.status().filter(|s| pred(s)),
            || format!("status: {:?}\n{}", self.status(), self.log()),
        )
        .await
    }

    /// Waits for a log line containing `needle`.
    pub async fn wait_log(&self, needle: &str) -> String {
        wait_for(
            WAIT,
            &format!("a log line with {needle:?}"),
            || {
                self.proc()
                    .logs()
                    .lines()
                    .into_iter()
                    .find(|l| l.contains(needle))
            },
            || self.log(),
        )
        .await
    }

    /// SIGTERM, and the exit status.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        let p = self.proc.as_mut().expect("running");
        if let Some(pid) = rustix::process::Pid::from_raw(p.pid() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        p.wait_exit(WAIT, "daas-agent after SIGTERM").await
    }

    /// Forgets the exited process (keeping its files) so it can be started again.
    pub fn reset(&mut self) -> Guard {
        self.proc.take().expect("was started")
    }
}

/// Every `/proc/<pid>/cmdline` and `environ` of `pid` and its descendants, as text.
pub fn proc_texts(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for f in ["cmdline", "environ"] {
            if let Ok(b) = std::fs::read(format!("/proc/{p}/{f}")) {
                out.push((p, String::from_utf8_lossy(&b).replace('\0', " ")));
            }
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Every file under `dir` (recursively) whose bytes contain `needle`, with its mode.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file()
                && let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                out.push((path, meta.permissions().mode() & 0o777));
            }
        }
    }
    out
}
