//! The client write path as today's Sui needs it (DESIGN §7), against the sandbox over
//! HTTP on both transports: the budget set aside from the gas coin, a registration
//! from a single coin, the shortfall named in numbers.

use daas_protocol::chain::{Chain, ChainError, Spend, Submitter};
use daas_protocol::hash::blake2b256;
use daas_protocol::tx::{Argument, PtbBuilder, TransactionData};
use daas_protocol::{Address, SuiKeypair};

use crate::world::{SUI, World};

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
    let gas = TransactionData::from_bcs(&signed.tx_bytes)
        .unwrap()
        .v1()
        .gas_data
        .clone();
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
    let payment = TransactionData::from_bcs(&signed.tx_bytes)
        .unwrap()
        .v1()
        .gas_data
        .payment
        .clone();
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
);
