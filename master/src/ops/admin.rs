//! The AdminCap's transactions (`admin …`) and the SlashCap's (`slash`). Each can be
//! signed with a key at hand or written unsigned for a cold or multisig holder
//! ([`Authority::Unsigned`]).
//!
//! The cap is given with `--admin-cap ID` / `--slash-cap ID`; it is read, and refused
//! unless it is this package's cap, for this registry, owned by the sender (and, for a
//! SlashCap, still in the registry's valid set).

use daas_protocol::chain::{Chain, Owner, Spend, fmt_sui};
use daas_protocol::envkey_cert::EnvelopeKeyCert;
use daas_protocol::onchain::{self, Cap, defaults};
use daas_protocol::tx::{Arg, ObjectRef, PtbBuilder};
use daas_protocol::{Address, NodeId, ObjectId};
use serde_json::{Map, json};

use super::amount::{Amount, DurationMs};
use super::explain::{Context, status_word};
use super::owner::find_worker;
use super::send::{Authority, Plan, TxReport, send};
use super::{OpsError, Session};

/// What an `admin` subcommand does.
#[derive(Debug, Clone)]
pub enum AdminAction {
    /// `set_envelope_key_cert` with a 105-byte certificate.
    SetEnvelopeCert(Vec<u8>),
    /// `set_min_stake`.
    SetMinStake(Amount),
    /// `set_registration_fee`.
    SetRegistrationFee(Amount),
    /// `set_cooldown_ms`.
    SetCooldown(DurationMs),
    /// `set_revoke_grace_ms`.
    SetRevokeGrace(DurationMs),
    /// `set_max_envelope_ttl_ms`.
    SetMaxEnvelopeTtl(DurationMs),
    /// `withdraw_treasury`.
    WithdrawTreasury {
        /// How much.
        amount: Amount,
        /// To whom.
        to: Address,
    },
    /// `issue_master_cap`.
    IssueMasterCap {
        /// The new master's account.
        to: Address,
    },
    /// `revoke_master_cap`.
    RevokeMasterCap {
        /// The cap to cancel.
        cap: ObjectId,
    },
    /// `issue_slash_cap`.
    IssueSlashCap {
        /// The holder.
        to: Address,
    },
    /// `revoke_slash_cap`.
    RevokeSlashCap {
        /// The cap to cancel.
        cap: ObjectId,
    },
}

impl AdminAction {
    /// The entry function.
    pub fn function(&self) -> &'static str {
        match self {
            AdminAction::SetEnvelopeCert(_) => "set_envelope_key_cert",
            AdminAction::SetMinStake(_) => "set_min_stake",
            AdminAction::SetRegistrationFee(_) => "set_registration_fee",
            AdminAction::SetCooldown(_) => "set_cooldown_ms",
            AdminAction::SetRevokeGrace(_) => "set_revoke_grace_ms",
            AdminAction::SetMaxEnvelopeTtl(_) => "set_max_envelope_ttl_ms",
            AdminAction::WithdrawTreasury { .. } => "withdraw_treasury",
            AdminAction::IssueMasterCap { .. } => "issue_master_cap",
            AdminAction::RevokeMasterCap { .. } => "revoke_master_cap",
            AdminAction::IssueSlashCap { .. } => "issue_slash_cap",
            AdminAction::RevokeSlashCap { .. } => "revoke_slash_cap",
        }
    }

    /// The subcommand name.
    pub fn name(&self) -> &'static str {
        match self {
            AdminAction::SetEnvelopeCert(_) => "set-envelope-cert",
            AdminAction::SetMinStake(_) => "set-min-stake",
            AdminAction::SetRegistrationFee(_) => "set-registration-fee",
            AdminAction::SetCooldown(_) => "set-cooldown",
            AdminAction::SetRevokeGrace(_) => "set-revoke-grace",
            AdminAction::SetMaxEnvelopeTtl(_) => "set-max-envelope-ttl",
            AdminAction::WithdrawTreasury { .. } => "withdraw-treasury",
            AdminAction::IssueMasterCap { .. } => "issue-master-cap",
            AdminAction::RevokeMasterCap { .. } => "revoke-master-cap",
            AdminAction::IssueSlashCap { .. } => "issue-slash-cap",
            AdminAction::RevokeSlashCap { .. } => "revoke-slash-cap",
        }
    }
}

