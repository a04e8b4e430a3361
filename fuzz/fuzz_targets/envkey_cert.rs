//! The registry's envelope-key certificate (on chain, DESIGN §5). Any bytes: no panic,
//! no acceptance without the root; a decoded certificate re-encodes to the same bytes.
//! Input starting with 0xEE flips bytes of a real certificate: only the untouched one
//! is accepted, for its own key and serial.
#![no_main]

use daas_protocol::{ChainId, EnvelopeKey, EnvelopeKeyCert, EnvelopeKeyPin, ObjectId, RootKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = RootKey::from_secret_bytes([5; 32]);
    let (chain, registry) = (ChainId([7; 32]), ObjectId::from_u64(1));
    let mut pin = EnvelopeKeyPin::new(root.public(), chain, registry);
    if let [0xEE, rest @ ..] = data {
        let key = EnvelopeKey::from_secret_bytes([6; 32]).public();
        let real = EnvelopeKeyCert::issue(&root, &chain, &registry, 9, &key).to_bytes();
        let mut bytes = real;
        for pair in rest.chunks_exact(2) {
            bytes[usize::from(pair[0]) % bytes.len()] ^= pair[1];
        }
        match pin.accept(&bytes) {
            Ok(c) => {
                assert_eq!(bytes, real, "a changed certificate was accepted");
                assert_eq!((c.serial, c.key), (9, key));
            }
            Err(_) => assert_ne!(bytes, real, "the real certificate was refused"),
        }
        return;
    }
    if let Ok(cert) = EnvelopeKeyCert::from_bytes(data) {
        assert_eq!(cert.to_bytes().as_slice(), data);
    }
    assert!(pin.accept(data).is_err());
});
