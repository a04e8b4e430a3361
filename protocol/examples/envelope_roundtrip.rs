//! One envelope end to end with fresh keys: the operator certifies an envelope key,
//! the device makes its seal token, the master verifies it and seals a join secret,
//! the device verifies and opens it. Prints each step (secrets redacted).
//!
//! Also the binary `cross/protocol-size.sh` measures the crate's size with.

use std::process::ExitCode;

use daas_protocol::envelope::{self, EnvelopeContext, EnvelopeHeader, JoinSecret, OpenPolicy};
use daas_protocol::secret::{JoinToken, NodePassword};
use daas_protocol::{
    Address, ChainId, DeviceKeys, EnvelopeKey, EnvelopeKeyCert, EnvelopeKeyPin, NodeId, ObjectId,
    RootKey, SealToken,
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let chain = ChainId([0x11; 32]);
    let registry = ObjectId::from_u64(0x2222);
    let worker = ObjectId::from_u64(0x3333);
    let owner = Address::from_u64(0x4444);
    let now_ms = 1_800_000_000_000;

    // operator, offline
    let root = RootKey::generate();
    let envelope_key = EnvelopeKey::generate();
    let cert = EnvelopeKeyCert::issue(&root, &chain, &registry, 1, &envelope_key.public());
    println!(
        "certificate: serial {} for {}",
        cert.serial, cert.envelope_key
    );

    // device
    let device = DeviceKeys::generate();
    let node_id = NodeId::from_label("rpi-demo", &device.identity.public())?;
    let token = SealToken::create(
        &device.identity,
        &device.sealing.public(),
        &registry,
        &owner,
        &node_id,
    )?;
    println!(
        "device: {node_id}, seal token {} bytes",
        token.to_bytes().len()
    );

    // master: verify the registration, seal a join secret
    let seen = SealToken::from_bytes(&token.to_bytes())?;
    seen.verify(&registry, &owner, &node_id)?;
    let ctx = EnvelopeContext {
        chain_id: chain,
        registry_id: registry,
        worker_id: worker,
        node_id,
    };
    let secret = JoinSecret {
        server: "https://k3s.example.org:6443".into(),
        token: JoinToken::new(format!("K10{}::abcdef.0123456789abcdef", "0f".repeat(32)))?,
        node_password: NodePassword::generate(),
    };
    let bytes = envelope::seal(
        &ctx,
        &envelope_key,
        seen.sealing(),
        1,
        now_ms + 3_600_000,
        &secret,
    )?;
    let header = EnvelopeHeader::parse(&bytes)?;
    println!(
        "master: envelope {} bytes, token_version {}",
        bytes.len(),
        header.token_version
    );

    // device: accept the certificate under the pinned root, then open
    let mut pin = EnvelopeKeyPin::new(root.public(), chain, registry);
    let certified = pin.accept(&cert.to_bytes())?;
    let policy = OpenPolicy {
        envelope_key: &certified.key,
        highest_used_version: 0,
        now_ms,
    };
    let opened = envelope::open(&bytes, &ctx, &device.sealing, &policy)?;
    if opened.secret != secret {
        return Err("opened secret differs from the sealed one".into());
    }
    println!(
        "device: opened version {}, token {:?}, server {}",
        opened.token_version, opened.secret.token, opened.secret.server
    );
    Ok(())
}
