//! Prints the gas the sandbox charges for one registration, one `set_join_token` and
//! a 100-call `set_join_token` batch (for comparison with real Sui later; the
//! sandbox's gas model is in its README).
//!
//! `cargo run --release -p daas-sandbox --example gas_report`

use daas_protocol::chain::{
    Chain, ClientConfig, ExecOutcome, JsonRpcClient, RegistryReader, RetryPolicy, Submitter,
};
use daas_protocol::envelope::{self, EnvelopeContext, JoinSecret};
use daas_protocol::hash::blake2b256;
use daas_protocol::secret::{JoinToken, NodePassword};
use daas_protocol::tx::{PtbBuilder, RegistryCalls, SharedRef};
use daas_protocol::{ChainId, EnvelopeKey, IdentityKey, NodeId, SealToken, SealingKey, SuiKeypair};
use daas_sandbox::{Faults, GenesisParams, Sandbox, SandboxConfig};

fn show(what: &str, out: &ExecOutcome) {
    let g = out.gas;
    println!(
        "{what:<34} computation {:>10}  storage {:>10}  rebate {:>10}  net {:>10} MIST  ({:?})",
        g.computation,
        g.storage,
        g.rebate,
        g.net(),
        out.status
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let sb = Sandbox::start(
        SandboxConfig {
            listen: "127.0.0.1:0".parse()?,
            genesis: GenesisParams::new(1, 1, now),
            state_dir: None,
            faults: Faults::none(),
            read_lag: 0,
            read_lag_interval_ms: daas_sandbox::server::CHECKPOINT_INTERVAL_MS,
            #[cfg(feature = "conformance")]
            spec: None,
        },
        std::future::pending(),
    )
    .await?;
    let chain: ChainId = sb
        .info
        .chain_id
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = ClientConfig {
        endpoints: vec![sb.info.rpc_url.clone()],
        chain_id: chain,
        retry: RetryPolicy::default(),
    };
    let client = JsonRpcClient::new(config)?;
    let staker = SuiKeypair::from_suiprivkey(&sb.info.accounts[0].suiprivkey)?;
    let master = SuiKeypair::from_suiprivkey(&sb.info.master.suiprivkey)?;
    let env_key = EnvelopeKey::from_secret_bytes(daas_protocol::hex::decode_array(
        &sb.info.envelope_key.private,
    )?);
    let calls = RegistryCalls {
        package: sb.info.package_id,
        registry: SharedRef {
            id: sb.info.registry_id,
            initial_shared_version: sb.info.registry_initial_shared_version,
        },
    };
    let reader = RegistryReader::new(&client, sb.info.package_id, sb.info.registry_id);
    let mut devices = Vec::new();
    for batch in [1usize, 100] {
        let mut b = PtbBuilder::new();
        for _ in 0..batch {
            let i = devices.len() as u64;
            let identity =
                IdentityKey::from_secret_bytes(blake2b256(&[b"gas-id", &i.to_le_bytes()]));
            let sealing =
                SealingKey::from_secret_bytes(blake2b256(&[b"gas-seal", &i.to_le_bytes()]));
            let node_id = NodeId::from_label(&format!("gas-{i}"), &identity.public())?;
            let token = SealToken::create(
                &identity,
                &sealing.public(),
                &sb.info.registry_id,
                &staker.address(),
                &node_id,
            )?;
            calls.stake_and_register_worker(
                &mut b,
                1_000_000_000,
                node_id.as_str(),
                &token.to_bytes(),
            );
            devices.push((node_id, sealing));
        }
        let out = Submitter::new(&client, &staker).submit(b.finish()).await?;
        show(&format!("stake_and_register_worker × {batch}"), &out);
    }
    let secret = JoinSecret {
        server: "https://10.0.0.1:6443".into(),
        token: JoinToken::new(format!("K10{}::abcdef.0123456789abcdef", "ab".repeat(32)))?,
        node_password: NodePassword::generate(),
    };
    let mut start = 0;
    for batch in [1usize, 100] {
        // an owned input gets a new version with every transaction: read it each time
        let cap = client
            .object(sb.info.master_cap_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no MasterCap"))?
            .object_ref();
        let mut b = PtbBuilder::new();
        for (node_id, sealing) in &devices[start..start + batch] {
            let w = reader
                .worker_by_node_id(node_id.as_str())
                .await?
                .ok_or_else(|| anyhow::anyhow!("no worker"))?;
            let ctx = EnvelopeContext {
                chain_id: chain,
                registry_id: sb.info.registry_id,
                worker_id: w.info.id,
                node_id: node_id.clone(),
            };
            let env = envelope::seal(
                &ctx,
                &env_key,
                &sealing.public(),
                1,
                sb.node.clock.now() + 3_600_000,
                &secret,
            )?;
            calls.set_join_token(
                &mut b,
                cap,
                w.info
                    .shared_ref()
                    .ok_or_else(|| anyhow::anyhow!("not shared"))?,
                &env,
            );
        }
        let out = Submitter::new(&client, &master).submit(b.finish()).await?;
        show(&format!("set_join_token × {batch}"), &out);
        start += batch;
    }
    Ok(())
}
