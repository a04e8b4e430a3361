//! The sandbox executes transactions signed with every Sui account scheme (Ed25519,
//! Secp256k1, Secp256r1), and refuses a signature by the wrong key or a high-S ECDSA
//! signature, as Sui's validators do.

use daas_protocol::chain::{Chain, JsonRpcClient, Spend, Submitter};
use daas_protocol::sui::SignatureScheme;
use daas_protocol::tx::{Argument, PtbBuilder};
use daas_protocol::{SuiKeypair, UserSignature};

use crate::world::{SUI, World};

/// Funds a fresh account of `scheme` from staker 0 and has it register a device.
async fn register_with(w: &World<JsonRpcClient>, scheme: SignatureScheme, seed: u64) {
    let key = SuiKeypair::generate_scheme(scheme).unwrap();
    assert_eq!(key.scheme(), scheme);
    let fund = w
        .submit(&w.accounts[0], |b| {
            let coin = b.split_coins(Argument::GasCoin, &[3 * SUI])[0];
            b.transfer_objects(vec![coin], key.address());
        })
        .await;
    assert!(fund.is_success(), "{:?}", fund.status);
    let coins = w.chain().coins(key.address()).await.unwrap();
    assert_eq!(coins.iter().map(|c| c.balance).sum::<u64>(), 3 * SUI);

    let device = w.device_for(w.info.registry_id, key.address(), "k", seed, seed);
    let mut b = PtbBuilder::new();
    w.calls.stake_and_register_worker(
        &mut b,
        SUI,
        device.node_id.as_str(),
        &device.token.to_bytes(),
    );
    let s = Submitter::new(w.chain(), &key);
    let signed = s.sign_with(b.finish(), Spend::new(SUI)).await.unwrap();
    assert_eq!(signed.signature.scheme(), scheme);
    assert_eq!(signed.signature.as_bytes().len(), scheme.signature_len());

    // Signed by another key of the same scheme: refused before execution.
    let other = SuiKeypair::generate_scheme(scheme).unwrap();
    let forged = other.sign_transaction(&signed.tx_bytes);
    assert!(
        w.chain()
            .execute(&signed.tx_bytes, &[forged])
            .await
            .is_err(),
        "{scheme}: a signature by another key was accepted"
    );
    if scheme != SignatureScheme::Ed25519 {
        // The high-S twin of the valid signature: mathematically valid, refused by Sui.
        let high = high_s(&signed.signature, scheme);
        assert!(
            w.chain().execute(&signed.tx_bytes, &[high]).await.is_err(),
            "{scheme}: a high-S signature was accepted"
        );
    }

    let out = s.execute(&signed).await.unwrap();
    assert!(out.is_success(), "{scheme}: {:?}", out.status);
    let worker = w.worker(device.node_id.as_str()).await.expect("registered");
    assert_eq!(worker.worker.owner, key.address());
    assert_eq!(worker.worker.stake.value, SUI);
}

/// n - s (big-endian subtraction) in place of s.
fn high_s(sig: &UserSignature, scheme: SignatureScheme) -> UserSignature {
    let n = match scheme {
        SignatureScheme::Secp256k1 => {
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        }
        _ => "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    };
    let n = ::hex::decode(n).unwrap();
    let mut b = sig.as_bytes().to_vec();
    let s = &mut b[33..65];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut v = n[i] as i16 - s[i] as i16 - borrow;
        borrow = if v < 0 {
            v += 256;
            1
        } else {
            0
        };
        s[i] = v as u8;
    }
    UserSignature::from_bytes(&b).unwrap()
}

#[tokio::test]
async fn accounts_of_every_scheme_register_workers() {
    let w = World::jsonrpc().await;
    for (i, scheme) in SignatureScheme::ALL.into_iter().enumerate() {
        register_with(&w, scheme, 900 + i as u64).await;
    }
    w.assert_conformant();
}
