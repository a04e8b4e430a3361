//! The suite's world: every part a separate process of the real binaries —
//! `daas-sandbox chain` (with `--state-dir`, so it can be restarted), `daas-k3s server`
//! (its data dir kept across restarts), `daas-master run`, and per board `daas-agent
//! run` supervising its own `daas-k3s agent` — on fixed loopback ports, so a restarted
//! part comes back where the others look for it. Unlike [`crate::stage::Stage`] (the
//! stand-ins in this process, for the demo and the benchmarks), nothing here runs the
//! parts' code in this process: the suite drives them as an operator and a staker
//! would, through their command lines, their files and the chain.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use daas_protocol::chain::{AnyChain, RegistryReader, WorkerObject};
use daas_protocol::config::{ChainConfig, TransportKind};
use daas_protocol::onchain::WorkerStatus;
use daas_protocol::tx::{RegistryCalls, SharedRef};
use daas_protocol::{ChainId, EnvelopeKey, NodeId, NodePasswordKey, SealToken, SuiKeypair};
use daas_sandbox::SandboxInfo;
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::configs::{AgentToml, BOARD_DIRS, ChainTable, MasterToml};
use crate::stage::{endpoint, write_private};

/// The real binaries the world runs.
#[derive(Debug, Clone)]
pub struct Bins {
    pub agent: PathBuf,
    pub master: PathBuf,
    pub sandbox: PathBuf,
    pub k3s: PathBuf,
}

impl Bins {
    /// The four binaries in `dir` (default: beside this binary, where `cargo build
    /// --bins` puts them).
    pub fn locate(dir: Option<&Path>) -> anyhow::Result<Bins> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => std::env::current_exe()?
                .parent()
                .context("this binary's folder")?
                .to_path_buf(),
        };
        // Absolute: the boards' agent.toml names daas-k3s by its path, which the agent
        // requires to be absolute.
        let dir = dir
            .canonicalize()
            .with_context(|| format!("--bin-dir {}", dir.display()))?;
        let find = |name: &str| {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                bail!(
                    "{name} not found in {}: build the binaries first (`cargo build --release --bins`), or name their folder with --bin-dir",
                    dir.display()
                )
            }
        };
        Ok(Bins {
            agent: find("daas-agent")?,
            master: find("daas-master")?,
            sandbox: find("daas-sandbox")?,
            k3s: find("daas-k3s")?,
        })
    }
}

