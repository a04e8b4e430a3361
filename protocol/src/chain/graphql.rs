//! The GraphQL transport (`schema.graphql`): `POST {query, variables}`, BigInt as
//! strings, UInt53 as numbers, `DateTime` as ISO-8601, Base64 BCS.
//!
//! Every document sent is one of the constants below; the sandbox tests validate each
//! of them against Sui's schema.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::transport::{Attempt, ClientConfig, Transport, with_retries};
use super::{
    Chain, ChainError, ChainEvent, CoinInfo, EventCursor, EventPage, ObjectInfo, Owner, Page,
    Result, TableEntry, iso8601_ms, json_u64,
};
use crate::ids::{Address, ObjectId};
use crate::onchain::{self, RegistryEvent};
#[cfg(feature = "tx")]
use {
    super::{ChangeKind, ExecOutcome, ExecStatus, GasCost, ObjectChange},
    crate::sui::{TransactionDigest, UserSignature},
};

const PAGE: usize = 50;

/// The documents this client sends, by name (for the schema-validation tests).
pub const DOCUMENTS: &[(&str, &str)] = &[
    ("chain_identifier", CHAIN_IDENTIFIER),
    ("reference_gas_price", REFERENCE_GAS_PRICE),
    ("coins", COINS),
    ("object", OBJECT),
    ("table_entry", TABLE_ENTRY),
    ("table_entries", TABLE_ENTRIES),
    ("events", EVENTS),
    ("latest_checkpoint", LATEST_CHECKPOINT),
    ("simulate", SIMULATE),
    ("execute", EXECUTE),
    ("transaction", TRANSACTION),
    ("transaction_changes", TRANSACTION_CHANGES),
];

/// The owner selection every object document uses.
macro_rules! owner_fields {
    () => {
        "owner { __typename ... on AddressOwner { address { address } } ... on ObjectOwner { address { address } } ... on Shared { initialSharedVersion } ... on ConsensusAddressOwner { startVersion address { address } } }"
    };
}

const CHAIN_IDENTIFIER: &str = "query ChainIdentifier { chainIdentifier }";
const REFERENCE_GAS_PRICE: &str = "query ReferenceGasPrice { epoch { referenceGasPrice } }";
const COINS: &str = r#"query Coins($owner: SuiAddress!, $after: String) {
  address(address: $owner) {
    objects(first: 50, after: $after, filter: {type: "0x2::coin::Coin<0x2::sui::SUI>"}) {
      pageInfo { hasNextPage endCursor }
      nodes { address version digest contents { bcs } }
    }
  }
}"#;
const OBJECT: &str = concat!(
    "query Object($id: SuiAddress!) { object(address: $id) { address version digest ",
    owner_fields!(),
    " asMoveObject { contents { type { repr } bcs } } } }"
);
const TABLE_ENTRY: &str = r#"query TableEntry($table: SuiAddress!, $name: DynamicFieldName!) {
  address(address: $table) {
    dynamicField(name: $name) {
      address version
      name { bcs }
      value { ... on MoveValue { type { repr } bcs } }
    }
  }
}"#;
const TABLE_ENTRIES: &str = r#"query TableEntries($table: SuiAddress!, $after: String) {
  address(address: $table) {
    dynamicFields(first: 50, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        name { bcs }
        value { ... on MoveValue { bcs } }
      }
    }
  }
}"#;
const EVENTS: &str = r#"query Events($type: String!, $first: Int!, $after: String) {
  events(first: $first, after: $after, filter: {type: $type}) {
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        timestamp
        transaction { digest }
        contents { type { repr } bcs }
      }
    }
  }
}"#;
const LATEST_CHECKPOINT: &str = "query LatestCheckpoint { checkpoint { sequenceNumber } }";
/// The status and gas fields every transaction document selects.
macro_rules! status_fields {
    () => {
        "digest status executionError { message abortCode function { name } } gasEffects { gasSummary { computationCost storageCost storageRebate nonRefundableStorageFee } gasObject { address version digest "
    };
}
/// One page of object changes, with their output state and owner.
macro_rules! changes_fields {
    () => {
        concat!(
            "{ pageInfo { hasNextPage endCursor } nodes { address idCreated idDeleted outputState { version digest ",
            owner_fields!(),
            " } } }"
        )
    };
}
/// Everything an executed transaction's effects are read for.
macro_rules! effects_fields {
    () => {
        concat!(
            status_fields!(),
            owner_fields!(),
            " } } lamportVersion checkpoint { sequenceNumber } objectChanges(first: 50) ",
            changes_fields!()
        )
    };
}
const SIMULATE: &str = concat!(
    "query Simulate($tx: JSON!) { simulateTransaction(transaction: $tx, checksEnabled: true) { effects { ",
    status_fields!(),
    owner_fields!(),
    " } } } } }"
);
const EXECUTE: &str = concat!(
    "mutation Execute($tx: Base64!, $sigs: [Base64!]!) { executeTransaction(transactionDataBcs: $tx, signatures: $sigs) { effects { ",
    effects_fields!(),
    " } } }"
);
const TRANSACTION: &str = concat!(
    "query Transaction($digest: String!) { transaction(digest: $digest) { effects { ",
    effects_fields!(),
    " } } }"
);
const TRANSACTION_CHANGES: &str = concat!(
    "query TransactionChanges($digest: String!, $after: String) { transaction(digest: $digest) { effects { lamportVersion objectChanges(first: 50, after: $after) ",
    changes_fields!(),
    " } } }"
);

