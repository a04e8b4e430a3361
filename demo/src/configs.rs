//! The config files the demo writes: one `master.toml` and one `agent.toml` renderer,
//! used by the in-process stage ([`crate::stage`]), `up`'s boards and the suite's
//! world of separate processes ([`crate::world`]). The formats are the master's and
//! the agent's own (`daas_master::config`, `daas_agent::config`); tests of those crates
//! check every key, these only fill them in.

use std::fmt::Write as _;
use std::path::Path;

use daas_protocol::config::TransportKind;
use daas_protocol::{ChainId, ObjectId};

use crate::stage::transport_word;

/// The `[chain]` table both configs share.
pub struct ChainTable<'a> {
    pub chain_id: ChainId,
    pub transport: TransportKind,
    pub endpoints: &'a [String],
    pub package_id: ObjectId,
    pub registry_id: ObjectId,
    /// `request_timeout_ms`, when not the default.
    pub request_timeout_ms: Option<u64>,
}

impl ChainTable<'_> {
    /// A file holding only this table (what `fleet keygen --config` reads).
    pub fn file(&self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }

    fn render(&self, out: &mut String) {
        let endpoints: Vec<String> = self.endpoints.iter().map(|e| format!("{e:?}")).collect();
        let _ = write!(
            out,
            "[chain]\nchain_id = \"{}\"\ntransport = \"{}\"\nendpoints = [{}]\npackage_id = \"{}\"\nregistry_id = \"{}\"\n",
            self.chain_id,
            transport_word(self.transport),
            endpoints.join(", "),
            self.package_id,
            self.registry_id,
        );
        if let Some(t) = self.request_timeout_ms {
            let _ = writeln!(out, "request_timeout_ms = {t}");
        }
    }
}

/// What a demo master's `master.toml` holds.
pub struct MasterToml<'a> {
    pub chain: ChainTable<'a>,
    pub master_cap_id: ObjectId,
    /// The folder with `<sui_key>`, `envelope.key` and `node-password.key`.
    pub keys: &'a Path,
    /// The Sui key's file name in `keys`.
    pub sui_key: &'a str,
    pub state_db: &'a Path,
    pub kubeconfig: &'a Path,
    pub server_url: &'a str,
    /// `[ha]`: the Lease and this master's identity.
    pub ha: Option<(&'a str, &'a str)>,
}

impl MasterToml<'_> {
    /// The file's text: the demo's fast pipeline settings, HTTP on a free port.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.chain.render(&mut out);
        let _ = write!(
            out,
            r#"
[master]
master_cap_id = "{cap}"
sui_key = "{keys}/{sui}"
envelope_key = "{keys}/envelope.key"
node_password_key = "{keys}/node-password.key"
state_db = "{db}"

[kubernetes]
kubeconfig = "{kubeconfig}"
server_url = "{url}"

[pipeline]
batch_size = 500
batch_linger_ms = 100
poll_interval_ms = 100
concurrency = 64

[http]
listen = "127.0.0.1:0"
"#,
            cap = self.master_cap_id,
            keys = self.keys.display(),
            sui = self.sui_key,
            db = self.state_db.display(),
            kubeconfig = self.kubeconfig.display(),
            url = self.server_url,
        );
        if let Some((lease, identity)) = self.ha {
            let _ = write!(
                out,
                "\n[ha]\nlease = \"{lease}\"\nidentity = \"{identity}\"\n"
            );
        }
        out
    }
}

/// What a demo board's `agent.toml` holds. `root` is the board's tree: the paths
/// stand in for a board's `/etc`, `/var/lib` and `/run`.
pub struct AgentToml<'a> {
    pub chain: ChainTable<'a>,
    pub root_public_key: &'a str,
    pub root: &'a Path,
    /// The `k3s` binary the agent supervises.
    pub k3s: &'a Path,
}

