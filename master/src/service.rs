//! The service: start-up checks, then three tasks until shutdown — the driver
//! (events, reconcile, decisions, minting, activation, revocation, intents), the
//! submitter (the one transaction in flight for this MasterCap), and the HTTP server.
//!
//! **Leadership.** [`RunOptions::leader`] is a `watch` channel: while it says `false`
//! the master follows events and reconciles (its database stays warm) but neither
//! decides, mints, submits, activates nor revokes; when it turns `true` every
//! unfinished worker is marked for a fresh read, so a new leader rebuilds its work from
//! the chain and the cluster. With `[ha]` the channel is driven by the Lease election
//! ([`crate::lease`]); without it, it is constantly `true`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use daas_protocol::chain::{AnyChain, Chain, ChainError, Quorum, RegistryReader};
use daas_protocol::envkey_cert::EnvelopeKeyCert;
use daas_protocol::keys::{KeyError, NodePasswordKey, ensure_distinct};
use daas_protocol::onchain::{self, Cap, WorkerRegistry};
use daas_protocol::sui::SuiKeyError;
use daas_protocol::tx::{RegistryCalls, SharedRef};
use daas_protocol::{ChainId, EnvelopeKey, KeyRole, ObjectId, SuiKeypair};
use thiserror::Error;
use tokio::sync::{Notify, watch};

use crate::config::MasterConfig;
use crate::crash::CrashPoints;
use crate::db::{Binding, Db, DbError};
use crate::k8s::{Cluster, K8sError};
use crate::metrics::Metrics;