/// A Sui GraphQL RPC client over a list of endpoints.
pub struct GraphQlClient {
    t: Transport,
}

fn malformed(t: &Transport, i: usize, what: impl Into<String>) -> ChainError {
    ChainError::Malformed {
        endpoint: t.urls[i].clone(),
        what: what.into(),
    }
}

fn at<'a>(v: &'a Value, path: &[&str]) -> std::result::Result<&'a Value, String> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| format!("missing `{}`", path.join(".")))?;
    }
    Ok(cur)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> std::result::Result<&'a str, String> {
    at(v, path)?
        .as_str()
        .ok_or_else(|| format!("`{}` is not a string", path.join(".")))
}

fn u64_at(v: &Value, path: &[&str]) -> std::result::Result<u64, String> {
    json_u64(at(v, path)?).ok_or_else(|| format!("`{}` is not a u64", path.join(".")))
}

fn b64_at(v: &Value, path: &[&str]) -> std::result::Result<Vec<u8>, String> {
    BASE64
        .decode(str_at(v, path)?)
        .map_err(|_| format!("`{}` is not Base64", path.join(".")))
}

fn digest_at(v: &Value, path: &[&str]) -> std::result::Result<[u8; 32], String> {
    bs58::decode(str_at(v, path)?)
        .into_vec()
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("`{}` is not a Base58 digest", path.join(".")))
}

fn id_at(v: &Value, path: &[&str]) -> std::result::Result<ObjectId, String> {
    str_at(v, path)?
        .parse()
        .map_err(|e| format!("`{}`: {e}", path.join(".")))
}

fn parse_owner(owner: &Value) -> std::result::Result<Owner, String> {
    Ok(match str_at(owner, &["__typename"])? {
        "AddressOwner" => Owner::Address(id_at(owner, &["address", "address"])?.into()),
        "ObjectOwner" => Owner::Object(id_at(owner, &["address", "address"])?),
        "Shared" => Owner::Shared {
            initial_shared_version: u64_at(owner, &["initialSharedVersion"])?,
        },
        "Immutable" => Owner::Immutable,
        "ConsensusAddressOwner" => Owner::ConsensusAddress {
            owner: id_at(owner, &["address", "address"])?.into(),
            start_version: u64_at(owner, &["startVersion"])?,
        },
        other => return Err(format!("unknown owner type {other:?}")),
    })
}

