//! `agent.toml` (default `/etc/k8s-daas/agent.toml`). Every key is listed here with its
//! default; unknown keys are errors (a typo on a board nobody logs into must fail at
//! start, naming the key). A config that parses but cannot work fails
//! [`AgentConfig::validate`] naming the dotted field; `daas-agent` exits 64 for both.
//!
//! ```toml
//! # required
//! root_public_key = "0x…"            # the operator's root key (Ed25519), pinned
//! [chain]                            # the shared table (daas_protocol::config::ChainConfig)
//! chain_id = "…"                     # Base58 genesis checkpoint digest, pinned
//! endpoints = ["https://a/graphql", "https://b/graphql"]
//! package_id = "0x…"
//! registry_id = "0x…"
//!
//! # optional, with their defaults
//! label = "rpi"                      # default: the label of <key_dir>/node_id (written by `init`)
//! key_dir = "/var/lib/k8s-daas"      # identity.key, sealing.key (0600, dir 0700), node_id
//! data_dir = "/var/lib/k8s-daas"     # state.json (0600): pinned certificate, token versions
//! status_file = "/run/k8s-daas/status.json"   # 0644, no secrets; read by `daas-agent status`
//! # metrics_file = "/var/lib/node_exporter/textfile_collector/k8s_daas.prom"  # default: none
//!
//! [k3s]
//! binary = "/usr/local/bin/k3s"
//! args = []                          # extra `k3s agent` args; never --token*, --server, --node-name, --with-node-id
//! token_file = "/run/k8s-daas/private/k3s-token"   # 0600 in a 0700 dir; the child's NOTIFY_SOCKET sits beside it
//! node_password_file = "/etc/rancher/node/password"
//! # teardown = ["/usr/local/bin/k3s-killall.sh"]   # default: k3s-killall.sh from PATH or /usr/local/bin; [] = none
//! stop_grace_ms = 10000              # SIGTERM → SIGKILL of k3s's process group
//! backoff_initial_ms = 1000          # restart delay after the first crash, doubling…
//! backoff_max_ms = 60000             # …up to this, ±20 % jitter
//! healthy_after_ms = 60000           # a run this long resets the backoff
//! cacerts_timeout_ms = 10000         # fetching <server>/cacerts
//! teardown_timeout_ms = 120000
//!
//! [poll]
//! pending_ms = 5000                  # chain poll while not joined
//! joined_ms = 60000                  # chain poll once k3s has joined
//! jitter_percent = 20                # ± on every interval
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use daas_protocol::RootPublicKey;
use daas_protocol::config::{ChainConfig, ConfigError, load_toml, parse_toml};
use serde::Deserialize;

/// Where `run`, `status` and `import` look for the config by default.
pub const DEFAULT_CONFIG: &str = "/etc/k8s-daas/agent.toml";
/// Default key directory (DESIGN §5 "Keys on disk").
pub const DEFAULT_KEY_DIR: &str = "/var/lib/k8s-daas";

/// The whole `agent.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The shared `[chain]` table: chain id (pinned), endpoints, transport, quorum,
    /// package and registry.
    pub chain: ChainConfig,
    /// The operator's root public key, pinned: envelope keys are accepted only when
    /// certified by it for this chain and registry. Required.
    pub root_public_key: RootPublicKey,
    /// The node_id label. Default: the label in `<key_dir>/node_id`, which `init` (or
    /// the first-boot bundle) writes; when both are present they must agree.
    #[serde(default)]
    pub label: Option<String>,
    /// Device keys and `node_id`. Default `/var/lib/k8s-daas`.
    #[serde(default = "default_key_dir")]
    pub key_dir: PathBuf,
    /// `state.json` (0600): highest certificate serial, token versions, chain time.
    /// Default `/var/lib/k8s-daas`.
    #[serde(default = "default_key_dir")]
    pub data_dir: PathBuf,
    /// The status file `run` writes and `status` reads (0644, no secrets). Default
    /// `/run/k8s-daas/status.json`.
    #[serde(default = "default_status_file")]
    pub status_file: PathBuf,
    /// A node_exporter textfile-collector file (`*.prom`) to write metrics to.
    /// Default: none.
    #[serde(default)]
    pub metrics_file: Option<PathBuf>,
    /// The supervised `k3s agent`.
    #[serde(default)]
    pub k3s: K3sConfig,
    /// How often the chain is read.
    #[serde(default)]
    pub poll: PollConfig,
}

