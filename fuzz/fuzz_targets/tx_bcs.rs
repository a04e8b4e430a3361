//! Sui transaction bytes and user signatures (what the sandbox and the master's dry
//! runs decode, and `sui keytool sign` output the master takes): the first byte picks
//! the form. No panic; a decoded `TransactionData` re-encodes to the input; a parsed
//! signature re-encodes (bytes and Base64) to the same signature, and verifying it over
//! arbitrary bytes never panics.
#![no_main]

use daas_protocol::UserSignature;
use daas_protocol::tx::TransactionData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, b)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => {
            if let Ok(tx) = TransactionData::from_bcs(b) {
                assert_eq!(tx.to_bcs(), b);
            }
        }
        1 => {
            if let Ok(sig) = UserSignature::from_bytes(b) {
                assert_eq!(sig.as_bytes(), b);
                let again = UserSignature::from_base64(&sig.to_base64()).expect("re-parses");
                assert_eq!(again.as_bytes(), b);
                assert_eq!(sig.public_key().address(), sig.signer());
                let _ = sig.verify_transaction(b"fuzz", &sig.signer());
            }
        }
        _ => {
            if let Ok(s) = std::str::from_utf8(b) {
                if let Ok(sig) = UserSignature::from_base64(s) {
                    assert!(UserSignature::from_bytes(sig.as_bytes()).is_ok());
                }
            }
        }
    }
});
