//! A hostile JSON-RPC endpoint in front of the sandbox chain: it forwards every
//! request and, as told, rewrites the Worker objects of one node_id in the answers
//! (their BCS, which is what the clients decode), or answers garbage. What an RPC node
//! run by an attacker can do — it holds no key the device trusts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use daas_protocol::envelope::{self, EnvelopeContext, JoinSecret};
use daas_protocol::onchain::Worker;
use daas_protocol::{ChainId, EnvelopeKey, NodeId, SealToken};
use serde_json::Value;

/// What the proxy does to the answers.
#[derive(Clone)]
pub enum Mode {
    /// Forward unchanged.
    Pass,
    /// `node_id`'s Worker carries an envelope sealed to the device's own sealing key
    /// (read off its seal token) with `secret`, but signed by `key`, which no root
    /// certified; status TokenIssued, version `token_version`.
    Forge {
        node_id: String,
        key: Arc<EnvelopeKey>,
        chain_id: ChainId,
        secret: JoinSecret,
        token_version: u64,
    },
    /// `node_id`'s Worker carries `envelope` and `token_version`.
    Envelope {
        node_id: String,
        envelope: Vec<u8>,
        token_version: u64,
    },
    /// `node_id`'s Worker reads with `status`.
    Status { node_id: String, status: u8 },
    /// Every answer is a truncated JSON body.
    Malformed,
    /// Every answer is a valid JSON-RPC body of this many bytes.
    Oversized(usize),
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    mode: Mutex<Mode>,
    rewritten: AtomicU64,
    requests: AtomicU64,
    /// The last answer it failed to rewrite, and why.
    error: Mutex<Option<String>>,
    /// Requests per JSON-RPC method.
    methods: Mutex<std::collections::BTreeMap<String, u64>>,
}

/// The running proxy.
pub struct Proxy {
    /// Its JSON-RPC URL.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port, forwarding to `upstream` (a JSON-RPC URL).
    pub async fn start(upstream: &str) -> anyhow::Result<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            http: reqwest::Client::new(),
            mode: Mutex::new(Mode::Pass),
            rewritten: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            error: Mutex::new(None),
            methods: Mutex::default(),
        });
        let app = axum::Router::new()
            .route("/", axum::routing::post(handle))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Proxy {
            url: format!("http://{addr}/"),
            shared,
            task,
        })
    }

    /// Changes what it does from the next request on.
    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().expect("poisoned") = mode;
    }

    /// Answers it altered so far.
    pub fn rewritten(&self) -> u64 {
        self.shared.rewritten.load(Ordering::Relaxed)
    }

    /// The last answer it could not rewrite, and why.
    pub fn error(&self) -> Option<String> {
        self.shared.error.lock().expect("poisoned").clone()
    }

    /// Requests per JSON-RPC method so far.
    pub fn methods(&self) -> String {
        format!("{:?}", self.shared.methods.lock().expect("poisoned"))
    }

    /// Requests it received so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        let m = v["method"]
            .as_str()
            .unwrap_or("(batch or none)")
            .to_string();
        *s.methods.lock().expect("poisoned").entry(m).or_default() += 1;
    }
    let mode = s.mode.lock().expect("poisoned").clone();
    match mode {
        Mode::Malformed => {
            return (
                [("content-type", "application/json")],
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"data\":",
            )
                .into_response();
        }
        Mode::Oversized(n) => {
            let mut big = String::with_capacity(n + 64);
            big.push_str("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"");
            big.extend(std::iter::repeat_n('A', n));
            big.push_str("\"}");
            return ([("content-type", "application/json")], big).into_response();
        }
        _ => {}
    }
    let upstream = s
        .http
        .post(&s.upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let (status, bytes) = match upstream {
        Ok(r) => (r.status(), r.bytes().await.unwrap_or_default()),
        Err(e) => {
            return (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response();
        }
    };
    let status = axum::http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
    if matches!(mode, Mode::Pass) {
        return (status, [("content-type", "application/json")], bytes).into_response();
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return (status, bytes).into_response();
    };
    let mut changed = 0;
    visit_objects(&mut v, &mut |data| match rewrite(data, &mode) {
        Ok(true) => changed += 1,
        Ok(false) => {}
        Err(e) => *s.error.lock().expect("poisoned") = Some(format!("{e:#}")),
    });
    if changed > 0 {
        s.rewritten.fetch_add(changed, Ordering::Relaxed);
    }
    (
        status,
        [("content-type", "application/json")],
        serde_json::to_vec(&v).unwrap_or_default(),
    )
        .into_response()
}

/// Calls `f` on every object (`{"objectId", "bcs": …}`) in a JSON-RPC answer (or a
/// batch of them): `sui_getObject`, `sui_multiGetObjects`, `suix_getDynamicFieldObject`.
fn visit_objects(v: &mut Value, f: &mut impl FnMut(&mut Value)) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| visit_objects(x, f)),
        Value::Object(m) => {
            if m.contains_key("objectId") && m.contains_key("bcs") {
                f(v);
            } else {
                m.values_mut().for_each(|x| visit_objects(x, f));
            }
        }
        _ => {}
    }
}

/// Rewrites one object if it is the targeted Worker; whether it did.
fn rewrite(data: &mut Value, mode: &Mode) -> anyhow::Result<bool> {
    let ty = data["type"].as_str().unwrap_or_default();
    if !ty.ends_with("::worker_registry::Worker") {
        return Ok(false);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64.decode(data["bcs"]["bcsBytes"].as_str().context("bcsBytes")?)?;
    let mut w: Worker = bcs::from_bytes(&raw)?;
    let target = match mode {
        Mode::Forge { node_id, .. }
        | Mode::Envelope { node_id, .. }
        | Mode::Status { node_id, .. } => node_id,
        _ => return Ok(false),
    };
    if w.node_id != *target {
        return Ok(false);
    }
    match mode {
        Mode::Forge {
            key,
            chain_id,
            secret,
            token_version,
            ..
        } => {
            let token = SealToken::from_bytes(&w.seal_token)?;
            let ctx = EnvelopeContext {
                chain_id: *chain_id,
                registry_id: w.registry_id,
                worker_id: w.id,
                node_id: w.node_id.parse::<NodeId>()?,
            };
            let expires = daas_master::service::now_ms() + 3_600_000;
            w.join_envelope =
                envelope::seal(&ctx, key, token.sealing(), *token_version, expires, secret)?;
            w.token_version = *token_version;
            w.status = 1;
        }
        Mode::Envelope {
            envelope,
            token_version,
            ..
        } => {
            w.join_envelope = envelope.clone();
            w.token_version = *token_version;
        }
        Mode::Status { status, .. } => w.status = *status,
        _ => {}
    }
    data["bcs"]["bcsBytes"] = Value::String(b64.encode(bcs::to_bytes(&w)?));
    Ok(true)
}
