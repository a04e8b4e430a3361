//! The JSON-RPC API (`openrpc.json`) over the engine's state: the methods this project
//! and Sui's TypeScript SDK use, with Sui's error codes and texts.
//!
//! Reads are served as of [`Node::read_checkpoint`] (a lagging node serves older
//! state); execution is always current. Error texts follow today's service
//! (MystenLabs/sui `crates/sui-indexer-alt-jsonrpc`: `error.rs` "Invalid Params: …",
//! `api/write/mod.rs`, `api/checkpoints.rs`, `api/transactions/error.rs`) and the full
//! node's event queries (`suix_queryEvents`, which that service does not serve).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::ledger::{self, ExecutionFailureStatus, ExecutionStatus};
use daas_protocol::onchain::{self, Param};
use daas_protocol::sui::TransactionDigest;
use daas_protocol::tx::{Argument, CallArg, Command, ObjectArg, ObjectRef, TransactionData};
use daas_protocol::{Address, ObjectId};
use serde_json::{Value, json};

use crate::exec::{Mode, Reject};
use crate::server::Node;
use crate::store::{Contents, Obj, Owner, StoredEvent, TxRecord, View};

/// JSON-RPC error: (code, message).
pub type RpcError = (i64, String);

const PAGE_MAX: usize = 50;

/// `-32602 Invalid Params: …`, as today's service words user errors.
fn invalid(m: impl std::fmt::Display) -> RpcError {
    (-32602, format!("Invalid Params: {m}"))
}

fn b58(b: &[u8; 32]) -> String {
    bs58::encode(b).into_string()
}

/// `ObjectOwner` JSON (u64 as decimal strings, as nodes send).
pub fn owner_json(o: &Owner) -> Value {
    match o {
        Owner::Address(a) => json!({"AddressOwner": a.to_string()}),
        Owner::Object(id) => json!({"ObjectOwner": id.to_string()}),
        Owner::Shared(v) => json!({"Shared": {"initial_shared_version": v.to_string()}}),
        Owner::Immutable => json!("Immutable"),
    }
}

fn ref_json(r: &ObjectRef) -> Value {
    json!({"objectId": r.id.to_string(), "version": r.version.to_string(), "digest": r.digest.to_string()})
}

fn object_data(o: &Obj, options: &Value, package: &ObjectId) -> Value {
    let flag = |k: &str| options.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut d = json!({"objectId": o.id.to_string(), "version": o.version.to_string(), "digest": b58(&o.digest)});
    let type_ = o.contents.type_(package);
    if flag("showType") {
        d["type"] = json!(type_);
    }
    if flag("showOwner") {
        d["owner"] = owner_json(&o.owner);
    }
    if flag("showPreviousTransaction") {
        d["previousTransaction"] = json!(o.previous_tx.to_string());
    }
    if flag("showStorageRebate") {
        d["storageRebate"] = json!(o.storage_rebate.to_string());
    }
    let value = o.contents.value(package);
    if flag("showContent") {
        d["content"] = json!({
            "dataType": "moveObject",
            "type": type_,
            "hasPublicTransfer": o.contents.has_public_transfer(),
            "fields": value.jsonrpc_fields(),
        });
    }
    if flag("showBcs") {
        d["bcs"] = json!({
            "dataType": "moveObject",
            "type": type_,
            "hasPublicTransfer": o.contents.has_public_transfer(),
            "version": o.version.to_string(),
            "bcsBytes": BASE64.encode(value.to_bcs()),
        });
    }
    if flag("showDisplay") {
        // no Display objects exist on this chain
        d["display"] = json!({"data": null, "error": null});
    }
    d
}

fn object_response(view: &View<'_>, package: &ObjectId, id: &ObjectId, options: &Value) -> Value {
    match view.object(id) {
        Some(o) => json!({"data": object_data(o, options, package)}),
        None => match view.deleted(id) {
            Some(r) => {
                json!({"error": {"code": "deleted", "object_id": id.to_string(), "version": r.version.to_string(), "digest": r.digest.to_string()}})
            }
            None => json!({"error": {"code": "notExists", "object_id": id.to_string()}}),
        },
    }
}

