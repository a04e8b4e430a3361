//! The shared `[chain]` table of every k8s-daas config file and operator command
//! (DESIGN §10): which chain, through which endpoints and transport, which package and
//! registry. `agent.toml`, `master.toml` and `--config` on every CLI subcommand parse
//! it with this one type, so a device and its master can never disagree on its shape.
//!
//! ```toml
//! [chain]
//! chain_id = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"  # Base58 genesis checkpoint digest
//! transport = "graphql"                                       # or "jsonrpc"
//! endpoints = ["https://graphql.mainnet.sui.io/graphql"]
//! quorum = 1                                                  # default: 2 when 2+ endpoints
//! package_id = "0x…"
//! registry_id = "0x…"
//! ```
//!
//! Config files are TOML with `deny_unknown_fields` throughout: a typo on a device
//! nobody logs into must fail loudly at start, naming the key. [`parse_toml`] and
//! [`load_toml`] give errors that name the file, the line and the key, and
//! [`ChainConfig::validate`] names the field (`chain.quorum`) and the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::chain_id::ChainId;
use crate::ids::ObjectId;

/// Default per-request timeout (ms); Sui's GraphQL service allows 40 s for reads.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Default attempts per request, across endpoints.
pub const DEFAULT_ATTEMPTS: u32 = 6;

/// A config file that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML of the expected shape (unknown key, wrong type, missing key); the
    /// message carries the line, the column and the key, as the TOML parser gives them.
    #[error("config {source_name}: {message}")]
    Parse {
        /// The file (or "<string>").
        source_name: String,
        /// The parser's message.
        message: String,
    },
    /// A value that parses but cannot work.
    #[error("config field `{field}`: {message}")]
    Invalid {
        /// The dotted key, e.g. `chain.quorum`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses TOML text as `T`; `source_name` names the origin in errors.
pub fn parse_toml<T: DeserializeOwned>(text: &str, source_name: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        source_name: source_name.into(),
        message: e.to_string().trim_end().to_string(),
    })
}

/// Reads and parses a TOML config file.
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, &path.display().to_string())
}

/// Which of Sui's HTTP APIs the endpoints speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// GraphQL RPC (`POST …/graphql`); the default, since Sui retired its public
    /// JSON-RPC endpoints in July 2026.
    #[default]
    Graphql,
    /// JSON-RPC (`POST /`), for providers that still serve it.
    Jsonrpc,
}

/// The `[chain]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// The pinned chain: Base58 digest of the genesis checkpoint. Required; every
    /// endpoint is checked against it before any other call.
    pub chain_id: ChainId,
    /// `graphql` (default) or `jsonrpc`.
    #[serde(default)]
    pub transport: TransportKind,
    /// Endpoint URLs (`https://…`; GraphQL URLs end in `/graphql`). Required, at least
    /// one, no duplicates. Requests fail over from one to the next.
    pub endpoints: Vec<String>,
    /// How many endpoints must return the identical object for a read that decides
    /// something (mint a token, stop k3s). Default: 2 when two or more endpoints are
    /// configured, else 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<usize>,
    /// The `k8s_daas` package id. Required.
    pub package_id: ObjectId,
    /// The shared `WorkerRegistry` object id. Required.
    pub registry_id: ObjectId,
    /// Per-request timeout in milliseconds (default 30000).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Attempts per request across endpoints, with jittered exponential backoff
    /// (default 6).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_request_timeout_ms() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_MS
}

fn default_attempts() -> u32 {
    DEFAULT_ATTEMPTS
}

impl ChainConfig {
    /// A config with the defaults for everything optional.
    pub fn new(
        chain_id: ChainId,
        transport: TransportKind,
        endpoints: Vec<String>,
        package_id: ObjectId,
        registry_id: ObjectId,
    ) -> Self {
        ChainConfig {
            chain_id,
            transport,
            endpoints,
            quorum: None,
            package_id,
            registry_id,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            attempts: DEFAULT_ATTEMPTS,
        }
    }

    /// The quorum in force (the configured one, or the default).
    pub fn quorum(&self) -> usize {
        self.quorum
            .unwrap_or(if self.endpoints.len() >= 2 { 2 } else { 1 })
    }

