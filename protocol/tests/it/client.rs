//! Transport behaviour of the Sui clients against scripted HTTP servers on
//! 127.0.0.1:0: failover and backoff, malformed answers, chain pinning, stale reads,
//! quorum agreement, typed execution outcomes. (The answers' shapes against the real
//! specs, and the clients against the sandbox chain, are tested in daas-sandbox.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::chain::{
    Chain, ChainError, ClientConfig, ExecStatus, GraphQlClient, JsonRpcClient, Quorum, RetryPolicy,
};
use daas_protocol::{ChainId, ObjectId};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Handler = Arc<dyn Fn(&Value) -> (u16, String) + Send + Sync>;

/// An HTTP/1.1 server answering each POSTed JSON body with `handler`; counts requests.
async fn serve(handler: Handler) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h2 = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let handler = Arc::clone(&handler);
            let hits = Arc::clone(&h2);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // read one request
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Value =
                        serde_json::from_slice(&buf[head_end..head_end + len]).unwrap();
                    buf.drain(..head_end + len);
                    hits.fetch_add(1, Ordering::SeqCst);
                    let (status, out) = handler(&body);
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{out}",
                        out.len()
                    );
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), hits)
}

const CHAIN: ChainId = ChainId([
    0x35, 0x83, 0x4a, 0x8a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    21, 22, 23, 24, 25, 26, 27, 28,
]);

fn config(endpoints: Vec<String>) -> ClientConfig {
    ClientConfig {
        endpoints,
        chain_id: CHAIN,
        retry: RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            request_timeout: Duration::from_secs(5),
        },
    }
}

fn rpc_result(body: &Value, result: Value) -> (u16, String) {
    (
        200,
        json!({"jsonrpc": "2.0", "id": body["id"], "result": result}).to_string(),
    )
}

fn rpc_error(body: &Value, code: i64, message: &str) -> (u16, String) {
    (
        200,
        json!({"jsonrpc": "2.0", "id": body["id"], "error": {"code": code, "message": message}})
            .to_string(),
    )
}

/// A JSON-RPC node for CHAIN answering gas price `rgp`.
fn node(rgp: &'static str) -> Handler {
    Arc::new(move |b: &Value| match b["method"].as_str().unwrap() {
        "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
        "suix_getReferenceGasPrice" => rpc_result(b, json!(rgp)),
        m => rpc_error(b, -32601, &format!("no {m}")),
    })
}

fn object_answer(version: u64) -> Value {
    let cap = daas_protocol::onchain::Cap {
        id: ObjectId::from_u64(0xca),
        registry_id: ObjectId::from_u64(0xee),
    };
    json!({"data": {
        "objectId": ObjectId::from_u64(0xca).to_string(),
        "version": version.to_string(),
        "digest": bs58::encode([version as u8; 32]).into_string(),
        "type": "0x1::worker_registry::MasterCap",
        "owner": {"AddressOwner": ObjectId::from_u64(0xaa).to_string()},
        "bcs": {"dataType": "moveObject", "type": "0x1::worker_registry::MasterCap", "hasPublicTransfer": false,
                "version": version, "bcsBytes": BASE64.encode(bcs::to_bytes(&cap).unwrap())}
    }})
}

