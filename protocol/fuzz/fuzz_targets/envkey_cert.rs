//! Any bytes as an envelope-key certificate: no panic, no acceptance without the root.
#![no_main]

use daas_protocol::{ChainId, EnvelopeKeyPin, ObjectId, RootKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = RootKey::from_secret_bytes([5; 32]).public();
    let mut pin = EnvelopeKeyPin::new(root, ChainId([7; 32]), ObjectId::from_u64(1));
    assert!(pin.accept(data).is_err());
});
