//! `daas-k3s server`: one HTTPS listener (as k3s's port 6443 serves both the supervisor and
//! the apiserver), the files k3s writes under its data dir, the controllers, and shutdown.
//!
//! Files (modes as k3s sets them): `server/tls/*` (keys 0600, see [`super::pki`]),
//! `server/cred/passwd` (0600: `<pw>,node,node,k3s:agent` and `<pw>,server,server,k3s:server`,
//! as `deps.genUsers` writes), `server/token` (0600, `K10<hashCA>::server:<pw>`),
//! `server/node-token` and `server/agent-token` (symlinks to `token`, as k3s makes them
//! when no separate agent token is set), the admin kubeconfig (0600, k3s.yaml shape),
//! `server/db/` (the object store, 0600), and `server/port` (the stand-in's own: the port
//! chosen for `--https-listen-port 0`).

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::api;
use super::auth::{Authenticator, Authn};
use super::join;
use super::objects::{Store, StoreError};
use super::pki::{Pki, PkiError, write_file};
use super::resources::NAMESPACES;
use super::status::ApiError;

/// How to run the server. Fields default as `k3s server` does where k3s has the setting.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `--data-dir`: state lives in `<data_dir>/server`.
    pub data_dir: PathBuf,
    /// `--bind-address` (default 127.0.0.1).
    pub bind_address: IpAddr,
    /// `--https-listen-port` (default 6443; 0 picks one).
    pub https_listen_port: u16,
    /// `--write-kubeconfig` (default `<data_dir>/server/cred/admin.kubeconfig`).
    pub write_kubeconfig: Option<PathBuf>,
    /// `--tls-san`: extra host names or IP addresses on the serving certificate, beside
    /// k3s's own (127.0.0.1, localhost, the `kubernetes…` names, the bind address), as
    /// k3s adds them (`pkg/cli/cmds/server.go` `tls-san`; `pkg/daemons/control/deps/deps.go`
    /// `genServerCerts`). What agents behind a NAT join through: a VM guest's gateway.
    pub tls_san: Vec<String>,
    /// kube-controller-manager's `--node-monitor-grace-period` (default 40 s).
    pub node_monitor_grace: Duration,
    /// How often a watch with `allowWatchBookmarks` gets a BOOKMARK (apiserver: ~1 min).
    pub bookmark_interval: Duration,
    /// Age after which a node-password Secret without a Node is deleted (k3s: 10 min).
    pub orphan_secret_age: Duration,
    /// How long shutdown waits for open requests (watches are ended at once).
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// k3s's defaults for `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            https_listen_port: 6443,
            write_kubeconfig: None,
            tls_san: Vec::new(),
            node_monitor_grace: Duration::from_secs(40),
            bookmark_interval: Duration::from_secs(60),
            orphan_secret_age: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Certificates.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The object store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored file has the wrong content.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The listener.
    #[error(
        "cannot listen on {addr}: {source}: pick another --https-listen-port or --bind-address"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS setup.
    #[error("tls: {0}")]
    Tls(String),
}