impl AgentToml<'_> {
    /// The file's text: faster polls and restarts than a board's defaults.
    pub fn render(&self) -> String {
        let p = |s: &str| self.root.join(s).display().to_string();
        let mut out = format!(
            r#"# A demo board: the paths stand in for a board's /etc, /var/lib and /run;
# the polls are faster than a board's defaults, so the demo is quick.
root_public_key = "{root_key}"
key_dir = "{key_dir}"
data_dir = "{key_dir}"
status_file = "{status}"

"#,
            root_key = self.root_public_key,
            key_dir = p("var/lib/k8s-daas"),
            status = p("run/k8s-daas/status.json"),
        );
        self.chain.render(&mut out);
        let _ = write!(
            out,
            r#"
[k3s]
binary = "{k3s}"
args = ["--data-dir", "{k3s_data}"]
token_file = "{token_file}"
node_password_file = "{password}"
teardown = []
stop_grace_ms = 3000
backoff_initial_ms = 300
backoff_max_ms = 3000

[poll]
pending_ms = 250
joined_ms = 1000
"#,
            k3s = self.k3s.display(),
            k3s_data = p("var/lib/rancher/k3s"),
            token_file = p("run/k8s-daas/private/k3s-token"),
            password = p("etc/rancher/node/password"),
        );
        out
    }
}

/// Makes `cmd` (a `daas-agent`) `run` the board whose tree is `root` with `config`:
/// its boot folder under the tree, info logs, and the stand-in's node-password path
/// (`daas-k3s agent` reads it where the agent writes it); no `NOTIFY_SOCKET`.
pub fn agent_run<'a>(
    cmd: &'a mut std::process::Command,
    root: &Path,
    config: &Path,
) -> &'a mut std::process::Command {
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .arg("--boot-dir")
        .arg(root.join("boot/k8s-daas"))
        .env("DAAS_AGENT_LOG", "info")
        .env(
            "DAAS_K3S_NODE_PASSWORD_FILE",
            root.join("etc/rancher/node/password"),
        )
        .env_remove("NOTIFY_SOCKET")
}

/// The folders of a board's tree that `daas-agent init` and `run` expect to exist.
pub const BOARD_DIRS: [&str; 4] = [
    "etc/k8s-daas",
    "run/k8s-daas",
    "var/lib/rancher/k3s",
    "etc/rancher/node",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(endpoints: &[String]) -> ChainTable<'_> {
        ChainTable {
            chain_id: "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
                .parse()
                .unwrap(),
            transport: TransportKind::Jsonrpc,
            endpoints,
            package_id: ObjectId([1; 32]),
            registry_id: ObjectId([2; 32]),
            request_timeout_ms: Some(3000),
        }
    }

    #[test]
    fn the_master_toml_is_what_the_master_loads() {
        let dir = tempfile::tempdir().unwrap();
        let endpoints = vec!["http://127.0.0.1:9/".to_string()];
        let text = MasterToml {
            chain: chain(&endpoints),
            master_cap_id: ObjectId([3; 32]),
            keys: dir.path(),
            sui_key: "master-sui.key",
            state_db: &dir.path().join("master.db"),
            kubeconfig: &dir.path().join("k3s.yaml"),
            server_url: "https://127.0.0.1:6443",
            ha: Some(("kube-system/k8s-daas-master", "master-a")),
        }
        .render();
        let c = daas_master::config::MasterConfig::parse(&text, "master.toml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(c.chain.endpoints, endpoints);
        assert_eq!(c.ha.unwrap().identity.as_deref(), Some("master-a"));
    }

    #[test]
    fn the_agent_toml_is_what_the_agent_loads() {
        let dir = tempfile::tempdir().unwrap();
        let endpoints = vec!["http://127.0.0.1:9/".into(), "http://127.0.0.1:10/".into()];
        let text = AgentToml {
            chain: chain(&endpoints),
            root_public_key: &daas_protocol::RootKey::generate().public().to_hex(),
            root: dir.path(),
            k3s: Path::new("/usr/bin/k3s"),
        }
        .render();
        let c = daas_agent::config::AgentConfig::parse(&text, "agent.toml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(c.chain.endpoints.len(), 2);
        assert_eq!(c.k3s.binary, Path::new("/usr/bin/k3s"));
        assert_eq!(c.status_file, dir.path().join("run/k8s-daas/status.json"));
    }
}
