//! `daas-demo up`: the whole flow on one machine. The sandbox chain and the k3s
//! stand-in's server run in this process; the real master and one real `daas-agent`
//! per board run as child processes (this binary under other names, see
//! [`crate::multicall`]), each board with its own file tree and its own supervised
//! `k3s agent`. Every board's owner registers it through the real transaction path
//! (`stake_and_register_worker`, signed and sent to the chain), and the demo watches
//! what happens — from the chain's events, the master's `/api/workers`, each agent's
//! log and the cluster's Nodes — printing a line per step as it happens, then a
//! timeline per board and a summary table.
//!
//! The boards' trees stand in for `/etc`, `/var/lib` and `/run` of a real board (keys
//! 0600 in 0700, the token file 0600); they live in a private temporary folder that is
//! removed when the demo ends.
//!
//! `--agent-bin` and `--agent-runner` run the boards' agent from another build (a static
//! cross build under qemu, for `cross/smoke`), and `--summary-json` writes what a run
//! ended with for a machine to compare.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use daas_protocol::config::TransportKind;
use daas_protocol::onchain::WorkerStatus;
use daas_protocol::{NodeId, ObjectId, SealToken};
use daas_sandbox::faults::Faults;

use crate::multicall;
use crate::stage::{Stage, Tally, endpoint, parse_transport};

/// Run the whole flow: chain, cluster, master and N boards, until every board is a
/// Ready node and an Active worker.
///
/// Example: `cargo run --release -p daas-demo -- up --workers 5 --transport graphql`
#[derive(Debug, clap::Args)]
pub struct Up {
    /// Boards to join (1–100), each with its own agent, keys and k3s.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    workers: u16,
    /// How the master and the agents talk to the chain: `jsonrpc` or `graphql`.
    #[arg(long, default_value = "jsonrpc", value_parser = parse_transport)]
    transport: TransportKind,
    /// Faults the sandbox chain injects into its answers, e.g. `429:0.05,5xx:0.02,latency:20ms`
    /// (kinds: 429, 5xx, timeout, malformed, drop, latency; see sandbox/README.md).
    #[arg(long, value_name = "SPEC")]
    faults: Option<Faults>,
    /// Seconds until the demo gives up on a board that is not Ready and Active.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    deadline: u64,
    /// Leave everything running after the summary (prints how to look at it);
    /// Ctrl-C stops it.
    #[arg(long)]
    keep: bool,
    /// The boards' `daas-agent` (default: this binary, as `bin/daas-agent`), e.g. a
    /// static cross build: `--agent-bin target/dist/aarch64-unknown-linux-musl/daas-agent`.
    /// It runs `init`, `run` and `status`; the `k3s` it starts stays this binary's.
    #[arg(long, value_name = "PATH", value_parser = parse_agent_bin)]
    agent_bin: Option<PathBuf>,
    /// A command the boards' agent runs under, its words split at spaces, e.g.
    /// `--agent-runner qemu-aarch64-static` for an aarch64 `--agent-bin`.
    #[arg(long, value_name = "CMD", value_parser = parse_runner)]
    agent_runner: Option<Runner>,
    /// When every board has joined, write per board its worker (status, token
    /// version), its agent's `status --json` and the exit codes of the agent's `init`,
    /// `status` and `run` (after its SIGTERM) to FILE as JSON.
    #[arg(long, value_name = "FILE", value_parser = parse_summary_path)]
    summary_json: Option<PathBuf>,
}

fn parse_agent_bin(s: &str) -> Result<PathBuf, String> {
    let p = Path::new(s);
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() => std::path::absolute(p).map_err(|e| format!("{s}: {e}")),
        Ok(_) => Err(format!("{s}: not a file")),
        Err(e) => Err(format!(
            "{s}: {e} (build one with `cross/build aarch64`, into target/dist/)"
        )),
    }
}

/// A command prefix: the program and its first arguments.
#[derive(Debug, Clone)]
struct Runner(Vec<String>);

