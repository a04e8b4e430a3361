//! Join envelope v1: round trips, an independent encoder, every bit flip, every wrong
//! binding, replay, expiry, plaintext shape, lengths.

use daas_protocol::envelope::{
    self, EnvelopeError, EnvelopeHeader, JoinSecret, MAX_LEN, MIN_LEN, OpenPolicy,
};
use daas_protocol::hash::blake2b256;
use daas_protocol::{EnvelopeKey, IdentityKey, NodeId, ObjectId, SealingKey};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeS, Serializable};
use proptest::prelude::*;

use crate::common::{TOKEN, World, seeded};

const NOW: u64 = 1_800_000_000_000;
const EXP: u64 = NOW + 3_600_000;

fn policy(w: &World) -> OpenPolicy<'_> {
    OpenPolicy {
        envelope_key: &w.envelope_public,
        highest_used_version: 0,
        now_ms: NOW,
    }
}

fn sealed(w: &World, version: u64) -> Vec<u8> {
    envelope::seal(
        &w.ctx(),
        &w.envelope_key,
        &w.sealing.public(),
        version,
        EXP,
        &w.secret(),
    )
    .unwrap()
}

/// DESIGN §5 written out a second time, independently of the crate: HPKE with the
/// `hpke` crate, signature with `ed25519-zebra`, arbitrary plaintext.
fn seal_raw(w: &World, plaintext: &[u8], version: u64, expires: u64) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&expires.to_le_bytes());
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(w.sealing.public().as_bytes())
        .unwrap();
    let info = [b"k8s-daas/join/v1".as_slice(), w.worker.as_bytes()].concat();
    let (enc, ct) =
        hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeS::Base,
            &pk,
            &info,
            plaintext,
            &out.clone(),
            &mut hpke::rand_core::UnwrapErr(getrandom::SysRng),
        )
        .unwrap();
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&(ct.len() as u16).to_le_bytes());
    out.extend_from_slice(&ct);
    let node = w.node_id.as_str().as_bytes();
    let msg = [
        b"k8s-daas/envelope/v1".as_slice(),
        w.chain.as_bytes(),
        w.registry.as_bytes(),
        w.worker.as_bytes(),
        &[node.len() as u8],
        node,
        &out,
    ]
    .concat();
    let sk = ed25519_zebra::SigningKey::from(*w.envelope_key.secret_bytes());
    out.extend_from_slice(&sk.sign(&msg).to_bytes());
    out
}

fn plaintext_json(token: &str, extra: &str) -> String {
    format!(
        r#"{{"server":"https://10.0.0.1:6443","token":"{token}","node_password":"00112233445566778899aabbccddeeff"{extra}}}"#
    )
}

#[test]
fn sealed_envelope_opens_with_every_check_passing() {
    let w = World::new(20);
    let bytes = sealed(&w, 3);
    let h = EnvelopeHeader::parse(&bytes).unwrap();
    assert_eq!((h.token_version, h.expires_at_ms), (3, EXP));
    assert_eq!(bytes.len(), 51 + h.ciphertext_len + 64);
    let opened = envelope::open(&bytes, &w.ctx(), &w.sealing, &policy(&w)).unwrap();
    assert_eq!(opened.token_version, 3);
    assert_eq!(opened.expires_at_ms, EXP);
    assert_eq!(opened.secret, w.secret());
    assert_eq!(opened.secret.token.expose(), TOKEN);
    // Debug of the opened envelope never shows the secrets.
    let dbg = format!("{opened:?}");
    assert!(
        !dbg.contains("0123456789abcdef") && !dbg.contains("00112233445566778899"),
        "{dbg}"
    );
}

#[test]
fn independent_encoder_and_crate_agree_on_the_format() {
    let w = World::new(21);
    let raw = seal_raw(&w, plaintext_json(TOKEN, "").as_bytes(), 1, EXP);
    let opened = envelope::open(&raw, &w.ctx(), &w.sealing, &policy(&w)).unwrap();
    assert_eq!(opened.secret, w.secret());
    assert_eq!(
        raw.len(),
        sealed(&w, 1).len(),
        "the crate's plaintext JSON is compact, as the raw one"
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let w = World::new(22);
    let bytes = sealed(&w, 1);
    let (ctx, p) = (w.ctx(), policy(&w));
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(
                envelope::open(&b, &ctx, &w.sealing, &p).is_err(),
                "flip of bit {bit} in byte {i} of {} accepted",
                bytes.len()
            );
        }
    }
}