fn io(path: &Path, source: std::io::Error) -> ServerError {
    ServerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What the request handlers share.
pub struct Shared {
    /// Objects.
    pub store: Mutex<Store>,
    /// Bumped after every write (watches wait on it).
    pub rv_tx: watch::Sender<u64>,
    /// Certificates.
    pub pki: Pki,
    /// Authenticators.
    pub authn: Authenticator,
    /// The configuration.
    pub config: ServerConfig,
    /// Becomes `true` at shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// The address clients are told to use (`/v1-k3s/apiservers`).
    pub advertise: SocketAddr,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("advertise", &self.advertise)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Wakes watches after a write.
    pub fn notify(&self) {
        let rv = self.store.lock().expect("poisoned").rv;
        self.rv_tx.send_replace(rv);
    }
}

/// A running server.
pub struct K3sServer {
    /// `https://<addr>:<port>`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The admin kubeconfig written.
    pub kubeconfig: PathBuf,
    /// `server/token`.
    pub token_file: PathBuf,
    /// The server CA PEM (what `/cacerts` serves).
    pub ca_pem: String,
    /// The server token, `K10<hash>::server:<pw>` (a secret: never log it).
    pub token: String,
    /// Shared state (tests use it to reach the store).
    pub shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for K3sServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K3sServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl K3sServer {
    /// Waits until the server has stopped (after `shutdown` resolved).
    pub async fn wait(self) -> Result<(), tokio::task::JoinError> {
        self.task.await
    }

    /// Starts the server; it runs until `shutdown` resolves.
    pub async fn start(
        config: ServerConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Self, ServerError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server_dir = config.data_dir.join("server");
        for d in [&config.data_dir, &server_dir, &server_dir.join("cred")] {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        set_mode(&server_dir, 0o700)?;
        set_mode(&server_dir.join("cred"), 0o700)?;
        let listen = SocketAddr::new(config.bind_address, config.https_listen_port);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
        let host_ip = if config.bind_address.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            config.bind_address
        };
        let advertise = SocketAddr::new(host_ip, addr.port());
        let mut sans = vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
            "kubernetes.default.svc.cluster.local".to_owned(),
        ];
        if !config.bind_address.is_unspecified() {
            sans.push(config.bind_address.to_string());
        }
        sans.extend(config.tls_san.iter().cloned());
        sans.sort();
        sans.dedup();
        let pki = Pki::load_or_create(&server_dir.join("tls"), &sans)?;
        let (node_pw, server_pw) = passwd(&server_dir.join("cred").join("passwd"))?;
        let token = super::token::format_token(
            &format!("server:{server_pw}"),
            pki.server_ca.pem.as_bytes(),
        )
        .map_err(|e| ServerError::Tls(e.to_string()))?;
        let token_file = server_dir.join("token");
        write_file(&token_file, format!("{token}\n").as_bytes(), 0o600)
            .map_err(|e| io(&token_file, e))?;
        for link in ["node-token", "agent-token"] {
            let p = server_dir.join(link);
            let _ = std::fs::remove_file(&p);
            std::os::unix::fs::symlink("token", &p).map_err(|e| io(&p, e))?;
        }
        let url = format!("https://{}", url_host(advertise));
        let kubeconfig = config
            .write_kubeconfig
            .clone()
            .unwrap_or_else(|| server_dir.join("cred").join("admin.kubeconfig"));
        if let Some(parent) = kubeconfig.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        write_file(&kubeconfig, kubeconfig_yaml(&url, &pki).as_bytes(), 0o600)
            .map_err(|e| io(&kubeconfig, e))?;
        let port_file = server_dir.join("port");
        write_file(&port_file, format!("{}\n", addr.port()).as_bytes(), 0o644)
            .map_err(|e| io(&port_file, e))?;

        let mut store = Store::open(&server_dir.join("db"))?;
        for ns in api::SYSTEM_NAMESPACES {
            let key = (NAMESPACES, String::new(), ns.to_owned());
            if store.get(&key).is_none() {
                store.put(
                    key,
                    json!({
                        "apiVersion": "v1", "kind": "Namespace",
                        "metadata": { "name": ns, "uid": api::new_uid(), "creationTimestamp": api::now_rfc3339(),
                                      "labels": { "kubernetes.io/metadata.name": ns } },
                        "spec": { "finalizers": ["kubernetes"] },
                        "status": { "phase": "Active" },
                    }),
                );
            }
        }
        let authn =
            Authenticator::new(&pki.client_ca.der, node_pw, server_pw).map_err(ServerError::Tls)?;
        let tls = tls_config(&pki, &authn)?;
        let (rv_tx, _) = watch::channel(store.rv);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let ca_pem = pki.server_ca.pem.clone();
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            rv_tx,
            pki,
            authn,
            config: config.clone(),
            shutdown: shutdown_rx,
            advertise,
        });
        tokio::spawn(super::controllers::run(shared.clone()));
        let task = tokio::spawn(serve(listener, tls, shared.clone(), shutdown, shutdown_tx));
        tracing::info!(%url, kubeconfig = %kubeconfig.display(), "daas-k3s server listening");
        Ok(Self {
            url,
            addr,
            kubeconfig,
            token_file,
            ca_pem,
            token,
            shared,
            task,
        })
    }
}

fn url_host(a: SocketAddr) -> String {
    match a.ip() {
        IpAddr::V6(ip) => format!("[{ip}]:{}", a.port()),
        IpAddr::V4(ip) => format!("{ip}:{}", a.port()),
    }
}

fn set_mode(p: &Path, mode: u32) -> Result<(), ServerError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(|e| io(p, e))
}

/// Reads or creates `server/cred/passwd`; returns (node password, server password).
fn passwd(path: &Path) -> Result<(String, String), ServerError> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let mut node = None;
            let mut server = None;
            for line in s.lines() {
                let f: Vec<&str> = line.split(',').collect();
                if f.len() >= 3 {
                    match f[1] {
                        "node" => node = Some(f[0].to_owned()),
                        "server" => server = Some(f[0].to_owned()),
                        _ => {}
                    }
                }
            }
            match (node, server) {
                (Some(n), Some(s)) if !n.is_empty() && !s.is_empty() => Ok((n, s)),
                _ => Err(ServerError::Invalid {
                    path: path.to_owned(),
                    message: "expected lines `<pw>,node,node,k3s:agent` and `<pw>,server,server,k3s:server`: fix or delete it (agents must then get the new token)".into(),
                }),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = [0u8; 16];
            getrandom::fill(&mut b).expect("the operating system provides random bytes");
            let pw = hex::encode(b);
            let content = format!("{pw},node,node,k3s:agent\n{pw},server,server,k3s:server\n");
            write_file(path, content.as_bytes(), 0o600).map_err(|e| io(path, e))?;
            Ok((pw.clone(), pw))
        }
        Err(e) => Err(io(path, e)),
    }
}

