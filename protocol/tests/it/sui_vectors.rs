//! The official vectors of SUI-WIRE.md §4: the example transaction of Sui's
//! `openrpc.json` (`sui_executeTransactionBlock`) and the `suiprivkey` test key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::sui::{SuiKeyError, signing_digest};
use daas_protocol::{Address, SuiKeypair, TransactionDigest, UserSignature};

/// `params[0].value` of the `sui_executeTransactionBlock` example (spec/openrpc.json).
const TX_BYTES: &str = "AAACACBqEB6aOvXIBwES+Ahkizbvv43uihqC3kbZUE6WoRCKFwEAjvdvVsOZYzousxC8qRJOXy84znOeqsu2YAaIgE4HhEgCAAAAAAAAACB9w3+ufZMpihJFwxtCBojBaGy00TVtFxgN2C6TpIPFqwEBAQEBAAEAAAS0l6kWtGVmCaf6gnoJGE1vR2gdO6dM4NejbGSysfiHAZ+Q9/hmzCnfsdpjc86U+dldylpA9OF2mRjuv5+64AvTAgAAAAAAAAAgjleHL0UiRGjh/BfIFHCJ3EMY/dQA22c2TvNQyVJnbYUEtJepFrRlZgmn+oJ6CRhNb0doHTunTODXo2xksrH4hwoAAAAAAAAAoIYBAAAAAAAA";
/// `params[1].value[0]` of the same example.
const SIGNATURE: &str = "AKD4XdltkCyBi1Heb4EJJ3lzuV3F4u7+CYeaE+Fd7qXpaT17yd4tHWjMf4CWq3TuXBLxTpkc2MV39P6p7eMV8QnqvbuA0Q1Bqu4RHV3JPpqmH+C527hWJGUBOZN1j9sg8w==";
const SENDER: &str = "0x04b497a916b4656609a7fa827a09184d6f47681d3ba74ce0d7a36c64b2b1f887";
const DIGEST: &str = "Gx7V6EteEAqSsptc1kbi1nUEMP7mhr4qV2cYS7JjzbBd";

/// Sui's `crypto_tests.rs` key (`StdRng::from_seed([0;32])`).
const SUIPRIVKEY: &str = "suiprivkey1qzdlfxn2qa2lj5uprl8pyhexs02sg2wrhdy7qaq50cqgnffw4c2477kg9h3";
const SUIPRIVKEY_ADDRESS: &str =
    "0xcc2196ee1fa156836daf9bb021d88d648a0023fa387e695d3701667a634a331f";

#[test]
fn official_example_transaction_signature_verifies_and_digest_matches() {
    let tx = BASE64.decode(TX_BYTES).unwrap();
    assert_eq!(tx.len(), 276);
    let sig = UserSignature::from_base64(SIGNATURE).unwrap();
    let sender: Address = SENDER.parse().unwrap();
    assert_eq!(sig.signer(), sender);
    sig.verify_transaction(&tx, &sender).unwrap();
    assert_eq!(sig.to_base64(), SIGNATURE);
    assert_eq!(TransactionDigest::of_transaction(&tx).to_string(), DIGEST);

    // A changed byte anywhere in the transaction breaks the signature.
    let mut bad = tx.clone();
    bad[100] ^= 1;
    assert!(matches!(
        sig.verify_transaction(&bad, &sender),
        Err(SuiKeyError::SignatureInvalid)
    ));
    // A valid signature by someone who is not the sender is refused.
    let other = SuiKeypair::from_secret_bytes([9; 32]);
    assert!(matches!(
        other.sign_transaction(&tx).verify_transaction(&tx, &sender),
        Err(SuiKeyError::WrongSigner { .. })
    ));
}

