//! `daas-demo suite`: the end-to-end scenarios and the reliability and security suite,
//! run against a [`World`] of the real binaries (`daas-sandbox chain`, `daas-k3s
//! server`, `daas-master`, `daas-agent` with `daas-k3s agent` as its k3s). Each scenario
//! checks its own outcome and returns a [`Row`]: what was tried, the load, the faults
//! and crashes injected, the result and its figures. `--report FILE` writes them as
//! `docs/RELIABILITY.md`'s table; `--json FILE` as JSON (what the tests read).
//!
//! Two sizes: `ci` (what the test command runs) and `full` (the figures of
//! docs/RELIABILITY.md; behind `#[ignore]` in the tests).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::world::{Bins, World, WorldOpts};

mod audit;
mod e2e;
mod hostile;
mod proxy;
mod reliability;

/// Runs the end-to-end scenarios and the reliability and security suite on the real
/// binaries, and prints (and optionally writes) the table of what was tried.
///
/// Example: `daas-demo suite --size full --report docs/RELIABILITY.md`
#[derive(Debug, clap::Args)]
pub struct SuiteArgs {
    /// `ci` (small loads, what CI runs) or `full` (the loads of docs/RELIABILITY.md).
    #[arg(long, default_value = "ci", value_parser = parse_size)]
    size: Size,
    /// Scenarios to run (default: all); `--list` names them.
    scenarios: Vec<String>,
    /// Print the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// The folder holding daas-agent, daas-master, daas-sandbox and daas-k3s (default:
    /// this binary's folder, where `cargo build --bins` puts them).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Write the results as Markdown (docs/RELIABILITY.md).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// How big the loads are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Ci,
    Full,
}

impl Size {
    /// `ci` or `full`.
    pub fn word(self) -> &'static str {
        match self {
            Size::Ci => "ci",
            Size::Full => "full",
        }
    }

    /// `ci` in CI, `full` otherwise.
    pub fn pick<T>(self, ci: T, full: T) -> T {
        match self {
            Size::Ci => ci,
            Size::Full => full,
        }
    }
}

fn parse_size(s: &str) -> Result<Size, String> {
    match s {
        "ci" => Ok(Size::Ci),
        "full" => Ok(Size::Full),
        other => Err(format!("{other:?}: use ci or full")),
    }
}

/// What a scenario gets.
pub struct Ctx {
    pub bins: Bins,
    pub size: Size,
}

impl Ctx {
    /// A world of separate processes with `opts`, its master running.
    pub async fn world(&self, opts: WorldOpts) -> anyhow::Result<World> {
        let mut w = World::start(self.bins.clone(), opts).await?;
        w.start_master().await?;
        Ok(w)
    }
}

/// One line of the table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The scenario.
    pub name: String,
    /// What was tried, in a sentence.
    pub tried: String,
    /// Boards, registrations, requests.
    pub load: String,
    /// Faults, crashes and hostile inputs injected.
    pub injected: String,
    /// What came out (filled in from the checks).
    pub result: String,
    /// Figures, as `key=value`.
    pub figures: Vec<(String, String)>,
    pub passed: bool,
    pub seconds: f64,
}

impl Row {
    fn new(name: &str, tried: &str, load: String, injected: String) -> Row {
        Row {
            name: name.into(),
            tried: tried.into(),
            load,
            injected,
            ..Row::default()
        }
    }

    /// Records a figure.
    pub fn fig(&mut self, key: &str, value: impl std::fmt::Display) {
        self.figures.push((key.into(), value.to_string()));
    }
}

type ScenarioFn = for<'a> fn(
    &'a Ctx,
    &'a mut Row,
) -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// A scenario: its name, its sentence, its load and injection per size, its body.
struct Scenario {
    name: &'static str,
    tried: &'static str,
    load: fn(Size) -> String,
    injected: fn(Size) -> String,
    run: ScenarioFn,
}

macro_rules! scenario {
    ($name:literal, $tried:literal, $load:expr, $injected:expr, $f:path) => {
        Scenario {
            name: $name,
            tried: $tried,
            load: $load,
            injected: $injected,
            run: |ctx, row| Box::pin($f(ctx, row)),
        }
    };
}

fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!(
            "flow-jsonrpc",
            "the demo flow over JSON-RPC: register, mint, seal, open on the board, check the CA, join, activate",
            |_| "3 boards".into(),
            |_| "none".into(),
            e2e::flow_jsonrpc
        ),
        scenario!(
            "flow-graphql",
            "the demo flow over GraphQL",
            |_| "3 boards".into(),
            |_| "none".into(),
            e2e::flow_graphql
        ),
        scenario!(
            "rotation",
            "`daas-master rotate` re-issues to an Active worker; the agent restarts k3s on the new token",
            |_| "2 boards, 1 rotated".into(),
            |_| "none".into(),
            e2e::rotation
        ),
        scenario!(
            "slash",
            "`daas-master slash`: the agent stops k3s, the master deletes token, Node and password Secret and denies the name; the kept kubelet certificate cannot bring the Node back",
            |_| "2 boards, 1 slashed".into(),
            |_| "a k3s agent restarted on the slashed board's kept certificate and token".into(),
            e2e::slash
        ),
        scenario!(
            "unstake-rejoin",
            "unstake → Revoked → withdraw after the cooldown → the same node_id registered again joins (off the deny-list)",
            |_| "1 board, 2 registrations".into(),
            |_| "a k3s agent restarted on the board's kept certificate and token".into(),
            e2e::unstake_rejoin
        ),
        scenario!(
            "leaked-token",
            "a board's bootstrap token, leaked before the board joins, used under another node name",
            |_| "1 board + 1 thief".into(),
            |_| "the leaked token in a second k3s agent".into(),
            e2e::leaked_token
        ),
        scenario!(
            "hostile-endpoint",
            "a hostile RPC endpoint first in the board's list, the honest sandbox second",
            |_| "2 boards".into(),
            |_| {
                "forged envelope under an uncertified key; fake Slashed; another worker's envelope; a replayed older envelope; malformed and 32 MiB bodies".into()
            },
            hostile::hostile_endpoint
        ),
        scenario!(
            "hostile-input",
            "hostile inputs at the command lines, configs and the chain",
            |_| "1 board".into(),
            |_| {
                "unicode and overlong node ids, bad configs (agent, master), a malformed and an oversized RPC body".into()
            },
            hostile::hostile_input
        ),
        scenario!(
            "rpc-chaos",
            "boards join through a misbehaving chain",
            |s| format!("{} boards", s.pick(5, 20)),
            |_| format!("--faults {} --read-lag 2", reliability::CHAOS),
            reliability::rpc_chaos
        ),
        scenario!(
            "master-kill",
            "`kill -9` of the master at random moments during a stream of registrations, restarted each time",
            |s| format!("{} registrations", s.pick(30, 200)),
            |s| format!("{} × kill -9", s.pick(3, 20)),
            reliability::master_kill
        ),
        scenario!(
            "stand-in-restarts",
            "the sandbox chain and daas-k3s server restarted while boards join (state folders kept)",
            |s| format!("{} boards", s.pick(3, 10)),
            |_| "chain restart, k3s server restart".into(),
            reliability::stand_in_restarts
        ),
        scenario!(
            "agent-kill",
            "`kill -9` of a board's agent while k3s runs, then its restart",
            |s| format!("{} boards", s.pick(1, 3)),
            |s| format!("{} × kill -9 of an agent", s.pick(1, 3)),
            reliability::agent_kill
        ),
        scenario!(
            "secrets-audit",
            "after a run with a rotation: every log line, /proc/<pid>/cmdline and environ of every process, the chain's objects, events and state folder, the master's database and HTTP pages, every state file — searched for every join token, node password and private key",
            |_| "2 boards, 1 rotation".into(),
            |_| "none".into(),
            audit::secrets_audit
        ),
    ]
}

