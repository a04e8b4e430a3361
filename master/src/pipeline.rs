//! The driver: follows the registry's events from the persisted cursor, reconciles by
//! listing every worker, decides (after a quorum read) what each changed worker
//! needs, and does the cluster side — minting, activation, revocation, operator
//! intents. Calls that need the MasterCap are queued in the database for the
//! submitter (`submit.rs`), the one sender for this cap.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daas_protocol::chain::{Chain, ChainError, RegistryReader};
use daas_protocol::envelope::{self, EnvelopeContext, JoinSecret};
use daas_protocol::onchain::{RegistryEvent, WorkerStatus};
use daas_protocol::secret::NodePassword;
use daas_protocol::{NodeId, ObjectId, SealToken};
use futures::StreamExt as _;
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::db::{Stage, WorkerRow, batch_state};
use crate::decide::{self, BatchStatus, Decision, Facts, GRACE_MARGIN_MS, Observed, Plan, Read};
use crate::k8s::{self, K8sError, TokenInfo, TokenSpec};
use crate::service::{Ctx, now_ms};

/// Events per page (Sui's JSON-RPC and GraphQL maximum).
const EVENT_PAGE: usize = 50;
/// Dirty rows decided per pass.
const DECIDE_CHUNK: usize = 2_000;
/// The note `/api/workers` shows while the quorum endpoints disagree on a Worker.
const DISAGREEMENT_NOTE: &str = "quorum endpoints disagree on this Worker: nothing minted";
/// An envelope is sealed with at least this much life left in its token.
pub const MIN_TOKEN_LIFE_MS: u64 = 60_000;
/// A warning repeated within this window goes to debug (see [`Repeats`]).
const REPEAT_WINDOW: Duration = Duration::from_secs(60);

/// Folds repeats of one warning: the same operation failing with the same kind of
/// error again within [`REPEAT_WINDOW`] logs at debug, and the next warning after the
/// window carries `repeats = n`. A lagging endpoint fails the same read on every poll
/// (100 ms in the demo); one line a minute says what six hundred would. The metrics
/// and `/readyz`'s `last_error` still see every one.
#[derive(Default)]
struct Repeats(std::sync::Mutex<HashMap<RepeatKey, (Instant, u32)>>);

/// (operation, error kind).
type RepeatKey = (String, &'static str);

impl Repeats {
    /// `Some(folded since the last warning)` if this one is to be logged as a warning.
    fn admit(&self, what: &str, kind: &'static str, now: Instant) -> Option<u32> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(&(what.to_string(), kind)) {
            Some((last, folded)) if now.duration_since(*last) < REPEAT_WINDOW => {
                *folded += 1;
                None
            }
            Some((last, folded)) => {
                *last = now;
                Some(std::mem::take(folded))
            }
            None => {
                m.insert((what.to_string(), kind), (now, 0));
                Some(0)
            }
        }
    }

    /// Logs `what: e` as a warning, or at debug if it is a repeat.
    fn warn(&self, what: &str, kind: &'static str, e: &dyn std::fmt::Display) {
        match self.admit(what, kind, Instant::now()) {
            Some(0) => tracing::warn!("{what}: {e}"),
            Some(n) => tracing::warn!(repeats = n, "{what}: {e}"),
            None => tracing::debug!("{what}: {e}"),
        }
    }
}

/// The driver's memory: caches rebuilt from the chain and the cluster.
struct Driver {
    ctx: Arc<Ctx>,
    /// Last quorum read of each worker (sealing key, status).
    observed: HashMap<ObjectId, Observed>,
    /// Our labelled tokens, by worker.
    tokens: HashMap<ObjectId, Vec<TokenInfo>>,
    /// Names on the deny-list.
    denied: HashSet<String>,
    /// Node-password checks done: (worker, hash) → matches.
    verified: HashMap<(ObjectId, String), bool>,
    last_reconcile: Option<Instant>,
    was_leader: bool,
    repeats: Repeats,
}

/// Runs the driver until `stop` says so.
pub async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut d = Driver {
        ctx,
        observed: HashMap::new(),
        tokens: HashMap::new(),
        denied: HashSet::new(),
        verified: HashMap::new(),
        last_reconcile: None,
        was_leader: false,
        repeats: Repeats::default(),
    };
    let poll = d.ctx.cfg.pipeline.poll_interval();
    loop {
        if *stop.borrow() {
            return;
        }
        let busy = d.tick().await;
        let ctx = Arc::clone(&d.ctx);
        if !busy {
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = ctx.wake_driver.notified() => {}
            }
        }
    }
}

/// A mint's outcome: the token Secret and the sealed envelope, or why not.
type MintResult = Result<(TokenInfo, Vec<u8>), String>;

