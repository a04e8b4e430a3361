//! The device owner's transactions (`register`, `owner unstake | withdraw |
//! request-join-token | rotate-seal-token`) and the worker list (`workers`).
//!
//! Every check that can be made before sending is made, naming what is wrong: the
//! seal token against this registry, the owner's address and the node_id; the fee in
//! force against `--max-fee`; the stake against `min_stake`; that the node_id is free
//! (register) or registered to this owner (the others).

use daas_protocol::chain::{Spend, WorkerObject, fmt_sui};
use daas_protocol::onchain::WorkerStatus;
use daas_protocol::tx::{Arg, PtbBuilder, RegistryCalls, SharedRef};
use daas_protocol::{Address, NodeId, ObjectId, SealToken, SuiKeypair};
use serde::Serialize;
use serde_json::{Map, json};

use super::amount::Amount;
use super::explain::{Context, status_word};
use super::send::{Authority, Plan, TxReport, send};
use super::{OpsError, Session};

/// A registration as `register` (and, batched, `fleet register`) makes it.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The device's node_id.
    pub node_id: NodeId,
    /// Its seal token for this registry and owner.
    pub seal_token: SealToken,
    /// The stake to hold (the fee in force is paid on top).
    pub stake: Amount,
    /// The highest registration fee the owner accepts.
    pub max_fee: Amount,
}

/// Parses `--node-id` and `--seal-token`, naming the argument.
pub fn parse_device(node_id: &str, seal_token: &str) -> Result<(NodeId, SealToken), OpsError> {
    let node_id =
        NodeId::parse(node_id).map_err(|e| OpsError::usage("--node-id", e.to_string()))?;
    let seal_token = SealToken::from_hex(seal_token)
        .map_err(|e| OpsError::usage("--seal-token", e.to_string()))?;
    Ok((node_id, seal_token))
}

/// What a registration pays, checked against the registry's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Payment {
    /// The stake held.
    pub stake: u64,
    /// The fee in force.
    pub fee: u64,
}

/// Checks one registration against the registry's fee, min_stake and the owner's
/// address (seal token), without talking to the chain.
pub fn check_registration(
    r: &Registration,
    registry_id: &ObjectId,
    owner: &Address,
    min_stake: u64,
    fee: u64,
) -> Result<Payment, OpsError> {
    r.seal_token
        .verify(registry_id, owner, &r.node_id)
        .map_err(|e| {
            OpsError::usage(
                "--seal-token",
                format!(
                    "{e} (the device prints a token for one owner: run `daas-agent init --owner {owner}` for this key's address)"
                ),
            )
        })?;
    if fee > r.max_fee.mist() {
        return Err(OpsError::Refused(format!(
            "the registry's registration fee is {}, above --max-fee {}: nothing was sent (pass --max-fee {} to accept it; the fee is not refunded)",
            fmt_sui(fee),
            fmt_sui(r.max_fee.mist()),
            fee
        )));
    }
    if r.stake.mist() < min_stake {
        return Err(OpsError::Refused(format!(
            "--stake {} is below the registry's min_stake {}: nothing was sent",
            fmt_sui(r.stake.mist()),
            fmt_sui(min_stake)
        )));
    }
    r.stake
        .mist()
        .checked_add(fee)
        .ok_or_else(|| OpsError::usage("--stake", "stake plus fee is more than u64::MAX MIST"))?;
    Ok(Payment {
        stake: r.stake.mist(),
        fee,
    })
}

/// Appends one registration (split stake + fee off the gas coin, then
/// `stake_and_register_worker`) to `b`.
pub fn add_registration(b: &mut PtbBuilder, calls: &RegistryCalls, r: &Registration, p: Payment) {
    let seal = r.seal_token.to_bytes();
    calls.stake_and_register_worker(b, p.stake + p.fee, r.node_id.as_str(), &seal);
}

