//! `daas-agent run`: the loop that ties the chain watch to the k3s child.
//!
//! One current-thread task selects over: the shutdown future, the poll timer (a poll
//! runs concurrently with everything else: it owns the [`Watcher`] while in flight),
//! the child's events (output lines, `NOTIFY_SOCKET` datagrams, exit), the restart
//! timer and the systemd watchdog. Every change is written to the status file.
//!
//! Decisions:
//! - a verified envelope with a new token_version (re)starts k3s: the high-water mark
//!   is persisted first, then the node password and the 0600 token file are written,
//!   then `k3s agent` is spawned; the token file is removed on READY=1 and written
//!   again before any restart;
//! - k3s exiting is restarted with backoff, and the chain is re-read at once;
//! - k3s's own join-failure lines stop the child instead of letting it loop: a CA
//!   mismatch or a 401 before it ever joined (the token is no good: wait for a new
//!   envelope), a rejected node password, an admission denial, or a 401 after it had
//!   joined (the server refused this node: stop and tear down);
//! - a revocation agreed by the quorum stops k3s and runs the teardown command;
//!   one endpoint's word is logged, never acted on;
//! - SIGTERM/SIGINT (the shutdown future): STOPPING=1, SIGTERM to k3s's process group,
//!   bounded grace, SIGKILL; no teardown (containers survive an agent restart).

use std::collections::HashSet;
use std::ffi::OsString;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use daas_protocol::ObjectId;
use daas_protocol::envelope::JoinSecret;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::AgentConfig;
use crate::device::Device;
use crate::fsx;
use crate::k3s::{self, Backoff, Child, Event, LineKind, Redactor, Spec};
use crate::notify::Systemd;
use crate::state::{Joined, State};
use crate::status::{Phase, Status};
use crate::watch::{ChainStatus, JoinPlan, PollInput, PollOutcome, Verdict, Watcher};

/// What the binary hands the service from its environment.
#[derive(Debug)]
pub struct RunEnv {
    /// The connection to systemd (`NOTIFY_SOCKET`, `WATCHDOG_USEC`).
    pub systemd: Systemd,
    /// `PATH`, to find the default teardown command.
    pub path: Option<OsString>,
}

/// Milliseconds since the epoch by the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Persist the newest chain time at most this often (SD cards wear).
const CHAIN_TIME_PERSIST_MS: u64 = 10 * 60 * 1000;
/// The earliest the chain is read again after a poll was asked for "now".
const MIN_POLL_GAP: Duration = Duration::from_millis(200);

/// The join k3s runs (or is being restarted) with.
struct InUse {
    worker_id: ObjectId,
    token_version: u64,
    server: String,
    /// The opened envelope.
    secret: JoinSecret,
    redactor: Redactor,
}

type PollFuture = Pin<Box<dyn Future<Output = (Watcher, PollOutcome)>>>;

struct Service {
    cfg: AgentConfig,
    systemd: Systemd,
    teardown: Option<Vec<String>>,
    state: State,
    persisted_chain_time: u64,
    status: Status,
    watcher: Option<Watcher>,
    events: mpsc::UnboundedSender<Event>,
    child: Option<Child>,
    generation: u64,
    current: Option<InUse>,
    refused: Option<(ObjectId, u64)>,
    backoff: Backoff,
    restart_at: Option<Instant>,
    next_poll: Instant,
    /// A poll was asked for while one was in flight: run the next one at once.
    poll_asap: bool,
    last_poll_started: Option<Instant>,
    logged: HashSet<String>,
    /// The status last written (files are rewritten only when something changed).
    written: Option<Status>,
}