/// A child process in its own process group, its output appended to a log file.
/// Dropped, it is killed with its whole group.
#[derive(Debug)]
pub struct Proc {
    child: tokio::process::Child,
    pid: u32,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` (stdin closed, output appended to `log`).
    pub fn spawn(mut cmd: tokio::process::Command, log: &Path) -> anyhow::Result<Proc> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| log.display().to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {:?}", cmd.as_std().get_program()))?;
        let pid = child.id().context("no pid")?;
        Ok(Proc {
            child,
            pid,
            log: log.to_path_buf(),
        })
    }

    /// Its pid (and process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `kill -9` of the process alone (not its group: what a crash or the OOM killer
    /// does); waits for it.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        signal(self.pid, Signal::SIGKILL);
        self.child.wait().await?;
        Ok(())
    }

    /// SIGTERM, then SIGKILL after `grace`; its exit status.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        signal(self.pid, Signal::SIGTERM);
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(s) => Ok(s?),
            Err(_) => {
                signal(self.pid, Signal::SIGKILL);
                let s = self.child.wait().await?;
                bail!(
                    "pid {} did not stop within {grace:?} of SIGTERM ({s})",
                    self.pid
                )
            }
        }
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(pid_of(self.pid), Signal::SIGKILL);
    }
}

fn pid_of(pid: u32) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// Sends `sig` to `pid`; a process already gone is fine.
pub fn signal(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::kill(pid_of(pid), sig);
}

/// How the world is made.
#[derive(Debug, Clone)]
pub struct WorldOpts {
    pub transport: TransportKind,
    /// Funded staker accounts.
    pub accounts: usize,
    /// `daas-sandbox chain --faults`.
    pub faults: String,
    /// `daas-sandbox chain --read-lag`.
    pub read_lag: u64,
    /// The registry's cooldown (ms), for exits that must finish within a run.
    pub cooldown_ms: Option<u64>,
    /// The registry's revoke grace (ms).
    pub revoke_grace_ms: Option<u64>,
}

impl Default for WorldOpts {
    fn default() -> Self {
        WorldOpts {
            transport: TransportKind::Jsonrpc,
            accounts: 4,
            faults: String::new(),
            read_lag: 0,
            cooldown_ms: None,
            revoke_grace_ms: None,
        }
    }
}

/// A board: its tree (standing in for `/etc`, `/var/lib`, `/run`), keys from
/// `daas-agent init`, its `agent.toml`, and its running agent.
#[derive(Debug)]
pub struct Board {
    pub node_id: NodeId,
    pub token: SealToken,
    /// Index of the staker account that registers it.
    pub owner: usize,
    pub root: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    pub agent: Option<Proc>,
}

impl Board {
    /// Its agent's status file, parsed (None before the agent wrote it).
    pub fn status(&self) -> Option<serde_json::Value> {
        let text = std::fs::read(self.root.join("run/k8s-daas/status.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// `status.k3s.pid` while k3s runs.
    pub fn k3s_pid(&self) -> Option<u32> {
        let s = self.status()?;
        (s["k3s"]["state"] == "running")
            .then(|| s["k3s"]["pid"].as_u64())
            .flatten()
            .and_then(|p| u32::try_from(p).ok())
    }

    /// Its agent's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Everything running, as separate processes.
pub struct World {
    pub dir: tempfile::TempDir,
    pub info: SandboxInfo,
    /// The world's own reads, over JSON-RPC.
    pub chain: AnyChain,
    pub chain_id: ChainId,
    pub calls: RegistryCalls,
    pub accounts: Vec<SuiKeypair>,
    pub kube: kube::Client,
    pub kubeconfig: PathBuf,
    pub server_url: String,
    pub master_config: PathBuf,
    pub master_log: PathBuf,
    pub boards: Vec<Board>,
    launch: Launch,
    chain_proc: Option<Proc>,
    k3s_proc: Option<Proc>,
    master: Option<Proc>,
}

/// A free loopback port (bound and released: the part started next binds it).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until `f` returns `Some`, polling every 100 ms, or fails after `limit` with
/// `what` and the last state `f` saw.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    let mut last_err = None;
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if Instant::now() > deadline {
            match last_err {
                Some(e) => bail!("{what}: not within {limit:?} (last error: {e:#})"),
                None => bail!("{what}: not within {limit:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The parts of a world its processes are started from (kept for restarts).
struct Launch {
    bins: Bins,
    opts: WorldOpts,
    dir: PathBuf,
    chain_port: u16,
    k3s_port: u16,
    genesis_ms: u64,
}

impl Launch {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `daas-sandbox chain` on its state folder; waits for its `--info` file.
    async fn chain(&self) -> anyhow::Result<Proc> {
        let mut cmd = tokio::process::Command::new(&self.bins.sandbox);
        cmd.arg("chain")
            .args(["--listen", &format!("127.0.0.1:{}", self.chain_port)])
            .arg("--info")
            .arg(self.path("chain/info.json"))
            .arg("--state-dir")
            .arg(self.path("chain/state"))
            .args(["--seed", "11"])
            .args(["--accounts", &self.opts.accounts.to_string()])
            .args(["--genesis-time-ms", &self.genesis_ms.to_string()])
            .args(["--read-lag", &self.opts.read_lag.to_string()]);
        if !self.opts.faults.is_empty() {
            cmd.args(["--faults", &self.opts.faults]);
        }
        if let Some(c) = self.opts.cooldown_ms {
            cmd.args(["--cooldown-ms", &c.to_string()]);
        }
        if let Some(g) = self.opts.revoke_grace_ms {
            cmd.args(["--revoke-grace-ms", &g.to_string()]);
        }
        let info = self.path("chain/info.json");
        let _ = std::fs::remove_file(&info);
        let log = self.path("logs/chain.log");
        let mut proc = Proc::spawn(cmd, &log)?;
        wait_for(
            "the sandbox chain's --info file",
            Duration::from_secs(30),
            || {
                let ready = info.is_file();
                let exited = proc.exited();
                let log = log.clone();
                async move {
                    if let Some(s) = exited {
                        bail!(
                            "daas-sandbox chain exited ({s}):\n{}",
                            std::fs::read_to_string(log).unwrap_or_default()
                        );
                    }
                    Ok(ready.then_some(()))
                }
            },
        )
        .await?;
        Ok(proc)
    }

    /// `daas-k3s server` on its data folder; waits until it serves and returns a
    /// client of its kubeconfig.
    async fn k3s(&self) -> anyhow::Result<(Proc, kube::Client)> {
        let kubeconfig = self.path("k3s.yaml");
        let mut cmd = tokio::process::Command::new(&self.bins.k3s);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(self.path("k3s"))
            .args(["--https-listen-port", &self.k3s_port.to_string()])
            .arg("--write-kubeconfig")
            .arg(&kubeconfig);
        let log = self.path("logs/k3s-server.log");
        let before = std::fs::read_to_string(&log).unwrap_or_default().len();
        let mut proc = Proc::spawn(cmd, &log)?;
        let url = format!("https://127.0.0.1:{}/cacerts", self.k3s_port);
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(2))
            .build()?;
        wait_for("daas-k3s server to serve", Duration::from_secs(30), || {
            let exited = proc.exited();
            let log = log.clone();
            let get = http.get(&url).send();
            let has_config = kubeconfig.is_file();
            async move {
                if let Some(s) = exited {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    bail!(
                        "daas-k3s server exited ({s}):\n{}",
                        text.get(before..).unwrap_or("")
                    );
                }
                Ok((has_config && get.await.is_ok_and(|r| r.status().is_success())).then_some(()))
            }
        })
        .await?;
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig)?;
        let kube = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?,
        )?;
        Ok((proc, kube))
    }
}

impl World {
    /// Starts the chain and the k3s server, writes the master's keys and config (the
    /// master is started by [`World::start_master`]).
    pub async fn start(bins: Bins, opts: WorldOpts) -> anyhow::Result<World> {
        let dir = tempfile::Builder::new().prefix("daas-suite").tempdir()?;
        crate::stage::set_mode(dir.path(), 0o700)?;
        for d in ["chain", "k3s", "keys", "logs", "boards", "master"] {
            std::fs::create_dir(dir.path().join(d))?;
            crate::stage::set_mode(&dir.path().join(d), 0o700)?;
        }
        let launch = Launch {
            bins,
            opts,
            dir: dir.path().to_path_buf(),
            chain_port: free_port()?,
            k3s_port: free_port()?,
            genesis_ms: daas_master::service::now_ms(),
        };
        let chain_proc = launch.chain().await?;
        let info: SandboxInfo =
            serde_json::from_slice(&std::fs::read(launch.path("chain/info.json"))?)
                .context("the chain's --info file")?;
        let chain_id: ChainId = info.chain_id.parse()?;
        let chain = AnyChain::connect(&ChainConfig::new(
            chain_id,
            TransportKind::Jsonrpc,
            vec![info.rpc_url.clone()],
            info.package_id,
            info.registry_id,
        ))?;
        let (k3s_proc, kube) = launch.k3s().await?;
        let w = World {
            kubeconfig: launch.path("k3s.yaml"),
            master_config: launch.path("master.toml"),
            master_log: launch.path("logs/master.log"),
            server_url: format!("https://127.0.0.1:{}", launch.k3s_port),
            calls: RegistryCalls {
                package: info.package_id,
                registry: SharedRef {
                    id: info.registry_id,
                    initial_shared_version: info.registry_initial_shared_version,
                },
            },
            accounts: info
                .accounts
                .iter()
                .map(|a| SuiKeypair::from_suiprivkey(&a.suiprivkey))
                .collect::<Result<_, _>>()?,
            info,
            chain,
            chain_id,
            kube,
            boards: Vec::new(),
            dir,
            launch,
            chain_proc: Some(chain_proc),
            k3s_proc: Some(k3s_proc),
            master: None,
        };
        w.write_master_files()?;
        Ok(w)
    }

    /// The binaries it runs.
    pub fn bins(&self) -> &Bins {
        &self.launch.bins
    }

    /// A second client of the chain (JSON-RPC), for work beside the world's own.
    pub fn new_client(&self) -> anyhow::Result<AnyChain> {
        Ok(AnyChain::connect(&ChainConfig::new(
            self.chain_id,
            TransportKind::Jsonrpc,
            vec![self.info.rpc_url.clone()],
            self.info.package_id,
            self.info.registry_id,
        ))?)
    }

    /// Changes the chain's faults and read lag at run time (`POST /admin/faults`; a
    /// restart of the chain goes back to its command line's).
    pub async fn set_faults(&self, spec: &str, read_lag: u64) -> anyhow::Result<()> {
        let url = format!("{}/admin/faults", self.info.rpc_url.trim_end_matches('/'));
        let r = reqwest::Client::new()
            .post(&url)
            .json(&serde_json::json!({ "spec": spec, "read_lag": read_lag }))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!(
                "POST {url}: {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// A path under the world's folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The chain's URL for the world's transport.
    pub fn endpoint(&self) -> String {
        endpoint(&self.info, self.launch.opts.transport).to_string()
    }

    /// The registry reader over the world's own client.
    pub fn reader(&self) -> RegistryReader<&AnyChain> {
        RegistryReader::new(&self.chain, self.info.package_id, self.info.registry_id)
    }

    fn write_master_files(&self) -> anyhow::Result<()> {
        let keys = self.path("keys");
        write_private(
            &keys.join("master-sui.key"),
            self.info.master.suiprivkey.as_bytes(),
        )?;
        write_private(
            &keys.join("admin-sui.key"),
            self.info.master.suiprivkey.as_bytes(),
        )?;
        for (i, a) in self.info.accounts.iter().enumerate() {
            write_private(&self.owner_key(i), a.suiprivkey.as_bytes())?;
        }
        EnvelopeKey::from_secret_bytes(
            daas_protocol::hex::decode_array(&self.info.envelope_key.private)
                .context("the sandbox's envelope key")?,
        )
        .save(&keys.join("envelope.key"))?;
        NodePasswordKey::generate().save(&keys.join("node-password.key"))?;
        let endpoints = [self.endpoint()];
        let text = MasterToml {
            chain: self.chain_table(&endpoints),
            master_cap_id: self.info.master_cap_id,
            keys: &keys,
            sui_key: "master-sui.key",
            state_db: &self.path("master/master.db"),
            kubeconfig: &self.kubeconfig,
            server_url: &self.server_url,
            ha: None,
        }
        .render();
        std::fs::write(&self.master_config, text)?;
        Ok(())
    }

    /// The `[chain]` table for `endpoints`.
    pub fn chain_table<'a>(&self, endpoints: &'a [String]) -> ChainTable<'a> {
        ChainTable {
            chain_id: self.chain_id,
            transport: self.launch.opts.transport,
            endpoints,
            package_id: self.info.package_id,
            registry_id: self.info.registry_id,
            request_timeout_ms: Some(3000),
        }
    }

    /// Staker `i`'s key file (0600).
    pub fn owner_key(&self, i: usize) -> PathBuf {
        self.path(&format!("keys/owner-{i}.key"))
    }

    /// The AdminCap holder's (and SlashCap's) key file.
    pub fn admin_key(&self) -> PathBuf {
        self.path("keys/admin-sui.key")
    }

    /// Starts `daas-master run` and waits until it serves.
    pub async fn start_master(&mut self) -> anyhow::Result<()> {
        let mut cmd = tokio::process::Command::new(&self.launch.bins.master);
        cmd.args(["run", "--config"])
            .arg(&self.master_config)
            .env("RUST_LOG", "info");
        let before = std::fs::read_to_string(&self.master_log)
            .unwrap_or_default()
            .len();
        let mut proc = Proc::spawn(cmd, &self.master_log)?;
        let log = self.master_log.clone();
        wait_for("daas-master to serve", Duration::from_secs(60), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let up = text
                .get(before..)
                .is_some_and(|t| t.contains("serving /healthz"));
            let exited = proc.exited();
            async move {
                if let Some(s) = exited {
                    bail!("daas-master exited ({s}):\n{text}");
                }
                Ok(up.then_some(()))
            }
        })
        .await?;
        self.master = Some(proc);
        Ok(())
    }

    /// `kill -9` of the master.
    pub async fn kill_master(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.master.take() {
            p.kill9().await?;
        }
        Ok(())
    }

    /// SIGTERM to the master; it must stop within 30 s.
    pub async fn stop_master(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.master.take() {
            let s = p.stop(Duration::from_secs(30)).await?;
            if !s.success() {
                bail!("daas-master ended with {s} after SIGTERM");
            }
        }
        Ok(())
    }

    /// The master's HTTP address, from its last start's log line.
    pub fn master_http(&self) -> anyhow::Result<std::net::SocketAddr> {
        let text = std::fs::read_to_string(&self.master_log)?;
        text.lines()
            .rev()
            .filter(|l| l.contains("serving /healthz"))
            .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("listen=")))
            .and_then(|a| a.parse().ok())
            .context("no `serving /healthz … listen=` line in the master's log")
    }

    /// Restarts the sandbox chain (SIGTERM, then the same command on the same state
    /// folder and port).
    pub async fn restart_chain(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.chain_proc.take() {
            p.stop(Duration::from_secs(20)).await?;
        }
        self.chain_proc = Some(self.launch.chain().await?);
        Ok(())
    }

    /// Restarts `daas-k3s server` on its data folder and port.
    pub async fn restart_k3s(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.k3s_proc.take() {
            p.stop(Duration::from_secs(20)).await?;
        }
        let (p, kube) = self.launch.k3s().await?;
        self.k3s_proc = Some(p);
        self.kube = kube;
        Ok(())
    }

    /// Makes `n` boards labelled `<label><i>` (keys by `daas-agent init`, an
    /// `agent.toml` naming `endpoints`, default the chain's own URL); returns their
    /// indices. Nothing is registered or started.
    pub async fn add_boards(
        &mut self,
        n: usize,
        label: &str,
        endpoints: Option<Vec<String>>,
    ) -> anyhow::Result<Vec<usize>> {
        let endpoints = endpoints.unwrap_or_else(|| vec![self.endpoint()]);
        let mut out = Vec::new();
        for _ in 0..n {
            let i = self.boards.len();
            let root = self.path(&format!("boards/{i}"));
            for d in BOARD_DIRS {
                std::fs::create_dir_all(root.join(d))?;
            }
            let owner = i % self.accounts.len();
            let key_dir = root.join("var/lib/k8s-daas");
            let init = tokio::process::Command::new(&self.launch.bins.agent)
                .args(["init", "--label", &format!("{label}{i}"), "--dir"])
                .arg(&key_dir)
                .arg("--registry")
                .arg(self.info.registry_id.to_string())
                .arg("--owner")
                .arg(self.accounts[owner].address().to_string())
                .arg("--json")
                .stdin(Stdio::null())
                .output()
                .await?;
            if !init.status.success() {
                bail!("daas-agent init: {}", String::from_utf8_lossy(&init.stderr));
            }
            let v: serde_json::Value = serde_json::from_slice(&init.stdout)?;
            let node_id: NodeId = v["node_id"].as_str().context("init: node_id")?.parse()?;
            let token = SealToken::from_hex(
                v["registration"]["seal_token"]
                    .as_str()
                    .context("init: seal token")?,
            )?;
            let config = root.join("etc/k8s-daas/agent.toml");
            let text = AgentToml {
                chain: self.chain_table(&endpoints),
                root_public_key: &self.info.root_key.public,
                root: &root,
                k3s: &self.launch.bins.k3s,
            }
            .render();
            std::fs::write(&config, text)?;
            self.boards.push(Board {
                node_id,
                token,
                owner,
                log: self.path(&format!("logs/agent-{i}.log")),
                config,
                root,
                agent: None,
            });
            out.push(i);
        }
        Ok(out)
    }

    /// Registers boards `idx` through the stakers' real transaction path.
    pub async fn register(&self, idx: &[usize]) -> anyhow::Result<usize> {
        let all: Vec<_> = idx
            .iter()
            .map(|&i| {
                let b = &self.boards[i];
                (b.owner, &b.node_id, &b.token)
            })
            .collect();
        crate::stage::register_each(&self.chain, &self.calls, &self.accounts, &all).await
    }

    /// Starts board `i`'s `daas-agent run`.
    pub fn start_agent(&mut self, i: usize) -> anyhow::Result<()> {
        let b = &mut self.boards[i];
        let mut cmd = std::process::Command::new(&self.launch.bins.agent);
        crate::configs::agent_run(&mut cmd, &b.root, &b.config);
        b.agent = Some(Proc::spawn(cmd.into(), &b.log)?);
        Ok(())
    }

    /// `kill -9` of board `i`'s agent (its k3s, in its own process group, is left).
    pub async fn kill_agent(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(p) = self.boards[i].agent.take() {
            p.kill9().await?;
        }
        Ok(())
    }

    /// SIGTERM to board `i`'s agent (it stops its k3s); must end within 20 s.
    pub async fn stop_agent(&mut self, i: usize) -> anyhow::Result<ExitStatus> {
        let p = self.boards[i]
            .agent
            .take()
            .context("the agent is not running")?;
        p.stop(Duration::from_secs(20)).await
    }

    /// Board `i`'s Worker, read by its node_id.
    pub async fn worker(&self, i: usize) -> anyhow::Result<Option<WorkerObject>> {
        Ok(self
            .reader()
            .worker_by_node_id(self.boards[i].node_id.as_str())
            .await?)
    }

    /// Waits until board `i`'s Worker has `status` (DESIGN §4 code); returns it.
    pub async fn wait_status(
        &self,
        i: usize,
        status: u8,
        limit: Duration,
    ) -> anyhow::Result<WorkerObject> {
        let what = format!("{} to reach status {status}", self.boards[i].node_id);
        wait_for(&what, limit, || async move {
            Ok(self.worker(i).await?.filter(|w| w.worker.status == status))
        })
        .await
    }

    /// Waits until the Workers of `node_ids` are Active on chain and their Nodes Ready.
    pub async fn wait_active_and_ready(
        &self,
        node_ids: &[&str],
        limit: Duration,
    ) -> anyhow::Result<()> {
        let reader = self.reader();
        wait_for("every board Active with its Node Ready", limit, || {
            let reader = &reader;
            async move {
                let ready = self.ready_nodes().await?;
                if !node_ids.iter().all(|n| ready.iter().any(|r| r == n)) {
                    return Ok(None);
                }
                for n in node_ids {
                    match reader.worker_by_node_id(n).await? {
                        Some(o) if o.worker.status == WorkerStatus::Active as u8 => {}
                        _ => return Ok(None),
                    }
                }
                Ok(Some(()))
            }
        })
        .await
    }

    /// The names of the cluster's Ready Nodes.
    pub async fn ready_nodes(&self) -> anyhow::Result<Vec<String>> {
        crate::stage::ready_nodes(&self.kube).await
    }

    /// Our labelled bootstrap tokens: (worker, version).
    pub async fn tokens(&self) -> anyhow::Result<Vec<(daas_protocol::ObjectId, u64)>> {
        crate::stage::tokens(&self.kube).await
    }

    /// Every process this world started that still runs: the chain, the server, the
    /// master, the agents and their k3s children.
    pub fn pids(&self) -> Vec<u32> {
        let mut out: Vec<u32> = [&self.chain_proc, &self.k3s_proc, &self.master]
            .into_iter()
            .flatten()
            .map(Proc::pid)
            .collect();
        for b in &self.boards {
            out.extend(b.agent.as_ref().map(Proc::pid));
            out.extend(b.k3s_pid());
        }
        out
    }

    /// Stops the boards (SIGTERM: each stops its k3s), the master, the server and
    /// the chain.
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        for i in 0..self.boards.len() {
            if self.boards[i].agent.is_some() {
                self.stop_agent(i).await?;
            }
        }
        self.stop_master().await?;
        for p in [self.k3s_proc.take(), self.chain_proc.take()]
            .into_iter()
            .flatten()
        {
            p.stop(Duration::from_secs(20)).await?;
        }
        Ok(())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::env::var_os("DAAS_SUITE_KEEP").is_some() {
            eprintln!(
                "suite: DAAS_SUITE_KEEP: the world's folder stays at {}",
                self.dir.path().display()
            );
            let dir = std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("a temporary folder"),
            );
            let _ = dir.keep();
        }
        // An agent killed with its group leaves its k3s (its own group) behind.
        for b in &self.boards {
            if let Some(pid) = b.k3s_pid() {
                let _ = nix::sys::signal::killpg(pid_of(pid), Signal::SIGKILL);
            }
        }
    }
}
