//! Any bytes: parsing never panics, and nothing but a real token verifies.
#![no_main]

use daas_protocol::{Address, IdentityKey, NodeId, ObjectId, SealToken};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = SealToken::from_bytes(data) {
        assert_eq!(
            SealToken::from_bytes(&token.to_bytes()).ok().as_ref(),
            Some(&token)
        );
        let node_id = NodeId::from_label("fuzz", &IdentityKey::from_secret_bytes([1; 32]).public())
            .expect("valid label");
        assert!(
            token
                .verify(&ObjectId::from_u64(1), &Address::from_u64(2), &node_id)
                .is_err()
        );
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = SealToken::from_hex(s);
        let _ = NodeId::parse(s);
    }
});