/// `daas-demo suite …`.
pub fn main(args: SuiteArgs) -> ExitCode {
    if args.list {
        for s in scenarios() {
            println!("{:<18} {}", s.name, s.tried);
        }
        return ExitCode::SUCCESS;
    }
    let all = scenarios();
    let names: Vec<&str> = all.iter().map(|s| s.name).collect();
    for s in &args.scenarios {
        if !names.contains(&s.as_str()) {
            eprintln!(
                "daas-demo suite: no scenario {s:?}; they are: {}",
                names.join(", ")
            );
            return ExitCode::from(64);
        }
    }
    let bins = match Bins::locate(args.bin_dir.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("daas-demo suite: {e:#}");
            return ExitCode::from(66);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("daas-demo suite: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = Ctx {
        bins,
        size: args.size,
    };
    let mut rows = Vec::new();
    for s in all
        .iter()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.iter().any(|n| n == s.name))
    {
        let mut row = Row::new(s.name, s.tried, (s.load)(ctx.size), (s.injected)(ctx.size));
        let t0 = Instant::now();
        let out = rt.block_on((s.run)(&ctx, &mut row));
        row.seconds = t0.elapsed().as_secs_f64();
        match out {
            Ok(()) => row.passed = true,
            Err(e) => {
                row.passed = false;
                row.result = format!("FAILED: {e:#}");
            }
        }
        let figs: Vec<String> = row
            .figures
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "suite: scenario={} size={} result={} seconds={:.1} {}",
            row.name,
            ctx.size.word(),
            if row.passed { "pass" } else { "FAIL" },
            row.seconds,
            figs.join(" ")
        );
        if !row.passed {
            eprintln!("suite: {}: {}", row.name, row.result);
        }
        rows.push(row);
    }
    let mut code = if rows.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if let Some(path) = &args.json
        && let Err(e) = write_json(path, ctx.size, &rows)
    {
        eprintln!("daas-demo suite: --json {}: {e:#}", path.display());
        code = ExitCode::FAILURE;
    }
    if let Some(path) = &args.report
        && let Err(e) = write_report(path, ctx.size, &rows)
    {
        eprintln!("daas-demo suite: --report {}: {e:#}", path.display());
        code = ExitCode::FAILURE;
    }
    code
}

fn write_json(path: &std::path::Path, size: Size, rows: &[Row]) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let figures: serde_json::Map<String, serde_json::Value> = r
                .figures
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::json!({
                "name": r.name, "tried": r.tried, "load": r.load, "injected": r.injected,
                "result": r.result, "figures": figures, "passed": r.passed, "seconds": r.seconds,
            })
        })
        .collect();
    let v = serde_json::json!({ "size": size.word(), "scenarios": rows });
    std::fs::write(path, serde_json::to_vec_pretty(&v)?)?;
    Ok(())
}

/// docs/RELIABILITY.md: the table, then the fuzzing figures of the last `fuzz/run`
/// (`target/reliability/fuzz.json`), if there are any.
fn write_report(path: &std::path::Path, size: Size, rows: &[Row]) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut md = String::new();
    let date = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC");
    let _ = write!(
        md,
        "# Reliability and security\n\n\
         What the suite tried against the real binaries (`daas-sandbox chain`, `daas-k3s server`,\n\
         `daas-master`, `daas-agent` supervising `daas-k3s agent`, each its own process on\n\
         127.0.0.1) and what came out. Generated by `demo/suite --size {size} --report docs/RELIABILITY.md`\n\
         on {date}, on a {cores}-core machine; do not edit by hand. The `ci` size of the same\n\
         scenarios runs in the test command (`demo/tests/it/suite.rs`).\n\n\
         | scenario | what was tried | load | injected | result | seconds |\n\
         |---|---|---|---|---|---|\n",
        size = size.word(),
        cores = std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    for r in rows {
        let figs: Vec<String> = r.figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let result = if r.passed {
            format!("pass: {} ({})", r.result, figs.join(", "))
        } else {
            r.result.clone()
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.1} |",
            r.name,
            cell(&r.tried),
            cell(&r.load),
            cell(&r.injected),
            cell(&result),
            r.seconds
        );
    }
    md.push_str(&fuzz_section());
    std::fs::write(path, md)?;
    Ok(())
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn fuzz_section() -> String {
    use std::fmt::Write as _;
    let path = std::path::Path::new("target/reliability/fuzz.json");
    let mut md = String::from("\n## Fuzzing\n\n");
    let Ok(text) = std::fs::read_to_string(path) else {
        md.push_str(
            "No figures: run `fuzz/run` (each target for 60 s) before regenerating this file.\n",
        );
        return md;
    };
    let Ok(serde_json::Value::Array(runs)) = serde_json::from_str(&text) else {
        let _ = writeln!(
            md,
            "`{}` is not the JSON array `fuzz/run` writes.",
            path.display()
        );
        return md;
    };
    md.push_str("From the last `fuzz/run` (`target/reliability/fuzz.json`):\n\n| target | seconds | executions | corpus | crashes |\n|---|---|---|---|---|\n");
    for r in runs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            r["target"].as_str().unwrap_or("?"),
            r["seconds"],
            r["execs"],
            r["corpus"],
            r["crashes"]
        );
    }
    md
}