#[test]
fn wrong_binding_or_uncertified_key_fails_the_signature_check() {
    let w = World::new(23);
    let bytes = sealed(&w, 1);
    let p = policy(&w);
    let mut wrong = vec![];
    let mut c = w.ctx();
    c.chain_id = daas_protocol::ChainId(seeded("chain", 999));
    wrong.push(("chain", c));
    let mut c = w.ctx();
    c.registry_id = ObjectId(seeded("registry", 999));
    wrong.push(("registry", c));
    let mut c = w.ctx();
    c.worker_id = ObjectId(seeded("worker", 999));
    wrong.push(("worker", c));
    let mut c = w.ctx();
    c.node_id = NodeId::from_label("rpi-43", &w.identity.public()).unwrap();
    wrong.push(("node_id", c));
    for (what, ctx) in wrong {
        let err = envelope::open(&bytes, &ctx, &w.sealing, &p).unwrap_err();
        assert!(
            matches!(err, EnvelopeError::Signature { .. }),
            "wrong {what}: {err}"
        );
    }
    let uncertified = EnvelopeKey::from_secret_bytes([8; 32]).public();
    let p2 = OpenPolicy {
        envelope_key: &uncertified,
        ..p
    };
    assert!(matches!(
        envelope::open(&bytes, &w.ctx(), &w.sealing, &p2),
        Err(EnvelopeError::Signature { .. })
    ));
}

#[test]
fn sealed_to_another_device_does_not_open() {
    let w = World::new(24);
    let other = SealingKey::from_secret_bytes([4; 32]);
    let bytes = envelope::seal(
        &w.ctx(),
        &w.envelope_key,
        &other.public(),
        1,
        EXP,
        &w.secret(),
    )
    .unwrap();
    assert!(matches!(
        envelope::open(&bytes, &w.ctx(), &w.sealing, &policy(&w)),
        Err(EnvelopeError::Decrypt)
    ));
}

#[test]
fn replays_below_the_used_version_and_expired_envelopes_are_refused() {
    let w = World::new(25);
    let bytes = sealed(&w, 4);
    let p = policy(&w);
    let used = |v| OpenPolicy {
        highest_used_version: v,
        ..p
    };
    assert!(
        envelope::open(&bytes, &w.ctx(), &w.sealing, &used(4)).is_ok(),
        "re-opening the used version"
    );
    assert!(matches!(
        envelope::open(&bytes, &w.ctx(), &w.sealing, &used(5)),
        Err(EnvelopeError::OldTokenVersion {
            got: 4,
            highest_used: 5
        })
    ));
    let at = |now| OpenPolicy { now_ms: now, ..p };
    assert!(envelope::open(&bytes, &w.ctx(), &w.sealing, &at(EXP - 1)).is_ok());
    assert!(matches!(
        envelope::open(&bytes, &w.ctx(), &w.sealing, &at(EXP)),
        Err(EnvelopeError::Expired { .. })
    ));
}