#[test]
fn suiprivkey_vector_gives_the_official_address_and_round_trips() {
    let k = SuiKeypair::from_suiprivkey(SUIPRIVKEY).unwrap();
    assert_eq!(
        ::hex::encode(k.secret_bytes().as_ref()),
        "9bf49a6a0755f953811fce125f2683d50429c3bb49e074147e0089a52eae155f"
    );
    assert_eq!(
        ::hex::encode(k.public_key().as_bytes()),
        "b9c6ee1630ef3e711144a648db06bbb2284f7274cfbee53ffcee503cc1a49200"
    );
    assert_eq!(k.address().to_string(), SUIPRIVKEY_ADDRESS);
    assert_eq!(k.to_suiprivkey().as_str(), SUIPRIVKEY);
    let from_keystore =
        SuiKeypair::from_keystore_entry("AJv0mmoHVflTgR/OEl8mg9UEKcO7SeB0FH4AiaUurhVf").unwrap();
    assert_eq!(from_keystore.address(), k.address());
    assert!(!format!("{k:?}").contains("9bf49a6a"));
}

#[test]
fn sign_transaction_is_deterministic_ed25519_over_the_intent_digest() {
    let tx = BASE64.decode(TX_BYTES).unwrap();
    let k = SuiKeypair::from_suiprivkey(SUIPRIVKEY).unwrap();
    let sig = k.sign_transaction(&tx);
    assert_eq!(sig, k.sign_transaction(&tx));
    assert_eq!(sig.as_bytes()[0], 0);
    assert_eq!(sig.to_base64().len(), 132);
    sig.verify_transaction(&tx, &k.address()).unwrap();
    // Independent check of the digest: Blake2b-256 of [0,0,0] || tx.
    assert_eq!(
        signing_digest(&tx),
        daas_protocol::hash::blake2b256(&[&[0, 0, 0], &tx])
    );
}

#[test]
fn bad_private_keys_are_refused_with_the_reason() {
    // Bech32m checksum over the same payload: Sui refuses it, so do we.
    let hrp = bech32::Hrp::parse("suiprivkey").unwrap();
    let payload = [[0u8].as_slice(), &[7u8; 32]].concat();
    let m = bech32::encode::<bech32::Bech32m>(hrp, &payload).unwrap();
    assert!(matches!(
        SuiKeypair::from_suiprivkey(&m),
        Err(SuiKeyError::Bech32)
    ));
    // Another HRP.
    let other =
        bech32::encode::<bech32::Bech32>(bech32::Hrp::parse("suipubkey").unwrap(), &payload)
            .unwrap();
    assert!(matches!(
        SuiKeypair::from_suiprivkey(&other),
        Err(SuiKeyError::Bech32)
    ));
    // The multisig flag is not an account key.
    let multisig =
        bech32::encode::<bech32::Bech32>(hrp, &[[3u8].as_slice(), &[7u8; 32]].concat()).unwrap();
    assert!(matches!(
        SuiKeypair::from_suiprivkey(&multisig),
        Err(SuiKeyError::Scheme { flag: 3 })
    ));
    // One character changed.
    let mut s = SUIPRIVKEY.to_string();
    s.replace_range(20..21, "q");
    assert!(SuiKeypair::from_suiprivkey(&s).is_err());
}

#[test]
fn keystore_file_loads_the_requested_account_and_refuses_open_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // key directories are 0700 (DESIGN §5); tempfile's default follows the umask
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.path().join("sui.keystore");
    let a = SuiKeypair::from_secret_bytes([1; 32]);
    let b = SuiKeypair::from_secret_bytes([2; 32]);
    let entry =
        |k: &SuiKeypair| BASE64.encode([[0u8].as_slice(), k.secret_bytes().as_ref()].concat());
    // A multisig-flagged entry (0x03) in between is skipped.
    let json = format!(
        "[\"{}\", \"{}\", \"{}\"]",
        entry(&a),
        BASE64.encode([3u8; 33]),
        entry(&b)
    );
    std::fs::write(&path, json).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let got = SuiKeypair::load(&path, Some(&b.address())).unwrap();
    assert_eq!(got.address(), b.address());
    assert_eq!(
        SuiKeypair::load(&path, None).unwrap().address(),
        a.address()
    );
    let missing = SuiKeypair::from_secret_bytes([3; 32]).address();
    let err = SuiKeypair::load(&path, Some(&missing))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing.to_string()), "{err}");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = SuiKeypair::load(&path, None).unwrap_err().to_string();
    assert!(err.contains("chmod 600"), "{err}");

    // a keystore directory others can read (the Sui CLI's default 0755) is refused too
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = SuiKeypair::load(&path, None).unwrap_err().to_string();
    assert!(err.contains("chmod 700"), "{err}");
}
