//! Sui account key files the master and tools read: a `suiprivkey1…` line (Bech32) or a
//! `sui.keystore` JSON array of Base64 `flag || key`. No panic; a parsed key exports
//! (both forms) to text that parses back to the same account; an error never contains
//! the input (a mistyped key is still secret).
#![no_main]

use daas_protocol::SuiKeypair;
use libfuzzer_sys::fuzz_target;

fn same(a: &SuiKeypair, b: &SuiKeypair) {
    assert_eq!(a.address(), b.address());
    assert_eq!(a.scheme(), b.scheme());
}

fuzz_target!(|data: &[u8]| {
    match SuiKeypair::parse_key_text(data, "fuzz", None) {
        Ok(k) => {
            same(
                &SuiKeypair::from_suiprivkey(&k.to_suiprivkey()).expect("re-parses"),
                &k,
            );
            same(
                &SuiKeypair::from_keystore_entry(&k.to_keystore_entry()).expect("re-parses"),
                &k,
            );
            let again = SuiKeypair::parse_key_text(data, "fuzz", Some(&k.address()))
                .expect("found by its address");
            same(&again, &k);
        }
        Err(e) => {
            let msg = e.to_string();
            if let Ok(s) = std::str::from_utf8(data) {
                let s = s.trim();
                if s.len() >= 24 && !s.contains(char::is_whitespace) {
                    assert!(!msg.contains(s), "the error quotes the key text");
                }
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(keys) = SuiKeypair::parse_keystore(s) {
            for k in &keys {
                same(
                    &SuiKeypair::from_keystore_entry(&k.to_keystore_entry()).unwrap(),
                    k,
                );
            }
        }
    }
});
