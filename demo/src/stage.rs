//! The stage: the sandbox chain and the k3s stand-in in this process (loopback, free
//! ports), the master's keys and config in a private temporary directory, the real
//! master as a child process, and stakers registering devices through the real
//! transaction path.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use daas_protocol::chain::{AnyChain, Chain, EventCursor, Submitter};
use daas_protocol::config::{ChainConfig, TransportKind};
use daas_protocol::envelope::{self, EnvelopeContext, OpenPolicy, OpenedEnvelope};
use daas_protocol::keys::NodePasswordKey;
use daas_protocol::onchain::RegistryEvent;
use daas_protocol::tx::{PtbBuilder, RegistryCalls, SharedRef};
use daas_protocol::{
    ChainId, EnvelopeKey, EnvelopePublicKey, IdentityKey, NodeId, ObjectId, SealToken, SealingKey,
    SuiKeypair,
};
use daas_sandbox::faults::Faults;
use daas_sandbox::k3s::server::{K3sServer, ServerConfig};
use daas_sandbox::{GenesisParams, Sandbox, SandboxConfig, SandboxInfo};

use crate::configs::{ChainTable, MasterToml};
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{Api, ListParams};

/// Registrations per staker transaction (each is a SplitCoins and a Move call that
/// emits two events: well within Sui's 1,024 commands and events).
pub const REGISTRATIONS_PER_TX: usize = 250;
/// One SUI.
const SUI: u64 = 1_000_000_000;

/// `jsonrpc` or `graphql`: a transport as flags and config files spell it.
pub fn transport_word(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Jsonrpc => "jsonrpc",
        _ => "graphql",
    }
}

/// A `--transport` value: `jsonrpc` or `graphql`.
pub fn parse_transport(s: &str) -> Result<TransportKind, String> {
    match s {
        "jsonrpc" => Ok(TransportKind::Jsonrpc),
        "graphql" => Ok(TransportKind::Graphql),
        other => Err(format!("{other:?}: use jsonrpc or graphql")),
    }
}

/// The sandbox chain's URL for transport `t`.
pub fn endpoint(info: &SandboxInfo, t: TransportKind) -> &str {
    match t {
        TransportKind::Jsonrpc => &info.rpc_url,
        _ => &info.graphql_url,
    }
}

/// `daas-demo master run --config FILE`: the master, as `daas-master run` runs it.
#[derive(Debug, clap::Subcommand)]
pub enum MasterCmd {
    /// Run the master service.
    Run {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
    },
}

