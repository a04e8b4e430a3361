//! `daas-demo bench fleet --bundles 500`: fleet provisioning's budget (DESIGN §9: 500
//! device bundles registered in ≤ 10 transactions). Makes the bundles with the real
//! `fleet keygen` code (`daas_master::ops::fleet::keygen`) against the sandbox chain's
//! `[chain]` table and root key, registers them through the real `fleet register` path
//! (`daas_master::ops::fleet::register`: checks, batching, dry run, execution), then
//! counts from the chain's registry table how many of the bundles' node_ids are
//! registered. `seconds` is the register step alone (keygen is offline and separate).
//!
//! `bench=fleet bundles=N transactions=T seconds=S registered=R`

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context as _, bail};
use daas_master::ops::Session;
use daas_master::ops::amount::Amount;
use daas_master::ops::bundle::BundleConfig;
use daas_master::ops::fleet;
use daas_protocol::RootPublicKey;
use daas_protocol::chain::RegistryReader;
use daas_protocol::config::TransportKind;
use daas_protocol::onchain::MIST_PER_SUI;
use daas_sandbox::faults::Faults;

use crate::stage::Stage;

/// Runs the benchmark; its line.
pub async fn fleet(n: usize, t: TransportKind) -> anyhow::Result<String> {
    let stage = Stage::start(t, 2, Faults::none()).await?;
    let chain = daas_master::chain::load_chain_table(&stage.config_path)?;
    let root: RootPublicKey = stage
        .info
        .root_key
        .public
        .parse()
        .context("the sandbox's root key")?;
    let owner = stage.accounts[0].clone();
    let dir = stage.dir.path().join("bundles");
    let config = BundleConfig {
        root_public_key: root,
        chain: chain.clone(),
    };
    let made = fleet::keygen(&dir, n, "pi-", &owner.address(), &config)?;
    if made.created.len() != n {
        bail!("keygen made {} of {n} bundles", made.created.len());
    }
    let bundles = fleet::read_all(&dir)?;
    let session = Session::new(chain)?;
    let start = Instant::now();
    let report = fleet::register(
        &session,
        owner,
        &bundles,
        Amount(MIST_PER_SUI),
        Amount(0),
        fleet::DEFAULT_BATCH,
    )
    .await?;
    let seconds = start.elapsed().as_secs_f64();
    if !report.ok() {
        bail!(
            "fleet register: {} registered, {} failed, {} registered by others",
            report.registered(),
            report.failed(),
            report.foreign()
        );
    }
    let ours: HashSet<&str> = bundles.iter().map(|b| b.node_id.as_str()).collect();
    let reader = RegistryReader::new(&stage.chain, stage.package_id, stage.registry_id);
    let registered = reader
        .all_workers()
        .await?
        .iter()
        .filter(|e| ours.contains(e.key.as_str()))
        .count();
    Ok(format!(
        "bench=fleet bundles={n} transactions={} seconds={seconds:.2} registered={registered}",
        report.transactions.len()
    ))
}
