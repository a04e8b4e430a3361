//! The JSON-RPC transport (`openrpc.json`): positional params, u64 as strings,
//! not-found objects as results, execution failures inside `effects.status`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::transport::{Attempt, ClientConfig, Transport, with_retries};
use super::{
    Chain, ChainError, ChainEvent, CoinInfo, EventCursor, EventPage, ObjectInfo, Owner, Page,
    Result, TableEntry, json_u64,
};
use crate::ids::{Address, ObjectId};
use crate::onchain::{self, RegistryEvent};
use crate::sui::TransactionDigest;
#[cfg(feature = "tx")]
use {
    super::{ChangeKind, ExecOutcome, ExecStatus, GasCost, ObjectChange},
    crate::sui::UserSignature,
};

/// JSON-RPC error codes of Sui (SUI-WIRE §2): -32002 rejected before execution
/// (fullnode JSON-RPC), -32602 invalid params (today's service also sends execution
/// refusals as "Invalid Params: Transaction execution failed: …"), -32000 refused by
/// validators, -32050 retryable, -32604 timed out.
const TX_REJECTED: i64 = -32002;
const INVALID_PARAMS: i64 = -32602;
const SERVER_ERROR: i64 = -32000;
const RETRYABLE: i64 = -32050;
const TIMED_OUT: i64 = -32604;
const PAGE: usize = 50;

/// The methods whose errors are refusals of a transaction.
const WRITE_METHODS: [&str; 2] = ["sui_executeTransactionBlock", "sui_dryRunTransactionBlock"];

/// A Sui JSON-RPC client over a list of endpoints.
pub struct JsonRpcClient {
    t: Transport,
}

fn malformed(t: &Transport, i: usize, what: impl Into<String>) -> ChainError {
    ChainError::Malformed {
        endpoint: t.urls[i].clone(),
        what: what.into(),
    }
}

impl JsonRpcClient {
    /// A client for `config.endpoints`; no request is made yet.
    pub fn new(config: ClientConfig) -> Result<Self> {
        Ok(JsonRpcClient {
            t: Transport::new(config)?,
        })
    }

    /// One client per endpoint (for [`super::Quorum`]).
    pub fn split(&self) -> Vec<JsonRpcClient> {
        (0..self.t.urls.len())
            .map(|i| JsonRpcClient {
                t: self.t.single(i),
            })
            .collect()
    }