    /// The per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Checks what the types cannot. `table` is the key of this table in its file
    /// (`"chain"`), used to name fields in errors.
    pub fn validate(&self, table: &str) -> Result<(), ConfigError> {
        let field = |f: &str| format!("{table}.{f}");
        if self.endpoints.is_empty() {
            return Err(ConfigError::invalid(
                field("endpoints"),
                "no endpoints: list at least one Sui RPC URL",
            ));
        }
        for (i, url) in self.endpoints.iter().enumerate() {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                return Err(ConfigError::invalid(
                    field("endpoints"),
                    format!("entry {i} ({url:?}) is not an http:// or https:// URL with a host"),
                ));
            }
            if self.transport == TransportKind::Graphql
                && !url.trim_end_matches('/').ends_with("/graphql")
            {
                return Err(ConfigError::invalid(
                    field("endpoints"),
                    format!(
                        "entry {i} ({url:?}) is not a GraphQL URL (…/graphql): fix the URL or set transport = \"jsonrpc\""
                    ),
                ));
            }
            if self.endpoints[..i].contains(url) {
                return Err(ConfigError::invalid(
                    field("endpoints"),
                    format!("{url:?} is listed twice: a quorum needs distinct endpoints"),
                ));
            }
        }
        let q = self.quorum();
        if q == 0 || q > self.endpoints.len() {
            return Err(ConfigError::invalid(
                field("quorum"),
                format!(
                    "quorum {q} needs between 1 and the {} configured endpoints",
                    self.endpoints.len()
                ),
            ));
        }
        if self.request_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                field("request_timeout_ms"),
                "must be above 0 (default 30000)",
            ));
        }
        if self.attempts == 0 {
            return Err(ConfigError::invalid(
                field("attempts"),
                "must be at least 1 (default 6)",
            ));
        }
        Ok(())
    }

    /// The client settings for all endpoints (requests fail over between them).
    #[cfg(feature = "client")]
    pub fn client_config(&self) -> crate::chain::ClientConfig {
        self.client_config_for(self.endpoints.clone())
    }

    /// The client settings for a subset of the endpoints (one per quorum member).
    #[cfg(feature = "client")]
    pub fn client_config_for(&self, endpoints: Vec<String>) -> crate::chain::ClientConfig {
        crate::chain::ClientConfig {
            endpoints,
            chain_id: self.chain_id,
            retry: crate::chain::RetryPolicy {
                attempts: self.attempts,
                request_timeout: self.request_timeout(),
                ..crate::chain::RetryPolicy::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        chain: ChainConfig,
    }

    const FULL: &str = r#"
        [chain]
        chain_id = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
        transport = "jsonrpc"
        endpoints = ["https://a.example:443", "https://b.example:443"]
        quorum = 1
        package_id = "0x2a"
        registry_id = "0x2b"
        request_timeout_ms = 5000
        attempts = 3
    "#;

    #[test]
    fn every_field_parses_from_a_literal() {
        let f: File = parse_toml(FULL, "full.toml").unwrap();
        let c = f.chain;
        c.validate("chain").unwrap();
        assert_eq!(c.chain_id.jsonrpc_identifier(), "35834a8a");
        assert_eq!(c.transport, TransportKind::Jsonrpc);
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(c.quorum(), 1);
        assert_eq!(c.package_id, ObjectId::from_u64(0x2a));
        assert_eq!(c.registry_id, ObjectId::from_u64(0x2b));
        assert_eq!(c.request_timeout(), Duration::from_secs(5));
        assert_eq!(c.attempts, 3);
    }

    #[test]
    fn defaults_graphql_quorum_two_with_two_endpoints() {
        let f: File = parse_toml(
            r#"
            [chain]
            chain_id = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
            endpoints = ["https://a.example/graphql", "https://b.example/graphql"]
            package_id = "0x2a"
            registry_id = "0x2b"
            "#,
            "min.toml",
        )
        .unwrap();
        let c = f.chain;
        c.validate("chain").unwrap();
        assert_eq!(c.transport, TransportKind::Graphql);
        assert_eq!(c.quorum(), 2);
        assert_eq!(c.request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
        assert_eq!(c.attempts, DEFAULT_ATTEMPTS);
        let mut one = c.clone();
        one.endpoints.truncate(1);
        assert_eq!(one.quorum(), 1);
    }

    #[test]
    fn unknown_and_missing_keys_name_the_key_and_the_file() {
        let typo = FULL.replace("quorum = 1", "quorom = 1");
        let e = parse_toml::<File>(&typo, "agent.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("agent.toml"), "{e}");
        assert!(e.contains("quorom"), "{e}");
        let missing = FULL.replace("registry_id = \"0x2b\"", "");
        let e = parse_toml::<File>(&missing, "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("registry_id"), "{e}");
        let bad_id = FULL.replace("4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S", "35834a8a");
        let e = parse_toml::<File>(&bad_id, "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("chain id"), "{e}");
    }

    #[test]
    fn validation_names_the_field() {
        let base: File = parse_toml(FULL, "f").unwrap();
        let check = |edit: &dyn Fn(&mut ChainConfig), field: &str| {
            let mut c = base.chain.clone();
            edit(&mut c);
            let e = c.validate("chain").unwrap_err().to_string();
            assert!(e.contains(&format!("`chain.{field}`")), "{field}: {e}");
        };
        check(&|c| c.endpoints.clear(), "endpoints");
        check(&|c| c.endpoints[0] = "ftp://x".into(), "endpoints");
        check(&|c| c.endpoints[0] = "https://".into(), "endpoints");
        check(&|c| c.endpoints[1] = c.endpoints[0].clone(), "endpoints");
        check(&|c| c.quorum = Some(3), "quorum");
        check(&|c| c.quorum = Some(0), "quorum");
        check(&|c| c.request_timeout_ms = 0, "request_timeout_ms");
        check(&|c| c.attempts = 0, "attempts");
        check(&|c| c.transport = TransportKind::Graphql, "endpoints");
    }
}