pub(super) fn parse_object(o: &Value) -> std::result::Result<Option<ObjectInfo>, String> {
    if o.is_null() {
        return Ok(None);
    }
    let owner = parse_owner(at(o, &["owner"])?)?;
    let contents = at(o, &["asMoveObject", "contents"])?;
    Ok(Some(ObjectInfo {
        id: id_at(o, &["address"])?,
        version: u64_at(o, &["version"])?,
        digest: digest_at(o, &["digest"])?,
        owner,
        type_: str_at(contents, &["type", "repr"])?.to_string(),
        bcs: b64_at(contents, &["bcs"])?,
    }))
}

#[cfg(feature = "tx")]
fn parse_effects(e: &Value) -> std::result::Result<ExecOutcome, String> {
    let digest: TransactionDigest = str_at(e, &["digest"])?.parse()?;
    let status = match str_at(e, &["status"])? {
        "SUCCESS" => ExecStatus::Success,
        "FAILURE" => {
            let err = at(e, &["executionError"])?;
            let message = str_at(err, &["message"])
                .unwrap_or("(no message)")
                .to_string();
            match err.get("abortCode").and_then(json_u64) {
                Some(code) => ExecStatus::MoveAbort {
                    code,
                    function: err
                        .get("function")
                        .and_then(|f| f.get("name"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    command: message
                        .rsplit_once(" in command ")
                        .and_then(|(_, n)| n.trim().parse().ok()),
                },
                None => ExecStatus::Failure(message),
            }
        }
        other => return Err(format!("unknown status {other:?}")),
    };
    let g = at(e, &["gasEffects", "gasSummary"])?;
    let gas_object = match e["gasEffects"].get("gasObject") {
        None | Some(Value::Null) => None,
        Some(o) => Some(ObjectChange {
            id: id_at(o, &["address"])?,
            kind: ChangeKind::Mutated,
            version: u64_at(o, &["version"])?,
            digest: digest_at(o, &["digest"])?,
            owner: Some(parse_owner(at(o, &["owner"])?)?),
        }),
    };
    let checkpoint = match e.get("checkpoint") {
        None | Some(Value::Null) => None,
        Some(c) => Some(u64_at(c, &["sequenceNumber"])?),
    };
    let (changes, _) = match e.get("objectChanges") {
        None | Some(Value::Null) => (Vec::new(), None),
        Some(page) => parse_changes(page, e.get("lamportVersion"))?,
    };
    Ok(ExecOutcome {
        digest,
        status,
        gas: GasCost {
            computation: u64_at(g, &["computationCost"])?,
            storage: u64_at(g, &["storageCost"])?,
            rebate: u64_at(g, &["storageRebate"])?,
            non_refundable: u64_at(g, &["nonRefundableStorageFee"]).unwrap_or(0),
        },
        changes,
        gas_object,
        checkpoint,
    })
}

/// A page of `objectChanges` and the cursor of the next page. Deleted and wrapped
/// objects have no output state; their version is the transaction's Lamport version.
#[cfg(feature = "tx")]
fn parse_changes(
    page: &Value,
    lamport: Option<&Value>,
) -> std::result::Result<(Vec<ObjectChange>, Option<String>), String> {
    let lamport = lamport.and_then(json_u64);
    let nodes = at(page, &["nodes"])?
        .as_array()
        .ok_or("`objectChanges.nodes` is not a list")?;
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        let id = id_at(n, &["address"])?;
        let flag = |k: &str| n.get(k).and_then(Value::as_bool).unwrap_or(false);
        let change = match n.get("outputState") {
            Some(o) if !o.is_null() => ObjectChange {
                id,
                kind: if flag("idCreated") {
                    ChangeKind::Created
                } else {
                    ChangeKind::Mutated
                },
                version: u64_at(o, &["version"])?,
                digest: digest_at(o, &["digest"])?,
                owner: Some(parse_owner(at(o, &["owner"])?)?),
            },
            _ => ObjectChange {
                id,
                kind: if flag("idDeleted") {
                    ChangeKind::Deleted
                } else {
                    ChangeKind::Wrapped
                },
                version: lamport.ok_or("a deleted object but no `lamportVersion`")?,
                digest: [0; 32],
                owner: None,
            },
        };
        out.push(change);
    }
    let more = at(page, &["pageInfo", "hasNextPage"])?
        .as_bool()
        .ok_or("hasNextPage")?;
    let end = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    Ok((out, if more { end } else { None }))
}

impl GraphQlClient {
    /// A client for `config.endpoints` (each the full `/graphql` URL).
    pub fn new(config: ClientConfig) -> Result<Self> {
        Ok(GraphQlClient {
            t: Transport::new(config)?,
        })
    }

    /// One client per endpoint (for [`super::Quorum`]).
    pub fn split(&self) -> Vec<GraphQlClient> {
        (0..self.t.urls.len())
            .map(|i| GraphQlClient {
                t: self.t.single(i),
            })
            .collect()
    }

    async fn query_once(
        &self,
        i: usize,
        query: &str,
        variables: &Value,
        write: bool,
    ) -> std::result::Result<Value, Attempt> {
        let v = self
            .t
            .post(i, &json!({"query": query, "variables": variables}))
            .await?;
        if let Some(errors) = v
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let message = errors
                .iter()
                .map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)")
                })
                .collect::<Vec<_>>()
                .join("; ");
            let endpoint = self.t.urls[i].clone();
            if !write {
                return Err(Attempt::Fail(ChainError::Rpc {
                    endpoint,
                    code: 0,
                    message,
                }));
            }
            let kind = super::classify_rejection(None, &message);
            let retry = kind.is_retryable();
            let e = ChainError::Rejected {
                endpoint,
                message,
                kind,
            };
            return Err(if retry {
                Attempt::Retry(e)
            } else {
                Attempt::Fail(e)
            });
        }
        match v.get("data") {
            Some(d) if d.is_object() => Ok(d.clone()),
            _ => Err(Attempt::Retry(malformed(
                &self.t,
                i,
                "no `data` object and no `errors`",
            ))),
        }
    }

    async fn check_endpoint(&self, i: usize) -> std::result::Result<(), Attempt> {
        if self.t.is_verified(i) {
            return Ok(());
        }
        let d = self
            .query_once(i, CHAIN_IDENTIFIER, &json!({}), false)
            .await?;
        let got = str_at(&d, &["chainIdentifier"])
            .map_err(|w| Attempt::Retry(malformed(&self.t, i, w)))?;
        if got != self.t.chain_id.to_string() {
            tracing::warn!(endpoint = %self.t.urls[i], got, expected = %self.t.chain_id, "endpoint serves another chain");
            return Err(Attempt::Retry(ChainError::ChainMismatch {
                endpoint: self.t.urls[i].clone(),
                expected: self.t.chain_id,
                got: got.into(),
            }));
        }
        self.t.mark_verified(i);
        Ok(())
    }

    async fn query<T>(
        &self,
        name: &str,
        doc: &str,
        variables: Value,
        write: bool,
        parse: impl Fn(&Value) -> std::result::Result<T, String>,
    ) -> Result<T> {
        with_retries!(&self.t, |i| async {
            self.check_endpoint(i).await?;
            let d = self.query_once(i, doc, &variables, write).await?;
            parse(&d)
                .map_err(|what| Attempt::Retry(malformed(&self.t, i, format!("{name}: {what}"))))
        }
        .await)
    }
}