/// Event JSON (`SuiEvent`).
pub fn event_json(e: &StoredEvent, package: &ObjectId) -> Value {
    let value = crate::store::event_value(&e.event, package);
    json!({
        "id": {"txDigest": e.tx_digest.to_string(), "eventSeq": e.event_seq.to_string()},
        "packageId": package.to_string(),
        "transactionModule": e.module,
        "sender": e.sender.to_string(),
        "type": onchain::struct_type(package, e.event.name()),
        "parsedJson": value.to_jsonrpc(false),
        "bcsEncoding": "base64",
        "bcs": BASE64.encode(value.to_bcs()),
        "timestampMs": e.timestamp_ms.to_string(),
    })
}

fn gas_json(g: &ledger::GasCostSummary) -> Value {
    json!({
        "computationCost": g.computation_cost.to_string(),
        "storageCost": g.storage_cost.to_string(),
        "storageRebate": g.storage_rebate.to_string(),
        "nonRefundableStorageFee": g.non_refundable_storage_fee.to_string(),
    })
}

/// `TransactionBlockEffects` JSON, derived from the record as Sui derives it from
/// `TransactionEffectsV2`.
pub fn effects_json(r: &TxRecord, package: &ObjectId) -> Value {
    let status = match r.status.jsonrpc_error() {
        None => json!({"status": "success"}),
        Some(e) => json!({"status": "failure", "error": e}),
    };
    let at_lamport = |id: &ObjectId, digest: &[u8; 32]| ObjectRef {
        id: *id,
        version: r.lamport_version,
        digest: ledger::Digest(*digest),
    };
    let written = |created: bool| -> Vec<Value> {
        r.changed
            .iter()
            .filter(|c| c.is_created() == created)
            .filter_map(|c| c.output.map(|(d, o)| (c.id, d, o)))
            .map(|(id, d, o)| json!({"owner": owner_json(&o), "reference": ref_json(&at_lamport(&id, &d))}))
            .collect()
    };
    let deleted: Vec<Value> = r
        .changed
        .iter()
        .filter(|c| c.is_deleted() && !c.is_created())
        .map(|c| ref_json(&at_lamport(&c.id, &ledger::OBJECT_DIGEST_DELETED.0)))
        .collect();
    let (gas_ref, gas_owner) = r.gas_object_ref();
    let mut e = json!({
        "messageVersion": "v1",
        "status": status,
        "executedEpoch": "0",
        "gasUsed": gas_json(&r.gas),
        "modifiedAtVersions": r.changed.iter().filter_map(|c| c.input.map(|(v, _, _)| json!({"objectId": c.id.to_string(), "sequenceNumber": v.to_string()}))).collect::<Vec<_>>(),
        "sharedObjects": r.shared_inputs().iter().map(ref_json).collect::<Vec<_>>(),
        "transactionDigest": r.digest.to_string(),
        "gasObject": {"owner": owner_json(&gas_owner), "reference": ref_json(&gas_ref)},
        "dependencies": r.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    for (k, v) in [("created", written(true)), ("mutated", written(false))] {
        if !v.is_empty() {
            e[k] = json!(v);
        }
    }
    if !deleted.is_empty() {
        e["deleted"] = json!(deleted);
    }
    if let Some(d) = &r.effects.events_digest {
        e["eventsDigest"] = json!(d.to_string());
    }
    if let ExecutionStatus::Failure {
        error: ExecutionFailureStatus::MoveAbort(loc, code),
        ..
    } = &r.status
    {
        e["abortError"] = json!({
            "module_id": format!("{}::{}", loc.module.address, loc.module.name),
            "function": loc.function_name,
            "line": null,
            "error_code": code,
        });
    }
    let _ = package;
    e
}

fn object_changes(r: &TxRecord) -> Vec<Value> {
    r.changed
        .iter()
        .filter(|c| !(c.is_created() && c.is_deleted()))
        .map(|c| match (c.input, c.output) {
            (Some(_), None) => json!({"type": "deleted", "sender": r.sender.to_string(), "objectType": c.type_, "objectId": c.id.to_string(), "version": r.lamport_version.to_string()}),
            (None, Some((d, o))) => json!({
                "type": "created",
                "sender": r.sender.to_string(),
                "owner": owner_json(&o),
                "objectType": c.type_,
                "objectId": c.id.to_string(),
                "version": r.lamport_version.to_string(),
                "digest": b58(&d),
            }),
            (Some((v, _, _)), Some((d, o))) => json!({
                "type": "mutated",
                "sender": r.sender.to_string(),
                "owner": owner_json(&o),
                "objectType": c.type_,
                "objectId": c.id.to_string(),
                "version": r.lamport_version.to_string(),
                "previousVersion": v.to_string(),
                "digest": b58(&d),
            }),
            (None, None) => unreachable!("filtered"),
        })
        .collect()
}

fn balance_changes(r: &TxRecord) -> Vec<Value> {
    r.balance_changes
        .iter()
        .map(|(owner, amount)| {
            json!({"owner": {"AddressOwner": owner.to_string()}, "coinType": "0x2::sui::SUI", "amount": amount.to_string()})
        })
        .collect()
}

fn tx_response(
    r: &TxRecord,
    events: &[Value],
    options: &Value,
    package: &ObjectId,
    visible: bool,
) -> Value {
    let flag = |k: &str| options.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut out = json!({"digest": r.digest.to_string()});
    if flag("showInput") {
        out["transaction"] = transaction_json(r);
    }
    if flag("showRawInput") {
        let sigs: Vec<Vec<u8>> = r
            .signatures
            .iter()
            .map(|s| BASE64.decode(s).expect("stored signatures are Base64"))
            .collect();
        out["rawTransaction"] =
            json!(BASE64.encode(ledger::sender_signed_data(&r.tx_bytes, &sigs)));
    }
    if flag("showEffects") {
        out["effects"] = effects_json(r, package);
    }
    if flag("showRawEffects") {
        out["rawEffects"] = json!(r.effects.to_bcs());
    }
    if flag("showEvents") {
        out["events"] = json!(events);
    }
    if flag("showObjectChanges") {
        out["objectChanges"] = json!(object_changes(r));
    }
    if flag("showBalanceChanges") {
        out["balanceChanges"] = json!(balance_changes(r));
    }
    if visible {
        out["timestampMs"] = json!(r.timestamp_ms.to_string());
        out["checkpoint"] = json!(r.checkpoint.to_string());
    }
    out
}

fn argument_json(a: &Argument) -> Value {
    match a {
        Argument::GasCoin => json!("GasCoin"),
        Argument::Input(i) => json!({"Input": i}),
        Argument::Result(i) => json!({"Result": i}),
        Argument::NestedResult(i, j) => json!({"NestedResult": [i, j]}),
    }
}

/// The type a pure input is used at, when a registry call says so.
fn pure_type(tx: &daas_protocol::tx::ProgrammableTransaction, input: usize) -> Option<Param> {
    let mut found = None;
    for c in &tx.commands {
        match c {
            Command::MoveCall(call) => {
                if let Some(f) = onchain::entry_function(&call.function) {
                    for (p, a) in f.params.iter().zip(&call.arguments) {
                        if *a == Argument::Input(input as u16) {
                            found = Some(*p);
                        }
                    }
                }
            }
            Command::SplitCoins(_, amounts) if amounts.contains(&Argument::Input(input as u16)) => {
                found = Some(Param::U64)
            }
            Command::TransferObjects(_, to) if *to == Argument::Input(input as u16) => {
                found = Some(Param::Address)
            }
            _ => {}
        }
    }
    found
}

fn pure_json(bytes: &[u8], t: Option<Param>) -> Value {
    let value = match t {
        Some(Param::U64) => bcs::from_bytes::<u64>(bytes)
            .ok()
            .map(|v| json!(v.to_string())),
        Some(Param::String) => bcs::from_bytes::<String>(bytes).ok().map(|v| json!(v)),
        Some(Param::Bytes) => bcs::from_bytes::<Vec<u8>>(bytes).ok().map(|v| json!(v)),
        Some(Param::Address | Param::Id) => bcs::from_bytes::<Address>(bytes)
            .ok()
            .map(|v| json!(v.to_string())),
        _ => None,
    };
    match (value, t) {
        (Some(v), Some(t)) => json!({"type": "pure", "valueType": match t {
            Param::U64 => "u64",
            Param::String => "0x1::string::String",
            Param::Bytes => "vector<u8>",
            Param::Address => "address",
            _ => "0x2::object::ID",
        }, "value": v}),
        _ => json!({"type": "pure", "valueType": null, "value": bytes}),
    }
}

fn transaction_json(r: &TxRecord) -> Value {
    let data = TransactionData::from_bcs(&r.tx_bytes).expect("stored transactions decode");
    let v1 = data.v1();
    let pt = data.programmable();
    let inputs: Vec<Value> = pt
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| match input {
            CallArg::Pure(b) => pure_json(b, pure_type(pt, i)),
            CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => json!({"type": "object", "objectType": "immOrOwnedObject", "objectId": r.id.to_string(), "version": r.version.to_string(), "digest": r.digest.to_string()}),
            CallArg::Object(ObjectArg::SharedObject { id, initial_shared_version, mutable }) => json!({"type": "object", "objectType": "sharedObject", "objectId": id.to_string(), "initialSharedVersion": initial_shared_version.to_string(), "mutable": mutable}),
            CallArg::Object(ObjectArg::Receiving(r)) => json!({"type": "object", "objectType": "receiving", "objectId": r.id.to_string(), "version": r.version.to_string(), "digest": r.digest.to_string()}),
        })
        .collect();
    let commands: Vec<Value> = pt
        .commands
        .iter()
        .map(|c| match c {
            Command::MoveCall(call) => json!({"MoveCall": {
                "package": call.package.to_string(),
                "module": call.module,
                "function": call.function,
                "arguments": call.arguments.iter().map(argument_json).collect::<Vec<_>>(),
            }}),
            Command::SplitCoins(coin, amounts) => json!({"SplitCoins": [argument_json(coin), amounts.iter().map(argument_json).collect::<Vec<_>>()]}),
            Command::MergeCoins(coin, sources) => json!({"MergeCoins": [argument_json(coin), sources.iter().map(argument_json).collect::<Vec<_>>()]}),
            Command::TransferObjects(objects, to) => json!({"TransferObjects": [objects.iter().map(argument_json).collect::<Vec<_>>(), argument_json(to)]}),
            Command::MakeMoveVec(..) | Command::Publish(..) | Command::Upgrade(..) => {
                unreachable!("refused before execution")
            }
        })
        .collect();
    json!({
        "data": {
            "messageVersion": "v1",
            "transaction": {"kind": "ProgrammableTransaction", "inputs": inputs, "transactions": commands},
            "sender": v1.sender.to_string(),
            "gasData": {
                "payment": v1.gas_data.payment.iter().map(ref_json).collect::<Vec<_>>(),
                "owner": v1.gas_data.owner.to_string(),
                "price": v1.gas_data.price.to_string(),
                "budget": v1.gas_data.budget.to_string(),
            }
        },
        "txSignatures": r.signatures,
    })
}

/// `Checkpoint` JSON.
fn checkpoint_json(c: &crate::store::Checkpoint) -> Value {
    let s = &c.summary;
    let mut out = json!({
        "epoch": s.epoch.to_string(),
        "sequenceNumber": s.sequence_number.to_string(),
        "digest": c.digest.to_string(),
        "networkTotalTransactions": s.network_total_transactions.to_string(),
        "epochRollingGasCostSummary": gas_json(&s.epoch_rolling_gas_cost_summary),
        "timestampMs": s.timestamp_ms.to_string(),
        "transactions": c.transactions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "checkpointCommitments": [],
        // one sequential executor, no validator committee: 48 zero bytes where a
        // BLS aggregate signature would be
        "validatorSignature": BASE64.encode([0u8; 48]),
    });
    if let Some(p) = &s.previous_digest {
        out["previousDigest"] = json!(p.to_string());
    }
    out
}

fn param(params: &[Value], i: usize) -> Option<&Value> {
    params.get(i).filter(|v| !v.is_null())
}

fn parse_id(v: Option<&Value>, name: &str) -> Result<ObjectId, RpcError> {
    v.and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{name} is required")))?
        .parse()
        .map_err(|e| invalid(format!("{name}: {e}")))
}

fn limit(v: Option<&Value>) -> Result<usize, RpcError> {
    match v {
        None => Ok(PAGE_MAX),
        Some(v) => v
            .as_u64()
            .map(|n| (n as usize).clamp(1, PAGE_MAX))
            .ok_or_else(|| invalid("limit must be a number")),
    }
}

/// A page of objects ordered by id, after the object id `cursor` (exclusive), as
/// `{data, nextCursor, hasNextPage}`.
fn id_page(
    objs: Vec<&Obj>,
    cursor: Option<&Value>,
    limit_param: Option<&Value>,
    render: impl Fn(&Obj) -> Value,
) -> Result<Value, RpcError> {
    let after = match cursor {
        Some(c) => Some(parse_id(Some(c), "cursor")?),
        None => None,
    };
    let limit = limit(limit_param)?;
    let rest: Vec<&Obj> = objs
        .into_iter()
        .filter(|o| after.is_none_or(|a| o.id > a))
        .collect();
    let more = rest.len() > limit;
    let page: Vec<&Obj> = rest.into_iter().take(limit).collect();
    let next = match page.last() {
        Some(o) if more => json!(o.id.to_string()),
        _ => Value::Null,
    };
    Ok(
        json!({"data": page.iter().map(|o| render(o)).collect::<Vec<_>>(), "nextCursor": next, "hasNextPage": more}),
    )
}

/// The event filters a full node serves (`Any`, `And`, `Or`, `Package`,
/// `MoveEventField` are refused, as Sui's full node refuses them).
fn event_matches(e: &StoredEvent, filter: &Value, package: &ObjectId) -> Result<bool, RpcError> {
    let obj = filter
        .as_object()
        .ok_or_else(|| invalid("EventFilter must be an object"))?;
    let (kind, arg) = obj
        .iter()
        .next()
        .ok_or_else(|| invalid("empty EventFilter"))?;
    let pkg_mod = |a: &Value| -> Result<bool, RpcError> {
        let p: ObjectId = parse_id(a.get("package"), "package")?;
        Ok(p == *package && a.get("module").and_then(Value::as_str) == Some(onchain::MODULE))
    };
    Ok(match kind.as_str() {
        "All" => true,
        "MoveEventType" => {
            let t = arg
                .as_str()
                .ok_or_else(|| invalid("MoveEventType must be a string"))?;
            onchain::struct_name_in(t, package) == Some(e.event.name())
        }
        "MoveModule" | "MoveEventModule" => pkg_mod(arg)? && e.module == onchain::MODULE,
        "Sender" => parse_id(Some(arg), "Sender")? == ObjectId::from(e.sender),
        "Transaction" => arg.as_str() == Some(&e.tx_digest.to_string()),
        "TimeRange" => {
            let t = |k| arg.get(k).and_then(crate::server::json_u64);
            let (start, end) = (
                t("startTime").unwrap_or(0),
                t("endTime").unwrap_or(u64::MAX),
            );
            e.timestamp_ms >= start && e.timestamp_ms < end
        }
        "Any" | "And" | "Or" | "Package" | "MoveEventField" => {
            return Err(invalid(
                "This query type is not supported by the full node.",
            ));
        }
        other => return Err(invalid(format!("unknown EventFilter {other}"))),
    })
}

/// Dispatches one JSON-RPC call.
pub fn dispatch(node: &Node, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    let engine_guard = node.engine.lock().expect("poisoned");
    let engine = &*engine_guard;
    let package = engine.package;
    let view = engine.store.view(node.read_checkpoint(engine));
    match method {
        "sui_getChainIdentifier" => Ok(json!(node.chain_id.jsonrpc_identifier())),
        "suix_getReferenceGasPrice" => Ok(json!(engine.reference_gas_price.to_string())),
        "sui_getLatestCheckpointSequenceNumber" => Ok(json!(view.checkpoint.to_string())),
        "sui_getCheckpoint" => {
            let id = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("checkpoint id is required"))?;
            let found = match id.parse::<u64>() {
                Ok(seq) => view.checkpoint_at(seq),
                Err(_) => {
                    let digest: ledger::Digest = id.parse().map_err(invalid)?;
                    engine
                        .store
                        .checkpoints
                        .iter()
                        .find(|c| c.digest == digest)
                        .filter(|c| c.summary.sequence_number <= view.checkpoint)
                }
            };
            found
                .map(checkpoint_json)
                .ok_or_else(|| invalid(format!("Checkpoint {id} not found")))
        }
        "sui_getObject" => {
            let id = parse_id(params.first(), "object_id")?;
            let options = param(params, 1).cloned().unwrap_or(json!({}));
            Ok(object_response(&view, &package, &id, &options))
        }
        "sui_multiGetObjects" => {
            let ids = params
                .first()
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("object_ids must be a list"))?;
            if ids.len() > PAGE_MAX {
                return Err(invalid(format!(
                    "{} objects requested, at most {PAGE_MAX}",
                    ids.len()
                )));
            }
            let options = param(params, 1).cloned().unwrap_or(json!({}));
            ids.iter()
                .map(|v| {
                    parse_id(Some(v), "object_id")
                        .map(|id| object_response(&view, &package, &id, &options))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::from)
        }
        "suix_getCoins" => {
            let owner: Address = parse_id(params.first(), "owner")?.into();
            if let Some(t) = param(params, 1).and_then(Value::as_str)
                && !is_sui(t)
            {
                return Ok(json!({"data": [], "nextCursor": null, "hasNextPage": false}));
            }
            id_page(
                view.coins_of(&owner),
                param(params, 2),
                param(params, 3),
                |o| {
                    let Contents::Coin(c) = &o.contents else {
                        unreachable!("coins_of returns coins")
                    };
                    json!({
                        "coinType": "0x2::sui::SUI",
                        "coinObjectId": o.id.to_string(),
                        "version": o.version.to_string(),
                        "digest": b58(&o.digest),
                        "balance": c.balance.value.to_string(),
                        "previousTransaction": o.previous_tx.to_string(),
                    })
                },
            )
        }
        "suix_getBalance" => {
            let owner: Address = parse_id(params.first(), "owner")?.into();
            let coin_type = param(params, 1)
                .and_then(Value::as_str)
                .unwrap_or("0x2::sui::SUI");
            let coins: Vec<u64> = if is_sui(coin_type) {
                view.coins_of(&owner)
                    .into_iter()
                    .map(|o| match &o.contents {
                        Contents::Coin(c) => c.balance.value,
                        _ => 0,
                    })
                    .collect()
            } else {
                vec![]
            };
            Ok(json!({
                "coinType": coin_type,
                "coinObjectCount": coins.len(),
                "totalBalance": coins.iter().map(|v| *v as u128).sum::<u128>().to_string(),
                "lockedBalance": {},
                "fundsInAddressBalance": "0",
            }))
        }
        "suix_getDynamicFields" => {
            let parent = parse_id(params.first(), "parent_object_id")?;
            id_page(
                view.fields_of(&parent),
                param(params, 1),
                param(params, 2),
                |o| {
                    let Contents::Field(f) = &o.contents else {
                        unreachable!("only table entries are dynamic fields")
                    };
                    json!({
                        "name": {"type": "0x1::string::String", "value": f.name},
                        "bcsName": BASE64.encode(bcs::to_bytes(&f.name).expect("string")),
                        "bcsEncoding": "base64",
                        "type": "DynamicField",
                        "objectType": "0x2::object::ID",
                        "objectId": o.id.to_string(),
                        "version": o.version.to_string(),
                        "digest": b58(&o.digest),
                    })
                },
            )
        }
        "suix_getDynamicFieldObject" => {
            let parent = parse_id(params.first(), "parent_object_id")?;
            let name = params.get(1).ok_or_else(|| invalid("name is required"))?;
            let key = match (
                name.get("type").and_then(Value::as_str),
                name.get("value").and_then(Value::as_str),
            ) {
                (Some(t), Some(v)) if is_string_type(t) => v,
                _ => {
                    return Err(invalid(
                        "only 0x1::string::String dynamic field names are modelled by daas-sandbox",
                    ));
                }
            };
            let id = onchain::table_entry_id(&parent, key);
            match view.object(&id) {
                Some(o) if o.owner == Owner::Object(parent) => {
                    let options = json!({"showType": true, "showOwner": true, "showContent": true, "showBcs": true, "showPreviousTransaction": true});
                    Ok(json!({"data": object_data(o, &options, &package)}))
                }
                _ => Ok(
                    json!({"error": {"code": "dynamicFieldNotFound", "parent_object_id": parent.to_string()}}),
                ),
            }
        }
        "suix_queryEvents" => query_events(&view, &package, params),
        "suix_getLatestSuiSystemState" => Ok(system_state(&view, engine.reference_gas_price)),
        "sui_getProtocolConfig" => Ok(crate::protocol::jsonrpc()),
        "sui_getNormalizedMoveFunction" => {
            let pkg = parse_id(params.first(), "package")?;
            let module = params.get(1).and_then(Value::as_str).unwrap_or("");
            let function = params.get(2).and_then(Value::as_str).unwrap_or("");
            if pkg != package {
                return Err(invalid(format!(
                    "Package object does not exist with ID {pkg}"
                )));
            }
            if module != onchain::MODULE {
                return Err(invalid(format!(
                    "No module found with module name {module}"
                )));
            }
            let f = onchain::entry_function(function).ok_or_else(|| {
                invalid(format!(
                    "No function was found with function name {function}"
                ))
            })?;
            Ok(crate::abi::normalized_function(&package, f))
        }
        "sui_dryRunTransactionBlock" => {
            let b = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("tx_bytes is required"))?;
            let bytes = BASE64
                .decode(b)
                .map_err(|e| invalid(format!("Invalid transaction bytes: {e}")))?;
            let now = node.clock.now();
            drop(engine_guard);
            let mut engine = node.engine.lock().expect("poisoned");
            let (r, events) = engine
                .execute(&bytes, &[], now, Mode::DryRun)
                .map_err(reject)?;
            let events: Vec<Value> = events
                .into_iter()
                .enumerate()
                .map(|(i, event)| {
                    event_json(
                        &StoredEvent {
                            tx_digest: r.digest,
                            event_seq: i as u64,
                            global_seq: 0,
                            checkpoint: 0,
                            timestamp_ms: now,
                            sender: r.sender,
                            module: onchain::MODULE.into(),
                            event,
                        },
                        &package,
                    )
                })
                .collect();
            Ok(json!({
                "effects": effects_json(&r, &package),
                "events": events,
                "objectChanges": object_changes(&r),
                "balanceChanges": balance_changes(&r),
                "input": transaction_json(&r)["data"],
            }))
        }
        "sui_executeTransactionBlock" => {
            let b = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("tx_bytes is required"))?;
            let bytes = BASE64
                .decode(b)
                .map_err(|e| invalid(format!("Invalid transaction bytes: {e}")))?;
            let sigs: Vec<String> = params
                .get(1)
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("signatures is required"))?
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let s = s.as_str().ok_or_else(|| {
                        invalid(format!("Invalid signature: signature {i} is not a string"))
                    })?;
                    BASE64.decode(s).map_err(|e| {
                        invalid(format!(
                            "Invalid signature: Invalid base64 in signature {i}: {e}"
                        ))
                    })?;
                    Ok(s.to_string())
                })
                .collect::<Result<_, RpcError>>()?;
            let options = param(params, 2).cloned().unwrap_or(json!({}));
            match param(params, 3).and_then(Value::as_str) {
                None | Some("WaitForEffectsCert") => {}
                Some("WaitForLocalExecution") => {
                    return Err(invalid("WaitForLocalExecution mode is deprecated"));
                }
                Some(other) => {
                    return Err(invalid(format!(
                        "unknown variant `{other}`, expected `WaitForEffectsCert` or `WaitForLocalExecution`"
                    )));
                }
            }
            drop(engine_guard);
            let mut engine = node.engine.lock().expect("poisoned");
            let (r, _) = node
                .execute_locked(&mut engine, &bytes, &sigs)
                .map_err(reject)?;
            let events: Vec<Value> = engine.store.events[r.events.clone()]
                .iter()
                .map(|e| event_json(e, &package))
                .collect();
            let visible = r.checkpoint <= node.read_checkpoint(&engine);
            Ok(tx_response(&r, &events, &options, &package, visible))
        }
        "sui_getTransactionBlock" => {
            let d: TransactionDigest = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("digest is required"))?
                .parse()
                .map_err(invalid)?;
            let options = param(params, 1).cloned().unwrap_or(json!({}));
            // a node that has not caught up does not know the transaction yet
            let r = view
                .tx(&d)
                .ok_or_else(|| invalid(format!("Transaction {d} not found")))?;
            let events: Vec<Value> = engine.store.events[r.events.clone()]
                .iter()
                .map(|e| event_json(e, &package))
                .collect();
            Ok(tx_response(r, &events, &options, &package, true))
        }
        other => Err((
            -32601,
            format!(
                "Method not found: {other} (daas-sandbox serves only the methods listed in its README)"
            ),
        )),
    }
}

