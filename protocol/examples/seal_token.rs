//! Prints a deterministic device's node_id and seal token for a registry and owner —
//! the vectors the Move tests paste in, so the on-chain claim check and this crate are
//! held to the same bytes.
//!
//! ```text
//! cargo run -q -p daas-protocol --example seal_token -- \
//!     --registry 0x<64 hex> --owner 0x<64 hex> --label rpi --seed 1 [--identity-seed 1] \
//!     [--sealing-public 0x<32 bytes>] [--raw-identity 0x<32 bytes>]
//! ```
//!
//! Keys are Blake2b-256 of a tag and the seed: test keys, never for a real device.
//! `--identity-seed` (default: `--seed`) lets the sealing key change while the identity
//! key stays (seal-token rotation).
//!
//! Edge-case tokens, for the tests that hold the contract and the sandbox to the same
//! acceptance (DESIGN §4: Ed25519 as Sui's `ed25519_verify`, ZIP-215):
//! - `--sealing-public` signs these sealing-key bytes as they are, even a low-order
//!   X25519 point (the contract does not look at them; master and agent refuse them);
//! - `--raw-identity` puts these identity-key bytes in the token without a secret key and
//!   signs with R = the neutral point, s = 0. Under ZIP-215 that verifies for every
//!   message when the bytes are a small-order point, and never for a prime-order key or
//!   bytes that are not a point.

use std::process::ExitCode;

use daas_protocol::hash::blake2b256;
use daas_protocol::node_id::{self, fingerprint_of_bytes};
use daas_protocol::{Address, IdentityKey, ObjectId, SealingKey, seal_token};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn bytes32(args: &[String], name: &str) -> Result<Option<[u8; 32]>, String> {
    arg(args, name)
        .map(|h| daas_protocol::hex::decode_array(&h).map_err(|e| format!("{name}: {e}")))
        .transpose()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = || -> Result<(), String> {
        let need = |n: &str| arg(&args, n).ok_or_else(|| format!("missing {n}"));
        let registry: ObjectId = need("--registry")?
            .parse()
            .map_err(|e| format!("--registry: {e}"))?;
        let owner: Address = need("--owner")?
            .parse()
            .map_err(|e| format!("--owner: {e}"))?;
        let label = need("--label")?;
        node_id::validate_label(&label).map_err(|e| format!("--label: {e}"))?;
        let seed: u64 = need("--seed")?
            .parse()
            .map_err(|e| format!("--seed: {e}"))?;
        let identity_seed: u64 = match arg(&args, "--identity-seed") {
            Some(s) => s.parse().map_err(|e| format!("--identity-seed: {e}"))?,
            None => seed,
        };
        let identity_secret =
            blake2b256(&[b"k8s-daas/example/identity", &identity_seed.to_le_bytes()]);
        let sealing = match bytes32(&args, "--sealing-public")? {
            Some(b) => b,
            None => *SealingKey::from_secret_bytes(blake2b256(&[
                b"k8s-daas/example/sealing",
                &seed.to_le_bytes(),
            ]))
            .public()
            .as_bytes(),
        };
        let raw_identity = bytes32(&args, "--raw-identity")?;
        let identity = match raw_identity {
            Some(b) => b,
            None => *IdentityKey::from_secret_bytes(identity_secret)
                .public()
                .as_bytes(),
        };
        let node_id = format!("{label}-{}", fingerprint_of_bytes(&identity));
        let claim = seal_token::claim_bytes(&registry, &owner, &node_id, &sealing);
        let signature: [u8; 64] = match raw_identity {
            Some(_) => {
                let mut sig = [0u8; 64];
                sig[0] = 1; // R = the neutral point (0, 1); s = 0
                sig
            }
            // the same key as IdentityKey::from_secret_bytes(identity_secret)
            None => ed25519_zebra::SigningKey::from(identity_secret)
                .sign(&claim)
                .to_bytes(),
        };
        let mut token = vec![seal_token::VERSION];
        token.extend_from_slice(&identity);
        token.extend_from_slice(&sealing);
        token.extend_from_slice(&signature);
        println!("node_id={node_id}");
        println!(
            "identity_public={}",
            daas_protocol::hex::encode_0x(&identity)
        );
        println!("sealing_public={}", daas_protocol::hex::encode_0x(&sealing));
        println!("seal_token={}", daas_protocol::hex::encode_0x(&token));
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: {e}\nusage: seal_token --registry 0x… --owner 0x… --label L --seed N [--identity-seed N] [--sealing-public 0x…] [--raw-identity 0x…]"
            );
            ExitCode::from(64)
        }
    }
}
