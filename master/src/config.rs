//! `master.toml`, the configuration of `daas-master run` (TOML, `deny_unknown_fields`
//! in every table, so a typo fails at start naming the key).
//!
//! ```toml
//! [chain]                      # the shared table (daas_protocol::config::ChainConfig)
//! chain_id = "…"
//! transport = "graphql"
//! endpoints = ["https://a.example/graphql", "https://b.example/graphql"]
//! package_id = "0x…"
//! registry_id = "0x…"
//!
//! [master]
//! master_cap_id = "0x…"                                   # required
//! sui_key = "/etc/k8s-daas/master-sui.key"                # required: suiprivkey1… or sui.keystore
//! sui_address = "0x…"                                     # picks the key in a sui.keystore
//! envelope_key = "/etc/k8s-daas/envelope.key"             # required
//! node_password_key = "/etc/k8s-daas/node-password.key"   # required
//! state_db = "/var/lib/k8s-daas/master.db"                # default
//!
//! [kubernetes]
//! kubeconfig = "/etc/rancher/k3s/k3s.yaml"                # default
//! server_url = "https://10.0.0.1:6443"                    # required: the URL agents join
//! token_ttl_s = 86400                                     # default (k3s token create's 24h)
//!
//! [pipeline]                   # all optional
//! batch_size = 250
//! batch_linger_ms = 200
//! reconcile_interval_s = 30
//! poll_interval_ms = 500
//! concurrency = 32
//! drain_timeout_s = 10
//!
//! [http]
//! listen = "127.0.0.1:9464"                               # default
//!
//! [ha]                         # optional: several masters, one acting (see master/README.md)
//! lease = "kube-system/k8s-daas-master"                   # required in [ha]
//! identity = "master-a"                                   # default: <hostname>/<sui address>
//! lease_duration_s = 8                                    # default
//! renew_deadline_s = 5                                    # default
//! retry_period_ms = 1000                                  # default
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daas_protocol::ObjectId;
use daas_protocol::config::{self, ChainConfig, ConfigError};
use daas_protocol::ids::Address;
use serde::Deserialize;

/// Where `daas-master run` looks for its config by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/k8s-daas/master.toml";
/// Default state database.
pub const DEFAULT_STATE_DB: &str = "/var/lib/k8s-daas/master.db";
/// Default kubeconfig (the k3s server's admin kubeconfig).
pub const DEFAULT_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";
/// Default bootstrap-token and envelope lifetime (k3s `token create`'s default `24h`).
pub const DEFAULT_TOKEN_TTL_S: u64 = 24 * 3600;
/// Default most `set_join_token`/`activate_worker`/`confirm_revoked` calls per transaction.
pub const DEFAULT_BATCH_SIZE: usize = 250;
/// Largest `batch_size` accepted: every call emits up to two events and Sui allows
/// 1,024 events per transaction.
pub const MAX_BATCH_SIZE: usize = 500;
/// Default wait for more work before sending a partial batch.
pub const DEFAULT_BATCH_LINGER_MS: u64 = 200;
/// Default interval of the full reconcile (listing every worker of the registry).
pub const DEFAULT_RECONCILE_INTERVAL_S: u64 = 30;
/// Default event poll interval when idle.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 500;
/// Default parallel chain reads and Kubernetes requests.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Default bound on draining at shutdown.
pub const DEFAULT_DRAIN_TIMEOUT_S: u64 = 10;
/// Default status/metrics listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";
/// Default `[ha]` lease duration: how long standbys wait for an unchanged Lease.
pub const DEFAULT_LEASE_DURATION_S: u64 = 8;
/// Default `[ha]` renew deadline: how long a leader acts without renewing.
pub const DEFAULT_RENEW_DEADLINE_S: u64 = 5;
/// Default `[ha]` retry period (looks and renewals).
pub const DEFAULT_RETRY_PERIOD_MS: u64 = 1000;

