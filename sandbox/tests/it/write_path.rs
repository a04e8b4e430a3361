//! The client write path as today's Sui needs it (DESIGN §7), against the sandbox over
//! HTTP on both transports: the budget set aside from the gas coin, a registration
//! from a single coin, the shortfall named in numbers, back-to-back transactions while
//! reads lag behind (`read_lag`), a stale-object refusal typed and retried once the
//! consuming transaction is visible, waiting for a transaction before reading it.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daas_protocol::chain::{
    Chain, ChainError, CoinInfo, EventCursor, EventPage, ExecOutcome, ObjectInfo, Page, RejectKind,
    Spend, Submitter, TableEntry,
};
use daas_protocol::hash::blake2b256;
use daas_protocol::tx::{Arg, Argument, PtbBuilder, TransactionData};
use daas_protocol::{Address, ObjectId, SuiKeypair, TransactionDigest, UserSignature};
use serde_json::json;

use crate::world::{Connect, SUI, World};

/// The gas data a signed transaction carries.
fn gas_of(signed: &daas_protocol::chain::SignedTransaction) -> daas_protocol::tx::GasData {
    TransactionData::from_bcs(&signed.tx_bytes)
        .unwrap()
        .v1()
        .gas_data
        .clone()
}

/// A fresh account holding one coin per amount, sent from account 0.
async fn fresh_account<C: Chain>(w: &World<C>, seed: u64, amounts: &[u64]) -> SuiKeypair {
    let kp = SuiKeypair::from_secret_bytes(blake2b256(&[b"fresh", &seed.to_le_bytes()]));
    let to: Address = kp.address();
    let out = w
        .submit(&w.accounts[0], |b| {
            let coins = b.split_coins(Argument::GasCoin, amounts);
            b.transfer_objects(coins, to);
        })
        .await;
    assert!(out.is_success(), "funding failed: {:?}", out.status);
    let coins = w.chain().coins(to).await.unwrap();
    let mut got: Vec<u64> = coins.iter().map(|c| c.balance).collect();
    got.sort_unstable();
    let mut want = amounts.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "the fresh account holds exactly the coins sent");
    kp
}

async fn registration_from_a_single_5_sui_coin<C: Chain>(w: World<C>) {
    let staker = fresh_account(&w, 1, &[5 * SUI]).await;
    let d = w.device_for(w.info.registry_id, staker.address(), "rpi-single", 11, 11);
    let mut b = PtbBuilder::new();
    w.calls
        .stake_and_register_worker(&mut b, SUI, d.node_id.as_str(), &d.token.to_bytes());
    let sub = Submitter::new(w.chain(), &staker);
    let signed = sub
        .sign(b.finish())
        .await
        .expect("a 5 SUI coin pays 1 SUI + gas");
    let gas = gas_of(&signed);
    assert_eq!(gas.payment.len(), 1);
    assert!(
        gas.budget <= 4 * SUI,
        "the budget leaves the stake on the coin: {}",
        gas.budget
    );
    let out = sub.execute(&signed).await.unwrap();
    assert!(out.is_success(), "registration failed: {:?}", out.status);
    let worker = w.worker(d.node_id.as_str()).await.expect("registered");
    assert_eq!(worker.worker.owner, staker.address());
    assert_eq!(worker.worker.stake.value, SUI);
    let left: u64 = w
        .chain()
        .coins(staker.address())
        .await
        .unwrap()
        .iter()
        .map(|c| c.balance)
        .sum();
    let charged = out.gas.computation + out.gas.storage - out.gas.rebate;
    assert_eq!(left, 4 * SUI - charged, "5 SUI − stake − gas");
    w.assert_conformant();
}

