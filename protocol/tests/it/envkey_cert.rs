//! Envelope-key certificate v1: issue/verify, bit flips, bindings, serial pinning.

use daas_protocol::envkey_cert::{CertError, LEN};
use daas_protocol::keys::EnvelopePublicKey;
use daas_protocol::{ChainId, EnvelopeKey, EnvelopeKeyCert, EnvelopeKeyPin, ObjectId, RootKey};

use crate::common::{World, seeded};

fn cert(w: &World, serial: u64, key: &EnvelopeKey) -> [u8; LEN] {
    EnvelopeKeyCert::issue(&w.root, &w.chain, &w.registry, serial, &key.public()).to_bytes()
}

#[test]
fn issued_certificate_verifies_for_its_chain_and_registry_only() {
    let w = World::new(10);
    let bytes = cert(&w, 1, &w.envelope_key);
    let parsed = EnvelopeKeyCert::from_bytes(&bytes).unwrap();
    let ok = parsed
        .verify(&w.root.public(), &w.chain, &w.registry)
        .unwrap();
    assert_eq!(ok.serial, 1);
    assert_eq!(ok.key, w.envelope_key.public());
    assert!(
        parsed
            .verify(&w.root.public(), &ChainId(seeded("chain", 77)), &w.registry)
            .is_err()
    );
    assert!(
        parsed
            .verify(
                &w.root.public(),
                &w.chain,
                &ObjectId(seeded("registry", 77))
            )
            .is_err()
    );
    let other_root = RootKey::from_secret_bytes([3; 32]);
    assert!(matches!(
        parsed.verify(&other_root.public(), &w.chain, &w.registry),
        Err(CertError::Signature { serial: 1, .. })
    ));
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let w = World::new(11);
    let bytes = cert(&w, 7, &w.envelope_key);
    for i in 0..LEN {
        for bit in 0..8 {
            let mut b = bytes;
            b[i] ^= 1 << bit;
            let ok = EnvelopeKeyCert::from_bytes(&b)
                .map(|c| c.verify(&w.root.public(), &w.chain, &w.registry).is_ok())
                .unwrap_or(false);
            assert!(!ok, "flip of bit {bit} in byte {i} accepted");
        }
    }
}

#[test]
fn lengths_versions_and_empty_are_precise_errors() {
    let w = World::new(12);
    let bytes = cert(&w, 1, &w.envelope_key);
    assert!(matches!(
        EnvelopeKeyCert::from_bytes(&[]),
        Err(CertError::Missing)
    ));
    assert!(matches!(
        EnvelopeKeyCert::from_bytes(&bytes[..104]),
        Err(CertError::Length { got: 104 })
    ));
    let mut long = bytes.to_vec();
    long.push(0);
    assert!(matches!(
        EnvelopeKeyCert::from_bytes(&long),
        Err(CertError::Length { got: 106 })
    ));
    let mut v2 = bytes;
    v2[0] = 2;
    assert!(matches!(
        EnvelopeKeyCert::from_bytes(&v2),
        Err(CertError::Version { got: 2 })
    ));
}

#[test]
fn pin_keeps_the_highest_serial_and_refuses_rollbacks_and_conflicts() {
    let w = World::new(13);
    let k2 = EnvelopeKey::from_secret_bytes(seeded("envelope-2", 13));
    let k3 = EnvelopeKey::from_secret_bytes(seeded("envelope-3", 13));
    let mut pin = EnvelopeKeyPin::new(w.root.public(), w.chain, w.registry);
    assert!(pin.highest().is_none());
    assert_eq!(pin.accept(&cert(&w, 1, &w.envelope_key)).unwrap().serial, 1);
    assert_eq!(pin.accept(&cert(&w, 5, &k2)).unwrap().key, k2.public());
    // the same certificate again is fine (every poll reads it)
    assert_eq!(pin.accept(&cert(&w, 5, &k2)).unwrap().serial, 5);
    assert!(matches!(
        pin.accept(&cert(&w, 1, &w.envelope_key)),
        Err(CertError::Rollback { got: 1, highest: 5 })
    ));
    assert!(matches!(
        pin.accept(&cert(&w, 5, &k3)),
        Err(CertError::Conflict { serial: 5 })
    ));
    assert_eq!(pin.highest().unwrap().key, k2.public());

    // a restored pin remembers across restarts
    let restored = *pin.highest().unwrap();
    let mut again =
        EnvelopeKeyPin::new(w.root.public(), w.chain, w.registry).with_highest(restored);
    assert!(matches!(
        again.accept(&cert(&w, 4, &k3)),
        Err(CertError::Rollback { .. })
    ));
    assert_eq!(again.accept(&cert(&w, 6, &k3)).unwrap().key, k3.public());
}

#[test]
fn the_root_key_cannot_certify_itself_as_envelope_key() {
    let w = World::new(14);
    let as_envelope: EnvelopePublicKey = w.root.public().to_hex().parse().unwrap();
    let c = EnvelopeKeyCert::issue(&w.root, &w.chain, &w.registry, 1, &as_envelope);
    assert!(matches!(
        c.verify(&w.root.public(), &w.chain, &w.registry),
        Err(CertError::RootAsEnvelopeKey)
    ));
}
