//! `daas-demo up`, run as a user runs it: the binary, its stdout, its exit code, and
//! what it leaves behind (nothing: no process, no folder); and per-device images and
//! fleet provisioning ([`fleet`]); the end-to-end scenarios and the reliability and
//! security suite on the real binaries ([`suite`]).

mod fleet;
mod suite;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEMO: &str = env!("CARGO_BIN_EXE_daas-demo");

/// Runs `daas-demo up ARGS` to its end.
fn up(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(DEMO)
        .arg("up")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The summary table's rows: (node, status, token version, seconds).
fn summary(stdout: &str) -> Vec<(String, String, String, f64)> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("node "));
    assert!(lines.next().is_some(), "no summary table in:\n{stdout}");
    lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(c.len(), 5, "summary row {l:?}");
            (
                c[0].to_string(),
                c[2].to_string(),
                c[3].to_string(),
                c[4].parse().unwrap_or_else(|_| panic!("seconds in {l:?}")),
            )
        })
        .collect()
}

/// Each board's timeline: the nine steps with their times, in order.
fn timelines(stdout: &str) -> Vec<Vec<(f64, String)>> {
    let mut out = Vec::new();
    let mut lines = stdout.lines().peekable();
    while let Some(l) = lines.next() {
        if l.contains("(worker 0x") {
            let steps: Vec<(f64, String)> = (0..9)
                .map(|_| {
                    let s = lines.next().expect("timeline line");
                    let (t, rest) = s.trim_start().split_once(" s ").expect("time");
                    let what = rest.split_once(')').expect("delta").1.trim().to_string();
                    (t.trim().parse().unwrap(), what)
                })
                .collect();
            out.push(steps);
        }
    }
    out
}

fn check_joined(code: i32, stdout: &str, stderr: &str, workers: usize) {
    assert_eq!(code, 0, "daas-demo up failed:\n{stdout}\n{stderr}");
    assert!(!stdout.contains('\r'), "progress line on a pipe:\n{stdout}");
    let rows = summary(stdout);
    assert_eq!(rows.len(), workers, "{stdout}");
    for (node, status, version, secs) in &rows {
        assert!(node.starts_with("board"), "{node}");
        assert_eq!(status, "active", "{node}:\n{stdout}");
        assert_eq!(version, "1", "{node}: one envelope each");
        assert!(*secs > 0.0, "{node}: register → Ready {secs}");
    }
    let tl = timelines(stdout);
    assert_eq!(tl.len(), workers, "{stdout}");
    for steps in &tl {
        assert!(steps[0].1.starts_with("registered"), "{steps:?}");
        assert!(
            steps[8].1.starts_with("worker Active on chain"),
            "{steps:?}"
        );
        assert!(
            steps.windows(2).all(|w| w[0].0 <= w[1].0),
            "steps out of order: {steps:?}"
        );
    }
}

#[test]
fn up_joins_every_board_over_jsonrpc() {
    let (code, stdout, stderr) = up(&["--workers", "3"]);
    check_joined(code, &stdout, &stderr, 3);
    assert!(stdout.contains("sandbox JSON-RPC"), "{stdout}");
}

#[test]
fn up_joins_over_graphql_through_faults() {
    let (code, stdout, stderr) = up(&[
        "--workers",
        "2",
        "--transport",
        "graphql",
        "--faults",
        "429:0.05,5xx:0.05,latency:5ms",
    ]);
    check_joined(code, &stdout, &stderr, 2);
    assert!(stdout.contains("sandbox GraphQL"), "{stdout}");
}

/// Runs `daas-demo up ARGS`, which must exit 64 with every one of `words` in its
/// stderr; returns its stdout.
fn refused(args: &[&str], words: &[&str]) -> String {
    let (code, stdout, stderr) = up(args);
    assert_eq!(code, 64, "{args:?}:\n{stdout}{stderr}");
    for w in words {
        assert!(stderr.contains(w), "{args:?}: no {w:?} in:\n{stderr}");
    }
    stdout
}

#[test]
fn bad_flags_exit_64_naming_the_flag() {
    refused(&["--workers", "0"], &["--workers"]);
    refused(&["--faults", "flood:0.5"], &["--faults", "flood"]);
    refused(&["--transport", "grpc"], &["--transport"]);
}

