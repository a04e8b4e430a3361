//! Transaction resolution for GraphQL `simulateTransaction` given a transaction as
//! JSON (the `sui.rpc.v2.Transaction` message in proto3 JSON, which Sui's TypeScript
//! SDK sends to have a transaction completed): object inputs named by id only get their
//! reference (owned/immutable) or initial shared version and mutability (from how the
//! commands use them), missing gas price and budget get defaults, and with
//! `doGasSelection` the budget is estimated by a simulation and the sender's coins are
//! selected to pay it.
//!
//! Source: MystenLabs/sui `crates/sui-rpc-api/src/grpc/v2/transaction_execution_service/
//! simulate/{mod.rs, resolve/mod.rs}` (`resolve_transaction`, `resolve_arg`,
//! `estimate_gas_budget_from_gas_cost`, `select_gas`). Literal (unresolved pure) inputs
//! are not modelled.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::onchain::{self, CLOCK_ID, Param};
use daas_protocol::tx::{
    Argument, CallArg, Command, GasData, ObjectArg, ObjectDigest, ObjectRef, ProgrammableMoveCall,
    ProgrammableTransaction, TransactionData, TransactionExpiration,
};
use daas_protocol::{Address, ObjectId};
use serde_json::Value;

use crate::exec::{Engine, Mode};
use crate::gas;
use crate::store::{Contents, Obj, Owner};

/// The most gas coins a transaction may name (`max_gas_payment_objects`).
const MAX_GAS_PAYMENT_OBJECTS: usize = 256;
/// `GAS_SAFE_OVERHEAD` of the budget estimate, in units of the gas price.
const GAS_SAFE_OVERHEAD: u64 = 1_000;

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.get(k).filter(|v| !v.is_null())
}

fn u64_field(v: &Value, k: &str) -> Result<Option<u64>, String> {
    match field(v, k) {
        None => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{k}: {s:?} is not a u64")),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(format!("{k} is not a u64")),
        Some(other) => Err(format!("{k}: expected a u64, got {other}")),
    }
}

fn id_field(v: &Value, k: &str) -> Result<ObjectId, String> {
    field(v, k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{k} is required"))?
        .parse()
        .map_err(|e| format!("{k}: {e}"))
}

fn argument(v: &Value) -> Result<Argument, String> {
    let index = |k: &str| -> Result<u16, String> {
        let n = u64_field(v, k)?.ok_or_else(|| format!("argument without {k}"))?;
        u16::try_from(n).map_err(|_| format!("argument {k} {n} is out of range"))
    };
    match field(v, "kind").and_then(Value::as_str) {
        Some("GAS") => Ok(Argument::GasCoin),
        Some("INPUT") => Ok(Argument::Input(index("input")?)),
        Some("RESULT") => match field(v, "subresult") {
            Some(_) => Ok(Argument::NestedResult(
                index("result")?,
                index("subresult")?,
            )),
            None => Ok(Argument::Result(index("result")?)),
        },
        other => Err(format!("invalid argument kind {other:?}")),
    }
}

fn arguments(v: Option<&Value>) -> Result<Vec<Argument>, String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(argument).collect())
        .unwrap_or(Ok(vec![]))
}

fn command(v: &Value) -> Result<Command, String> {
    if let Some(c) = field(v, "moveCall") {
        if field(c, "typeArguments")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err("type arguments are not modelled by daas-sandbox".into());
        }
        return Ok(Command::MoveCall(Box::new(ProgrammableMoveCall {
            package: id_field(c, "package")?,
            module: field(c, "module")
                .and_then(Value::as_str)
                .ok_or("moveCall.module is required")?
                .into(),
            function: field(c, "function")
                .and_then(Value::as_str)
                .ok_or("moveCall.function is required")?
                .into(),
            type_arguments: vec![],
            arguments: arguments(field(c, "arguments"))?,
        })));
    }
    if let Some(c) = field(v, "splitCoins") {
        return Ok(Command::SplitCoins(
            argument(field(c, "coin").ok_or("splitCoins.coin is required")?)?,
            arguments(field(c, "amounts"))?,
        ));
    }
    if let Some(c) = field(v, "mergeCoins") {
        return Ok(Command::MergeCoins(
            argument(field(c, "coin").ok_or("mergeCoins.coin is required")?)?,
            arguments(field(c, "coinsToMerge"))?,
        ));
    }
    if let Some(c) = field(v, "transferObjects") {
        return Ok(Command::TransferObjects(
            arguments(field(c, "objects"))?,
            argument(field(c, "address").ok_or("transferObjects.address is required")?)?,
        ));
    }
    Err(format!(
        "command {v} is not modelled by daas-sandbox (it runs MoveCall, SplitCoins, MergeCoins and TransferObjects)"
    ))
}