    async fn call_once(
        &self,
        i: usize,
        method: &str,
        params: &Value,
    ) -> std::result::Result<Value, Attempt> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let v = self.t.post(i, &body).await?;
        if let Some(err) = v.get("error") {
            let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .to_string();
            let endpoint = self.t.urls[i].clone();
            let write = WRITE_METHODS.contains(&method);
            return Err(match code {
                RETRYABLE | TIMED_OUT => Attempt::Retry(ChainError::Unavailable {
                    endpoint,
                    reason: message,
                }),
                TX_REJECTED | INVALID_PARAMS | SERVER_ERROR if write => {
                    let kind = super::classify_rejection(Some(code), &message);
                    if kind.is_retryable() {
                        // the same signed bytes again are safe (Sui executes them once)
                        Attempt::Retry(ChainError::Rejected {
                            endpoint,
                            message,
                            kind,
                        })
                    } else {
                        Attempt::Fail(ChainError::Rejected {
                            endpoint,
                            message,
                            kind,
                        })
                    }
                }
                _ => Attempt::Fail(ChainError::Rpc {
                    endpoint,
                    code,
                    message,
                }),
            });
        }
        match v.get("result") {
            Some(r) => Ok(r.clone()),
            None => Err(Attempt::Retry(malformed(
                &self.t,
                i,
                format!("{method}: neither result nor error"),
            ))),
        }
    }

    async fn check_endpoint(&self, i: usize) -> std::result::Result<(), Attempt> {
        if self.t.is_verified(i) {
            return Ok(());
        }
        let r = self
            .call_once(i, "sui_getChainIdentifier", &json!([]))
            .await?;
        let got = r.as_str().ok_or_else(|| {
            Attempt::Retry(malformed(
                &self.t,
                i,
                "sui_getChainIdentifier: not a string",
            ))
        })?;
        if !self.t.chain_id.matches_jsonrpc_identifier(got) {
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

    /// Calls `method` on endpoint `i` only (one attempt, no failover), after the chain
    /// check.
    #[cfg(feature = "tx")]
    async fn call_on<T>(
        &self,
        i: usize,
        method: &str,
        params: &Value,
        parse: impl Fn(&Value) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let r = async {
            self.check_endpoint(i).await?;
            self.call_once(i, method, params).await
        }
        .await
        .map_err(|(Attempt::Retry(e) | Attempt::Fail(e))| e)?;
        parse(&r).map_err(|what| malformed(&self.t, i, format!("{method}: {what}")))
    }

    /// Calls `method` with retries and failover, after the chain check; `parse` turns
    /// the result into `T` or says what is malformed.
    async fn call<T>(
        &self,
        method: &str,
        params: Value,
        parse: impl Fn(&Value) -> std::result::Result<T, String>,
    ) -> Result<T> {
        with_retries!(&self.t, |i| async {
            self.check_endpoint(i).await?;
            let r = self.call_once(i, method, &params).await?;
            parse(&r)
                .map_err(|what| Attempt::Retry(malformed(&self.t, i, format!("{method}: {what}"))))
        }
        .await)
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> std::result::Result<&'a str, String> {
    v.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string `{k}`"))
}

fn u64_field(v: &Value, k: &str) -> std::result::Result<u64, String> {
    v.get(k)
        .and_then(json_u64)
        .ok_or_else(|| format!("missing u64 `{k}`"))
}

fn digest_field(v: &Value, k: &str) -> std::result::Result<[u8; 32], String> {
    let s = str_field(v, k)?;
    bs58::decode(s)
        .into_vec()
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("`{k}` is not a Base58 digest"))
}

fn id_field(v: &Value, k: &str) -> std::result::Result<ObjectId, String> {
    str_field(v, k)?.parse().map_err(|e| format!("`{k}`: {e}"))
}

fn parse_owner(v: &Value) -> std::result::Result<Owner, String> {
    if v.as_str() == Some("Immutable") {
        return Ok(Owner::Immutable);
    }
    if let Some(a) = v.get("AddressOwner") {
        return Ok(Owner::Address(
            a.as_str()
                .ok_or("AddressOwner")?
                .parse()
                .map_err(|e| format!("{e}"))?,
        ));
    }
    if let Some(a) = v.get("ObjectOwner") {
        return Ok(Owner::Object(
            a.as_str()
                .ok_or("ObjectOwner")?
                .parse()
                .map_err(|e| format!("{e}"))?,
        ));
    }
    if let Some(s) = v.get("Shared") {
        return Ok(Owner::Shared {
            initial_shared_version: u64_field(s, "initial_shared_version")?,
        });
    }
    if let Some(c) = v.get("ConsensusAddressOwner") {
        return Ok(Owner::ConsensusAddress {
            owner: id_field(c, "owner")?.into(),
            start_version: u64_field(c, "start_version")?,
        });
    }
    Err(format!("unknown owner {v}"))
}

/// `SuiObjectResponse` → object, `None` for notExists/deleted.
pub(super) fn parse_object_response(v: &Value) -> std::result::Result<Option<ObjectInfo>, String> {
    if let Some(err) = v.get("error") {
        return match err.get("code").and_then(Value::as_str) {
            Some("notExists" | "deleted" | "dynamicFieldNotFound") => Ok(None),
            other => Err(format!("object error {other:?}: {err}")),
        };
    }
    let d = v.get("data").ok_or("neither data nor error")?;
    let bcs = d.get("bcs").ok_or("no `bcs` (showBcs)")?;
    if bcs.get("dataType").and_then(Value::as_str) != Some("moveObject") {
        return Err("`bcs.dataType` is not moveObject".into());
    }
    Ok(Some(ObjectInfo {
        id: id_field(d, "objectId")?,
        version: u64_field(d, "version")?,
        digest: digest_field(d, "digest")?,
        owner: parse_owner(d.get("owner").ok_or("no `owner` (showOwner)")?)?,
        type_: str_field(bcs, "type")?.to_string(),
        bcs: BASE64
            .decode(str_field(bcs, "bcsBytes")?)
            .map_err(|_| "`bcsBytes` is not Base64".to_string())?,
    }))
}

const OBJECT_OPTIONS: &str = r#"{"showType":true,"showOwner":true,"showBcs":true}"#;

pub(super) fn parse_event(
    v: &Value,
    package: &ObjectId,
) -> std::result::Result<ChainEvent, String> {
    let id = v.get("id").ok_or("event without `id`")?;
    let tx_digest: TransactionDigest = str_field(id, "txDigest")?.parse()?;
    u64_field(id, "eventSeq")?;
    let type_ = str_field(v, "type")?.to_string();
    if v.get("bcsEncoding")
        .and_then(Value::as_str)
        .is_some_and(|e| e != "base64")
    {
        return Err("event `bcsEncoding` is not base64".into());
    }
    let bcs = BASE64
        .decode(str_field(v, "bcs")?)
        .map_err(|_| "event `bcs` is not Base64".to_string())?;
    let event = match onchain::struct_name_in(&type_, package) {
        Some(name) => RegistryEvent::decode(name, &bcs).map_err(|e| e.to_string())?,
        None => None,
    };
    Ok(ChainEvent {
        cursor: EventCursor(id.to_string()),
        tx_digest,
        timestamp_ms: v.get("timestampMs").and_then(json_u64),
        type_,
        bcs,
        event,
    })
}

/// `{owner, reference: {objectId, version, digest}}` of created/mutated/unwrapped
/// objects and the gas object.
#[cfg(feature = "tx")]
fn parse_owned_ref(v: &Value, kind: ChangeKind) -> std::result::Result<ObjectChange, String> {
    let r = v
        .get("reference")
        .ok_or("object change without `reference`")?;
    Ok(ObjectChange {
        id: id_field(r, "objectId")?,
        kind,
        version: u64_field(r, "version")?,
        digest: digest_field(r, "digest")?,
        owner: Some(parse_owner(
            v.get("owner").ok_or("object change without `owner`")?,
        )?),
    })
}

/// The object changes of JSON-RPC effects, in the order the node lists them.
#[cfg(feature = "tx")]
fn parse_changes(effects: &Value) -> std::result::Result<Vec<ObjectChange>, String> {
    let mut out = Vec::new();
    let list = |k: &str| -> std::result::Result<&[Value], String> {
        match effects.get(k) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(format!("`effects.{k}` is not a list")),
        }
    };
    for (k, kind) in [
        ("created", ChangeKind::Created),
        ("mutated", ChangeKind::Mutated),
        ("unwrapped", ChangeKind::Mutated),
    ] {
        for v in list(k)? {
            out.push(parse_owned_ref(v, kind)?);
        }
    }
    for (k, kind) in [
        ("deleted", ChangeKind::Deleted),
        ("unwrappedThenDeleted", ChangeKind::Deleted),
        ("wrapped", ChangeKind::Wrapped),
    ] {
        for v in list(k)? {
            out.push(ObjectChange {
                id: id_field(v, "objectId")?,
                kind,
                version: u64_field(v, "version")?,
                digest: digest_field(v, "digest").unwrap_or([0; 32]),
                owner: None,
            });
        }
    }
    Ok(out)
}