/// The admin kubeconfig in k3s.yaml's shape (`pkg/cli/server` writes it from
/// `deps.KubeConfig` with embedded data): cluster, context and user all `default`.
fn kubeconfig_yaml(url: &str, pki: &Pki) -> String {
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {url}\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {{}}\nusers:\n- name: default\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = BASE64.encode(&pki.server_ca.pem),
        cert = BASE64.encode(format!("{}{}", pki.admin.cert_pem, pki.client_ca.pem)),
        key = BASE64.encode(&pki.admin.key_pem),
    )
}

fn tls_config(pki: &Pki, authn: &Authenticator) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.serving.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| ServerError::Tls(format!("serving certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(pki.serving.key_pem.as_bytes())
        .map_err(|e| ServerError::Tls(format!("serving key: {e}")))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ServerError::Tls(e.to_string()))?
    .with_client_cert_verifier(authn.tls_verifier())
    .with_single_cert(certs, key)
    .map_err(|e| ServerError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

use rustls::pki_types::pem::PemObject as _;

async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    shutdown_tx: watch::Sender<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let shared = shared.clone();
                let mut stop = shared.shutdown.clone();
                conns.spawn(async move {
                    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake error");
                            return;
                        }
                        Err(_) => return,
                    };
                    let certs: Option<Arc<Vec<CertificateDer<'static>>>> =
                        tls.get_ref().1.peer_certificates().map(|c| Arc::new(c.to_vec()));
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        let certs = certs.clone();
                        async move { Ok::<_, Infallible>(route(shared, certs, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let grace = shared.config.shutdown_grace;
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

/// The response body type: whole bodies and watch streams.
pub type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn full(b: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(b.into()).boxed()
}

/// A JSON response.
pub fn json_response(code: u16, v: &Value) -> http::Response<Body> {
    http::Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("cache-control", "no-cache, private")
        .body(full(serde_json::to_vec(v).expect("serializes")))
        .expect("valid response")
}

/// A `Status` error response.
pub fn status_response(e: &ApiError) -> http::Response<Body> {
    json_response(e.code, &e.to_status())
}

/// A text/plain response.
pub fn text_response(code: u16, body: Vec<u8>) -> http::Response<Body> {
    http::Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(full(body))
        .expect("valid response")
}

/// A streamed (watch) response: newline-delimited JSON events.
pub fn stream_response(rx: tokio::sync::mpsc::Receiver<Bytes>) -> http::Response<Body> {
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("cache-control", "no-cache, private")
        .body(ChannelBody(rx).boxed())
        .expect("valid response")
}

/// Request bodies larger than this are refused (the apiserver's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

async fn route(
    shared: Arc<Shared>,
    certs: Option<Arc<Vec<CertificateDer<'static>>>>,
    req: http::Request<Incoming>,
) -> http::Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = api::parse_query(parts.uri.query());
    let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return status_response(&ApiError {
                code: 413,
                reason: "RequestEntityTooLarge",
                message: "Request entity too large: limit is 3145728".into(),
                details: None,
            });
        }
    };
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let supervisor = join::is_supervisor_path(&path);
    let now = jiff::Timestamp::now().as_second();
    let authn = if path == "/cacerts" || path == "/ping" {
        Authn::Anonymous
    } else {
        let store = shared.store.lock().expect("poisoned");
        shared.authn.authenticate(
            certs.as_deref().map(Vec::as_slice),
            authorization.as_deref(),
            supervisor,
            &store,
            now,
        )
    };
    if supervisor {
        return join::handle(&shared, authn, &parts.method, &path, &parts.headers, body).await;
    }
    let user = match authn {
        Authn::User(u) => u,
        Authn::Failed(why) => {
            tracing::info!(%path, error = %why, "unable to authenticate the request");
            return status_response(&ApiError::unauthorized("Unauthorized"));
        }
        Authn::Anonymous => return status_response(&ApiError::unauthorized("Unauthorized")),
    };
    api::handle(
        &shared,
        &user,
        &parts.method,
        &path,
        &query,
        &parts.headers,
        body,
    )
    .await
}
