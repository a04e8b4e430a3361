//! One client type for whichever transport a `[chain]` table names, so that callers
//! (agent, master, CLI) hold one concrete type and never match on the transport.

use super::{
    Chain, CoinInfo, EventCursor, EventPage, GraphQlClient, JsonRpcClient, ObjectInfo, Page,
    Quorum, Result, TableEntry,
};
use crate::config::{ChainConfig, TransportKind};
use crate::ids::{Address, ObjectId};

#[cfg(feature = "tx")]
use super::ExecOutcome;
#[cfg(feature = "tx")]
use crate::sui::{TransactionDigest, UserSignature};

/// A JSON-RPC or GraphQL client, as the config says.
pub enum AnyChain {
    /// JSON-RPC.
    JsonRpc(JsonRpcClient),
    /// GraphQL.
    GraphQl(GraphQlClient),
}

impl AnyChain {
    /// A client over all of `config`'s endpoints (failing over between them). Makes no
    /// request yet. The config should have passed [`ChainConfig::validate`].
    pub fn connect(config: &ChainConfig) -> Result<Self> {
        let c = config.client_config();
        Ok(match config.transport {
            TransportKind::Jsonrpc => AnyChain::JsonRpc(JsonRpcClient::new(c)?),
            TransportKind::Graphql => AnyChain::GraphQl(GraphQlClient::new(c)?),
        })
    }

    /// One client per endpoint (sharing this client's connection pool).
    pub fn split(&self) -> Vec<AnyChain> {
        match self {
            AnyChain::JsonRpc(c) => c.split().into_iter().map(AnyChain::JsonRpc).collect(),
            AnyChain::GraphQl(c) => c.split().into_iter().map(AnyChain::GraphQl).collect(),
        }
    }

    /// A quorum over every endpoint, needing `config.quorum()` identical answers.
    pub fn quorum(&self, config: &ChainConfig) -> Result<Quorum<AnyChain>> {
        Quorum::new(self.split(), config.quorum())
    }
}

macro_rules! dispatch {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            AnyChain::JsonRpc($c) => $e,
            AnyChain::GraphQl($c) => $e,
        }
    };
}

impl Chain for AnyChain {
    fn describe(&self) -> String {
        dispatch!(self, c => c.describe())
    }
    async fn verify_chain(&self) -> Result<()> {
        dispatch!(self, c => c.verify_chain().await)
    }
    async fn reference_gas_price(&self) -> Result<u64> {
        dispatch!(self, c => c.reference_gas_price().await)
    }
    async fn coins(&self, owner: Address) -> Result<Vec<CoinInfo>> {
        dispatch!(self, c => c.coins(owner).await)
    }
    async fn object(&self, id: ObjectId) -> Result<Option<ObjectInfo>> {
        dispatch!(self, c => c.object(id).await)
    }
    async fn table_entry(&self, table: ObjectId, key: &str) -> Result<Option<ObjectId>> {
        dispatch!(self, c => c.table_entry(table, key).await)
    }
    async fn table_entries(
        &self,
        table: ObjectId,
        cursor: Option<String>,
    ) -> Result<Page<TableEntry>> {
        dispatch!(self, c => c.table_entries(table, cursor).await)
    }
    async fn events(
        &self,
        package: ObjectId,
        cursor: Option<&EventCursor>,
        limit: usize,
    ) -> Result<EventPage> {
        dispatch!(self, c => c.events(package, cursor, limit).await)
    }
    async fn latest_checkpoint(&self) -> Result<u64> {
        dispatch!(self, c => c.latest_checkpoint().await)
    }
    #[cfg(feature = "tx")]
    async fn dry_run(&self, tx_bytes: &[u8]) -> Result<ExecOutcome> {
        dispatch!(self, c => c.dry_run(tx_bytes).await)
    }
    #[cfg(feature = "tx")]
    async fn execute(&self, tx_bytes: &[u8], signatures: &[UserSignature]) -> Result<ExecOutcome> {
        dispatch!(self, c => c.execute(tx_bytes, signatures).await)
    }
    #[cfg(feature = "tx")]
    async fn transaction(&self, digest: &TransactionDigest) -> Result<Option<ExecOutcome>> {
        dispatch!(self, c => c.transaction(digest).await)
    }
    #[cfg(feature = "tx")]
    async fn wait_for_transaction(
        &self,
        digest: &TransactionDigest,
        deadline: tokio::time::Instant,
    ) -> Result<ExecOutcome> {
        dispatch!(self, c => c.wait_for_transaction(digest, deadline).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(transport: TransportKind, endpoints: &[&str]) -> ChainConfig {
        ChainConfig::new(
            "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
                .parse()
                .unwrap(),
            transport,
            endpoints.iter().map(|s| s.to_string()).collect(),
            ObjectId::from_u64(0x2a),
            ObjectId::from_u64(0x2b),
        )
    }

    #[test]
    fn the_transport_and_the_endpoints_come_from_the_config() {
        let c = config(
            TransportKind::Graphql,
            &["http://127.0.0.1:1/graphql", "http://127.0.0.1:2/graphql"],
        );
        let chain = AnyChain::connect(&c).unwrap();
        assert!(matches!(chain, AnyChain::GraphQl(_)));
        let parts = chain.split();
        assert_eq!(parts.len(), 2);
        assert!(
            parts[1].describe().contains("127.0.0.1:2"),
            "{}",
            parts[1].describe()
        );
        assert!(chain.quorum(&c).is_ok());

        let j = config(TransportKind::Jsonrpc, &["http://127.0.0.1:3"]);
        let chain = AnyChain::connect(&j).unwrap();
        assert!(matches!(chain, AnyChain::JsonRpc(_)));
        let mut impossible = j.clone();
        impossible.quorum = Some(2);
        assert!(chain.quorum(&impossible).is_err());
    }
}