#[test]
fn plaintext_must_have_exactly_the_three_keys_and_their_shapes() {
    let w = World::new(26);
    let secret_part = "0123456789abcdef";
    let cases: Vec<(String, &str)> = vec![
        (plaintext_json(TOKEN, r#","extra":"x""#), "unknown field"),
        (
            r#"{"server":"https://10.0.0.1:6443","token":"TOKEN"}"#.replace("TOKEN", TOKEN),
            "missing field `node_password`",
        ),
        (plaintext_json(TOKEN, r#","token":"x""#), "duplicate field"),
        (
            plaintext_json(&TOKEN.replace("K10", "K11"), ""),
            "join token is not",
        ),
        (
            plaintext_json(TOKEN, "").replace("00112233", "0011223"),
            "node_password is not",
        ),
        (
            plaintext_json(TOKEN, "").replace(":6443", ":6443/"),
            "server",
        ),
        (plaintext_json(TOKEN, "").replace("https", "http"), "server"),
        (format!("[\"{TOKEN}\"]"), "not a JSON object"),
        (plaintext_json(TOKEN, r#","n":12345"#), "unknown field"),
        ("".into(), "not a JSON object"),
    ];
    for (json, want) in cases {
        let raw = seal_raw(&w, json.as_bytes(), 1, EXP);
        let err = envelope::open(&raw, &w.ctx(), &w.sealing, &policy(&w)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(want), "{json}: got {msg}");
        assert!(!msg.contains(secret_part), "error leaks the token: {msg}");
    }
}

#[test]
fn server_urls_accepted_and_refused() {
    let w = World::new(27);
    let mut s = w.secret();
    for ok in [
        "https://k3s.example.org:6443",
        "https://10.0.0.1",
        "https://[fd00::1]:6443",
        "https://a",
    ] {
        s.server = ok.into();
        assert!(s.validate().is_ok(), "{ok}");
    }
    for bad in [
        "http://k3s:6443",
        "https://",
        "https://k3s:6443/",
        "https://k3s:6443/x",
        "https://user@k3s:6443",
        "https://k3s:0",
        "https://k3s:70000",
        "https://k3s:",
        "https://[fd00::1",
        "https://k 3s",
        " https://k3s",
    ] {
        s.server = bad.into();
        assert!(
            matches!(s.validate(), Err(EnvelopeError::Server { .. })),
            "{bad}"
        );
        assert!(
            envelope::seal(&w.ctx(), &w.envelope_key, &w.sealing.public(), 1, EXP, &s).is_err()
        );
    }
}

#[test]
fn lengths_versions_and_ciphertext_field_are_checked_without_panics() {
    let w = World::new(28);
    let bytes = sealed(&w, 1);
    let p = policy(&w);
    for len in 0..bytes.len() {
        assert!(envelope::open(&bytes[..len], &w.ctx(), &w.sealing, &p).is_err());
        let r = EnvelopeHeader::parse(&bytes[..len]);
        if len < MIN_LEN {
            assert!(matches!(r, Err(EnvelopeError::Length { .. })), "len {len}");
        } else {
            assert!(
                matches!(r, Err(EnvelopeError::LengthMismatch { .. })),
                "len {len}"
            );
        }
    }
    let mut long = bytes.clone();
    long.resize(MAX_LEN + 1, 0);
    assert!(
        matches!(EnvelopeHeader::parse(&long), Err(EnvelopeError::Length { got }) if got == MAX_LEN + 1)
    );
    let mut v = bytes.clone();
    v[0] = 2;
    assert!(matches!(
        EnvelopeHeader::parse(&v),
        Err(EnvelopeError::Version { got: 2 })
    ));
    // n < 16 with a consistent total length
    let mut short = vec![1u8; 51 + 15 + 64];
    short[49..51].copy_from_slice(&15u16.to_le_bytes());
    short.resize(131, 0);
    assert!(matches!(
        EnvelopeHeader::parse(&short),
        Err(EnvelopeError::CiphertextTooShort { n: 15 })
    ));
    let mut min = vec![1u8; MIN_LEN];
    min[49..51].copy_from_slice(&16u16.to_le_bytes());
    assert_eq!(EnvelopeHeader::parse(&min).unwrap().ciphertext_len, 16);
}

#[test]
fn oversized_plaintext_is_refused_when_sealing() {
    let w = World::new(29);
    let mut s = w.secret();
    s.server = format!("https://{}.example:6443", "a".repeat(1000));
    assert!(s.validate().is_ok());
    assert!(matches!(
        envelope::seal(&w.ctx(), &w.envelope_key, &w.sealing.public(), 1, EXP, &s),
        Err(EnvelopeError::PlaintextTooLong { .. })
    ));
    let max = JoinSecret {
        server: format!("https://{}.example:6443", "a".repeat(800)),
        ..w.secret()
    };
    let bytes =
        envelope::seal(&w.ctx(), &w.envelope_key, &w.sealing.public(), 1, EXP, &max).unwrap();
    assert!(bytes.len() <= MAX_LEN);
    assert_eq!(
        envelope::open(&bytes, &w.ctx(), &w.sealing, &policy(&w))
            .unwrap()
            .secret,
        max
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn round_trip_for_any_keys_versions_and_expiry(
        n in any::<u64>(),
        version in 1u64..u64::MAX,
        ttl in 1u64..7 * 24 * 3_600_000,
        label in "[a-z0-9]{1,46}",
    ) {
        let mut w = World::new(n);
        w.identity = IdentityKey::from_secret_bytes(blake2b256(&[b"id", &n.to_le_bytes()]));
        w.node_id = NodeId::from_label(&label, &w.identity.public()).unwrap();
        assert_eq!(w.envelope_public, w.envelope_key.public());
        let bytes = envelope::seal(&w.ctx(), &w.envelope_key, &w.sealing.public(), version, NOW + ttl, &w.secret()).unwrap();
        let opened = envelope::open(&bytes, &w.ctx(), &w.sealing, &policy(&w)).unwrap();
        prop_assert_eq!(opened.token_version, version);
        prop_assert_eq!(opened.secret, w.secret());
    }

    #[test]
    fn arbitrary_bytes_never_open_and_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2100)) {
        let w = World::new(30);
        prop_assert!(envelope::open(&bytes, &w.ctx(), &w.sealing, &policy(&w)).is_err());
    }
}