/// The `[k3s]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct K3sConfig {
    /// The k3s binary. Default `/usr/local/bin/k3s`.
    #[serde(default = "default_k3s_binary")]
    pub binary: PathBuf,
    /// Extra arguments after `k3s agent --server … --token-file … --node-name …`.
    /// Default none. Flags that would change the server, the token or the node name
    /// are refused.
    #[serde(default)]
    pub args: Vec<String>,
    /// The token file handed to k3s (`--token-file`): written 0600 (directory 0700)
    /// before every start, removed once k3s has joined. Default
    /// `/run/k8s-daas/private/k3s-token` (tmpfs). The child's `NOTIFY_SOCKET` is created
    /// in the same directory.
    #[serde(default = "default_token_file")]
    pub token_file: PathBuf,
    /// Where k3s reads the node password. Default `/etc/rancher/node/password`.
    #[serde(default = "default_node_password_file")]
    pub node_password_file: PathBuf,
    /// The command run after k3s was stopped for a revocation, so that no container
    /// keeps running. Default: `k3s-killall.sh` found on `PATH` or in `/usr/local/bin`;
    /// `[]` runs nothing.
    #[serde(default)]
    pub teardown: Option<Vec<String>>,
    /// Grace between SIGTERM and SIGKILL of k3s's process group (ms). Default 10000.
    #[serde(default = "default_stop_grace_ms")]
    pub stop_grace_ms: u64,
    /// First restart delay after k3s exits (ms); doubles per crash. Default 1000.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Longest restart delay (ms). Default 60000.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// A k3s run at least this long resets the backoff (ms). Default 60000.
    #[serde(default = "default_healthy_after_ms")]
    pub healthy_after_ms: u64,
    /// Timeout of each `<server>/cacerts` request (ms). Default 10000.
    #[serde(default = "default_cacerts_timeout_ms")]
    pub cacerts_timeout_ms: u64,
    /// Longest the teardown command may run (ms). Default 120000.
    #[serde(default = "default_teardown_timeout_ms")]
    pub teardown_timeout_ms: u64,
}

impl Default for K3sConfig {
    fn default() -> Self {
        K3sConfig {
            binary: default_k3s_binary(),
            args: Vec::new(),
            token_file: default_token_file(),
            node_password_file: default_node_password_file(),
            teardown: None,
            stop_grace_ms: default_stop_grace_ms(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            healthy_after_ms: default_healthy_after_ms(),
            cacerts_timeout_ms: default_cacerts_timeout_ms(),
            teardown_timeout_ms: default_teardown_timeout_ms(),
        }
    }
}

/// The `[poll]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// Poll interval while the worker is not joined (ms). Default 5000.
    #[serde(default = "default_pending_ms")]
    pub pending_ms: u64,
    /// Poll interval once k3s has joined (ms). Default 60000.
    #[serde(default = "default_joined_ms")]
    pub joined_ms: u64,
    /// Random ± jitter on every interval, in percent (0..=50). Default 20.
    #[serde(default = "default_jitter_percent")]
    pub jitter_percent: u8,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            pending_ms: default_pending_ms(),
            joined_ms: default_joined_ms(),
            jitter_percent: default_jitter_percent(),
        }
    }
}

fn default_key_dir() -> PathBuf {
    DEFAULT_KEY_DIR.into()
}
fn default_status_file() -> PathBuf {
    "/run/k8s-daas/status.json".into()
}
fn default_k3s_binary() -> PathBuf {
    "/usr/local/bin/k3s".into()
}
fn default_token_file() -> PathBuf {
    "/run/k8s-daas/private/k3s-token".into()
}
fn default_node_password_file() -> PathBuf {
    "/etc/rancher/node/password".into()
}
fn default_stop_grace_ms() -> u64 {
    10_000
}
fn default_backoff_initial_ms() -> u64 {
    1_000
}
fn default_backoff_max_ms() -> u64 {
    60_000
}
fn default_healthy_after_ms() -> u64 {
    60_000
}
fn default_cacerts_timeout_ms() -> u64 {
    10_000
}
fn default_teardown_timeout_ms() -> u64 {
    120_000
}
fn default_pending_ms() -> u64 {
    5_000
}
fn default_joined_ms() -> u64 {
    60_000
}
fn default_jitter_percent() -> u8 {
    20
}