/// The whole `master.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterConfig {
    /// The shared `[chain]` table.
    pub chain: ChainConfig,
    /// `[master]`: identity, keys and state.
    pub master: MasterTable,
    /// `[kubernetes]`: the cluster the master mints tokens for.
    pub kubernetes: KubernetesTable,
    /// `[pipeline]`: batching and pacing (all optional).
    #[serde(default)]
    pub pipeline: PipelineTable,
    /// `[http]`: status, metrics and `/api/workers` (optional).
    #[serde(default)]
    pub http: HttpTable,
    /// `[ha]`: leader election among several masters (optional; without it this
    /// master always acts).
    #[serde(default)]
    pub ha: Option<HaTable>,
}

/// `[ha]`: several masters, each with its own Sui account and MasterCap, the same
/// envelope and node-password keys; the one holding the Lease acts (DESIGN §10).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaTable {
    /// The `coordination.k8s.io` Lease, as `namespace/name`. Required.
    pub lease: String,
    /// This master's holder identity, unique among the masters (default
    /// `<hostname>/<sui address>`).
    #[serde(default)]
    pub identity: Option<String>,
    /// How long a standby waits for a Lease that does not change before it takes
    /// over, in seconds (default 8).
    #[serde(default = "default_lease_duration_s")]
    pub lease_duration_s: u64,
    /// How long the leader keeps acting without a successful renewal, in seconds
    /// (default 5; below `lease_duration_s`, so it stops before anyone else starts).
    #[serde(default = "default_renew_deadline_s")]
    pub renew_deadline_s: u64,
    /// How often standbys look and the leader renews, in milliseconds (default 1000).
    #[serde(default = "default_retry_period_ms")]
    pub retry_period_ms: u64,
}

impl HaTable {
    /// `(namespace, name)` of the Lease (validated).
    pub fn lease_ref(&self) -> (&str, &str) {
        self.lease.split_once('/').unwrap_or(("", &self.lease))
    }
}

/// `[master]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterTable {
    /// This master's `MasterCap` object id (owned by the Sui account below). Required.
    pub master_cap_id: ObjectId,
    /// The Sui account key file: a `suiprivkey1…` line or a `sui.keystore` JSON array,
    /// mode 0600. Required.
    pub sui_key: PathBuf,
    /// Which key of a `sui.keystore` to use (default: the only or first one).
    #[serde(default)]
    pub sui_address: Option<Address>,
    /// The envelope-signing key file (`k8s-daas-key v1 envelope …`), 0600. Required.
    pub envelope_key: PathBuf,
    /// The 32-byte node-password key file (`k8s-daas-key v1 node-password …`), 0600,
    /// shared by every master of the cluster (DESIGN §10). Required.
    pub node_password_key: PathBuf,
    /// The SQLite state database (created 0600 with its directory 0700).
    #[serde(default = "default_state_db")]
    pub state_db: PathBuf,
}

/// `[kubernetes]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesTable {
    /// Kubeconfig of a ServiceAccount with `deploy/rbac.yaml`'s rights, or the k3s
    /// server's admin kubeconfig (default `/etc/rancher/k3s/k3s.yaml`).
    #[serde(default = "default_kubeconfig")]
    pub kubeconfig: PathBuf,
    /// The URL agents join (`https://host:port`, no path); its `/cacerts` must be the
    /// kubeconfig's CA, or the master refuses to start. Required.
    pub server_url: String,
    /// Lifetime of each bootstrap token and of the envelope that carries it, in
    /// seconds (default 86400); at most the registry's `max_envelope_ttl_ms`.
    #[serde(default = "default_token_ttl_s")]
    pub token_ttl_s: u64,
}

