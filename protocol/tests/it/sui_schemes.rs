//! Sui accounts of every scheme against vectors made with Sui's TypeScript SDK
//! (`tests/fixtures/sui_key_vectors.json`, written by `tests/sui-sdk/make_vectors.mjs`
//! with `@mysten/sui`): keys, `suiprivkey`, keystore entries, public keys, addresses, and
//! the signature of a registration transaction the SDK built and signed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::sui::{SignatureScheme, SuiKeyError};
use daas_protocol::{Address, SuiKeypair, UserSignature};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Fixture {
    pub sdk: String,
    pub transaction: Transaction,
    pub vectors: Vec<Vector>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Transaction {
    pub gas_coin: GasCoin,
    pub gas_price: u64,
    pub gas_budget: u64,
    pub package: String,
    pub registry: Shared,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "tx"), allow(dead_code))]
pub struct GasCoin {
    pub object_id: String,
    pub version: String,
    pub digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "tx"), allow(dead_code))]
pub struct Shared {
    pub object_id: String,
    pub initial_shared_version: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Vector {
    pub label: String,
    pub scheme: String,
    pub flag: u8,
    pub secret_hex: String,
    pub suiprivkey: String,
    pub keystore_entry: String,
    pub public_key_hex: String,
    pub sui_public_key: String,
    pub address: String,
    pub registration: Registration,
    pub tx_bytes: String,
    pub signature: String,
    pub high_s_signature: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(not(feature = "tx"), allow(dead_code))]
pub struct Registration {
    pub stake: String,
    pub node_id: String,
    pub seal_token_hex: String,
}

pub fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/sui_key_vectors.json")).unwrap()
}

fn scheme_of(v: &Vector) -> SignatureScheme {
    match v.scheme.as_str() {
        "ED25519" => SignatureScheme::Ed25519,
        "Secp256k1" => SignatureScheme::Secp256k1,
        "Secp256r1" => SignatureScheme::Secp256r1,
        s => panic!("unknown scheme {s} in the fixture"),
    }
}

#[test]
fn the_fixture_covers_every_scheme_twice() {
    let f = fixture();
    assert!(f.sdk.starts_with("@mysten/sui "), "{}", f.sdk);
    for s in SignatureScheme::ALL {
        let n = f.vectors.iter().filter(|v| scheme_of(v) == s).count();
        assert_eq!(n, 2, "{s}");
    }
    for v in &f.vectors {
        assert_eq!(scheme_of(v).flag(), v.flag, "{}", v.label);
    }
}

/// Everything about the key the SDK made: import both forms, export both forms, the
/// public key, the address, and our own deterministic signature equal to the SDK's.
#[test]
fn sdk_keys_import_export_and_sign_identically() {
    for v in fixture().vectors {
        let scheme = scheme_of(&v);
        if !scheme.is_supported() {
            continue;
        }
        let k = SuiKeypair::from_suiprivkey(&v.suiprivkey).unwrap();
        assert_eq!(k.scheme(), scheme, "{}", v.label);
        assert_eq!(::hex::encode(k.secret_bytes().as_ref()), v.secret_hex);
        assert_eq!(
            ::hex::encode(k.public_key().as_bytes()),
            v.public_key_hex,
            "{}",
            v.label
        );
        assert_eq!(k.public_key().as_bytes().len(), scheme.public_key_len());
        assert_eq!(k.public_key().to_base64(), v.sui_public_key, "{}", v.label);
        assert_eq!(k.address().to_string(), v.address, "{}", v.label);
        assert_eq!(k.to_suiprivkey().as_str(), v.suiprivkey, "{}", v.label);
        assert_eq!(k.to_keystore_entry().as_str(), v.keystore_entry);
        let from_entry = SuiKeypair::from_keystore_entry(&v.keystore_entry).unwrap();
        assert_eq!(from_entry.address(), k.address());
        let secret: [u8; 32] = ::hex::decode(&v.secret_hex).unwrap().try_into().unwrap();
        let from_secret = SuiKeypair::from_scheme_secret(scheme, secret).unwrap();
        assert_eq!(from_secret.address(), k.address());

        let tx = BASE64.decode(&v.tx_bytes).unwrap();
        let ours = k.sign_transaction(&tx);
        // Ed25519 and RFC 6979 ECDSA are deterministic: same key, same digest, same bytes.
        assert_eq!(ours.to_base64(), v.signature, "{}", v.label);
        assert_eq!(ours.as_bytes().len(), scheme.signature_len());
        assert!(!format!("{k:?}").contains(&v.secret_hex[..16]));
    }
}