/// The child process side of the multi-call binary.
pub fn master_main(cmd: MasterCmd) -> std::process::ExitCode {
    let MasterCmd::Run { config } = cmd;
    let config = match daas_master::config::MasterConfig::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("daas-master: {e:#}");
            return std::process::ExitCode::from(64);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(daas_master::service::run(
        config,
        daas_master::service::shutdown_signal(),
    )) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("daas-master: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A registered (or to-be-registered) device.
pub struct Device {
    pub sealing: SealingKey,
    pub node_id: NodeId,
    pub token: SealToken,
    pub owner: usize,
}

/// Everything running.
pub struct Stage {
    pub dir: tempfile::TempDir,
    /// The transport the master and the boards use.
    pub transport: TransportKind,
    /// The sandbox chain's URLs, ids and keys.
    pub info: SandboxInfo,
    pub chain: AnyChain,
    pub chain_id: ChainId,
    pub calls: RegistryCalls,
    pub registry_id: ObjectId,
    pub package_id: ObjectId,
    pub accounts: Vec<SuiKeypair>,
    pub envelope_pub: EnvelopePublicKey,
    pub k3s: K3sServer,
    pub kube: kube::Client,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
    /// The standby's config and log, once [`Stage::enable_ha`] made it.
    pub standby_config: Option<PathBuf>,
    /// See [`Stage::standby_config`].
    pub standby_log: PathBuf,
    master: Option<tokio::process::Child>,
    standby: Option<tokio::process::Child>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

fn stopper() -> (
    tokio::sync::oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    (tx, async move {
        let _ = rx.await;
    })
}

impl Stage {
    /// Starts the stand-ins with `accounts` funded stakers (the chain injecting
    /// `faults` into its answers) and writes the master's keys and config.
    pub async fn start(
        transport: TransportKind,
        accounts: usize,
        faults: Faults,
    ) -> anyhow::Result<Stage> {
        let dir = tempfile::Builder::new().prefix("daas-demo").tempdir()?;
        set_mode(dir.path(), 0o700)?;
        let now = daas_master::service::now_ms();
        let (stop_chain, chain_stop) = stopper();
        let mut scfg = SandboxConfig::new(
            "127.0.0.1:0".parse()?,
            GenesisParams::new(11, accounts, now),
        );
        scfg.faults = faults;
        let sandbox = Sandbox::start(scfg, chain_stop)
            .await
            .context("starting the sandbox chain")?;
        let info = sandbox.info.clone();
        let (stop_k3s, k3s_stop) = stopper();
        let mut kcfg = ServerConfig::new(dir.path().join("k3s"));
        kcfg.https_listen_port = 0;
        kcfg.write_kubeconfig = Some(dir.path().join("k3s.yaml"));
        let k3s = K3sServer::start(kcfg, k3s_stop)
            .await
            .context("starting the k3s stand-in")?;
        let kc = kube::config::Kubeconfig::read_from(&k3s.kubeconfig)?;
        let kube = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?,
        )?;
        let chain_id: ChainId = info.chain_id.parse()?;
        let endpoint = endpoint(&info, transport).to_string();
        let chain = AnyChain::connect(&ChainConfig::new(
            chain_id,
            transport,
            vec![endpoint.clone()],
            info.package_id,
            info.registry_id,
        ))?;

        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys)?;
        set_mode(&keys, 0o700)?;
        write_private(
            &keys.join("master-sui.key"),
            info.master.suiprivkey.as_bytes(),
        )?;
        let envelope = EnvelopeKey::from_secret_bytes(
            daas_protocol::hex::decode_array(&info.envelope_key.private)
                .context("the sandbox's envelope key")?,
        );
        envelope.save(&keys.join("envelope.key"))?;
        NodePasswordKey::generate().save(&keys.join("node-password.key"))?;
        let config_path = dir.path().join("master.toml");
        let stage = Stage {
            transport,
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
                .map(|a| SuiKeypair::from_suiprivkey(&a.suiprivkey))
                .collect::<Result<_, _>>()?,
            envelope_pub: envelope.public(),
            log_path: dir.path().join("master.log"),
            standby_log: dir.path().join("master-b.log"),
            info,
            dir,
            chain,
            chain_id,
            k3s,
            kube,
            config_path,
            standby_config: None,
            master: None,
            standby: None,
            stops: vec![stop_chain, stop_k3s],
        };
        std::fs::write(
            &stage.config_path,
            stage.master_toml(stage.info.master_cap_id, "master-sui.key", "state", None),
        )?;
        Ok(stage)
    }

    /// A `master.toml` for this stage: the MasterCap `cap`, the Sui key file `sui_key`
    /// in `keys/`, the state database in `<state>/master.db`, and `[ha]` if given.
    fn master_toml(
        &self,
        cap: ObjectId,
        sui_key: &str,
        state: &str,
        ha: Option<(&str, &str)>,
    ) -> String {
        let endpoints = [endpoint(&self.info, self.transport).to_string()];
        MasterToml {
            chain: ChainTable {
                chain_id: self.chain_id,
                transport: self.transport,
                endpoints: &endpoints,
                package_id: self.package_id,
                registry_id: self.registry_id,
                request_timeout_ms: None,
            },
            master_cap_id: cap,
            keys: &self.dir.path().join("keys"),
            sui_key,
            state_db: &self.dir.path().join(state).join("master.db"),
            kubeconfig: &self.k3s.kubeconfig,
            server_url: &self.k3s.url,
            ha,
        }
        .render()
    }

    /// A second master for HA (DESIGN §10): a MasterCap issued by the AdminCap to the
    /// last staker account (taken out of the stakers, so no registration spends its
    /// gas), its own key, state database and listener, the same envelope and
    /// node-password keys, and `[ha]` on one Lease in both configs.
    pub async fn enable_ha(&mut self) -> anyhow::Result<()> {
        use daas_master::ops::admin::{AdminAction, admin};
        use daas_master::ops::send::Authority;
        let account = self
            .accounts
            .pop()
            .context("no staker account left for the standby")?;
        let admin_key = SuiKeypair::from_suiprivkey(&self.info.master.suiprivkey)?;
        let session = daas_master::ops::Session::new(ChainConfig::new(
            self.chain_id,
            TransportKind::Jsonrpc,
            vec![self.info.rpc_url.clone()],
            self.package_id,
            self.registry_id,
        ))?;
        let report = admin(
            &session,
            &Authority::Key(admin_key),
            self.info.admin_cap_id,
            &AdminAction::IssueMasterCap {
                to: account.address(),
            },
        )
        .await?;
        let (_, registry) = session.reader().registry().await?;
        let cap = *report
            .created
            .iter()
            .find(|id| registry.master_caps.contents.contains(id))
            .context("issue_master_cap made no valid MasterCap")?;
        let keys = self.dir.path().join("keys");
        write_private(
            &keys.join("master-b-sui.key"),
            account.to_suiprivkey().as_bytes(),
        )?;
        const LEASE: &str = "kube-system/k8s-daas-master";
        let a = self.master_toml(
            self.info.master_cap_id,
            "master-sui.key",
            "state",
            Some((LEASE, "master-a")),
        );
        std::fs::write(&self.config_path, a)?;
        let b = self.master_toml(
            cap,
            "master-b-sui.key",
            "state-b",
            Some((LEASE, "master-b")),
        );
        let path = self.dir.path().join("master-b.toml");
        std::fs::write(&path, b)?;
        self.standby_config = Some(path);
        Ok(())
    }

    /// Starts the real master (this binary, `master run`), its log in `master.log`.
    pub async fn start_master(&mut self) -> anyhow::Result<()> {
        let child = spawn_master(&self.config_path, &self.log_path)?;
        self.master = Some(child);
        wait_serving(&self.log_path, &mut self.master).await
    }

    /// Starts the standby of [`Stage::enable_ha`], its log in `master-b.log`.
    pub async fn start_standby(&mut self) -> anyhow::Result<()> {
        let config = self.standby_config.clone().context("enable_ha first")?;
        self.standby = Some(spawn_master(&config, &self.standby_log)?);
        wait_serving(&self.standby_log, &mut self.standby).await
    }

    /// `kill -9` of the (first) master.
    pub async fn kill_master(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.master.take() {
            c.kill().await?;
        }
        Ok(())
    }

    /// SIGTERM to the standby; waits for it.
    pub async fn stop_standby(&mut self) -> anyhow::Result<()> {
        stop(self.standby.take()).await
    }

    /// The master's HTTP address (`/api/workers`, `/metrics`), from its log.
    pub fn master_http(&self) -> Option<std::net::SocketAddr> {
        listen_addr(&self.log_path)
    }

    /// The standby's HTTP address, from its log.
    pub fn standby_http(&self) -> Option<std::net::SocketAddr> {
        listen_addr(&self.standby_log)
    }

    /// SIGTERM to the master; waits for it.
    pub async fn stop_master(&mut self) -> anyhow::Result<()> {
        stop(self.master.take()).await
    }

    /// `n` devices with fresh keys, spread over the staker accounts.
    pub fn devices(&self, n: usize, label: &str) -> Vec<Device> {
        make_devices(self.registry_id, &self.accounts, n, label)
    }

    /// Registers the devices through the real transaction path: each staker sends
    /// its devices in transactions of [`REGISTRATIONS_PER_TX`], the stakers in
    /// parallel. Returns the transactions sent.
    pub async fn register(&self, devices: &[Device]) -> anyhow::Result<usize> {
        let all: Vec<_> = devices
            .iter()
            .map(|d| (d.owner, &d.node_id, &d.token))
            .collect();
        self.register_each(&all).await
    }

    /// Registers `(staker, node_id, seal token)`s as [`Stage::register`] does.
    pub async fn register_each(
        &self,
        devices: &[(usize, &NodeId, &SealToken)],
    ) -> anyhow::Result<usize> {
        register_each(&self.chain, &self.calls, &self.accounts, devices).await
    }

    /// Opens `d`'s envelope with its sealing key.
    pub fn open(
        &self,
        d: &Device,
        worker_id: ObjectId,
        envelope: &[u8],
    ) -> anyhow::Result<OpenedEnvelope> {
        Ok(envelope::open(
            envelope,
            &EnvelopeContext {
                chain_id: self.chain_id,
                registry_id: self.registry_id,
                worker_id,
                node_id: d.node_id.clone(),
            },
            &d.sealing,
            &OpenPolicy {
                envelope_key: &self.envelope_pub,
                highest_used_version: 0,
                now_ms: daas_master::service::now_ms(),
            },
        )?)
    }

    /// The names of the cluster's Nodes whose `Ready` condition is `True`.
    pub async fn ready_nodes(&self) -> anyhow::Result<Vec<String>> {
        ready_nodes(&self.kube).await
    }

    /// Our labelled bootstrap tokens: (worker, version).
    pub async fn tokens(&self) -> anyhow::Result<Vec<(ObjectId, u64)>> {
        tokens(&self.kube).await
    }
}

/// `n` devices labelled `<label><i>` with fresh keys, for `registry`, spread over the
/// staker `accounts`.
pub fn make_devices(
    registry: ObjectId,
    accounts: &[SuiKeypair],
    n: usize,
    label: &str,
) -> Vec<Device> {
    (0..n)
        .map(|i| {
            let owner = i % accounts.len();
            let identity = IdentityKey::generate();
            let sealing = SealingKey::generate();
            let node_id = NodeId::from_label(&format!("{label}{i}"), &identity.public())
                .expect("valid label");
            let token = SealToken::create(
                &identity,
                &sealing.public(),
                &registry,
                &accounts[owner].address(),
                &node_id,
            )
            .expect("token for its own node_id");
            Device {
                sealing,
                node_id,
                token,
                owner,
            }
        })
        .collect()
}

/// Registers `(staker, node_id, seal token)`s through the real transaction path:
/// each staker (an index into `accounts`) sends its devices in transactions of
/// [`REGISTRATIONS_PER_TX`], the stakers in parallel. Returns the transactions sent.
pub async fn register_each(
    chain: &AnyChain,
    calls: &RegistryCalls,
    accounts: &[SuiKeypair],
    devices: &[(usize, &NodeId, &SealToken)],
) -> anyhow::Result<usize> {
    let mut per_owner: HashMap<usize, Vec<(&NodeId, &SealToken)>> = HashMap::new();
    for (owner, node_id, token) in devices {
        per_owner.entry(*owner).or_default().push((node_id, token));
    }
    let results =
        futures::future::join_all(per_owner.into_iter().map(|(owner, mine)| async move {
            let sub = Submitter::new(chain, &accounts[owner]);
            let mut sent = 0;
            for chunk in mine.chunks(REGISTRATIONS_PER_TX) {
                let mut b = PtbBuilder::new();
                for (node_id, token) in chunk {
                    calls.stake_and_register_worker(
                        &mut b,
                        SUI,
                        node_id.as_str(),
                        &token.to_bytes(),
                    );
                }
                let out = sub.submit(b.finish()).await?;
                if !out.is_success() {
                    bail!("a registration transaction failed: {:?}", out.status);
                }
                sent += 1;
            }
            anyhow::Ok(sent)
        }))
        .await;
    let mut total = 0;
    for r in results {
        total += r?;
    }
    Ok(total)
}

/// The names of the cluster's Nodes whose `Ready` condition is `True`.
pub async fn ready_nodes(kube: &kube::Client) -> anyhow::Result<Vec<String>> {
    let nodes: Api<Node> = Api::all(kube.clone());
    Ok(nodes
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|n| n.metadata.name)
        .collect())
}

