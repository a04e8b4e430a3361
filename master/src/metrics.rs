//! Prometheus metrics (`/metrics`, text exposition via `prometheus-client`).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `daas_master_events_processed_total` | counter | |
//! | `daas_master_reconciles_total` | counter | |
//! | `daas_master_workers` | gauge | `stage` |
//! | `daas_master_transactions_submitted_total` | counter | |
//! | `daas_master_transactions_failed_total` | counter | `reason` |
//! | `daas_master_calls_total` | counter | `call`, `result` |
//! | `daas_master_mint_to_chain_seconds` | histogram | |
//! | `daas_master_rpc_errors_total` | counter | `kind` |
//! | `daas_master_kubernetes_errors_total` | counter | |
//! | `daas_master_leader` | gauge | |

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::db::Stage;

/// `stage` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    /// Pipeline stage.
    pub stage: String,
}

/// `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why.
    pub reason: String,
}

/// `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// Error kind.
    pub kind: String,
}

/// `call` and `result` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabel {
    /// Entry function.
    pub call: String,
    /// `sent`, `aborted`.
    pub result: String,
}

/// Every metric the master exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Registry events read.
    pub events_processed: Counter,
    /// Rounds that listed the registry and the cluster and then decided every worker.
    pub reconciles: Counter,
    /// Workers by stage.
    pub workers: Family<StageLabel, Gauge>,
    /// Transactions sent.
    pub tx_submitted: Counter,
    /// Transactions that failed, by reason.
    pub tx_failed: Family<ReasonLabel, Counter>,
    /// Registry calls by function and result.
    pub calls: Family<CallLabel, Counter>,
    /// From the token's mint to its envelope being on chain.
    pub mint_to_chain: Histogram,
    /// Chain errors by kind.
    pub rpc_errors: Family<KindLabel, Counter>,
    /// Kubernetes API errors.
    pub kube_errors: Counter,
    /// 1 while this master acts (always 1 without `[ha]`).
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("daas_master");
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            events_processed: Counter::default(),
            reconciles: Counter::default(),
            workers: Family::default(),
            tx_submitted: Counter::default(),
            tx_failed: Family::default(),
            calls: Family::default(),
            mint_to_chain: Histogram::new([0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            rpc_errors: Family::default(),
            kube_errors: Counter::default(),
            leader: Gauge::default(),
        };
        r.register(
            "events_processed",
            "Registry events read from the chain",
            m.events_processed.clone(),
        );
        r.register(
            "reconciles",
            "Reconcile rounds completed: registry and cluster listed, every worker decided",
            m.reconciles.clone(),
        );
        r.register("workers", "Workers by pipeline stage", m.workers.clone());
        r.register(
            "transactions_submitted",
            "Batch transactions sent",
            m.tx_submitted.clone(),
        );
        r.register(
            "transactions_failed",
            "Batch transactions that failed or were dropped, by reason",
            m.tx_failed.clone(),
        );
        r.register(
            "calls",
            "Registry calls by entry function and result",
            m.calls.clone(),
        );
        r.register(
            "mint_to_chain_seconds",
            "Seconds from a token's mint to its envelope on chain",
            m.mint_to_chain.clone(),
        );
        r.register("rpc_errors", "Sui RPC errors by kind", m.rpc_errors.clone());
        r.register(
            "kubernetes_errors",
            "Kubernetes API errors",
            m.kube_errors.clone(),
        );
        r.register("leader", "1 while this master acts", m.leader.clone());
        *m.registry.lock().expect("fresh") = r;
        m
    }

    /// Sets the per-stage gauges (every stage present, zeros included).
    pub fn set_stages(&self, counts: &[(Stage, u64)]) {
        for s in Stage::ALL {
            let n = counts
                .iter()
                .find(|(st, _)| *st == s)
                .map_or(0, |(_, n)| *n);
            self.workers
                .get_or_create(&StageLabel {
                    stage: s.as_str().into(),
                })
                .set(n as i64);
        }
    }

    /// Counts a chain error under its [`chain_error_kind`].
    pub fn rpc_error(&self, e: &daas_protocol::chain::ChainError) {
        self.rpc_errors
            .get_or_create(&KindLabel {
                kind: chain_error_kind(e).into(),
            })
            .inc();
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        prometheus_client::encoding::text::encode(&mut out, &r).expect("writing to a String");
        out
    }
}

/// The `kind` label of a chain error in `daas_master_rpc_errors_total`.
pub fn chain_error_kind(e: &daas_protocol::chain::ChainError) -> &'static str {
    use daas_protocol::chain::ChainError as E;
    match e {
        E::Unavailable { .. } => "unavailable",
        E::Http { .. } => "http",
        E::Rpc { .. } => "rpc",
        E::Rejected { .. } => "rejected",
        E::Malformed { .. } => "malformed",
        E::ChainMismatch { .. } => "chain_mismatch",
        E::Stale { .. } => "stale",
        E::Disagreement { .. } => "disagreement",
        E::WrongType { .. } => "wrong_type",
        E::NotVisible { .. } => "not_visible",
        E::InsufficientFunds { .. } => "insufficient_funds",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exported_in_prometheus_text() {
        let m = Metrics::new();
        m.events_processed.inc_by(3);
        m.set_stages(&[(Stage::Issued, 2)]);
        m.mint_to_chain.observe(0.3);
        m.tx_failed
            .get_or_create(&ReasonLabel {
                reason: "move_abort".into(),
            })
            .inc();
        let text = m.encode();
        assert!(
            text.contains("daas_master_events_processed_total 3"),
            "{text}"
        );
        assert!(
            text.contains("daas_master_workers{stage=\"issued\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("daas_master_workers{stage=\"seen\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("daas_master_mint_to_chain_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("daas_master_transactions_failed_total{reason=\"move_abort\"} 1"),
            "{text}"
        );
        assert!(text.contains("# EOF"), "{text}");
    }
}