fn is_sui(t: &str) -> bool {
    t == "0x2::sui::SUI"
        || t == "0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI"
}

fn is_string_type(t: &str) -> bool {
    t == "0x1::string::String"
        || t == "0x0000000000000000000000000000000000000000000000000000000000000001::string::String"
}

fn query_events(view: &View<'_>, package: &ObjectId, params: &[Value]) -> Result<Value, RpcError> {
    let filter = params.first().ok_or_else(|| invalid("query is required"))?;
    let cursor_param = param(params, 1);
    let cursor = match cursor_param {
        Some(c) => {
            let d: TransactionDigest = c
                .get("txDigest")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("cursor.txDigest is required"))?
                .parse()
                .map_err(invalid)?;
            let seq = c
                .get("eventSeq")
                .and_then(crate::server::json_u64)
                .ok_or_else(|| invalid("cursor.eventSeq is required"))?;
            Some((d, seq))
        }
        None => None,
    };
    let limit = limit(param(params, 2))?;
    let descending = param(params, 3).and_then(Value::as_bool).unwrap_or(false);
    // the filter is checked even when no event is left to match it
    if let Some(e) = view.store.events.first() {
        event_matches(e, filter, package)?;
    }
    let events = view.events();
    let start = match cursor {
        None => None,
        Some((d, seq)) => Some(
            events
                .iter()
                .position(|e| e.tx_digest == d && e.event_seq == seq)
                .ok_or_else(|| invalid("cursor does not name an event of this chain"))?,
        ),
    };
    let idx: Box<dyn Iterator<Item = usize>> = match (descending, start) {
        (false, None) => Box::new(0..events.len()),
        (false, Some(s)) => Box::new(s + 1..events.len()),
        (true, None) => Box::new((0..events.len()).rev()),
        (true, Some(s)) => Box::new((0..s).rev()),
    };
    let mut page = Vec::new();
    let mut more = false;
    for i in idx {
        if event_matches(&events[i], filter, package)? {
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(&events[i]);
        }
    }
    // an empty page hands the caller's cursor back (the full node's
    // `data.last().map(|e| e.id).or(cursor)`)
    let next = page
        .last()
        .map(|e| json!({"txDigest": e.tx_digest.to_string(), "eventSeq": e.event_seq.to_string()}))
        .or_else(|| cursor_param.cloned())
        .unwrap_or(Value::Null);
    Ok(json!({
        "data": page.iter().map(|e| event_json(e, package)).collect::<Vec<_>>(),
        "nextCursor": next,
        "hasNextPage": more,
    }))
}

