//! Sui's gas model (gas model version 2 and later) with the protocol-config values of
//! today's mainnet: storage priced per byte of the whole object, rebates at 99 %,
//! computation rounded up to Sui's buckets, the budget and price bounds.
//!
//! Sources: MystenLabs/sui `crates/sui-types/src/gas_model/gas_v2.rs` (buckets,
//! `sender_rebate`, `track_storage_mutation`, `check_gas_balance`),
//! `sui-execution/latest/sui-adapter/src/gas_charger.rs` (`charge_gas`, the
//! out-of-gas fallbacks), `crates/sui-protocol-config` (the values),
//! `crates/sui-types/src/object.rs` (`object_size_for_gas_metering`).
//!
//! What is *not* Sui's: the sandbox runs no Move bytecode, so the units of the Move
//! code itself are an estimate ([`MOVE_CALL_UNITS`], [`SEAL_TOKEN_CHECK_UNITS`],
//! [`COMMAND_UNITS`]); reading input objects is charged as Sui charges it.

/// `obj_access_cost_read_per_byte`: computation units per byte of every input object.
pub const OBJ_ACCESS_COST_READ_PER_BYTE: u64 = 15;
/// `obj_data_cost_refundable`: storage units per byte written.
pub const OBJ_DATA_COST_REFUNDABLE: u64 = 100;
/// `obj_metadata_cost_non_refundable` (gas model 1 only; kept for reference, unused by
/// gas model 2, which keeps 1 % of the rebate instead).
pub const OBJ_METADATA_COST_NON_REFUNDABLE: u64 = 50;
/// `storage_gas_price`: MIST per storage unit.
pub const STORAGE_GAS_PRICE: u64 = 76;
/// `storage_rebate_rate`: basis points of a replaced version's storage paid back.
pub const STORAGE_REBATE_RATE: u64 = 9_900;
/// `base_tx_cost_fixed`: the smallest budget, in units of the gas price.
pub const BASE_TX_COST_FIXED: u64 = 2_000;
/// `max_tx_gas`: the largest budget (50 SUI).
pub const MAX_TX_GAS: u64 = 50_000_000_000;
/// `max_gas_price` (MIST per unit).
pub const MAX_GAS_PRICE: u64 = 100_000;
/// `max_gas_computation_bucket`: the top of the last bucket.
pub const MAX_GAS_COMPUTATION_BUCKET: u64 = 5_000_000;
/// The reference gas price the sandbox announces (mainnet's has been 750–1000).
pub const REFERENCE_GAS_PRICE: u64 = 1_000;
/// `DEV_INSPECT_GAS_COIN_VALUE`: the mock gas coin of a dry run without gas payment.
pub const SIMULATION_GAS_COIN_VALUE: u64 = 1_000_000_000_000_000_000;

/// Estimate (not Sui's tables): units for one Move call's bytecode.
pub const MOVE_CALL_UNITS: u64 = 1_000;
/// Estimate: extra units for a call that verifies a seal token (Sui's `ed25519_verify`
/// native costs about 1,800 units plus per-byte charges, and the node_id check hashes).
pub const SEAL_TOKEN_CHECK_UNITS: u64 = 2_000;
/// Estimate: units for a built-in command (`SplitCoins`, `MergeCoins`, `TransferObjects`).
pub const COMMAND_UNITS: u64 = 100;

/// Storage cost of an object of `size` bytes (as Sui meters it): what it pays and the
/// `storage_rebate` it carries.
pub fn storage_cost(size: u64) -> u64 {
    size * OBJ_DATA_COST_REFUNDABLE * STORAGE_GAS_PRICE
}

/// The sender's share of `rebate` (Sui's `sender_rebate`, rounding half up).
pub fn sender_rebate(rebate: u64) -> u64 {
    ((rebate as u128 * STORAGE_REBATE_RATE as u128 + 5_000) / 10_000) as u64
}

/// The smallest budget at `gas_price`.
pub fn min_budget(gas_price: u64) -> u64 {
    BASE_TX_COST_FIXED * gas_price
}

/// Units rounded up to Sui's computation bucket.
pub fn bucket(units: u64) -> u64 {
    const TOPS: [u64; 7] = [1_000, 5_000, 10_000, 20_000, 50_000, 200_000, 1_000_000];
    TOPS.into_iter()
        .find(|top| units <= *top)
        .unwrap_or(MAX_GAS_COMPUTATION_BUCKET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_up_and_cap() {
        assert_eq!(bucket(0), 1_000);
        assert_eq!(bucket(1_000), 1_000);
        assert_eq!(bucket(1_001), 5_000);
        assert_eq!(bucket(14_000), 20_000);
        assert_eq!(bucket(1_000_001), 5_000_000);
        assert_eq!(bucket(9_000_000), 5_000_000);
    }

    #[test]
    fn storage_is_7600_mist_per_byte_and_rebates_99_percent() {
        assert_eq!(storage_cost(1), 7_600);
        assert_eq!(sender_rebate(10_000), 9_900);
        // rounding: 0.5 goes up
        assert_eq!(sender_rebate(50), 50);
        assert_eq!(sender_rebate(150), 149);
        assert_eq!(min_budget(1_000), 2_000_000);
    }
}
