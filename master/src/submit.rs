//! The submitter: the only task that sends transactions for this MasterCap, one at a
//! time. It batches the queued registry calls (`set_join_token`, `activate_worker`,
//! `confirm_revoked`) into programmable transactions within Sui's limits, dry-runs
//! each, **stores the signed bytes and digest before sending**, and after a crash
//! sends those same bytes again before anything new.

use std::sync::Arc;
use std::time::Duration;

use daas_protocol::ObjectId;
use daas_protocol::chain::{
    AnyChain, Chain, ChainError, ExecOutcome, ExecStatus, RejectKind, Submitter,
};
use daas_protocol::onchain::abort;
use daas_protocol::tx::{Arg, ProgrammableTransaction, PtbBuilder, SharedRef, limits};
use tokio::sync::watch;

use crate::db::{BatchRow, Call, Stage, WorkerRow, batch_state};
use crate::decide::GRACE_MARGIN_MS;
use crate::metrics::{CallLabel, ReasonLabel};
use crate::pipeline::{MIN_TOKEN_LIFE_MS, backoff};
use crate::service::{Ctx, now_ms};

/// Room kept under Sui's transaction size for the gas data and signatures.
const SIZE_MARGIN: usize = 2_048;
/// Attempts at sending one stored batch before waiting for the next round.
const SEND_ATTEMPTS: u32 = 8;