impl GraphQlClient {
    /// Runs a read document on endpoint `i` only (one attempt, no failover).
    #[cfg(feature = "tx")]
    async fn query_on<T>(
        &self,
        i: usize,
        name: &str,
        doc: &str,
        variables: &Value,
        parse: impl Fn(&Value) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let d = async {
            self.check_endpoint(i).await?;
            self.query_once(i, doc, variables, false).await
        }
        .await
        .map_err(|(Attempt::Retry(e) | Attempt::Fail(e))| e)?;
        parse(&d).map_err(|what| malformed(&self.t, i, format!("{name}: {what}")))
    }

    /// Adds the object changes past the first page (big batches), read back from
    /// `transaction(digest)`; stops quietly where the read path does not have the
    /// transaction yet (the caller then lacks those changes and re-reads instead).
    #[cfg(feature = "tx")]
    async fn more_changes(&self, out: &mut ExecOutcome, mut after: Option<String>) {
        while let Some(cursor) = after.take() {
            let vars = json!({"digest": out.digest.to_string(), "after": cursor});
            let page = self
                .query(
                    "transaction_changes",
                    TRANSACTION_CHANGES,
                    vars,
                    false,
                    |d| {
                        let e = at(d, &["transaction"])?;
                        if e.is_null() {
                            return Ok(None);
                        }
                        let e = at(e, &["effects"])?;
                        parse_changes(at(e, &["objectChanges"])?, e.get("lamportVersion")).map(Some)
                    },
                )
                .await;
            match page {
                Ok(Some((changes, next))) => {
                    out.changes.extend(changes);
                    after = next;
                }
                Ok(None) => {
                    tracing::debug!(digest = %out.digest, "more object changes not readable yet")
                }
                Err(e) => {
                    tracing::warn!(digest = %out.digest, error = %e, "reading more object changes failed")
                }
            }
        }
    }
}

