//! The sandbox behaves as today's Sui does where DESIGN §7–§8 says it must: chain id =
//! digest of checkpoint 0, checkpoints linked by digest, the budget set aside, Sui's
//! gas bounds and error texts, reads lagging by checkpoints, fresh ids in command
//! order, mutable inputs bumped on every outcome, deleted shared inputs failing in
//! execution, Sui's object digests, effects and storage gas. Transactions here are
//! built, signed and sent by hand (raw JSON-RPC and GraphQL), so the checks do not
//! depend on the project's client.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::chain::{Chain, GraphQlClient, JsonRpcClient};
use daas_protocol::hash::blake2b256;
use daas_protocol::ledger::{self, TransactionEffectsV2, UnchangedSharedKind};
use daas_protocol::onchain::CLOCK_ID;
use daas_protocol::tx::{
    Argument, GasData, ObjectRef, ProgrammableTransaction, PtbBuilder, TransactionData,
};
use daas_protocol::{ObjectId, SuiKeypair};
use serde_json::{Value, json};

use crate::world::{DAY, HOUR, SUI, World, post};

async fn rpc<C: Chain>(w: &World<C>, method: &str, params: Value) -> Value {
    post(
        &w.info.rpc_url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await
}

async fn gql<C: Chain>(w: &World<C>, query: &str, variables: Value) -> Value {
    post(
        &w.info.graphql_url,
        json!({"query": query, "variables": variables}),
    )
    .await
}

/// The first coin of `who` (its current reference and balance).
async fn coin<C: Chain>(w: &World<C>, who: &SuiKeypair) -> (ObjectRef, u64) {
    let mut coins = w.chain().coins(who.address()).await.unwrap();
    coins.sort_by_key(|c| c.id);
    (coins[0].object_ref(), coins[0].balance)
}

/// Signs `pt` paid by `gas` at `price` / `budget`.
fn signed(
    signer: &SuiKeypair,
    pt: ProgrammableTransaction,
    gas: ObjectRef,
    price: u64,
    budget: u64,
) -> (String, String) {
    let tx = TransactionData::new(
        pt,
        signer.address(),
        GasData {
            payment: vec![gas],
            owner: signer.address(),
            price,
            budget,
        },
    );
    let bytes = tx.to_bcs();
    (
        BASE64.encode(&bytes),
        signer.sign_transaction(&bytes).to_base64(),
    )
}

/// Executes over JSON-RPC (`WaitForEffectsCert`) and returns the whole answer.
async fn execute<C: Chain>(w: &World<C>, tx: &(String, String)) -> Value {
    rpc(
        w,
        "sui_executeTransactionBlock",
        json!([tx.0, [tx.1], {"showEffects": true, "showRawEffects": true, "showEvents": true, "showRawInput": true}, "WaitForEffectsCert"]),
    )
    .await
}

fn raw_effects(answer: &Value) -> TransactionEffectsV2 {
    let bytes: Vec<u8> = answer["result"]["rawEffects"]
        .as_array()
        .expect("rawEffects")
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(bytes[0], 1, "TransactionEffects::V2");
    bcs::from_bytes(&bytes[1..]).expect("Sui's TransactionEffectsV2 layout")
}

fn lamport(answer: &Value) -> u64 {
    answer["result"]["effects"]["gasObject"]["reference"]["version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn mutated_ids(answer: &Value) -> Vec<String> {
    answer["result"]["effects"]["mutated"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|o| o["reference"]["objectId"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn world() -> World<JsonRpcClient> {
    World::jsonrpc().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_id_is_the_digest_of_checkpoint_0_on_every_surface() {
    let w = world().await;
    let cp0 = rpc(&w, "sui_getCheckpoint", json!(["0"])).await;
    let digest = cp0["result"]["digest"].as_str().unwrap().to_string();
    assert_eq!(digest, w.info.chain_id, "the info file names checkpoint 0");
    assert!(cp0["result"].get("previousDigest").is_none());
    let hex = rpc(&w, "sui_getChainIdentifier", json!([])).await;
    let bytes = bs58::decode(&digest).into_vec().unwrap();
    assert_eq!(hex["result"], ::hex::encode(&bytes[..4]));
    let q = "{ chainIdentifier checkpoint(sequenceNumber: 0) { digest summaryBcs previousCheckpointDigest } }";
    let g = gql(&w, q, json!({})).await;
    assert_eq!(g["data"]["chainIdentifier"], digest.as_str());
    assert_eq!(g["data"]["checkpoint"]["digest"], digest.as_str());
    // the digest is Sui's: Blake2b-256("CheckpointSummary::" || BCS(summary))
    let summary = BASE64
        .decode(g["data"]["checkpoint"]["summaryBcs"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        bs58::encode(blake2b256(&[b"CheckpointSummary::", &summary])).into_string(),
        digest
    );
    let s: ledger::CheckpointSummary = bcs::from_bytes(&summary).unwrap();
    assert_eq!((s.sequence_number, s.previous_digest), (0, None));

    // every later checkpoint is a real digest linked to its predecessor
    w.register(0, "rpi-cid", 1).await;
    let latest: u64 = rpc(&w, "sui_getLatestCheckpointSequenceNumber", json!([])).await["result"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(latest >= 2, "genesis, deployment, then the registration");
    let mut previous = digest;
    for n in 1..=latest {
        let c = gql(
            &w,
            "query($n: UInt53!) { checkpoint(sequenceNumber: $n) { digest summaryBcs previousCheckpointDigest } }",
            json!({"n": n}),
        )
        .await;
        let c = &c["data"]["checkpoint"];
        assert_eq!(
            c["previousCheckpointDigest"],
            previous.as_str(),
            "checkpoint {n}"
        );
        let b = BASE64.decode(c["summaryBcs"].as_str().unwrap()).unwrap();
        let d = bs58::encode(blake2b256(&[b"CheckpointSummary::", &b])).into_string();
        assert_eq!(c["digest"], d.as_str());
        let j = rpc(&w, "sui_getCheckpoint", json!([n.to_string()])).await;
        assert_eq!(j["result"]["digest"], d.as_str());
        assert_eq!(j["result"]["previousDigest"], previous.as_str());
        previous = d;
    }
    w.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_is_set_aside_from_the_gas_coin_before_the_first_command() {
    let w = world().await;
    let me = w.accounts[0].clone();
    let budget = 100_000_000;
    let split_all_but = |balance: u64, keep: u64| {
        let mut b = PtbBuilder::new();
        let c = b.split_coins(Argument::GasCoin, &[balance - keep]);
        b.transfer_objects(c, me.address());
        b.finish()
    };
    // one MIST more than balance − budget: the commands cannot reach it
    let (gas, balance) = coin(&w, &me).await;
    let tx = signed(&me, split_all_but(balance, budget - 1), gas, 1000, budget);
    let out = execute(&w, &tx).await;
    assert_eq!(
        out["result"]["effects"]["status"],
        json!({"status": "failure", "error": "InsufficientCoinBalance in command 0"}),
        "{out}"
    );
    let (gas, after) = coin(&w, &me).await;
    let g = &out["result"]["effects"]["gasUsed"];
    let charged = |k: &str| g[k].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        after,
        balance - charged("computationCost") - charged("storageCost") + charged("storageRebate"),
        "the failed transaction still pays gas"
    );
    assert_eq!(
        gas.version,
        lamport(&out),
        "the gas coin took the Lamport version"
    );
    // exactly balance − budget succeeds
    let tx = signed(&me, split_all_but(after, budget), gas, 1000, budget);
    let out = execute(&w, &tx).await;
    assert_eq!(
        out["result"]["effects"]["status"]["status"], "success",
        "{out}"
    );
    let coins = w.chain().coins(me.address()).await.unwrap();
    assert!(
        coins.iter().any(|c| c.balance == after - budget),
        "the split coin holds balance − budget: {coins:?}"
    );
    w.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_bounds_and_wait_for_local_execution_are_refused_with_suis_codes_and_texts() {
    let w = world().await;
    let me = w.accounts[1].clone();
    let (gas, _) = coin(&w, &me).await;
    let pt = {
        let mut b = PtbBuilder::new();
        let c = b.split_coins(Argument::GasCoin, &[1]);
        b.transfer_objects(c, me.address());
        b.finish()
    };
    let inputs = "Invalid Params: Transaction execution failed: Transaction execution failed due to issues with transaction inputs, please review the errors and try again:";
    for (price, budget, why) in [
        (
            1000,
            50_000_000_001,
            "Gas budget: 50000000001 is higher than max: 50000000000",
        ),
        (
            1000,
            1_999_999,
            "Gas budget: 1999999 is lower than min: 2000000",
        ),
        (
            100_001,
            1_000_000_000,
            "Gas price cannot exceed 100000 mist",
        ),
        (
            999,
            10_000_000,
            "Gas price 999 under reference gas price (RGP) 1000",
        ),
    ] {
        let tx = signed(&me, pt.clone(), gas, price, budget);
        let out = execute(&w, &tx).await;
        assert_eq!(out["error"]["code"], -32602, "{out}");
        assert_eq!(out["error"]["message"], format!("{inputs} {why}."));
        // GraphQL passes the execution service's message on
        let g = gql(
            &w,
            "mutation($tx: Base64!, $sigs: [Base64!]!) { executeTransaction(transactionDataBcs: $tx, signatures: $sigs) { effects { digest } } }",
            json!({"tx": tx.0, "sigs": [tx.1]}),
        )
        .await;
        assert!(
            g["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Transaction execution failed due to issues with transaction inputs, please review the errors and try again: {why}.")),
            "{g}"
        );
    }
    // a stale gas coin reference
    let stale = ObjectRef {
        version: gas.version + 7,
        ..gas
    };
    let out = execute(&w, &signed(&me, pt.clone(), stale, 1000, 10_000_000)).await;
    assert_eq!(
        out["error"]["message"],
        format!(
            "{inputs} Object ID {} Version {:#x} Digest {} is not available for consumption, current version: {:#x}.",
            gas.id, stale.version, gas.digest, gas.version
        )
    );
    // WaitForLocalExecution is refused before anything runs
    let tx = signed(&me, pt, gas, 1000, 10_000_000);
    let out = rpc(
        &w,
        "sui_executeTransactionBlock",
        json!([tx.0, [tx.1], {"showEffects": true}, "WaitForLocalExecution"]),
    )
    .await;
    assert_eq!(
        out["error"],
        json!({"code": -32602, "message": "Invalid Params: WaitForLocalExecution mode is deprecated"})
    );
    assert_eq!(coin(&w, &me).await.0, gas, "nothing was executed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_lag_the_configured_checkpoints_while_execution_stays_current() {
    let w = world().await;
    let me = w.accounts[0].clone();
    w.register(1, "rpi-lag", 12).await;
    w.register(2, "rpi-lag2", 13).await;
    let (gas, _) = coin(&w, &me).await;
    let latest = |v: Value| -> u64 { v["result"].as_str().unwrap().parse().unwrap() };
    let before = latest(rpc(&w, "sui_getLatestCheckpointSequenceNumber", json!([])).await);
    let admin = format!("{}/admin/faults", w.info.rpc_url);
    let set = post(&admin, json!({"read_lag": 2})).await;
    assert_eq!(set["read_lag"], 2);
    let bad = reqwest::Client::new()
        .post(&admin)
        .json(&json!({"read_lag": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        latest(rpc(&w, "sui_getLatestCheckpointSequenceNumber", json!([])).await),
        before - 2
    );
    let self_transfer = |gas: ObjectRef| {
        let mut b = PtbBuilder::new();
        let c = b.split_coins(Argument::GasCoin, &[5]);
        b.transfer_objects(c, me.address());
        signed(&me, b.finish(), gas, 1000, 10_000_000)
    };
    // execution is current and answers with its effects
    let out = execute(&w, &self_transfer(gas)).await;
    assert_eq!(
        out["result"]["effects"]["status"]["status"], "success",
        "{out}"
    );
    assert!(
        out["result"].get("checkpoint").is_none(),
        "not yet in a checkpoint this node serves"
    );
    let digest = out["result"]["digest"].as_str().unwrap().to_string();
    let missing = rpc(
        &w,
        "sui_getTransactionBlock",
        json!([digest, {"showEffects": true}]),
    )
    .await;
    assert_eq!(
        missing["error"],
        json!({"code": -32602, "message": format!("Invalid Params: Transaction {digest} not found")})
    );
    let g = gql(
        &w,
        "query($d: String!) { transaction(digest: $d) { digest } }",
        json!({"d": digest}),
    )
    .await;
    assert_eq!(g["data"]["transaction"], Value::Null);
    // the gas coin is read at the version it had two checkpoints back
    let obj = rpc(&w, "sui_getObject", json!([gas.id.to_string(), {}])).await;
    assert_eq!(obj["result"]["data"]["version"], gas.version.to_string());
    // a second write is also executed against current state
    let gas2 = ObjectRef {
        id: gas.id,
        version: lamport(&out),
        digest: out["result"]["effects"]["gasObject"]["reference"]["digest"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    };
    let out2 = execute(&w, &self_transfer(gas2)).await;
    assert_eq!(
        out2["result"]["effects"]["status"]["status"], "success",
        "{out2}"
    );
    let out3 = execute(
        &w,
        &self_transfer(ObjectRef {
            id: gas.id,
            version: lamport(&out2),
            digest: out2["result"]["effects"]["gasObject"]["reference"]["digest"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        }),
    )
    .await;
    assert_eq!(out3["result"]["effects"]["status"]["status"], "success");
    // two checkpoints later the first one is visible
    let seen = rpc(
        &w,
        "sui_getTransactionBlock",
        json!([digest, {"showEffects": true}]),
    )
    .await;
    assert_eq!(seen["result"]["digest"], digest.as_str(), "{seen}");
    let obj = rpc(&w, "sui_getObject", json!([gas.id.to_string(), {}])).await;
    assert_eq!(obj["result"]["data"]["version"], lamport(&out).to_string());
    post(&admin, json!({"read_lag": 0})).await;
    let obj = rpc(&w, "sui_getObject", json!([gas.id.to_string(), {}])).await;
    assert_eq!(obj["result"]["data"]["version"], lamport(&out3).to_string());
    w.assert_conformant();
}

/// Sui's network seals checkpoints all the time, so a node two checkpoints behind
/// sees a write after about two intervals even when nobody writes again; this chain
/// seals checkpoints only for transactions, and the interval stands in for that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagged_write_shows_after_the_lag_in_time_on_a_quiet_chain() {
    let w = world().await;
    let me = w.accounts[0].clone();
    let (gas, _) = coin(&w, &me).await;
    let admin = format!("{}/admin/faults", w.info.rpc_url);
    let set = post(&admin, json!({"read_lag": 2, "read_lag_interval_ms": 1500})).await;
    assert_eq!(set["read_lag_interval_ms"], 1500, "{set}");
    let mut b = PtbBuilder::new();
    let c = b.split_coins(Argument::GasCoin, &[5]);
    b.transfer_objects(c, me.address());
    let out = execute(&w, &signed(&me, b.finish(), gas, 1000, 10_000_000)).await;
    let digest = out["result"]["digest"].as_str().unwrap().to_string();
    let read = || rpc(&w, "sui_getTransactionBlock", json!([digest, {}]));
    let t0 = std::time::Instant::now();
    assert!(read().await.get("error").is_some(), "visible at once");
    loop {
        let seen = read().await;
        if seen["result"]["digest"] == digest.as_str() {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "a quiet chain hid the write for 20 s: {seen}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(2500),
        "visible after {:?}, before two intervals",
        t0.elapsed()
    );
    w.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_sandbox_can_start_lagging() {
    let mut genesis = crate::world::params();
    genesis.seed = 11;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sb = daas_sandbox::Sandbox::start(
        daas_sandbox::SandboxConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            genesis,
            state_dir: None,
            faults: daas_sandbox::Faults::none(),
            read_lag: 1,
            read_lag_interval_ms: 3_600_000,
            spec: None,
        },
        async move {
            let _ = rx.await;
        },
    )
    .await
    .unwrap();
    let out = post(
        &sb.info.rpc_url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "sui_getLatestCheckpointSequenceNumber", "params": []}),
    )
    .await;
    // checkpoints 0 (genesis) and 1 (deployment) exist; a node one behind serves 0
    assert_eq!(out["result"], "0");
    let _ = tx.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_coins_takes_fresh_ids_as_it_runs() {
    let w = World::<GraphQlClient>::graphql().await;
    let d = w.device(0, "rpi-ids", 3);
    let out = w
        .register_raw(0, SUI, d.node_id.as_str(), &d.token.to_bytes())
        .await;
    assert!(out.is_success(), "{:?}", out.status);
    let worker = w.worker(d.node_id.as_str()).await.unwrap();
    // the split coin took counter 0 when SplitCoins ran; the Worker is the next id
    let derive = |n: u64| ObjectId(blake2b256(&[&[0xf1], &out.digest.0, &n.to_le_bytes()]));
    assert_eq!(worker.info.id, derive(1));
    w.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutable_input_takes_the_lamport_version_on_every_outcome() {
    let w = world().await;
    let staker = w.accounts[2].clone();
    let (d, worker) = w.register(2, "rpi-bump", 4).await;
    let registry = w.info.registry_id.to_string();

    // a Move abort (stake below the minimum): the registry, taken &mut, is written
    let (gas, _) = coin(&w, &staker).await;
    let mut b = PtbBuilder::new();
    w.calls
        .stake_and_register_worker(&mut b, SUI - 1, d.node_id.as_str(), &d.token.to_bytes());
    let out = execute(&w, &signed(&staker, b.finish(), gas, 1000, 100_000_000)).await;
    assert!(
        out["result"]["effects"]["status"]["error"]
            .as_str()
            .unwrap()
            .starts_with("MoveAbort("),
        "{out}"
    );
    let m = mutated_ids(&out);
    assert!(
        m.contains(&registry) && m.contains(&gas.id.to_string()),
        "{m:?}"
    );
    let effects = raw_effects(&out);
    assert_eq!(effects.lamport_version, lamport(&out));
    assert!(
        effects
            .unchanged_shared_objects
            .iter()
            .any(|(id, k)| *id == CLOCK_ID && matches!(k, UnchangedSharedKind::ReadOnlyRoot(_))),
        "the Clock is read, not written"
    );

    // a skip (an envelope for a version that is not next): worker, cap, gas written
    let master = w.master.clone();
    let cap = w.object_ref(w.info.master_cap_id).await;
    let env = w.envelope(&worker, &d, 5, w.now() + HOUR);
    let mut b = PtbBuilder::new();
    w.calls
        .set_join_token(&mut b, cap, World::<JsonRpcClient>::shared(&worker), &env);
    let (mgas, _) = coin(&w, &master).await;
    let out = execute(&w, &signed(&master, b.finish(), mgas, 1000, 100_000_000)).await;
    assert_eq!(out["result"]["effects"]["status"]["status"], "success");
    let m = mutated_ids(&out);
    for id in [worker.info.id, cap.id, mgas.id] {
        assert!(m.contains(&id.to_string()), "{id} mutated: {m:?}");
    }
    assert!(!m.contains(&registry), "the registry is taken by & here");
    assert_eq!(
        w.object_ref(w.info.master_cap_id).await.version,
        lamport(&out),
        "the MasterCap, unchanged in content, took the new version"
    );

    // out of gas: the whole budget is computation, the inputs are still bumped
    let (mgas, _) = coin(&w, &master).await;
    let cap = w.object_ref(w.info.master_cap_id).await;
    let mut b = PtbBuilder::new();
    w.calls
        .set_join_token(&mut b, cap, World::<JsonRpcClient>::shared(&worker), &env);
    let out = execute(&w, &signed(&master, b.finish(), mgas, 1000, 2_000_000)).await;
    assert_eq!(
        out["result"]["effects"]["status"]["error"], "InsufficientGas",
        "{out}"
    );
    assert_eq!(
        out["result"]["effects"]["gasUsed"]["computationCost"],
        "2000000"
    );
    let m = mutated_ids(&out);
    for id in [worker.info.id, cap.id, mgas.id] {
        assert!(m.contains(&id.to_string()), "{id} mutated: {m:?}");
    }
    w.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_shared_worker_fails_in_execution_with_gas_charged() {
    let w = world().await;
    let (d, worker) = w.register(0, "rpi-gone", 5).await;
    let calls = w.calls;
    let shared = World::<JsonRpcClient>::shared(&worker);
    let me = w.accounts[0].clone();
    let owner_call = async |f: &'static str| {
        let mut b = PtbBuilder::new();
        calls
            .call(&mut b, f, &[daas_protocol::tx::Arg::Worker(shared)])
            .unwrap();
        let (gas, _) = coin(&w, &me).await;
        execute(&w, &signed(&me, b.finish(), gas, 1000, 100_000_000)).await
    };
    let out = owner_call("request_unstake").await;
    assert_eq!(out["result"]["effects"]["status"]["status"], "success");
    w.advance(8 * DAY + HOUR);
    let out = owner_call("withdraw_stake").await;
    assert_eq!(
        out["result"]["effects"]["status"]["status"], "success",
        "{out}"
    );
    let deleted_at = lamport(&out);

    // the master's envelope for it, after the owner took the stake
    let master = w.master.clone();
    let cap = w.object_ref(w.info.master_cap_id).await;
    let env = w.envelope(&worker, &d, 1, w.now() + HOUR);
    let mut b = PtbBuilder::new();
    calls.set_join_token(&mut b, cap, shared, &env);
    let (gas, balance) = coin(&w, &master).await;
    let out = execute(&w, &signed(&master, b.finish(), gas, 1000, 100_000_000)).await;
    assert_eq!(
        out["result"]["effects"]["status"],
        json!({"status": "failure", "error": "InputObjectDeleted"}),
        "an executed failure, not a rejection: {out}"
    );
    let effects = raw_effects(&out);
    assert!(
        effects
            .unchanged_shared_objects
            .iter()
            .any(|(id, k)| *id == worker.info.id
                && *k == UnchangedSharedKind::MutateDeleted(deleted_at)),
        "{:?}",
        effects.unchanged_shared_objects
    );
    assert!(effects.gas_used.computation_cost > 0);
    let (_, after) = coin(&w, &master).await;
    assert!(after < balance, "gas was charged");
    assert!(
        mutated_ids(&out).contains(&cap.id.to_string()),
        "the cap was bumped too"
    );
    // GraphQL reports Sui's message for it
    let q = "query($d: String!) { transactionEffects(digest: $d) { status executionError { message abortCode } } }";
    let g = gql(&w, q, json!({"d": out["result"]["digest"]})).await;
    assert_eq!(
        g["data"]["transactionEffects"]["executionError"]["message"],
        "Certificate cannot be executed due to a dependency on a deleted shared object or an object that was transferred out of consensus"
    );
    w.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_digests_bcs_and_storage_gas_are_suis() {
    let w = world().await;
    let out = w
        .register_raw(
            1,
            SUI,
            w.device(1, "rpi-bcs", 6).node_id.as_str(),
            &w.device(1, "rpi-bcs", 6).token.to_bytes(),
        )
        .await;
    assert!(out.is_success());
    let tx = rpc(
        &w,
        "sui_getTransactionBlock",
        json!([out.digest.to_string(), {"showEffects": true, "showRawInput": true}]),
    )
    .await;
    let effects = &tx["result"]["effects"];
    let q = "query($id: SuiAddress!, $v: UInt53) { object(address: $id, version: $v) { digest storageRebate objectBcs asMoveObject { moveObjectBcs } } }";
    let mut storage = 0u64;
    let mut rebate = 0u64;
    for kind in ["created", "mutated"] {
        for o in effects[kind].as_array().unwrap() {
            let id = o["reference"]["objectId"].as_str().unwrap();
            let v: u64 = o["reference"]["version"].as_str().unwrap().parse().unwrap();
            let g = gql(&w, q, json!({"id": id, "v": v})).await;
            let obj = &g["data"]["object"];
            let bcs_bytes = BASE64.decode(obj["objectBcs"].as_str().unwrap()).unwrap();
            // Sui's object digest: Blake2b-256("Object::" || BCS(Object))
            assert_eq!(
                obj["digest"],
                bs58::encode(blake2b256(&[b"Object::", &bcs_bytes]))
                    .into_string()
                    .as_str()
            );
            assert_eq!(obj["digest"], o["reference"]["digest"]);
            let parsed: ledger::Object = bcs::from_bytes(&bcs_bytes).unwrap();
            let move_bcs = BASE64
                .decode(obj["asMoveObject"]["moveObjectBcs"].as_str().unwrap())
                .unwrap();
            assert_eq!(bcs::to_bytes(parsed.move_object()).unwrap(), move_bcs);
            // storage: 100 units per byte of the whole object, 76 MIST a unit
            let size = parsed.size_for_gas_metering();
            assert_eq!(size, 80 + parsed.move_object().size_for_gas_metering());
            assert_eq!(obj["storageRebate"], (size * 7_600).to_string());
            storage += size * 7_600;
        }
    }
    for m in effects["modifiedAtVersions"].as_array().unwrap() {
        let g = gql(
            &w,
            q,
            json!({"id": m["objectId"], "v": m["sequenceNumber"].as_str().unwrap().parse::<u64>().unwrap()}),
        )
        .await;
        rebate += g["data"]["object"]["storageRebate"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    let gas = |k: &str| {
        effects["gasUsed"][k]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(gas("storageCost"), storage);
    assert_eq!(gas("storageRebate"), (rebate * 9_900 + 5_000) / 10_000);
    assert_eq!(
        gas("nonRefundableStorageFee"),
        rebate - gas("storageRebate")
    );
    // computation is a Sui bucket times the gas price
    assert!(
        [
            1_000u64, 5_000, 10_000, 20_000, 50_000, 200_000, 1_000_000, 5_000_000
        ]
        .map(|b| b * 1000)
        .contains(&gas("computationCost")),
        "{}",
        gas("computationCost")
    );
    // the raw input is SenderSignedData: [intent || TransactionData, signatures]
    let raw = BASE64
        .decode(tx["result"]["rawTransaction"].as_str().unwrap())
        .unwrap();
    assert_eq!(&raw[..4], &[1, 0, 0, 0]);
    w.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_takes_a_new_version_with_every_checkpoint() {
    let w = world().await;
    let clock = |w: &World<JsonRpcClient>| {
        let url = w.info.rpc_url.clone();
        async move {
            let v = post(
                &url,
                json!({"jsonrpc": "2.0", "id": 1, "method": "sui_getObject", "params": ["0x6", {"showContent": true}]}),
            )
            .await;
            let d = &v["result"]["data"];
            (
                d["version"].as_str().unwrap().parse::<u64>().unwrap(),
                d["content"]["fields"]["timestamp_ms"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            )
        }
    };
    let (v0, t0) = clock(&w).await;
    w.advance(HOUR);
    w.register(0, "rpi-clock", 7).await;
    let (v1, t1) = clock(&w).await;
    assert_eq!(v1, v0 + 1, "one consensus commit prologue per checkpoint");
    assert!(t1 >= t0 + HOUR);
    w.register(1, "rpi-clock2", 8).await;
    assert_eq!(clock(&w).await.0, v1 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_events_hands_back_the_cursor_of_an_empty_page_and_refuses_what_the_full_node_refuses()
 {
    let w = world().await;
    w.register(0, "rpi-ev", 9).await;
    let page = rpc(
        &w,
        "suix_queryEvents",
        json!([{"All": []}, null, 50, false]),
    )
    .await;
    let last = page["result"]["data"].as_array().unwrap().last().unwrap()["id"].clone();
    let empty = rpc(
        &w,
        "suix_queryEvents",
        json!([{"All": []}, last, 50, false]),
    )
    .await;
    assert_eq!(empty["result"]["data"], json!([]));
    assert_eq!(
        empty["result"]["nextCursor"], last,
        "the given cursor comes back"
    );
    assert_eq!(empty["result"]["hasNextPage"], false);
    for f in [
        json!({"Any": []}),
        json!({"Package": w.info.package_id.to_string()}),
    ] {
        let out = rpc(&w, "suix_queryEvents", json!([f, null, 50, false])).await;
        assert_eq!(out["error"]["code"], -32602);
        assert!(
            out["error"]["message"]
                .as_str()
                .unwrap()
                .contains("This query type is not supported by the full node"),
            "{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_execution_errors_and_cursors_are_sui_shaped() {
    let w = World::<GraphQlClient>::graphql().await;
    let d = w.device(0, "rpi-gql", 10);
    let out = w
        .register_raw(0, SUI - 1, d.node_id.as_str(), &d.token.to_bytes())
        .await;
    assert_eq!(out.abort_code(), Some(1));
    let q = "query($d: String!) { transactionEffects(digest: $d) { executionError { message abortCode identifier instructionOffset module { name package { address } } function { name } } } }";
    let g = gql(&w, q, json!({"d": out.digest.to_string()})).await;
    let e = &g["data"]["transactionEffects"]["executionError"];
    assert_eq!(
        e["message"],
        format!(
            "Error in 2nd command, from '{}::worker_registry::stake_and_register_worker' (instruction 0), abort code: 1",
            w.info.package_id
        )
    );
    assert_eq!(e["abortCode"], "1");
    assert_eq!(
        e["identifier"],
        Value::Null,
        "plain abort codes carry no clever-error name"
    );
    assert_eq!(e["function"]["name"], "stake_and_register_worker");

    // event cursors are Base64 JSON positions {"t": tx sequence, "e": event index}
    w.register(1, "rpi-gql-b", 11).await;
    let q = "query($after: String) { events(first: 1, after: $after) { pageInfo { hasNextPage endCursor } nodes { sequenceNumber } } }";
    let p = gql(&w, q, json!({"after": null})).await;
    let cursor = p["data"]["events"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let pos: Value = serde_json::from_slice(&BASE64.decode(&cursor).unwrap()).unwrap();
    assert!(pos["t"].is_u64() && pos["e"].is_u64(), "{pos}");
    // a position that names no event is still a position
    let between = BASE64.encode(json!({"t": pos["t"], "e": 99}).to_string());
    let next = gql(&w, q, json!({"after": cursor})).await;
    let after_gap = gql(&w, q, json!({"after": between})).await;
    assert_eq!(
        after_gap["data"]["events"]["nodes"],
        gql(
            &w,
            q,
            json!({"after": BASE64.encode(json!({"t": pos["t"], "e": 1}).to_string())})
        )
        .await["data"]["events"]["nodes"],
        "events after a position, whether or not an event sits there"
    );
    assert_ne!(next["data"]["events"]["nodes"], json!([]));
    w.assert_conformant();
}
