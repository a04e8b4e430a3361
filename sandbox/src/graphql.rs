//! The GraphQL service (the subset of Sui's `schema.graphql` this project reads and
//! writes), executed over the engine's state. Documents are parsed with
//! `apollo-compiler`; aliases, variables, fragments and `__typename` work; a field the
//! sandbox does not model is an error naming it, never a silent null.

use apollo_compiler::ast::{self, Definition, OperationType, Selection};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::onchain;
use daas_protocol::sui::TransactionDigest;
use daas_protocol::{Address, ObjectId};
use serde_json::{Map, Value, json};

use crate::exec::Engine;
use crate::server::Node;
use crate::store::{Change, Contents, Gas, Obj, Owner, Status, StoredEvent, TxRecord};
use crate::value::MoveValue;

const PAGE_MAX: usize = 50;

/// A GraphQL object the executor can select fields from.
#[derive(Debug, Clone)]
enum G {
    Query,
    Mutation,
    Object(Box<Obj>),
    Address(ObjectId),
    Owner(Owner),
    MoveValue(String, MoveValue),
    MoveType(String),
    DynamicField(Box<Obj>),
    Event(Box<StoredEvent>),
    Transaction(TransactionDigest),
    Effects(Box<TxRecord>, Vec<StoredEvent>),
    Simulation(Box<TxRecord>, Vec<StoredEvent>),
    ExecutionResult(Box<TxRecord>, Vec<StoredEvent>),
    ExecutionError(Box<TxRecord>),
    GasEffects(Box<TxRecord>),
    GasSummary(Gas),
    Epoch,
    Checkpoint(u64),
    MoveModule(ObjectId, String),
    MovePackage(ObjectId),
    MoveFunction(String),
    Connection(&'static str, Vec<(String, G)>, bool),
    Edge(&'static str, String, Box<G>),
    PageInfo {
        has_next: bool,
        start: Option<String>,
        end: Option<String>,
    },
    ObjectChange(Change, daas_protocol::tx::ObjectRef, Owner),
    ObjectState(daas_protocol::tx::ObjectRef, Owner),
}

impl G {
    fn typename(&self) -> &'static str {
        match self {
            G::Query => "Query",
            G::Mutation => "Mutation",
            G::Object(_) => "Object",
            G::Address(_) => "Address",
            G::Owner(Owner::Address(_)) => "AddressOwner",
            G::Owner(Owner::Object(_)) => "ObjectOwner",
            G::Owner(Owner::Shared(_)) => "Shared",
            G::Owner(Owner::Immutable) => "Immutable",
            G::MoveValue(..) => "MoveValue",
            G::MoveType(_) => "MoveType",
            G::DynamicField(_) => "DynamicField",
            G::Event(_) => "Event",
            G::Transaction(_) => "Transaction",
            G::Effects(..) => "TransactionEffects",
            G::Simulation(..) => "SimulationResult",
            G::ExecutionResult(..) => "ExecutionResult",
            G::ExecutionError(_) => "ExecutionError",
            G::GasEffects(_) => "GasEffects",
            G::GasSummary(_) => "GasCostSummary",
            G::Epoch => "Epoch",
            G::Checkpoint(_) => "Checkpoint",
            G::MoveModule(..) => "MoveModule",
            G::MovePackage(_) => "MovePackage",
            G::MoveFunction(_) => "MoveFunction",
            G::Connection(t, ..) | G::Edge(t, ..) => t,
            G::PageInfo { .. } => "PageInfo",
            G::ObjectChange(..) => "ObjectChange",
            G::ObjectState(..) => "Object",
        }
    }

    /// Interfaces and unions the type belongs to, for fragment type conditions.
    fn applies(&self, condition: &str) -> bool {
        let t = self.typename();
        condition == t
            || match condition {
                "IObject" | "IMoveObject" => matches!(t, "Object" | "MoveObject" | "DynamicField"),
                "IAddressable" => matches!(t, "Object" | "MoveObject" | "DynamicField" | "Address"),
                "Owner" => t.ends_with("Owner") || matches!(t, "Shared" | "Immutable"),
                "DynamicFieldValue" => matches!(t, "MoveValue" | "MoveObject"),
                "MoveObject" => t == "Object",
                "Node" => true,
                _ => false,
            }
    }
}

enum R {
    Null,
    Leaf(Value),
    One(G),
    Many(Vec<G>),
    /// A list whose entries may be null (multiGetObjects).
    ManyOrNull(Vec<Option<G>>),
}

struct Ctx<'a> {
    engine: &'a mut Engine,
    node: &'a Node,
    variables: Map<String, Value>,
    fragments: Vec<&'a ast::FragmentDefinition>,
}

