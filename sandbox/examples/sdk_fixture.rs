//! Devices and seal tokens for the TypeScript SDK tests (`sandbox/sdk-tests/`): reads a
//! sandbox `--info` file and prints, as JSON, one device per funded account — its
//! node_id and the seal token its identity key signs for that account and the
//! registry — made by `daas-protocol`, the same code the agent uses.
//!
//! `cargo run -p daas-sandbox --example sdk_fixture -- /tmp/info.json`

use daas_protocol::hash::blake2b256;
use daas_protocol::{Address, IdentityKey, NodeId, SealToken, SealingKey};
use daas_sandbox::SandboxInfo;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: sdk_fixture <sandbox --info file>"))?;
    let info: SandboxInfo = serde_json::from_slice(
        &std::fs::read(&path).map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?,
    )
    .map_err(|e| anyhow::anyhow!("{path} is not a sandbox info file: {e}"))?;
    let mut devices = Vec::new();
    for (i, account) in info.accounts.iter().enumerate() {
        let owner: Address = account
            .address
            .parse()
            .map_err(|e| anyhow::anyhow!("account {i}: {e}"))?;
        let n = (i as u64).to_le_bytes();
        let identity = IdentityKey::from_secret_bytes(blake2b256(&[b"sdk-fixture/id", &n]));
        let sealing = SealingKey::from_secret_bytes(blake2b256(&[b"sdk-fixture/seal", &n]));
        let node_id = NodeId::from_label(&format!("sdk-{i}"), &identity.public())?;
        let token = SealToken::create(
            &identity,
            &sealing.public(),
            &info.registry_id,
            &owner,
            &node_id,
        )?;
        devices.push(serde_json::json!({
            "account": i,
            "owner": owner.to_string(),
            "node_id": node_id.as_str(),
            "seal_token": hex::encode(token.to_bytes()),
        }));
    }
    println!("{}", serde_json::json!({ "devices": devices }));
    Ok(())
}
