//! The shared `[chain]` table of every config file (DESIGN §10), as the master's
//! `parse_chain_table` and the agent read it: strict TOML, then `validate`. No panic; a
//! valid table written back as TOML parses to the same table; the client settings it
//! yields never panic and keep its endpoints.
#![no_main]

use daas_protocol::config::{self, ChainConfig};
use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct ChainOnly {
    chain: ChainConfig,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(f) = config::parse_toml::<ChainOnly>(text, "fuzz.toml") else {
        return;
    };
    if f.chain.validate("chain").is_err() {
        return;
    }
    let written = toml::to_string(&f).expect("a table serializes");
    let again: ChainOnly = config::parse_toml(&written, "again.toml").expect("re-parses");
    assert_eq!(again.chain, f.chain, "{written}");
    assert!(again.chain.validate("chain").is_ok());
    let client = f.chain.client_config();
    assert_eq!(client.endpoints, f.chain.endpoints);
    assert!(f.chain.quorum() >= 1 && f.chain.quorum() <= f.chain.endpoints.len());
});
