//! `daas-k3s server`: k3s's flag names for what the stand-in models.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use daas_sandbox::k3s::server::{K3sServer, ServerConfig};

/// `daas-k3s server` arguments (k3s's names; see `k3s server --help`).
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Folder holding state (`server/tls`, `server/token`, `server/db`, ...); k3s's default
    /// is /var/lib/rancher/k3s.
    #[arg(long, short = 'd')]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// HTTPS port for the supervisor and the Kubernetes API; 0 picks a free one (printed
    /// and written to DATA_DIR/server/port).
    #[arg(long, default_value_t = 6443)]
    https_listen_port: u16,
    /// Write the admin kubeconfig here (mode 0600) instead of DATA_DIR/server/cred/admin.kubeconfig.
    #[arg(long, short = 'o')]
    write_kubeconfig: Option<PathBuf>,
    /// Add a host name or IP address to the serving certificate's SANs (repeatable, or
    /// comma-separated, as k3s's string-slice flag).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    tls_san: Vec<String>,
}

/// Stand-in-only environment: how long a node's kubelet may stay silent before its Ready
/// condition turns Unknown (kube-controller-manager's `--node-monitor-grace-period`).
const GRACE_ENV: &str = "DAAS_K3S_NODE_MONITOR_GRACE";

/// Runs the server until SIGTERM or SIGINT; exits 0 then.
pub async fn run(a: ServerArgs) -> anyhow::Result<ExitCode> {
    let mut config = ServerConfig::new(a.data_dir);
    config.bind_address = a.bind_address;
    config.https_listen_port = a.https_listen_port;
    config.write_kubeconfig = a.write_kubeconfig;
    for san in &a.tls_san {
        anyhow::ensure!(
            san.parse::<IpAddr>().is_ok() || is_dns_name(san),
            "--tls-san {san:?}: not an IP address or a DNS name (letters, digits, '-', '.'); fix the flag"
        );
    }
    config.tls_san = a.tls_san;
    if let Ok(v) = std::env::var(GRACE_ENV) {
        config.node_monitor_grace = parse_duration(&v).with_context(|| {
            format!("{GRACE_ENV}={v:?}: expected a duration such as 40s or 500ms")
        })?;
    }
    let server = K3sServer::start(config, daas_sandbox::k3s::agent::shutdown_signal(false)).await?;
    println!(
        "daas-k3s server is ready: url={} kubeconfig={} token={}",
        server.url,
        server.kubeconfig.display(),
        server.token_file.display()
    );
    server.wait().await?;
    Ok(ExitCode::SUCCESS)
}

/// A DNS name as a certificate may hold it: dot-separated labels of letters, digits and
/// `-`, optionally starting with a `*.` wildcard.
fn is_dns_name(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn parse_duration(v: &str) -> anyhow::Result<Duration> {
    let v = v.trim();
    let (num, unit) = v.split_at(
        v.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(v.len()),
    );
    let n: f64 = num.parse().context("not a number")?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => anyhow::bail!("unknown unit {unit:?}"),
    };
    anyhow::ensure!(secs.is_finite() && secs > 0.0, "must be positive");
    Ok(Duration::from_secs_f64(secs))
}
