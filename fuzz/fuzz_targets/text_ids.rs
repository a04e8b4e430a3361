//! The text forms of ids read from config files, node answers and the command line:
//! object ids and addresses (`0x…`, short forms), the chain id and digests (Base58),
//! hex, node_ids, public keys (hex) and signature scheme names. No panic, and for
//! each: parse(format(parse(s))) == parse(s); a node_id is kept as written.
#![no_main]

use std::fmt::Display;
use std::str::FromStr;

use daas_protocol::tx::ObjectDigest;
use daas_protocol::{
    Address, ChainId, IdentityPublicKey, NodeId, ObjectId, RootPublicKey, SealingPublicKey,
    SignatureScheme, TransactionDigest, hex, node_id,
};
use libfuzzer_sys::fuzz_target;

fn round_trip<T: FromStr + Display + PartialEq + std::fmt::Debug>(s: &str) -> Option<T> {
    let v = s.parse::<T>().ok()?;
    let again = v
        .to_string()
        .parse::<T>()
        .ok()
        .expect("its own text parses");
    assert_eq!(again, v);
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(id) = round_trip::<ObjectId>(s) {
        assert_eq!(round_trip::<Address>(s), Some(Address::from(id)));
        let json: ObjectId = serde_json::from_value(serde_json::json!(s)).expect("serde agrees");
        assert_eq!(json, id);
    }
    round_trip::<Address>(s);
    if let Some(c) = round_trip::<ChainId>(s) {
        let json: ChainId = serde_json::from_value(serde_json::json!(s)).expect("serde agrees");
        assert_eq!(json, c);
    }
    round_trip::<TransactionDigest>(s);
    round_trip::<ObjectDigest>(s);
    round_trip::<IdentityPublicKey>(s);
    round_trip::<SealingPublicKey>(s);
    round_trip::<RootPublicKey>(s);
    if let Some(scheme) = round_trip::<SignatureScheme>(s) {
        assert_eq!(SignatureScheme::from_flag(scheme.flag()), Some(scheme));
    }
    if let Ok(b) = hex::decode(s) {
        assert_eq!(hex::decode(&hex::encode_0x(&b)).expect("re-decodes"), b);
        if let Ok(a) = hex::decode_array::<32>(s) {
            assert_eq!(a.as_slice(), b.as_slice());
        }
    }
    if let Ok(n) = NodeId::parse(s) {
        assert_eq!(n.as_str(), s);
        assert_eq!(format!("{}-{}", n.label(), n.fingerprint()), s);
        assert!(node_id::validate_label(n.label()).is_ok());
        assert_eq!(round_trip::<NodeId>(s), Some(n));
    }
});