/// One edge of an `events` connection: `{cursor, node: {contents, timestamp, transaction}}`.
pub(super) fn parse_event_edge(
    e: &Value,
    package: &ObjectId,
) -> std::result::Result<ChainEvent, String> {
    let node = at(e, &["node"])?;
    let type_ = str_at(node, &["contents", "type", "repr"])?.to_string();
    let bcs = b64_at(node, &["contents", "bcs"])?;
    let event = match onchain::struct_name_in(&type_, package) {
        Some(name) => RegistryEvent::decode(name, &bcs).map_err(|e| e.to_string())?,
        None => None,
    };
    let timestamp_ms = match node.get("timestamp") {
        Some(Value::String(s)) => {
            Some(iso8601_ms(s).ok_or_else(|| format!("timestamp {s:?} is not ISO-8601"))?)
        }
        _ => None,
    };
    Ok(ChainEvent {
        cursor: EventCursor(str_at(e, &["cursor"])?.to_string()),
        tx_digest: str_at(node, &["transaction", "digest"])?.parse()?,
        timestamp_ms,
        type_,
        bcs,
        event,
    })
}

/// The effects of `transaction(digest)` and the cursor of their next page of changes.
#[cfg(feature = "tx")]
pub(super) fn parse_transaction(
    d: &Value,
) -> std::result::Result<Option<(ExecOutcome, Option<String>)>, String> {
    let t = at(d, &["transaction"])?;
    if t.is_null() {
        return Ok(None);
    }
    let e = at(t, &["effects"])?;
    Ok(Some((parse_effects(e)?, next_changes_cursor(e))))
}

#[cfg(feature = "tx")]
fn next_changes_cursor(e: &Value) -> Option<String> {
    let info = e.get("objectChanges")?.get("pageInfo")?;
    if info.get("hasNextPage")?.as_bool()? {
        info.get("endCursor")?.as_str().map(str::to_string)
    } else {
        None
    }
}

impl Chain for GraphQlClient {
    fn describe(&self) -> String {
        format!("GraphQL {}", self.t.describe())
    }

    async fn verify_chain(&self) -> Result<()> {
        super::transport::verify_each(&self.t, |i| self.check_endpoint(i)).await
    }

    async fn reference_gas_price(&self) -> Result<u64> {
        self.query(
            "reference_gas_price",
            REFERENCE_GAS_PRICE,
            json!({}),
            false,
            |d| u64_at(d, &["epoch", "referenceGasPrice"]),
        )
        .await
    }