impl Driver {
    fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    fn chain_result<T>(&self, r: Result<T, ChainError>, what: &str) -> Option<T> {
        match r {
            Ok(v) => {
                self.ctx()
                    .health
                    .chain
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                Some(v)
            }
            Err(e) => {
                self.ctx().metrics.rpc_error(&e);
                self.ctx()
                    .health
                    .chain
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                self.ctx().health.error(format!("{what}: {e}"));
                self.repeats
                    .warn(what, crate::metrics::chain_error_kind(&e), &e);
                None
            }
        }
    }

    fn kube_result<T>(&self, r: Result<T, K8sError>, what: &str) -> Option<T> {
        match r {
            Ok(v) => {
                self.ctx()
                    .health
                    .kubernetes
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                Some(v)
            }
            Err(e) => {
                self.ctx().metrics.kube_errors.inc();
                self.ctx()
                    .health
                    .kubernetes
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                self.ctx().health.error(format!("{what}: {e}"));
                self.repeats.warn(what, "kubernetes", &e);
                None
            }
        }
    }

    fn db_ok<T>(&self, r: Result<T, crate::db::DbError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.ctx().health.error(&e);
                tracing::error!("{e}");
                None
            }
        }
    }

    /// One round; `true` when there is more to do right away.
    async fn tick(&mut self) -> bool {
        let leader = self.ctx().is_leader();
        self.ctx().metrics.leader.set(leader as i64);
        if leader && !self.was_leader {
            // Taking over (or starting): rebuild the work from the chain and the cluster.
            self.db_ok(self.ctx().db.mark_all_dirty());
            self.last_reconcile = None;
        }
        self.was_leader = leader;
        let more_events = self.follow_events().await;
        let due = self
            .last_reconcile
            .is_none_or(|t| t.elapsed() >= self.ctx().cfg.pipeline.reconcile_interval());
        let reconciled = due && self.reconcile().await;
        if reconciled {
            self.last_reconcile = Some(Instant::now());
            self.ctx()
                .health
                .caught_up
                .store(!more_events, std::sync::atomic::Ordering::SeqCst);
        }
        if !more_events && self.last_reconcile.is_some() {
            self.ctx()
                .health
                .caught_up
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let mut busy = more_events;
        if leader && !self.ctx().stopping() {
            self.intents().await;
            busy |= self.decide_dirty().await;
            self.mint().await;
            self.activate().await;
            self.revoke().await;
            if reconciled {
                self.ctx().metrics.reconciles.inc();
            }
        }
        if let Some(counts) = self.db_ok(self.ctx().db.stage_counts()) {
            self.ctx().metrics.set_stages(&counts);
        }
        busy
    }

    /// Reads event pages from the cursor (a few per round, so decisions keep pace);
    /// `true` while more are waiting.
    async fn follow_events(&mut self) -> bool {
        let ctx = Arc::clone(&self.ctx);
        for _ in 0..40 {
            let Some(cursor) = self.db_ok(ctx.db.event_cursor()) else {
                return false;
            };
            let page = ctx
                .chain
                .events(ctx.cfg.chain.package_id, cursor.as_ref(), EVENT_PAGE)
                .await;
            let Some(page) = self.chain_result(page, "reading registry events") else {
                return false;
            };
            let mut new = Vec::new();
            let mut touched = Vec::new();
            for ev in &page.events {
                let Some(e) = &ev.event else { continue };
                match e {
                    RegistryEvent::WorkerRegistered(r)
                        if r.registry_id == ctx.cfg.chain.registry_id =>
                    {
                        new.push((r.worker_id, r.node_id.clone()));
                    }
                    RegistryEvent::MasterCapChanged(c)
                        if c.registry_id == ctx.cfg.chain.registry_id
                            && c.cap_id == ctx.cfg.master.master_cap_id
                            && !c.valid =>
                    {
                        ctx.health
                            .cap_valid
                            .store(false, std::sync::atomic::Ordering::SeqCst);
                        ctx.health.error("this master's MasterCap was revoked");
                        tracing::error!(cap = %c.cap_id, "this master's MasterCap was revoked: it can no longer write envelopes");
                    }
                    other => {
                        if let Some((reg, w)) = event_worker(other)
                            && reg == ctx.cfg.chain.registry_id
                        {
                            touched.push(w);
                        }
                    }
                }
            }
            let n = page.events.len();
            if self
                .db_ok(
                    ctx.db
                        .apply_event_page(&new, &touched, page.next_cursor.as_ref(), now_ms()),
                )
                .is_none()
            {
                return false;
            }
            ctx.metrics.events_processed.inc_by(n as u64);
            if !page.has_next_page || n == 0 {
                return false;
            }
        }
        true
    }

    /// Lists every worker of the registry and every labelled token; unknown workers
    /// become rows, every unfinished row is read again.
    async fn reconcile(&mut self) -> bool {
        let ctx = Arc::clone(&self.ctx);
        let reader = RegistryReader::new(
            &ctx.chain,
            ctx.cfg.chain.package_id,
            ctx.cfg.chain.registry_id,
        );
        let Some(entries) =
            self.chain_result(reader.all_workers().await, "listing the registry's workers")
        else {
            return false;
        };
        let Some(tokens) =
            self.kube_result(ctx.cluster.list_tokens().await, "listing bootstrap tokens")
        else {
            return false;
        };
        let Some(denied) = self.kube_result(ctx.cluster.denied().await, "reading the deny-list")
        else {
            return false;
        };
        let mut seen: Vec<(ObjectId, String)> =
            entries.into_iter().map(|e| (e.value, e.key)).collect();
        // A token whose worker this database does not know is looked at too (its
        // worker may be gone: then it is an orphan and is deleted).
        seen.extend(tokens.iter().map(|t| (t.worker_id, t.node_id.clone())));
        let Some(n) = self.db_ok(ctx.db.insert_seen(&seen, now_ms())) else {
            return false;
        };
        if n > 0 {
            tracing::info!(new = n, "reconcile found workers the events had not shown");
        }
        self.db_ok(ctx.db.mark_all_dirty());
        self.tokens.clear();
        for t in tokens {
            self.tokens.entry(t.worker_id).or_default().push(t);
        }
        self.denied = denied.into_keys().collect();
        true
    }

    /// Quorum-reads the workers marked dirty and applies the decisions.
    async fn decide_dirty(&mut self) -> bool {
        let ctx = Arc::clone(&self.ctx);
        let Some(rows) = self.db_ok(ctx.db.dirty_workers(DECIDE_CHUNK)) else {
            return false;
        };
        if rows.is_empty() {
            return false;
        }
        let full = rows.len() == DECIDE_CHUNK;
        let package = ctx.cfg.chain.package_id;
        let reads: Vec<(WorkerRow, Result<Read, ChainError>)> = futures::stream::iter(rows)
            .map(|row| {
                let ctx = Arc::clone(&ctx);
                async move {
                    let r = ctx
                        .quorum
                        .object(row.worker_id)
                        .await
                        .and_then(|o| match o {
                            None => Ok(Read::Gone),
                            Some(info) => {
                                let isv = match info.owner {
                                    daas_protocol::chain::Owner::Shared {
                                        initial_shared_version,
                                    } => initial_shared_version,
                                    _ => 0,
                                };
                                let version = info.version;
                                RegistryReader::<&daas_protocol::chain::AnyChain>::decode_worker(
                                    &package, info,
                                )
                                .map(|w| {
                                    Read::Worker(Observed {
                                        version,
                                        isv,
                                        worker: w.worker,
                                    })
                                })
                            }
                        });
                    (row, r)
                }
            })
            .buffer_unordered(ctx.cfg.pipeline.concurrency)
            .collect()
            .await;
        let now = now_ms();
        let mut writes = Vec::with_capacity(reads.len());
        let mut deletions: Vec<(ObjectId, String)> = Vec::new();
        let mut issued_any = false;
        let mut active_any = false;
        for (mut row, read) in reads {
            let stored = row.clone();
            let read = match read {
                Ok(r) => r,
                Err(e) => {
                    // Disagreeing or unavailable endpoints: never act on it; read again later.
                    ctx.metrics.rpc_error(&e);
                    if matches!(e, ChainError::Disagreement { .. }) {
                        if row.note.as_deref() != Some(DISAGREEMENT_NOTE) {
                            tracing::warn!(worker = %row.worker_id, node_id = %row.node_id, "quorum endpoints disagree: not minting ({e})");
                        }
                        row.note = Some(DISAGREEMENT_NOTE.into());
                        row.dirty = true;
                        row.updated_ms = now;
                        writes.push(row);
                    } else {
                        tracing::warn!(worker = %row.worker_id, "reading the Worker: {e}");
                    }
                    continue;
                }
            };
            if let Read::Worker(o) = &read {
                if row.stage == Stage::Refused && row.refused_version == Some(o.version) {
                    row.dirty = false;
                    writes.push(row);
                    continue;
                }
                if row.stage == Stage::Refused {
                    // The Worker changed since it was refused: decide afresh.
                    row.stage = Stage::Seen;
                    row.failures = 0;
                    row.note = None;
                }
                row.chain_status = Some(o.worker.status);
                row.owner = Some(o.worker.owner);
                row.chain_version = o.version;
                row.chain_token_version = o.worker.token_version;
                row.unlock_at_ms = o.worker.unlock_at_ms;
                row.revoke_grace_ms = o.worker.revoke_grace_ms;
                row.isv = o.isv;
                if row.node_id != o.worker.node_id {
                    row.node_id = o.worker.node_id.clone();
                }
                self.observed.insert(row.worker_id, o.clone());
            }
            let tokens = self.tokens.get(&row.worker_id).cloned().unwrap_or_default();
            let batch = match row.batch_id {
                None => BatchStatus::Queued,
                Some(id) => match self.db_ok(ctx.db.batch_state(id)).flatten().as_deref() {
                    Some(batch_state::SIGNED) => BatchStatus::InFlight,
                    _ => BatchStatus::Settled,
                },
            };
            let seal_check = match &read {
                Read::Worker(o) => check_seal(&o.worker, &ctx.cfg.chain.registry_id),
                Read::Gone => Ok(()),
            };
            let facts = Facts {
                now_ms: now,
                registry_id: ctx.cfg.chain.registry_id,
                tokens: &tokens,
                seal_check,
                batch,
                orphan_grace_ms: ctx.cfg.orphan_grace_ms(),
            };
            let d = decide::decide(&row, &read, &facts);
            for t in &d.delete {
                deletions.push((row.worker_id, t.clone()));
            }
            if let Some(mut row) = self.apply(row, &read, d, now) {
                // `updated_ms` is the last *change* (the dashboard's column): a read
                // that changed nothing but the dirty flag keeps it.
                let unchanged = WorkerRow {
                    dirty: stored.dirty,
                    updated_ms: stored.updated_ms,
                    ..row.clone()
                } == stored;
                if unchanged {
                    row.updated_ms = stored.updated_ms;
                }
                issued_any |= row.stage == Stage::Issued;
                active_any |= row.stage == Stage::Active;
                writes.push(row);
            }
        }
        // Tokens go before the rows that say they are gone.
        if !deletions.is_empty() {
            self.delete_tokens(&deletions).await;
            if active_any {
                ctx.crash.hit("token-deleted");
            }
        }
        if self.db_ok(ctx.db.put_workers(&writes)).is_none() {
            return false;
        }
        if issued_any {
            ctx.crash.hit("issued");
        }
        if writes.iter().any(|r| matches!(r.stage, Stage::Minted)) {
            ctx.wake_submitter.notify_one();
        }
        full
    }

    /// Turns a decision into the row to write (`None`: write nothing).
    fn apply(
        &mut self,
        mut row: WorkerRow,
        read: &Read,
        d: Decision,
        now: u64,
    ) -> Option<WorkerRow> {
        let ctx = Arc::clone(&self.ctx);
        row.updated_ms = now;
        if let Some(n) = d.note.clone() {
            if row.note.as_deref() != Some(&n) {
                tracing::info!(worker = %row.worker_id, node_id = %row.node_id, "{n}");
            }
            row.note = Some(n);
        }
        match d.plan {
            Plan::Retry => return None,
            Plan::Keep => {}
            Plan::Refuse(why) => {
                if row.stage != Stage::Refused {
                    tracing::warn!(worker = %row.worker_id, node_id = %row.node_id, "refused: {why}");
                }
                row.stage = Stage::Refused;
                row.refused_version = match read {
                    Read::Worker(o) => Some(o.version),
                    Read::Gone => None,
                };
                row.note = Some(why);
            }
            Plan::Mint {
                version,
                reuse,
                rotation,
                reissue,
            } => {
                let fresh_request =
                    !reissue && !rotation && row.version.is_some_and(|v| v < version);
                row.stage = Stage::Minting;
                row.version = Some(version);
                row.token_id = Some(reuse.unwrap_or_else(|| {
                    k8s::token_id_for(&self.ctx.nodepw_key, &row.worker_id, version)
                }));
                row.expires_at_ms = Some(now + ctx.cfg.kubernetes.token_ttl_ms());
                row.envelope = None;
                row.batch_id = None;
                row.minted_at_ms = None;
                row.rotation = rotation;
                if reissue {
                    row.reissued += 1;
                } else if fresh_request {
                    row.reissued = 0;
                }
            }
            Plan::Requeue => {
                row.stage = Stage::Minted;
                row.batch_id = None;
            }
            Plan::Issued {
                version,
                token_id,
                expires_at_ms,
                rotation,
            } => {
                if row.stage == Stage::Submitted
                    && let Some(m) = row.minted_at_ms
                {
                    ctx.metrics
                        .mint_to_chain
                        .observe(now.saturating_sub(m) as f64 / 1000.0);
                }
                if row.stage != Stage::Issued {
                    tracing::info!(worker = %row.worker_id, node_id = %row.node_id, version, "envelope on chain");
                }
                row.stage = Stage::Issued;
                row.version = Some(version);
                row.token_id = token_id;
                row.expires_at_ms = Some(expires_at_ms);
                row.rotation = rotation;
                row.failures = 0;
            }
            Plan::Active => {
                if row.stage != Stage::Active {
                    tracing::info!(worker = %row.worker_id, node_id = %row.node_id, "active");
                }
                row.stage = Stage::Active;
                row.rotation = false;
                row.token_id = None;
                row.batch_id = None;
            }
            Plan::Revoke { .. } => {
                if !matches!(row.stage, Stage::Revoking) {
                    tracing::info!(worker = %row.worker_id, node_id = %row.node_id, "revoking");
                }
                row.stage = Stage::Revoking;
                row.batch_id = None;
            }
            Plan::Revoked => {
                row.stage = Stage::Revoked;
            }
        }
        row.dirty = false;
        Some(row)
    }

    async fn delete_tokens(&mut self, tokens: &[(ObjectId, String)]) {
        let ctx = Arc::clone(&self.ctx);
        let results: Vec<(ObjectId, String, Result<bool, K8sError>)> =
            futures::stream::iter(tokens.to_vec())
                .map(|(w, id)| {
                    let ctx = Arc::clone(&ctx);
                    async move {
                        let r = ctx.cluster.delete_token(&id).await;
                        (w, id, r)
                    }
                })
                .buffer_unordered(ctx.cfg.pipeline.concurrency)
                .collect()
                .await;
        for (w, id, r) in results {
            if self
                .kube_result(r, &format!("deleting token {id}"))
                .is_some()
                && let Some(list) = self.tokens.get_mut(&w)
            {
                list.retain(|t| t.token_id != id);
            }
        }
    }

    /// Mints (or finds again) the Secret of every row in `minting` and seals its
    /// envelope. The intent rows were committed before this runs.
    async fn mint(&mut self) {
        let ctx = Arc::clone(&self.ctx);
        let Some(rows) = self.db_ok(ctx.db.workers_in(Stage::Minting)) else {
            return;
        };
        if rows.is_empty() {
            return;
        }
        ctx.crash.hit("minting-recorded");
        let mut ready = Vec::new();
        for row in rows {
            match self.observed.get(&row.worker_id) {
                Some(o) => ready.push((row, o.clone())),
                // Not read in this process yet (a restart): read it before minting.
                None => {
                    self.db_ok(ctx.db.mark_dirty(&[row.worker_id]));
                }
            }
        }
        // A re-registered name comes off the deny-list before its token exists.
        let names: HashSet<String> = ready
            .iter()
            .filter(|(r, _)| self.denied.contains(&r.node_id))
            .map(|(r, _)| r.node_id.clone())
            .collect();
        for name in names {
            if self
                .kube_result(
                    ctx.cluster.undeny(&name).await,
                    &format!("taking {name} off the deny-list"),
                )
                .is_some()
            {
                tracing::info!(node_id = %name, "a new registration of a revoked name: taken off the deny-list");
                self.denied.remove(&name);
            }
        }
        let known = self.tokens.clone();
        let results: Vec<(WorkerRow, MintResult)> = futures::stream::iter(ready)
            .map(|(row, o)| {
                let ctx = Arc::clone(&ctx);
                let known = known.get(&row.worker_id).cloned().unwrap_or_default();
                async move {
                    let r = mint_one(&ctx, &row, &o, &known).await;
                    (row, r)
                }
            })
            .buffer_unordered(ctx.cfg.pipeline.concurrency)
            .collect()
            .await;
        let now = now_ms();
        let mut writes = Vec::new();
        for (mut row, r) in results {
            match r {
                Ok((token, envelope)) => {
                    let list = self.tokens.entry(row.worker_id).or_default();
                    list.retain(|t| t.token_id != token.token_id);
                    list.push(token.clone());
                    row.token_id = Some(token.token_id);
                    row.expires_at_ms = token.expires_at_ms;
                    row.envelope = Some(envelope);
                    row.stage = Stage::Minted;
                    row.minted_at_ms = Some(now);
                    row.updated_ms = now;
                    writes.push(row);
                }
                Err(e) => {
                    ctx.metrics.kube_errors.inc();
                    tracing::warn!(worker = %row.worker_id, node_id = %row.node_id, "minting: {e}");
                    row.note = Some(format!("minting: {e}"));
                    row.updated_ms = now;
                    writes.push(row);
                }
            }
        }
        if self.db_ok(ctx.db.put_workers(&writes)).is_some()
            && writes.iter().any(|r| r.stage == Stage::Minted)
        {
            ctx.crash.hit("minted");
            ctx.wake_submitter.notify_one();
        }
    }

    /// Nodes that are Ready with the worker's node password: `activate_worker` is
    /// queued (a rotation just drops its token).
    async fn activate(&mut self) {
        let ctx = Arc::clone(&self.ctx);
        let Some(rows) = self.db_ok(ctx.db.workers_in(Stage::Issued)) else {
            return;
        };
        if rows.is_empty() {
            return;
        }
        let Some(nodes) = self.kube_result(ctx.cluster.nodes().await, "listing nodes") else {
            return;
        };
        let nodes: HashMap<String, k8s::NodeInfo> =
            nodes.into_iter().map(|n| (n.name.clone(), n)).collect();
        let candidates: Vec<WorkerRow> = rows
            .into_iter()
            .filter(|r| {
                nodes.get(&r.node_id).is_some_and(|n| {
                    n.ready
                        && (!r.rotation
                            || n.ready_since_ms.unwrap_or(0) > r.minted_at_ms.unwrap_or(u64::MAX))
                })
            })
            .filter(|r| r.rotation || r.chain_status == Some(WorkerStatus::TokenIssued as u8))
            // An activate_worker that kept aborting waits for the Worker to change.
            .filter(|r| r.failures < decide::MAX_FAILURES)
            .collect();
        if candidates.is_empty() {
            return;
        }
        let hashes: Vec<(WorkerRow, Result<Option<String>, K8sError>)> =
            futures::stream::iter(candidates)
                .map(|row| {
                    let ctx = Arc::clone(&ctx);
                    async move {
                        let h = ctx.cluster.node_password_hash(&row.node_id).await;
                        (row, h)
                    }
                })
                .buffer_unordered(ctx.cfg.pipeline.concurrency)
                .collect()
                .await;
        // scrypt runs off the executor, one per core.
        let mut checks = Vec::new();
        for (row, h) in hashes {
            let Some(Some(hash)) =
                self.kube_result(h, &format!("reading {}'s node password", row.node_id))
            else {
                continue;
            };
            match self.verified.get(&(row.worker_id, hash.clone())) {
                Some(ok) => checks.push((row, hash, Ok(*ok))),
                None => {
                    let pw = NodePassword::derive(&ctx.nodepw_key, &row.worker_id);
                    let h2 = hash.clone();
                    let task = tokio::task::spawn_blocking(move || {
                        daas_protocol::k3s::verify_node_password_hash(&h2, &pw)
                    });
                    checks.push((row, hash, Err(task)));
                }
            }
        }
        let now = now_ms();
        let mut writes = Vec::new();
        let mut token_drops = Vec::new();
        for (mut row, hash, check) in checks {
            let ok = match check {
                Ok(ok) => ok,
                Err(task) => match task.await {
                    Ok(Ok(ok)) => ok,
                    Ok(Err(e)) => {
                        tracing::warn!(node_id = %row.node_id, "node-password Secret: {e}");
                        false
                    }
                    Err(e) => {
                        tracing::error!("node-password check task: {e}");
                        continue;
                    }
                },
            };
            self.verified.insert((row.worker_id, hash), ok);
            if !ok {
                let note = "the Node's node-password Secret does not match this worker's node password (another device joined with its token?): not activated";
                if row.note.as_deref() != Some(note) {
                    tracing::warn!(worker = %row.worker_id, node_id = %row.node_id, "{note}");
                    row.note = Some(note.into());
                    row.updated_ms = now;
                    writes.push(row);
                }
                continue;
            }
            if row.rotation {
                if let Some(t) = row.token_id.clone() {
                    token_drops.push((row.worker_id, t));
                }
                tracing::info!(node_id = %row.node_id, "rotated node rejoined: its token is deleted");
                row.stage = Stage::Active;
                row.rotation = false;
                row.token_id = None;
            } else {
                row.stage = Stage::Activating;
                row.batch_id = None;
                row.note = None;
            }
            row.updated_ms = now;
            writes.push(row);
        }
        if !token_drops.is_empty() {
            self.delete_tokens(&token_drops).await;
        }
        if self.db_ok(ctx.db.put_workers(&writes)).is_some()
            && writes.iter().any(|r| r.stage == Stage::Activating)
        {
            ctx.wake_submitter.notify_one();
        }
    }

    /// Tears down the cluster side of every row in `revoking`: its tokens, its Node
    /// and node-password Secret, and puts the name on the deny-list — unless the name
    /// now belongs to a newer registration — then queues `confirm_revoked` while the
    /// owner cannot yet withdraw.
    async fn revoke(&mut self) {
        let ctx = Arc::clone(&self.ctx);
        let Some(rows) = self.db_ok(ctx.db.workers_in(Stage::Revoking)) else {
            return;
        };
        if rows.is_empty() {
            return;
        }
        let now = now_ms();
        let mut writes = Vec::new();
        for mut row in rows {
            let tokens: Vec<(ObjectId, String)> = self
                .tokens
                .get(&row.worker_id)
                .map(|l| {
                    l.iter()
                        .map(|t| (row.worker_id, t.token_id.clone()))
                        .collect()
                })
                .unwrap_or_default();
            if !tokens.is_empty() {
                self.delete_tokens(&tokens).await;
            }
            let owner = ctx.chain.table_entry(ctx.workers_table, &row.node_id).await;
            let Some(owner) = self.chain_result(owner, "reading the registry's table") else {
                continue;
            };
            if owner.is_none_or(|o| o == row.worker_id) {
                if self
                    .kube_result(
                        ctx.cluster.delete_node(&row.node_id).await,
                        &format!("deleting node {}", row.node_id),
                    )
                    .is_none()
                {
                    continue;
                }
                if self
                    .kube_result(
                        ctx.cluster.deny(&row.node_id, &row.worker_id, now).await,
                        &format!("deny-listing {}", row.node_id),
                    )
                    .is_none()
                {
                    continue;
                }
                self.denied.insert(row.node_id.clone());
            } else {
                tracing::info!(node_id = %row.node_id, "the name belongs to a newer registration: only this worker's tokens are deleted");
            }
            ctx.crash.hit("revoke-cleaned");
            let leaving = matches!(
                row.chain_status.and_then(WorkerStatus::from_u8),
                Some(WorkerStatus::Leaving | WorkerStatus::Slashed)
            );
            let within_grace = now.saturating_add(GRACE_MARGIN_MS)
                < row.unlock_at_ms.saturating_add(row.revoke_grace_ms);
            row.stage = if leaving && within_grace && row.failures < decide::MAX_FAILURES {
                Stage::Confirming
            } else {
                Stage::Revoked
            };
            tracing::info!(node_id = %row.node_id, stage = %row.stage, "cluster side revoked: token, Node and node password deleted, name deny-listed");
            row.batch_id = None;
            row.updated_ms = now;
            writes.push(row);
        }
        if self.db_ok(ctx.db.put_workers(&writes)).is_some()
            && writes.iter().any(|r| r.stage == Stage::Confirming)
        {
            ctx.wake_submitter.notify_one();
        }
    }

    /// Operator intents (`daas-master rotate`).
    async fn intents(&mut self) {
        let ctx = Arc::clone(&self.ctx);
        let Some(open) = self.db_ok(ctx.db.open_intents()) else {
            return;
        };
        for i in open {
            let now = now_ms();
            let result = match i.kind.as_str() {
                "rotate" => {
                    let rows = self
                        .db_ok(ctx.db.workers_by_node(&i.node_id))
                        .unwrap_or_default();
                    match rows.into_iter().find(|r| {
                        r.stage == Stage::Active
                            && r.chain_status == Some(WorkerStatus::Active as u8)
                    }) {
                        Some(mut r) => {
                            r.rotation = true;
                            r.stage = Stage::Seen;
                            r.dirty = true;
                            r.updated_ms = now;
                            let id = r.worker_id;
                            if self.db_ok(ctx.db.put_worker(&r)).is_none() {
                                continue;
                            }
                            tracing::info!(node_id = %i.node_id, worker = %id, "rotation requested: a new envelope will be issued");
                            format!("ok: rotation of worker {id} queued")
                        }
                        None => format!(
                            "error: no Active worker with node_id {} (rotate re-issues only to Active workers)",
                            i.node_id
                        ),
                    }
                }
                other => format!("error: unknown intent {other:?}"),
            };
            self.db_ok(ctx.db.finish_intent(i.id, &result, now));
        }
    }
}

