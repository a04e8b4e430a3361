//! The join envelope a Worker carries on chain (DESIGN §5). Any bytes: header parsing
//! and opening never panic, and forged bytes never open (the signature is checked before
//! anything is decrypted). Input starting with 0xEE instead flips bytes of a real sealed
//! envelope: only the untouched envelope opens, to exactly the sealed secret.
#![no_main]

use std::sync::OnceLock;

use daas_protocol::envelope::{self, EnvelopeContext, EnvelopeHeader, JoinSecret, OpenPolicy};
use daas_protocol::secret::{JoinToken, NodePassword};
use daas_protocol::{ChainId, EnvelopeKey, IdentityKey, NodeId, ObjectId, SealingKey};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    ctx: EnvelopeContext,
    key: EnvelopeKey,
    sealing: SealingKey,
    secret: JoinSecret,
    sealed: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ctx = EnvelopeContext {
            chain_id: ChainId([7; 32]),
            registry_id: ObjectId::from_u64(1),
            worker_id: ObjectId::from_u64(2),
            node_id: NodeId::from_label("fuzz", &IdentityKey::from_secret_bytes([1; 32]).public())
                .expect("valid label"),
        };
        let key = EnvelopeKey::from_secret_bytes([3; 32]);
        let sealing = SealingKey::from_secret_bytes([4; 32]);
        let secret = JoinSecret {
            server: "https://10.0.0.1:6443".into(),
            token: JoinToken::new(format!("K10{}::abc123.0123456789abcdef", "ab".repeat(32)))
                .expect("token shape"),
            node_password: NodePassword::new("0123456789abcdef0123456789abcdef".into())
                .expect("password shape"),
        };
        let sealed =
            envelope::seal(&ctx, &key, &sealing.public(), 3, 1_000, &secret).expect("seals");
        Fixture {
            ctx,
            key,
            sealing,
            secret,
            sealed,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let public = f.key.public();
    let policy = OpenPolicy {
        envelope_key: &public,
        highest_used_version: 0,
        now_ms: 0,
    };
    if let [0xEE, rest @ ..] = data {
        // Flip bytes at the positions the input names (pairs of position, xor mask).
        let mut bytes = f.sealed.clone();
        for pair in rest.chunks_exact(3) {
            let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % bytes.len();
            bytes[at] ^= pair[2];
        }
        match envelope::open(&bytes, &f.ctx, &f.sealing, &policy) {
            Ok(opened) => {
                assert_eq!(bytes, f.sealed, "a changed envelope opened");
                assert_eq!(opened.secret, f.secret);
                assert_eq!((opened.token_version, opened.expires_at_ms), (3, 1_000));
            }
            Err(_) => assert_ne!(bytes, f.sealed, "the real envelope did not open"),
        }
        return;
    }
    if let Ok(h) = EnvelopeHeader::parse(data) {
        assert_eq!(
            h.token_version,
            u64::from_le_bytes(data[1..9].try_into().unwrap())
        );
    }
    assert!(envelope::open(data, &f.ctx, &f.sealing, &policy).is_err());
});
