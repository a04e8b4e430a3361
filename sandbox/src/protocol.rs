//! The protocol config the sandbox runs under, as `sui_getProtocolConfig` and GraphQL
//! `Epoch.protocolConfigs` report it: the keys whose values the sandbox enforces, with
//! the values of today's mainnet (MystenLabs/sui `crates/sui-protocol-config`).

use serde_json::{Value, json};

use crate::gas;

/// The protocol version reported. The sandbox implements no version history: this is
/// the number it announces for the values below, not a claim to match that version of
/// Sui in everything else.
pub const PROTOCOL_VERSION: u64 = 100;

/// (key, value) of every config the sandbox enforces.
pub fn attributes() -> Vec<(&'static str, u64)> {
    use daas_protocol::tx::limits;
    vec![
        ("max_tx_gas", gas::MAX_TX_GAS),
        ("max_gas_price", gas::MAX_GAS_PRICE),
        ("base_tx_cost_fixed", gas::BASE_TX_COST_FIXED),
        (
            "max_gas_computation_bucket",
            gas::MAX_GAS_COMPUTATION_BUCKET,
        ),
        (
            "obj_access_cost_read_per_byte",
            gas::OBJ_ACCESS_COST_READ_PER_BYTE,
        ),
        ("obj_data_cost_refundable", gas::OBJ_DATA_COST_REFUNDABLE),
        (
            "obj_metadata_cost_non_refundable",
            gas::OBJ_METADATA_COST_NON_REFUNDABLE,
        ),
        ("storage_gas_price", gas::STORAGE_GAS_PRICE),
        ("storage_rebate_rate", gas::STORAGE_REBATE_RATE),
        ("gas_model_version", 2),
        ("max_tx_size_bytes", limits::MAX_TX_SIZE as u64),
        ("max_programmable_tx_commands", limits::MAX_COMMANDS as u64),
        ("max_input_objects", limits::MAX_INPUTS as u64),
        ("max_pure_argument_size", limits::MAX_PURE_ARG_SIZE as u64),
    ]
}

/// `ProtocolConfig` JSON (JSON-RPC).
pub fn jsonrpc() -> Value {
    let attributes: serde_json::Map<String, Value> = attributes()
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!({"u64": v.to_string()})))
        .collect();
    json!({
        "minSupportedProtocolVersion": PROTOCOL_VERSION.to_string(),
        "maxSupportedProtocolVersion": PROTOCOL_VERSION.to_string(),
        "protocolVersion": PROTOCOL_VERSION.to_string(),
        "featureFlags": {},
        "attributes": attributes,
    })
}
