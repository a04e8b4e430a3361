//! The service: start-up checks, then the pipeline until shutdown.

use std::future::Future;

use daas_protocol::EnvelopeKey;
use daas_protocol::chain::{Chain, ChainError, RegistryReader};
use daas_protocol::keys::KeyError;
use daas_protocol::sui::SuiKeyError;
use thiserror::Error;

use crate::config::MasterConfig;

/// Why the service stopped or could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A key file cannot be used.
    #[error("{field}: {source}")]
    Key {
        /// The config field naming the file.
        field: &'static str,
        /// Why.
        source: KeyError,
    },
    /// The Sui account key cannot be used.
    #[error("master.sui_key: {0}")]
    SuiKey(#[from] SuiKeyError),
    /// The chain cannot be used.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Runs the master until `shutdown` completes.
pub async fn run(
    config: MasterConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let sui =
        crate::chain::load_sui_key(&config.master.sui_key, config.master.sui_address.as_ref())?;
    let _envelope =
        EnvelopeKey::load(&config.master.envelope_key).map_err(|source| ServiceError::Key {
            field: "master.envelope_key",
            source,
        })?;
    let chain = crate::chain::connect(&config.chain)?;
    chain.verify_chain().await?;
    let reader = RegistryReader::new(&chain, config.chain.package_id, config.chain.registry_id);
    let (_, registry) = reader.registry().await?;
    tracing::info!(
        account = %sui.address(),
        registry = %config.chain.registry_id,
        workers = registry.total_workers,
        "daas-master started"
    );
    shutdown.await;
    Ok(())
}