// ---- helpers the scenarios share ----

/// Adds `n` boards, registers them, starts their agents and waits until every one is
/// Active on chain and its Node Ready; returns their indices.
pub async fn join_boards(
    w: &mut World,
    n: usize,
    label: &str,
    endpoints: Option<Vec<String>>,
    limit: Duration,
) -> anyhow::Result<Vec<usize>> {
    let idx = w.add_boards(n, label, endpoints).await?;
    w.register(&idx).await?;
    for &i in &idx {
        w.start_agent(i)?;
    }
    wait_joined(w, &idx, limit).await?;
    Ok(idx)
}

/// Waits until boards `idx` are Active and their Nodes Ready.
pub async fn wait_joined(w: &World, idx: &[usize], limit: Duration) -> anyhow::Result<()> {
    let names: Vec<&str> = idx.iter().map(|&i| w.boards[i].node_id.as_str()).collect();
    w.wait_active_and_ready(&names, limit)
        .await
        .with_context(|| {
            let lines: Vec<String> = idx
                .iter()
                .map(|&i| {
                    let b = &w.boards[i];
                    format!(
                        "{}: {}",
                        b.node_id,
                        b.status()
                            .map_or("no status".into(), |s| s["summary"].to_string())
                    )
                })
                .collect();
            lines.join("; ")
        })
}

/// Runs `daas-master ARGS`; its exit code, stdout and stderr.
pub async fn master_cli(w: &World, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    run_cli(&w.bins().master, args).await
}

/// Runs `daas-agent ARGS`.
pub async fn agent_cli(w: &World, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    run_cli(&w.bins().agent, args).await
}

async fn run_cli(bin: &std::path::Path, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let out = tokio::process::Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", bin.display()))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `daas-master ARGS` must succeed; its stdout.
pub async fn master_ok(w: &World, args: &[&str]) -> anyhow::Result<String> {
    let (code, out, err) = master_cli(w, args).await?;
    if code != 0 {
        bail!("daas-master {} exited {code}:\n{err}", args.join(" "));
    }
    Ok(out)
}

/// `daas-master register` of `node_id` with `seal_token` and 1 SUI, signed with
/// `owner_key`: its exit code, stdout and stderr.
pub async fn register_cli(
    w: &World,
    owner_key: &str,
    node_id: &str,
    seal_token: &str,
) -> anyhow::Result<(i32, String, String)> {
    let config = w.master_config.display().to_string();
    master_cli(
        w,
        &[
            "register",
            "--config",
            &config,
            "--key",
            owner_key,
            "--node-id",
            node_id,
            "--seal-token",
            seal_token,
            "--stake",
            "1SUI",
        ],
    )
    .await
}

/// The names on the cluster's deny-list (every `k8s-daas-revoked-*` shard).
pub async fn denied(w: &World) -> anyhow::Result<Vec<String>> {
    use k8s_openapi::api::core::v1::ConfigMap;
    let maps: kube::Api<ConfigMap> = kube::Api::namespaced(w.kube.clone(), "kube-system");
    let list = maps
        .list(&kube::api::ListParams::default().labels("k8s-daas.io/revoked-nodes=true"))
        .await?;
    Ok(list
        .items
        .into_iter()
        .flat_map(|m| m.data.unwrap_or_default().into_keys())
        .collect())
}

/// Whether a process `pid` exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next())
        })
        .is_some_and(|state| state != Some('Z'))
}

/// The pids of every `daas-k3s agent` running with `--node-name NAME`.
pub fn k3s_agents_named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
            args.first().is_some_and(|a| a.ends_with(b"daas-k3s"))
                && args.get(1).is_some_and(|a| *a == b"agent")
                && args
                    .windows(2)
                    .any(|p| p[0] == b"--node-name" && p[1] == name.as_bytes())
                && alive(*pid)
        })
        .collect()
}

/// The parent pid of `pid`.
pub fn parent_of(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