async fn a_shortfall_names_the_numbers_and_coins_merge_to_pay<C: Chain>(w: World<C>) {
    // 0.6 + 0.3 SUI cannot pay a 1 SUI stake and gas
    let staker = fresh_account(&w, 2, &[600_000_000, 300_000_000]).await;
    let d = w.device_for(w.info.registry_id, staker.address(), "rpi-poor", 12, 12);
    let register = |b: &mut PtbBuilder| {
        w.calls
            .stake_and_register_worker(b, SUI, d.node_id.as_str(), &d.token.to_bytes());
    };
    let mut b = PtbBuilder::new();
    register(&mut b);
    let sub = Submitter::new(w.chain(), &staker);
    let err = sub
        .sign_with(b.finish(), Spend::registration(SUI, 0))
        .await
        .unwrap_err();
    let ChainError::InsufficientFunds {
        balance,
        coins,
        gas,
        gas_is_estimate,
        ..
    } = &err
    else {
        panic!("expected a shortfall, got {err}");
    };
    assert_eq!((*balance, *coins), (900_000_000, 2));
    assert!(!gas_is_estimate, "no dry run was affordable");
    assert_eq!(
        *gas,
        1_000 * 1_000,
        "the minimum budget at the reference gas price"
    );
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "account {} has 0.9 SUI in 2 coins; this transaction needs 1 SUI stake + 0 SUI fee + at least 0.001 SUI gas: fund it with at least 0.101 SUI more",
            staker.address()
        )
    );

    // with a third coin the richest two pay 1 SUI + gas together: several gas coins
    // are merged into the first, as wallets do
    let to = staker.address();
    let out = w
        .submit(&w.accounts[0], |b| {
            let c = b.split_coins(Argument::GasCoin, &[500_000_000]);
            b.transfer_objects(c, to);
        })
        .await;
    assert!(out.is_success());
    let mut b = PtbBuilder::new();
    register(&mut b);
    let signed = sub.sign(b.finish()).await.unwrap();
    let payment = gas_of(&signed).payment;
    assert_eq!(
        payment.len(),
        2,
        "0.6 + 0.5 SUI pay, the 0.3 SUI coin stays"
    );
    let out = sub.execute(&signed).await.unwrap();
    assert!(out.is_success(), "{:?}", out.status);
    let left = w.chain().coins(to).await.unwrap();
    assert_eq!(
        left.len(),
        2,
        "the second gas coin was merged into the first"
    );
    assert!(left.iter().any(|c| c.balance == 300_000_000));
    w.assert_conformant();
}

async fn a_dry_run_that_ran_out_of_gas_is_never_trusted<C: Chain>(w: World<C>) {
    // 1.005 SUI: a dry run can afford 0.005 SUI of budget after the 1 SUI stake, less
    // than a registration costs; its figures are what the budget allowed, not the cost
    let staker = fresh_account(&w, 4, &[1_005_000_000]).await;
    let d = w.device_for(w.info.registry_id, staker.address(), "rpi-thin", 14, 14);
    let mut b = PtbBuilder::new();
    w.calls
        .stake_and_register_worker(&mut b, SUI, d.node_id.as_str(), &d.token.to_bytes());
    let err = Submitter::new(w.chain(), &staker)
        .sign(b.finish())
        .await
        .unwrap_err();
    let ChainError::InsufficientFunds {
        balance,
        gas,
        gas_is_estimate,
        ..
    } = &err
    else {
        panic!("expected a shortfall, got {err}");
    };
    assert_eq!(*balance, 1_005_000_000);
    assert!(!gas_is_estimate);
    assert!(*gas > 5_000_000, "more than the dry run could spend: {gas}");
    assert!(
        err.to_string().contains("at least 0.005000001 SUI gas"),
        "{err}"
    );
    // nothing was sent: the coin is untouched
    let coins = w.chain().coins(staker.address()).await.unwrap();
    assert_eq!(coins.iter().map(|c| c.balance).sum::<u64>(), 1_005_000_000);
    w.assert_conformant();
}

/// A client that passes everything through and keeps every refusal it saw: the
/// production trait around the real client, to see what the submitter had to handle.
struct Recording<C> {
    inner: C,
    refusals: Arc<Mutex<Vec<RejectKind>>>,
}

impl<C: Chain> Recording<C> {
    fn new(inner: C) -> Self {
        Recording {
            inner,
            refusals: Arc::default(),
        }
    }

    fn refusals(&self) -> Vec<RejectKind> {
        self.refusals.lock().unwrap().clone()
    }

    fn note<T>(&self, r: daas_protocol::chain::Result<T>) -> daas_protocol::chain::Result<T> {
        if let Err(e) = &r
            && let Some(k) = e.reject_kind()
        {
            self.refusals.lock().unwrap().push(k.clone());
        }
        r
    }
}