fn parse_runner(s: &str) -> Result<Runner, String> {
    let words: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    let Some(prog) = words.first() else {
        return Err("empty: give a command, e.g. qemu-aarch64-static".into());
    };
    let found = if prog.contains('/') {
        Path::new(prog).is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(prog).is_file()))
    };
    if found {
        Ok(Runner(words))
    } else {
        Err(format!(
            "{prog}: not found{} (qemu-aarch64-static is in Debian's qemu-user-static)",
            if prog.contains('/') { "" } else { " on PATH" }
        ))
    }
}

fn parse_summary_path(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if parent.is_dir() {
        Ok(p)
    } else {
        Err(format!("{}: no such folder", parent.display()))
    }
}

/// How the boards' agent is started: `[runner…] bin ARGS…`.
struct AgentCmd {
    runner: Vec<String>,
    bin: PathBuf,
}

impl AgentCmd {
    fn command(&self) -> std::process::Command {
        match self.runner.split_first() {
            Some((prog, args)) => {
                let mut c = std::process::Command::new(prog);
                c.args(args).arg(&self.bin);
                c
            }
            None => std::process::Command::new(&self.bin),
        }
    }

    /// The command line, for people and for the summary.
    fn shown(&self) -> String {
        let mut words = self.runner.clone();
        words.push(self.bin.display().to_string());
        words.join(" ")
    }

    /// Fails unless `--version` says `daas-agent …`: a wrong `--agent-bin` or a
    /// missing `--agent-runner` is told at once, not as a board that never joins.
    async fn check(&self) -> Result<(), String> {
        let hint = "give a daas-agent binary (e.g. target/dist/aarch64-unknown-linux-musl/daas-agent \
                    from `cross/build aarch64`) and, for another architecture, --agent-runner \
                    (e.g. qemu-aarch64-static)";
        let out = tokio::process::Command::from(self.command())
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run `{} --version`: {e}: {hint}", self.shown()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.starts_with("daas-agent ") {
            Ok(())
        } else {
            let printed = format!(
                "{}{}",
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            Err(format!(
                "`{} --version` ({}) printed {printed:?}, not `daas-agent …`: {hint}",
                self.shown(),
                out.status,
            ))
        }
    }
}

/// A child's exit code, 128 + the signal's number for a signal (as a shell says).
fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// What a board goes through, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Registered,
    Noticed,
    Minted,
    OnChain,
    Opened,
    CaChecked,
    K3sStarted,
    NodeReady,
    Activated,
}

impl Step {
    const ALL: [Step; 9] = [
        Step::Registered,
        Step::Noticed,
        Step::Minted,
        Step::OnChain,
        Step::Opened,
        Step::CaChecked,
        Step::K3sStarted,
        Step::NodeReady,
        Step::Activated,
    ];

    fn what(self) -> &'static str {
        match self {
            Step::Registered => "registered: stake and seal token on chain (owner's transaction)",
            Step::Noticed => "noticed by the master",
            Step::Minted => "bootstrap token minted through the Kubernetes API",
            Step::OnChain => "sealed envelope on chain (set_join_token)",
            Step::Opened => "envelope verified and opened on the board",
            Step::CaChecked => "cluster CA checked against the token's hash",
            Step::K3sStarted => "k3s agent started by daas-agent",
            Step::NodeReady => "Node Ready in the cluster",
            Step::Activated => "worker Active on chain (activate_worker)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Step::Registered => "registered",
            Step::Noticed => "noticed",
            Step::Minted => "minted",
            Step::OnChain => "on chain",
            Step::Opened => "opened",
            Step::CaChecked => "CA checked",
            Step::K3sStarted => "k3s started",
            Step::NodeReady => "Ready",
            Step::Activated => "active",
        }
    }

    /// The agent's log line that marks this step.
    fn agent_line(self) -> Option<&'static str> {
        match self {
            Step::Opened => Some("verified and opened the join envelope"),
            Step::CaChecked => Some("the cluster CA matches the token's hash"),
            Step::K3sStarted => Some("k3s agent started"),
            _ => None,
        }
    }
}