/// Our labelled bootstrap tokens: (worker, version).
pub async fn tokens(kube: &kube::Client) -> anyhow::Result<Vec<(ObjectId, u64)>> {
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), "kube-system");
    let list = secrets
        .list(&ListParams::default().labels("k8s-daas.io/node-id"))
        .await?;
    list.items
        .iter()
        .map(|s| {
            let w = s
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("k8s-daas.io/worker-id"))
                .context("worker-id annotation")?
                .parse()?;
            let v = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("k8s-daas.io/token-version"))
                .context("token-version label")?
                .parse()?;
            Ok((w, v))
        })
        .collect()
}

impl Drop for Stage {
    fn drop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
    }
}

/// Follows the registry's events, counting what the master did.
#[derive(Default)]
pub struct Tally {
    cursor: Option<EventCursor>,
    /// Worker id by node_id of our registrations.
    pub registered: HashMap<ObjectId, String>,
    /// (worker, version) of every JoinTokenSetEvent.
    pub issued: Vec<(ObjectId, u64)>,
    /// Transactions that carried envelopes.
    pub envelope_txs: HashSet<String>,
    /// Workers activated.
    pub activated: HashSet<ObjectId>,
    /// The last status each worker changed to (DESIGN §4 codes).
    pub status: HashMap<ObjectId, u8>,
    /// Chain time (ms) of each worker's registration, first envelope and activation.
    pub registered_ms: HashMap<ObjectId, u64>,
    /// See [`Tally::registered_ms`].
    pub issued_ms: HashMap<ObjectId, u64>,
    /// See [`Tally::registered_ms`].
    pub activated_ms: HashMap<ObjectId, u64>,
}