    async fn coins(&self, owner: Address) -> Result<Vec<CoinInfo>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let vars = json!({"owner": owner.to_string(), "after": after});
            let (coins, next) = self
                .query("coins", COINS, vars, false, |d| {
                    let conn = at(d, &["address", "objects"])?;
                    let nodes = at(conn, &["nodes"])?
                        .as_array()
                        .ok_or("`nodes` is not a list")?;
                    let coins = nodes
                        .iter()
                        .map(|n| {
                            let bcs = b64_at(n, &["contents", "bcs"])?;
                            let coin: onchain::Coin =
                                bcs::from_bytes(&bcs).map_err(|e| format!("coin BCS: {e}"))?;
                            Ok(CoinInfo {
                                id: id_at(n, &["address"])?,
                                version: u64_at(n, &["version"])?,
                                digest: digest_at(n, &["digest"])?,
                                balance: coin.balance.value,
                            })
                        })
                        .collect::<std::result::Result<Vec<_>, String>>()?;
                    let more = at(conn, &["pageInfo", "hasNextPage"])?
                        .as_bool()
                        .ok_or("hasNextPage")?;
                    let end = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
                    Ok((coins, if more { end } else { None }))
                })
                .await?;
            out.extend(coins);
            match next {
                Some(c) => after = Some(c),
                None => return Ok(out),
            }
        }
    }

    async fn object(&self, id: ObjectId) -> Result<Option<ObjectInfo>> {
        let o = self
            .query(
                "object",
                OBJECT,
                json!({"id": id.to_string()}),
                false,
                |d| parse_object(at(d, &["object"])?),
            )
            .await?;
        if let Some(o) = &o {
            if o.id != id {
                return Err(ChainError::Malformed {
                    endpoint: self.t.describe(),
                    what: format!("asked for {id}, got {}", o.id),
                });
            }
            self.t.observe(id, o.version)?;
        }
        Ok(o)
    }

    async fn table_entry(&self, table: ObjectId, key: &str) -> Result<Option<ObjectId>> {
        let name = json!({"type": "0x1::string::String", "bcs": BASE64.encode(bcs::to_bytes(key).expect("string"))});
        let vars = json!({"table": table.to_string(), "name": name});
        let found = self
            .query("table_entry", TABLE_ENTRY, vars, false, |d| {
                let f = at(d, &["address", "dynamicField"])?;
                if f.is_null() {
                    return Ok(None);
                }
                let key_bcs = b64_at(f, &["name", "bcs"])?;
                let got: String =
                    bcs::from_bytes(&key_bcs).map_err(|e| format!("name BCS: {e}"))?;
                if got != key {
                    return Err(format!("asked for key {key:?}, got {got:?}"));
                }
                let value = b64_at(f, &["value", "bcs"])?;
                let id = ObjectId::from_slice(&value).ok_or("value is not a 32-byte ID")?;
                Ok(Some((
                    id_at(f, &["address"])?,
                    u64_at(f, &["version"])?,
                    id,
                )))
            })
            .await?;
        match found {
            Some((field, version, value)) => {
                self.t.observe(field, version)?;
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }

    async fn table_entries(
        &self,
        table: ObjectId,
        cursor: Option<String>,
    ) -> Result<Page<TableEntry>> {
        let vars = json!({"table": table.to_string(), "after": cursor});
        self.query("table_entries", TABLE_ENTRIES, vars, false, |d| {
            let conn = at(d, &["address", "dynamicFields"])?;
            let nodes = at(conn, &["nodes"])?
                .as_array()
                .ok_or("`nodes` is not a list")?;
            let data = nodes
                .iter()
                .map(|n| {
                    let key: String = bcs::from_bytes(&b64_at(n, &["name", "bcs"])?)
                        .map_err(|e| format!("name BCS: {e}"))?;
                    let value = ObjectId::from_slice(&b64_at(n, &["value", "bcs"])?)
                        .ok_or("value is not a 32-byte ID")?;
                    Ok(TableEntry { key, value })
                })
                .collect::<std::result::Result<Vec<_>, String>>()?;
            let more = at(conn, &["pageInfo", "hasNextPage"])?
                .as_bool()
                .ok_or("hasNextPage")?;
            let end = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
            Ok(Page {
                data,
                next_cursor: if more { end } else { None },
            })
        })
        .await
    }

    async fn events(
        &self,
        package: ObjectId,
        cursor: Option<&EventCursor>,
        limit: usize,
    ) -> Result<EventPage> {
        let vars = json!({
            "type": format!("{package}::{}", onchain::MODULE),
            "first": limit.clamp(1, PAGE),
            "after": cursor.map(|c| c.0.clone()),
        });
        self.query("events", EVENTS, vars, false, |d| {
            let conn = at(d, &["events"])?;
            let edges = at(conn, &["edges"])?
                .as_array()
                .ok_or("`edges` is not a list")?;
            let events = edges
                .iter()
                .map(|e| parse_event_edge(e, &package))
                .collect::<std::result::Result<Vec<_>, String>>()?;
            let has_next_page = at(conn, &["pageInfo", "hasNextPage"])?
                .as_bool()
                .ok_or("hasNextPage")?;
            let next_cursor = match events.last() {
                Some(e) => Some(e.cursor.clone()),
                None => cursor.cloned(),
            };
            Ok(EventPage {
                events,
                next_cursor,
                has_next_page,
            })
        })
        .await
    }

    async fn latest_checkpoint(&self) -> Result<u64> {
        self.query(
            "latest_checkpoint",
            LATEST_CHECKPOINT,
            json!({}),
            false,
            |d| u64_at(d, &["checkpoint", "sequenceNumber"]),
        )
        .await
    }

    #[cfg(feature = "tx")]
    async fn dry_run(&self, tx_bytes: &[u8]) -> Result<ExecOutcome> {
        let vars = json!({"tx": {"bcs": {"value": BASE64.encode(tx_bytes)}}});
        self.query("simulate", SIMULATE, vars, true, |d| {
            parse_effects(at(d, &["simulateTransaction", "effects"])?)
        })
        .await
    }

    #[cfg(feature = "tx")]
    async fn execute(&self, tx_bytes: &[u8], signatures: &[UserSignature]) -> Result<ExecOutcome> {
        let sigs: Vec<String> = signatures.iter().map(UserSignature::to_base64).collect();
        let vars = json!({"tx": BASE64.encode(tx_bytes), "sigs": sigs});
        let (mut out, after) = self
            .query("execute", EXECUTE, vars, true, |d| {
                let e = at(d, &["executeTransaction", "effects"])?;
                Ok((parse_effects(e)?, next_changes_cursor(e)))
            })
            .await?;
        self.more_changes(&mut out, after).await;
        Ok(out)
    }

    #[cfg(feature = "tx")]
    async fn transaction(&self, digest: &TransactionDigest) -> Result<Option<ExecOutcome>> {
        let found = self
            .query(
                "transaction",
                TRANSACTION,
                json!({"digest": digest.to_string()}),
                false,
                parse_transaction,
            )
            .await?;
        Ok(match found {
            Some((mut out, after)) => {
                self.more_changes(&mut out, after).await;
                Some(out)
            }
            None => None,
        })
    }

    #[cfg(feature = "tx")]
    async fn wait_for_transaction(
        &self,
        digest: &TransactionDigest,
        deadline: tokio::time::Instant,
    ) -> Result<ExecOutcome> {
        let vars = json!({"digest": digest.to_string()});
        let probe = |i: usize| {
            let vars = &vars;
            async move {
                let Some((out, _)) = self
                    .query_on(i, "transaction", TRANSACTION, vars, parse_transaction)
                    .await?
                else {
                    return Ok(None);
                };
                let Some(cp) = out.checkpoint else {
                    return Ok(None);
                };
                let latest = self
                    .query_on(i, "latest_checkpoint", LATEST_CHECKPOINT, &json!({}), |d| {
                        u64_at(d, &["checkpoint", "sequenceNumber"])
                    })
                    .await?;
                Ok((latest >= cp).then_some(out))
            }
        };
        super::transport::wait_on_each_endpoint(&self.t, digest, deadline, probe).await
    }
}