/// Runs the agent until `shutdown` completes. Fails only on what the agent cannot run
/// without (device keys, the state file, its directories); everything else is retried.
pub async fn run(
    cfg: AgentConfig,
    env: RunEnv,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if let Err(e) = crate::sys::harden() {
        tracing::warn!(error = %e, "PR_SET_DUMPABLE/RLIMIT_CORE hardening failed");
    }
    let device = Device::load(&cfg.key_dir, cfg.label.as_deref())?;
    let state = State::load(&cfg.state_file())?;
    fsx::ensure_private_dir(&cfg.private_dir()).context("the k3s token directory")?;
    // A run that ended without stopping its k3s (kill -9, a crash) left it running:
    // stop it before this run can start its own.
    k3s::stop_leftover(
        &cfg.child_record_file(),
        Duration::from_millis(cfg.k3s.stop_grace_ms),
    )
    .await;
    let cgroup_memory = crate::sys::memory_cgroup_available(
        Path::new("/sys/fs/cgroup"),
        Path::new("/proc/cgroups"),
    );
    let node_id = device.node_id.to_string();
    let watcher = Watcher::new(
        &cfg.chain,
        cfg.root_public_key,
        device,
        state.certified(),
        Duration::from_millis(cfg.k3s.cacerts_timeout_ms),
    )
    .context("chain client")?;
    let teardown = cfg.k3s.teardown_command(env.path.as_deref());
    if teardown.is_none() {
        tracing::warn!(
            "no teardown command (k3s-killall.sh not found, k3s.teardown not set): containers may keep running after a revocation"
        );
    }
    let mut status = Status::starting(&node_id, std::process::id(), cgroup_memory);
    status.envelope_key_serial = state.envelope_key.map(|k| k.serial);
    if !cgroup_memory {
        tracing::error!(
            "the memory cgroup controller is not available: k3s will not start; add cgroup_memory=1 cgroup_enable=memory to the kernel command line (/boot/firmware/cmdline.txt on a Raspberry Pi)"
        );
    }
    tracing::info!(node_id = %node_id, chain = %cfg.chain.chain_id, endpoints = cfg.chain.endpoints.len(), quorum = cfg.chain.quorum(), "daas-agent watching the chain");
    let (events, events_rx) = mpsc::unbounded_channel();
    let k = &cfg.k3s;
    let backoff = Backoff::new(
        Duration::from_millis(k.backoff_initial_ms),
        Duration::from_millis(k.backoff_max_ms),
        Duration::from_millis(k.healthy_after_ms),
        cfg.poll.jitter_percent,
    );
    let mut svc = Service {
        persisted_chain_time: state.newest_chain_time_ms,
        cfg,
        systemd: env.systemd,
        teardown,
        state,
        status,
        watcher: Some(watcher),
        events,
        child: None,
        generation: 0,
        current: None,
        refused: None,
        backoff,
        restart_at: None,
        next_poll: Instant::now(),
        poll_asap: false,
        last_poll_started: None,
        logged: HashSet::new(),
        written: None,
    };
    svc.write_status();
    svc.main_loop(events_rx, shutdown).await;
    svc.shut_down().await;
    Ok(())
}