/// The registry and worker an event is about, for events that change a worker.
fn event_worker(e: &RegistryEvent) -> Option<(ObjectId, ObjectId)> {
    Some(match e {
        RegistryEvent::WorkerRegistered(x) => (x.registry_id, x.worker_id),
        RegistryEvent::StakeDeposited(x) => (x.registry_id, x.worker_id),
        RegistryEvent::JoinTokenSet(x) => (x.registry_id, x.worker_id),
        RegistryEvent::MasterActionSkipped(x) => (x.registry_id, x.worker_id),
        RegistryEvent::WorkerStatusChanged(x) => (x.registry_id, x.worker_id),
        RegistryEvent::WorkerSlashed(x) => (x.registry_id, x.worker_id),
        RegistryEvent::StakeWithdrawn(x) => (x.registry_id, x.worker_id),
        RegistryEvent::SealTokenRotated(x) => (x.registry_id, x.worker_id),
        _ => return None,
    })
}

/// The seal-token check the contract made, made again (DESIGN §2 step 3): parses
/// (refusing a low-order sealing key) and verifies for this registry, owner and
/// node_id.
pub fn check_seal(w: &daas_protocol::onchain::Worker, registry: &ObjectId) -> Result<(), String> {
    let node_id = NodeId::parse(&w.node_id).map_err(|e| format!("node_id: {e}"))?;
    let token = SealToken::from_bytes(&w.seal_token).map_err(|e| format!("seal token: {e}"))?;
    token
        .verify(registry, &w.owner, &node_id)
        .map_err(|e| format!("seal token: {e}"))
}