#[cfg(feature = "tx")]
pub(super) fn parse_effects(v: &Value) -> std::result::Result<ExecOutcome, String> {
    let effects = v.get("effects").ok_or("no `effects`")?;
    let digest: TransactionDigest = str_field(effects, "transactionDigest")
        .or_else(|_| str_field(v, "digest"))?
        .parse()?;
    let status = effects.get("status").ok_or("no `effects.status`")?;
    let status = match str_field(status, "status")? {
        "success" => ExecStatus::Success,
        "failure" => {
            let error = str_field(status, "error").unwrap_or("(no error text)");
            parse_failure(error, effects.get("abortError"))
        }
        other => return Err(format!("unknown status {other:?}")),
    };
    let g = effects.get("gasUsed").ok_or("no `effects.gasUsed`")?;
    let gas_object = match effects.get("gasObject") {
        None | Some(Value::Null) => None,
        Some(o) => Some(parse_owned_ref(o, ChangeKind::Mutated)?),
    };
    let checkpoint = match v.get("checkpoint") {
        None | Some(Value::Null) => None,
        Some(c) => Some(json_u64(c).ok_or("`checkpoint` is not a u64")?),
    };
    Ok(ExecOutcome {
        digest,
        status,
        gas: GasCost {
            computation: u64_field(g, "computationCost")?,
            storage: u64_field(g, "storageCost")?,
            rebate: u64_field(g, "storageRebate")?,
            non_refundable: u64_field(g, "nonRefundableStorageFee").unwrap_or(0),
        },
        changes: parse_changes(effects)?,
        gas_object,
        checkpoint,
    })
}

