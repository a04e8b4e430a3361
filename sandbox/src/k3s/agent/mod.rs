//! `daas-k3s agent`: a k3s agent stand-in that joins, fails and stops like
//! `k3s agent` (k3s-io/k3s `pkg/cli/agent/agent.go`, `pkg/agent/run.go`,
//! `pkg/agent/config/config.go`, `pkg/clientaccess/token.go`, `pkg/signals`) and runs
//! no containers: its "kubelet" registers a Ready Node and keeps it and its Lease
//! fresh. It never exits on a join failure; it logs k3s's line and retries at k3s's
//! interval. Behaviours for supervisor tests come from `DAAS_K3S_*` variables
//! ([`StandIn`]), documented in the crate README as stand-in only.
//!
//! It must never put the join token on its argv (tests use `--token-file`), in a log
//! line or in a file: like k3s it keeps only the node password, the node id and the
//! certificates the server issues.

pub mod files;
pub mod join;
pub mod kubelet;
pub mod log;
pub mod notify;
pub mod secret;
pub mod tls;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use log::Level;
use secret::Secret;

/// The version `Starting k3s agent …` prints.
pub const VERSION: &str = "v1.33.0+daas-k3s (stand-in)";

/// `daas-k3s agent` flags — k3s's own names (`pkg/cli/cmds/agent.go`), nothing else.
///
/// Example: `daas-k3s agent --server https://127.0.0.1:6443 --token-file /run/k8s-daas/token --node-name pi-1a2b3c4d`
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// Server to connect to (https), env K3S_URL.
    #[arg(short = 's', long = "server", value_name = "URL")]
    pub server: Option<String>,
    /// Token to use for authentication, env K3S_TOKEN (argv is world-readable: prefer --token-file).
    #[arg(short = 't', long = "token", value_name = "TOKEN")]
    pub token: Option<String>,
    /// Token file to use for authentication, env K3S_TOKEN_FILE.
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Node name, env K3S_NODE_NAME (default: the host name).
    #[arg(long = "node-name", value_name = "NAME")]
    pub node_name: Option<String>,
    /// Folder to hold state.
    #[arg(
        short = 'd',
        long = "data-dir",
        value_name = "DIR",
        default_value = "/var/lib/rancher/k3s"
    )]
    pub data_dir: PathBuf,
    /// Registering kubelet with set of labels (KEY=VALUE, repeatable; at registration only).
    #[arg(long = "node-label", value_name = "KEY=VALUE")]
    pub node_label: Vec<String>,
    /// Append id to node name.
    #[arg(long = "with-node-id")]
    pub with_node_id: bool,
}

/// Stand-in-only behaviours, from `DAAS_K3S_*` environment variables (a real k3s
/// ignores them, so nothing an agent passes would break it).
#[derive(Debug, Clone, Default)]
pub struct StandIn {
    /// `DAAS_K3S_EXIT_AFTER=<dur>`: exit after this long since start…
    pub exit_after: Option<Duration>,
    /// …with `DAAS_K3S_EXIT_CODE=<n>` (default 1).
    pub exit_code: u8,
    /// `DAAS_K3S_IGNORE_SIGTERM=1`: SIGTERM does nothing (SIGINT still stops).
    pub ignore_sigterm: bool,
    /// `DAAS_K3S_READY_DELAY=<dur>`: wait this long after the Node is registered before
    /// `k3s agent is up and running` / `READY=1` (a slow start).
    pub ready_delay: Option<Duration>,
    /// `DAAS_K3S_STOP_DELAY=<dur>`: after the first SIGTERM/SIGINT (heartbeats already
    /// stopped) take this long to exit 0 (a slow stop; a second signal still exits 1).
    pub stop_delay: Option<Duration>,
}

