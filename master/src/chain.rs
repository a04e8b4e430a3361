//! Chain plumbing shared by `daas-master run` and the operator CLI: the `[chain]` table
//! of any k8s-daas config file, the client it names, and the Sui account key.

use std::path::Path;

use daas_protocol::SuiKeypair;
use daas_protocol::chain::{AnyChain, ChainError};
use daas_protocol::config::{self, ChainConfig, ConfigError};
use daas_protocol::ids::Address;
use daas_protocol::sui::SuiKeyError;
use serde::Deserialize;

/// Only the `[chain]` table of a file; other tables (`[master]`, `[agent]` …) are left
/// to their own readers, so `--config` can name `master.toml` or any file with a
/// `[chain]` table. The table itself is still parsed strictly.
#[derive(Debug, Deserialize)]
struct ChainOnly {
    chain: ChainConfig,
}

/// Reads the `[chain]` table of `path` and validates it (errors name the file, the
/// line and `chain.<field>`).
pub fn load_chain_table(path: &Path) -> Result<ChainConfig, ConfigError> {
    let f: ChainOnly = config::load_toml(path)?;
    f.chain.validate("chain")?;
    Ok(f.chain)
}

/// [`load_chain_table`] from text (`source_name` names it in errors).
pub fn parse_chain_table(text: &str, source_name: &str) -> Result<ChainConfig, ConfigError> {
    let f: ChainOnly = config::parse_toml(text, source_name)?;
    f.chain.validate("chain")?;
    Ok(f.chain)
}

/// The client the table names (JSON-RPC or GraphQL over all its endpoints). Makes no
/// request yet; the chain id is checked on each endpoint before its first call.
pub fn connect(chain: &ChainConfig) -> Result<AnyChain, ChainError> {
    AnyChain::connect(chain)
}

/// The Sui account key: a `suiprivkey1…` file or a `sui.keystore` (picking `address`
/// when given); refused when group or others can read the file.
pub fn load_sui_key(path: &Path, address: Option<&Address>) -> Result<SuiKeypair, SuiKeyError> {
    SuiKeypair::load(path, address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_table_is_read_from_a_file_with_other_tables() {
        let text = r#"
            [chain]
            chain_id = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
            transport = "jsonrpc"
            endpoints = ["http://127.0.0.1:9000"]
            package_id = "0x2a"
            registry_id = "0x2b"

            [master]
            anything = "goes here"
        "#;
        let c = parse_chain_table(text, "master.toml").unwrap();
        assert_eq!(c.endpoints, ["http://127.0.0.1:9000"]);
        assert!(connect(&c).is_ok());
        let e = parse_chain_table(&text.replace("transport", "transprt"), "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("transprt"), "{e}");
        let e = parse_chain_table("[master]\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("chain"), "{e}");
    }
}
