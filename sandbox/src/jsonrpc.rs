//! The JSON-RPC API (`openrpc.json`) over the engine's state: the read methods the
//! project uses, dry run, execute, and Sui's error codes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::onchain;
use daas_protocol::sui::TransactionDigest;
use daas_protocol::tx::{ObjectRef, TransactionData};
use daas_protocol::{Address, ObjectId};
use serde_json::{Value, json};

use crate::exec::{Engine, Reject};
use crate::server::Node;
use crate::store::{Change, Contents, Obj, Owner, Status, StoredEvent, TxRecord};

/// JSON-RPC error: (code, message).
pub type RpcError = (i64, String);

const PAGE_MAX: usize = 50;

fn invalid(m: impl Into<String>) -> RpcError {
    (-32602, m.into())
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
        d["storageRebate"] = json!(
            (o.storage_bytes(package) * crate::exec::STORAGE_PRICE_PER_BYTE * 99 / 100).to_string()
        );
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
        d["display"] = json!({"data": null, "error": null});
    }
    d
}

fn object_response(engine: &Engine, id: &ObjectId, options: &Value) -> Value {
    match engine.store.objects.get(id) {
        Some(o) => json!({"data": object_data(o, options, &engine.package)}),
        None => match engine.store.deleted.get(id) {
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

/// The Debug-style failure text of Sui for a status.
pub fn failure_text(status: &Status, package: &ObjectId) -> Option<String> {
    match status {
        Status::Success => None,
        Status::MoveAbort {
            code,
            function,
            function_index,
            command,
        } => Some(format!(
            "MoveAbort(MoveLocation {{ module: ModuleId {{ address: {}, name: Identifier(\"{}\") }}, function: {function_index}, instruction: 0, function_name: Some(\"{function}\") }}, {code}) in command {command}",
            hex::encode(package.as_bytes()),
            onchain::MODULE
        )),
        Status::Failure(m) => Some(m.clone()),
    }
}

/// `TransactionBlockEffects` JSON.
pub fn effects_json(r: &TxRecord, package: &ObjectId) -> Value {
    let status = match failure_text(&r.status, package) {
        None => json!({"status": "success"}),
        Some(e) => json!({"status": "failure", "error": e}),
    };
    let owned = |kind: Change| -> Vec<Value> {
        r.changes
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, rf, o)| json!({"owner": owner_json(o), "reference": ref_json(rf)}))
            .collect()
    };
    let deleted: Vec<Value> = r
        .changes
        .iter()
        .filter(|(k, _, _)| *k == Change::Deleted)
        .map(|(_, rf, _)| ref_json(rf))
        .collect();
    let mut e = json!({
        "messageVersion": "v1",
        "status": status,
        "executedEpoch": "0",
        "gasUsed": {
            "computationCost": r.gas.computation.to_string(),
            "storageCost": r.gas.storage.to_string(),
            "storageRebate": r.gas.rebate.to_string(),
            "nonRefundableStorageFee": r.gas.non_refundable.to_string(),
        },
        "transactionDigest": r.digest.to_string(),
        "gasObject": {"owner": owner_json(&r.gas_object.1), "reference": ref_json(&r.gas_object.0)},
        "sharedObjects": r.shared.iter().map(ref_json).collect::<Vec<_>>(),
        "dependencies": [],
    });
    for (k, v) in [
        ("created", owned(Change::Created)),
        ("mutated", owned(Change::Mutated)),
    ] {
        if !v.is_empty() {
            e[k] = json!(v);
        }
    }
    if !deleted.is_empty() {
        e["deleted"] = json!(deleted);
    }
    if let Status::MoveAbort { code, function, .. } = &r.status {
        e["abortError"] = json!({
            "module_id": format!("{package}::{}", onchain::MODULE),
            "function": function,
            "line": null,
            "error_code": code,
        });
    }
    e
}

fn tx_response(r: &TxRecord, events: &[Value], options: &Value, engine: &Engine) -> Value {
    let flag = |k: &str| options.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut out = json!({"digest": r.digest.to_string()});
    if flag("showInput") {
        out["transaction"] = transaction_json(r);
    }
    if flag("showRawInput") {
        out["rawTransaction"] = json!(BASE64.encode(&r.tx_bytes));
    }
    if flag("showEffects") {
        out["effects"] = effects_json(r, &engine.package);
    }
    if flag("showEvents") {
        out["events"] = json!(events);
    }
    if flag("showObjectChanges") {
        let type_of = |id: &ObjectId| {
            engine
                .store
                .objects
                .get(id)
                .map(|o| o.contents.type_(&engine.package))
                .unwrap_or_default()
        };
        out["objectChanges"] = json!(
            r.changes
                .iter()
                .map(|(k, rf, o)| match k {
                    Change::Deleted => json!({"type": "deleted", "sender": r.sender.to_string(), "objectType": "", "objectId": rf.id.to_string(), "version": rf.version.to_string()}),
                    _ => json!({
                        "type": if *k == Change::Created { "created" } else { "mutated" },
                        "sender": r.sender.to_string(),
                        "owner": owner_json(o),
                        "objectType": type_of(&rf.id),
                        "objectId": rf.id.to_string(),
                        "version": rf.version.to_string(),
                        "digest": rf.digest.to_string(),
                    }),
                })
                .collect::<Vec<_>>()
        );
    }
    if flag("showBalanceChanges") {
        out["balanceChanges"] = json!([]);
    }
    out["timestampMs"] = json!(r.timestamp_ms.to_string());
    out["checkpoint"] = json!(r.checkpoint.to_string());
    out
}

fn transaction_json(r: &TxRecord) -> Value {
    let data = TransactionData::from_bcs(&r.tx_bytes).expect("stored transactions decode");
    let v1 = data.v1();
    json!({
        "data": {
            "messageVersion": "v1",
            "transaction": {"kind": "ProgrammableTransaction", "inputs": [], "transactions": []},
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

fn param(params: &[Value], i: usize) -> Option<&Value> {
    params.get(i).filter(|v| !v.is_null())
}

fn parse_id(v: Option<&Value>, name: &str) -> Result<ObjectId, RpcError> {
    v.and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("Invalid params: {name} is required")))?
        .parse()
        .map_err(|e| invalid(format!("Invalid params: {name}: {e}")))
}

fn limit(v: Option<&Value>) -> Result<usize, RpcError> {
    match v {
        None => Ok(PAGE_MAX),
        Some(v) => v
            .as_u64()
            .map(|n| (n as usize).clamp(1, PAGE_MAX))
            .ok_or_else(|| invalid("Invalid params: limit must be a number")),
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

fn event_matches(e: &StoredEvent, filter: &Value, package: &ObjectId) -> Result<bool, RpcError> {
    let obj = filter
        .as_object()
        .ok_or_else(|| invalid("Invalid params: EventFilter must be an object"))?;
    let (kind, arg) = obj
        .iter()
        .next()
        .ok_or_else(|| invalid("Invalid params: empty EventFilter"))?;
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
        "Any" => {
            let list = arg
                .as_array()
                .ok_or_else(|| invalid("Any must be a list"))?;
            let mut any = false;
            for f in list {
                any |= event_matches(e, f, package)?;
            }
            any
        }
        other => {
            return Err(invalid(format!(
                "Invalid params: EventFilter {other} is not modelled by daas-sandbox"
            )));
        }
    })
}

/// Dispatches one JSON-RPC call.
pub fn dispatch(node: &Node, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    match method {
        "sui_getChainIdentifier" => Ok(json!(node.chain_id.jsonrpc_identifier())),
        "suix_getReferenceGasPrice" => Ok(json!(
            node.engine
                .lock()
                .expect("poisoned")
                .reference_gas_price
                .to_string()
        )),
        "sui_getLatestCheckpointSequenceNumber" => Ok(json!(
            node.engine
                .lock()
                .expect("poisoned")
                .store
                .checkpoint
                .to_string()
        )),
        "sui_getObject" => {
            let id = parse_id(params.first(), "object_id")?;
            let options = param(params, 1).cloned().unwrap_or(json!({}));
            Ok(object_response(
                &node.engine.lock().expect("poisoned"),
                &id,
                &options,
            ))
        }
        "sui_multiGetObjects" => {
            let ids = params
                .first()
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("Invalid params: object_ids must be a list"))?;
            if ids.len() > 50 {
                return Err(invalid(format!(
                    "Invalid params: {} objects requested, at most 50",
                    ids.len()
                )));
            }
            let options = param(params, 1).cloned().unwrap_or(json!({}));
            let engine = node.engine.lock().expect("poisoned");
            ids.iter()
                .map(|v| {
                    parse_id(Some(v), "object_id").map(|id| object_response(&engine, &id, &options))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::from)
        }
        "suix_getCoins" => {
            let owner: Address = parse_id(params.first(), "owner")?.into();
            if let Some(t) = param(params, 1).and_then(Value::as_str)
                && t != "0x2::sui::SUI"
                && t != "0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI"
            {
                return Ok(json!({"data": [], "nextCursor": null, "hasNextPage": false}));
            }
            let engine = node.engine.lock().expect("poisoned");
            id_page(
                engine.store.coins_of(&owner),
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
        "suix_getDynamicFields" => {
            let parent = parse_id(params.first(), "parent_object_id")?;
            let engine = node.engine.lock().expect("poisoned");
            id_page(
                engine.store.fields_of(&parent),
                param(params, 1),
                param(params, 2),
                |o| {
                    let Contents::Field(f) = &o.contents else {
                        unreachable!("only table entries are dynamic fields")
                    };
                    json!({
                        "name": {"type": "0x1::string::String", "value": f.name},
                        "bcsName": bs58::encode(bcs::to_bytes(&f.name).expect("string")).into_string(),
                        "bcsEncoding": "base58",
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
            let name = params
                .get(1)
                .ok_or_else(|| invalid("Invalid params: name is required"))?;
            let key = match (
                name.get("type").and_then(Value::as_str),
                name.get("value").and_then(Value::as_str),
            ) {
                (
                    Some(
                        "0x1::string::String"
                        | "0x0000000000000000000000000000000000000000000000000000000000000001::string::String",
                    ),
                    Some(v),
                ) => v,
                _ => {
                    return Err(invalid(
                        "Invalid params: only 0x1::string::String dynamic field names are modelled by daas-sandbox",
                    ));
                }
            };
            let id = onchain::table_entry_id(&parent, key);
            let engine = node.engine.lock().expect("poisoned");
            match engine.store.objects.get(&id) {
                Some(o) if o.owner == Owner::Object(parent) => {
                    let options = json!({"showType": true, "showOwner": true, "showContent": true, "showBcs": true, "showPreviousTransaction": true});
                    Ok(json!({"data": object_data(o, &options, &engine.package)}))
                }
                _ => Ok(
                    json!({"error": {"code": "dynamicFieldNotFound", "parent_object_id": parent.to_string()}}),
                ),
            }
        }
        "suix_queryEvents" => {
            let filter = params
                .first()
                .ok_or_else(|| invalid("Invalid params: query is required"))?;
            let cursor = match param(params, 1) {
                Some(c) => {
                    let d: TransactionDigest = c
                        .get("txDigest")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid("Invalid params: cursor.txDigest"))?
                        .parse()
                        .map_err(invalid)?;
                    let seq = c
                        .get("eventSeq")
                        .and_then(crate::server::json_u64)
                        .ok_or_else(|| invalid("Invalid params: cursor.eventSeq"))?;
                    Some((d, seq))
                }
                None => None,
            };
            let limit = limit(param(params, 2))?;
            let descending = param(params, 3).and_then(Value::as_bool).unwrap_or(false);
            let engine = node.engine.lock().expect("poisoned");
            let events = &engine.store.events;
            let start = match cursor {
                None => None,
                Some((d, seq)) => Some(
                    events
                        .iter()
                        .position(|e| e.tx_digest == d && e.event_seq == seq)
                        .ok_or_else(|| {
                            invalid("Invalid params: cursor does not name an event of this chain")
                        })?,
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
                if event_matches(&events[i], filter, &engine.package)? {
                    if page.len() == limit {
                        more = true;
                        break;
                    }
                    page.push(&events[i]);
                }
            }
            let next = page.last().map(|e| json!({"txDigest": e.tx_digest.to_string(), "eventSeq": e.event_seq.to_string()}));
            Ok(json!({
                "data": page.iter().map(|e| event_json(e, &engine.package)).collect::<Vec<_>>(),
                "nextCursor": next.unwrap_or(Value::Null),
                "hasNextPage": more,
            }))
        }
        "sui_dryRunTransactionBlock" => {
            let b = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Invalid params: tx_bytes is required"))?;
            let bytes = BASE64
                .decode(b)
                .map_err(|_| invalid("Invalid params: tx_bytes is not Base64"))?;
            let now = node.clock.now();
            let mut engine = node.engine.lock().expect("poisoned");
            let (r, events) = engine.execute(&bytes, &[], now, true).map_err(reject)?;
            let pkg = engine.package;
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
                        &pkg,
                    )
                })
                .collect();
            Ok(json!({
                "effects": effects_json(&r, &pkg),
                "events": events,
                "objectChanges": [],
                "balanceChanges": [],
                "input": transaction_json(&r)["data"],
            }))
        }
        "sui_executeTransactionBlock" => {
            let b = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Invalid params: tx_bytes is required"))?;
            let bytes = BASE64
                .decode(b)
                .map_err(|_| invalid("Invalid params: tx_bytes is not Base64"))?;
            let sigs: Vec<String> = params
                .get(1)
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("Invalid params: signatures is required"))?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid("Invalid params: signatures must be strings"))
                })
                .collect::<Result<_, _>>()?;
            let options = param(params, 2).cloned().unwrap_or(json!({}));
            let (r, _) = node.execute(&bytes, &sigs).map_err(reject)?;
            let engine = node.engine.lock().expect("poisoned");
            let events: Vec<Value> = engine.store.events[r.events.clone()]
                .iter()
                .map(|e| event_json(e, &engine.package))
                .collect();
            let mut out = tx_response(&r, &events, &options, &engine);
            out["confirmedLocalExecution"] = json!(true);
            Ok(out)
        }
        "sui_getTransactionBlock" => {
            let d: TransactionDigest = params
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Invalid params: digest is required"))?
                .parse()
                .map_err(invalid)?;
            let options = param(params, 1).cloned().unwrap_or(json!({}));
            let engine = node.engine.lock().expect("poisoned");
            let r = engine.store.txs.get(&d).ok_or_else(|| {
                invalid(format!(
                    "Could not find the referenced transaction [TransactionDigest({d})]."
                ))
            })?;
            let events: Vec<Value> = engine.store.events[r.events.clone()]
                .iter()
                .map(|e| event_json(e, &engine.package))
                .collect();
            Ok(tx_response(r, &events, &options, &engine))
        }
        other => Err((
            -32601,
            format!(
                "Method not found: {other} (daas-sandbox serves only the methods listed in its README)"
            ),
        )),
    }
}

fn reject(r: Reject) -> RpcError {
    match r {
        Reject::InvalidParams(m) => (-32602, m),
        other => (-32002, other.message()),
    }
}