fn err<T>(m: impl Into<String>) -> Result<T, String> {
    Err(m.into())
}

fn unsupported<T>(g: &G, field: &str) -> Result<T, String> {
    err(format!(
        "{}.{field} is not modelled by daas-sandbox",
        g.typename()
    ))
}

fn iso(ms: u64) -> String {
    // days since epoch → civil date (Howard Hinnant)
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

fn cursor(kind: &str, v: impl std::fmt::Display) -> String {
    BASE64.encode(format!("{kind}:{v}"))
}

fn arg_str<'a>(args: &'a Map<String, Value>, k: &str) -> Result<&'a str, String> {
    args.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("argument `{k}` is required"))
}

fn arg_id(args: &Map<String, Value>, k: &str) -> Result<ObjectId, String> {
    arg_str(args, k)?
        .parse()
        .map_err(|e| format!("argument `{k}`: {e}"))
}

fn page<T: Clone>(
    items: Vec<(String, T)>,
    args: &Map<String, Value>,
) -> Result<(Vec<(String, T)>, bool), String> {
    if args.get("last").is_some_and(|v| !v.is_null())
        || args.get("before").is_some_and(|v| !v.is_null())
    {
        return err("backward pagination (last/before) is not modelled by daas-sandbox");
    }
    let first = match args.get("first") {
        Some(Value::Number(n)) => n.as_u64().ok_or("`first` must be a positive number")? as usize,
        None | Some(Value::Null) => PAGE_MAX,
        Some(_) => return err("`first` must be a number"),
    };
    if first > PAGE_MAX {
        return err(format!("Page size is too large: {first} > {PAGE_MAX}"));
    }
    let start = match args.get("after").and_then(Value::as_str) {
        Some(after) => items
            .iter()
            .position(|(c, _)| c == after)
            .map(|p| p + 1)
            .ok_or_else(|| format!("cursor {after:?} does not name an item"))?,
        None => 0,
    };
    let rest = &items[start.min(items.len())..];
    Ok((
        rest.iter().take(first).cloned().collect(),
        rest.len() > first,
    ))
}

fn connection(t: &'static str, items: Vec<(String, G)>, more: bool) -> G {
    G::Connection(t, items, more)
}

