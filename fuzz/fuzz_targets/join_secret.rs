//! The decrypted plaintext of a join envelope (JSON `{server, token, node_password}`)
//! and the k3s token inside it (`K10<sha256(CA) hex>::<id>.<secret>`): no panic; a
//! decoded secret re-encodes to JSON that decodes to the same secret; a token's CA hash
//! is the hex its text carries.
#![no_main]

use daas_protocol::envelope::{JoinSecret, is_valid_server_url};
use daas_protocol::secret::{JoinToken, NodePassword};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(secret) = JoinSecret::from_plaintext(data) {
        assert!(is_valid_server_url(&secret.server));
        let again = serde_json::to_vec(&secret).expect("encodes");
        assert_eq!(
            JoinSecret::from_plaintext(&again).expect("re-decodes"),
            secret
        );
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = is_valid_server_url(text);
    if let Ok(token) = JoinToken::new(text.to_string()) {
        assert_eq!(token.expose(), text);
        let hash = &text[3..67];
        assert_eq!(daas_protocol::hex::encode_0x(&token.ca_hash())[2..], *hash);
        assert_eq!(text[69..].split('.').next(), Some(token.token_id()));
        // Debug and Display never show the secret part.
        let secret_part = &text[text.len() - 16..];
        assert!(!format!("{token:?}{token}").contains(secret_part));
    }
    if let Ok(pw) = NodePassword::new(text.to_string()) {
        assert_eq!(pw.expose(), text);
        assert!(!format!("{pw:?}{pw}").contains(text));
    }
});
