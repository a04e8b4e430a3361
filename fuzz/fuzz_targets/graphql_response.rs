//! What a GraphQL node answers (the body's `data`): objects, event edges, transactions
//! with effects and their object changes, and `DateTime` timestamps, through the
//! client's own decoders (`chain::fuzzing`). No panic; contents are the Base64 the node
//! sent; a timestamp the agent writes (`status::iso8601`) parses back to its second.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use daas_agent::status::iso8601;
use daas_protocol::ObjectId;
use daas_protocol::chain::{JsonRpcClient, RegistryReader, fuzzing};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let package = ObjectId::from_u64(0xda);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = fuzzing::iso8601_ms(text);
    }
    if data.len() == 8 {
        // Any instant up to year 9999: format, parse, compare (to the second).
        let ms = u64::from_le_bytes(data.try_into().unwrap()) % 253_402_300_800_000;
        assert_eq!(
            fuzzing::iso8601_ms(&iso8601(ms)),
            Some(ms / 1000 * 1000),
            "{}",
            iso8601(ms)
        );
    }
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(Some(o)) = fuzzing::graphql_object(&v) {
        let b64 = v["asMoveObject"]["contents"]["bcs"]
            .as_str()
            .expect("decoded from it");
        assert_eq!(STANDARD.decode(b64).unwrap(), o.bcs);
        let _ = RegistryReader::<JsonRpcClient>::decode_worker(&package, o);
    }
    if let Ok(e) = fuzzing::graphql_event_edge(&v, &package) {
        assert_eq!(e.cursor.0, v["cursor"].as_str().unwrap());
        if let Some(ev) = &e.event {
            assert_eq!(ev.to_bcs(), e.bcs);
        }
    }
    let _ = fuzzing::graphql_transaction(&v);
    if let Some(edges) = v.as_array() {
        for e in edges {
            let _ = fuzzing::graphql_event_edge(e, &package);
            let _ = fuzzing::graphql_object(e);
        }
    }
});