/// Whether input `i` is used mutably: by `&mut` or by value in a registry call, or by
/// any built-in command.
fn used_mutably(commands: &[Command], i: u16) -> bool {
    let a = Argument::Input(i);
    commands.iter().any(|c| match c {
        Command::MoveCall(call) => onchain::entry_function(&call.function).is_some_and(|f| {
            f.params.iter().zip(&call.arguments).any(|(p, x)| {
                *x == a
                    && !matches!(
                        p,
                        Param::Registry
                            | Param::Clock
                            | Param::AdminCap
                            | Param::SlashCap
                            | Param::MasterCap
                    )
            })
        }),
        Command::SplitCoins(c, _) => *c == a,
        Command::MergeCoins(c, s) => *c == a || s.contains(&a),
        Command::TransferObjects(o, _) => o.contains(&a),
        _ => false,
    })
}

/// The object an input names, as of checkpoint `cp`.
fn lookup(engine: &Engine, cp: u64, v: &Value) -> Result<Obj, String> {
    let id = id_field(v, "objectId")?;
    engine
        .store
        .view(cp)
        .object(&id)
        .cloned()
        .ok_or_else(|| format!("Object {id} not found"))
}

/// An owned or immutable object's reference, checked against the version and digest the
/// caller gave (`resolve_object_reference_with_object`). Shared inputs skip this: Sui
/// ignores their `version`, `digest` and `mutable` and takes the initial shared version
/// from the object and the mutability from the commands.
fn owned_ref(o: &Obj, v: &Value) -> Result<ObjectRef, String> {
    if !matches!(o.owner, Owner::Address(_) | Owner::Immutable) {
        return Err(format!("object {} is not Immutable or AddressOwned", o.id));
    }
    if let Some(version) = u64_field(v, "version")?
        && version != o.version
    {
        return Err(format!(
            "provided version doesn't match, provided: Some({version}) actual: {}",
            o.version
        ));
    }
    if let Some(d) = field(v, "digest").and_then(Value::as_str)
        && d != bs58::encode(o.digest).into_string()
    {
        return Err(format!(
            "provided digest doesn't match, provided: Some({d}) actual: {}",
            bs58::encode(o.digest).into_string()
        ));
    }
    Ok(o.object_ref())
}

fn input(
    engine: &Engine,
    cp: u64,
    v: &Value,
    commands: &[Command],
    i: u16,
) -> Result<CallArg, String> {
    let kind = field(v, "kind").and_then(Value::as_str);
    if field(v, "literal").is_some() {
        return Err(format!(
            "input {i}: literal (unresolved pure) inputs are not modelled by daas-sandbox: send BCS bytes"
        ));
    }
    if let Some(pure) = field(v, "pure") {
        return match kind {
            None | Some("PURE") => BASE64
                .decode(pure.as_str().ok_or("pure must be Base64")?)
                .map(CallArg::Pure)
                .map_err(|_| format!("input {i}: pure is not Base64")),
            Some(k) => Err(format!("input {i}: kind {k} with pure bytes")),
        };
    }
    let o = lookup(engine, cp, v)?;
    let shared = |isv: u64| {
        CallArg::Object(ObjectArg::SharedObject {
            id: o.id,
            initial_shared_version: isv,
            mutable: o.id != CLOCK_ID && used_mutably(commands, i),
        })
    };
    match (kind, o.owner) {
        (Some("SHARED") | None, Owner::Shared(isv)) => Ok(shared(isv)),
        (Some("SHARED"), _) => Err(format!("object {} is not a shared object", o.id)),
        (Some("IMMUTABLE_OR_OWNED") | None, _) if !matches!(o.owner, Owner::Object(_)) => Ok(
            CallArg::Object(ObjectArg::ImmOrOwnedObject(owned_ref(&o, v)?)),
        ),
        (None, _) => Err(format!(
            "object {} is object owned and cannot be used as an input",
            o.id
        )),
        (Some("IMMUTABLE_OR_OWNED"), _) => {
            Err(format!("object {} is not Immutable or AddressOwned", o.id))
        }
        (Some(k), _) => Err(format!(
            "input {i}: kind {k} is not modelled by daas-sandbox"
        )),
    }
}