/// `register`: reads the fee and min_stake in force, checks everything, registers.
pub async fn register(
    session: &Session,
    key: SuiKeypair,
    r: &Registration,
) -> Result<TxReport, OpsError> {
    let owner = key.address();
    let (reg, calls) = session.registry().await?;
    let p = check_registration(
        r,
        &session.config.registry_id,
        &owner,
        reg.min_stake,
        reg.registration_fee,
    )?;
    let reader = session.reader();
    if let Some(id) = reader
        .worker_id_by_node_id(&reg, r.node_id.as_str())
        .await?
    {
        return Err(OpsError::Refused(format!(
            "node_id {} is already registered (worker {id}): a device registers once; run `daas-master workers` to see it",
            r.node_id
        )));
    }
    let mut b = PtbBuilder::new();
    add_registration(&mut b, &calls, r, p);
    let mut details = Map::new();
    details.insert("node_id".into(), json!(r.node_id.as_str()));
    details.insert("stake".into(), json!(p.stake));
    details.insert("registration_fee".into(), json!(p.fee));
    details.insert("max_fee".into(), json!(r.max_fee.mist()));
    details.insert("min_stake".into(), json!(reg.min_stake));
    details.insert(
        "fee_in_force".into(),
        json!(format!(
            "{} (you accept up to {})",
            fmt_sui(p.fee),
            fmt_sui(r.max_fee.mist())
        )),
    );
    let plan = Plan {
        action: "register",
        context: Context {
            function: "stake_and_register_worker",
            action: "register",
            ..Context::default()
        },
        details,
    };
    let auth = Authority::Key(key);
    let mut report = send(
        &session.chain,
        &auth,
        b.finish(),
        Spend::registration(p.stake, p.fee),
        &plan,
    )
    .await?;
    if report.ok() {
        let (reg, _) = session.registry().await?;
        if let Some(id) = reader
            .worker_id_by_node_id(&reg, r.node_id.as_str())
            .await?
        {
            report.details.insert("worker_id".into(), json!(id));
        }
    }
    Ok(report)
}

/// The owner's calls on one worker.
#[derive(Debug, Clone)]
pub enum OwnerAction {
    /// `request_unstake`.
    Unstake,
    /// `withdraw_stake`.
    Withdraw,
    /// `request_join_token`.
    RequestJoinToken,
    /// `rotate_seal_token` with a new token (same identity key, new sealing key).
    RotateSealToken(SealToken),
}

impl OwnerAction {
    fn function(&self) -> &'static str {
        match self {
            OwnerAction::Unstake => "request_unstake",
            OwnerAction::Withdraw => "withdraw_stake",
            OwnerAction::RequestJoinToken => "request_join_token",
            OwnerAction::RotateSealToken(_) => "rotate_seal_token",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            OwnerAction::Unstake => "unstake",
            OwnerAction::Withdraw => "withdraw",
            OwnerAction::RequestJoinToken => "request-join-token",
            OwnerAction::RotateSealToken(_) => "rotate-seal-token",
        }
    }
}

/// The Worker registered under `node_id`, or a refusal naming it.
pub async fn find_worker(session: &Session, node_id: &NodeId) -> Result<WorkerObject, OpsError> {
    session
        .reader()
        .worker_by_node_id(node_id.as_str())
        .await?
        .ok_or_else(|| {
            OpsError::Refused(format!(
                "no worker is registered as {node_id} in registry {}: check --node-id (`daas-master workers` lists them)",
                session.config.registry_id
            ))
        })
}

fn status_of(w: &WorkerObject) -> Option<WorkerStatus> {
    w.worker.status().ok()
}