/// Runs until `stop`; a batch being sent is finished first.
pub async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut sub = new_submitter(&ctx);
    let poll = ctx.cfg.pipeline.poll_interval();
    loop {
        if *stop.borrow() {
            return;
        }
        if !ctx.is_leader() {
            let mut leader = ctx.leader.clone();
            tokio::select! {
                _ = stop.changed() => {}
                _ = leader.changed() => {}
                _ = tokio::time::sleep(poll) => {}
            }
            continue;
        }
        match round(&ctx, &mut sub).await {
            Ok(true) => {}
            Ok(false) => {
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = ctx.wake_submitter.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
            Err(wait) => {
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

fn new_submitter(ctx: &Ctx) -> Submitter<AnyChain> {
    let chain = crate::chain::connect(&ctx.cfg.chain).expect("the config connected once already");
    Submitter::new(chain, &ctx.sui)
}

/// One round: settle stored batches, then send one new batch. `Ok(true)`: more to do
/// now; `Ok(false)`: idle; `Err(wait)`: back off.
async fn round(ctx: &Ctx, sub: &mut Submitter<AnyChain>) -> Result<bool, Duration> {
    let stored = ctx.db.unsettled_batches().map_err(|e| db_wait(ctx, e))?;
    for b in stored {
        send(ctx, sub, &b).await?;
    }
    if ctx.stopping() {
        return Ok(false);
    }
    let queued = ctx
        .db
        .queued_calls(ctx.cfg.pipeline.batch_size * 2)
        .map_err(|e| db_wait(ctx, e))?;
    if queued.is_empty() {
        return Ok(false);
    }
    let now = now_ms();
    let oldest = queued
        .iter()
        .map(|(r, _)| r.updated_ms)
        .min()
        .unwrap_or(now);
    let linger = ctx.cfg.pipeline.batch_linger_ms;
    if queued.len() < ctx.cfg.pipeline.batch_size && now < oldest + linger {
        tokio::time::sleep(Duration::from_millis(oldest + linger - now)).await;
        return Ok(true);
    }
    let calls = usable(ctx, queued, now).map_err(|e| db_wait(ctx, e))?;
    if calls.is_empty() {
        return Ok(true);
    }
    let cap = match sub.object_ref(ctx.cfg.master.master_cap_id).await {
        Ok(c) => c,
        Err(e) => return Err(chain_wait(ctx, &e, "reading the MasterCap")),
    };
    let (pt, calls) = build(ctx, cap, calls);
    let signed = match sub.sign(pt).await {
        Ok(s) => s,
        Err(e) => return Err(chain_wait(ctx, &e, "signing a batch")),
    };
    // The dry run of the exact bytes: a call that aborts is taken out (and its worker
    // read again), never sent blindly.
    match sub.chain().dry_run(&signed.tx_bytes).await {
        Ok(dry) => {
            if let ExecStatus::MoveAbort { code, command, .. } = dry.status {
                handle_abort(ctx, &calls, code, command, "dry run").map_err(|e| db_wait(ctx, e))?;
                return Ok(true);
            }
            if let ExecStatus::Failure(m) = &dry.status {
                ctx.health.error(format!("dry run failed: {m}"));
                tracing::warn!("dry run of a batch failed: {m}; reading its workers again");
                let ids: Vec<ObjectId> = calls.iter().map(|(r, _)| r.worker_id).collect();
                ctx.db.mark_dirty(&ids).map_err(|e| db_wait(ctx, e))?;
                ctx.wake_driver.notify_one();
                return Err(Duration::from_secs(1));
            }
        }
        Err(e) => return Err(chain_wait(ctx, &e, "dry-running a batch")),
    }
    let list: Vec<(ObjectId, Call)> = calls.iter().map(|(r, c)| (r.worker_id, *c)).collect();
    let id = ctx
        .db
        .store_batch(
            &signed.digest,
            &signed.tx_bytes,
            &signed.signature,
            &list,
            now_ms(),
        )
        .map_err(|e| db_wait(ctx, e))?;
    ctx.crash.hit(&format!("stored-{}", list[0].1.function()));
    tracing::info!(batch = id, digest = %signed.digest, calls = list.len(), "batch stored, sending");
    let batch = ctx
        .db
        .batch(id)
        .map_err(|e| db_wait(ctx, e))?
        .expect("just stored");
    send(ctx, sub, &batch).await?;
    Ok(true)
}

fn db_wait(ctx: &Ctx, e: crate::db::DbError) -> Duration {
    ctx.health.error(&e);
    tracing::error!("{e}");
    Duration::from_secs(1)
}

fn chain_wait(ctx: &Ctx, e: &ChainError, what: &str) -> Duration {
    ctx.metrics.rpc_error(e);
    ctx.health.error(format!("{what}: {e}"));
    tracing::warn!("{what}: {e}");
    Duration::from_secs(1)
}

/// The queued calls that may go into a transaction now; the others are handed back to
/// the driver (an envelope about to expire is sealed again; a revocation past the
/// owner's withdrawal time is not confirmed).
fn usable(
    ctx: &Ctx,
    queued: Vec<(WorkerRow, Call)>,
    now: u64,
) -> Result<Vec<(WorkerRow, Call)>, crate::db::DbError> {
    let mut out = Vec::new();
    let mut back = Vec::new();
    for (mut row, call) in queued {
        let ok = match call {
            Call::SetJoinToken => {
                row.envelope.is_some()
                    && row.isv > 0
                    && row
                        .expires_at_ms
                        .is_some_and(|e| e > now + MIN_TOKEN_LIFE_MS / 2)
            }
            Call::Activate => row.isv > 0,
            Call::ConfirmRevoked => {
                row.isv > 0
                    && now.saturating_add(GRACE_MARGIN_MS)
                        < row.unlock_at_ms.saturating_add(row.revoke_grace_ms)
            }
        };
        if ok {
            out.push((row, call));
            continue;
        }
        match call {
            Call::ConfirmRevoked => {
                row.stage = Stage::Revoked;
                row.note = Some(
                    "past unlock + revoke grace: confirm_revoked left out (the owner may withdraw)"
                        .into(),
                );
            }
            _ => {
                row.stage = Stage::Seen;
                row.dirty = true;
            }
        }
        row.updated_ms = now;
        back.push(row);
    }
    if !back.is_empty() {
        ctx.db.put_workers(&back)?;
        ctx.wake_driver.notify_one();
    }
    Ok(out)
}

/// The programmable transaction for as many calls as fit (batch size, Sui's command,
/// input and size limits); returns the calls it holds, in command order.
fn build(
    ctx: &Ctx,
    cap: daas_protocol::tx::ObjectRef,
    calls: Vec<(WorkerRow, Call)>,
) -> (ProgrammableTransaction, Vec<(WorkerRow, Call)>) {
    let mut b = PtbBuilder::new();
    let mut taken = Vec::new();
    let mut size = 0usize;
    for (row, call) in calls {
        if taken.len() >= ctx.cfg.pipeline.batch_size {
            break;
        }
        let worker = SharedRef {
            id: row.worker_id,
            initial_shared_version: row.isv,
        };
        // Each call adds its Worker and (for set_join_token) its envelope as inputs,
        // and one command of about 100 bytes.
        let envelope_len = row.envelope.as_ref().map_or(0, |e| e.len() + 3);
        let grow = 45 + envelope_len + 110;
        if b.command_count() + 1 > limits::MAX_COMMANDS
            || b.input_count() + 2 > limits::MAX_INPUTS
            || size + grow + SIZE_MARGIN > limits::MAX_TX_SIZE
        {
            break;
        }
        size += grow;
        match call {
            Call::SetJoinToken => {
                ctx.calls.set_join_token(
                    &mut b,
                    cap,
                    worker,
                    row.envelope.as_deref().expect("checked in usable"),
                );
            }
            Call::Activate | Call::ConfirmRevoked => {
                ctx.calls
                    .call(
                        &mut b,
                        call.function(),
                        &[Arg::Cap(cap), Arg::Worker(worker)],
                    )
                    .expect("matches the entry table");
            }
        }
        taken.push((row, call));
    }
    (b.finish(), taken)
}

/// A call aborted (in the dry run or in execution): its worker is read again and,
/// after [`MAX_FAILURES`], refused. A revoked cap stops the master from acting.
fn handle_abort(
    ctx: &Ctx,
    calls: &[(WorkerRow, Call)],
    code: u64,
    command: Option<u64>,
    when: &str,
) -> Result<(), crate::db::DbError> {
    let name = abort::name(code).unwrap_or("unknown");
    if code == abort::E_CAP_REVOKED
        || code == abort::E_WRONG_REGISTRY
        || code == abort::E_UNAUTHORIZED
    {
        ctx.health
            .cap_valid
            .store(false, std::sync::atomic::Ordering::SeqCst);
        ctx.health.error(format!(
            "the MasterCap is refused ({when} aborted with {code} {name}): ask the operator for a valid MasterCap"
        ));
        tracing::error!(
            code,
            name,
            "the MasterCap is refused: no more transactions until it is fixed"
        );
        return Ok(());
    }
    // The call that aborted, or — when the node does not name the command — every
    // call of the batch: none is sent again before its worker is read again.
    let culprits: Vec<&(WorkerRow, Call)> = match command.and_then(|n| calls.get(n as usize)) {
        Some(c) => vec![c],
        None => calls.iter().collect(),
    };
    for (row, call) in culprits {
        take_out(ctx, row, *call, code, name, when)?;
    }
    ctx.wake_driver.notify_one();
    Ok(())
}

fn take_out(
    ctx: &Ctx,
    row: &WorkerRow,
    call: Call,
    code: u64,
    name: &str,
    when: &str,
) -> Result<(), crate::db::DbError> {
    let mut row = row.clone();
    row.failures += 1;
    row.note = Some(format!(
        "{} aborted with {code} ({name}) in the {when}",
        call.function()
    ));
    tracing::warn!(worker = %row.worker_id, node_id = %row.node_id, code, name, failures = row.failures, "{} aborted in the {when}: reading the worker again", call.function());
    ctx.metrics
        .calls
        .get_or_create(&CallLabel {
            call: call.function().into(),
            result: "aborted".into(),
        })
        .inc();
    row.stage = match call {
        // Read again; after MAX_FAILURES the decision refuses it.
        Call::SetJoinToken => Stage::Seen,
        Call::Activate => Stage::Issued,
        Call::ConfirmRevoked => Stage::Revoking,
    };
    row.batch_id = None;
    row.dirty = true;
    row.updated_ms = now_ms();
    ctx.db.put_worker(&row)
}

/// Sends a stored batch (the same bytes, however often) until its outcome is known.
async fn send(ctx: &Ctx, sub: &mut Submitter<AnyChain>, b: &BatchRow) -> Result<(), Duration> {
    let signed = daas_protocol::chain::SignedTransaction {
        tx_bytes: b.tx_bytes.clone(),
        signature: b.signature,
        digest: b.digest,
    };
    let first = b.calls.first().map_or("empty", |(_, c)| c.function());
    for attempt in 0..SEND_ATTEMPTS {
        match sub.execute(&signed).await {
            Ok(out) => {
                ctx.crash.hit(&format!("executed-{first}"));
                settle(ctx, b, &out).map_err(|e| db_wait(ctx, e))?;
                return Ok(());
            }
            Err(ChainError::Rejected { kind, message, .. }) if !kind.is_retryable() => {
                // Refused before execution. If it executed after all (a resubmission
                // racing the first), its outcome is known; otherwise it never can.
                if let Ok(Some(out)) = sub.chain().transaction(&b.digest).await {
                    settle(ctx, b, &out).map_err(|e| db_wait(ctx, e))?;
                    return Ok(());
                }
                let reason = match kind {
                    RejectKind::StaleObject { .. } | RejectKind::ObjectNotFound { .. } => {
                        "stale_object"
                    }
                    RejectKind::InsufficientGas => "insufficient_gas",
                    RejectKind::Locked { .. } => "locked",
                    _ => "rejected",
                };
                tracing::warn!(batch = b.id, digest = %b.digest, "batch refused before execution ({message}): dropped, its calls are queued again");
                ctx.health
                    .error(format!("batch {} refused: {message}", b.digest));
                ctx.metrics
                    .tx_failed
                    .get_or_create(&ReasonLabel {
                        reason: reason.into(),
                    })
                    .inc();
                ctx.db
                    .settle_batch(b.id, batch_state::DROPPED, &message, now_ms())
                    .map_err(|e| db_wait(ctx, e))?;
                // Its owned-object cache may be what was wrong: start afresh.
                *sub = new_submitter(ctx);
                return Err(Duration::from_secs(1));
            }
            Err(e) => {
                ctx.metrics.rpc_error(&e);
                tracing::warn!(
                    batch = b.id,
                    attempt,
                    "sending batch {}: {e}; the same bytes are sent again",
                    b.digest
                );
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
    }
    Err(Duration::from_secs(2))
}

/// Records an executed batch's outcome; the workers are read again before anything
/// else is decided about them.
fn settle(ctx: &Ctx, b: &BatchRow, out: &ExecOutcome) -> Result<(), crate::db::DbError> {
    ctx.metrics.tx_submitted.inc();
    let (state, outcome) = match &out.status {
        ExecStatus::Success => (batch_state::EXECUTED, "success".to_string()),
        ExecStatus::MoveAbort { code, command, .. } => {
            ctx.metrics
                .tx_failed
                .get_or_create(&ReasonLabel {
                    reason: "move_abort".into(),
                })
                .inc();
            let rows: Vec<(WorkerRow, Call)> = b
                .calls
                .iter()
                .filter_map(|(w, c)| ctx.db.worker(w).ok().flatten().map(|r| (r, *c)))
                .collect();
            handle_abort(ctx, &rows, *code, *command, "execution")?;
            (batch_state::FAILED, format!("move abort {code}"))
        }
        ExecStatus::Failure(m) => {
            ctx.metrics
                .tx_failed
                .get_or_create(&ReasonLabel {
                    reason: "execution_failure".into(),
                })
                .inc();
            (batch_state::FAILED, m.clone())
        }
        _ => (batch_state::FAILED, format!("{:?}", out.status)),
    };
    for (_, c) in &b.calls {
        ctx.metrics
            .calls
            .get_or_create(&CallLabel {
                call: c.function().into(),
                result: "sent".into(),
            })
            .inc();
    }
    ctx.db.settle_batch(b.id, state, &outcome, now_ms())?;
    tracing::info!(batch = b.id, digest = %b.digest, calls = b.calls.len(), outcome = %outcome, "batch executed");
    ctx.wake_driver.notify_one();
    Ok(())
}
