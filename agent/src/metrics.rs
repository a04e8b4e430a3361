//! node_exporter textfile-collector metrics (`metrics_file`, e.g.
//! `/var/lib/node_exporter/textfile_collector/k8s_daas.prom`), rewritten atomically
//! with the status file, from the same [`Status`]. No secrets, no high-cardinality
//! labels.

use std::fmt::Write as _;

use crate::status::{Phase, Status};

/// Every chain status the gauge `k8s_daas_agent_chain_status` can take.
const CHAIN_STATUSES: [&str; 8] = [
    "pending",
    "token_issued",
    "active",
    "leaving",
    "slashed",
    "revoked",
    "gone",
    "not_registered",
];

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {value}");
}

/// The textfile contents for `status`.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        "k8s_daas_agent_joined",
        "1 while k3s runs and has reported READY=1.",
        u8::from(status.phase == Phase::Joined),
    );
    gauge(
        &mut out,
        "k8s_daas_agent_k3s_running",
        "1 while the k3s child process runs.",
        u8::from(status.k3s.pid.is_some()),
    );
    let _ = writeln!(
        out,
        "# HELP k8s_daas_agent_k3s_restarts_total k3s restarts after unexpected exits since the agent started."
    );
    let _ = writeln!(out, "# TYPE k8s_daas_agent_k3s_restarts_total counter");
    let _ = writeln!(
        out,
        "k8s_daas_agent_k3s_restarts_total {}",
        status.k3s.restarts
    );
    gauge(
        &mut out,
        "k8s_daas_agent_token_version",
        "The token_version k3s runs with (0: none).",
        status.token_version.unwrap_or(0),
    );
    gauge(
        &mut out,
        "k8s_daas_agent_envelope_expiry_timestamp_seconds",
        "Expiry of the envelope in use (0: none).",
        status.envelope_expires_at_ms.unwrap_or(0) / 1000,
    );
    gauge(
        &mut out,
        "k8s_daas_agent_last_chain_contact_timestamp_seconds",
        "Last successful chain read (0: never).",
        status.last_chain_contact_ms.unwrap_or(0) / 1000,
    );
    gauge(
        &mut out,
        "k8s_daas_agent_cgroup_memory",
        "1 if the memory cgroup controller is available.",
        u8::from(status.cgroup_memory),
    );
    let _ = writeln!(
        out,
        "# HELP k8s_daas_agent_chain_status The Worker's status on chain (1 for the current one)."
    );
    let _ = writeln!(out, "# TYPE k8s_daas_agent_chain_status gauge");
    for s in CHAIN_STATUSES {
        let v = u8::from(status.chain_status.as_deref() == Some(s));
        let _ = writeln!(out, "k8s_daas_agent_chain_status{{status=\"{s}\"}} {v}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_in_the_exposition_format() {
        let mut s = Status::starting("rpi-0123456789abcdef", 1, true);
        s.phase = Phase::Joined;
        s.k3s.pid = Some(7);
        s.k3s.restarts = 2;
        s.token_version = Some(3);
        s.chain_status = Some("active".into());
        s.envelope_expires_at_ms = Some(5_000);
        let text = render(&s);
        for line in [
            "k8s_daas_agent_joined 1",
            "k8s_daas_agent_k3s_running 1",
            "k8s_daas_agent_k3s_restarts_total 2",
            "k8s_daas_agent_token_version 3",
            "k8s_daas_agent_envelope_expiry_timestamp_seconds 5",
            "k8s_daas_agent_chain_status{status=\"active\"} 1",
            "k8s_daas_agent_chain_status{status=\"slashed\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = l.rsplit_once(' ').unwrap();
            assert!(name.starts_with("k8s_daas_agent_"), "{l}");
            value.parse::<f64>().unwrap();
        }
    }
}