/// Resolves the JSON transaction and returns the BCS `TransactionData` to simulate.
pub fn resolve(
    engine: &mut Engine,
    cp: u64,
    tx: &Value,
    do_gas_selection: bool,
    now: u64,
) -> Result<Vec<u8>, String> {
    let sender: Address = field(tx, "sender")
        .and_then(Value::as_str)
        .ok_or("transaction.sender is required")?
        .parse()
        .map_err(|e| format!("invalid sender: {e}"))?;
    let ptb = tx
        .pointer("/kind/programmableTransaction")
        .ok_or("transaction.kind.programmableTransaction is required")?;
    let commands: Vec<Command> = field(ptb, "commands")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(command).collect::<Result<_, _>>())
        .unwrap_or(Ok(vec![]))?;
    let inputs: Vec<CallArg> = field(ptb, "inputs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, v)| input(engine, cp, v, &commands, i as u16))
                .collect::<Result<_, _>>()
        })
        .unwrap_or(Ok(vec![]))?;

    // gas (resolve_unresolved_transaction)
    let payment_json = field(tx, "gasPayment");
    let mut payment = Vec::new();
    let mut payment_value = 0u128;
    for p in payment_json
        .and_then(|g| field(g, "objects"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let o = lookup(engine, cp, p)?;
        match &o.contents {
            Contents::Coin(c) => payment_value += c.balance.value as u128,
            _ => return Err(format!("object {} is not a valid gas coin", o.id)),
        }
        payment.push(owned_ref(&o, p)?);
    }
    let max_budget = if payment.is_empty() {
        gas::MAX_TX_GAS
    } else {
        payment_value.min(gas::MAX_TX_GAS as u128) as u64
    };
    let owner = match payment_json
        .and_then(|g| field(g, "owner"))
        .and_then(Value::as_str)
    {
        Some(o) => o.parse().map_err(|e| format!("invalid owner: {e}"))?,
        None => sender,
    };
    let price = payment_json
        .map(|g| u64_field(g, "price"))
        .transpose()?
        .flatten()
        .unwrap_or(engine.reference_gas_price);
    let requested_budget = payment_json
        .map(|g| u64_field(g, "budget"))
        .transpose()?
        .flatten();
    let expiration = match tx.get("expiration") {
        None | Some(Value::Null) => TransactionExpiration::None,
        Some(e) => match field(e, "kind").and_then(Value::as_str) {
            None | Some("NONE") => TransactionExpiration::None,
            Some("EPOCH") => TransactionExpiration::Epoch(u64_field(e, "epoch")?.unwrap_or(0)),
            Some(k) => {
                return Err(format!(
                    "expiration {k} is not modelled by daas-sandbox for resolution"
                ));
            }
        },
    };
    let mut data = TransactionData::new(
        ProgrammableTransaction { inputs, commands },
        sender,
        GasData {
            payment,
            owner,
            price,
            budget: requested_budget.unwrap_or(max_budget),
        },
    );
    let TransactionData::V1(v1) = &mut data;
    v1.expiration = expiration;

    if do_gas_selection {
        if requested_budget.is_none() {
            // simulate to estimate the budget (estimate_gas_budget_from_gas_cost)
            let (r, _) = engine
                .execute(&data.to_bcs(), &[], now, Mode::DryRun)
                .map_err(|e| e.message())?;
            let overhead = GAS_SAFE_OVERHEAD * engine.reference_gas_price;
            let with_overhead = r.gas.computation_cost + overhead;
            let net = r.gas.net_gas_usage() + overhead as i128;
            let estimate = with_overhead.max(net.max(0) as u64);
            let TransactionData::V1(v1) = &mut data;
            if !v1.gas_data.payment.is_empty() && (max_budget) < estimate {
                return Err(format!(
                    "Insufficient gas balance to cover estimated transaction cost. Available gas balance: {max_budget} MIST. Estimated gas budget required: {estimate} MIST"
                ));
            }
            v1.gas_data.budget = estimate;
        }
        let TransactionData::V1(v1) = &mut data;
        if v1.gas_data.payment.is_empty() {
            let used: Vec<ObjectId> = data_inputs(&v1.kind);
            let view = engine.store.view(cp);
            let coins: Vec<(ObjectRef, u64)> = view
                .coins_of(&v1.gas_data.owner)
                .into_iter()
                .filter(|o| !used.contains(&o.id))
                .take(MAX_GAS_PAYMENT_OBJECTS)
                .map(|o| match &o.contents {
                    Contents::Coin(c) => (o.object_ref(), c.balance.value),
                    _ => unreachable!("coins_of returns coins"),
                })
                .collect();
            let total: u128 = coins.iter().map(|(_, v)| *v as u128).sum();
            if total < v1.gas_data.budget as u128 {
                return Err(format!(
                    "Unable to select gas coins with balance enough to cover the budget of {} MIST: the owner's {} coins hold {total} MIST",
                    v1.gas_data.budget,
                    coins.len()
                ));
            }
            v1.gas_data.payment = coins
                .into_iter()
                .map(|(r, _)| ObjectRef {
                    digest: ObjectDigest(r.digest.0),
                    ..r
                })
                .collect();
        }
    }
    Ok(data.to_bcs())
}

fn data_inputs(kind: &daas_protocol::tx::TransactionKind) -> Vec<ObjectId> {
    let daas_protocol::tx::TransactionKind::ProgrammableTransaction(pt) = kind;
    pt.inputs
        .iter()
        .filter_map(|i| match i {
            CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => Some(r.id),
            _ => None,
        })
        .collect()
}