/// Finds or creates the Secret for `row`'s token version and seals the envelope.
async fn mint_one(
    ctx: &Ctx,
    row: &WorkerRow,
    o: &Observed,
    known: &[TokenInfo],
) -> Result<(TokenInfo, Vec<u8>), String> {
    let version = row.version.ok_or("no version in the mint intent")?;
    let now = now_ms();
    let mut token_id = row
        .token_id
        .clone()
        .ok_or("no token id in the mint intent")?;
    let mut expires = row
        .expires_at_ms
        .unwrap_or(now + ctx.cfg.kubernetes.token_ttl_ms());
    let mut secret: Option<Zeroizing<String>> = None;
    // The Secret may exist from before a crash: never create a second one for this
    // (worker, version).
    let existing = if known.iter().any(|t| t.token_id == token_id) {
        ctx.cluster
            .read_token(&token_id)
            .await
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    if let Some((info, s)) = existing {
        if info.worker_id == row.worker_id && info.version == version {
            match info.expires_at_ms {
                Some(exp) if exp > now + MIN_TOKEN_LIFE_MS => {
                    expires = exp;
                    secret = Some(s);
                }
                _ => {
                    // Too close to its expiry to seal: replace it (same version).
                    ctx.cluster
                        .delete_token(&token_id)
                        .await
                        .map_err(|e| e.to_string())?;
                    token_id = k8s::new_token_id();
                    expires = now + ctx.cfg.kubernetes.token_ttl_ms();
                    let mut r = row.clone();
                    r.token_id = Some(token_id.clone());
                    r.expires_at_ms = Some(expires);
                    ctx.db.put_worker(&r).map_err(|e| e.to_string())?;
                }
            }
        } else {
            return Err(format!(
                "token {token_id} belongs to worker {} version {}",
                info.worker_id, info.version
            ));
        }
    }
    let secret = match secret {
        Some(s) => s,
        None => loop {
            let s = k8s::new_token_secret();
            let spec = TokenSpec {
                token_id: token_id.clone(),
                node_id: row.node_id.clone(),
                version,
                worker_id: row.worker_id,
                expires_at_ms: expires,
            };
            match ctx.cluster.create_token(&spec, &s).await {
                Ok(()) => break s,
                Err(K8sError::TokenExists(_)) => {
                    // Ours from before a crash (the index was not refreshed yet), or
                    // another token's id.
                    if let Some((info, old)) = ctx
                        .cluster
                        .read_token(&token_id)
                        .await
                        .map_err(|e| e.to_string())?
                        && info.worker_id == row.worker_id
                        && info.version == version
                        && info
                            .expires_at_ms
                            .is_some_and(|e| e > now + MIN_TOKEN_LIFE_MS)
                    {
                        expires = info.expires_at_ms.unwrap_or(expires);
                        break old;
                    }
                    token_id = k8s::new_token_id();
                    let mut r = row.clone();
                    r.token_id = Some(token_id.clone());
                    ctx.db.put_worker(&r).map_err(|e| e.to_string())?;
                }
                Err(e) => return Err(e.to_string()),
            }
        },
    };
    ctx.crash.hit("secret-created");
    let node_id = NodeId::parse(&row.node_id).map_err(|e| e.to_string())?;
    let token = SealToken::from_bytes(&o.worker.seal_token).map_err(|e| e.to_string())?;
    let join = JoinSecret {
        server: ctx.cfg.kubernetes.server_url.clone(),
        token: ctx.cluster.join_token(&token_id, &secret),
        node_password: NodePassword::derive(&ctx.nodepw_key, &row.worker_id),
    };
    let envelope = envelope::seal(
        &EnvelopeContext {
            chain_id: ctx.chain_id,
            registry_id: ctx.cfg.chain.registry_id,
            worker_id: row.worker_id,
            node_id,
        },
        &ctx.envelope_key,
        token.sealing(),
        version,
        expires,
        &join,
    )
    .map_err(|e| e.to_string())?;
    Ok((
        TokenInfo {
            token_id,
            node_id: row.node_id.clone(),
            version,
            worker_id: row.worker_id,
            expires_at_ms: Some(expires),
            created_ms: Some(now),
        },
        envelope,
    ))
}

/// How long the submitter waits between attempts at a batch that failed to send.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_warning_is_folded_until_the_window_ends() {
        let r = Repeats::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(r.admit("listing the workers", "malformed", t0), Some(0));
        assert_eq!(r.admit("listing the workers", "malformed", t0 + s(1)), None);
        assert_eq!(
            r.admit("listing the workers", "malformed", t0 + s(59)),
            None
        );
        // Another kind of failure, or another operation, is news.
        assert_eq!(r.admit("listing the workers", "http", t0 + s(2)), Some(0));
        assert_eq!(r.admit("reading events", "malformed", t0 + s(2)), Some(0));
        // After the window: logged again, saying how many were folded.
        assert_eq!(
            r.admit("listing the workers", "malformed", t0 + s(61)),
            Some(2)
        );
        assert_eq!(
            r.admit("listing the workers", "malformed", t0 + s(62)),
            None
        );
        assert_eq!(
            r.admit("listing the workers", "malformed", t0 + s(122)),
            Some(1)
        );
    }
}
