//! Helpers for other crates' tests (feature `testbin`): the stand-in binaries built
//! once per test process, the "outside tool required" rule, a process guard and
//! deadline-bounded waits.
//!
//! `daas-agent`, `daas-master` and `daas-demo` dev-depend on `daas-sandbox` with this
//! feature and run the real `daas-sandbox` and `daas-k3s` processes:
//!
//! ```no_run
//! # async fn demo() {
//! use daas_sandbox::testbin;
//! let bins = testbin::binaries();
//! let mut cmd = std::process::Command::new(&bins.k3s);
//! cmd.args(["server", "--data-dir", "/tmp/x", "--https-listen-port", "0"]);
//! let server = testbin::Guard::spawn(cmd).expect("spawn daas-k3s server");
//! server.logs().wait_for("port", std::time::Duration::from_secs(20)).await;
//! let Some(_kubectl) = testbin::require_tool("kubectl", "kubectl against the k3s stand-in") else {
//!     return;
//! };
//! # }
//! ```
//!
//! **Profile**: the binaries are built with the profile of the test binary that asks
//! (debug for `cargo test`, release for `cargo test --release`) into the same target
//! directory, so they reuse the dependencies the test build has already compiled (in
//! this workspace `profile.dev.package."*"` optimises them). A separate release build
//! would compile the whole dependency tree (TLS, Kubernetes types, …) a second time:
//! minutes on a 2-core machine, for no test that measures speed (benchmarks are
//! `--release` examples).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Paths of the built stand-in binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `daas-sandbox` (the Sui stand-in).
    pub sandbox: PathBuf,
    /// `daas-k3s` (the k3s stand-in: `server` and `agent`).
    pub k3s: PathBuf,
}

/// Builds `daas-sandbox` and `daas-k3s` once per process (later calls return the same
/// paths) and returns where they are. Panics with cargo's message if the build fails.
pub fn binaries() -> &'static Binaries {
    static BINS: OnceLock<Binaries> = OnceLock::new();
    BINS.get_or_init(|| Binaries {
        sandbox: build_bin("daas-sandbox"),
        k3s: build_bin("daas-k3s"),
    })
}

fn build_bin(name: &str) -> PathBuf {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let mut build = escargot::CargoBuild::new()
        .manifest_path(manifest)
        .package("daas-sandbox")
        .bin(name);
    if !cfg!(debug_assertions) {
        build = build.release();
    }
    match build.run() {
        Ok(run) => run.path().to_path_buf(),
        Err(e) => panic!("building {name} for the tests failed: {e}"),
    }
}

/// The rule for tests that need a tool from outside the workspace (kubectl, node,
/// chromium, qemu): returns its path when it is on `PATH`. Without it, a user's run
/// prints one line `skipped: <tool> not found (<why>)` and gets `None` (the test
/// returns and passes); with `CI=true` it panics, so CI never passes by skipping.
pub fn require_tool(tool: &str, why: &str) -> Option<PathBuf> {
    if let Some(path) = find_on_path(tool) {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{tool} not found ({why}): CI=true requires it, install it on the CI machine");
    }
    skipped(&format!("{tool} not found ({why})"));
    None
}

/// Prints `skipped: <what>` as one line on the process's stderr, past the test
/// harness's output capture (so a user sees it even for a passing test).
pub fn skipped(what: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "skipped: {what}");
}