/// Hides the token, its secret part and the node password in k3s's output.
fn redactor_for(secret: &JoinSecret) -> Redactor {
    let token = secret.token.expose();
    Redactor::new([
        token.to_string(),
        token.rsplit('.').next().unwrap_or_default().to_string(),
        secret.node_password.expose().to_string(),
    ])
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Service {
    async fn main_loop(
        &mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut watchdog = self.systemd.watchdog_interval().map(tokio::time::interval);
        let mut in_flight: Option<PollFuture> = None;
        let mut ready_sent = false;
        loop {
            let poll_due = in_flight.is_none().then_some(self.next_poll);
            let restart_at = self.restart_at;
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = tick(&mut watchdog) => self.systemd.watchdog(),
                Some(ev) = events.recv() => self.on_event(ev).await,
                (watcher, outcome) = async { in_flight.as_mut().expect("guarded").await }, if in_flight.is_some() => {
                    in_flight = None;
                    self.watcher = Some(watcher);
                    self.on_poll(outcome).await;
                    if !ready_sent {
                        ready_sent = true;
                        self.systemd.ready(&self.status.summary);
                    }
                }
                () = sleep_until_opt(poll_due) => {
                    let mut watcher = self.watcher.take().expect("idle watcher");
                    let input = self.poll_input();
                    self.last_poll_started = Some(Instant::now());
                    in_flight = Some(Box::pin(async move {
                        let outcome = watcher.poll(&input).await;
                        (watcher, outcome)
                    }));
                }
                () = sleep_until_opt(restart_at) => {
                    self.restart_at = None;
                    self.start_child();
                }
            }
            self.write_status();
        }
    }

    fn poll_input(&self) -> PollInput {
        PollInput {
            workers: self.state.workers.clone(),
            now_ms: now_ms().max(self.state.newest_chain_time_ms),
            in_use: self
                .current
                .as_ref()
                .map(|c| (c.worker_id, c.token_version)),
            refused: self.refused,
            known_worker: self.current.as_ref().map(|c| c.worker_id).or(self
                .state
                .joined
                .as_ref()
                .map(|j| j.worker_id)),
            joined: self
                .state
                .joined
                .as_ref()
                .map(|j| (j.worker_id, j.token_version)),
        }
    }

    fn joined(&self) -> bool {
        self.child.as_ref().is_some_and(|c| c.ready)
    }

    /// Schedules the next poll: soon while not joined, slowly once joined, jittered —
    /// or at once when something asked for it while the last poll was in flight.
    fn schedule_poll(&mut self) {
        if std::mem::take(&mut self.poll_asap) {
            self.next_poll = Instant::now() + MIN_POLL_GAP;
            return;
        }
        let base = if self.joined() {
            self.cfg.poll.joined_ms
        } else {
            self.cfg.poll.pending_ms
        };
        let j = f64::from(self.cfg.poll.jitter_percent) / 100.0;
        let ms = (base as f64 * (1.0 + (2.0 * k3s::random_unit() - 1.0) * j)).max(1.0);
        self.next_poll = Instant::now() + Duration::from_millis(ms as u64);
    }

    /// Re-reads the chain as soon as possible.
    fn poll_now(&mut self) {
        if self.watcher.is_none() {
            self.poll_asap = true;
        }
        let earliest = self
            .last_poll_started
            .map_or_else(Instant::now, |t| t + MIN_POLL_GAP);
        self.next_poll = self.next_poll.min(earliest.max(Instant::now()));
    }

    /// Logs a message once per distinct text (until the next join).
    fn once(&mut self, level: tracing::Level, message: String) {
        if self.logged.len() > 256 {
            self.logged.clear();
        }
        if self.logged.insert(message.clone()) {
            match level {
                tracing::Level::ERROR => tracing::error!("{message}"),
                tracing::Level::WARN => tracing::warn!("{message}"),
                _ => tracing::info!("{message}"),
            }
        }
    }

    fn save_state(&mut self) {
        if let Err(e) = self.state.save(&self.cfg.state_file()) {
            tracing::error!(error = %e, "saving the state file failed");
            self.status.last_error = Some(e.to_string());
        } else {
            self.persisted_chain_time = self.state.newest_chain_time_ms;
        }
    }

    fn set_summary(&mut self, phase: Phase, summary: String) {
        if self.status.summary != summary || self.status.phase != phase {
            self.status.phase = phase;
            self.status.summary = summary;
            self.systemd.status(&self.status.summary);
        }
    }

    fn write_status(&mut self) {
        let s = &mut self.status;
        s.k3s.pid = self.child.as_ref().map(|c| c.pid);
        s.k3s.joined = self.child.as_ref().is_some_and(|c| c.ready);
        s.token_version = self.current.as_ref().map(|c| c.token_version);
        if self.current.is_none() {
            s.envelope_expires_at_ms = None;
        }
        let now = now_ms();
        if let Some(w) = &self.written
            && (Status {
                updated_at_ms: w.updated_at_ms,
                ..s.clone()
            }) == *w
            && now < w.updated_at_ms + 60_000
        {
            return;
        }
        s.updated_at_ms = now;
        self.written = Some(s.clone());
        if let Err(e) = s.write(&self.cfg.status_file) {
            tracing::warn!(error = %e, "writing the status file failed");
        }
        if let Some(m) = &self.cfg.metrics_file
            && let Err(e) = fsx::ensure_dir(fsx::parent(m), 0o755).and_then(|()| {
                fsx::write_atomic(m, crate::metrics::render(&self.status).as_bytes(), 0o644)
            })
        {
            tracing::warn!(error = %e, "writing the metrics file failed");
        }
    }

    async fn on_poll(&mut self, out: PollOutcome) {
        if let Some(t) = out.chain_time_ms
            && self.state.see_chain_time(t)
            && t.saturating_sub(self.persisted_chain_time) >= CHAIN_TIME_PERSIST_MS
        {
            self.save_state();
        }
        if let Some(c) = out.certified {
            self.status.envelope_key_serial = Some(c.serial);
            if self.state.set_certified(&c) {
                tracing::info!(serial = c.serial, key = %c.key, "accepted the registry's envelope-key certificate");
                self.save_state();
            }
        }
        if let Some(id) = out.worker_id {
            self.status.worker_id = Some(id.to_string());
        }
        if let Some(cs) = out.chain_status {
            self.status.chain_status = Some(cs.as_str().into());
        }
        let running = self.child.is_some() || self.restart_at.is_some();
        if !matches!(out.verdict, Verdict::Unreachable(_)) {
            self.status.last_chain_contact_ms = Some(now_ms());
        }
        match out.verdict {
            Verdict::Unreachable(e) => {
                self.once(tracing::Level::WARN, format!("cannot read the chain: {e}"));
                self.status.last_error = Some(format!("cannot read the chain: {e}"));
                if !running {
                    self.set_summary(
                        Phase::WaitingForToken,
                        format!("cannot read the chain: {e}"),
                    );
                }
            }
            Verdict::NotRegistered => {
                let msg = format!(
                    "waiting for registration: no worker {} on chain",
                    self.status.node_id
                );
                self.once(tracing::Level::INFO, msg.clone());
                if !running {
                    self.set_summary(Phase::NotRegistered, msg);
                }
            }
            Verdict::Squatted(why) => {
                self.once(
                    tracing::Level::ERROR,
                    format!("squatted, not joining: {why}"),
                );
                self.status.last_error = Some(format!("squatted: {why}"));
                if !running {
                    self.set_summary(Phase::Squatted, format!("squatted: {why}"));
                }
            }
            Verdict::Waiting(why) => {
                self.once(tracing::Level::INFO, why.clone());
                if !running {
                    self.set_summary(Phase::WaitingForToken, why);
                }
            }
            Verdict::UpToDate => {}
            Verdict::Rejected {
                token_version,
                reason,
            } => {
                let what = match token_version {
                    Some(v) => {
                        format!("rejected the envelope on chain (token version {v}): {reason}")
                    }
                    None => format!("rejected the envelope on chain: {reason}"),
                };
                self.once(tracing::Level::WARN, what.clone());
                self.status.last_error = Some(what.clone());
                if !running {
                    self.set_summary(Phase::WaitingForToken, what);
                }
            }
            Verdict::Join(plan) => self.join(*plan).await,
            Verdict::Rejoin(plan) => self.rejoin(*plan),
            Verdict::Revoked(cs) => self.revoke(cs).await,
            Verdict::Unconfirmed { claimed, detail } => {
                let msg = format!(
                    "an endpoint reports {} but the quorum does not confirm it ({detail}): not stopping k3s",
                    claimed.words()
                );
                self.once(tracing::Level::WARN, msg.clone());
                self.status.last_error = Some(msg);
            }
        }
        self.schedule_poll();
    }

    async fn join(&mut self, plan: JoinPlan) {
        let JoinPlan {
            worker_id,
            token_version,
            expires_at_ms,
            secret,
        } = plan;
        tracing::info!(worker = %worker_id, token_version, expires_at_ms, server = %secret.server, "joining with the envelope");
        // Used from now on: a replay of anything lower is refused, also after a restart.
        self.state.record_used(worker_id, token_version);
        self.save_state();
        if let Some(child) = self.child.take() {
            tracing::info!(
                pid = child.pid,
                token_version,
                "restarting k3s with the new token"
            );
            child.stop(self.cfg.k3s.stop_grace()).await;
        }
        self.restart_at = None;
        self.refused = None;
        self.logged.clear();
        let redactor = redactor_for(&secret);
        self.current = Some(InUse {
            worker_id,
            token_version,
            server: secret.server.clone(),
            secret,
            redactor,
        });
        self.status.envelope_expires_at_ms = Some(expires_at_ms);
        self.status.last_error = None;
        self.backoff = Backoff::new(
            Duration::from_millis(self.cfg.k3s.backoff_initial_ms),
            Duration::from_millis(self.cfg.k3s.backoff_max_ms),
            Duration::from_millis(self.cfg.k3s.healthy_after_ms),
            self.cfg.poll.jitter_percent,
        );
        self.start_child();
    }

    /// k3s joined with this very envelope before, which has expired since: start it
    /// again with the same token (it authenticates with the kubelet certificate it
    /// kept; the token only passes k3s's own checks).
    fn rejoin(&mut self, plan: JoinPlan) {
        if self.child.is_some() || self.restart_at.is_some() {
            return;
        }
        let JoinPlan {
            worker_id,
            token_version,
            expires_at_ms,
            secret,
        } = plan;
        tracing::info!(worker = %worker_id, token_version, server = %secret.server, "the envelope k3s joined with has expired: restarting k3s with it, on the kubelet certificate k3s kept");
        self.current = Some(InUse {
            worker_id,
            token_version,
            server: secret.server.clone(),
            redactor: redactor_for(&secret),
            secret,
        });
        self.status.envelope_expires_at_ms = Some(expires_at_ms);
        self.start_child();
    }

    /// Writes the node password and the token file, then spawns k3s.
    fn start_child(&mut self) {
        let Some(cur) = &self.current else { return };
        let k = &self.cfg.k3s;
        let result = (|| -> anyhow::Result<Child> {
            let secret = &cur.secret;
            let pw = &k.node_password_file;
            if let Some(dir) = pw.parent() {
                fsx::ensure_dir(dir, 0o700)?;
            }
            fsx::write_atomic(pw, secret.node_password.expose().as_bytes(), 0o600)?;
            fsx::ensure_private_dir(&self.cfg.private_dir())?;
            fsx::write_atomic(&k.token_file, secret.token.expose().as_bytes(), 0o600)?;
            let spec = Spec {
                binary: k.binary.clone(),
                server: cur.server.clone(),
                token_file: Some(k.token_file.clone()),
                node_name: self.status.node_id.clone(),
                extra_args: k.args.clone(),
            };
            let generation = self.generation + 1;
            let sock = self
                .cfg
                .private_dir()
                .join(format!("k3s-notify.{generation}.sock"));
            let child = k3s::spawn(
                &spec,
                generation,
                &sock,
                cur.redactor.clone(),
                self.events.clone(),
            )
            .with_context(|| format!("starting {}", k.binary.display()))?;
            self.generation = generation;
            Ok(child)
        })();
        let version = cur.token_version;
        match result {
            Ok(child) => {
                tracing::info!(
                    pid = child.pid,
                    token_version = version,
                    "k3s agent started"
                );
                if let Err(e) = k3s::record_child(&self.cfg.child_record_file(), child.pid) {
                    tracing::warn!(error = %e, "cannot record the k3s pid: a crash of the agent would leave this k3s running");
                }
                self.child = Some(child);
                self.status.k3s.state = "starting".into();
                self.status.k3s.next_restart_at_ms = None;
                self.set_summary(
                    Phase::Joining,
                    format!("k3s started with token version {version}, waiting for it to join"),
                );
            }
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::error!("{msg}");
                self.status.last_error = Some(msg.clone());
                let delay = self.backoff.on_exit(Instant::now(), k3s::random_unit());
                self.schedule_restart(delay, &msg);
            }
        }
    }

    fn schedule_restart(&mut self, delay: Duration, why: &str) {
        self.restart_at = Some(Instant::now() + delay);
        self.status.k3s.state = "backoff".into();
        self.status.k3s.next_restart_at_ms = Some(now_ms() + delay.as_millis() as u64);
        self.set_summary(
            Phase::Restarting,
            format!("k3s {why}; restarting in {:.1}s", delay.as_secs_f64()),
        );
    }

    fn remove_token_file(&mut self) {
        if let Err(e) = fsx::remove_if_exists(&self.cfg.k3s.token_file) {
            tracing::error!(error = %e, "removing the token file failed");
        }
    }

    async fn on_event(&mut self, ev: Event) {
        let current_gen = self.child.as_ref().map(|c| c.generation);
        match ev {
            Event::Notify {
                generation,
                message,
            } if Some(generation) == current_gen && message.ready && !self.joined() => {
                self.on_ready();
            }
            Event::Line { generation, kind } if Some(generation) == current_gen => {
                self.on_line(kind).await;
            }
            Event::Exited {
                generation,
                how,
                success: _,
            } if Some(generation) == current_gen => {
                let child = self.child.take().expect("current child");
                // Kill anything the leader left behind in its group.
                let _ = crate::sys::signal_group(child.pid, crate::sys::KILL);
                tracing::warn!(pid = child.pid, "k3s exited ({how})");
                self.status.k3s.last_exit = Some(how.clone());
                self.status.k3s.restarts += 1;
                let delay = self.backoff.on_exit(child.started_at, k3s::random_unit());
                drop(child);
                self.schedule_restart(delay, &format!("exited ({how})"));
                self.poll_now();
            }
            _ => {}
        }
    }

    fn on_ready(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        child.ready = true;
        let pid = child.pid;
        self.remove_token_file();
        self.status.k3s.state = "running".into();
        self.set_summary(Phase::Joined, "k3s running, node joined".into());
        if let Some(cur) = &self.current {
            tracing::info!(
                pid,
                token_version = cur.token_version,
                "k3s reported READY=1: node joined"
            );
            let joined = Joined {
                worker_id: cur.worker_id,
                token_version: cur.token_version,
                server: cur.server.clone(),
            };
            if self.state.joined.as_ref() != Some(&joined) {
                self.state.joined = Some(joined);
                self.save_state();
            }
        }
        self.schedule_poll();
    }

    async fn on_line(&mut self, kind: LineKind) {
        // Joined now, or joined before with this Worker (k3s restarted on the kubelet
        // certificate it kept): a 401 then means the server no longer accepts the node.
        let joined = self.joined()
            || self
                .state
                .joined
                .as_ref()
                .zip(self.current.as_ref())
                .is_some_and(|(j, c)| j.worker_id == c.worker_id);
        match kind {
            LineKind::UpAndRunning => {}
            LineKind::Fatal => {
                self.status.last_error = Some(kind.describe().into());
            }
            LineKind::CaMismatch => self.refuse(kind, false).await,
            LineKind::Unauthorized if !joined => self.refuse(kind, false).await,
            LineKind::Unauthorized | LineKind::PasswordRejected | LineKind::AdmissionDenied => {
                self.refuse(kind, true).await
            }
        }
    }

    /// k3s reported the server refused it: stop it (and tear down when it may have
    /// run containers), and wait for a newer envelope.
    async fn refuse(&mut self, kind: LineKind, refused_by_server: bool) {
        let joined = self.joined();
        let teardown = refused_by_server && (joined || self.state.joined.is_some());
        let what = if refused_by_server {
            format!("k3s was refused by the server: {}", kind.describe())
        } else {
            format!("k3s cannot join with this token: {}", kind.describe())
        };
        tracing::error!("{what}; stopping k3s and re-reading the chain");
        if let Some(child) = self.child.take() {
            child.stop(self.cfg.k3s.stop_grace()).await;
        }
        self.remove_token_file();
        if teardown {
            self.run_teardown().await;
            self.state.joined = None;
            self.save_state();
        }
        self.refused = self.current.take().map(|c| (c.worker_id, c.token_version));
        self.restart_at = None;
        self.status.k3s.state = "stopped".into();
        self.status.last_error = Some(what.clone());
        self.set_summary(Phase::Stopped, format!("stopped: {what}"));
        self.poll_now();
    }

    async fn revoke(&mut self, cs: ChainStatus) {
        let had_child = self.child.is_some() || self.current.is_some();
        if let Some(child) = self.child.take() {
            tracing::warn!(
                pid = child.pid,
                "the endpoint quorum agrees: {}; stopping k3s",
                cs.words()
            );
            child.stop(self.cfg.k3s.stop_grace()).await;
        }
        self.remove_token_file();
        if had_child || self.state.joined.is_some() {
            self.run_teardown().await;
            self.state.joined = None;
            self.save_state();
        }
        self.current = None;
        self.restart_at = None;
        self.status.k3s.state = "stopped".into();
        self.status.k3s.next_restart_at_ms = None;
        self.once(tracing::Level::WARN, format!("stopped: {}", cs.words()));
        self.set_summary(Phase::Stopped, format!("stopped: {}", cs.words()));
    }

    async fn run_teardown(&mut self) {
        let Some(cmd) = self.teardown.clone() else {
            tracing::warn!("no teardown command configured: containers k3s started may still run");
            return;
        };
        tracing::info!(command = ?cmd, "running the teardown command");
        let mut c = tokio::process::Command::new(&cmd[0]);
        c.args(&cmd[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            c.env_remove(k);
        }
        let limit = Duration::from_millis(self.cfg.k3s.teardown_timeout_ms);
        match c.spawn() {
            Ok(mut child) => match tokio::time::timeout(limit, child.wait()).await {
                Ok(Ok(s)) if s.success() => tracing::info!("teardown finished"),
                Ok(Ok(s)) => {
                    let msg = format!("teardown {} ended with {}", cmd[0], k3s::describe_exit(&s));
                    tracing::error!("{msg}");
                    self.status.last_error = Some(msg);
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "waiting for the teardown command failed")
                }
                Err(_) => {
                    let msg = format!("teardown {} still running after {limit:?}: killed", cmd[0]);
                    tracing::error!("{msg}");
                    self.status.last_error = Some(msg);
                }
            },
            Err(e) => {
                let msg = format!("cannot run the teardown command {}: {e}", cmd[0]);
                tracing::error!("{msg}");
                self.status.last_error = Some(msg);
            }
        }
    }

    async fn shut_down(&mut self) {
        tracing::info!("shutting down");
        self.systemd.stopping("stopping");
        self.set_summary(Phase::Stopping, "stopping".into());
        self.write_status();
        if let Some(child) = self.child.take() {
            child.stop(self.cfg.k3s.stop_grace()).await;
        }
        self.remove_token_file();
        self.status.k3s.state = "stopped".into();
        self.restart_at = None;
        self.write_status();
    }
}
