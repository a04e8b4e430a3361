//! The GraphQL service (the subset of Sui's `schema.graphql` this project and Sui's
//! TypeScript SDK read and write), executed over the engine's state. Documents are
//! parsed with `apollo-compiler`; aliases, variables, fragments, `@include`/`@skip` and
//! `__typename` work; a field the sandbox does not model is an error naming it, never
//! a silent null.
//!
//! Reads are served as of [`Node::read_checkpoint`]. Cursors are positional and opaque,
//! shaped as Sui's (`sui-indexer-alt-graphql`: events are Base64 of JSON `{"t":<tx
//! sequence number>,"e":<event index>}`; objects and dynamic fields Base64 of the
//! object id's bytes): a cursor names a position, so it stays valid however the list
//! grows. Execution errors are formatted as `api/types/execution_error.rs` does.

use apollo_compiler::ast::{self, Definition, OperationType, Selection};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::ledger::{self, ExecutionFailureStatus, ExecutionStatus};
use daas_protocol::onchain;
use daas_protocol::sui::TransactionDigest;
use daas_protocol::{Address, ObjectId};
use serde_json::{Map, Value, json};

use crate::exec::{Engine, Mode, Reject};
use crate::server::Node;
use crate::store::{
    ChangedObject, Contents, Obj, Owner, StoredEvent, TxRecord, View, canonical_struct,
};
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
    /// A transaction: read from a checkpoint (`None`: its events are loaded from the
    /// store), or the one an execution or simulation returned, with its events.
    Transaction(Box<TxRecord>, Option<Vec<StoredEvent>>),
    Effects(Box<TxRecord>, Vec<StoredEvent>, bool),
    Simulation(Box<TxRecord>, Vec<StoredEvent>),
    ExecutionResult(Box<TxRecord>, Vec<StoredEvent>),
    ExecutionError(Box<TxRecord>),
    GasEffects(Box<TxRecord>),
    GasSummary(ledger::GasCostSummary),
    Epoch,
    ProtocolConfigs,
    ProtocolConfig(&'static str, u64),
    Checkpoint(u64),
    MoveModule(ObjectId, String),
    MovePackage(ObjectId),
    MoveFunction(String),
    Signature(String),
    Balance(Address),
    Connection(&'static str, Vec<(String, G)>, bool, bool),
    Edge(&'static str, String, Box<G>),
    PageInfo {
        has_next: bool,
        has_previous: bool,
        start: Option<String>,
        end: Option<String>,
    },
    ObjectChange(Box<TxRecord>, ChangedObject),
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
            G::Transaction(..) => "Transaction",
            G::Effects(..) => "TransactionEffects",
            G::Simulation(..) => "SimulationResult",
            G::ExecutionResult(..) => "ExecutionResult",
            G::ExecutionError(_) => "ExecutionError",
            G::GasEffects(_) => "GasEffects",
            G::GasSummary(_) => "GasCostSummary",
            G::Epoch => "Epoch",
            G::ProtocolConfigs => "ProtocolConfigs",
            G::ProtocolConfig(..) => "ProtocolConfig",
            G::Checkpoint(_) => "Checkpoint",
            G::MoveModule(..) => "MoveModule",
            G::MovePackage(_) => "MovePackage",
            G::MoveFunction(_) => "MoveFunction",
            G::Signature(_) => "UserSignature",
            G::Balance(_) => "Balance",
            G::Connection(t, ..) | G::Edge(t, ..) => t,
            G::PageInfo { .. } => "PageInfo",
            G::ObjectChange(..) => "ObjectChange",
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

/// A Sui `JsonCursor`: Base64 of the position as JSON.
fn json_cursor(v: &Value) -> String {
    BASE64.encode(v.to_string())
}

/// A Sui `BcsCursor` of an object id: Base64 of its bytes.
fn id_cursor(id: &ObjectId) -> String {
    BASE64.encode(id.as_bytes())
}

/// Every `0x…` address in a type string written in full, for comparisons.
fn normalize_type(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits: String = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        out.push_str(&format!("0x{:0>64}", digits.to_ascii_lowercase()));
        rest = &rest[i + 2 + digits.len()..];
    }
    out.push_str(rest);
    out.replace(", ", ",")
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

/// A page: its items with their cursors, then `hasPreviousPage` and `hasNextPage`.
type Page = (Vec<(String, G)>, bool, bool);

/// A forward page over `items` (in order, each with its position key), after the
/// position the `after` cursor names.
fn page<K: PartialOrd + Clone>(
    items: Vec<(K, String, G)>,
    args: &Map<String, Value>,
    decode: impl Fn(&str) -> Option<K>,
) -> Result<Page, String> {
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
    let after = match args.get("after").and_then(Value::as_str) {
        Some(c) => Some(decode(c).ok_or_else(|| format!("Failed to parse cursor: {c}"))?),
        None => None,
    };
    let had_before = after.is_some();
    let rest: Vec<(String, G)> = items
        .into_iter()
        .filter(|(k, _, _)| after.as_ref().is_none_or(|a| k > a))
        .map(|(_, c, g)| (c, g))
        .collect();
    let more = rest.len() > first;
    Ok((rest.into_iter().take(first).collect(), more, had_before))
}

fn decode_id_cursor(c: &str) -> Option<ObjectId> {
    ObjectId::from_slice(&BASE64.decode(c).ok()?)
}

fn decode_event_cursor(c: &str) -> Option<(u64, u64)> {
    let v: Value = serde_json::from_slice(&BASE64.decode(c).ok()?).ok()?;
    Some((v.get("t")?.as_u64()?, v.get("e")?.as_u64()?))
}

fn connection(t: &'static str, (items, more, prev): (Vec<(String, G)>, bool, bool)) -> G {
    G::Connection(t, items, more, prev)
}

impl Ctx<'_> {
    fn view(&self) -> View<'_> {
        let cp = self.node.read_checkpoint(self.engine);
        self.engine.store.view(cp)
    }

    fn object_value(&self, o: &Obj) -> G {
        G::MoveValue(
            canonical_struct(&o.contents.struct_tag(&self.engine.package)),
            o.contents.value(&self.engine.package),
        )
    }

    /// The transaction sequence number of a user transaction: it is the last of its
    /// checkpoint (after the commit prologue).
    fn tx_sequence(&self, checkpoint: u64) -> u64 {
        self.engine
            .store
            .checkpoints
            .get(checkpoint as usize)
            .map_or(0, |c| c.summary.network_total_transactions - 1)
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

    fn simulated_events(r: &TxRecord, events: Vec<onchain::RegistryEvent>) -> Vec<StoredEvent> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| StoredEvent {
                tx_digest: r.digest,
                event_seq: i as u64,
                global_seq: 0,
                checkpoint: r.checkpoint,
                timestamp_ms: r.timestamp_ms,
                sender: r.sender,
                module: onchain::MODULE.into(),
                event,
            })
            .collect()
    }

    fn execute(&mut self, bcs: &str, sigs: &[String]) -> Result<G, String> {
        let bytes = BASE64
            .decode(bcs)
            .map_err(|_| "transactionDataBcs is not Base64".to_string())?;
        let (r, _) = self
            .node
            .execute_locked(self.engine, &bytes, sigs)
            .map_err(|e| e.message())?;
        let events = self.effects_events(&r);
        Ok(G::ExecutionResult(Box::new(r), events))
    }

    fn simulate(&mut self, tx: &Value, do_gas_selection: bool) -> Result<G, String> {
        let bytes = match tx.pointer("/bcs/value").and_then(Value::as_str) {
            Some(b) => BASE64
                .decode(b)
                .map_err(|_| "transaction.bcs.value is not Base64".to_string())?,
            None => {
                let cp = self.node.read_checkpoint(self.engine);
                let now = self.node.clock.now();
                crate::resolve::resolve(self.engine, cp, tx, do_gas_selection, now)
                    .map_err(|e| e.to_string())?
            }
        };
        let now = self.node.clock.now();
        let (r, events) = self
            .engine
            .execute(&bytes, &[], now, Mode::DryRun)
            .map_err(|e: Reject| e.message())?;
        let events = Self::simulated_events(&r, events);
        Ok(G::Simulation(Box::new(r), events))
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
                let latest = self.view().checkpoint;
                match args.get("sequenceNumber").and_then(Value::as_u64) {
                    Some(s) if s > latest => R::Null,
                    Some(s) => R::One(G::Checkpoint(s)),
                    None => R::One(G::Checkpoint(latest)),
                }
            }
            (G::Query, "object") => {
                let id = arg_id(args, "address")?;
                let view = self.view();
                match args.get("version").and_then(Value::as_u64) {
                    None => view.object(&id).map(|o| G::Object(Box::new(o.clone()))),
                    Some(v) => self.engine.store.history.get(&id).and_then(|h| {
                        h.iter().find_map(|(cp, s)| match s {
                            crate::store::Slot::Live(o)
                                if o.version == v && *cp <= view.checkpoint =>
                            {
                                Some(G::Object(o.clone()))
                            }
                            _ => None,
                        })
                    }),
                }
                .map_or(R::Null, R::One)
            }
            (G::Query, "multiGetObjects") => {
                let keys = args
                    .get("keys")
                    .and_then(Value::as_array)
                    .ok_or("argument `keys` is required")?;
                if keys.len() > 200 {
                    return err("multiGetObjects takes at most 200 keys");
                }
                let view = self.view();
                let mut out = Vec::new();
                for k in keys {
                    let id: ObjectId = k
                        .get("address")
                        .and_then(Value::as_str)
                        .ok_or("key without address")?
                        .parse()
                        .map_err(|e| format!("{e}"))?;
                    out.push(view.object(&id).map(|o| G::Object(Box::new(o.clone()))));
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
                let view = self.view();
                let mut items = Vec::new();
                for e in view.events() {
                    if self.event_filter(e, &filter)? {
                        let pos = (self.tx_sequence(e.checkpoint), e.event_seq);
                        items.push((
                            pos,
                            json_cursor(&json!({"t": pos.0, "e": pos.1})),
                            G::Event(Box::new(e.clone())),
                        ));
                    }
                }
                R::One(connection(
                    "EventConnection",
                    page(items, args, decode_event_cursor)?,
                ))
            }
            (G::Query, "transaction") => {
                let d: TransactionDigest = arg_str(args, "digest")?.parse()?;
                // an indexer that has not caught up does not know the transaction yet
                match self.view().tx(&d) {
                    Some(r) => R::One(G::Transaction(Box::new(r.clone()), None)),
                    None => R::Null,
                }
            }
            (G::Query, "transactionEffects") => {
                let d: TransactionDigest = arg_str(args, "digest")?.parse()?;
                match self.view().tx(&d).cloned() {
                    Some(r) => {
                        let ev = self.effects_events(&r);
                        R::One(G::Effects(Box::new(r), ev, true))
                    }
                    None => R::Null,
                }
            }
            (G::Query, "simulateTransaction") => {
                let tx = args
                    .get("transaction")
                    .ok_or("argument `transaction` is required")?
                    .clone();
                let gas_selection = args
                    .get("doGasSelection")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if args.get("checksEnabled").and_then(Value::as_bool) == Some(false) {
                    return err(
                        "simulateTransaction with checksEnabled: false is not modelled by daas-sandbox",
                    );
                }
                R::One(self.simulate(&tx, gas_selection)?)
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
                R::One(self.execute(&bcs, &sigs)?)
            }
            (G::Epoch, "referenceGasPrice") => {
                R::Leaf(json!(self.engine.reference_gas_price.to_string()))
            }
            (G::Epoch, "epochId") => R::Leaf(json!(0)),
            (G::Epoch, "startTimestamp") => R::Leaf(json!(iso(self.engine.store.checkpoints[0]
                .summary
                .timestamp_ms))),
            (G::Epoch, "protocolConfigs") => R::One(G::ProtocolConfigs),
            (G::ProtocolConfigs, "protocolVersion") => {
                R::Leaf(json!(crate::protocol::PROTOCOL_VERSION))
            }
            (G::ProtocolConfigs, "featureFlags") => R::Many(vec![]),
            (G::ProtocolConfigs, "configs") => R::Many(
                crate::protocol::attributes()
                    .into_iter()
                    .map(|(k, v)| G::ProtocolConfig(k, v))
                    .collect(),
            ),
            (G::ProtocolConfigs, "config") => {
                let key = arg_str(args, "key")?;
                match crate::protocol::attributes()
                    .into_iter()
                    .find(|(k, _)| *k == key)
                {
                    Some((k, v)) => R::One(G::ProtocolConfig(k, v)),
                    None => R::Null,
                }
            }
            (G::ProtocolConfig(k, _), "key") => R::Leaf(json!(k)),
            (G::ProtocolConfig(_, v), "value") => R::Leaf(json!(v.to_string())),
            (G::Checkpoint(s), "sequenceNumber") => R::Leaf(json!(s)),
            (G::Checkpoint(s), field) => {
                let c = self
                    .engine
                    .store
                    .checkpoints
                    .get(*s as usize)
                    .ok_or("checkpoint not found")?;
                match field {
                    "digest" => R::Leaf(json!(c.digest.to_string())),
                    "timestamp" => R::Leaf(json!(iso(c.summary.timestamp_ms))),
                    "networkTotalTransactions" => {
                        R::Leaf(json!(c.summary.network_total_transactions))
                    }
                    "previousCheckpointDigest" => R::Leaf(
                        c.summary
                            .previous_digest
                            .map_or(Value::Null, |d| json!(d.to_string())),
                    ),
                    "contentDigest" => R::Leaf(json!(c.summary.content_digest.to_string())),
                    "summaryBcs" => R::Leaf(json!(
                        BASE64.encode(bcs::to_bytes(&c.summary).expect("summaries serialize"))
                    )),
                    "rollingGasSummary" => {
                        R::One(G::GasSummary(c.summary.epoch_rolling_gas_cost_summary))
                    }
                    "epoch" => R::One(G::Epoch),
                    _ => return unsupported(g, field),
                }
            }
            (G::Object(o) | G::DynamicField(o), "address") => R::Leaf(json!(o.id.to_string())),
            (G::Object(o) | G::DynamicField(o), "version") => R::Leaf(json!(o.version)),
            (G::Object(o) | G::DynamicField(o), "digest") => {
                R::Leaf(json!(bs58::encode(o.digest).into_string()))
            }
            (G::Object(o) | G::DynamicField(o), "owner") => R::One(G::Owner(o.owner)),
            (G::Object(o), "asMoveObject") => R::One(G::Object(o.clone())),
            (G::Object(_), "asMovePackage") => R::Null,
            (G::Object(o) | G::DynamicField(o), "contents") => R::One(self.object_value(o)),
            (G::Object(o) | G::DynamicField(o), "hasPublicTransfer") => {
                R::Leaf(json!(o.contents.has_public_transfer()))
            }
            (G::Object(o) | G::DynamicField(o), "previousTransaction") => {
                match self.engine.store.txs.get(&o.previous_tx) {
                    Some(r) => R::One(G::Transaction(Box::new(r.clone()), None)),
                    // genesis and the deployment are system transactions
                    None => R::Null,
                }
            }
            (G::Object(o) | G::DynamicField(o), "storageRebate") => {
                R::Leaf(json!(o.storage_rebate.to_string()))
            }
            (G::Object(o) | G::DynamicField(o), "objectBcs") => {
                R::Leaf(json!(BASE64.encode(o.to_ledger(&pkg).to_bcs())))
            }
            (G::Object(o) | G::DynamicField(o), "moveObjectBcs") => R::Leaf(json!(
                BASE64.encode(bcs::to_bytes(&o.move_object(&pkg)).expect("objects serialize"))
            )),
            (G::Object(o), f @ ("dynamicField" | "dynamicFields" | "objects" | "balance")) => {
                return self.resolve(&G::Address(o.id), f, args);
            }
            (G::DynamicField(o), "name") => match &o.contents {
                Contents::Field(f) => R::One(G::MoveValue(
                    crate::store::canonical_type(&crate::store::string_tag()),
                    MoveValue::String(f.name.clone()),
                )),
                _ => R::Null,
            },
            (G::DynamicField(o), "value") => match &o.contents {
                Contents::Field(f) => R::One(G::MoveValue(
                    crate::store::canonical_type(&crate::store::id_tag()),
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
                if normalize_type(t) != normalize_type("0x1::string::String") {
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
                match self.view().object(&id) {
                    Some(o) if o.owner == Owner::Object(*a) => {
                        R::One(G::DynamicField(Box::new(o.clone())))
                    }
                    _ => R::Null,
                }
            }
            (G::Address(a), "dynamicFields") => {
                let items = self
                    .view()
                    .fields_of(a)
                    .into_iter()
                    .map(|o| (o.id, id_cursor(&o.id), G::DynamicField(Box::new(o.clone()))))
                    .collect();
                R::One(connection(
                    "DynamicFieldConnection",
                    page(items, args, decode_id_cursor)?,
                ))
            }
            (G::Address(a), "objects") => {
                let t = args
                    .get("filter")
                    .and_then(|f| f.get("type"))
                    .and_then(Value::as_str)
                    .map(normalize_type);
                let owner: Address = (*a).into();
                let items = self
                    .view()
                    .owned_by(&owner)
                    .into_iter()
                    .filter(|o| {
                        t.as_ref().is_none_or(|t| {
                            *t == normalize_type(&canonical_struct(&o.contents.struct_tag(&pkg)))
                        })
                    })
                    .map(|o| (o.id, id_cursor(&o.id), G::Object(Box::new(o.clone()))))
                    .collect();
                R::One(connection(
                    "MoveObjectConnection",
                    page(items, args, decode_id_cursor)?,
                ))
            }
            (G::Address(a), "balance") => {
                let t = arg_str(args, "coinType")?;
                if normalize_type(t) != normalize_type("0x2::sui::SUI") {
                    return err("only 0x2::sui::SUI balances are modelled by daas-sandbox");
                }
                R::One(G::Balance((*a).into()))
            }
            (G::Balance(_), "coinType") => R::One(G::MoveType(normalize_type("0x2::sui::SUI"))),
            (G::Balance(a), "totalBalance" | "coinBalance") => {
                let total: u128 = self
                    .view()
                    .coins_of(a)
                    .into_iter()
                    .map(|o| match &o.contents {
                        Contents::Coin(c) => c.balance.value as u128,
                        _ => 0,
                    })
                    .sum();
                R::Leaf(json!(total.to_string()))
            }
            (G::Balance(_), "addressBalance") => R::Leaf(json!("0")),
            (G::Owner(Owner::Address(a)), "address") => R::One(G::Address((*a).into())),
            (G::Owner(Owner::Object(id)), "address") => R::One(G::Address(*id)),
            (G::Owner(Owner::Shared(v)), "initialSharedVersion") => R::Leaf(json!(v)),
            (G::Owner(Owner::Immutable), "_") => R::Null,
            (G::MoveValue(t, _), "type") => R::One(G::MoveType(t.clone())),
            (G::MoveValue(_, v), "json") => R::Leaf(v.to_graphql()),
            (G::MoveValue(_, v), "bcs") => R::Leaf(json!(BASE64.encode(v.to_bcs()))),
            // no Display objects exist on this chain (Sui answers null then)
            (G::MoveValue(..), "display") => R::Null,
            (G::MoveType(t), "repr") => R::Leaf(json!(t)),
            (G::Event(e), "sequenceNumber") => R::Leaf(json!(e.event_seq)),
            (G::Event(e), "timestamp") => R::Leaf(json!(iso(e.timestamp_ms))),
            (G::Event(e), "sender") => R::One(G::Address(e.sender.into())),
            (G::Event(e), "transaction") => match self.engine.store.txs.get(&e.tx_digest) {
                Some(r) => R::One(G::Transaction(Box::new(r.clone()), None)),
                None => R::Null,
            },
            (G::Event(e), "transactionModule") => R::One(G::MoveModule(pkg, e.module.clone())),
            (G::Event(e), "contents") => {
                let v = crate::store::event_value(&e.event, &pkg);
                R::One(G::MoveValue(canonical_struct(&e.to_ledger(&pkg).type_), v))
            }
            (G::Event(e), "eventBcs") => R::Leaf(json!(BASE64.encode(e.to_ledger(&pkg).to_bcs()))),
            (G::MoveModule(_, name), "name") => R::Leaf(json!(name)),
            (G::MoveModule(p, _), "package") => R::One(G::MovePackage(*p)),
            (G::MovePackage(p), "address") => R::Leaf(json!(p.to_string())),
            (G::MoveFunction(n), "name") => R::Leaf(json!(n)),
            (G::Signature(s), "signatureBytes") => R::Leaf(json!(s)),
            (G::Signature(_), "scheme") => R::Leaf(json!("ED25519")),
            (G::Transaction(r, _), "digest") => R::Leaf(json!(r.digest.to_string())),
            (G::Transaction(r, _), "transactionBcs") => R::Leaf(json!(BASE64.encode(&r.tx_bytes))),
            (G::Transaction(r, _), "signatures") => R::Many(
                r.signatures
                    .iter()
                    .map(|s| G::Signature(s.clone()))
                    .collect(),
            ),
            (G::Transaction(r, events), "effects") => match events {
                None => R::One(G::Effects(r.clone(), self.effects_events(r), true)),
                Some(ev) => R::One(G::Effects(r.clone(), ev.clone(), false)),
            },
            (G::Transaction(r, _), "sender") => R::One(G::Address(r.sender.into())),
            (G::ExecutionResult(r, ev), "effects") => {
                R::One(G::Effects(r.clone(), ev.clone(), false))
            }
            (G::Simulation(r, ev), "effects") => R::One(G::Effects(r.clone(), ev.clone(), false)),
            (G::Simulation(..), "outputs") => R::Many(vec![]),
            (G::Effects(r, _, _), "digest") => R::Leaf(json!(r.digest.to_string())),
            (G::Effects(r, _, _), "status") => {
                R::Leaf(json!(if r.is_success() { "SUCCESS" } else { "FAILURE" }))
            }
            (G::Effects(r, _, _), "executionError") => {
                if r.is_success() {
                    R::Null
                } else {
                    R::One(G::ExecutionError(r.clone()))
                }
            }
            (G::Effects(r, _, _), "gasEffects") => R::One(G::GasEffects(r.clone())),
            (G::Effects(r, _, _), "lamportVersion") => R::Leaf(json!(r.lamport_version)),
            (G::Effects(r, _, _), "effectsBcs") => {
                R::Leaf(json!(BASE64.encode(r.effects.to_bcs())))
            }
            (G::Effects(r, _, _), "effectsDigest") => {
                R::Leaf(json!(r.effects.digest().to_string()))
            }
            (G::Effects(_, _, _), "epoch") => R::One(G::Epoch),
            // null until the transaction is in a checkpoint the service has indexed
            (G::Effects(r, _, visible), "timestamp") => {
                if *visible
                    || r.checkpoint <= self.view().checkpoint
                        && self.engine.store.txs.contains_key(&r.digest)
                {
                    R::Leaf(json!(iso(r.timestamp_ms)))
                } else {
                    R::Null
                }
            }
            (G::Effects(r, _, visible), "checkpoint") => {
                if *visible
                    || r.checkpoint <= self.view().checkpoint
                        && self.engine.store.txs.contains_key(&r.digest)
                {
                    R::One(G::Checkpoint(r.checkpoint))
                } else {
                    R::Null
                }
            }
            (G::Effects(r, ev, visible), "transaction") => {
                R::One(G::Transaction(r.clone(), (!visible).then(|| ev.clone())))
            }
            (G::Effects(r, ev, _), "events") => {
                let items = ev
                    .iter()
                    .map(|e| {
                        (
                            e.event_seq,
                            json_cursor(
                                &json!({"t": self.tx_sequence(r.checkpoint), "e": e.event_seq}),
                            ),
                            G::Event(Box::new(e.clone())),
                        )
                    })
                    .collect();
                let decode = |c: &str| decode_event_cursor(c).map(|(_, e)| e);
                R::One(connection("EventConnection", page(items, args, decode)?))
            }
            (G::Effects(r, _, _), "objectChanges") => {
                let items = r
                    .changed
                    .iter()
                    .map(|c| {
                        (
                            c.id,
                            id_cursor(&c.id),
                            G::ObjectChange(r.clone(), c.clone()),
                        )
                    })
                    .collect();
                R::One(connection(
                    "ObjectChangeConnection",
                    page(items, args, decode_id_cursor)?,
                ))
            }
            (G::ObjectChange(_, c), "address") => R::Leaf(json!(c.id.to_string())),
            (G::ObjectChange(_, c), "idCreated") => R::Leaf(json!(c.is_created())),
            (G::ObjectChange(_, c), "idDeleted") => R::Leaf(json!(c.is_deleted())),
            (G::ObjectChange(r, c), "outputState") => match c.output {
                None => R::Null,
                Some(_) => self
                    .engine
                    .store
                    .history
                    .get(&c.id)
                    .and_then(|h| {
                        h.iter().find_map(|(_, s)| match s {
                            crate::store::Slot::Live(o) if o.version == r.lamport_version => {
                                Some(G::Object(o.clone()))
                            }
                            _ => None,
                        })
                    })
                    .map_or(R::Null, R::One),
            },
            (G::ExecutionError(r), f) => {
                let ExecutionStatus::Failure { error, .. } = &r.status else {
                    unreachable!("only failures have an execution error")
                };
                let abort = match error {
                    ExecutionFailureStatus::MoveAbort(loc, code) => Some((loc, *code)),
                    _ => None,
                };
                match (abort, f) {
                    (_, "message") => R::Leaf(json!(r.status.graphql_message())),
                    (Some((_, code)), "abortCode") => R::Leaf(json!(code.to_string())),
                    (Some((loc, _)), "function") => match &loc.function_name {
                        Some(n) => R::One(G::MoveFunction(n.clone())),
                        None => R::Null,
                    },
                    (Some((loc, _)), "module") => R::One(G::MoveModule(
                        loc.module.address.into(),
                        loc.module.name.clone(),
                    )),
                    (Some((loc, _)), "instructionOffset") => R::Leaf(json!(loc.instruction)),
                    // `identifier`, `constant` and `sourceLineNumber` come from clever
                    // errors (`#[error]` constants); the package's aborts are plain codes
                    (
                        _,
                        "abortCode" | "function" | "module" | "identifier" | "constant"
                        | "sourceLineNumber" | "instructionOffset",
                    ) => R::Null,
                    _ => return unsupported(g, f),
                }
            }
            (G::GasEffects(r), "gasSummary") => R::One(G::GasSummary(r.gas)),
            (G::GasEffects(r), "gasObject") => {
                let (gas_ref, _) = r.gas_object_ref();
                match self.engine.store.history.get(&gas_ref.id).and_then(|h| {
                    h.iter().find_map(|(_, s)| match s {
                        crate::store::Slot::Live(o) if o.version == gas_ref.version => Some(o),
                        _ => None,
                    })
                }) {
                    Some(o) => R::One(G::Object(o.clone())),
                    None => R::Null,
                }
            }
            (G::GasSummary(g), "computationCost") => R::Leaf(json!(g.computation_cost)),
            (G::GasSummary(g), "storageCost") => R::Leaf(json!(g.storage_cost)),
            (G::GasSummary(g), "storageRebate") => R::Leaf(json!(g.storage_rebate)),
            (G::GasSummary(g), "nonRefundableStorageFee") => {
                R::Leaf(json!(g.non_refundable_storage_fee))
            }
            (G::Connection(_, items, _, _), "nodes") => {
                R::Many(items.iter().map(|(_, g)| g.clone()).collect())
            }
            (G::Connection(t, items, _, _), "edges") => {
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
            (G::Connection(_, items, more, prev), "pageInfo") => R::One(G::PageInfo {
                has_next: *more,
                has_previous: *prev,
                start: items.first().map(|(c, _)| c.clone()),
                end: items.last().map(|(c, _)| c.clone()),
            }),
            (G::Edge(_, c, _), "cursor") => R::Leaf(json!(c)),
            (G::Edge(_, _, g), "node") => R::One((**g).clone()),
            (G::PageInfo { has_next, .. }, "hasNextPage") => R::Leaf(json!(has_next)),
            (G::PageInfo { has_previous, .. }, "hasPreviousPage") => R::Leaf(json!(has_previous)),
            (G::PageInfo { start, .. }, "startCursor") => {
                R::Leaf(start.clone().map_or(Value::Null, Value::from))
            }
            (G::PageInfo { end, .. }, "endCursor") => {
                R::Leaf(end.clone().map_or(Value::Null, Value::from))
            }
            _ => return unsupported(g, field),
        })
    }

    /// `@include(if:)` / `@skip(if:)`.
    fn included(&self, directives: &ast::DirectiveList) -> Result<bool, String> {
        for d in directives.iter() {
            let flag = |d: &ast::Directive| -> Result<bool, String> {
                let a = d
                    .arguments
                    .iter()
                    .find(|a| a.name == "if")
                    .ok_or_else(|| format!("@{} needs an `if` argument", d.name))?;
                match value(&self.variables, &a.value)? {
                    Value::Bool(b) => Ok(b),
                    other => err(format!("@{}(if:) must be a Boolean, got {other}", d.name)),
                }
            };
            match d.name.as_str() {
                "include" if !flag(d)? => return Ok(false),
                "skip" if flag(d)? => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
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
                    if !self.included(&f.directives)? {
                        continue;
                    }
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
                    if self.included(&fr.directives)?
                        && fr
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
                    if self.included(&s.directives)? && g.applies(fr.type_condition.as_str()) {
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

    #[test]
    fn type_strings_compare_in_full() {
        assert_eq!(
            super::normalize_type("0x2::coin::Coin<0x2::sui::SUI>"),
            super::normalize_type(
                "0x0000000000000000000000000000000000000000000000000000000000000002::coin::Coin<0x0000000000000000000000000000000000000000000000000000000000000002::sui::SUI>"
            )
        );
        assert_ne!(
            super::normalize_type("0x2::sui::SUI"),
            super::normalize_type("0x3::sui::SUI")
        );
    }
}