/// `[pipeline]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineTable {
    /// Most registry calls in one transaction (default 250, at most 500); the
    /// transaction is also kept within Sui's size, command and input limits.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long to wait for more work before sending a batch that is not full, in
    /// milliseconds (default 200).
    #[serde(default = "default_batch_linger_ms")]
    pub batch_linger_ms: u64,
    /// Interval of the full reconcile that lists every worker of the registry, so a
    /// missed event never loses a worker, in seconds (default 30).
    #[serde(default = "default_reconcile_interval_s")]
    pub reconcile_interval_s: u64,
    /// Event poll interval when caught up, in milliseconds (default 500).
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Parallel chain reads and Kubernetes requests (default 32).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// On shutdown, how long to let the transaction in flight finish, in seconds
    /// (default 10).
    #[serde(default = "default_drain_timeout_s")]
    pub drain_timeout_s: u64,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTable {
    /// Listen address of `/healthz`, `/readyz`, `/metrics`, `/api/workers`
    /// (default `127.0.0.1:9464`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

fn default_lease_duration_s() -> u64 {
    DEFAULT_LEASE_DURATION_S
}
fn default_renew_deadline_s() -> u64 {
    DEFAULT_RENEW_DEADLINE_S
}
fn default_retry_period_ms() -> u64 {
    DEFAULT_RETRY_PERIOD_MS
}

/// An RFC 1123 DNS label (a namespace; a Lease name is checked as a subdomain).
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn default_state_db() -> PathBuf {
    DEFAULT_STATE_DB.into()
}
fn default_kubeconfig() -> PathBuf {
    DEFAULT_KUBECONFIG.into()
}
fn default_token_ttl_s() -> u64 {
    DEFAULT_TOKEN_TTL_S
}
fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}
fn default_batch_linger_ms() -> u64 {
    DEFAULT_BATCH_LINGER_MS
}
fn default_reconcile_interval_s() -> u64 {
    DEFAULT_RECONCILE_INTERVAL_S
}
fn default_poll_interval_ms() -> u64 {
    DEFAULT_POLL_INTERVAL_MS
}
fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}
fn default_drain_timeout_s() -> u64 {
    DEFAULT_DRAIN_TIMEOUT_S
}
fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN.parse().expect("valid default")
}

impl Default for PipelineTable {
    fn default() -> Self {
        PipelineTable {
            batch_size: DEFAULT_BATCH_SIZE,
            batch_linger_ms: DEFAULT_BATCH_LINGER_MS,
            reconcile_interval_s: DEFAULT_RECONCILE_INTERVAL_S,
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            concurrency: DEFAULT_CONCURRENCY,
            drain_timeout_s: DEFAULT_DRAIN_TIMEOUT_S,
        }
    }
}

impl Default for HttpTable {
    fn default() -> Self {
        HttpTable {
            listen: default_listen(),
        }
    }
}

impl PipelineTable {
    /// `batch_linger_ms` as a duration.
    pub fn batch_linger(&self) -> Duration {
        Duration::from_millis(self.batch_linger_ms)
    }
    /// `reconcile_interval_s` as a duration.
    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_secs(self.reconcile_interval_s)
    }
    /// `poll_interval_ms` as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    /// `drain_timeout_s` as a duration.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_s)
    }
}

impl KubernetesTable {
    /// `token_ttl_s` in milliseconds.
    pub fn token_ttl_ms(&self) -> u64 {
        self.token_ttl_s.saturating_mul(1000)
    }
}

impl MasterConfig {
    /// How long a labelled token of a version not yet on chain is spared (ms): the
    /// renew deadline with `[ha]` (another master may be sealing it), else 0.
    pub fn orphan_grace_ms(&self) -> u64 {
        self.ha
            .as_ref()
            .map_or(0, |h| h.renew_deadline_s.saturating_mul(1000))
    }