/// `owner unstake | withdraw | request-join-token | rotate-seal-token`.
pub async fn owner_call(
    session: &Session,
    key: SuiKeypair,
    node_id: &NodeId,
    action: &OwnerAction,
) -> Result<TxReport, OpsError> {
    let owner = key.address();
    let (_, calls) = session.registry().await?;
    let w = find_worker(session, node_id).await?;
    if w.worker.owner != owner {
        return Err(OpsError::Refused(format!(
            "worker {node_id} is owned by {}, not by this key's address {owner}: use the owner's key",
            w.worker.owner
        )));
    }
    let worker = w.info.shared_ref().map(|s| SharedRef {
        id: s.id,
        initial_shared_version: s.initial_shared_version,
    });
    let worker = worker
        .ok_or_else(|| OpsError::Refused(format!("worker {} is not a shared object", w.info.id)))?;
    let seal;
    let mut args = vec![Arg::Worker(worker)];
    if let OwnerAction::RotateSealToken(token) = action {
        token
            .verify(&session.config.registry_id, &owner, node_id)
            .map_err(|e| {
                OpsError::usage(
                    "--seal-token",
                    format!("{e} (the new token must name the same device key and this owner)"),
                )
            })?;
        seal = token.to_bytes();
        args.push(Arg::Bytes(&seal));
    }
    let mut b = PtbBuilder::new();
    calls
        .call(&mut b, action.function(), &args)
        .expect("owner calls match the entry table");
    let status = status_of(&w);
    let mut details = Map::new();
    details.insert("node_id".into(), json!(node_id.as_str()));
    details.insert("worker_id".into(), json!(w.info.id));
    if let Some(s) = status {
        details.insert("status_before".into(), json!(status_word(s)));
    }
    details.insert("stake".into(), json!(w.worker.stake.value));
    let action_name = format!("owner {}", action.name());
    let plan = Plan {
        action: &action_name,
        context: Context {
            function: action.function(),
            action: action.name(),
            status,
            unlock_at_ms: Some(w.worker.unlock_at_ms),
            revoke_grace_ms: None,
        },
        details,
    };
    send(
        &session.chain,
        &Authority::Key(key),
        b.finish(),
        Spend::new(0),
        &plan,
    )
    .await
}

/// One line of `workers`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRow {
    /// The node_id.
    pub node_id: String,
    /// The Worker object id.
    pub id: ObjectId,
    /// The owner.
    pub owner: Address,
    /// `Pending`, `TokenIssued`, `Active`, `Leaving`, `Slashed`, `Revoked`.
    pub status: String,
    /// Envelopes issued plus seal-token rotations.
    pub token_version: u64,
    /// Stake held (MIST).
    pub stake: u64,
    /// When the stake can be withdrawn (ms since the epoch; 0 while not leaving).
    pub unlock_at_ms: u64,
}

impl WorkerRow {
    fn of(w: &WorkerObject) -> Self {
        WorkerRow {
            node_id: w.worker.node_id.clone(),
            id: w.info.id,
            owner: w.worker.owner,
            status: match w.worker.status() {
                Ok(s) => status_word(s).to_string(),
                Err(_) => format!("unknown({})", w.worker.status),
            },
            token_version: w.worker.token_version,
            stake: w.worker.stake.value,
            unlock_at_ms: w.worker.unlock_at_ms,
        }
    }
}

/// `workers`: every worker of the registry, by node_id.
pub async fn workers(session: &Session) -> Result<Vec<WorkerRow>, OpsError> {
    let reader = session.reader();
    let entries = reader.all_workers().await?;
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        if let Some(w) = reader.worker(e.value).await? {
            rows.push(WorkerRow::of(&w));
        }
    }
    rows.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    Ok(rows)
}

/// The human table of `workers`.
pub fn workers_table(rows: &[WorkerRow]) -> String {
    let mut out = format!(
        "{:<40} {:<12} {:>7} {:>14}  {:<24} {:<66} {}\n",
        "NODE_ID", "STATUS", "VERSION", "STAKE", "UNLOCK", "OWNER", "ID"
    );
    for r in rows {
        let unlock = if r.unlock_at_ms == 0 {
            "-".to_string()
        } else {
            super::explain::iso(r.unlock_at_ms)
        };
        out.push_str(&format!(
            "{:<40} {:<12} {:>7} {:>14}  {:<24} {:<66} {}\n",
            r.node_id,
            r.status,
            r.token_version,
            fmt_sui(r.stake),
            unlock,
            r.owner,
            r.id
        ));
    }
    out.push_str(&format!(
        "{} worker{}\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    ));
    out
}
