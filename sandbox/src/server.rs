//! The node: shared state, the clock, persistence, fault injection, and the HTTP
//! routes (`POST /` JSON-RPC, `POST /graphql`, `POST /admin/*`).

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::ChainId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::exec::{Engine, Mode, Reject};
use crate::faults::{Fault, Faults};
use crate::genesis::{self, GenesisParams, SandboxInfo};
use crate::store::TxRecord;

/// A u64 as a JSON string or number.
pub fn json_u64(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How often Sui's network seals a checkpoint (mainnet: about 4 a second), the
/// time-scale of `--read-lag`.
pub const CHECKPOINT_INTERVAL_MS: u64 = 250;

/// The chain clock: wall time plus an offset the admin path can grow; never goes back.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicU64,
    last_ms: AtomicU64,
}

impl Clock {
    /// Now, in ms (monotonic).
    pub fn now(&self) -> u64 {
        let t = wall_ms() + self.offset_ms.load(Ordering::SeqCst);
        self.last_ms.fetch_max(t, Ordering::SeqCst).max(t)
    }

    /// Moves the clock forward.
    pub fn advance(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    fn observe(&self, t: u64) {
        self.last_ms.fetch_max(t, Ordering::SeqCst);
    }
}

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on (tests: `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Genesis parameters (ignored, except for a mismatch check, when `state_dir`
    /// already holds a chain).
    pub genesis: GenesisParams,
    /// Where to persist the chain, if anywhere.
    pub state_dir: Option<PathBuf>,
    /// Faults to inject.
    pub faults: Faults,
    /// Serve reads this many checkpoints behind the latest (a lagging node).
    pub read_lag: u64,
    /// The network's checkpoint interval the read lag is measured in: a checkpoint
    /// sealed `read_lag × read_lag_interval_ms` ago is served even when no newer one
    /// came (default [`CHECKPOINT_INTERVAL_MS`]; see [`Node::read_checkpoint`]).
    pub read_lag_interval_ms: u64,
    /// Check every request and answer against Sui's specs (tests).
    #[cfg(feature = "conformance")]
    pub spec: Option<Arc<crate::conformance::Spec>>,
}

impl SandboxConfig {
    /// A chain from `genesis` on `listen`, in memory, without faults or lag (and
    /// without spec checks): what crates that use the sandbox as a library start
    /// with, whichever features the sandbox was built with.
    pub fn new(listen: SocketAddr, genesis: GenesisParams) -> Self {
        SandboxConfig {
            listen,
            genesis,
            state_dir: None,
            faults: Faults::none(),
            read_lag: 0,
            read_lag_interval_ms: CHECKPOINT_INTERVAL_MS,
            #[cfg(feature = "conformance")]
            spec: None,
        }
    }

    /// A chain on `127.0.0.1:0` with `genesis`, in memory, without faults or read lag
    /// (for other crates' tests, which cannot name this crate's features).
    pub fn local(genesis: GenesisParams) -> Self {
        Self::new(SocketAddr::from(([127, 0, 0, 1], 0)), genesis)
    }
}

/// One line of the transaction log.
#[derive(Debug, Serialize, Deserialize)]
struct LogLine {
    tx: String,
    sigs: Vec<String>,
    ts: u64,
}

/// The running node's shared state.
pub struct Node {
    /// The chain.
    pub engine: Mutex<Engine>,
    /// The clock.
    pub clock: Clock,
    /// Its chain id.
    pub chain_id: ChainId,
    /// The info file contents.
    pub info: SandboxInfo,
    /// Faults.
    pub faults: Mutex<Faults>,
    /// Checkpoints reads lag behind the latest (0: current). Not persisted: like the
    /// other faults it is set per start (`--read-lag`) or at run time
    /// (`POST /admin/faults`).
    pub read_lag: AtomicU64,
    /// See [`SandboxConfig::read_lag_interval_ms`].
    pub read_lag_interval_ms: AtomicU64,
    log: Option<Mutex<File>>,
    state_dir: Option<PathBuf>,
    #[cfg(feature = "conformance")]
    spec: Option<Arc<crate::conformance::Spec>>,
    /// Spec violations seen so far (with a `spec` configured).
    #[cfg(feature = "conformance")]
    pub violations: Mutex<Vec<String>>,
}

impl Node {
    /// Executes a signed transaction and persists it before answering.
    pub fn execute(
        &self,
        tx: &[u8],
        sigs: &[String],
    ) -> Result<(TxRecord, Vec<daas_protocol::onchain::RegistryEvent>), Reject> {
        let mut engine = self.engine.lock().expect("poisoned");
        self.execute_locked(&mut engine, tx, sigs)
    }

    /// [`Node::execute`] with the engine already locked.
    pub fn execute_locked(
        &self,
        engine: &mut Engine,
        tx: &[u8],
        sigs: &[String],
    ) -> Result<(TxRecord, Vec<daas_protocol::onchain::RegistryEvent>), Reject> {
        let before = engine.store.txs.len();
        let now = self.clock.now();
        let out = engine.execute(tx, sigs, now, Mode::Execute)?;
        if engine.store.txs.len() > before
            && let Some(log) = &self.log
        {
            let line = serde_json::to_string(&LogLine {
                tx: BASE64.encode(tx),
                sigs: sigs.to_vec(),
                ts: now,
            })
            .expect("serializes");
            let mut f = log.lock().expect("poisoned");
            // Written and synced before the answer: a restarted sandbox has every
            // transaction a client saw succeed.
            if let Err(e) = writeln!(f, "{line}").and_then(|()| f.sync_data()) {
                tracing::error!(error = %e, "cannot persist the transaction log");
            }
        }
        Ok(out)
    }

    /// Keeps the spec violations of one request and logs them.
    #[cfg(feature = "conformance")]
    fn record_violations(&self, v: &[crate::conformance::Violation]) {
        for v in v {
            tracing::warn!(violation = %v, "answer or request does not match Sui's spec");
        }
        self.violations
            .lock()
            .expect("poisoned")
            .extend(v.iter().map(ToString::to_string));
    }

    /// The checkpoint reads are served at: the latest minus the read lag — as a node
    /// that many checkpoints behind the network. On Sui the network seals a checkpoint
    /// about every [`CHECKPOINT_INTERVAL_MS`] (the interval this node is configured
    /// with) whether or not users send transactions,
    /// so such a node is also that many intervals behind in *time*, and catches up
    /// with a write once the network has moved on. This chain seals checkpoints only
    /// for transactions, so the time bound stands in for the network's progress: a
    /// checkpoint sealed `lag × interval` ago is visible even when no newer one came,
    /// and a quiet chain never hides a write forever.
    pub fn read_checkpoint(&self, engine: &Engine) -> u64 {
        let latest = engine.store.latest_checkpoint();
        let lag = self.read_lag.load(Ordering::SeqCst);
        let behind = latest.saturating_sub(lag);
        if lag == 0 {
            return latest;
        }
        let horizon = self
            .clock
            .now()
            .saturating_sub(lag.saturating_mul(self.read_lag_interval_ms.load(Ordering::SeqCst)));
        (behind..=latest)
            .rev()
            .find(|&c| {
                engine
                    .store
                    .checkpoints
                    .get(c as usize)
                    .is_some_and(|cp| cp.summary.timestamp_ms <= horizon)
            })
            .unwrap_or(behind)
    }

    /// Moves the chain clock forward (and persists the offset).
    pub fn advance_clock(&self, ms: u64) {
        self.clock.advance(ms);
        self.save_clock();
    }

    fn save_clock(&self) {
        if let Some(dir) = &self.state_dir {
            let v = json!({"offset_ms": self.clock.offset_ms.load(Ordering::SeqCst)});
            if let Err(e) = fs::write(dir.join("clock.json"), v.to_string()) {
                tracing::error!(error = %e, "cannot persist the clock offset");
            }
        }
    }
}

fn open_state(
    dir: &Path,
    params: &GenesisParams,
) -> anyhow::Result<(GenesisParams, Vec<LogLine>, u64)> {
    use anyhow::Context as _;
    fs::create_dir_all(dir).with_context(|| format!("creating state dir {}", dir.display()))?;
    let gpath = dir.join("genesis.json");
    let params = if gpath.exists() {
        let stored: GenesisParams = serde_json::from_slice(&fs::read(&gpath)?)
            .with_context(|| format!("reading {}", gpath.display()))?;
        if stored.seed != params.seed {
            anyhow::bail!(
                "state dir {} holds a chain made with seed {}, not {}: use another --state-dir or the same --seed",
                dir.display(),
                stored.seed,
                params.seed
            );
        }
        stored
    } else {
        fs::write(&gpath, serde_json::to_vec_pretty(params)?)
            .with_context(|| format!("writing {}", gpath.display()))?;
        params.clone()
    };
    let mut lines = Vec::new();
    let lpath = dir.join("txlog.jsonl");
    if lpath.exists() {
        for (n, line) in BufReader::new(File::open(&lpath)?).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<LogLine>(&line) {
                Ok(l) => lines.push(l),
                // a torn last line (crash mid-write) is dropped; anything else is an error
                Err(_) if n + 1 == BufReader::new(File::open(&lpath)?).lines().count() => {
                    tracing::warn!(
                        line = n + 1,
                        "dropping a torn last line of the transaction log"
                    );
                }
                Err(e) => anyhow::bail!("{} line {}: {e}", lpath.display(), n + 1),
            }
        }
    }
    let offset = fs::read(dir.join("clock.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["offset_ms"].as_u64())
        .unwrap_or(0);
    Ok((params, lines, offset))
}

/// A running sandbox.
pub struct Sandbox {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The info (URLs filled in).
    pub info: SandboxInfo,
    /// Shared state, for in-process tests.
    pub node: Arc<Node>,
    /// The server task; ends after shutdown.
    pub task: tokio::task::JoinHandle<()>,
}

impl Sandbox {
    /// Builds (or restores) the chain, binds, and serves until `shutdown` resolves.
    pub async fn start(
        config: SandboxConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Sandbox> {
        let (params, replay, offset) = match &config.state_dir {
            Some(dir) => open_state(dir, &config.genesis)?,
            None => (config.genesis.clone(), Vec::new(), 0),
        };
        let (store, package, mut info) = genesis::build(&params);
        let chain_id: ChainId = info.chain_id.parse().expect("genesis writes a chain id");
        let mut engine = Engine {
            store,
            package,
            reference_gas_price: crate::gas::REFERENCE_GAS_PRICE,
            chain_id,
        };
        let clock = Clock::default();
        clock.offset_ms.store(offset, Ordering::SeqCst);
        clock.observe(params.genesis_ms);
        for (n, l) in replay.iter().enumerate() {
            let tx = BASE64
                .decode(&l.tx)
                .map_err(|_| anyhow::anyhow!("transaction {} of the log is not Base64", n + 1))?;
            engine
                .execute(&tx, &l.sigs, l.ts, Mode::Execute)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "replaying transaction {} of the log failed: {}",
                        n + 1,
                        e.message()
                    )
                })?;
            clock.observe(l.ts);
        }
        let log = match &config.state_dir {
            Some(dir) => Some(Mutex::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("txlog.jsonl"))?,
            )),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        info.rpc_url = format!("http://{addr}");
        info.graphql_url = format!("http://{addr}/graphql");
        let node = Arc::new(Node {
            engine: Mutex::new(engine),
            clock,
            chain_id,
            info: info.clone(),
            faults: Mutex::new(config.faults),
            read_lag: AtomicU64::new(config.read_lag),
            read_lag_interval_ms: AtomicU64::new(config.read_lag_interval_ms),
            log,
            state_dir: config.state_dir,
            #[cfg(feature = "conformance")]
            spec: config.spec,
            #[cfg(feature = "conformance")]
            violations: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/", post(jsonrpc))
            .route("/graphql", post(graphql))
            .route("/admin/clock", post(admin_clock))
            .route("/admin/faults", post(admin_faults));
        #[cfg(feature = "conformance")]
        let app = app.route("/admin/violations", axum::routing::get(admin_violations));
        let app = app.with_state(Arc::clone(&node));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "sandbox server failed");
            }
        });
        tracing::info!(%addr, chain_id = %node.chain_id, transactions = replay.len(), "sandbox chain serving");
        Ok(Sandbox {
            addr,
            info,
            node,
            task,
        })
    }
}

/// Applies a fault to a request, or lets it through.
async fn faulted(node: &Node, is_admin: bool) -> Option<Response> {
    if is_admin {
        return None;
    }
    let fault = node.faults.lock().expect("poisoned").draw();
    match fault {
        Fault::None => None,
        Fault::Latency(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::TooMany => {
            Some((StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response())
        }
        Fault::ServerError => {
            Some((StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response())
        }
        Fault::Timeout(d) => {
            tokio::time::sleep(d).await;
            Some((StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout").into_response())
        }
        Fault::Malformed => Some(
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"data\":[{\"truncat",
                ))
                .expect("static response"),
        ),
        Fault::Drop => Some(
            Response::builder()
                .header("content-type", "application/json")
                .header("content-length", "1000")
                .body(Body::from("{\"partial\":"))
                .expect("static response"),
        ),
    }
}

async fn jsonrpc(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    if let Some(r) = faulted(&node, false).await {
        return r;
    }
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return axum::Json(json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {e}")}})).into_response(),
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(Value::as_str).unwrap_or("");
    let params: Vec<Value> = match req.get("params") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => vec![],
        Some(_) => {
            return axum::Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": "Invalid params: params must be positional (an array)"}})).into_response();
        }
    };
    let node2 = Arc::clone(&node);
    let method2 = method.to_string();
    let out =
        tokio::task::spawn_blocking(move || crate::jsonrpc::dispatch(&node2, &method2, &params))
            .await
            .unwrap_or_else(|e| Err((-32603, format!("Internal error: {e}"))));
    let resp = match out {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, message)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    };
    #[cfg(feature = "conformance")]
    if let Some(spec) = &node.spec {
        let mut v = spec.check_jsonrpc_request(&req);
        v.extend(spec.check_jsonrpc_response(method, &resp));
        node.record_violations(&v);
    }
    axum::Json(resp).into_response()
}

async fn graphql(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    if let Some(r) = faulted(&node, false).await {
        return r;
    }
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    json!({"errors": [{"message": format!("request body is not JSON: {e}")}]}),
                ),
            )
                .into_response();
        }
    };
    let node2 = Arc::clone(&node);
    let req2 = req.clone();
    let out = tokio::task::spawn_blocking(move || crate::graphql::handle(&node2, &req2))
        .await
        .unwrap_or_else(
            |e| json!({"data": null, "errors": [{"message": format!("internal error: {e}")}]}),
        );
    #[cfg(feature = "conformance")]
    if let Some(spec) = &node.spec {
        let query = req.get("query").and_then(Value::as_str).unwrap_or("");
        let mut v = spec.check_graphql_request(query, req.get("variables").unwrap_or(&Value::Null));
        v.extend(spec.check_graphql_response_with_variables(
            query,
            req.get("variables").unwrap_or(&Value::Null),
            &out,
        ));
        node.record_violations(&v);
    }
    axum::Json(out).into_response()
}

/// The spec violations seen so far, as a JSON list of strings (with a spec configured:
/// `daas-sandbox chain --check-spec DIR`).
#[cfg(feature = "conformance")]
async fn admin_violations(State(node): State<Arc<Node>>) -> Response {
    axum::Json(node.violations.lock().expect("poisoned").clone()).into_response()
}

async fn admin_clock(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(ms) = v.get("advance_ms").and_then(Value::as_u64) {
        node.advance_clock(ms);
    } else if let Some(ms) = v.get("set_ms").and_then(Value::as_u64) {
        let now = node.clock.now();
        if ms < now {
            return (
                StatusCode::BAD_REQUEST,
                format!("set_ms {ms} is before now ({now}): the clock never goes back"),
            )
                .into_response();
        }
        node.advance_clock(ms - now);
    } else {
        return (
            StatusCode::BAD_REQUEST,
            "expected {\"advance_ms\": N} or {\"set_ms\": N}",
        )
            .into_response();
    }
    axum::Json(json!({"now_ms": node.clock.now()})).into_response()
}

async fn admin_faults(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let usage = "expected {\"spec\": \"429:0.1,5xx:0.05,...\"}, {\"read_lag\": N} and/or {\"read_lag_interval_ms\": MS}";
    let spec = match v.get("spec") {
        None => None,
        Some(Value::String(s)) => match s.parse::<Faults>() {
            Ok(f) => Some((s.clone(), f)),
            Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
        },
        Some(_) => return (StatusCode::BAD_REQUEST, usage).into_response(),
    };
    let number = |key: &str, example: &str| match v.get(key) {
        None => Ok(None),
        Some(l) => l
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be a number, e.g. {{\"{key}\": {example}}}")),
    };
    let lag = match number("read_lag", "2") {
        Ok(n) => n,
        Err(m) => return (StatusCode::BAD_REQUEST, m).into_response(),
    };
    let interval = match number("read_lag_interval_ms", "250") {
        Ok(n) => n,
        Err(m) => return (StatusCode::BAD_REQUEST, m).into_response(),
    };
    if spec.is_none() && lag.is_none() && interval.is_none() {
        return (StatusCode::BAD_REQUEST, usage).into_response();
    }
    if let Some(n) = interval {
        node.read_lag_interval_ms.store(n, Ordering::SeqCst);
    }
    if let Some((_, f)) = &spec {
        *node.faults.lock().expect("poisoned") = f.clone();
    }
    if let Some(n) = lag {
        node.read_lag.store(n, Ordering::SeqCst);
    }
    axum::Json(json!({
        "faults": spec.map(|(s, _)| s),
        "read_lag": node.read_lag.load(Ordering::SeqCst),
        "read_lag_interval_ms": node.read_lag_interval_ms.load(Ordering::SeqCst),
    }))
    .into_response()
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Default timeout fault duration.
pub const TIMEOUT_FAULT: Duration = Duration::from_secs(35);