fn find_on_path(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A child process in its own process group, killed (the whole group, SIGKILL) when
/// the guard drops — a failing test leaves no stand-in running. Its stderr and stdout
/// are collected into [`Logs`].
#[derive(Debug)]
pub struct Guard {
    child: Child,
    logs: Logs,
}

impl Guard {
    /// Spawns `cmd` in a new process group with stderr and stdout collected into
    /// [`Logs`].
    pub fn spawn(mut cmd: Command) -> std::io::Result<Guard> {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn()?;
        let logs = Logs::default();
        if let Some(err) = child.stderr.take() {
            logs.collect(err);
        }
        if let Some(out) = child.stdout.take() {
            logs.collect(out);
        }
        Ok(Guard { child, logs })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process printed so far and will print.
    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// Sends `signal` to the process only (not its group). ESRCH counts as success.
    pub fn signal(&self, signal: Signal) -> nix::Result<()> {
        match nix::sys::signal::kill(self.nix_pid(), signal) {
            Err(nix::errno::Errno::ESRCH) => Ok(()),
            r => r,
        }
    }

    /// `Some(status)` once the process has exited (reaped), without blocking.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits up to `timeout` for the process to exit; panics naming `what` otherwise.
    pub async fn wait_exit(&mut self, timeout: Duration, what: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) => {}
                Err(e) => panic!("waiting for {what}: {e}"),
            }
            if Instant::now() >= deadline {
                panic!(
                    "{what}: still running after {timeout:?}; its output:\n{}",
                    self.logs.text()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn nix_pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = killpg(self.nix_pid(), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const POLL: Duration = Duration::from_millis(50);

/// Lines a child printed (stderr and stdout interleaved as they arrive).
#[derive(Debug, Clone, Default)]
pub struct Logs {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Logs {
    fn collect(&self, stream: impl std::io::Read + Send + 'static) {
        let lines = Arc::clone(&self.lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every line so far, joined with newlines.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// How many lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until a line contains `needle` and returns that line; panics after
    /// `timeout` with everything printed so far.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_nth(needle, 1, timeout).await
    }

    /// Waits until `n` lines contain `needle` and returns the `n`th.
    pub async fn wait_for_nth(&self, needle: &str, n: usize, timeout: Duration) -> String {
        let what = format!("line #{n} containing {needle:?}");
        wait_until(timeout, &what, || {
            self.lines()
                .into_iter()
                .filter(|l| l.contains(needle))
                .nth(n.saturating_sub(1))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}; output so far:\n{}", self.text()))
    }
}

/// Polls `probe` every 50 ms until it returns `Some`, for at most `timeout`; the error
/// names `what` was awaited.
pub async fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `path` exists (and is not empty) and returns its contents; panics after
/// `timeout`.
pub async fn wait_for_file(path: &Path, timeout: Duration) -> Vec<u8> {
    let what = format!("file {}", path.display());
    wait_until(timeout, &what, || {
        std::fs::read(path).ok().filter(|b| !b.is_empty())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_tool_on_path_and_not_a_missing_one() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("daas-no-such-tool-xyz").is_none());
    }

    #[tokio::test]
    async fn guard_collects_lines_and_kills_the_group_on_drop() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one >&2; echo two; sleep 30 & echo $! >&2; wait"]);
        let guard = Guard::spawn(cmd).unwrap();
        guard.logs().wait_for("two", Duration::from_secs(10)).await;
        let pid_line = wait_until(Duration::from_secs(10), "grandchild pid", || {
            guard
                .logs()
                .lines()
                .into_iter()
                .find(|l| l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty())
        })
        .await
        .unwrap();
        let grandchild: i32 = pid_line.parse().unwrap();
        assert_eq!(guard.logs().count("one"), 1);
        drop(guard);
        // The grandchild (same process group) is gone once it has been reaped by init;
        // kill(pid, 0) fails with ESRCH then.
        wait_until(Duration::from_secs(10), "grandchild to die", || {
            let alive = nix::sys::signal::kill(Pid::from_raw(grandchild), None).is_ok()
                && !std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                    .is_ok_and(|s| s.contains(") Z "));
            (!alive).then_some(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn wait_until_times_out_with_the_name_of_what_it_waited_for() {
        let err = wait_until::<()>(Duration::from_millis(100), "nothing", || None)
            .await
            .unwrap_err();
        assert!(err.contains("waiting for nothing"), "{err}");
    }
}
