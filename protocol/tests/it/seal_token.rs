//! Seal token v1: round trips, every bit flip, wrong bindings, bad lengths.

use daas_protocol::seal_token::{LEN, SealTokenError};
use daas_protocol::{Address, IdentityKey, NodeId, ObjectId, SealToken, SealingKey};
use proptest::prelude::*;

use crate::common::{World, seeded};

#[test]
fn created_token_verifies_for_its_binding_only() {
    let w = World::new(1);
    let t = w.seal_token();
    t.verify(&w.registry, &w.owner, &w.node_id).unwrap();
    assert_eq!(t.to_bytes().len(), LEN);
    assert_eq!(SealToken::from_hex(&t.to_hex()).unwrap(), t);
    assert_eq!(
        SealToken::from_hex(&t.to_hex()[2..].to_uppercase()).unwrap(),
        t
    );

    let other_registry = ObjectId(seeded("registry", 99));
    let other_owner = Address(seeded("owner", 99));
    let other_node = NodeId::from_label("rpi-43", &w.identity.public()).unwrap();
    assert!(matches!(
        t.verify(&other_registry, &w.owner, &w.node_id),
        Err(SealTokenError::Signature { .. })
    ));
    assert!(matches!(
        t.verify(&w.registry, &other_owner, &w.node_id),
        Err(SealTokenError::Signature { .. })
    ));
    assert!(matches!(
        t.verify(&w.registry, &w.owner, &other_node),
        Err(SealTokenError::Signature { .. })
    ));
    // A node_id whose fingerprint names another identity key.
    let squatted =
        NodeId::from_label("rpi-42", &IdentityKey::from_secret_bytes([5; 32]).public()).unwrap();
    assert!(matches!(
        t.verify(&w.registry, &w.owner, &squatted),
        Err(SealTokenError::NodeId(_))
    ));
}

#[test]
fn cannot_create_a_token_for_a_node_id_of_another_key() {
    let w = World::new(2);
    let foreign =
        NodeId::from_label("x", &IdentityKey::from_secret_bytes([5; 32]).public()).unwrap();
    assert!(
        SealToken::create(
            &w.identity,
            &w.sealing.public(),
            &w.registry,
            &w.owner,
            &foreign
        )
        .is_err()
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let w = World::new(3);
    let bytes = w.seal_token().to_bytes();
    let mut checked = 0;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes;
            b[i] ^= 1 << bit;
            let ok = SealToken::from_bytes(&b)
                .map(|t| t.verify(&w.registry, &w.owner, &w.node_id).is_ok())
                .unwrap_or(false);
            assert!(!ok, "flip of bit {bit} in byte {i} accepted");
            checked += 1;
        }
    }
    assert_eq!(checked, LEN * 8);
}

#[test]
fn wrong_lengths_and_versions_are_rejected_without_panics() {
    let w = World::new(4);
    let bytes = w.seal_token().to_bytes();
    for len in 0..=LEN + 64 {
        let mut v = bytes.to_vec();
        v.resize(len, 0xa5);
        let r = SealToken::from_bytes(&v);
        if len == LEN {
            assert!(r.is_ok());
        } else {
            assert!(matches!(r, Err(SealTokenError::Length { got }) if got == len));
        }
    }
    for version in [0u8, 2, 0xff] {
        let mut b = bytes;
        b[0] = version;
        assert!(
            matches!(SealToken::from_bytes(&b), Err(SealTokenError::Version { got }) if got == version)
        );
    }
    let err = SealToken::from_hex("0x01ab").unwrap_err().to_string();
    assert!(err.contains("expected 129"), "{err}");
    assert!(SealToken::from_hex("0xzz").is_err());
}

#[test]
fn a_low_order_sealing_key_in_a_token_is_refused() {
    let w = World::new(5);
    let mut b = w.seal_token().to_bytes();
    b[33..65].copy_from_slice(&[0u8; 32]);
    assert!(matches!(
        SealToken::from_bytes(&b),
        Err(SealTokenError::Key(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn round_trip_for_any_keys_label_registry_and_owner(
        id_seed in any::<[u8; 32]>(),
        seal_seed in any::<[u8; 32]>(),
        label in "[a-z0-9]([a-z0-9-]{0,44}[a-z0-9])?",
        registry in any::<[u8; 32]>(),
        owner in any::<[u8; 32]>(),
    ) {
        let identity = IdentityKey::from_secret_bytes(id_seed);
        let sealing = SealingKey::from_secret_bytes(seal_seed);
        let node_id = NodeId::from_label(&label, &identity.public()).unwrap();
        let t = SealToken::create(&identity, &sealing.public(), &ObjectId(registry), &Address(owner), &node_id).unwrap();
        let parsed = SealToken::from_bytes(&t.to_bytes()).unwrap();
        prop_assert_eq!(&parsed, &t);
        prop_assert!(parsed.verify(&ObjectId(registry), &Address(owner), &node_id).is_ok());
        prop_assert_eq!(parsed.sealing(), &sealing.public());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let w = World::new(6);
        if let Ok(t) = SealToken::from_bytes(&bytes) {
            prop_assert!(t.verify(&w.registry, &w.owner, &w.node_id).is_err());
        }
    }
}
