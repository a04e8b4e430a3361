//! The status listener (axum): `/` (the fleet dashboard, [`crate::dashboard`]),
//! `/healthz`, `/readyz`, `/metrics`, `/api/workers`.
//!
//! `/api/workers` (optionally `?node_id=<id>`) answers
//! `{"count": N, "workers": [WorkerView…]}`, one [`WorkerView`] per worker the master
//! knows, ordered by first sight, with its k3s Node's state read from the cluster at
//! the request. Nothing secret is in it: the token id is the public half of a
//! bootstrap token (what `k3s token list` shows). The dashboard shows the same view.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use daas_protocol::onchain::WorkerStatus;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::db::WorkerRow;
use crate::service::Ctx;

/// One worker as `/api/workers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerView {
    /// The Worker object id (`0x…`).
    pub worker_id: String,
    /// Its node_id (the Kubernetes node name).
    pub node_id: String,
    /// The master's pipeline stage: `seen`, `minting`, `minted`, `submitted`,
    /// `issued`, `activating`, `active`, `revoking`, `confirming`, `revoked`, `refused`.
    pub stage: String,
    /// The on-chain status last read (`pending`, `token_issued`, `active`, `leaving`,
    /// `slashed`, `revoked`), `null` before the first read.
    pub chain_status: Option<String>,
    /// The on-chain token_version last read.
    pub token_version: u64,
    /// The token version this master is issuing or issued.
    pub issued_version: Option<u64>,
    /// Its bootstrap token id (public half).
    pub token_id: Option<String>,
    /// Its expiry (ms since the epoch).
    pub expires_at_ms: Option<u64>,
    /// Expired envelopes re-issued for the current request.
    pub reissued: u32,
    /// The current issue is a rotation of an Active worker.
    pub rotation: bool,
    /// Why it is refused or waiting, if anything is wrong.
    pub note: Option<String>,
    /// When the master first saw it (ms).
    pub first_seen_ms: u64,
    /// Last change (ms).
    pub updated_ms: u64,
    /// The Worker's owner (`0x…`), `null` before the first read.
    pub owner: Option<String>,
    /// Its k3s Node: `Ready`, `NotReady`, `unknown` (the cluster did not answer), or
    /// `null` (no Node of that name).
    pub node: Option<String>,
}

impl From<&WorkerRow> for WorkerView {
    fn from(r: &WorkerRow) -> Self {
        WorkerView {
            worker_id: r.worker_id.to_string(),
            node_id: r.node_id.clone(),
            stage: r.stage.as_str().into(),
            chain_status: r
                .chain_status
                .and_then(WorkerStatus::from_u8)
                .map(|s| s.name().to_string()),
            token_version: r.chain_token_version,
            issued_version: r.version,
            token_id: r.token_id.clone(),
            expires_at_ms: r.expires_at_ms,
            reissued: r.reissued,
            rotation: r.rotation,
            note: r.note.clone(),
            first_seen_ms: r.first_seen_ms,
            updated_ms: r.updated_ms,
            owner: r.owner.map(|o| o.to_string()),
            node: None,
        }
    }
}

/// `/api/workers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersView {
    /// How many.
    pub count: usize,
    /// The workers.
    pub workers: Vec<WorkerView>,
}

/// `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyView {
    /// All of the below.
    pub ready: bool,
    /// The last chain request succeeded.
    pub chain: bool,
    /// The last Kubernetes request succeeded.
    pub kubernetes: bool,
    /// Events read up to the head and a reconcile done.
    pub caught_up: bool,
    /// The MasterCap is valid.
    pub cap_valid: bool,
    /// This master acts (always true without `[ha]`).
    pub leader: bool,
    /// `leader`, or `standby` (with `[ha]`: following, ready to take over).
    pub role: String,
    /// The last problem seen.
    pub last_error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WorkersQuery {
    node_id: Option<String>,
}

/// Serves until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/workers", get(workers))
        .with_state(ctx);
    let r = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = r {
        tracing::error!("http server: {e}");
    }
}

async fn readyz(State(ctx): State<Arc<Ctx>>) -> Response {
    let h = &ctx.health;
    let chain = h.chain.load(Ordering::SeqCst);
    let kubernetes = h.kubernetes.load(Ordering::SeqCst);
    let caught_up = h.caught_up.load(Ordering::SeqCst);
    let cap_valid = h.cap_valid.load(Ordering::SeqCst);
    let v = ReadyView {
        ready: chain && kubernetes && caught_up && cap_valid,
        chain,
        kubernetes,
        caught_up,
        cap_valid,
        leader: ctx.is_leader(),
        role: if ctx.is_leader() { "leader" } else { "standby" }.into(),
        last_error: h
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    };
    let code = if v.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(v)).into_response()
}

async fn metrics(State(ctx): State<Arc<Ctx>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ctx.metrics.encode(),
    )
        .into_response()
}

/// The workers (all, or of one node_id) with their Nodes' states.
async fn snapshot(ctx: &Ctx, node_id: Option<&str>) -> Result<WorkersView, crate::db::DbError> {
    let mut rows = match node_id {
        Some(n) => ctx.db.workers_by_node(n)?,
        None => ctx.db.all_workers()?,
    };
    rows.sort_by_key(|r| (r.first_seen_ms, r.worker_id));
    let nodes: Option<std::collections::HashMap<String, bool>> = match ctx.cluster.nodes().await {
        Ok(list) => Some(list.into_iter().map(|n| (n.name, n.ready)).collect()),
        Err(e) => {
            tracing::debug!("listing Nodes for the status view: {e}");
            None
        }
    };
    let workers: Vec<WorkerView> = rows
        .iter()
        .map(|r| {
            let mut v = WorkerView::from(r);
            v.node = match &nodes {
                None => Some("unknown".into()),
                Some(m) => m
                    .get(&r.node_id)
                    .map(|ready| if *ready { "Ready" } else { "NotReady" }.into()),
            };
            v
        })
        .collect();
    Ok(WorkersView {
        count: workers.len(),
        workers,
    })
}

async fn workers(State(ctx): State<Arc<Ctx>>, Query(q): Query<WorkersQuery>) -> Response {
    match snapshot(&ctx, q.node_id.as_deref()).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn dashboard(State(ctx): State<Arc<Ctx>>) -> Response {
    match snapshot(&ctx, None).await {
        Ok(v) => {
            let role = if ctx.is_leader() { "leader" } else { "standby" };
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                crate::dashboard::render(&v, role, crate::service::now_ms()),
            )
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daas_protocol::ObjectId;

    #[test]
    fn the_worker_view_has_the_documented_shape() {
        let mut r = WorkerRow::new(ObjectId::from_u64(7), "rpi-0123456789abcdef".into(), 5);
        r.stage = crate::db::Stage::Issued;
        r.chain_status = Some(1);
        r.chain_token_version = 1;
        r.version = Some(1);
        r.token_id = Some("abc123".into());
        r.expires_at_ms = Some(99);
        let v = serde_json::to_value(WorkerView::from(&r)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "worker_id": ObjectId::from_u64(7).to_string(),
                "node_id": "rpi-0123456789abcdef",
                "stage": "issued",
                "chain_status": "token_issued",
                "token_version": 1,
                "issued_version": 1,
                "token_id": "abc123",
                "expires_at_ms": 99,
                "reissued": 0,
                "rotation": false,
                "note": null,
                "first_seen_ms": 5,
                "updated_ms": 5,
                "owner": null,
                "node": null
            })
        );
    }
}