/// `MoveAbort(MoveLocation { …, function_name: Some("f") }, 7) in command 1`: the
/// abort code is the last number inside `MoveAbort(...)` (SUI-WIRE §2).
#[cfg(feature = "tx")]
pub(crate) fn parse_failure(error: &str, abort_error: Option<&Value>) -> ExecStatus {
    let command = error
        .rsplit_once(" in command ")
        .and_then(|(_, n)| n.trim().parse().ok());
    if let Some(ae) = abort_error.filter(|a| !a.is_null())
        && let Some(code) = ae.get("error_code").and_then(json_u64)
    {
        return ExecStatus::MoveAbort {
            code,
            function: ae
                .get("function")
                .and_then(Value::as_str)
                .map(str::to_string),
            command,
        };
    }
    if let Some(rest) = error.strip_prefix("MoveAbort(") {
        let body = rest.rsplit_once(')').map(|(b, _)| b).unwrap_or(rest);
        let code = body
            .rsplit_once(", ")
            .and_then(|(_, c)| c.trim().parse().ok());
        let function = body
            .split_once("function_name: Some(\"")
            .and_then(|(_, f)| f.split_once('"'))
            .map(|(f, _)| f.to_string());
        if let Some(code) = code {
            return ExecStatus::MoveAbort {
                code,
                function,
                command,
            };
        }
    }
    ExecStatus::Failure(error.to_string())
}

impl Chain for JsonRpcClient {
    fn describe(&self) -> String {
        format!("JSON-RPC {}", self.t.describe())
    }

    async fn verify_chain(&self) -> Result<()> {
        super::transport::verify_each(&self.t, |i| self.check_endpoint(i)).await
    }

    async fn reference_gas_price(&self) -> Result<u64> {
        self.call("suix_getReferenceGasPrice", json!([]), |r| {
            json_u64(r).ok_or_else(|| "not a u64".to_string())
        })
        .await
    }

    async fn coins(&self, owner: Address) -> Result<Vec<CoinInfo>> {
        let mut out = Vec::new();
        let mut cursor = Value::Null;
        loop {
            let params = json!([owner.to_string(), "0x2::sui::SUI", cursor, PAGE]);
            let (page, next) = self
                .call("suix_getCoins", params, |r| {
                    let data = r
                        .get("data")
                        .and_then(Value::as_array)
                        .ok_or("no `data` array")?;
                    let coins = data
                        .iter()
                        .map(|c| {
                            Ok(CoinInfo {
                                id: id_field(c, "coinObjectId")?,
                                version: u64_field(c, "version")?,
                                digest: digest_field(c, "digest")?,
                                balance: u64_field(c, "balance")?,
                            })
                        })
                        .collect::<std::result::Result<Vec<_>, String>>()?;
                    let more = r
                        .get("hasNextPage")
                        .and_then(Value::as_bool)
                        .ok_or("no `hasNextPage`")?;
                    let next = r.get("nextCursor").cloned().unwrap_or(Value::Null);
                    Ok((coins, more.then_some(next)))
                })
                .await?;
            out.extend(page);
            match next {
                Some(c) if !c.is_null() => cursor = c,
                _ => return Ok(out),
            }
        }
    }