#[test]
fn summary_json_of_a_native_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("summary.json");
    let (code, stdout, stderr) = up(&["--workers", "1", "--summary-json", file.to_str().unwrap()]);
    check_joined(code, &stdout, &stderr, 1);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["workers"], 1, "{v:#}");
    assert_eq!(v["transport"], "JSON-RPC", "{v:#}");
    assert!(
        v["agent"].as_str().unwrap().ends_with("/bin/daas-agent"),
        "{v:#}"
    );
    let boards = v["boards"].as_array().unwrap();
    assert_eq!(boards.len(), 1, "{v:#}");
    let b = &boards[0];
    let node = b["node_id"].as_str().unwrap();
    // The same board as the table's, and as its agent's status file.
    assert_eq!(summary(&stdout)[0].0, node, "{stdout}");
    assert!(b["worker_id"].as_str().unwrap().starts_with("0x"), "{b:#}");
    assert_eq!(b["worker_status"], "active", "{b:#}");
    assert_eq!(b["token_version"], 1, "{b:#}");
    let st = &b["agent_status"];
    assert_eq!(st["node_id"], node, "{b:#}");
    assert_eq!(st["worker_id"], b["worker_id"], "{b:#}");
    assert_eq!(st["phase"], "joined", "{b:#}");
    assert_eq!(st["token_version"], 1, "{b:#}");
    assert_eq!(st["k3s"]["state"], "running", "{b:#}");
    assert_eq!(st["k3s"]["joined"], true, "{b:#}");
    assert_eq!(
        b["exit"],
        serde_json::json!({"init": 0, "status": 0, "run": 0}),
        "{b:#}"
    );
}

/// `--agent-bin` and `--agent-runner` are what runs the boards' agent: a runner that
/// logs each command line, in front of another path to an agent.
#[test]
fn agent_bin_and_runner_run_init_run_and_status() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("daas-agent");
    std::os::unix::fs::symlink(DEMO, &agent).unwrap();
    let calls = dir.path().join("calls");
    let runner = dir.path().join("runner");
    std::fs::write(
        &runner,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec \"$@\"\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("summary.json");
    let (code, stdout, stderr) = up(&[
        "--workers",
        "1",
        "--agent-bin",
        agent.to_str().unwrap(),
        "--agent-runner",
        runner.to_str().unwrap(),
        "--summary-json",
        file.to_str().unwrap(),
    ]);
    check_joined(code, &stdout, &stderr, 1);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        v["agent"],
        format!("{} {}", runner.display(), agent.display()),
        "{v:#}"
    );
    assert_eq!(v["boards"][0]["agent_status"]["phase"], "joined", "{v:#}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    let subcommands: Vec<&str> = calls
        .lines()
        .map(|l| {
            let (bin, rest) = l.split_once(' ').unwrap_or((l, ""));
            assert_eq!(bin, agent.to_str().unwrap(), "{calls}");
            rest.split_whitespace().next().unwrap_or("")
        })
        .collect();
    assert_eq!(
        subcommands,
        ["--version", "init", "run", "status"],
        "{calls}"
    );
}

#[test]
fn a_bad_agent_bin_or_runner_exits_64_naming_the_flag() {
    let path = "/nonexistent/daas-agent";
    refused(&["--agent-bin", path], &["--agent-bin", path]);
    // A program that is not daas-agent is refused before any board is made.
    let stdout = refused(
        &["--agent-bin", "/bin/sh"],
        &["--agent-bin", "not `daas-agent"],
    );
    assert!(!stdout.contains("boards "), "{stdout}");
    let runner = "no-such-qemu-here";
    refused(&["--agent-runner", runner], &["--agent-runner", runner]);
    refused(
        &["--summary-json", "/nonexistent/dir/s.json"],
        &["--summary-json", "/nonexistent/dir"],
    );
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(needle) {
                found.push(format!("{}: {c}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

#[test]
fn keep_runs_until_ctrl_c_then_stops_everything() {
    let mut child = Command::new(DEMO)
        .args(["up", "--workers", "1", "--keep"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut line = String::new();
    while !seen.contains("  logs ") {
        line.clear();
        let n = stdout.read_line(&mut line).unwrap();
        assert!(n > 0, "daas-demo ended early:\n{seen}");
        assert!(Instant::now() < deadline, "no --keep lines:\n{seen}");
        seen.push_str(&line);
    }
    let dir = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("logs"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the logs folder")
        .to_string();
    // What it says to run works: the board's status, and kubectl's view if installed.
    let status_line = seen
        .lines()
        .find_map(|l| l.trim().strip_prefix("a board"))
        .expect("the status line")
        .trim()
        .to_string();
    let argv: Vec<&str> = status_line.split_whitespace().collect();
    let st = Command::new(argv[0]).args(&argv[1..]).output().unwrap();
    let st_text = String::from_utf8_lossy(&st.stdout);
    assert!(st.status.success(), "{status_line}: {st:?}");
    assert!(st_text.contains("board0-"), "{st_text}");
    // The board's agent and its k3s are running now.
    assert!(
        processes_mentioning(&dir).len() >= 2,
        "{:?}",
        processes_mentioning(&dir)
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(status.success(), "{status:?}\n{seen}{rest}");
    assert!(rest.contains("stopping the boards"), "{rest}");
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new());
    assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
}