impl Tally {
    /// Reads every event since the last call.
    pub async fn update(&mut self, stage: &Stage) -> anyhow::Result<()> {
        self.update_from(&stage.chain, stage.package_id).await
    }

    /// Reads every event of `package` since the last call, from `chain`.
    pub async fn update_from(&mut self, chain: &AnyChain, package: ObjectId) -> anyhow::Result<()> {
        loop {
            let page = chain.events(package, self.cursor.as_ref(), 50).await?;
            for e in &page.events {
                match &e.event {
                    Some(RegistryEvent::WorkerRegistered(r)) => {
                        self.registered.insert(r.worker_id, r.node_id.clone());
                        self.registered_ms.insert(r.worker_id, r.timestamp_ms);
                    }
                    Some(RegistryEvent::JoinTokenSet(j)) => {
                        self.issued.push((j.worker_id, j.token_version));
                        self.issued_ms.entry(j.worker_id).or_insert(j.timestamp_ms);
                        self.envelope_txs.insert(e.tx_digest.to_string());
                    }
                    Some(RegistryEvent::WorkerStatusChanged(s)) => {
                        self.status.insert(s.worker_id, s.new_status);
                        if s.new_status == 2 {
                            self.activated.insert(s.worker_id);
                            self.activated_ms
                                .entry(s.worker_id)
                                .or_insert(s.timestamp_ms);
                        }
                    }
                    _ => {}
                }
            }
            if page.next_cursor.is_some() {
                self.cursor = page.next_cursor;
            }
            if !page.has_next_page || page.events.is_empty() {
                return Ok(());
            }
        }
    }