    async fn object(&self, id: ObjectId) -> Result<Option<ObjectInfo>> {
        let options: Value = serde_json::from_str(OBJECT_OPTIONS).expect("constant JSON");
        let o = self
            .call(
                "sui_getObject",
                json!([id.to_string(), options]),
                parse_object_response,
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
        let name = json!({"type": "0x1::string::String", "value": key});
        let field = self
            .call(
                "suix_getDynamicFieldObject",
                json!([table.to_string(), name]),
                parse_object_response,
            )
            .await?;
        let Some(field) = field else { return Ok(None) };
        self.t.observe(field.id, field.version)?;
        let f: onchain::Field<String, ObjectId> =
            field.decode("dynamic_field::Field<String, ID>")?;
        if f.name != key {
            return Err(ChainError::Malformed {
                endpoint: self.t.describe(),
                what: format!("dynamic field for {key:?} holds key {:?}", f.name),
            });
        }
        Ok(Some(f.value))
    }

    async fn table_entries(
        &self,
        table: ObjectId,
        cursor: Option<String>,
    ) -> Result<Page<TableEntry>> {
        let page = self
            .call(
                "suix_getDynamicFields",
                json!([table.to_string(), cursor, PAGE]),
                |r| {
                    let data = r
                        .get("data")
                        .and_then(Value::as_array)
                        .ok_or("no `data` array")?;
                    let entries = data
                        .iter()
                        .map(|e| {
                            let name = e.get("name").ok_or("entry without `name`")?;
                            let key = name
                                .get("value")
                                .and_then(Value::as_str)
                                .ok_or("name.value is not a string")?;
                            Ok(TableEntry {
                                key: key.to_string(),
                                // The value of a Table<String, ID> entry is read from the field object;
                                // `objectId` here is the field's own id.
                                value: id_field(e, "objectId")?,
                            })
                        })
                        .collect::<std::result::Result<Vec<_>, String>>()?;
                    let more = r
                        .get("hasNextPage")
                        .and_then(Value::as_bool)
                        .ok_or("no `hasNextPage`")?;
                    let next = r
                        .get("nextCursor")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    Ok(Page {
                        data: entries,
                        next_cursor: if more { next } else { None },
                    })
                },
            )
            .await?;
        // `objectId` of a listed entry is the field object's id; its value (the
        // Worker id) is inside it: read the page's field objects in one call.
        let ids: Vec<String> = page.data.iter().map(|e| e.value.to_string()).collect();
        let options: Value = serde_json::from_str(OBJECT_OPTIONS).expect("constant JSON");
        let fields = self
            .call("sui_multiGetObjects", json!([ids, options]), |r| {
                r.as_array()
                    .ok_or("not an array")?
                    .iter()
                    .map(parse_object_response)
                    .collect::<std::result::Result<Vec<_>, String>>()
            })
            .await?;
        if fields.len() != page.data.len() {
            return Err(ChainError::Malformed {
                endpoint: self.t.describe(),
                what: format!(
                    "asked for {} field objects, got {}",
                    page.data.len(),
                    fields.len()
                ),
            });
        }
        let mut data = Vec::with_capacity(fields.len());
        for (entry, field) in page.data.into_iter().zip(fields) {
            let field = field.ok_or_else(|| ChainError::Malformed {
                endpoint: self.t.describe(),
                what: format!(
                    "table entry {:?} listed but its field object is gone",
                    entry.key
                ),
            })?;
            let f: onchain::Field<String, ObjectId> =
                field.decode("dynamic_field::Field<String, ID>")?;
            if f.name != entry.key {
                return Err(ChainError::Malformed {
                    endpoint: self.t.describe(),
                    what: format!(
                        "field {} holds key {:?}, listed as {:?}",
                        field.id, f.name, entry.key
                    ),
                });
            }
            data.push(TableEntry {
                key: f.name,
                value: f.value,
            });
        }
        Ok(Page {
            data,
            next_cursor: page.next_cursor,
        })
    }

    async fn events(
        &self,
        package: ObjectId,
        cursor: Option<&EventCursor>,
        limit: usize,
    ) -> Result<EventPage> {
        let cursor_json = match cursor {
            Some(c) => serde_json::from_str::<Value>(&c.0)
                .map_err(|_| ChainError::Config(format!("event cursor {:?} is not a JSON-RPC EventID (was it written by a GraphQL client?)", c.0)))?,
            None => Value::Null,
        };
        let filter =
            json!({"MoveEventModule": {"package": package.to_string(), "module": onchain::MODULE}});
        let limit = limit.clamp(1, PAGE);
        self.call(
            "suix_queryEvents",
            json!([filter, cursor_json, limit, false]),
            |r| {
                let data = r
                    .get("data")
                    .and_then(Value::as_array)
                    .ok_or("no `data` array")?;
                let events = data
                    .iter()
                    .map(|e| parse_event(e, &package))
                    .collect::<std::result::Result<Vec<_>, String>>()?;
                let has_next_page = r
                    .get("hasNextPage")
                    .and_then(Value::as_bool)
                    .ok_or("no `hasNextPage`")?;
                let next_cursor = match events.last() {
                    Some(e) => Some(e.cursor.clone()),
                    None => cursor.cloned(),
                };
                Ok(EventPage {
                    events,
                    next_cursor,
                    has_next_page,
                })
            },
        )
        .await
    }

    async fn latest_checkpoint(&self) -> Result<u64> {
        self.call("sui_getLatestCheckpointSequenceNumber", json!([]), |r| {
            json_u64(r).ok_or_else(|| "not a u64".to_string())
        })
        .await
    }

    #[cfg(feature = "tx")]
    async fn dry_run(&self, tx_bytes: &[u8]) -> Result<ExecOutcome> {
        self.call(
            "sui_dryRunTransactionBlock",
            json!([BASE64.encode(tx_bytes)]),
            parse_effects,
        )
        .await
    }

    #[cfg(feature = "tx")]
    async fn execute(&self, tx_bytes: &[u8], signatures: &[UserSignature]) -> Result<ExecOutcome> {
        let sigs: Vec<String> = signatures.iter().map(UserSignature::to_base64).collect();
        // Today's service refuses `WaitForLocalExecution` (-32602 "…mode is
        // deprecated"); effects come with `WaitForEffectsCert` (object and balance
        // changes would need local execution on older fullnodes, so they are not asked).
        let params = json!([
            BASE64.encode(tx_bytes),
            sigs,
            {"showEffects": true},
            "WaitForEffectsCert"
        ]);
        // Execution is idempotent on Sui (same bytes, same digest), so retrying on
        // another endpoint after a timeout is safe.
        self.call("sui_executeTransactionBlock", params, parse_effects)
            .await
    }

    #[cfg(feature = "tx")]
    async fn transaction(&self, digest: &TransactionDigest) -> Result<Option<ExecOutcome>> {
        let params = json!([digest.to_string(), {"showEffects": true}]);
        not_found_is_none(
            self.call("sui_getTransactionBlock", params, parse_effects)
                .await,
        )
    }

    #[cfg(feature = "tx")]
    async fn wait_for_transaction(
        &self,
        digest: &TransactionDigest,
        deadline: tokio::time::Instant,
    ) -> Result<ExecOutcome> {
        let params = json!([digest.to_string(), {"showEffects": true}]);
        let probe = |i: usize| {
            let params = &params;
            async move {
                let Some(out) = not_found_is_none(
                    self.call_on(i, "sui_getTransactionBlock", params, parse_effects)
                        .await,
                )?
                else {
                    return Ok(None);
                };
                let Some(cp) = out.checkpoint else {
                    return Ok(None);
                };
                let latest = self
                    .call_on(
                        i,
                        "sui_getLatestCheckpointSequenceNumber",
                        &json!([]),
                        |r| json_u64(r).ok_or_else(|| "not a u64".to_string()),
                    )
                    .await?;
                Ok((latest >= cp).then_some(out))
            }
        };
        super::transport::wait_on_each_endpoint(&self.t, digest, deadline, probe).await
    }
}

/// `sui_getTransactionBlock` answers an unknown digest with -32602 "Could not find
/// the referenced transaction".
#[cfg(feature = "tx")]
fn not_found_is_none<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(o) => Ok(Some(o)),
        Err(ChainError::Rpc { code: -32602, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(all(test, feature = "tx"))]
mod tests {
    use super::*;

    #[test]
    fn move_abort_strings_give_code_function_and_command() {
        let e = "MoveAbort(MoveLocation { module: ModuleId { address: 0000000000000000000000000000000000000000000000000000000000000abc, name: Identifier(\"worker_registry\") }, function: 5, instruction: 83, function_name: Some(\"set_join_token\") }, 10) in command 1";
        assert_eq!(
            parse_failure(e, None),
            ExecStatus::MoveAbort {
                code: 10,
                function: Some("set_join_token".into()),
                command: Some(1)
            }
        );
        let with_abort_error = json!({"module_id": "0xabc::worker_registry", "function": "slash", "line": 3, "error_code": "11"});
        assert_eq!(
            parse_failure("MoveAbort(...) in command 0", Some(&with_abort_error)),
            ExecStatus::MoveAbort {
                code: 11,
                function: Some("slash".into()),
                command: Some(0)
            }
        );
        assert_eq!(
            parse_failure("InsufficientGas", None),
            ExecStatus::Failure("InsufficientGas".into())
        );
    }
}