#[tokio::test]
async fn fails_over_from_a_5xx_and_429_endpoint_to_a_healthy_one() {
    let (bad, bad_hits) = serve(Arc::new(|_: &Value| (503, "{}".into()))).await;
    let (limited, limited_hits) = serve(Arc::new(|_: &Value| (429, "{}".into()))).await;
    let (good, good_hits) = serve(node("1000")).await;
    let c = JsonRpcClient::new(config(vec![bad, limited, good])).unwrap();
    assert_eq!(c.reference_gas_price().await.unwrap(), 1000);
    assert!(bad_hits.load(Ordering::SeqCst) >= 1);
    assert!(limited_hits.load(Ordering::SeqCst) >= 1);
    // the healthy endpoint answered the chain check, then the call
    assert_eq!(good_hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn all_endpoints_down_is_unavailable_after_the_attempt_budget() {
    let (bad, hits) = serve(Arc::new(|_: &Value| (500, "{}".into()))).await;
    let c = JsonRpcClient::new(config(vec![bad])).unwrap();
    let err = c.reference_gas_price().await.unwrap_err();
    assert!(matches!(err, ChainError::Unavailable { .. }), "{err}");
    assert!(err.is_retryable());
    assert_eq!(hits.load(Ordering::SeqCst), 4, "one request per attempt");
    let closed = JsonRpcClient::new(config(vec!["http://127.0.0.1:1".into()])).unwrap();
    assert!(matches!(
        closed.reference_gas_price().await,
        Err(ChainError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn a_malformed_answer_is_an_error_never_empty_data() {
    let (url, _) = serve(Arc::new(|b: &Value| match b["method"].as_str().unwrap() {
        "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
        "suix_queryEvents" => rpc_result(b, json!({"data": "oops", "hasNextPage": false})),
        "suix_getReferenceGasPrice" => (200, "not json".into()),
        _ => rpc_result(b, json!({"neither": 1})),
    }))
    .await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    let err = c.events(ObjectId::from_u64(1), None, 10).await.unwrap_err();
    assert!(matches!(err, ChainError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("data"), "{err}");
    assert!(matches!(
        c.reference_gas_price().await,
        Err(ChainError::Malformed { .. })
    ));
    assert!(matches!(
        c.object(ObjectId::from_u64(2)).await,
        Err(ChainError::Malformed { .. })
    ));
}

#[tokio::test]
async fn an_oversized_answer_is_refused_and_the_next_endpoint_asked() {
    let limit = daas_protocol::chain::MAX_RESPONSE_BYTES;
    let (huge, huge_hits) = serve(Arc::new(move |b: &Value| {
        match b["method"].as_str().unwrap() {
            "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
            _ => rpc_result(b, json!("A".repeat(limit + 1))),
        }
    }))
    .await;
    let (good, _) = serve(node("1000")).await;
    let only = JsonRpcClient::new(config(vec![huge.clone()])).unwrap();
    let err = only.reference_gas_price().await.unwrap_err();
    assert!(
        matches!(err, ChainError::Malformed { .. })
            && err.to_string().contains("larger than 8 MiB"),
        "{err}"
    );
    let both = JsonRpcClient::new(config(vec![huge, good])).unwrap();
    assert_eq!(both.reference_gas_price().await.unwrap(), 1000);
    assert!(huge_hits.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn an_endpoint_of_another_chain_is_refused_before_any_call() {
    let (url, hits) = serve(Arc::new(|b: &Value| match b["method"].as_str().unwrap() {
        "sui_getChainIdentifier" => rpc_result(b, json!("4c78adac")),
        _ => rpc_result(b, json!("1000")),
    }))
    .await;
    let c = JsonRpcClient::new(config(vec![url.clone()])).unwrap();
    let err = c.reference_gas_price().await.unwrap_err();
    assert!(
        matches!(&err, ChainError::ChainMismatch { got, .. } if got == "4c78adac"),
        "{err}"
    );
    // only chain checks were sent, never the gas price call
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    assert!(c.verify_chain().await.is_err());

    // GraphQL pins the full Base58 digest
    let (gql, _) = serve(Arc::new(|_: &Value| {
        (
            200,
            json!({"data": {"chainIdentifier": "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"}})
                .to_string(),
        )
    }))
    .await;
    let g = GraphQlClient::new(config(vec![gql])).unwrap();
    assert!(matches!(
        g.verify_chain().await,
        Err(ChainError::ChainMismatch { .. })
    ));
}

#[tokio::test]
async fn verifying_the_chain_rides_out_a_busy_endpoint_on_both_transports() {
    // 503 and 429 for the first two chain checks, then the pinned chain.
    let busy = |answer: fn(&Value) -> (u16, String)| -> Handler {
        let n = Arc::new(AtomicUsize::new(0));
        Arc::new(move |b: &Value| match n.fetch_add(1, Ordering::SeqCst) {
            0 => (503, "{}".into()),
            1 => (429, "{}".into()),
            _ => answer(b),
        })
    };
    let (url, hits) = serve(busy(|b| rpc_result(b, json!("35834a8a")))).await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    c.verify_chain().await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let (url, hits) = serve(busy(|_| {
        (
            200,
            json!({"data": {"chainIdentifier": CHAIN.to_string()}}).to_string(),
        )
    }))
    .await;
    let g = GraphQlClient::new(config(vec![url])).unwrap();
    g.verify_chain().await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    // Down for good: unavailable after the attempt budget, not a wrong chain.
    let (url, hits) = serve(Arc::new(|_: &Value| (503, "{}".into()))).await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    let err = c.verify_chain().await.unwrap_err();
    assert!(matches!(err, ChainError::Unavailable { .. }), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 4, "one request per attempt");
    // A wrong chain is an answer: no second request.
    let (url, hits) = serve(Arc::new(|b: &Value| rpc_result(b, json!("4c78adac")))).await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    assert!(matches!(
        c.verify_chain().await,
        Err(ChainError::ChainMismatch { .. })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_lower_object_version_than_one_seen_is_refused() {
    let versions = Arc::new(AtomicUsize::new(0));
    let v2 = Arc::clone(&versions);
    let (url, _) = serve(Arc::new(move |b: &Value| {
        match b["method"].as_str().unwrap() {
            "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
            _ => {
                let v = [5u64, 7, 6][v2.fetch_add(1, Ordering::SeqCst).min(2)];
                rpc_result(b, object_answer(v))
            }
        }
    }))
    .await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    let id = ObjectId::from_u64(0xca);
    assert_eq!(c.object(id).await.unwrap().unwrap().version, 5);
    assert_eq!(c.object(id).await.unwrap().unwrap().version, 7);
    let err = c.object(id).await.unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Stale {
                got: 6,
                seen: 7,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn quorum_needs_agreeing_answers() {
    let mk = |v: u64| -> Handler {
        Arc::new(move |b: &Value| match b["method"].as_str().unwrap() {
            "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
            _ => rpc_result(b, object_answer(v)),
        })
    };
    let (a, _) = serve(mk(3)).await;
    let (b, _) = serve(mk(3)).await;
    let (c, _) = serve(mk(4)).await;
    let id = ObjectId::from_u64(0xca);

    let agree = JsonRpcClient::new(config(vec![a.clone(), b.clone(), c.clone()])).unwrap();
    let q = Quorum::new(agree.split(), 2).unwrap();
    assert_eq!(q.object(id).await.unwrap().unwrap().version, 3);

    let split = JsonRpcClient::new(config(vec![a, c])).unwrap();
    let q = Quorum::new(split.split(), 2).unwrap();
    let err = q.object(id).await.unwrap_err();
    assert!(matches!(err, ChainError::Disagreement { .. }), "{err}");
    assert!(
        err.to_string().contains("version 3") && err.to_string().contains("version 4"),
        "{err}"
    );
    assert!(Quorum::new(JsonRpcClient::new(config(vec![b])).unwrap().split(), 2).is_err());
}

#[tokio::test]
async fn execution_outcomes_are_typed() {
    let digest = bs58::encode([7u8; 32]).into_string();
    let d2 = digest.clone();
    let (url, _) = serve(Arc::new(move |b: &Value| {
        let sigs = b["params"][1].as_array().map(|a| a.len()).unwrap_or(0);
        match b["method"].as_str().unwrap() {
            "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
            "sui_executeTransactionBlock" if sigs == 0 => rpc_error(b, -32002, "Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- Invalid user signature"),
            "sui_executeTransactionBlock" => rpc_result(b, json!({"digest": d2, "effects": {
                "messageVersion": "v1",
                "transactionDigest": d2,
                "status": {"status": "failure", "error": "MoveAbort(MoveLocation { module: ModuleId { address: 00000000000000000000000000000000000000000000000000000000000000aa, name: Identifier(\"worker_registry\") }, function: 3, instruction: 12, function_name: Some(\"request_unstake\") }, 6) in command 0"},
                "gasUsed": {"computationCost": "1000000", "storageCost": "0", "storageRebate": "0", "nonRefundableStorageFee": "0"}
            }})),
            _ => rpc_error(b, -32050, "Transaction timed out before reaching finality"),
        }
    }))
    .await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    let kp = daas_protocol::SuiKeypair::from_secret_bytes([1; 32]);
    let out = c
        .execute(b"tx", &[kp.sign_transaction(b"tx")])
        .await
        .unwrap();
    assert_eq!(out.digest.to_string(), digest);
    assert_eq!(
        out.status,
        ExecStatus::MoveAbort {
            code: 6,
            function: Some("request_unstake".into()),
            command: Some(0)
        }
    );
    assert_eq!(out.gas.computation, 1_000_000);
    let err = c.execute(b"tx", &[]).await.unwrap_err();
    assert!(matches!(err, ChainError::Rejected { .. }), "{err}");
    let err = c.dry_run(b"tx").await.unwrap_err();
    assert!(
        matches!(err, ChainError::Unavailable { .. }),
        "-32050 is retryable: {err}"
    );
}

#[tokio::test]
async fn graphql_errors_and_missing_data_are_not_results() {
    let (url, _) = serve(Arc::new(|b: &Value| {
        let q = b["query"].as_str().unwrap();
        if q.contains("chainIdentifier") {
            (
                200,
                json!({"data": {"chainIdentifier": CHAIN.to_string()}}).to_string(),
            )
        } else if q.contains("referenceGasPrice") {
            (
                200,
                json!({"data": null, "errors": [{"message": "Query.epoch is broken"}]}).to_string(),
            )
        } else if q.contains("executeTransaction") {
            (
                200,
                json!({"data": null, "errors": [{"message": "Invalid user signature"}]})
                    .to_string(),
            )
        } else {
            (200, json!({"nothing": true}).to_string())
        }
    }))
    .await;
    let g = GraphQlClient::new(config(vec![url])).unwrap();
    g.verify_chain().await.unwrap();
    assert!(matches!(
        g.reference_gas_price().await,
        Err(ChainError::Rpc { .. })
    ));
    assert!(matches!(
        g.execute(b"tx", &[]).await,
        Err(ChainError::Rejected { .. })
    ));
    assert!(matches!(
        g.object(ObjectId::from_u64(1)).await,
        Err(ChainError::Malformed { .. })
    ));
}

fn b58(b: u8) -> String {
    bs58::encode([b; 32]).into_string()
}

fn id(n: u64) -> String {
    ObjectId::from_u64(n).to_string()
}

/// JSON-RPC effects: gas coin 0x1 mutated, a Worker 0x2 created (shared), coin 0x3
/// merged away (deleted), a cap 0x4 mutated, all at version 9.
fn jsonrpc_effects(digest: &str, checkpoint: Option<u64>) -> Value {
    let me = json!({"AddressOwner": id(0xaa)});
    let mut v = json!({"digest": digest, "effects": {
        "messageVersion": "v1",
        "transactionDigest": digest,
        "status": {"status": "success"},
        "executedEpoch": "0",
        "gasUsed": {"computationCost": "1000", "storageCost": "2000", "storageRebate": "500", "nonRefundableStorageFee": "5"},
        "gasObject": {"owner": me, "reference": {"objectId": id(1), "version": "9", "digest": b58(1)}},
        "created": [{"owner": {"Shared": {"initial_shared_version": "9"}}, "reference": {"objectId": id(2), "version": "9", "digest": b58(2)}}],
        "mutated": [
            {"owner": me, "reference": {"objectId": id(1), "version": "9", "digest": b58(1)}},
            {"owner": me, "reference": {"objectId": id(4), "version": "9", "digest": b58(4)}}
        ],
        "deleted": [{"objectId": id(3), "version": "9", "digest": b58(0)}]
    }});
    if let Some(c) = checkpoint {
        v["checkpoint"] = json!(c.to_string());
    }
    v
}

#[tokio::test]
async fn jsonrpc_execute_waits_for_the_effects_certificate_and_reads_the_changes() {
    use daas_protocol::chain::{ChangeKind, Owner};
    let digest = b58(7);
    let d2 = digest.clone();
    let seen_type = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let seen = Arc::clone(&seen_type);
    let (url, _) = serve(Arc::new(move |b: &Value| {
        match b["method"].as_str().unwrap() {
            "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
            "sui_executeTransactionBlock" => {
                seen.lock().unwrap().push(b["params"][3].clone());
                rpc_result(b, jsonrpc_effects(&d2, None))
            }
            _ => rpc_error(b, -32601, "no"),
        }
    }))
    .await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    let kp = daas_protocol::SuiKeypair::from_secret_bytes([1; 32]);
    let out = c
        .execute(b"tx", &[kp.sign_transaction(b"tx")])
        .await
        .unwrap();
    assert_eq!(
        *seen_type.lock().unwrap(),
        vec![json!("WaitForEffectsCert")],
        "never WaitForLocalExecution"
    );
    let me = Some(Owner::Address(ObjectId::from_u64(0xaa).into()));
    let gas = out.gas_object.unwrap();
    assert_eq!(
        (gas.id, gas.version, gas.owner),
        (ObjectId::from_u64(1), 9, me)
    );
    let kinds: Vec<(ObjectId, ChangeKind)> = out.changes.iter().map(|c| (c.id, c.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (ObjectId::from_u64(2), ChangeKind::Created),
            (ObjectId::from_u64(1), ChangeKind::Mutated),
            (ObjectId::from_u64(4), ChangeKind::Mutated),
            (ObjectId::from_u64(3), ChangeKind::Deleted),
        ]
    );
    assert_eq!(out.change(&ObjectId::from_u64(4)).unwrap().owner, me);
    assert_eq!(out.change(&ObjectId::from_u64(3)).unwrap().owner, None);
    assert_eq!(
        out.checkpoint, None,
        "no checkpoint before it is checkpointed"
    );
}

#[tokio::test]
async fn graphql_execute_reads_changes_gas_object_and_checkpoint() {
    use daas_protocol::chain::{ChangeKind, Owner};
    let digest = b58(8);
    let d2 = digest.clone();
    let (url, _) = serve(Arc::new(move |b: &Value| {
        let q = b["query"].as_str().unwrap();
        if q.contains("chainIdentifier") {
            return (200, json!({"data": {"chainIdentifier": CHAIN.to_string()}}).to_string());
        }
        assert!(q.contains("executeTransaction"), "{q}");
        let me = json!({"__typename": "AddressOwner", "address": {"address": id(0xaa)}});
        (200, json!({"data": {"executeTransaction": {"effects": {
            "digest": d2, "status": "SUCCESS", "executionError": null,
            "lamportVersion": 9,
            "checkpoint": {"sequenceNumber": 42},
            "gasEffects": {
                "gasSummary": {"computationCost": "1000", "storageCost": "2000", "storageRebate": "500", "nonRefundableStorageFee": "5"},
                "gasObject": {"address": id(1), "version": 9, "digest": b58(1), "owner": me}
            },
            "objectChanges": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": [
                {"address": id(1), "idCreated": false, "idDeleted": false, "outputState": {"version": 9, "digest": b58(1), "owner": me}},
                {"address": id(2), "idCreated": true, "idDeleted": false, "outputState": {"version": 9, "digest": b58(2), "owner": {"__typename": "Shared", "initialSharedVersion": 9}}},
                {"address": id(3), "idCreated": false, "idDeleted": true, "outputState": null},
                {"address": id(5), "idCreated": false, "idDeleted": false, "outputState": null}
            ]}
        }}}}).to_string())
    }))
    .await;
    let g = GraphQlClient::new(config(vec![url])).unwrap();
    let kp = daas_protocol::SuiKeypair::from_secret_bytes([1; 32]);
    let out = g
        .execute(b"tx", &[kp.sign_transaction(b"tx")])
        .await
        .unwrap();
    assert_eq!(out.checkpoint, Some(42));
    assert_eq!(out.gas_object.unwrap().version, 9);
    let kinds: Vec<(u64, ChangeKind, Option<Owner>)> = out
        .changes
        .iter()
        .map(|c| (c.version, c.kind, c.owner))
        .collect();
    let me = Some(Owner::Address(ObjectId::from_u64(0xaa).into()));
    assert_eq!(
        kinds,
        vec![
            (9, ChangeKind::Mutated, me),
            (
                9,
                ChangeKind::Created,
                Some(Owner::Shared {
                    initial_shared_version: 9
                })
            ),
            (9, ChangeKind::Deleted, None),
            (9, ChangeKind::Wrapped, None),
        ]
    );
}

/// Every kind of refusal, in Sui's words, with the JSON-RPC code it comes with.
fn refusals() -> Vec<(i64, String, daas_protocol::chain::RejectKind)> {
    use daas_protocol::chain::RejectKind;
    let obj = "0x00bf8123e61f47bbaf976a1723955571cb4808321b60efbabf79366d656f4165";
    let inputs = "Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- ";
    vec![
        (
            -32602,
            "Invalid Params: WaitForLocalExecution mode is deprecated".into(),
            RejectKind::InvalidParams,
        ),
        (
            -32002,
            format!(
                "{inputs}Object ID {obj} Version 0x5 Digest 11111111111111111111111111111111 is not available for consumption, current version: 0x6"
            ),
            RejectKind::StaleObject {
                object: Some(obj.parse().unwrap()),
                given: Some(5),
                current: Some(6),
            },
        ),
        (
            -32602,
            format!(
                "Invalid Params: Transaction execution failed: Object ID {obj} Version 7 Digest 11111111111111111111111111111111 is not available for consumption, current version: 8"
            ),
            RejectKind::StaleObject {
                object: Some(obj.parse().unwrap()),
                given: Some(7),
                current: Some(8),
            },
        ),
        (
            -32002,
            format!("{inputs}Could not find the referenced object {obj} at version None"),
            RejectKind::ObjectNotFound {
                object: Some(obj.parse().unwrap()),
            },
        ),
        (
            -32002,
            format!(
                "Failed to sign transaction by a quorum of validators because one or more of its objects is reserved for another transaction. Other transactions locking these objects:\n- {obj}"
            ),
            RejectKind::Locked {
                objects: vec![obj.parse().unwrap()],
            },
        ),
        (
            -32002,
            format!("{inputs}Balance of gas object 10 is lower than the needed amount: 100"),
            RejectKind::InsufficientGas,
        ),
        (
            -32002,
            "Invalid user signature: Signature is not valid".into(),
            RejectKind::BadSignature,
        ),
        (
            -32000,
            "Internal consensus error 17".into(),
            RejectKind::Other,
        ),
    ]
}

#[tokio::test]
async fn refusals_are_classified_on_both_transports() {
    let kp = daas_protocol::SuiKeypair::from_secret_bytes([1; 32]);
    let sig = [kp.sign_transaction(b"tx")];
    for (code, text, want) in refusals() {
        let t = text.clone();
        let (url, hits) = serve(Arc::new(move |b: &Value| {
            match b["method"].as_str().unwrap() {
                "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
                _ => rpc_error(b, code, &t),
            }
        }))
        .await;
        let c = JsonRpcClient::new(config(vec![url])).unwrap();
        let err = c.execute(b"tx", &sig).await.unwrap_err();
        assert_eq!(
            err.reject_kind(),
            Some(&want),
            "JSON-RPC {code} {text}: {err}"
        );
        assert!(!err.is_retryable(), "{err}");
        assert_eq!(hits.load(Ordering::SeqCst), 2, "refused once, not retried");
        let err = c.dry_run(b"tx").await.unwrap_err();
        assert_eq!(err.reject_kind(), Some(&want), "dry run: {err}");

        let t = text.clone();
        let (url, _) = serve(Arc::new(move |b: &Value| {
            if b["query"].as_str().unwrap().contains("chainIdentifier") {
                (
                    200,
                    json!({"data": {"chainIdentifier": CHAIN.to_string()}}).to_string(),
                )
            } else {
                (
                    200,
                    json!({"data": null, "errors": [{"message": t}]}).to_string(),
                )
            }
        }))
        .await;
        let g = GraphQlClient::new(config(vec![url])).unwrap();
        let err = g.execute(b"tx", &sig).await.unwrap_err();
        assert_eq!(err.reject_kind(), Some(&want), "GraphQL {text}: {err}");
        let err = g.dry_run(b"tx").await.unwrap_err();
        assert_eq!(
            err.reject_kind(),
            Some(&want),
            "GraphQL simulate {text}: {err}"
        );
    }
}

#[tokio::test]
async fn an_overloaded_node_is_retried_on_both_transports() {
    use daas_protocol::chain::RejectKind;
    let kp = daas_protocol::SuiKeypair::from_secret_bytes([1; 32]);
    let sig = [kp.sign_transaction(b"tx")];
    let (url, hits) = serve(Arc::new(|b: &Value| match b["method"].as_str().unwrap() {
        "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
        _ => rpc_error(
            b,
            -32002,
            "Too many transactions pending execution: try again later",
        ),
    }))
    .await;
    let c = JsonRpcClient::new(config(vec![url])).unwrap();
    let err = c.execute(b"tx", &sig).await.unwrap_err();
    assert_eq!(err.reject_kind(), Some(&RejectKind::Retryable));
    assert!(err.is_retryable());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1 + 4,
        "one chain check, every attempt"
    );

    let (url, hits) = serve(Arc::new(|b: &Value| {
        if b["query"].as_str().unwrap().contains("chainIdentifier") {
            (200, json!({"data": {"chainIdentifier": CHAIN.to_string()}}).to_string())
        } else {
            (
                200,
                json!({"data": null, "errors": [{"message": "Transaction timed out before reaching finality"}]}).to_string(),
            )
        }
    }))
    .await;
    let g = GraphQlClient::new(config(vec![url])).unwrap();
    let err = g.execute(b"tx", &sig).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 1 + 4);
}

#[tokio::test]
async fn waiting_for_a_transaction_checks_every_endpoint_and_skips_a_dead_one() {
    let digest_s = b58(9);
    // endpoint A knows the transaction at once; B after three polls; C is down
    let mk = |known_after: usize, latest: u64| -> Handler {
        let polls = Arc::new(AtomicUsize::new(0));
        let d = digest_s.clone();
        Arc::new(move |b: &Value| match b["method"].as_str().unwrap() {
            "sui_getChainIdentifier" => rpc_result(b, json!("35834a8a")),
            "sui_getLatestCheckpointSequenceNumber" => rpc_result(b, json!(latest.to_string())),
            "sui_getTransactionBlock" => {
                if polls.fetch_add(1, Ordering::SeqCst) < known_after {
                    rpc_error(
                        b,
                        -32602,
                        &format!(
                            "Could not find the referenced transaction [TransactionDigest({d})]."
                        ),
                    )
                } else {
                    rpc_result(b, jsonrpc_effects(&d, Some(12)))
                }
            }
            _ => rpc_error(b, -32601, "no"),
        })
    };
    let (a, _) = serve(mk(0, 12)).await;
    let (b, b_hits) = serve(mk(3, 12)).await;
    let dead = "http://127.0.0.1:1".to_string();
    let c = JsonRpcClient::new(config(vec![a.clone(), b.clone(), dead])).unwrap();
    let digest: daas_protocol::TransactionDigest = digest_s.parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let out = c.wait_for_transaction(&digest, deadline).await.unwrap();
    assert_eq!(out.checkpoint, Some(12));
    // chain check + 3 misses + the hit + the checkpoint read
    assert_eq!(b_hits.load(Ordering::SeqCst), 6);

    // an endpoint that has the transaction but serves reads behind its checkpoint,
    // and never catches up, is not visible by the deadline
    let (behind, _) = serve(mk(0, 11)).await;
    let c = JsonRpcClient::new(config(vec![a, behind.clone()])).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let err = c.wait_for_transaction(&digest, deadline).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::NotVisible { endpoint, .. } if *endpoint == behind),
        "{err}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn graphql_waits_for_the_transaction_in_a_checkpoint_the_reads_have_reached() {
    let digest_s = b58(10);
    let d = digest_s.clone();
    let polls = Arc::new(AtomicUsize::new(0));
    let (url, _) = serve(Arc::new(move |b: &Value| {
        let q = b["query"].as_str().unwrap();
        if q.contains("chainIdentifier") {
            return (200, json!({"data": {"chainIdentifier": CHAIN.to_string()}}).to_string());
        }
        if q.contains("LatestCheckpoint") {
            return (200, json!({"data": {"checkpoint": {"sequenceNumber": 5}}}).to_string());
        }
        assert!(q.contains("transaction(digest"), "{q}");
        if polls.fetch_add(1, Ordering::SeqCst) < 2 {
            return (200, json!({"data": {"transaction": null}}).to_string());
        }
        (200, json!({"data": {"transaction": {"effects": {
            "digest": d, "status": "SUCCESS", "executionError": null, "lamportVersion": 3,
            "checkpoint": {"sequenceNumber": 5},
            "gasEffects": {"gasSummary": {"computationCost": "1", "storageCost": "2", "storageRebate": "0", "nonRefundableStorageFee": "0"}, "gasObject": null},
            "objectChanges": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": []}
        }}}}).to_string())
    }))
    .await;
    let g = GraphQlClient::new(config(vec![url])).unwrap();
    let digest: daas_protocol::TransactionDigest = digest_s.parse().unwrap();
    assert_eq!(g.latest_checkpoint().await.unwrap(), 5);
    let out = g
        .wait_for_transaction(
            &digest,
            tokio::time::Instant::now() + Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!((out.checkpoint, out.digest), (Some(5), digest));
}