impl Ctx<'_> {
    fn object_value(&self, o: &Obj) -> G {
        G::MoveValue(
            o.contents.type_(&self.engine.package),
            o.contents.value(&self.engine.package),
        )
    }

    fn event_filter(&self, e: &StoredEvent, filter: &Map<String, Value>) -> Result<bool, String> {
        let pkg = self.engine.package;
        if let Some(t) = filter.get("type").and_then(Value::as_str) {
            let parts: Vec<&str> = t.split("::").collect();
            let addr_ok = parts.first().and_then(|a| a.parse::<ObjectId>().ok()) == Some(pkg);
            let ok = addr_ok
                && match parts.len() {
                    1 => true,
                    2 => parts[1] == onchain::MODULE,
                    3 => parts[1] == onchain::MODULE && parts[2] == e.event.name(),
                    _ => false,
                };
            if !ok {
                return Ok(false);
            }
        }
        if let Some(m) = filter.get("module").and_then(Value::as_str) {
            let parts: Vec<&str> = m.split("::").collect();
            let ok = parts.first().and_then(|a| a.parse::<ObjectId>().ok()) == Some(pkg)
                && parts.get(1).is_none_or(|n| *n == e.module);
            if !ok {
                return Ok(false);
            }
        }
        if let Some(s) = filter.get("sender").and_then(Value::as_str) {
            let a: Address = s.parse().map_err(|e| format!("filter.sender: {e}"))?;
            if a != e.sender {
                return Ok(false);
            }
        }
        let cp = |k: &str| filter.get(k).and_then(Value::as_u64);
        if cp("afterCheckpoint").is_some_and(|c| e.checkpoint <= c)
            || cp("atCheckpoint").is_some_and(|c| e.checkpoint != c)
            || cp("beforeCheckpoint").is_some_and(|c| e.checkpoint >= c)
        {
            return Ok(false);
        }
        Ok(true)
    }

    fn effects_events(&self, r: &TxRecord) -> Vec<StoredEvent> {
        self.engine.store.events[r.events.clone()].to_vec()
    }

    fn run_tx(
        &mut self,
        bcs: &str,
        sigs: Option<&[String]>,
    ) -> Result<(TxRecord, Vec<StoredEvent>), String> {
        let bytes = BASE64
            .decode(bcs)
            .map_err(|_| "transaction bytes are not Base64".to_string())?;
        match sigs {
            Some(sigs) => {
                let (r, _) = self
                    .node
                    .execute_locked(self.engine, &bytes, sigs)
                    .map_err(|e| e.message())?;
                let events = self.effects_events(&r);
                Ok((r, events))
            }
            None => {
                let now = self.node.clock.now();
                let (r, events) = self
                    .engine
                    .execute(&bytes, &[], now, true)
                    .map_err(|e| e.message())?;
                let events = events
                    .into_iter()
                    .enumerate()
                    .map(|(i, event)| StoredEvent {
                        tx_digest: r.digest,
                        event_seq: i as u64,
                        global_seq: 0,
                        checkpoint: r.checkpoint,
                        timestamp_ms: now,
                        sender: r.sender,
                        module: onchain::MODULE.into(),
                        event,
                    })
                    .collect();
                Ok((r, events))
            }
        }
    }

    fn resolve(&mut self, g: &G, field: &str, args: &Map<String, Value>) -> Result<R, String> {
        let pkg = self.engine.package;
        Ok(match (g, field) {
            (G::Query, "chainIdentifier") => R::Leaf(json!(self.node.chain_id.to_string())),
            (G::Query, "epoch") => {
                if args
                    .get("epochId")
                    .and_then(Value::as_u64)
                    .is_some_and(|e| e != 0)
                {
                    R::Null
                } else {
                    R::One(G::Epoch)
                }
            }
            (G::Query, "checkpoint") => {
                let latest = self.engine.store.checkpoint;
                match args.get("sequenceNumber").and_then(Value::as_u64) {
                    Some(s) if s > latest => R::Null,
                    Some(s) => R::One(G::Checkpoint(s)),
                    None => R::One(G::Checkpoint(latest)),
                }
            }
            (G::Query, "object") => {
                let id = arg_id(args, "address")?;
                match self.engine.store.objects.get(&id) {
                    Some(o)
                        if args
                            .get("version")
                            .and_then(Value::as_u64)
                            .is_none_or(|v| v == o.version) =>
                    {
                        R::One(G::Object(Box::new(o.clone())))
                    }
                    _ => R::Null,
                }
            }
            (G::Query, "multiGetObjects") => {
                let keys = args
                    .get("keys")
                    .and_then(Value::as_array)
                    .ok_or("argument `keys` is required")?;
                if keys.len() > 200 {
                    return err("multiGetObjects takes at most 200 keys");
                }
                let mut out = Vec::new();
                for k in keys {
                    let id: ObjectId = k
                        .get("address")
                        .and_then(Value::as_str)
                        .ok_or("key without address")?
                        .parse()
                        .map_err(|e| format!("{e}"))?;
                    out.push(
                        self.engine
                            .store
                            .objects
                            .get(&id)
                            .map(|o| G::Object(Box::new(o.clone()))),
                    );
                }
                R::ManyOrNull(out)
            }
            (G::Query, "address") => R::One(G::Address(arg_id(args, "address")?)),
            (G::Query, "events") => {
                let filter = args
                    .get("filter")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let mut items = Vec::new();
                for e in &self.engine.store.events {
                    if self.event_filter(e, &filter)? {
                        items.push((cursor("event", e.global_seq), G::Event(Box::new(e.clone()))));
                    }
                }
                let (items, more) = page(items, args)?;
                R::One(connection("EventConnection", items, more))
            }
            (G::Query, "transaction") => {
                let d: TransactionDigest = arg_str(args, "digest")?.parse()?;
                if self.engine.store.txs.contains_key(&d) {
                    R::One(G::Transaction(d))
                } else {
                    R::Null
                }
            }
            (G::Query, "transactionEffects") => {
                let d: TransactionDigest = arg_str(args, "digest")?.parse()?;
                match self.engine.store.txs.get(&d).cloned() {
                    Some(r) => {
                        let ev = self.effects_events(&r);
                        R::One(G::Effects(Box::new(r), ev))
                    }
                    None => R::Null,
                }
            }
            (G::Query, "simulateTransaction") => {
                let tx = args
                    .get("transaction")
                    .ok_or("argument `transaction` is required")?;
                let bcs = tx.pointer("/bcs/value").and_then(Value::as_str).ok_or("simulateTransaction: only {\"bcs\": {\"value\": <Base64 TransactionData>}} is modelled by daas-sandbox")?;
                let (r, ev) = self.run_tx(bcs, None)?;
                R::One(G::Simulation(Box::new(r), ev))
            }
            (G::Mutation, "executeTransaction") => {
                let bcs = arg_str(args, "transactionDataBcs")?.to_string();
                let sigs: Vec<String> = args
                    .get("signatures")
                    .and_then(Value::as_array)
                    .ok_or("argument `signatures` is required")?
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_string)
                            .ok_or("signatures must be strings")
                    })
                    .collect::<Result<_, _>>()?;
                let (r, ev) = self.run_tx(&bcs, Some(&sigs))?;
                R::One(G::ExecutionResult(Box::new(r), ev))
            }
            (G::Epoch, "referenceGasPrice") => {
                R::Leaf(json!(self.engine.reference_gas_price.to_string()))
            }
            (G::Epoch, "epochId") => R::Leaf(json!(0)),
            (G::Epoch, "startTimestamp") => {
                R::Leaf(json!(iso(self.engine.store.checkpoint_times[0])))
            }
            (G::Checkpoint(s), "sequenceNumber") => R::Leaf(json!(s)),
            (G::Checkpoint(s), "digest") => R::Leaf(json!(
                bs58::encode(daas_protocol::hash::blake2b256(&[
                    b"checkpoint",
                    &s.to_le_bytes(),
                    self.node.chain_id.as_bytes()
                ]))
                .into_string()
            )),
            (G::Checkpoint(s), "timestamp") => R::Leaf(json!(iso(self
                .engine
                .store
                .checkpoint_times
                .get(*s as usize)
                .copied()
                .unwrap_or(0)))),
            (G::Object(o) | G::DynamicField(o), "address") => R::Leaf(json!(o.id.to_string())),
            (G::Object(o) | G::DynamicField(o), "version") => R::Leaf(json!(o.version)),
            (G::Object(o) | G::DynamicField(o), "digest") => {
                R::Leaf(json!(bs58::encode(o.digest).into_string()))
            }
            (G::Object(o) | G::DynamicField(o), "owner") => R::One(G::Owner(o.owner)),
            (G::Object(o), "asMoveObject") => R::One(G::Object(o.clone())),
            (G::Object(o) | G::DynamicField(o), "contents") => R::One(self.object_value(o)),
            (G::Object(o) | G::DynamicField(o), "hasPublicTransfer") => {
                R::Leaf(json!(o.contents.has_public_transfer()))
            }
            (G::Object(o) | G::DynamicField(o), "previousTransaction") => {
                R::One(G::Transaction(o.previous_tx))
            }
            (G::Object(o) | G::DynamicField(o), "storageRebate") => R::Leaf(json!(
                (o.storage_bytes(&pkg) * crate::exec::STORAGE_PRICE_PER_BYTE * 99 / 100)
                    .to_string()
            )),
            (G::Object(o), "moveObjectBcs" | "objectBcs") => {
                R::Leaf(json!(BASE64.encode(o.contents.value(&pkg).to_bcs())))
            }
            (G::Object(o), f @ ("dynamicField" | "dynamicFields" | "objects")) => {
                return self.resolve(&G::Address(o.id), f, args);
            }
            (G::DynamicField(o), "name") => match &o.contents {
                Contents::Field(f) => R::One(G::MoveValue(
                    "0x1::string::String".into(),
                    MoveValue::String(f.name.clone()),
                )),
                _ => R::Null,
            },
            (G::DynamicField(o), "value") => match &o.contents {
                Contents::Field(f) => R::One(G::MoveValue(
                    "0x2::object::ID".into(),
                    MoveValue::Address(f.value.0),
                )),
                _ => R::Null,
            },
            (G::Address(a), "address") => R::Leaf(json!(a.to_string())),
            (G::Address(a), "dynamicField") => {
                let name = args
                    .get("name")
                    .and_then(Value::as_object)
                    .ok_or("argument `name` is required")?;
                let t = name
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or("name.type is required")?;
                if t != "0x1::string::String"
                    && t != "0x0000000000000000000000000000000000000000000000000000000000000001::string::String"
                {
                    return err(
                        "only 0x1::string::String dynamic field names are modelled by daas-sandbox",
                    );
                }
                let key: String = match (
                    name.get("bcs").and_then(Value::as_str),
                    name.get("literal").and_then(Value::as_str),
                ) {
                    (Some(b), _) => {
                        bcs::from_bytes(&BASE64.decode(b).map_err(|_| "name.bcs is not Base64")?)
                            .map_err(|_| "name.bcs is not a BCS String")?
                    }
                    (None, Some(l)) => l.trim_matches('"').to_string(),
                    _ => return err("name.bcs or name.literal is required"),
                };
                let id = onchain::table_entry_id(a, &key);
                match self.engine.store.objects.get(&id) {
                    Some(o) if o.owner == Owner::Object(*a) => {
                        R::One(G::DynamicField(Box::new(o.clone())))
                    }
                    _ => R::Null,
                }
            }
            (G::Address(a), "dynamicFields") => {
                let items = self
                    .engine
                    .store
                    .fields_of(a)
                    .into_iter()
                    .map(|o| (cursor("df", o.id), G::DynamicField(Box::new(o.clone()))))
                    .collect();
                let (items, more) = page(items, args)?;
                R::One(connection("DynamicFieldConnection", items, more))
            }
            (G::Address(a), "objects") => {
                let t = args
                    .get("filter")
                    .and_then(|f| f.get("type"))
                    .and_then(Value::as_str);
                let owner: Address = (*a).into();
                let items = self
                    .engine
                    .store
                    .objects
                    .values()
                    .filter(|o| o.owner == Owner::Address(owner))
                    .filter(|o| t.is_none_or(|t| type_matches(t, &o.contents.type_(&pkg))))
                    .map(|o| (cursor("obj", o.id), G::Object(Box::new(o.clone()))))
                    .collect();
                let (items, more) = page(items, args)?;
                R::One(connection("MoveObjectConnection", items, more))
            }
            (G::Owner(Owner::Address(a)), "address") => R::One(G::Address((*a).into())),
            (G::Owner(Owner::Object(id)), "address") => R::One(G::Address(*id)),
            (G::Owner(Owner::Shared(v)), "initialSharedVersion") => R::Leaf(json!(v)),
            (G::Owner(Owner::Immutable), "_") => R::Null,
            (G::MoveValue(t, _), "type") => R::One(G::MoveType(t.clone())),
            (G::MoveValue(_, v), "json") => R::Leaf(v.to_graphql()),
            (G::MoveValue(_, v), "bcs") => R::Leaf(json!(BASE64.encode(v.to_bcs()))),
            (G::MoveType(t), "repr") => R::Leaf(json!(t)),
            (G::Event(e), "sequenceNumber") => R::Leaf(json!(e.event_seq)),
            (G::Event(e), "timestamp") => R::Leaf(json!(iso(e.timestamp_ms))),
            (G::Event(e), "sender") => R::One(G::Address(e.sender.into())),
            (G::Event(e), "transaction") => R::One(G::Transaction(e.tx_digest)),
            (G::Event(e), "transactionModule") => R::One(G::MoveModule(pkg, e.module.clone())),
            (G::Event(e), "contents") => {
                let v = crate::store::event_value(&e.event, &pkg);
                R::One(G::MoveValue(onchain::struct_type(&pkg, e.event.name()), v))
            }
            (G::Event(e), "eventBcs") => R::Leaf(json!(
                BASE64.encode(crate::store::event_value(&e.event, &pkg).to_bcs())
            )),
            (G::MoveModule(_, name), "name") => R::Leaf(json!(name)),
            (G::MoveModule(p, _), "package") => R::One(G::MovePackage(*p)),
            (G::MovePackage(p), "address") => R::Leaf(json!(p.to_string())),
            (G::MoveFunction(n), "name") => R::Leaf(json!(n)),
            (G::Transaction(d), "digest") => R::Leaf(json!(d.to_string())),
            (G::Transaction(d), "effects") => match self.engine.store.txs.get(d).cloned() {
                Some(r) => {
                    let ev = self.effects_events(&r);
                    R::One(G::Effects(Box::new(r), ev))
                }
                None => R::Null,
            },
            (G::Transaction(d), "sender") => match self.engine.store.txs.get(d) {
                Some(r) => R::One(G::Address(r.sender.into())),
                None => R::Null,
            },
            (G::ExecutionResult(r, ev) | G::Simulation(r, ev), "effects") => {
                R::One(G::Effects(r.clone(), ev.clone()))
            }
            (G::Simulation(..), "outputs") => R::Many(vec![]),
            (G::Effects(r, _), "digest") => R::Leaf(json!(r.digest.to_string())),
            (G::Effects(r, _), "status") => R::Leaf(json!(if r.status == Status::Success {
                "SUCCESS"
            } else {
                "FAILURE"
            })),
            (G::Effects(r, _), "executionError") => {
                if r.status == Status::Success {
                    R::Null
                } else {
                    R::One(G::ExecutionError(r.clone()))
                }
            }
            (G::Effects(r, _), "gasEffects") => R::One(G::GasEffects(r.clone())),
            (G::Effects(r, _), "lamportVersion") => R::Leaf(json!(r.lamport_version)),
            (G::Effects(r, _), "timestamp") => R::Leaf(json!(iso(r.timestamp_ms))),
            (G::Effects(r, _), "checkpoint") => R::One(G::Checkpoint(r.checkpoint)),
            (G::Effects(r, _), "transaction") => R::One(G::Transaction(r.digest)),
            (G::Effects(_, ev), "events") => {
                let items = ev
                    .iter()
                    .map(|e| {
                        (
                            cursor("txevent", e.event_seq),
                            G::Event(Box::new(e.clone())),
                        )
                    })
                    .collect();
                let (items, more) = page(items, args)?;
                R::One(connection("EventConnection", items, more))
            }
            (G::Effects(r, _), "objectChanges") => {
                let items = r
                    .changes
                    .iter()
                    .map(|(k, rf, o)| (cursor("change", rf.id), G::ObjectChange(*k, *rf, *o)))
                    .collect();
                let (items, more) = page(items, args)?;
                R::One(connection("ObjectChangeConnection", items, more))
            }
            (G::ObjectChange(_, rf, _), "address") => R::Leaf(json!(rf.id.to_string())),
            (G::ObjectChange(k, _, _), "idCreated") => R::Leaf(json!(*k == Change::Created)),
            (G::ObjectChange(k, _, _), "idDeleted") => R::Leaf(json!(*k == Change::Deleted)),
            (G::ObjectChange(k, rf, o), "outputState") => {
                if *k == Change::Deleted {
                    R::Null
                } else {
                    R::One(G::ObjectState(*rf, *o))
                }
            }
            (G::ObjectState(rf, _), "address") => R::Leaf(json!(rf.id.to_string())),
            (G::ObjectState(rf, _), "version") => R::Leaf(json!(rf.version)),
            (G::ObjectState(rf, _), "digest") => R::Leaf(json!(rf.digest.to_string())),
            // Sui's GraphQL resolves an output state as the whole object, owner included
            (G::ObjectState(_, o), "owner") => R::One(G::Owner(*o)),
            (G::ExecutionError(r), f) => match (&r.status, f) {
                (Status::MoveAbort { code, .. }, "abortCode") => R::Leaf(json!(code.to_string())),
                (Status::MoveAbort { function, .. }, "function") => {
                    R::One(G::MoveFunction(function.clone()))
                }
                (Status::MoveAbort { .. }, "module") => {
                    R::One(G::MoveModule(pkg, onchain::MODULE.into()))
                }
                (Status::MoveAbort { code, .. }, "identifier") => {
                    R::Leaf(onchain::abort::name(*code).map_or(Value::Null, |n| json!(n)))
                }
                (s, "message") => R::Leaf(json!(
                    crate::jsonrpc::failure_text(s, &pkg).unwrap_or_default()
                )),
                (
                    _,
                    "abortCode" | "function" | "module" | "identifier" | "constant"
                    | "sourceLineNumber" | "instructionOffset",
                ) => R::Null,
                _ => return unsupported(g, f),
            },
            (G::GasEffects(r), "gasSummary") => R::One(G::GasSummary(r.gas)),
            (G::GasEffects(r), "gasObject") => {
                match self.engine.store.objects.get(&r.gas_object.0.id) {
                    Some(o) => R::One(G::Object(Box::new(o.clone()))),
                    None => R::Null,
                }
            }
            (G::GasSummary(g), "computationCost") => R::Leaf(json!(g.computation)),
            (G::GasSummary(g), "storageCost") => R::Leaf(json!(g.storage)),
            (G::GasSummary(g), "storageRebate") => R::Leaf(json!(g.rebate)),
            (G::GasSummary(g), "nonRefundableStorageFee") => R::Leaf(json!(g.non_refundable)),
            (G::Connection(_, items, _), "nodes") => {
                R::Many(items.iter().map(|(_, g)| g.clone()).collect())
            }
            (G::Connection(t, items, _), "edges") => {
                let edge = match *t {
                    "EventConnection" => "EventEdge",
                    "DynamicFieldConnection" => "DynamicFieldEdge",
                    "ObjectChangeConnection" => "ObjectChangeEdge",
                    _ => "MoveObjectEdge",
                };
                R::Many(
                    items
                        .iter()
                        .map(|(c, g)| G::Edge(edge, c.clone(), Box::new(g.clone())))
                        .collect(),
                )
            }
            (G::Connection(_, items, more), "pageInfo") => R::One(G::PageInfo {
                has_next: *more,
                start: items.first().map(|(c, _)| c.clone()),
                end: items.last().map(|(c, _)| c.clone()),
            }),
            (G::Edge(_, c, _), "cursor") => R::Leaf(json!(c)),
            (G::Edge(_, _, g), "node") => R::One((**g).clone()),
            (G::PageInfo { has_next, .. }, "hasNextPage") => R::Leaf(json!(has_next)),
            (G::PageInfo { .. }, "hasPreviousPage") => R::Leaf(json!(false)),
            (G::PageInfo { start, .. }, "startCursor") => {
                R::Leaf(start.clone().map_or(Value::Null, Value::from))
            }
            (G::PageInfo { end, .. }, "endCursor") => {
                R::Leaf(end.clone().map_or(Value::Null, Value::from))
            }
            _ => return unsupported(g, field),
        })
    }

    fn select(
        &mut self,
        set: &[Selection],
        g: &G,
        out: &mut Map<String, Value>,
        path: &str,
    ) -> Result<(), String> {
        for sel in set {
            match sel {
                Selection::Field(f) => {
                    let key = f.alias.as_ref().unwrap_or(&f.name).to_string();
                    if f.name == "__typename" {
                        out.insert(key, json!(g.typename()));
                        continue;
                    }
                    let mut args = Map::new();
                    for a in &f.arguments {
                        args.insert(a.name.to_string(), value(&self.variables, &a.value)?);
                    }
                    let sub = format!("{path}.{}", f.name);
                    let v = match self
                        .resolve(g, f.name.as_str(), &args)
                        .map_err(|e| format!("{e} (at {sub})"))?
                    {
                        R::Null => Value::Null,
                        R::Leaf(v) => v,
                        R::One(child) => self.object(&f.selection_set, &child, &sub)?,
                        R::Many(children) => Value::Array(
                            children
                                .iter()
                                .map(|c| self.object(&f.selection_set, c, &sub))
                                .collect::<Result<_, String>>()?,
                        ),
                        R::ManyOrNull(children) => Value::Array(
                            children
                                .iter()
                                .map(|c| match c {
                                    Some(c) => self.object(&f.selection_set, c, &sub),
                                    None => Ok(Value::Null),
                                })
                                .collect::<Result<_, String>>()?,
                        ),
                    };
                    match out.get_mut(&key) {
                        Some(Value::Object(existing)) if v.is_object() => {
                            if let Value::Object(m) = v {
                                existing.extend(m);
                            }
                        }
                        _ => {
                            out.insert(key, v);
                        }
                    }
                }
                Selection::InlineFragment(fr) => {
                    if fr
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| g.applies(c.as_str()))
                    {
                        self.select(&fr.selection_set, g, out, path)?;
                    }
                }
                Selection::FragmentSpread(s) => {
                    let fr = self
                        .fragments
                        .iter()
                        .find(|f| f.name == s.fragment_name)
                        .copied()
                        .ok_or_else(|| format!("unknown fragment {}", s.fragment_name))?;
                    if g.applies(fr.type_condition.as_str()) {
                        self.select(&fr.selection_set, g, out, path)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn object(&mut self, set: &[Selection], g: &G, path: &str) -> Result<Value, String> {
        if set.is_empty() {
            return err(format!(
                "field at {path} of type {} needs a selection set",
                g.typename()
            ));
        }
        let mut m = Map::new();
        self.select(set, g, &mut m, path)?;
        Ok(Value::Object(m))
    }
}

fn value(variables: &Map<String, Value>, v: &ast::Value) -> Result<Value, String> {
    Ok(match v {
        ast::Value::Null => Value::Null,
        ast::Value::Enum(n) => json!(n.as_str()),
        ast::Value::Variable(n) => variables.get(n.as_str()).cloned().unwrap_or(Value::Null),
        ast::Value::String(s) => json!(s),
        ast::Value::Float(f) => json!(f.try_to_f64().map_err(|_| "float out of range")?),
        ast::Value::Int(i) => json!(
            i.as_str()
                .parse::<i64>()
                .map_err(|_| "integer out of range")?
        ),
        ast::Value::Boolean(b) => json!(b),
        ast::Value::List(items) => Value::Array(
            items
                .iter()
                .map(|i| value(variables, i))
                .collect::<Result<_, _>>()?,
        ),
        ast::Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.to_string(), value(variables, v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn type_matches(filter: &str, t: &str) -> bool {
    let norm = |s: &str| {
        s.replace(
            "0x0000000000000000000000000000000000000000000000000000000000000002",
            "0x2",
        )
    };
    norm(filter) == norm(t)
}

fn error_response(message: String) -> Value {
    json!({"data": null, "errors": [{"message": message}]})
}

/// Handles one GraphQL request body (`{query, variables, operationName}`).
pub fn handle(node: &Node, req: &Value) -> Value {
    let Some(query) = req.get("query").and_then(Value::as_str) else {
        return error_response("request has no `query` string".into());
    };
    let doc = match ast::Document::parse(query, "request.graphql") {
        Ok(d) => d,
        Err(e) => return error_response(format!("syntax error: {}", e.errors)),
    };
    let op_name = req.get("operationName").and_then(Value::as_str);
    let ops: Vec<&ast::OperationDefinition> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::OperationDefinition(o) => Some(o.as_ref()),
            _ => None,
        })
        .collect();
    let op = match op_name {
        Some(n) => ops
            .iter()
            .find(|o| o.name.as_ref().is_some_and(|x| x == n))
            .copied(),
        None if ops.len() == 1 => Some(ops[0]),
        None => None,
    };
    let Some(op) = op else {
        return error_response(
            "the document must have exactly one operation, or name one with operationName".into(),
        );
    };
    let fragments = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::FragmentDefinition(f) => Some(f.as_ref()),
            _ => None,
        })
        .collect();
    let mut variables = req
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for v in &op.variables {
        if !variables.contains_key(v.name.as_str()) {
            match &v.default_value {
                Some(d) => {
                    let dv = value(&Map::new(), d).unwrap_or(Value::Null);
                    variables.insert(v.name.to_string(), dv);
                }
                None if v.ty.is_non_null() => {
                    return error_response(format!(
                        "variable ${} of non-null type {} was not provided",
                        v.name, v.ty
                    ));
                }
                None => {}
            }
        }
    }
    let mut engine = node.engine.lock().expect("poisoned");
    let mut ctx = Ctx {
        engine: &mut engine,
        node,
        variables,
        fragments,
    };
    let root = match op.operation_type {
        OperationType::Query => G::Query,
        OperationType::Mutation => G::Mutation,
        OperationType::Subscription => {
            return error_response("subscriptions are not modelled by daas-sandbox".into());
        }
    };
    match ctx.object(&op.selection_set, &root, "") {
        Ok(data) => json!({"data": data}),
        Err(e) => error_response(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso8601_of_ms() {
        assert_eq!(super::iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso(1_795_534_472_123), "2026-11-24T15:34:32.123Z");
        assert_eq!(super::iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