#[test]
fn sdk_signatures_verify_and_tampering_fails() {
    for v in fixture().vectors {
        let scheme = scheme_of(&v);
        let sig = UserSignature::from_base64(&v.signature).unwrap();
        assert_eq!(sig.scheme(), scheme);
        assert_eq!(sig.to_base64(), v.signature);
        let sender: Address = v.address.parse().unwrap();
        assert_eq!(sig.signer(), sender, "{}", v.label);
        let tx = BASE64.decode(&v.tx_bytes).unwrap();
        if !scheme.is_supported() {
            assert!(matches!(
                sig.verify_transaction(&tx, &sender),
                Err(SuiKeyError::Unsupported { .. })
            ));
            continue;
        }
        sig.verify_transaction(&tx, &sender).unwrap();

        // One changed byte of the transaction.
        let mut bad_tx = tx.clone();
        bad_tx[40] ^= 1;
        assert!(
            matches!(
                sig.verify_transaction(&bad_tx, &sender),
                Err(SuiKeyError::SignatureInvalid)
            ),
            "{}",
            v.label
        );
        // One changed byte of the signature (r).
        let mut bytes = sig.as_bytes().to_vec();
        bytes[5] ^= 1;
        let bad = UserSignature::from_bytes(&bytes).unwrap();
        assert!(bad.verify_transaction(&tx, &sender).is_err(), "{}", v.label);
        // Another sender.
        assert!(matches!(
            sig.verify_transaction(&tx, &Address::from_u64(7)),
            Err(SuiKeyError::WrongSigner { .. })
        ));
        // The high-S twin (n - s) of an ECDSA signature verifies mathematically, but Sui
        // and the SDK refuse it (malleability): so do we.
        if let Some(high) = &v.high_s_signature {
            let high = UserSignature::from_base64(high).unwrap();
            assert!(
                matches!(
                    high.verify_transaction(&tx, &sender),
                    Err(SuiKeyError::SignatureInvalid)
                ),
                "{}",
                v.label
            );
        }
    }
}

#[test]
fn signature_lengths_follow_the_flag() {
    let ed = [0u8; 97];
    assert_eq!(
        UserSignature::from_bytes(&ed).unwrap().scheme(),
        SignatureScheme::Ed25519
    );
    for flag in [1u8, 2] {
        let mut b = [0u8; 98];
        b[0] = flag;
        assert_eq!(UserSignature::from_bytes(&b).unwrap().as_bytes().len(), 98);
        // 97 bytes with a secp flag, 98 with the Ed25519 flag: refused, naming the scheme.
        let e = UserSignature::from_bytes(&b[..97]).unwrap_err().to_string();
        assert!(e.contains("expected 98"), "{e}");
    }
    let mut b = [0u8; 98];
    assert!(matches!(
        UserSignature::from_bytes(&b),
        Err(SuiKeyError::SignatureLength {
            got: 98,
            expected: 97,
            ..
        })
    ));
    // Multisig (0x03), BLS, zkLogin, passkey: not account signatures this project takes.
    for flag in [3u8, 4, 5, 6, 0xff] {
        b[0] = flag;
        assert!(matches!(
            UserSignature::from_bytes(&b),
            Err(SuiKeyError::Scheme { .. })
        ));
    }
    assert!(matches!(
        UserSignature::from_bytes(&[]),
        Err(SuiKeyError::SignatureEmpty)
    ));
}

#[test]
fn scheme_names_parse_for_the_cli() {
    for s in SignatureScheme::ALL {
        assert_eq!(s.name().parse::<SignatureScheme>().unwrap(), s);
        assert_eq!(SignatureScheme::from_flag(s.flag()), Some(s));
    }
    assert_eq!(
        "Secp256K1".parse::<SignatureScheme>().unwrap(),
        SignatureScheme::Secp256k1
    );
    let e = "rsa".parse::<SignatureScheme>().unwrap_err();
    assert!(e.contains("ed25519, secp256k1 or secp256r1"), "{e}");
}