/// Reads a cap and checks it is `name` of this package and registry, owned by `sender`.
pub async fn resolve_cap(
    session: &Session,
    id: ObjectId,
    name: &str,
    arg: &'static str,
    sender: &Address,
) -> Result<ObjectRef, OpsError> {
    let info = session
        .chain
        .object(id)
        .await?
        .ok_or_else(|| OpsError::usage(arg, format!("no object {id} on this chain")))?;
    if onchain::struct_name_in(&info.type_, &session.config.package_id) != Some(name) {
        return Err(OpsError::usage(
            arg,
            format!(
                "{id} is a {}, not a {}",
                info.type_,
                onchain::struct_type(&session.config.package_id, name)
            ),
        ));
    }
    let cap: Cap = info.decode(name)?;
    if cap.registry_id != session.config.registry_id {
        return Err(OpsError::usage(
            arg,
            format!(
                "{name} {id} governs registry {}, not the configured {}",
                cap.registry_id, session.config.registry_id
            ),
        ));
    }
    match info.owner {
        Owner::Address(a) if a == *sender => {}
        other => {
            return Err(OpsError::Refused(format!(
                "{name} {id} is owned by {}, not by the sender {sender}: sign with the holder's key (or --sender for --unsigned-out)",
                match other {
                    Owner::Address(a) => a.to_string(),
                    o => format!("{o:?}"),
                }
            )));
        }
    }
    Ok(info.object_ref())
}

/// An `admin` command.
pub async fn admin(
    session: &Session,
    auth: &Authority,
    admin_cap: ObjectId,
    action: &AdminAction,
) -> Result<TxReport, OpsError> {
    let sender = auth.sender();
    let (reg, calls) = session.registry().await?;
    let cap = resolve_cap(session, admin_cap, "AdminCap", "--admin-cap", &sender).await?;
    let mut details = Map::new();
    let mut b = PtbBuilder::new();
    let function = action.function();
    let cert_bytes;
    let args: Vec<Arg<'_>> = match action {
        AdminAction::SetEnvelopeCert(bytes) => {
            let cert = EnvelopeKeyCert::from_bytes(bytes)
                .map_err(|e| OpsError::usage("--cert", e.to_string()))?;
            if let Ok(current) = EnvelopeKeyCert::from_bytes(&reg.envelope_key_cert)
                && cert.serial <= current.serial
            {
                return Err(OpsError::Refused(format!(
                    "certificate serial {} is not above the registry's current serial {}: issue one with `cert issue --serial {}`",
                    cert.serial,
                    current.serial,
                    current.serial + 1
                )));
            }
            details.insert("serial".into(), json!(cert.serial));
            details.insert(
                "envelope_public_key".into(),
                json!(cert.envelope_key.to_hex()),
            );
            cert_bytes = bytes.clone();
            vec![Arg::Cap(cap), Arg::Bytes(&cert_bytes)]
        }
        AdminAction::SetMinStake(a) => {
            details.insert("min_stake".into(), json!(a.mist()));
            details.insert("was".into(), json!(reg.min_stake));
            vec![Arg::Cap(cap), Arg::U64(a.mist())]
        }
        AdminAction::SetRegistrationFee(a) => {
            details.insert("registration_fee".into(), json!(a.mist()));
            details.insert("was".into(), json!(reg.registration_fee));
            vec![Arg::Cap(cap), Arg::U64(a.mist())]
        }
        AdminAction::SetCooldown(d) | AdminAction::SetRevokeGrace(d) => {
            if d.0 > defaults::MAX_COOLDOWN_MS {
                return Err(OpsError::usage(
                    "--duration",
                    format!("{d} is longer than the 30 days the registry allows"),
                ));
            }
            let was = if matches!(action, AdminAction::SetCooldown(_)) {
                reg.cooldown_ms
            } else {
                reg.revoke_grace_ms
            };
            details.insert("ms".into(), json!(d.0));
            details.insert("was_ms".into(), json!(was));
            vec![Arg::Cap(cap), Arg::U64(d.0)]
        }
        AdminAction::SetMaxEnvelopeTtl(d) => {
            details.insert("ms".into(), json!(d.0));
            details.insert("was_ms".into(), json!(reg.max_envelope_ttl_ms));
            vec![Arg::Cap(cap), Arg::U64(d.0)]
        }
        AdminAction::WithdrawTreasury { amount, to } => {
            if amount.mist() > reg.treasury.value {
                return Err(OpsError::Refused(format!(
                    "the treasury holds {}, less than --amount {}",
                    fmt_sui(reg.treasury.value),
                    fmt_sui(amount.mist())
                )));
            }
            details.insert("amount".into(), json!(amount.mist()));
            details.insert("to".into(), json!(to));
            details.insert("treasury_before".into(), json!(reg.treasury.value));
            vec![Arg::Cap(cap), Arg::U64(amount.mist()), Arg::Address(*to)]
        }
        AdminAction::IssueMasterCap { to } | AdminAction::IssueSlashCap { to } => {
            details.insert("to".into(), json!(to));
            vec![Arg::Cap(cap), Arg::Address(*to)]
        }
        AdminAction::RevokeMasterCap { cap: target } => {
            if !reg.master_caps.contents.contains(target) {
                return Err(OpsError::Refused(format!(
                    "{target} is not a valid MasterCap of this registry (valid: {})",
                    list_ids(&reg.master_caps.contents)
                )));
            }
            details.insert("cap".into(), json!(target));
            vec![Arg::Cap(cap), Arg::Id(*target)]
        }
        AdminAction::RevokeSlashCap { cap: target } => {
            if !reg.slash_caps.contents.contains(target) {
                return Err(OpsError::Refused(format!(
                    "{target} is not a valid SlashCap of this registry (valid: {})",
                    list_ids(&reg.slash_caps.contents)
                )));
            }
            details.insert("cap".into(), json!(target));
            vec![Arg::Cap(cap), Arg::Id(*target)]
        }
    };
    details.insert("admin_cap".into(), json!(admin_cap));
    calls
        .call(&mut b, function, &args)
        .map_err(|e| OpsError::Refused(format!("{e}: this build does not know the call")))?;
    let action_name = format!("admin {}", action.name());
    let plan = Plan {
        action: &action_name,
        context: Context {
            function,
            action: action.name(),
            ..Context::default()
        },
        details,
    };
    send(&session.chain, auth, b.finish(), Spend::new(0), &plan).await
}