impl<C: Chain> Chain for Recording<C> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn verify_chain(&self) -> impl Future<Output = daas_protocol::chain::Result<()>> + Send {
        self.inner.verify_chain()
    }
    fn reference_gas_price(
        &self,
    ) -> impl Future<Output = daas_protocol::chain::Result<u64>> + Send {
        self.inner.reference_gas_price()
    }
    fn coins(
        &self,
        owner: Address,
    ) -> impl Future<Output = daas_protocol::chain::Result<Vec<CoinInfo>>> + Send {
        self.inner.coins(owner)
    }
    fn object(
        &self,
        id: ObjectId,
    ) -> impl Future<Output = daas_protocol::chain::Result<Option<ObjectInfo>>> + Send {
        self.inner.object(id)
    }
    fn table_entry(
        &self,
        table: ObjectId,
        key: &str,
    ) -> impl Future<Output = daas_protocol::chain::Result<Option<ObjectId>>> + Send {
        self.inner.table_entry(table, key)
    }
    fn table_entries(
        &self,
        table: ObjectId,
        cursor: Option<String>,
    ) -> impl Future<Output = daas_protocol::chain::Result<Page<TableEntry>>> + Send {
        self.inner.table_entries(table, cursor)
    }
    fn events(
        &self,
        package: ObjectId,
        cursor: Option<&EventCursor>,
        limit: usize,
    ) -> impl Future<Output = daas_protocol::chain::Result<EventPage>> + Send {
        self.inner.events(package, cursor, limit)
    }
    fn latest_checkpoint(&self) -> impl Future<Output = daas_protocol::chain::Result<u64>> + Send {
        self.inner.latest_checkpoint()
    }
    async fn dry_run(&self, tx_bytes: &[u8]) -> daas_protocol::chain::Result<ExecOutcome> {
        self.note(self.inner.dry_run(tx_bytes).await)
    }
    async fn execute(
        &self,
        tx_bytes: &[u8],
        signatures: &[UserSignature],
    ) -> daas_protocol::chain::Result<ExecOutcome> {
        self.note(self.inner.execute(tx_bytes, signatures).await)
    }
    fn transaction(
        &self,
        digest: &TransactionDigest,
    ) -> impl Future<Output = daas_protocol::chain::Result<Option<ExecOutcome>>> + Send {
        self.inner.transaction(digest)
    }
    fn wait_for_transaction(
        &self,
        digest: &TransactionDigest,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = daas_protocol::chain::Result<ExecOutcome>> + Send {
        self.inner.wait_for_transaction(digest, deadline)
    }
}

/// Two transactions from `account`, so that the chain has checkpoints to lag behind
/// (genesis is checkpoint 0, the registry's deployment checkpoint 1): with reads two
/// checkpoints behind, the registry and its caps stay readable.
async fn warm_up<C: Chain>(w: &World<C>, account: usize) {
    for _ in 0..2 {
        let out = w
            .submit(&w.accounts[account], |b| {
                let c = b.split_coins(Argument::GasCoin, &[1]);
                b.transfer_objects(c, Address::from_u64(0xfeed));
            })
            .await;
        assert!(out.is_success());
    }
}

