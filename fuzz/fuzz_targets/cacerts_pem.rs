//! The cluster CA bundle the agent fetches from the k3s server (`/cacerts`) and checks
//! against the token's `K10<hash>`: PEM `CERTIFICATE` blocks. No panic; a bundle matches
//! its own hash (one certificate) or a certificate's DER hash (several); the DER blocks
//! written back as PEM parse to the same blocks.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use daas_agent::cacerts::{Anchor, hash_bundle, match_hash, pem_certificates};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Some(certs) = pem_certificates(data) else {
        assert!(match_hash(data, &hash_bundle(data)) == Err(None));
        return;
    };
    assert!(!certs.is_empty());
    if certs.len() == 1 {
        assert_eq!(
            match_hash(data, &hash_bundle(data)),
            Ok(Anchor::Pem(data.to_vec()))
        );
    } else {
        let want: [u8; 32] = Sha256::digest(&certs[certs.len() - 1]).into();
        match match_hash(data, &want) {
            Ok(Anchor::Der(d)) => assert_eq!(<[u8; 32]>::from(Sha256::digest(&d)), want),
            other => panic!("a certificate's own hash did not match: {other:?}"),
        }
    }
    let mut pem = String::new();
    for der in &certs {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&STANDARD.encode(der));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    assert_eq!(pem_certificates(pem.as_bytes()).as_ref(), Some(&certs));
});
