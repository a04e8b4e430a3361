//! The BCS of the registry's objects and events as nodes return them (DESIGN §4, §6):
//! the first byte picks a layout (a Move object, or one of the ten events by name), the
//! rest is its BCS. No panic; what decodes re-encodes to exactly the input (BCS is
//! canonical, so two byte strings never decode to one value); a decoded Worker goes
//! through the readers' own check (`decode_worker`) and its status byte maps back.
#![no_main]

use daas_protocol::ObjectId;
use daas_protocol::chain::{JsonRpcClient, ObjectInfo, Owner, RegistryReader};
use daas_protocol::onchain::{
    self, Cap, Coin, EVENT_NAMES, Field, RegistryEvent, Worker, WorkerRegistry, WorkerStatus,
};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

fn round_trip<T: DeserializeOwned + Serialize>(b: &[u8]) -> Option<T> {
    let v: T = bcs::from_bytes(b).ok()?;
    assert_eq!(
        bcs::to_bytes(&v).expect("encodes"),
        b,
        "BCS is not canonical here"
    );
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, b)) = data.split_first() else {
        return;
    };
    let package = ObjectId::from_u64(0xda);
    match pick % 16 {
        0 => {
            if let Some(w) = round_trip::<Worker>(b) {
                match w.status() {
                    Ok(s) => assert_eq!(s as u8, w.status),
                    Err(_) => assert!(WorkerStatus::from_u8(w.status).is_none()),
                }
                let info = ObjectInfo {
                    id: w.id,
                    version: 1,
                    digest: [0; 32],
                    owner: Owner::Immutable,
                    type_: onchain::struct_type(&package, "Worker"),
                    bcs: b.to_vec(),
                };
                let read = RegistryReader::<JsonRpcClient>::decode_worker(&package, info)
                    .expect("a Worker");
                assert_eq!(read.worker, w);
            }
        }
        1 => {
            round_trip::<WorkerRegistry>(b);
        }
        2 => {
            round_trip::<Cap>(b);
        }
        3 => {
            round_trip::<Coin>(b);
        }
        4 => {
            // A Table entry: dynamic field String -> ID.
            if let Some(f) = round_trip::<Field<String, ObjectId>>(b) {
                let _ = onchain::table_entry_id(&f.id, &f.name);
            }
        }
        5 => {
            // A Move type tag as a node spells it, against our package.
            if let Ok(s) = std::str::from_utf8(b) {
                if let Some(name) = onchain::struct_name_in(s, &package) {
                    assert!(s.ends_with(name));
                }
            }
        }
        n => {
            let name = EVENT_NAMES[usize::from(n - 6)];
            if let Ok(Some(ev)) = RegistryEvent::decode(name, b) {
                assert_eq!(ev.name(), name);
                assert_eq!(ev.to_bcs(), b, "event BCS is not canonical");
            }
        }
    }
});