/// Reads served `n` checkpoints behind the newest, set as an operator would.
async fn set_read_lag<C>(w: &World<C>, n: u64) {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/admin/faults", w.info.rpc_url))
        .json(&json!({"read_lag": n}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["read_lag"], n);
}

/// Other users' transactions keep coming (every 20 ms, from account 2), as on a live
/// network: the sandbox makes one checkpoint per transaction, so a lagging read path
/// catches up only while the chain moves. Stops when dropped.
struct Traffic(tokio::task::JoinHandle<()>);

impl Traffic {
    fn start<C: Connect>(w: &World<C>, signer: SuiKeypair) -> Traffic {
        let chain = C::connect(&w.info);
        Traffic(tokio::spawn(async move {
            let sub = Submitter::new(chain, &signer);
            let me = signer.address();
            loop {
                let mut b = PtbBuilder::new();
                let c = b.split_coins(Argument::GasCoin, &[1]);
                b.transfer_objects(c, me);
                sub.submit(b.finish()).await.expect("traffic transaction");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }))
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Polls `probe` every 10 ms until it gives `Some`, for at most `timeout`.
async fn poll_until(timeout: Duration, probe: impl Fn() -> Option<()>) -> bool {
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        if probe().is_some() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(30)
}

async fn back_to_back_submissions_while_reads_lag<C: Connect>(w: World<C>) {
    // one coin, so the second registration must pay with what the first left of it
    let staker = fresh_account(&w, 3, &[10 * SUI]).await;
    warm_up(&w, 1).await;
    let rec = Recording::new(w.chain());
    let sub = Submitter::new(&rec, &staker);
    set_read_lag(&w, 2).await;
    let register = |label: &str, seed: u64| {
        let d = w.device_for(w.info.registry_id, staker.address(), label, seed, seed);
        let mut b = PtbBuilder::new();
        w.calls
            .stake_and_register_worker(&mut b, SUI, d.node_id.as_str(), &d.token.to_bytes());
        (d, b.finish())
    };
    let (d1, pt) = register("rpi-b2b-1", 21);
    let first = sub.submit(pt).await.unwrap();
    assert!(first.is_success(), "{:?}", first.status);
    let gas = first.gas_object.expect("the effects name the gas coin");
    // the read path does not show the first transaction yet
    let listed = w.chain().coins(staker.address()).await.unwrap();
    let stale = listed
        .iter()
        .find(|c| c.id == gas.id)
        .expect("gas coin listed");
    assert!(
        stale.version < gas.version,
        "reads lag: {} vs {}",
        stale.version,
        gas.version
    );
    assert!(
        w.chain()
            .transaction(&first.digest)
            .await
            .unwrap()
            .is_none(),
        "not readable yet"
    );
    assert!(
        w.worker(d1.node_id.as_str()).await.is_none(),
        "not readable yet"
    );

    // the second one pays with the gas coin as the first one's effects left it
    let (d2, pt) = register("rpi-b2b-2", 22);
    let signed = sub.sign(pt).await.unwrap();
    let payment = gas_of(&signed).payment;
    assert_eq!(payment[0], gas.object_ref().unwrap());
    let second = sub.execute(&signed).await.unwrap();
    assert!(second.is_success(), "{:?}", second.status);

    // an owned cap, twice in a row: its version comes from the effects too
    let admin = Submitter::new(&rec, &w.master);
    let mut last = None;
    for stake in [2 * SUI, 3 * SUI] {
        let cap = admin.object_ref(w.info.admin_cap_id).await.unwrap();
        let mut b = PtbBuilder::new();
        w.calls
            .call(&mut b, "set_min_stake", &[Arg::Cap(cap), Arg::U64(stake)])
            .unwrap();
        let out = admin.submit(b.finish()).await.unwrap();
        assert!(out.is_success(), "{:?}", out.status);
        let after = out.change(&w.info.admin_cap_id).unwrap();
        assert!(after.version > cap.version);
        last = Some(out);
    }
    let last = last.unwrap();
    assert!(
        rec.refusals().is_empty(),
        "no refusal: {:?}",
        rec.refusals()
    );

    // a read that must see the write waits for it (other users' transactions move
    // the chain, and with it the lagging read path)
    assert!(w.chain().transaction(&last.digest).await.unwrap().is_none());
    let (_, before) = w.reader.registry().await.unwrap();
    assert_ne!(
        before.min_stake,
        3 * SUI,
        "the last write is not readable yet"
    );
    let _traffic = Traffic::start(&w, w.accounts[2].clone());
    let seen = w
        .chain()
        .wait_for_transaction(&last.digest, deadline())
        .await
        .unwrap();
    assert_eq!(seen.digest, last.digest);
    assert!(seen.checkpoint.is_some());
    let (_, after) = w.reader.registry().await.unwrap();
    assert_eq!(
        after.min_stake,
        3 * SUI,
        "read after waiting: the write is there"
    );
    for d in [&d1, &d2] {
        assert!(
            w.worker(d.node_id.as_str()).await.is_some(),
            "{} readable",
            d.node_id
        );
    }
    w.assert_conformant();
}

async fn a_stale_object_refusal_is_retried_once_the_consuming_transaction_is_visible<C: Chain>(
    w: World<C>,
) {
    warm_up(&w, 0).await;
    set_read_lag(&w, 2).await;
    // two submitters for one account: a second process, or one restarted without the
    // first one's cache
    let first = Submitter::new(w.chain(), &w.accounts[1]);
    let rec = Recording::new(w.chain());
    let second = Submitter::new(&rec, &w.accounts[1]);
    let transfer = || {
        let mut b = PtbBuilder::new();
        let c = b.split_coins(Argument::GasCoin, &[SUI]);
        b.transfer_objects(c, Address::from_u64(0xbeef));
        b.finish()
    };
    // both coins of the account are spent once, so the second submitter's lagging
    // read offers only consumed versions
    let a = first.submit(transfer()).await.unwrap();
    let b = first.submit(transfer()).await.unwrap();
    assert!(a.is_success() && b.is_success());
    let consumed: Vec<ObjectId> = [&a, &b].iter().map(|o| o.gas_object.unwrap().id).collect();

    // the lagging node catches up once the second submitter has been refused: it
    // must wait for that, not rebuild blindly
    let catch_up = {
        let refusals = Arc::clone(&rec.refusals);
        let url = w.info.rpc_url.clone();
        tokio::spawn(async move {
            let seen = poll_until(Duration::from_secs(30), || {
                (!refusals.lock().unwrap().is_empty()).then_some(())
            })
            .await;
            assert!(seen, "the second submitter was never refused");
            let r = reqwest::Client::new()
                .post(format!("{url}/admin/faults"))
                .json(&json!({"read_lag": 0}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        })
    };
    let out = second.submit(transfer()).await.unwrap();
    assert!(out.is_success(), "{:?}", out.status);
    catch_up.await.unwrap();
    let refusals = rec.refusals();
    assert!(
        !refusals.is_empty(),
        "the lagging read gave a consumed version"
    );
    for r in &refusals {
        match r {
            RejectKind::StaleObject {
                object: Some(id),
                given: Some(g),
                current: Some(c),
            } => {
                assert!(consumed.contains(id), "{id} is one of the consumed coins");
                assert!(c > g);
            }
            other => panic!("expected a typed stale-object refusal, got {other:?}"),
        }
    }
    assert!(refusals.len() <= 2, "bounded: {refusals:?}");
    // it was rebuilt only after reads showed the consuming transactions
    let visible = w.chain().transaction(&a.digest).await.unwrap();
    assert!(visible.is_some(), "the consuming transaction is readable");
    w.assert_conformant();
}

async fn wait_for_local_execution_is_refused_and_never_sent<C: Chain>(w: World<C>) {
    // what today's JSON-RPC service answers the deprecated mode, typed as the clients
    // type it (every execution in these tests goes through the clients, and the
    // sandbox refuses the mode, so none of them sends it)
    let r: serde_json::Value = reqwest::Client::new()
        .post(&w.info.rpc_url)
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "sui_executeTransactionBlock",
            "params": ["AAAA", [], {"showEffects": true}, "WaitForLocalExecution"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let msg = r["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("WaitForLocalExecution mode is deprecated"),
        "{msg}"
    );
    assert_eq!(
        daas_protocol::chain::classify_rejection(Some(-32602), msg),
        RejectKind::InvalidParams
    );
    let (_, worker) = w.register(0, "rpi-cert", 31).await;
    assert_eq!(worker.worker.stake.value, SUI);
}

macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod jsonrpc {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::world::World::jsonrpc().await).await;
                }
            )*
        }
        mod graphql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::world::World::graphql().await).await;
                }
            )*
        }
    };
}

both_transports!(
    registration_from_a_single_5_sui_coin,
    a_shortfall_names_the_numbers_and_coins_merge_to_pay,
    a_dry_run_that_ran_out_of_gas_is_never_trusted,
    back_to_back_submissions_while_reads_lag,
    a_stale_object_refusal_is_retried_once_the_consuming_transaction_is_visible,
    wait_for_local_execution_is_refused_and_never_sent,
);
