//! What a JSON-RPC node answers (the body's `result`): objects, events, transaction
//! effects and failure texts, through the client's own decoders (`chain::fuzzing`). No
//! panic; an object's contents and an event's BCS are the Base64 the node sent; a
//! decoded object that claims to be a Worker goes through `decode_worker`.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use daas_protocol::ObjectId;
use daas_protocol::chain::{ExecStatus, JsonRpcClient, RegistryReader, fuzzing};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let package = ObjectId::from_u64(0xda);
    if let Ok(text) = std::str::from_utf8(data) {
        // The failure text of an effects status, with and without `abortError`.
        if let ExecStatus::MoveAbort {
            command: Some(c), ..
        } = fuzzing::jsonrpc_failure(text, None)
        {
            assert!(text.contains(&format!(" in command {c}").trim_end_matches(char::is_numeric)));
        }
    }
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(Some(o)) = fuzzing::jsonrpc_object(&v) {
        let b64 = v["data"]["bcs"]["bcsBytes"]
            .as_str()
            .expect("decoded from it");
        assert_eq!(STANDARD.decode(b64).unwrap(), o.bcs);
        let _ = RegistryReader::<JsonRpcClient>::decode_worker(&package, o);
    }
    if let Ok(e) = fuzzing::jsonrpc_event(&v, &package) {
        assert_eq!(STANDARD.decode(v["bcs"].as_str().unwrap()).unwrap(), e.bcs);
        if let Some(ev) = &e.event {
            assert_eq!(ev.to_bcs(), e.bcs);
        }
    }
    let _ = fuzzing::jsonrpc_effects(&v);
    if let Some(s) = v.get("error").and_then(Value::as_str) {
        let _ = fuzzing::jsonrpc_failure(s, v.get("abortError"));
    }
    if let Some(list) = v.as_array() {
        for item in list {
            let _ = fuzzing::jsonrpc_event(item, &package);
            let _ = fuzzing::jsonrpc_object(item);
        }
    }
});