/// Everything `daas-k3s agent` runs with.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `--server` as given.
    pub server: String,
    /// `--token` / `K3S_TOKEN` (the token file is read at start, in [`run`]).
    pub token: Option<Secret>,
    /// `--token-file` / `K3S_TOKEN_FILE`.
    pub token_file: Option<PathBuf>,
    /// `--node-name` / `K3S_NODE_NAME` / the host name, lower case.
    pub node_name: String,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--node-label` pairs.
    pub node_labels: Vec<(String, String)>,
    /// `--with-node-id`.
    pub with_node_id: bool,
    /// `/etc/rancher/node/password`, or `DAAS_K3S_NODE_PASSWORD_FILE`.
    pub node_password_file: PathBuf,
    /// `NOTIFY_SOCKET`.
    pub notify_socket: Option<String>,
    /// Lease / status intervals (`DAAS_K3S_LEASE_RENEW_INTERVAL`,
    /// `DAAS_K3S_NODE_STATUS_INTERVAL`, for tests only).
    pub intervals: kubelet::Intervals,
    /// Stand-in-only behaviours.
    pub stand_in: StandIn,
}

impl AgentConfig {
    /// `id` beside the node password (k3s: `/etc/rancher/node/id`).
    pub fn node_id_file(&self) -> PathBuf {
        self.node_password_file
            .parent()
            .map_or_else(|| PathBuf::from("id"), |d| d.join("id"))
    }
}

/// A bad flag or environment variable; the binary exits 64 with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable the stand-in reads has a bad value.
    #[error("{name}={value:?}: {why}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is expected.
        why: &'static str,
    },
    /// `--node-label` is not `KEY` or `KEY=VALUE`.
    #[error("--node-label {0:?}: expected KEY=VALUE")]
    Label(String),
}

impl AgentArgs {
    /// Completes the flags with k3s's environment variables (a flag wins) and the
    /// stand-in's `DAAS_K3S_*` ones, read through `env` (the binary passes
    /// `std::env::var`).
    pub fn into_config(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AgentConfig, ConfigError> {
        let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
        let server = self
            .server
            .or_else(|| nonempty("K3S_URL"))
            .unwrap_or_default();
        let token = self
            .token
            .or_else(|| nonempty("K3S_TOKEN"))
            .map(Secret::new);
        let token_file = self
            .token_file
            .or_else(|| nonempty("K3S_TOKEN_FILE").map(PathBuf::from));
        let node_name = self
            .node_name
            .or_else(|| nonempty("K3S_NODE_NAME"))
            .unwrap_or_else(hostname)
            .to_lowercase();
        let mut node_labels = Vec::new();
        for l in self.node_label {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            if k.is_empty() {
                return Err(ConfigError::Label(l.clone()));
            }
            node_labels.push((k.to_string(), v.to_string()));
        }
        let node_password_file = nonempty("DAAS_K3S_NODE_PASSWORD_FILE").map_or_else(
            || PathBuf::from("/etc/rancher/node/password"),
            PathBuf::from,
        );
        let duration = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            nonempty(name)
                .map(|v| {
                    parse_duration(&v).ok_or(ConfigError::Env {
                        name,
                        value: v.clone(),
                        why: "expected a duration such as 500ms, 2s, 1m",
                    })
                })
                .transpose()
        };
        let mut intervals = kubelet::Intervals::default();
        if let Some(d) = duration("DAAS_K3S_LEASE_RENEW_INTERVAL")? {
            intervals.lease_renew = d;
        }
        if let Some(d) = duration("DAAS_K3S_NODE_STATUS_INTERVAL")? {
            intervals.node_status = d;
        }
        let exit_code = match nonempty("DAAS_K3S_EXIT_CODE") {
            None => 1,
            Some(v) => v.parse::<u8>().map_err(|_| ConfigError::Env {
                name: "DAAS_K3S_EXIT_CODE",
                value: v.clone(),
                why: "expected an exit code 0-255",
            })?,
        };
        let ignore_sigterm = match nonempty("DAAS_K3S_IGNORE_SIGTERM").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(ConfigError::Env {
                    name: "DAAS_K3S_IGNORE_SIGTERM",
                    value: other.to_string(),
                    why: "expected 1 or 0",
                });
            }
        };
        Ok(AgentConfig {
            server,
            token,
            token_file,
            node_name,
            data_dir: self.data_dir,
            node_labels,
            with_node_id: self.with_node_id,
            node_password_file,
            notify_socket: nonempty("NOTIFY_SOCKET"),
            intervals,
            stand_in: StandIn {
                exit_after: duration("DAAS_K3S_EXIT_AFTER")?,
                exit_code,
                ignore_sigterm,
                ready_delay: duration("DAAS_K3S_READY_DELAY")?,
                stop_delay: duration("DAAS_K3S_STOP_DELAY")?,
            },
        })
    }
}

/// Go-style durations as the stand-in's variables take them: `250ms`, `2s`, `1.5s`,
/// `3m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Runs the agent until `shutdown` resolves (exit code 0), a fatal error (k3s's
/// `level=fatal msg="Error: …"`, exit code 1), or `DAAS_K3S_EXIT_AFTER` (its code).
/// Join failures never end it.
pub async fn run(cfg: AgentConfig, shutdown: impl Future<Output = ()>) -> u8 {
    let exit_after = async {
        match cfg.stand_in.exit_after {
            Some(d) => {
                tokio::time::sleep(d).await;
                log::logrus(
                    Level::Info,
                    &format!(
                        "daas-k3s stand-in: DAAS_K3S_EXIT_AFTER={d:?} elapsed, exiting with code {}",
                        cfg.stand_in.exit_code
                    ),
                );
            }
            None => std::future::pending().await,
        }
    };
    let code = tokio::select! {
        () = shutdown => None,
        () = exit_after => Some(cfg.stand_in.exit_code),
        r = agent(&cfg) => match r {
            Ok(never) => match never {},
            Err(e) => {
                log::logrus(Level::Fatal, &format!("Error: {e}"));
                Some(1)
            }
        },
    };
    match code {
        Some(code) => code,
        None => {
            if let Some(d) = cfg.stand_in.stop_delay {
                log::logrus(
                    Level::Info,
                    &format!("daas-k3s stand-in: stopping in {d:?} (DAAS_K3S_STOP_DELAY)"),
                );
                tokio::time::sleep(d).await;
            }
            0
        }
    }
}

enum Never {}

async fn agent(cfg: &AgentConfig) -> Result<Never, String> {
    // pkg/cli/agent/agent.go Run
    let mut token = cfg
        .token
        .clone()
        .unwrap_or_else(|| Secret::new(String::new()));
    if let Some(path) = &cfg.token_file {
        token = files::read_token_file(path, files::TOKEN_FILE_TIMEOUT, files::TOKEN_FILE_POLL)
            .await
            .map_err(|e| e.to_string())?;
    }
    let agent_dir = files::ensure_agent_dir(&cfg.data_dir).map_err(|e| e.to_string())?;
    let paths = join::AgentPaths::new(&agent_dir);
    if paths.kept_client_cert().is_none() && token.is_empty() {
        return Err("--token is required".into());
    }
    if cfg.server.is_empty() {
        return Err("--server is required".into());
    }
    log::logrus(Level::Info, &format!("Starting k3s agent {VERSION}"));

    // pkg/agent/run.go createProxyAndValidateToken, then config.Get
    join::validate_until_ok(&cfg.server, &token).await;
    let joined = join::get_until_ok(cfg, &token, &paths).await;

    // The kubelet: register, report, keep alive.
    let mut kubelet = kubelet::Kubelet::new(
        &joined.info.base_url,
        &joined.info.ca_pem,
        &joined.client,
        &joined.node_name,
        &cfg.node_labels,
        cfg.intervals,
    )?;
    drop(token);
    kubelet.register_until_ok().await;
    if let Some(d) = cfg.stand_in.ready_delay {
        tokio::time::sleep(d).await;
    }
    // pkg/agent/run.go: only an agent started by systemd (NOTIFY_SOCKET set) says so.
    if let Some(sock) = &cfg.notify_socket {
        log::logrus(Level::Info, "k3s agent is up and running");
        if let Err(e) = notify::notify(sock, "READY=1\n") {
            log::logrus(
                Level::Warn,
                &format!("failed to notify systemd at {sock}: {e}"),
            );
        }
    }
    kubelet.heartbeat_forever().await;
    unreachable!("heartbeat_forever returns only by being dropped")
}

/// `daas-k3s agent` from its parsed flags, as the binary runs it (and the demo's
/// multi-call binary, as `k3s agent`): completes them from the environment read
/// through `env`, then runs until SIGTERM/SIGINT (exit 0; a second signal exits 1), a
/// fatal error (1) or `DAAS_K3S_EXIT_AFTER`; a bad `DAAS_K3S_*` value exits 64.
pub async fn run_cli(args: AgentArgs, env: impl Fn(&str) -> Option<String>) -> u8 {
    let cfg = match args.into_config(env) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return 64;
        }
    };
    let shutdown = shutdown_signal(cfg.stand_in.ignore_sigterm);
    run(cfg, shutdown).await
}