/// One board: its file tree, its agent process, what was seen of it.
struct Board {
    node_id: NodeId,
    token: SealToken,
    owner: usize,
    root: PathBuf,
    config: PathBuf,
    status_file: PathBuf,
    log: PathBuf,
    log_read: usize,
    agent: Option<std::process::Child>,
    /// Exit codes of the agent's `init`, `status --json` and `run` (after its SIGTERM).
    init_exit: i32,
    status_exit: Option<i32>,
    run_exit: Option<i32>,
    /// `daas-agent status --json`, read while joined (`--summary-json` only).
    status: Option<serde_json::Value>,
    worker: Option<ObjectId>,
    token_version: u64,
    /// When the demo first saw each step (since the registrations).
    seen: [Option<Duration>; 9],
    /// When each step happened by its own source's clock (wall ms), where it has one:
    /// the chain's event times, the master's `first_seen_ms`, the agent's log times.
    at_ms: [Option<u64>; 9],
}

impl Board {
    fn reached(&self, s: Step) -> bool {
        self.seen[s as usize].is_some()
    }

    fn done(&self) -> bool {
        self.reached(Step::NodeReady) && self.reached(Step::Activated)
    }

    /// Records `s` at `at` (and any earlier step not yet seen: it happened before,
    /// between two looks). Returns the steps newly recorded.
    fn record(&mut self, s: Step, at: Duration) -> Vec<Step> {
        let mut new = Vec::new();
        for earlier in Step::ALL.into_iter().filter(|e| *e <= s) {
            if self.seen[earlier as usize].is_none() {
                self.seen[earlier as usize] = Some(at);
                new.push(earlier);
            }
        }
        new
    }

    /// The timeline: each step at its source's time where known (else when it was
    /// seen), never before the step ahead of it.
    fn timeline(&self, t0_ms: u64) -> [Duration; 9] {
        let mut out = [Duration::ZERO; 9];
        let mut last = Duration::ZERO;
        for s in Step::ALL {
            let i = s as usize;
            let own = self.at_ms[i].map(|ms| Duration::from_millis(ms.saturating_sub(t0_ms)));
            let seen = self.seen[i].unwrap_or(last);
            // A source's time is at most when the demo saw it (clocks are the same
            // machine's, but the chain's are checkpoint times).
            let t = own.map_or(seen, |o| o.min(seen)).max(last);
            out[i] = t;
            last = t;
        }
        out
    }
}

/// The agents, stopped with SIGTERM (each stops its k3s first) however the demo ends.
struct Boards(Vec<Board>);