/// `k3s agent` flags the agent sets itself (or that would rename the node), in every
/// spelling Go's flag parsing accepts (`-x`, `--x`, `--x=v`).
const RESERVED_FLAGS: [&str; 6] = ["server", "s", "t", "node-name", "with-node-id", "token"];

/// The flag name of `arg` if it is a flag (`--token-file=x` → `token-file`).
fn flag_name(arg: &str) -> Option<&str> {
    let rest = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let name = rest.split('=').next().unwrap_or(rest);
    (!name.is_empty()).then_some(name)
}

/// Whether `arg` sets one of the flags the agent owns.
fn is_reserved(arg: &str) -> bool {
    flag_name(arg).is_some_and(|name| {
        RESERVED_FLAGS.contains(&name) || name.starts_with("token") || name == "agent-token"
    })
}

fn absolute(field: &str, path: &Path) -> Result<(), ConfigError> {
    if path.is_absolute() && path.file_name().is_some() {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            field,
            format!("{} must be an absolute file path", path.display()),
        ))
    }
}

impl AgentConfig {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let c: AgentConfig = load_toml(path)?;
        c.validate()?;
        Ok(c)
    }

    /// Parses and validates TOML text (`source` names it in errors).
    pub fn parse(text: &str, source: &str) -> Result<Self, ConfigError> {
        let c: AgentConfig = parse_toml(text, source)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks what the types cannot; the error names the dotted field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.chain.validate("chain")?;
        if let Some(label) = &self.label {
            daas_protocol::node_id::validate_label(label)
                .map_err(|e| ConfigError::invalid("label", e.to_string()))?;
        }
        absolute("key_dir", &self.key_dir)?;
        absolute("data_dir", &self.data_dir)?;
        absolute("status_file", &self.status_file)?;
        if let Some(m) = &self.metrics_file {
            absolute("metrics_file", m)?;
            if m.extension().is_none_or(|e| e != "prom") {
                return Err(ConfigError::invalid(
                    "metrics_file",
                    "node_exporter's textfile collector reads only files ending in .prom",
                ));
            }
        }
        let k = &self.k3s;
        absolute("k3s.binary", &k.binary)?;
        absolute("k3s.token_file", &k.token_file)?;
        absolute("k3s.node_password_file", &k.node_password_file)?;
        if let Some(bad) = k.args.iter().find(|a| is_reserved(a)) {
            return Err(ConfigError::invalid(
                "k3s.args",
                format!(
                    "{bad:?} is set by daas-agent itself (--server, --token-file, --node-name from the join envelope; --token and --with-node-id are never allowed): remove it"
                ),
            ));
        }
        if let Some(t) = &k.teardown
            && t.first().is_some_and(|c| c.is_empty())
        {
            return Err(ConfigError::invalid(
                "k3s.teardown",
                "the command is empty: name a program, or write [] for no teardown",
            ));
        }
        let positive = [
            ("k3s.stop_grace_ms", k.stop_grace_ms),
            ("k3s.backoff_initial_ms", k.backoff_initial_ms),
            ("k3s.backoff_max_ms", k.backoff_max_ms),
            ("k3s.cacerts_timeout_ms", k.cacerts_timeout_ms),
            ("k3s.teardown_timeout_ms", k.teardown_timeout_ms),
            ("poll.pending_ms", self.poll.pending_ms),
            ("poll.joined_ms", self.poll.joined_ms),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::invalid(*field, "must be above 0"));
        }
        if k.backoff_initial_ms > k.backoff_max_ms {
            return Err(ConfigError::invalid(
                "k3s.backoff_initial_ms",
                format!(
                    "{} is above k3s.backoff_max_ms ({})",
                    k.backoff_initial_ms, k.backoff_max_ms
                ),
            ));
        }
        if self.poll.jitter_percent > 50 {
            return Err(ConfigError::invalid(
                "poll.jitter_percent",
                format!("{} is above 50", self.poll.jitter_percent),
            ));
        }
        Ok(())
    }

    /// `<data_dir>/state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.data_dir.join("state.json")
    }

    /// `<data_dir>/k3s.pid`: the running k3s child (pid and start time), so a restarted
    /// agent can stop the k3s a crashed one left behind (no secrets; 0600).
    pub fn child_record_file(&self) -> PathBuf {
        self.data_dir.join("k3s.pid")
    }

    /// The directory of the token file (0700), which also holds the child's
    /// `NOTIFY_SOCKET`.
    pub fn private_dir(&self) -> PathBuf {
        self.k3s
            .token_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| "/".into())
    }

    /// The child's `NOTIFY_SOCKET` path.
    pub fn child_notify_socket(&self) -> PathBuf {
        self.private_dir().join("k3s-notify.sock")
    }
}

