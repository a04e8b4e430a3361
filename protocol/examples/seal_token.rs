//! Prints a deterministic device's node_id and seal token for a registry and owner —
//! the vectors the Move tests paste in, so the on-chain claim check and this crate are
//! held to the same bytes.
//!
//! ```text
//! cargo run -q -p daas-protocol --example seal_token -- \
//!     --registry 0x<64 hex> --owner 0x<64 hex> --label rpi --seed 1 [--identity-seed 1]
//! ```
//!
//! Keys are Blake2b-256 of a tag and the seed: test keys, never for a real device.
//! `--identity-seed` (default: `--seed`) lets the sealing key change while the identity
//! key stays (seal-token rotation).

use std::process::ExitCode;

use daas_protocol::hash::blake2b256;
use daas_protocol::{Address, IdentityKey, NodeId, ObjectId, SealToken, SealingKey};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
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
        let seed: u64 = need("--seed")?
            .parse()
            .map_err(|e| format!("--seed: {e}"))?;
        let identity_seed: u64 = match arg(&args, "--identity-seed") {
            Some(s) => s.parse().map_err(|e| format!("--identity-seed: {e}"))?,
            None => seed,
        };
        let identity = IdentityKey::from_secret_bytes(blake2b256(&[
            b"k8s-daas/example/identity",
            &identity_seed.to_le_bytes(),
        ]));
        let sealing = SealingKey::from_secret_bytes(blake2b256(&[
            b"k8s-daas/example/sealing",
            &seed.to_le_bytes(),
        ]));
        let node_id = NodeId::from_label(&label, &identity.public()).map_err(|e| e.to_string())?;
        let token = SealToken::create(&identity, &sealing.public(), &registry, &owner, &node_id)
            .map_err(|e| e.to_string())?;
        println!("node_id={node_id}");
        println!("identity_public={}", identity.public());
        println!("sealing_public={}", sealing.public());
        println!("seal_token={}", token.to_hex());
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: {e}\nusage: seal_token --registry 0x… --owner 0x… --label L --seed N [--identity-seed N]"
            );
            ExitCode::from(64)
        }
    }
}
