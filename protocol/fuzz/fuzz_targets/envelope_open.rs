//! Any bytes as an envelope: header parsing and opening never panic, and forged bytes
//! never open (the signature is checked before anything is decrypted).
#![no_main]

use daas_protocol::envelope::{self, EnvelopeContext, EnvelopeHeader, OpenPolicy};
use daas_protocol::{ChainId, EnvelopeKey, IdentityKey, NodeId, ObjectId, SealingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = EnvelopeHeader::parse(data);
    let ctx = EnvelopeContext {
        chain_id: ChainId([7; 32]),
        registry_id: ObjectId::from_u64(1),
        worker_id: ObjectId::from_u64(2),
        node_id: NodeId::from_label("fuzz", &IdentityKey::from_secret_bytes([1; 32]).public())
            .expect("valid label"),
    };
    let key = EnvelopeKey::from_secret_bytes([3; 32]).public();
    let policy = OpenPolicy { envelope_key: &key, highest_used_version: 0, now_ms: 0 };
    assert!(envelope::open(data, &ctx, &SealingKey::from_secret_bytes([4; 32]), &policy).is_err());
});