impl Boards {
    fn stop(&mut self) {
        for b in &self.0 {
            if let Some(c) = &b.agent {
                signal(c.id(), nix::sys::signal::Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for b in &mut self.0 {
            if let Some(mut c) = b.agent.take() {
                loop {
                    match c.try_wait() {
                        Ok(Some(st)) => {
                            b.run_exit = Some(exit_code(st));
                            break;
                        }
                        Err(_) => break,
                        Ok(None) if Instant::now() > deadline => {
                            signal(c.id(), nix::sys::signal::Signal::SIGKILL);
                            b.run_exit = c.wait().ok().map(exit_code);
                            break;
                        }
                        Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
        }
    }
}

impl Drop for Boards {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `sig` to the process group `pid` leads (the agent; k3s has its own group,
/// which the agent stops). `ESRCH` (already gone) is fine.
fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    let _ = nix::sys::signal::killpg(pid, sig);
}

/// Prints step lines, and on a terminal a progress line under them.
struct Out {
    tty: bool,
    progress: bool,
}

impl Out {
    fn line(&mut self, s: &str) {
        let mut o = std::io::stdout().lock();
        if self.progress {
            let _ = write!(o, "\r\x1b[2K");
            self.progress = false;
        }
        let _ = writeln!(o, "{s}");
    }

    fn progress(&mut self, s: &str) {
        if self.tty {
            let mut o = std::io::stdout().lock();
            let _ = write!(o, "\r\x1b[2K{s}");
            let _ = o.flush();
            self.progress = true;
        }
    }
}

pub fn main(up: Up) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("daas-demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(up)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("daas-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(up: Up) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    // Installed first, so a Ctrl-C at any point is seen (and the boards are stopped).
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let n = usize::from(up.workers);
    let t_start = Instant::now();
    let mut out = Out {
        tty: std::io::stdout().is_terminal(),
        progress: false,
    };
    let faults = up.faults.clone().unwrap_or_else(Faults::none);
    let mut stage = Stage::start(up.transport, n.min(10), faults).await?;
    let bin = stage.dir.path().join("bin");
    std::fs::create_dir(&bin)?;
    let exe = std::env::current_exe().context("finding this binary")?;
    for name in [multicall::AGENT, multicall::K3S] {
        std::os::unix::fs::symlink(&exe, bin.join(name))
            .with_context(|| format!("linking {}", bin.join(name).display()))?;
    }
    let agent = AgentCmd {
        runner: up.agent_runner.clone().map(|r| r.0).unwrap_or_default(),
        bin: up
            .agent_bin
            .clone()
            .unwrap_or_else(|| bin.join(multicall::AGENT)),
    };
    if let Err(e) = agent.check().await {
        eprintln!("daas-demo: the boards' agent (--agent-bin, --agent-runner): {e}");
        return Ok(ExitCode::from(64));
    }
    out.line(&format!(
        "chain   sandbox {} at {} (chain id {})",
        transport_name(up.transport),
        endpoint(&stage.info, up.transport),
        stage.chain_id
    ));
    out.line(&format!("cluster daas-k3s server at {}", stage.k3s.url));

    stage.start_master().await?;
    let master = stage
        .master_http()
        .context("the master's log does not say where it listens")?;
    out.line(&format!(
        "master  daas-master, API http://{master}/api/workers"
    ));

    // The boards: keys made on each by `daas-agent init`, then the agent started.
    let mut boards = Boards(Vec::with_capacity(n));
    for i in 0..n {
        let b = board(&stage, &agent, &bin, i, up.transport).await?;
        boards.0.push(b);
    }
    for b in &mut boards.0 {
        b.agent = Some(start_agent(&agent, b)?);
    }
    out.line(&format!(
        "boards  {n} × daas-agent (each supervising its own k3s agent), started in {:.1} s",
        t_start.elapsed().as_secs_f64()
    ));
    out.line("");

    // The owners register their boards: one transaction per owner, all at once.
    let t0 = Instant::now();
    let t0_ms = daas_master::service::now_ms();
    let regs: Vec<_> = boards
        .0
        .iter()
        .map(|b| (b.owner, &b.node_id, &b.token))
        .collect();
    stage
        .register_each(&regs)
        .await
        .context("registering the boards")?;
    let registered_at = t0.elapsed();
    for i in 0..boards.0.len() {
        for s in boards.0[i].record(Step::Registered, registered_at) {
            step_line(&mut out, &boards.0[i], s, registered_at);
        }
    }

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut tally = Tally::default();
    let deadline = t0 + Duration::from_secs(up.deadline);
    let interrupted = loop {
        observe(&stage, &mut tally, &http, master, &mut boards, t0, &mut out).await;
        let done = boards.0.iter().filter(|b| b.done()).count();
        if done == n {
            break false;
        }
        if Instant::now() > deadline {
            out.line("");
            out.line(&format!(
                "gave up after {} s: {} of {n} boards are Ready and Active",
                up.deadline, done
            ));
            for b in boards.0.iter().filter(|b| !b.done()) {
                let next = Step::ALL
                    .into_iter()
                    .find(|s| !b.reached(*s))
                    .map_or("", Step::short);
                out.line(&format!(
                    "{} never got to {next}; the end of its agent's log:",
                    b.node_id
                ));
                for l in tail(&b.log, 8) {
                    out.line(&format!("    {l}"));
                }
            }
            out.line("the end of the master's log:");
            for l in tail(&stage.log_path, 12) {
                out.line(&format!("    {l}"));
            }
            return Ok(ExitCode::FAILURE);
        }
        let counts: Vec<String> = [Step::OnChain, Step::NodeReady, Step::Activated]
            .into_iter()
            .map(|s| {
                let k = boards.0.iter().filter(|b| b.reached(s)).count();
                format!("{k}/{n} {}", s.short())
            })
            .collect();
        out.progress(&format!(
            "  {:5.1} s  {}",
            t0.elapsed().as_secs_f64(),
            counts.join(" · ")
        ));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = int.recv() => break true,
            _ = term.recv() => break true,
        }
    };
    if interrupted {
        out.line("interrupted: stopping the boards, the master and the stand-ins");
        boards.stop();
        stage.stop_master().await?;
        return Ok(ExitCode::from(130));
    }

    out.line("");
    for b in &boards.0 {
        out.line(&format!(
            "{}  (worker {}, owner {})",
            b.node_id,
            b.worker.map(|w| w.to_string()).unwrap_or_default(),
            stage.accounts[b.owner].address()
        ));
        let mut last = Duration::ZERO;
        for (s, at) in Step::ALL.into_iter().zip(b.timeline(t0_ms)) {
            out.line(&format!(
                "  {:6.2} s  (+{:4.2})  {}",
                at.as_secs_f64(),
                at.saturating_sub(last).as_secs_f64(),
                s.what()
            ));
            last = at;
        }
    }
    out.line("");
    summary(&mut out, &boards.0, &tally, t0_ms);
    if up.summary_json.is_some() {
        for b in &mut boards.0 {
            read_status(&agent, b, deadline).await?;
        }
    }

    if up.keep {
        out.line("");
        out.line("running; Ctrl-C stops everything");
        out.line(&format!("  JSON-RPC    {}", stage.info.rpc_url));
        out.line(&format!("  GraphQL     {}", stage.info.graphql_url));
        out.line(&format!(
            "  kubectl     kubectl --kubeconfig {} get nodes",
            stage.k3s.kubeconfig.display()
        ));
        out.line(&format!(
            "  a board     {} status --config {}",
            agent.shown(),
            boards.0[0].config.display()
        ));
        out.line(&format!("  dashboard   http://{master}/"));
        out.line(&format!(
            "  master      http://{master}/api/workers  http://{master}/metrics"
        ));
        out.line(&format!(
            "  logs        {} (master.log, boards/*/agent.log)",
            stage.dir.path().display()
        ));
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        out.line("stopping the boards, the master and the stand-ins");
    }
    boards.stop();
    stage.stop_master().await?;
    if let Some(path) = &up.summary_json {
        let v = summary_json(&up, &agent, &boards.0, &tally);
        let text = serde_json::to_string_pretty(&v)? + "\n";
        std::fs::write(path, text)
            .with_context(|| format!("writing --summary-json {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `daas-agent status --json` for `b`, through the boards' runner, once its agent has
/// seen its worker Active (its status file lags the chain by up to one poll) or at
/// `deadline`: what it reports is then the same however fast the agent runs.
async fn read_status(agent: &AgentCmd, b: &mut Board, deadline: Instant) -> anyhow::Result<()> {
    while Instant::now() < deadline {
        let seen = std::fs::read(&b.status_file)
            .ok()
            .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["chain_status"] == "active");
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = tokio::process::Command::from(agent.command())
        .arg("status")
        .arg("--config")
        .arg(&b.config)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running `{} status`", agent.shown()))?;
    b.status_exit = Some(exit_code(out.status));
    b.status = serde_json::from_slice(&out.stdout).ok();
    Ok(())
}

/// What `--summary-json` writes (demo/README.md shows it).
fn summary_json(up: &Up, agent: &AgentCmd, boards: &[Board], tally: &Tally) -> serde_json::Value {
    let boards: Vec<_> = boards
        .iter()
        .map(|b| {
            serde_json::json!({
                "node_id": b.node_id.as_str(),
                "worker_id": b.worker.map(|w| w.to_string()),
                "worker_status": worker_status(b, tally).name(),
                "token_version": b.token_version,
                "agent_status": b.status,
                "exit": {
                    "init": b.init_exit,
                    "status": b.status_exit,
                    "run": b.run_exit,
                },
            })
        })
        .collect();
    serde_json::json!({
        "workers": up.workers,
        "transport": transport_name(up.transport),
        "agent": agent.shown(),
        "boards": boards,
    })
}

fn worker_status(b: &Board, tally: &Tally) -> WorkerStatus {
    b.worker
        .and_then(|w| tally.status.get(&w))
        .map_or(WorkerStatus::Pending, |s| {
            WorkerStatus::from_u8(*s).unwrap_or(WorkerStatus::Pending)
        })
}

fn transport_name(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Jsonrpc => "JSON-RPC",
        _ => "GraphQL",
    }
}

fn step_line(out: &mut Out, b: &Board, s: Step, at: Duration) {
    let extra = match s {
        Step::OnChain | Step::Opened if b.token_version > 0 => {
            format!(" (token version {})", b.token_version)
        }
        _ => String::new(),
    };
    out.line(&format!(
        "  {:6.2} s  {:<28} {}{extra}",
        at.as_secs_f64(),
        b.node_id.as_str(),
        s.short()
    ));
}

/// Makes board `i`'s tree, its keys (`daas-agent init`) and its `agent.toml`.
async fn board(
    stage: &Stage,
    agent: &AgentCmd,
    bin: &Path,
    i: usize,
    transport: TransportKind,
) -> anyhow::Result<Board> {
    use std::os::unix::fs::PermissionsExt as _;
    let root = stage.dir.path().join("boards").join(i.to_string());
    let p = |s: &str| root.join(s);
    for d in crate::configs::BOARD_DIRS {
        std::fs::create_dir_all(p(d))?;
    }
    let owner = i % stage.accounts.len();
    let key_dir = p("var/lib/k8s-daas");
    let init = tokio::process::Command::from(agent.command())
        .args(["init", "--label", &format!("board{i}"), "--dir"])
        .arg(&key_dir)
        .arg("--registry")
        .arg(stage.registry_id.to_string())
        .arg("--owner")
        .arg(stage.accounts[owner].address().to_string())
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running `{} init`", agent.shown()))?;
    if !init.status.success() {
        bail!(
            "daas-agent init for board {i}: {}",
            String::from_utf8_lossy(&init.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&init.stdout).context("daas-agent init --json")?;
    let node_id: NodeId = v["node_id"].as_str().context("init: no node_id")?.parse()?;
    let token = SealToken::from_hex(
        v["registration"]["seal_token"]
            .as_str()
            .context("init: no seal token")?,
    )?;
    let config = p("etc/k8s-daas/agent.toml");
    let status_file = p("run/k8s-daas/status.json");
    let endpoints = [endpoint(&stage.info, transport).to_string()];
    let text = crate::configs::AgentToml {
        chain: crate::configs::ChainTable {
            chain_id: stage.chain_id,
            transport,
            endpoints: &endpoints,
            package_id: stage.package_id,
            registry_id: stage.registry_id,
            request_timeout_ms: Some(3000),
        },
        root_public_key: &stage.info.root_key.public,
        root: &root,
        k3s: &bin.join(multicall::K3S),
    }
    .render();
    std::fs::write(&config, text)?;
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644))?;
    Ok(Board {
        node_id,
        token,
        owner,
        log: p("agent.log"),
        config,
        status_file,
        root,
        log_read: 0,
        agent: None,
        init_exit: exit_code(init.status),
        status_exit: None,
        run_exit: None,
        status: None,
        worker: None,
        token_version: 0,
        seen: [None; 9],
        at_ms: [None; 9],
    })
}

/// `daas-agent run` for `b`, in its own process group, its log in `agent.log`.
fn start_agent(agent: &AgentCmd, b: &Board) -> anyhow::Result<std::process::Child> {
    use std::os::unix::process::CommandExt as _;
    let log = std::fs::File::create(&b.log)?;
    crate::configs::agent_run(&mut agent.command(), &b.root, &b.config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting daas-agent for {}", b.node_id))
}

/// One look at everything; prints each step newly seen.
async fn observe(
    stage: &Stage,
    tally: &mut Tally,
    http: &reqwest::Client,
    master: std::net::SocketAddr,
    boards: &mut Boards,
    t0: Instant,
    out: &mut Out,
) {
    let mut saw: Vec<(usize, Step)> = Vec::new();
    // The chain: worker ids, envelopes, activation. A failed read (faults) is retried
    // on the next look.
    if tally.update(stage).await.is_ok() {
        let by_node: HashMap<&str, ObjectId> = tally
            .registered
            .iter()
            .map(|(w, n)| (n.as_str(), *w))
            .collect();
        for (i, b) in boards.0.iter_mut().enumerate() {
            if b.worker.is_none() {
                b.worker = by_node.get(b.node_id.as_str()).copied();
            }
            let Some(w) = b.worker else { continue };
            for (step, map) in [
                (Step::Registered, &tally.registered_ms),
                (Step::OnChain, &tally.issued_ms),
                (Step::Activated, &tally.activated_ms),
            ] {
                if let Some(ms) = map.get(&w) {
                    b.at_ms[step as usize].get_or_insert(*ms);
                }
            }
            if let Some(v) = tally
                .issued
                .iter()
                .filter(|(id, _)| *id == w)
                .map(|(_, v)| *v)
                .max()
            {
                b.token_version = v;
                saw.push((i, Step::OnChain));
            }
            if tally.activated.contains(&w) {
                saw.push((i, Step::Activated));
            }
        }
    }
    // The master: when it saw each worker and minted its token.
    if let Ok(r) = http
        .get(format!("http://{master}/api/workers"))
        .send()
        .await
        && let Ok(v) = r.json::<serde_json::Value>().await
    {
        for w in v["workers"].as_array().into_iter().flatten() {
            let (Some(id), Some(stage_name)) = (w["worker_id"].as_str(), w["stage"].as_str())
            else {
                continue;
            };
            let Some(i) = boards
                .0
                .iter()
                .position(|b| b.worker.is_some_and(|x| x.to_string() == id))
            else {
                continue;
            };
            saw.push((i, Step::Noticed));
            if let Some(ms) = w["first_seen_ms"].as_u64() {
                boards.0[i].at_ms[Step::Noticed as usize].get_or_insert(ms);
            }
            if !matches!(stage_name, "seen" | "minting") {
                saw.push((i, Step::Minted));
            }
        }
    }
    // The boards: what each agent logged.
    for (i, b) in boards.0.iter_mut().enumerate() {
        let Ok(text) = std::fs::read_to_string(&b.log) else {
            continue;
        };
        let new = text.get(b.log_read..).unwrap_or_default();
        let complete = new.rfind('\n').map_or(0, |e| e + 1);
        for line in new[..complete].lines() {
            for s in [Step::Opened, Step::CaChecked, Step::K3sStarted] {
                if s.agent_line().is_some_and(|m| line.contains(m)) {
                    saw.push((i, s));
                    if let Some(ms) = log_time_ms(line) {
                        b.at_ms[s as usize].get_or_insert(ms);
                    }
                }
            }
        }
        b.log_read += complete;
    }
    // The cluster: Ready Nodes.
    if let Ok(names) = stage.ready_nodes().await {
        for name in names {
            if let Some(i) = boards.0.iter().position(|b| b.node_id.as_str() == name) {
                saw.push((i, Step::NodeReady));
            }
        }
    }
    let at = t0.elapsed();
    saw.sort();
    for (i, s) in saw {
        for new in boards.0[i].record(s, at) {
            step_line(out, &boards.0[i], new, at);
        }
    }
}

fn summary(out: &mut Out, boards: &[Board], tally: &Tally, t0_ms: u64) {
    let rows: Vec<[String; 5]> = boards
        .iter()
        .map(|b| {
            let status = worker_status(b, tally).name().to_string();
            let secs = if b.reached(Step::NodeReady) {
                let tl = b.timeline(t0_ms);
                let (r, n) = (tl[Step::Registered as usize], tl[Step::NodeReady as usize]);
                format!("{:.2}", n.saturating_sub(r).as_secs_f64())
            } else {
                "-".into()
            };
            [
                b.node_id.to_string(),
                b.worker.map(|w| short_id(&w)).unwrap_or_default(),
                status,
                b.token_version.to_string(),
                secs,
            ]
        })
        .collect();
    let head = [
        "node",
        "worker",
        "status",
        "token version",
        "register → Ready (s)",
    ];
    let mut width = head.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let fmt = |cells: [&str; 5]| {
        cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    out.line(&fmt(head));
    for r in &rows {
        out.line(&fmt([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
}

/// `0x1234…cdef`: enough to tell workers apart in a table.
fn short_id(id: &ObjectId) -> String {
    let s = id.to_string();
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

/// The time at the start of a log line (`2026-12-01T18:49:13.123456Z  INFO …`, as
/// tracing's plain format writes it), in wall ms.
fn log_time_ms(line: &str) -> Option<u64> {
    let ts: jiff::Timestamp = line.split_whitespace().next()?.parse().ok()?;
    u64::try_from(ts.as_millisecond()).ok()
}

/// The last `n` lines of a log file.
fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_string())
        .collect()
}