#[cfg(not(feature = "tx"))]
#[test]
fn without_tx_ecdsa_keys_are_refused_naming_the_feature() {
    for v in fixture().vectors {
        if scheme_of(&v) == SignatureScheme::Ed25519 {
            continue;
        }
        let e = SuiKeypair::from_suiprivkey(&v.suiprivkey).unwrap_err();
        assert!(matches!(e, SuiKeyError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("`tx` feature"), "{e}");
    }
}

#[cfg(feature = "tx")]
mod ecdsa {
    use super::*;
    use daas_protocol::tx::{GasData, TransactionData};
    use daas_protocol::tx::{ObjectDigest, ObjectRef, PtbBuilder, RegistryCalls, SharedRef};

    /// Our transaction builder makes the SDK's registration byte for byte.
    #[test]
    fn the_sdk_registration_transaction_is_what_the_builder_makes() {
        let f = fixture();
        for v in &f.vectors {
            let tx = BASE64.decode(&v.tx_bytes).unwrap();
            let decoded = TransactionData::from_bcs(&tx).unwrap();
            assert_eq!(decoded.to_bcs(), tx);
            let calls = RegistryCalls {
                package: f.transaction.package.parse().unwrap(),
                registry: SharedRef {
                    id: f.transaction.registry.object_id.parse().unwrap(),
                    initial_shared_version: f
                        .transaction
                        .registry
                        .initial_shared_version
                        .parse()
                        .unwrap(),
                },
            };
            let mut b = PtbBuilder::new();
            let seal = ::hex::decode(&v.registration.seal_token_hex).unwrap();
            calls.stake_and_register_worker(
                &mut b,
                v.registration.stake.parse().unwrap(),
                &v.registration.node_id,
                &seal,
            );
            let sender: Address = v.address.parse().unwrap();
            let ours = TransactionData::new(
                b.finish(),
                sender,
                GasData {
                    payment: vec![ObjectRef {
                        id: f.transaction.gas_coin.object_id.parse().unwrap(),
                        version: f.transaction.gas_coin.version.parse().unwrap(),
                        digest: f
                            .transaction
                            .gas_coin
                            .digest
                            .parse::<ObjectDigest>()
                            .unwrap(),
                    }],
                    owner: sender,
                    price: f.transaction.gas_price,
                    budget: f.transaction.gas_budget,
                },
            );
            assert_eq!(ours.to_bcs(), tx, "{}", v.label);
        }
    }

    /// Group orders, for the low-S check.
    const K1_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    const R1_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

    /// s <= n/2, comparing big-endian bytes (2s <= n).
    fn is_low_s(s: &[u8], n_hex: &str) -> bool {
        let n = ::hex::decode(n_hex).unwrap();
        // 2s as 33 big-endian bytes
        let mut two_s = [0u8; 33];
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let v = (s[i] as u16) * 2 + carry;
            two_s[i + 1] = v as u8;
            carry = v >> 8;
        }
        two_s[0] = carry as u8;
        let mut n33 = [0u8; 33];
        n33[1..].copy_from_slice(&n);
        two_s <= n33
    }

    #[test]
    fn fresh_keys_of_every_scheme_sign_low_s_and_round_trip() {
        let tx = BASE64.decode(&fixture().vectors[0].tx_bytes).unwrap();
        for scheme in SignatureScheme::ALL {
            for _ in 0..16 {
                let k = SuiKeypair::generate_scheme(scheme).unwrap();
                assert_eq!(k.scheme(), scheme);
                let again = SuiKeypair::from_suiprivkey(&k.to_suiprivkey()).unwrap();
                assert_eq!(again.address(), k.address());
                let sig = k.sign_transaction(&tx);
                sig.verify_transaction(&tx, &k.address()).unwrap();
                let s = &sig.signature()[32..];
                match scheme {
                    SignatureScheme::Secp256k1 => assert!(is_low_s(s, K1_N)),
                    SignatureScheme::Secp256r1 => assert!(is_low_s(s, R1_N)),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn invalid_ecdsa_secrets_and_points_are_refused() {
        let n: [u8; 32] = ::hex::decode(K1_N).unwrap().try_into().unwrap();
        for (scheme, bad) in [
            (SignatureScheme::Secp256k1, [0u8; 32]),
            (SignatureScheme::Secp256k1, n),
            (SignatureScheme::Secp256k1, [0xff; 32]),
            (SignatureScheme::Secp256r1, [0u8; 32]),
            (SignatureScheme::Secp256r1, [0xff; 32]),
        ] {
            assert!(matches!(
                SuiKeypair::from_scheme_secret(scheme, bad),
                Err(SuiKeyError::InvalidSecret { .. })
            ));
        }
        // A keystore entry with an invalid secp scalar names the entry.
        let entry = BASE64.encode([[1u8].as_slice(), &[0xff; 32]].concat());
        let e = SuiKeypair::parse_keystore(&format!("[\"{entry}\"]")).unwrap_err();
        assert!(e.contains("entry 0"), "{e}");
        // A public key that is not on the curve (prefix 0x05).
        let v = &fixture().vectors[2];
        let mut b = BASE64.decode(&v.signature).unwrap();
        b[65] = 0x05;
        let sig = UserSignature::from_bytes(&b).unwrap();
        let tx = BASE64.decode(&v.tx_bytes).unwrap();
        assert!(matches!(
            sig.verify_transaction(&tx, &sig.signer()),
            Err(SuiKeyError::InvalidPublicKey { .. })
        ));
    }

    #[test]
    fn keystore_with_all_three_schemes_picks_by_address() {
        use std::os::unix::fs::PermissionsExt;
        let f = fixture();
        let dir = tempfile::tempdir().unwrap();
        // A key file's directory gives group and others no access (tempdir follows the umask).
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.path().join("sui.keystore");
        let entries: Vec<&str> = f
            .vectors
            .iter()
            .map(|v| v.keystore_entry.as_str())
            .collect();
        std::fs::write(&path, serde_json::to_string(&entries).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        for v in &f.vectors {
            let a: Address = v.address.parse().unwrap();
            let k = SuiKeypair::load(&path, Some(&a)).unwrap();
            assert_eq!(k.address(), a);
            assert_eq!(k.scheme(), scheme_of(v));
        }
    }
}