impl K3sConfig {
    /// The teardown command in force: the configured one, or `k3s-killall.sh` when it
    /// is on `path` (the agent's `PATH`) or in `/usr/local/bin`, or none.
    pub fn teardown_command(&self, path: Option<&std::ffi::OsStr>) -> Option<Vec<String>> {
        match &self.teardown {
            Some(cmd) if cmd.is_empty() => None,
            Some(cmd) => Some(cmd.clone()),
            None => {
                let dirs = path
                    .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
                    .unwrap_or_default();
                dirs.into_iter()
                    .chain(std::iter::once(PathBuf::from("/usr/local/bin")))
                    .map(|d| d.join("k3s-killall.sh"))
                    .find(|p| is_executable(p))
                    .map(|p| vec![p.display().to_string()])
            }
        }
    }

    /// Stop grace.
    pub fn stop_grace(&self) -> Duration {
        Duration::from_millis(self.stop_grace_ms)
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const CHAIN: &str = r#"
        [chain]
        chain_id = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
        endpoints = ["https://a.example/graphql", "https://b.example/graphql"]
        package_id = "0x2a"
        registry_id = "0x2b"
    "#;

    fn minimal() -> String {
        format!("root_public_key = \"{ROOT}\"\n{CHAIN}")
    }

    #[test]
    fn the_minimal_config_takes_every_default() {
        let c = AgentConfig::parse(&minimal(), "agent.toml").unwrap();
        assert_eq!(c.label, None);
        assert_eq!(c.key_dir, PathBuf::from("/var/lib/k8s-daas"));
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/k8s-daas"));
        assert_eq!(c.status_file, PathBuf::from("/run/k8s-daas/status.json"));
        assert_eq!(c.metrics_file, None);
        assert_eq!(c.k3s, K3sConfig::default());
        assert_eq!(c.k3s.binary, PathBuf::from("/usr/local/bin/k3s"));
        assert_eq!(
            c.k3s.token_file,
            PathBuf::from("/run/k8s-daas/private/k3s-token")
        );
        assert_eq!(
            c.k3s.node_password_file,
            PathBuf::from("/etc/rancher/node/password")
        );
        assert_eq!(c.k3s.stop_grace_ms, 10_000);
        assert_eq!(
            (c.k3s.backoff_initial_ms, c.k3s.backoff_max_ms),
            (1_000, 60_000)
        );
        assert_eq!(c.poll, PollConfig::default());
        assert_eq!(
            (c.poll.pending_ms, c.poll.joined_ms, c.poll.jitter_percent),
            (5_000, 60_000, 20)
        );
        assert_eq!(c.chain.quorum(), 2);
        assert_eq!(
            c.state_file(),
            PathBuf::from("/var/lib/k8s-daas/state.json")
        );
        assert_eq!(
            c.child_notify_socket(),
            PathBuf::from("/run/k8s-daas/private/k3s-notify.sock")
        );
    }

    #[test]
    fn every_field_parses_from_a_literal() {
        let text = format!(
            r#"
            root_public_key = "{ROOT}"
            label = "rpi"
            key_dir = "/k"
            data_dir = "/d"
            status_file = "/s/status.json"
            metrics_file = "/m/k8s_daas.prom"
            [k3s]
            binary = "/opt/k3s"
            args = ["--node-label", "zone=a", "--kubelet-arg=max-pods=20"]
            token_file = "/t/token"
            node_password_file = "/p/password"
            teardown = ["/opt/killall", "--all"]
            stop_grace_ms = 1
            backoff_initial_ms = 2
            backoff_max_ms = 3
            healthy_after_ms = 4
            cacerts_timeout_ms = 5
            teardown_timeout_ms = 6
            [poll]
            pending_ms = 7
            joined_ms = 8
            jitter_percent = 9
            {CHAIN}"#
        );
        let c = AgentConfig::parse(&text, "full.toml").unwrap();
        assert_eq!(c.label.as_deref(), Some("rpi"));
        assert_eq!(c.metrics_file, Some(PathBuf::from("/m/k8s_daas.prom")));
        assert_eq!(c.k3s.args.len(), 3);
        assert_eq!(
            c.k3s.teardown_command(None),
            Some(vec!["/opt/killall".to_string(), "--all".to_string()])
        );
        assert_eq!(
            (
                c.k3s.stop_grace_ms,
                c.k3s.backoff_initial_ms,
                c.k3s.backoff_max_ms,
                c.k3s.healthy_after_ms,
                c.k3s.cacerts_timeout_ms,
                c.k3s.teardown_timeout_ms
            ),
            (1, 2, 3, 4, 5, 6)
        );
        assert_eq!(
            (c.poll.pending_ms, c.poll.joined_ms, c.poll.jitter_percent),
            (7, 8, 9)
        );
        assert_eq!(c.private_dir(), PathBuf::from("/t"));
    }

    fn error_of(text: &str) -> String {
        AgentConfig::parse(text, "agent.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_missing_and_mistyped_keys_name_the_key() {
        let e = error_of(&format!("{}\nroot_pubkey = \"x\"", minimal()));
        assert!(e.contains("root_pubkey"), "{e}");
        let e = error_of(CHAIN);
        assert!(e.contains("root_public_key"), "{e}");
        let e = error_of(&format!("{}\n[k3s]\nbinry = \"/x\"", minimal()));
        assert!(e.contains("binry"), "{e}");
        let e = error_of(&format!("{}\n[poll]\npending_ms = \"soon\"", minimal()));
        assert!(e.contains("pending_ms"), "{e}");
        let e = error_of(&minimal().replace(ROOT, "0x1234"));
        assert!(e.contains("root public key"), "{e}");
    }

    #[test]
    fn refuses_k3s_args_that_set_the_server_token_or_name() {
        for bad in [
            "--token",
            "--token=K10x",
            "-t",
            "-t=K10",
            "--token-file=/x",
            "-token-file",
            "--server",
            "-s",
            "--server=https://evil:6443",
            "-server",
            "--node-name",
            "--node-name=x",
            "--with-node-id",
            "-with-node-id",
            "--agent-token",
        ] {
            let text = format!("{}\n[k3s]\nargs = [\"--node-label\", \"{bad}\"]", minimal());
            let e = error_of(&text);
            assert!(e.contains("`k3s.args`"), "{bad}: {e}");
            assert!(e.contains(bad), "{bad}: {e}");
        }
        for ok in [
            "--node-label=a=b",
            "--node-ip",
            "10.0.0.5",
            "--kubelet-arg",
            "-i",
        ] {
            let text = format!("{}\n[k3s]\nargs = [\"{ok}\"]", minimal());
            AgentConfig::parse(&text, "ok.toml").unwrap();
        }
    }

    #[test]
    fn validation_names_the_field() {
        let check = |extra: &str, field: &str| {
            let e = error_of(&format!("{}\n{extra}", minimal()));
            assert!(e.contains(&format!("`{field}`")), "{field}: {e}");
        };
        check("label = \"Bad_Label\"", "label");
        check("key_dir = \"relative\"", "key_dir");
        check("status_file = \"status.json\"", "status_file");
        check("metrics_file = \"/m/metrics.txt\"", "metrics_file");
        check("[k3s]\nbinary = \"k3s\"", "k3s.binary");
        check("[k3s]\ntoken_file = \"/\"", "k3s.token_file");
        check("[k3s]\nteardown = [\"\"]", "k3s.teardown");
        check("[k3s]\nstop_grace_ms = 0", "k3s.stop_grace_ms");
        check(
            "[k3s]\nbackoff_initial_ms = 5\nbackoff_max_ms = 4",
            "k3s.backoff_initial_ms",
        );
        check("[poll]\npending_ms = 0", "poll.pending_ms");
        check("[poll]\njitter_percent = 51", "poll.jitter_percent");
        let e = error_of(&minimal().replace(
            "endpoints = [\"https://a.example/graphql\", \"https://b.example/graphql\"]",
            "endpoints = []",
        ));
        assert!(e.contains("`chain.endpoints`"), "{e}");
    }

    #[test]
    fn teardown_defaults_to_k3s_killall_on_the_path_and_can_be_disabled() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("k3s-killall.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let k = K3sConfig::default();
        assert_eq!(
            k.teardown_command(Some(dir.path().as_os_str())),
            Some(vec![script.display().to_string()])
        );
        let none = K3sConfig {
            teardown: Some(vec![]),
            ..K3sConfig::default()
        };
        assert_eq!(none.teardown_command(Some(dir.path().as_os_str())), None);
    }
}