/// Why the service stopped or could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A key file cannot be used.
    #[error("{field}: {source}")]
    Key {
        /// The config field naming the file.
        field: &'static str,
        /// Why.
        source: KeyError,
    },
    /// The Sui account key cannot be used.
    #[error("master.sui_key: {0}")]
    SuiKey(#[from] SuiKeyError),
    /// The chain cannot be used.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// The chain holds something that does not fit the config.
    #[error("{field}: {message}")]
    Deployment {
        /// The config field.
        field: &'static str,
        /// What is wrong and the fix.
        message: String,
    },
    /// The cluster cannot be used.
    #[error("{0}")]
    Kubernetes(#[from] K8sError),
    /// The state database cannot be used.
    #[error("{0}")]
    Db(#[from] DbError),
    /// The HTTP listener cannot be bound.
    #[error("http.listen {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// What a test or an HA wrapper adds to [`run`].
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Test-only crash points (`DAAS_MASTER_CRASH_AT`).
    pub crash: CrashPoints,
    /// Leadership (issue 11); `None` = always the leader.
    pub leader: Option<watch::Receiver<bool>>,
}

/// Health of the parts `/readyz` reports.
#[derive(Debug, Default)]
pub struct Health {
    /// The last chain request succeeded.
    pub chain: AtomicBool,
    /// The last Kubernetes request succeeded.
    pub kubernetes: AtomicBool,
    /// Events are read up to the chain's head and a reconcile has run.
    pub caught_up: AtomicBool,
    /// The MasterCap is valid (not revoked).
    pub cap_valid: AtomicBool,
    /// The last problem, for `/readyz`.
    pub last_error: std::sync::Mutex<Option<String>>,
}

impl Health {
    pub(crate) fn error(&self, e: impl std::fmt::Display) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }
}

/// Everything the tasks share.
pub struct Ctx {
    /// The config.
    pub cfg: MasterConfig,
    /// The state database.
    pub db: Db,
    /// The chain client (all endpoints, failing over).
    pub chain: AnyChain,
    /// One client per endpoint, for reads that decide something.
    pub quorum: Quorum<AnyChain>,
    /// The cluster.
    pub cluster: Cluster,
    /// The envelope key.
    pub envelope_key: EnvelopeKey,
    /// The node-password key.
    pub nodepw_key: NodePasswordKey,
    /// The Sui account.
    pub sui: SuiKeypair,
    /// Calls into the registry.
    pub calls: RegistryCalls,
    /// The pinned chain.
    pub chain_id: ChainId,
    /// The registry's `workers` table (its UID).
    pub workers_table: ObjectId,
    /// The registry's longest envelope lifetime.
    pub max_envelope_ttl_ms: u64,
    /// Metrics.
    pub metrics: Metrics,
    /// Health.
    pub health: Health,
    /// Crash points (tests).
    pub crash: CrashPoints,
    /// Leadership.
    pub leader: watch::Receiver<bool>,
    /// Wakes the submitter (calls queued).
    pub wake_submitter: Notify,
    /// Wakes the driver (a batch settled).
    pub wake_driver: Notify,
    /// Set once shutdown began.
    pub stopping: AtomicBool,
}

impl Ctx {
    /// Whether this master acts now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Whether shutdown began.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// This host's name (for the default `[ha]` identity), from the kernel.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs the master until `shutdown` completes.
pub async fn run(
    config: MasterConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    run_with(config, RunOptions::default(), shutdown).await
}

fn key_err(field: &'static str) -> impl FnOnce(KeyError) -> ServiceError {
    move |source| ServiceError::Key { field, source }
}

/// Start-up: keys, chain, registry, cap, cluster, database — each refused with the
/// field to fix.
async fn start(config: MasterConfig, options: RunOptions) -> Result<Arc<Ctx>, ServiceError> {
    let m = &config.master;
    let sui = crate::chain::load_sui_key(&m.sui_key, m.sui_address.as_ref())?;
    let envelope_key =
        EnvelopeKey::load(&m.envelope_key).map_err(key_err("master.envelope_key"))?;
    let nodepw_key =
        NodePasswordKey::load(&m.node_password_key).map_err(key_err("master.node_password_key"))?;
    ensure_distinct(&[
        (KeyRole::Envelope, &envelope_key.secret_bytes()),
        (KeyRole::NodePassword, &nodepw_key.secret_bytes()),
    ])
    .map_err(key_err("master"))?;

    let chain = crate::chain::connect(&config.chain)?;
    chain.verify_chain().await?;
    let quorum = chain.quorum(&config.chain)?;
    let reader = RegistryReader::new(&chain, config.chain.package_id, config.chain.registry_id);
    let (reg_info, registry) = reader.registry().await?;
    check_envelope_cert(&registry, &envelope_key)?;
    if config.kubernetes.token_ttl_ms() > registry.max_envelope_ttl_ms {
        return Err(ServiceError::Deployment {
            field: "kubernetes.token_ttl_s",
            message: format!(
                "{} s is longer than the registry's max_envelope_ttl_ms ({} ms): set it at most {}",
                config.kubernetes.token_ttl_s,
                registry.max_envelope_ttl_ms,
                registry.max_envelope_ttl_ms / 1000
            ),
        });
    }
    check_cap(&chain, &config, &registry, &sui).await?;
    let registry_ref = reg_info
        .shared_ref()
        .ok_or_else(|| ServiceError::Deployment {
            field: "chain.registry_id",
            message: "the registry is not a shared object".into(),
        })?;

    let cluster =
        Cluster::connect(&config.kubernetes.kubeconfig, &config.kubernetes.server_url).await?;
    cluster.ensure_deny_policy().await?;

    let db = Db::open(
        &m.state_db,
        &Binding {
            chain_id: config.chain.chain_id.to_string(),
            registry_id: config.chain.registry_id,
            transport: format!("{:?}", config.chain.transport).to_lowercase(),
        },
    )?;
    let leader = options.leader.unwrap_or_else(|| {
        let (tx, rx) = watch::channel(true);
        // Nobody ever changes it: leak the sender so the receiver never sees a close.
        std::mem::forget(tx);
        rx
    });
    let health = Health {
        cap_valid: AtomicBool::new(true),
        chain: AtomicBool::new(true),
        kubernetes: AtomicBool::new(true),
        ..Health::default()
    };
    tracing::info!(
        account = %sui.address(),
        registry = %config.chain.registry_id,
        workers = registry.total_workers,
        ca_hash = %hex::encode(cluster.ca_hash()),
        "daas-master started"
    );
    Ok(Arc::new(Ctx {
        calls: RegistryCalls {
            package: config.chain.package_id,
            registry: SharedRef {
                id: registry_ref.id,
                initial_shared_version: registry_ref.initial_shared_version,
            },
        },
        chain_id: config.chain.chain_id,
        workers_table: registry.workers.id,
        max_envelope_ttl_ms: registry.max_envelope_ttl_ms,
        cfg: config,
        db,
        chain,
        quorum,
        cluster,
        envelope_key,
        nodepw_key,
        sui,
        metrics: Metrics::new(),
        health,
        crash: options.crash,
        leader,
        wake_submitter: Notify::new(),
        wake_driver: Notify::new(),
        stopping: AtomicBool::new(false),
    }))
}

/// The registry's envelope-key certificate must certify this master's envelope key,
/// or every agent would refuse its envelopes.
fn check_envelope_cert(registry: &WorkerRegistry, key: &EnvelopeKey) -> Result<(), ServiceError> {
    let err = |message: String| ServiceError::Deployment {
        field: "master.envelope_key",
        message,
    };
    if registry.envelope_key_cert.is_empty() {
        return Err(err(
            "the registry has no envelope-key certificate: the operator sets one with `daas-master admin set-envelope-cert`".into(),
        ));
    }
    let cert = EnvelopeKeyCert::from_bytes(&registry.envelope_key_cert)
        .map_err(|e| err(format!("the registry's certificate does not parse: {e}")))?;
    if cert.envelope_key != key.public() {
        return Err(err(format!(
            "the registry certifies envelope key {} (serial {}), but this key is {}: agents would refuse its envelopes",
            cert.envelope_key,
            cert.serial,
            key.public()
        )));
    }
    Ok(())
}

/// The MasterCap exists, is owned by this account, belongs to this registry and is in
/// its valid set.
async fn check_cap(
    chain: &AnyChain,
    config: &MasterConfig,
    registry: &WorkerRegistry,
    sui: &SuiKeypair,
) -> Result<(), ServiceError> {
    let id = config.master.master_cap_id;
    let err = |message: String| ServiceError::Deployment {
        field: "master.master_cap_id",
        message,
    };
    let info = chain
        .object(id)
        .await?
        .ok_or_else(|| err(format!("object {id} does not exist on this chain")))?;
    if onchain::struct_name_in(&info.type_, &config.chain.package_id) != Some("MasterCap") {
        return Err(err(format!(
            "object {id} is a {}, not a MasterCap",
            info.type_
        )));
    }
    if info.owner != daas_protocol::chain::Owner::Address(sui.address()) {
        return Err(err(format!(
            "MasterCap {id} is not owned by this master's account {} (owner {:?}): check master.sui_key",
            sui.address(),
            info.owner
        )));
    }
    let cap: Cap = info.decode("MasterCap")?;
    if cap.registry_id != config.chain.registry_id {
        return Err(err(format!(
            "MasterCap {id} belongs to registry {}, not {}",
            cap.registry_id, config.chain.registry_id
        )));
    }
    if !registry.master_caps.contents.contains(&id) {
        return Err(err(format!(
            "MasterCap {id} was revoked from the registry: ask the operator for a new one"
        )));
    }
    Ok(())
}

/// Runs the master with test or HA options until `shutdown` completes.
pub async fn run_with(
    config: MasterConfig,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let listen = config.http.listen;
    let mut options = options;
    let elector_tx = match (&config.ha, &options.leader) {
        (Some(_), None) => {
            let (tx, rx) = watch::channel(false);
            options.leader = Some(rx);
            Some(tx)
        }
        _ => None,
    };
    let ctx = start(config, options).await?;
    let (elect_stop_tx, elect_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let elector = match (&ctx.cfg.ha, elector_tx) {
        (Some(ha), Some(tx)) => {
            let (ns, name) = ha.lease_ref();
            let settings = crate::lease::LeaseSettings {
                namespace: ns.into(),
                name: name.into(),
                identity: ha
                    .identity
                    .clone()
                    .unwrap_or_else(|| format!("{}/{}", hostname(), ctx.sui.address())),
                lease_duration: Duration::from_secs(ha.lease_duration_s),
                renew_deadline: Duration::from_secs(ha.renew_deadline_s),
                retry_period: Duration::from_millis(ha.retry_period_ms),
            };
            tracing::info!(lease = %ha.lease, identity = %settings.identity, "standby until the lease is ours");
            let e = crate::lease::Elector::new(ctx.cluster.leases(ns), settings);
            Some(tokio::spawn(e.run(
                tx,
                async move {
                    let _ = elect_stop_rx.await;
                },
                async move {
                    let _ = drained_rx.await;
                },
            )))
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServiceError::Listen {
            addr: listen,
            source,
        })?;
    tracing::info!(listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "serving /healthz /readyz /metrics /api/workers");
    let (stop_tx, stop_rx) = watch::channel(false);
    let http = tokio::spawn(crate::http::serve(
        listener,
        Arc::clone(&ctx),
        stop_rx.clone(),
    ));
    let submitter = tokio::spawn(crate::submit::run(Arc::clone(&ctx), stop_rx.clone()));
    let driver = tokio::spawn(crate::pipeline::run(Arc::clone(&ctx), stop_rx));
    shutdown.await;
    tracing::info!("shutting down: finishing the transaction in flight");
    ctx.stopping.store(true, Ordering::SeqCst);
    // The elector stops acting now and releases the Lease once the work in flight
    // is done (below), so a standby takes over at its next look.
    let _ = elect_stop_tx.send(());
    let _ = stop_tx.send(true);
    ctx.wake_submitter.notify_one();
    ctx.wake_driver.notify_one();
    let drain = ctx.cfg.pipeline.drain_timeout();
    let _ = tokio::time::timeout(Duration::from_secs(5), driver).await;
    if tokio::time::timeout(drain, submitter).await.is_err() {
        tracing::warn!(
            "the transaction in flight did not finish within {drain:?}: its stored bytes are resubmitted at the next start"
        );
    }
    let _ = drained_tx.send(());
    if let Some(e) = elector {
        let _ = tokio::time::timeout(Duration::from_secs(5), e).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), http).await;
    tracing::info!("stopped");
    Ok(())
}

/// `daas-master rotate`: records the intent in the state database of `config`; the
/// running service picks it up. Returns the intent id.
pub fn request_rotation(config: &MasterConfig, node_id: &str) -> Result<i64, ServiceError> {
    let db = Db::open(
        &config.master.state_db,
        &Binding {
            chain_id: config.chain.chain_id.to_string(),
            registry_id: config.chain.registry_id,
            transport: format!("{:?}", config.chain.transport).to_lowercase(),
        },
    )?;
    Ok(db.add_intent("rotate", node_id, now_ms())?)
}

/// Waits (polling the database) until intent `id` is done; its result, or `None` at
/// the deadline.
pub async fn wait_intent(
    config: &MasterConfig,
    id: i64,
    timeout: Duration,
) -> Result<Option<String>, ServiceError> {
    let db = Db::open(
        &config.master.state_db,
        &Binding {
            chain_id: config.chain.chain_id.to_string(),
            registry_id: config.chain.registry_id,
            transport: format!("{:?}", config.chain.transport).to_lowercase(),
        },
    )?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(i) = db.intent(id)?
            && i.done_ms.is_some()
        {
            return Ok(i.result);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