    /// Parses TOML text (`source_name` names it in errors) and validates it.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        let c: MasterConfig = config::parse_toml(text, source_name)?;
        c.validate()?;
        Ok(c)
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let c: MasterConfig = config::load_toml(path)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks what the types cannot, naming the field and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.chain.validate("chain")?;
        let k = &self.kubernetes;
        if !daas_protocol::envelope::is_valid_server_url(&k.server_url) {
            return Err(ConfigError::invalid(
                "kubernetes.server_url",
                format!(
                    "{:?} is not https://host[:port] without a path or trailing '/': give the URL agents join",
                    k.server_url
                ),
            ));
        }
        if k.token_ttl_s == 0 {
            return Err(ConfigError::invalid(
                "kubernetes.token_ttl_s",
                "must be above 0 (default 86400): an envelope needs an expiry in the future",
            ));
        }
        let p = &self.pipeline;
        if !(1..=MAX_BATCH_SIZE).contains(&p.batch_size) {
            return Err(ConfigError::invalid(
                "pipeline.batch_size",
                format!(
                    "{} is outside 1..={MAX_BATCH_SIZE} (default {DEFAULT_BATCH_SIZE})",
                    p.batch_size
                ),
            ));
        }
        if p.reconcile_interval_s == 0 {
            return Err(ConfigError::invalid(
                "pipeline.reconcile_interval_s",
                "must be at least 1 (default 30)",
            ));
        }
        if p.poll_interval_ms == 0 {
            return Err(ConfigError::invalid(
                "pipeline.poll_interval_ms",
                "must be at least 1 (default 500)",
            ));
        }
        if p.concurrency == 0 {
            return Err(ConfigError::invalid(
                "pipeline.concurrency",
                "must be at least 1 (default 32)",
            ));
        }
        if let Some(h) = &self.ha {
            let (ns, name) = h.lease_ref();
            let name_ok = name.len() <= 253 && name.split('.').all(is_dns_label);
            if !h.lease.contains('/') || !is_dns_label(ns) || !name_ok {
                return Err(ConfigError::invalid(
                    "ha.lease",
                    format!(
                        "{:?} is not namespace/name of lower-case DNS names, e.g. \"kube-system/k8s-daas-master\"",
                        h.lease
                    ),
                ));
            }
            if h.identity.as_deref().is_some_and(|i| i.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    "ha.identity",
                    "is empty: leave it out for <hostname>/<sui address>, or give a unique name",
                ));
            }
            if h.lease_duration_s < 2 {
                return Err(ConfigError::invalid(
                    "ha.lease_duration_s",
                    "must be at least 2 (default 8)",
                ));
            }
            if h.renew_deadline_s == 0 || h.renew_deadline_s >= h.lease_duration_s {
                return Err(ConfigError::invalid(
                    "ha.renew_deadline_s",
                    format!(
                        "{} must be above 0 and below ha.lease_duration_s ({}): the leader must stop acting before a standby may start (default 5 with 8)",
                        h.renew_deadline_s, h.lease_duration_s
                    ),
                ));
            }
            if h.retry_period_ms == 0
                || h.retry_period_ms.saturating_mul(2) > h.renew_deadline_s * 1000
            {
                return Err(ConfigError::invalid(
                    "ha.retry_period_ms",
                    format!(
                        "{} must be above 0 and at most half of ha.renew_deadline_s ({} s), so a leader gets two tries at renewing (default 1000)",
                        h.retry_period_ms, h.renew_deadline_s
                    ),
                ));
            }
        }
        let m = &self.master;
        for (field, path) in [
            ("master.sui_key", &m.sui_key),
            ("master.envelope_key", &m.envelope_key),
            ("master.node_password_key", &m.node_password_key),
            ("master.state_db", &m.state_db),
        ] {
            if path.as_os_str().is_empty() {
                return Err(ConfigError::invalid(field, "is empty: give a file path"));
            }
        }
        let keys = [&m.sui_key, &m.envelope_key, &m.node_password_key];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                if a == b {
                    return Err(ConfigError::invalid(
                        "master",
                        format!(
                            "{} is named for two keys: every key has its own file",
                            a.display()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [chain]
        chain_id = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
        endpoints = ["https://a.example/graphql"]
        package_id = "0x2a"
        registry_id = "0x2b"

        [master]
        master_cap_id = "0x2c"
        sui_key = "/etc/k8s-daas/master-sui.key"
        envelope_key = "/etc/k8s-daas/envelope.key"
        node_password_key = "/etc/k8s-daas/node-password.key"

        [kubernetes]
        server_url = "https://10.0.0.1:6443"
    "#;

    const FULL: &str = r#"
        [chain]
        chain_id = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
        transport = "jsonrpc"
        endpoints = ["https://a.example", "https://b.example"]
        package_id = "0x2a"
        registry_id = "0x2b"

        [master]
        master_cap_id = "0x2c"
        sui_key = "/k/sui.keystore"
        sui_address = "0x2d"
        envelope_key = "/k/envelope.key"
        node_password_key = "/k/nodepw.key"
        state_db = "/s/master.db"

        [kubernetes]
        kubeconfig = "/k/kubeconfig"
        server_url = "https://k3s.example:6443"
        token_ttl_s = 3600

        [pipeline]
        batch_size = 100
        batch_linger_ms = 50
        reconcile_interval_s = 5
        poll_interval_ms = 100
        concurrency = 8
        drain_timeout_s = 3

        [http]
        listen = "0.0.0.0:9000"
    "#;

    #[test]
    fn the_minimal_file_takes_the_documented_defaults() {
        let c = MasterConfig::parse(MINIMAL, "master.toml").unwrap();
        assert_eq!(c.master.master_cap_id, ObjectId::from_u64(0x2c));
        assert_eq!(c.master.sui_address, None);
        assert_eq!(c.master.state_db, PathBuf::from(DEFAULT_STATE_DB));
        assert_eq!(c.kubernetes.kubeconfig, PathBuf::from(DEFAULT_KUBECONFIG));
        assert_eq!(c.kubernetes.token_ttl_s, 86_400);
        assert_eq!(c.kubernetes.token_ttl_ms(), 86_400_000);
        assert_eq!(c.pipeline, PipelineTable::default());
        assert_eq!(c.pipeline.batch_size, 250);
        assert_eq!(c.pipeline.batch_linger(), Duration::from_millis(200));
        assert_eq!(c.pipeline.reconcile_interval(), Duration::from_secs(30));
        assert_eq!(c.pipeline.poll_interval(), Duration::from_millis(500));
        assert_eq!(c.pipeline.concurrency, 32);
        assert_eq!(c.pipeline.drain_timeout(), Duration::from_secs(10));
        assert_eq!(c.http.listen, "127.0.0.1:9464".parse().unwrap());
        assert_eq!(c.chain.quorum(), 1);
    }

    #[test]
    fn every_field_parses_from_a_literal() {
        let c = MasterConfig::parse(FULL, "full.toml").unwrap();
        assert_eq!(c.chain.quorum(), 2);
        assert_eq!(c.master.sui_key, PathBuf::from("/k/sui.keystore"));
        assert_eq!(c.master.sui_address, Some(Address::from_u64(0x2d)));
        assert_eq!(c.master.envelope_key, PathBuf::from("/k/envelope.key"));
        assert_eq!(c.master.node_password_key, PathBuf::from("/k/nodepw.key"));
        assert_eq!(c.master.state_db, PathBuf::from("/s/master.db"));
        assert_eq!(c.kubernetes.kubeconfig, PathBuf::from("/k/kubeconfig"));
        assert_eq!(c.kubernetes.server_url, "https://k3s.example:6443");
        assert_eq!(c.kubernetes.token_ttl_s, 3600);
        assert_eq!(
            c.pipeline,
            PipelineTable {
                batch_size: 100,
                batch_linger_ms: 50,
                reconcile_interval_s: 5,
                poll_interval_ms: 100,
                concurrency: 8,
                drain_timeout_s: 3,
            }
        );
        assert_eq!(c.http.listen, "0.0.0.0:9000".parse().unwrap());
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let e = MasterConfig::parse(
            &MINIMAL.replace("[kubernetes]", "[kubernetes]\ntoken_ttl = 5"),
            "m.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("token_ttl") && e.contains("m.toml"), "{e}");
        let e = MasterConfig::parse(&MINIMAL.replace("master_cap_id", "master_cap"), "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("master_cap"), "{e}");
        let e = MasterConfig::parse(
            &MINIMAL.replace("server_url = \"https://10.0.0.1:6443\"", ""),
            "m.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("server_url"), "{e}");
        let e = MasterConfig::parse(
            &format!("{MINIMAL}\n[ha]\nlease = \"kube-system/m\"\nlease_duration = 8\n"),
            "m.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("lease_duration"), "{e}");
    }

    #[test]
    fn the_ha_table_takes_client_go_like_defaults_and_every_field() {
        let c = MasterConfig::parse(MINIMAL, "m.toml").unwrap();
        assert_eq!(c.ha, None);
        assert_eq!(c.orphan_grace_ms(), 0);
        let c = MasterConfig::parse(
            &format!("{MINIMAL}\n[ha]\nlease = \"kube-system/k8s-daas-master\"\n"),
            "m.toml",
        )
        .unwrap();
        let h = c.ha.clone().unwrap();
        assert_eq!(h.lease_ref(), ("kube-system", "k8s-daas-master"));
        assert_eq!(h.identity, None);
        assert_eq!(
            (h.lease_duration_s, h.renew_deadline_s, h.retry_period_ms),
            (8, 5, 1000)
        );
        assert_eq!(c.orphan_grace_ms(), 5000);
        let c = MasterConfig::parse(
            &format!(
                "{MINIMAL}\n[ha]\nlease = \"ops/daas.lease\"\nidentity = \"master-b\"\nlease_duration_s = 15\nrenew_deadline_s = 10\nretry_period_ms = 2000\n"
            ),
            "m.toml",
        )
        .unwrap();
        assert_eq!(
            c.ha.unwrap(),
            HaTable {
                lease: "ops/daas.lease".into(),
                identity: Some("master-b".into()),
                lease_duration_s: 15,
                renew_deadline_s: 10,
                retry_period_ms: 2000,
            }
        );
    }

    #[test]
    fn ha_values_that_cannot_work_name_the_field() {
        for (body, field) in [
            ("lease = \"k8s-daas-master\"", "ha.lease"),
            ("lease = \"Kube-System/x\"", "ha.lease"),
            ("lease = \"kube-system/\"", "ha.lease"),
            ("lease = \"a/b\"\nidentity = \" \"", "ha.identity"),
            (
                "lease = \"a/b\"\nlease_duration_s = 1",
                "ha.lease_duration_s",
            ),
            (
                "lease = \"a/b\"\nrenew_deadline_s = 8",
                "ha.renew_deadline_s",
            ),
            (
                "lease = \"a/b\"\nrenew_deadline_s = 0",
                "ha.renew_deadline_s",
            ),
            (
                "lease = \"a/b\"\nretry_period_ms = 3000",
                "ha.retry_period_ms",
            ),
            ("lease = \"a/b\"\nretry_period_ms = 0", "ha.retry_period_ms"),
        ] {
            let e = MasterConfig::parse(&format!("{MINIMAL}\n[ha]\n{body}\n"), "m.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{body}: {e}");
        }
    }

    #[test]
    fn values_that_cannot_work_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "server_url = \"https://10.0.0.1:6443\"",
                "server_url = \"http://10.0.0.1:6443\"",
                "kubernetes.server_url",
            ),
            (
                "server_url = \"https://10.0.0.1:6443\"",
                "server_url = \"https://10.0.0.1:6443/\"",
                "kubernetes.server_url",
            ),
            (
                "[kubernetes]",
                "[kubernetes]\ntoken_ttl_s = 0",
                "kubernetes.token_ttl_s",
            ),
            (
                "[kubernetes]",
                "[pipeline]\nbatch_size = 0\n[kubernetes]",
                "pipeline.batch_size",
            ),
            (
                "[kubernetes]",
                "[pipeline]\nbatch_size = 501\n[kubernetes]",
                "pipeline.batch_size",
            ),
            (
                "[kubernetes]",
                "[pipeline]\nconcurrency = 0\n[kubernetes]",
                "pipeline.concurrency",
            ),
            (
                "[kubernetes]",
                "[pipeline]\nreconcile_interval_s = 0\n[kubernetes]",
                "pipeline.reconcile_interval_s",
            ),
            (
                "[kubernetes]",
                "[pipeline]\npoll_interval_ms = 0\n[kubernetes]",
                "pipeline.poll_interval_ms",
            ),
            (
                "/etc/k8s-daas/node-password.key",
                "/etc/k8s-daas/envelope.key",
                "`master`",
            ),
            (
                "endpoints = [\"https://a.example/graphql\"]",
                "endpoints = []",
                "chain.endpoints",
            ),
        ];
        for (from, to, field) in cases {
            let text = MINIMAL.replace(from, to);
            assert_ne!(text, MINIMAL, "{from}");
            let e = MasterConfig::parse(&text, "m.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