fn list_ids(ids: &[ObjectId]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `slash`: takes `amount` of the worker's stake into the treasury (SlashCap holder).
pub async fn slash(
    session: &Session,
    auth: &Authority,
    slash_cap: ObjectId,
    node_id: &NodeId,
    amount: Amount,
    reason: &str,
) -> Result<TxReport, OpsError> {
    if reason.len() > defaults::MAX_SLASH_REASON_LEN {
        return Err(OpsError::usage(
            "--reason",
            format!(
                "{} bytes, at most {} allowed",
                reason.len(),
                defaults::MAX_SLASH_REASON_LEN
            ),
        ));
    }
    let sender = auth.sender();
    let (reg, calls) = session.registry().await?;
    let cap = resolve_cap(session, slash_cap, "SlashCap", "--slash-cap", &sender).await?;
    if !reg.slash_caps.contents.contains(&slash_cap) {
        return Err(OpsError::Refused(format!(
            "SlashCap {slash_cap} was revoked (it is not in the registry's valid set)"
        )));
    }
    let w = find_worker(session, node_id).await?;
    if amount.mist() > w.worker.stake.value {
        return Err(OpsError::Refused(format!(
            "--amount {} is more than worker {node_id}'s stake {}",
            fmt_sui(amount.mist()),
            fmt_sui(w.worker.stake.value)
        )));
    }
    let worker = w
        .info
        .shared_ref()
        .ok_or_else(|| OpsError::Refused(format!("worker {} is not a shared object", w.info.id)))?;
    let mut b = PtbBuilder::new();
    calls
        .call(
            &mut b,
            "slash",
            &[
                Arg::Cap(cap),
                Arg::Worker(worker),
                Arg::U64(amount.mist()),
                Arg::Str(reason),
            ],
        )
        .expect("slash matches the entry table");
    let status = w.worker.status().ok();
    let mut details = Map::new();
    details.insert("node_id".into(), json!(node_id.as_str()));
    details.insert("worker_id".into(), json!(w.info.id));
    details.insert("amount".into(), json!(amount.mist()));
    details.insert("stake_before".into(), json!(w.worker.stake.value));
    details.insert("reason".into(), json!(reason));
    if let Some(s) = status {
        details.insert("status_before".into(), json!(status_word(s)));
    }
    details.insert("slash_cap".into(), json!(slash_cap));
    let plan = Plan {
        action: "slash",
        context: Context {
            function: "slash",
            action: "slash",
            status,
            ..Context::default()
        },
        details,
    };
    send(&session.chain, auth, b.finish(), Spend::new(0), &plan).await
}