/// k3s `pkg/signals`: a future that resolves on the first SIGTERM or SIGINT; a second
/// one logs `Second shutdown signal received: <sig>, exiting...` and exits 1 at once.
/// With `ignore_sigterm` (stand-in only) SIGTERM is logged and otherwise ignored.
pub fn shutdown_signal(ignore_sigterm: bool) -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            log::logrus(Level::Fatal, "Error: cannot install signal handlers");
            std::process::exit(1);
        };
        let mut next = async || loop {
            tokio::select! {
                _ = term.recv() => {
                    if ignore_sigterm {
                        log::logrus(Level::Info, "daas-k3s stand-in: ignoring SIGTERM (DAAS_K3S_IGNORE_SIGTERM=1)");
                        continue;
                    }
                    return "terminated";
                }
                _ = int.recv() => return "interrupt",
            }
        };
        let _first = next().await;
        let _ = tx.send(());
        let second = next().await;
        log::logrus(
            Level::Info,
            &format!("Second shutdown signal received: {second}, exiting..."),
        );
        std::process::exit(1);
    });
    async move {
        let _ = rx.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        agent: AgentArgs,
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flags_win_over_k3s_environment_variables() {
        let cli = Cli::parse_from([
            "x",
            "--server",
            "https://a:6443",
            "--node-name",
            "Pi-1",
            "--node-label",
            "fleet/owner=0xab",
            "--node-label",
            "plain",
            "--with-node-id",
        ]);
        let cfg = cli
            .agent
            .into_config(env_of(&[
                ("K3S_URL", "https://b:6443"),
                ("K3S_NODE_NAME", "other"),
                ("K3S_TOKEN_FILE", "/run/t"),
            ]))
            .unwrap();
        assert_eq!(cfg.server, "https://a:6443");
        assert_eq!(cfg.node_name, "pi-1");
        assert_eq!(cfg.token_file, Some(PathBuf::from("/run/t")));
        assert_eq!(
            cfg.node_labels,
            vec![
                ("fleet/owner".to_string(), "0xab".to_string()),
                ("plain".to_string(), String::new())
            ]
        );
        assert!(cfg.with_node_id);
        assert_eq!(cfg.data_dir, PathBuf::from("/var/lib/rancher/k3s"));
        assert_eq!(
            cfg.node_password_file,
            PathBuf::from("/etc/rancher/node/password")
        );
        assert_eq!(cfg.node_id_file(), PathBuf::from("/etc/rancher/node/id"));
    }

    #[test]
    fn stand_in_variables_are_read_and_checked() {
        let cli = Cli::parse_from(["x"]);
        let cfg = cli
            .agent
            .clone()
            .into_config(env_of(&[
                ("K3S_URL", "https://b:6443"),
                ("DAAS_K3S_NODE_PASSWORD_FILE", "/tmp/n/password"),
                ("DAAS_K3S_EXIT_AFTER", "1.5s"),
                ("DAAS_K3S_EXIT_CODE", "7"),
                ("DAAS_K3S_IGNORE_SIGTERM", "1"),
                ("DAAS_K3S_READY_DELAY", "250ms"),
                ("DAAS_K3S_STOP_DELAY", "3s"),
                ("DAAS_K3S_LEASE_RENEW_INTERVAL", "1s"),
                ("DAAS_K3S_NODE_STATUS_INTERVAL", "2s"),
                ("NOTIFY_SOCKET", "@sock"),
            ]))
            .unwrap();
        assert_eq!(cfg.server, "https://b:6443");
        assert_eq!(cfg.node_id_file(), PathBuf::from("/tmp/n/id"));
        assert_eq!(cfg.stand_in.exit_after, Some(Duration::from_millis(1500)));
        assert_eq!(cfg.stand_in.exit_code, 7);
        assert!(cfg.stand_in.ignore_sigterm);
        assert_eq!(cfg.stand_in.ready_delay, Some(Duration::from_millis(250)));
        assert_eq!(cfg.stand_in.stop_delay, Some(Duration::from_secs(3)));
        assert_eq!(cfg.intervals.lease_renew, Duration::from_secs(1));
        assert_eq!(cfg.intervals.node_status, Duration::from_secs(2));
        assert_eq!(cfg.notify_socket.as_deref(), Some("@sock"));

        let err = cli
            .agent
            .into_config(env_of(&[("DAAS_K3S_EXIT_CODE", "300")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "DAAS_K3S_EXIT_CODE=\"300\": expected an exit code 0-255"
        );
    }

    #[test]
    fn a_token_never_shows_in_the_config_debug() {
        let cli = Cli::parse_from(["x", "--token", "K10abc::id.supersecret"]);
        let cfg = cli.agent.into_config(env_of(&[])).unwrap();
        assert!(!format!("{cfg:?}").contains("supersecret"));
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("3m"), Some(Duration::from_secs(180)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("2 weeks"), None);
    }

    #[tokio::test]
    async fn missing_token_without_a_kept_certificate_is_k3s_s_fatal_error() {
        let dir = tempfile::tempdir().unwrap();
        let cli = Cli::parse_from([
            "x",
            "--server",
            "https://127.0.0.1:1",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ]);
        let cfg = cli.agent.into_config(env_of(&[])).unwrap();
        assert_eq!(
            agent(&cfg).await.err().as_deref(),
            Some("--token is required")
        );
        assert_eq!(run(cfg, std::future::pending()).await, 1);
    }

    #[tokio::test]
    async fn exit_after_ends_the_run_with_its_code() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("never");
        let cli = Cli::parse_from([
            "x",
            "--server",
            "https://127.0.0.1:1",
            "--token-file",
            token.to_str().unwrap(),
        ]);
        let cfg = cli
            .agent
            .into_config(env_of(&[
                ("DAAS_K3S_EXIT_AFTER", "100ms"),
                ("DAAS_K3S_EXIT_CODE", "3"),
            ]))
            .unwrap();
        assert_eq!(run(cfg, std::future::pending()).await, 3);
    }
}