/// `SuiSystemStateSummary`: one epoch, no validators (the sandbox has no committee),
/// Sui's reference gas price and protocol version.
fn system_state(view: &View<'_>, rgp: u64) -> Value {
    let start = view.checkpoint_at(0).map_or(0, |c| c.summary.timestamp_ms);
    let zero = ObjectId::from_u64(0).to_string();
    json!({
        "epoch": "0",
        "protocolVersion": crate::protocol::PROTOCOL_VERSION.to_string(),
        "systemStateVersion": "2",
        "storageFundTotalObjectStorageRebates": "0",
        "storageFundNonRefundableBalance": "0",
        "referenceGasPrice": rgp.to_string(),
        "safeMode": false,
        "safeModeStorageRewards": "0",
        "safeModeComputationRewards": "0",
        "safeModeStorageRebates": "0",
        "safeModeNonRefundableStorageFee": "0",
        "epochStartTimestampMs": start.to_string(),
        "epochDurationMs": "86400000",
        "stakeSubsidyStartEpoch": "0",
        "maxValidatorCount": "0",
        "minValidatorJoiningStake": "0",
        "validatorLowStakeThreshold": "0",
        "validatorVeryLowStakeThreshold": "0",
        "validatorLowStakeGracePeriod": "0",
        "stakeSubsidyBalance": "0",
        "stakeSubsidyDistributionCounter": "0",
        "stakeSubsidyCurrentDistributionAmount": "0",
        "stakeSubsidyPeriodLength": "0",
        "stakeSubsidyDecreaseRate": 0,
        "totalStake": "0",
        "activeValidators": [],
        "pendingActiveValidatorsId": zero,
        "pendingActiveValidatorsSize": "0",
        "pendingRemovals": [],
        "stakingPoolMappingsId": zero,
        "stakingPoolMappingsSize": "0",
        "inactivePoolsId": zero,
        "inactivePoolsSize": "0",
        "validatorCandidatesId": zero,
        "validatorCandidatesSize": "0",
        "atRiskValidators": [],
        "validatorReportRecords": [],
    })
}

/// A rejection as today's JSON-RPC service answers it (`-32602`; execution-service
/// errors wrapped in `Transaction execution failed: …`).
pub fn reject(r: Reject) -> RpcError {
    match &r {
        Reject::InvalidTransaction(_) | Reject::NotModelled(_) => invalid(r.message()),
        Reject::UserInput(_) | Reject::Signature(_) => {
            invalid(format!("Transaction execution failed: {}", r.message()))
        }
    }
}