    /// Distinct workers with an envelope.
    pub fn issued_workers(&self) -> usize {
        self.issued
            .iter()
            .map(|(w, _)| w)
            .collect::<HashSet<_>>()
            .len()
    }

    /// Envelopes beyond one per worker (a registration issued twice).
    pub fn duplicates(&self) -> usize {
        self.issued.len() - self.issued_workers()
    }
}

/// `daas-demo master run --config CONFIG` (this binary), stderr into `log`, in its
/// own process group: a Ctrl-C reaches the demo, which stops it in order.
fn spawn_master(config: &Path, log: &Path) -> anyhow::Result<tokio::process::Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    tokio::process::Command::new(std::env::current_exe()?)
        .args(["master", "run", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .context("starting the master")
}

/// Waits until the master logging to `log` serves (or exits, or 60 s pass).
async fn wait_serving(log: &Path, child: &mut Option<tokio::process::Child>) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches("serving /healthz").count() > text.matches("stopped").count() {
            return Ok(());
        }
        if let Some(c) = child.as_mut()
            && let Some(status) = c.try_wait()?
        {
            bail!("the master exited ({status}) while starting:\n{text}");
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the master did not start within 60 s:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last `listen=` address a master logged in `log`.
fn listen_addr(log: &Path) -> Option<std::net::SocketAddr> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .filter(|l| l.contains("serving /healthz"))
        .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("listen=")))
        .and_then(|a| a.parse().ok())
}

/// SIGTERM to a master; waits for it (30 s).
async fn stop(child: Option<tokio::process::Child>) -> anyhow::Result<()> {
    if let Some(mut c) = child {
        if let Some(pid) = c.id() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
            match nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => bail!("signalling the master: {e}"),
            }
        }
        tokio::time::timeout(Duration::from_secs(30), c.wait())
            .await
            .context("the master did not stop within 30 s")??;
    }
    Ok(())
}

pub(crate) fn set_mode(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

pub(crate) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| path.display().to_string())?;
    f.write_all(contents)?;
    Ok(())
}
