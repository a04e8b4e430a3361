//! The Move package `k8s_daas::worker_registry` as the off-chain code sees it
//! (DESIGN §4, §6): statuses, abort codes, the entry functions' signatures, and the
//! BCS layouts of its objects and events.
//!
//! Clients decode objects and events from their BCS bytes (identical over JSON-RPC
//! and GraphQL, and exact for u64s), so the struct field order here is the Move
//! declaration order and must stay so.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{Address, ObjectId};

/// The module name.
pub const MODULE: &str = "worker_registry";
/// The Clock object (`0x6`), shared with initial_shared_version 1.
pub const CLOCK_ID: ObjectId = ObjectId::from_u64(6);
/// The Clock's initial shared version.
pub const CLOCK_INITIAL_SHARED_VERSION: u64 = 1;
/// 1 SUI in MIST.
pub const MIST_PER_SUI: u64 = 1_000_000_000;
/// Default registry parameters (DESIGN §4).
pub mod defaults {
    /// 1 SUI.
    pub const MIN_STAKE: u64 = 1_000_000_000;
    /// No registration fee.
    pub const REGISTRATION_FEE: u64 = 0;
    /// 7 days.
    pub const COOLDOWN_MS: u64 = 7 * 24 * 3_600_000;
    /// Upper bound of cooldown_ms: 30 days.
    pub const MAX_COOLDOWN_MS: u64 = 30 * 24 * 3_600_000;
    /// 1 day.
    pub const REVOKE_GRACE_MS: u64 = 24 * 3_600_000;
    /// 7 days.
    pub const MAX_ENVELOPE_TTL_MS: u64 = 7 * 24 * 3_600_000;
    /// Longest slash reason in bytes.
    pub const MAX_SLASH_REASON_LEN: usize = 256;
}

/// A Worker's status (`u8` on chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum WorkerStatus {
    /// Registered, waiting for an envelope.
    Pending = 0,
    /// Envelope stored, device not yet joined.
    TokenIssued = 1,
    /// Joined and activated.
    Active = 2,
    /// The owner asked to leave.
    Leaving = 3,
    /// Slashed by the SlashCap.
    Slashed = 4,
    /// The master confirmed the revocation.
    Revoked = 5,
}

impl WorkerStatus {
    /// From the on-chain byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => WorkerStatus::Pending,
            1 => WorkerStatus::TokenIssued,
            2 => WorkerStatus::Active,
            3 => WorkerStatus::Leaving,
            4 => WorkerStatus::Slashed,
            5 => WorkerStatus::Revoked,
            _ => return None,
        })
    }

    /// Lower-case name for logs.
    pub fn name(self) -> &'static str {
        match self {
            WorkerStatus::Pending => "pending",
            WorkerStatus::TokenIssued => "token_issued",
            WorkerStatus::Active => "active",
            WorkerStatus::Leaving => "leaving",
            WorkerStatus::Slashed => "slashed",
            WorkerStatus::Revoked => "revoked",
        }
    }

    /// Whether the agent must stop k3s in this status.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            WorkerStatus::Leaving | WorkerStatus::Slashed | WorkerStatus::Revoked
        )
    }
}

/// Abort codes, identical in Move and in the sandbox's MoveAbort.
pub mod abort {
    /// Payment below min_stake + registration_fee.
    pub const E_INSUFFICIENT_STAKE: u64 = 1;
    /// node_id already registered.
    pub const E_WORKER_ALREADY_EXISTS: u64 = 2;
    /// No such worker.
    pub const E_WORKER_NOT_FOUND: u64 = 3;
    /// Seal token malformed or not signed for this registry/owner/node_id.
    pub const E_INVALID_SEAL_TOKEN: u64 = 4;
    /// node_id syntax or fingerprint.
    pub const E_INVALID_NODE_ID: u64 = 5;
    /// Caller is not the owner.
    pub const E_UNAUTHORIZED: u64 = 6;
    /// Wrong status for the owner's or admin's call.
    pub const E_INVALID_STATUS: u64 = 7;
    /// Object of another registry.
    pub const E_WRONG_REGISTRY: u64 = 8;
    /// Cooldown (or cooldown + revoke grace) not over.
    pub const E_COOLDOWN_NOT_OVER: u64 = 9;
    /// Envelope defect.
    pub const E_INVALID_ENVELOPE: u64 = 10;
    /// Parameter out of range.
    pub const E_INVALID_PARAMETER: u64 = 11;
    /// Revoked MasterCap or SlashCap.
    pub const E_CAP_REVOKED: u64 = 12;

    /// The constant's Move name for a code.
    pub fn name(code: u64) -> Option<&'static str> {
        Some(match code {
            1 => "EInsufficientStake",
            2 => "EWorkerAlreadyExists",
            3 => "EWorkerNotFound",
            4 => "EInvalidSealToken",
            5 => "EInvalidNodeId",
            6 => "EUnauthorized",
            7 => "EInvalidStatus",
            8 => "EWrongRegistry",
            9 => "ECooldownNotOver",
            10 => "EInvalidEnvelope",
            11 => "EInvalidParameter",
            12 => "ECapRevoked",
            _ => return None,
        })
    }
}

/// The `action` of a `MasterActionSkippedEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MasterAction {
    /// `set_join_token`.
    SetJoinToken = 1,
    /// `activate_worker`.
    Activate = 2,
    /// `confirm_revoked`.
    ConfirmRevoked = 3,
}

/// One parameter of an entry function, as a transaction must supply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `&WorkerRegistry` (shared, immutable).
    Registry,
    /// `&mut WorkerRegistry` (shared, mutable).
    RegistryMut,
    /// `&mut Worker` (shared, mutable).
    WorkerMut,
    /// `Worker` by value (shared, mutable; deleted).
    WorkerByValue,
    /// `Coin<SUI>` by value.
    Coin,
    /// `&AdminCap` (owned).
    AdminCap,
    /// `&SlashCap` (owned).
    SlashCap,
    /// `&MasterCap` (owned).
    MasterCap,
    /// `&Clock` (`0x6`, shared, immutable).
    Clock,
    /// `u64` (pure).
    U64,
    /// `String` (pure, UTF-8).
    String,
    /// `vector<u8>` (pure).
    Bytes,
    /// `address` (pure).
    Address,
    /// `ID` (pure).
    Id,
}

/// An entry function and its parameters in order (`&mut TxContext` is implicit).
#[derive(Debug, Clone, Copy)]
pub struct EntryFunction {
    /// Function name.
    pub name: &'static str,
    /// Parameters, in order, without the trailing `ctx`.
    pub params: &'static [Param],
}

macro_rules! entry {
    ($name:literal, [$($p:ident),*]) => {
        EntryFunction { name: $name, params: &[$(Param::$p),*] }
    };
}

/// Every function a transaction may call. The Move package, the transaction builder
/// (`tx::RegistryCalls`) and the sandbox all follow this table.
pub const ENTRY_FUNCTIONS: &[EntryFunction] = &[
    entry!(
        "stake_and_register_worker",
        [RegistryMut, Coin, String, Bytes, Clock]
    ),
    entry!(
        "set_join_token",
        [Registry, MasterCap, WorkerMut, Bytes, Clock]
    ),
    entry!("activate_worker", [Registry, MasterCap, WorkerMut, Clock]),
    entry!("confirm_revoked", [Registry, MasterCap, WorkerMut, Clock]),
    entry!("request_join_token", [WorkerMut, Clock]),
    entry!("rotate_seal_token", [Registry, WorkerMut, Bytes, Clock]),
    entry!("request_unstake", [WorkerMut, Clock]),
    entry!("withdraw_stake", [RegistryMut, WorkerByValue, Clock]),
    entry!(
        "slash",
        [RegistryMut, SlashCap, WorkerMut, U64, String, Clock]
    ),
    entry!("set_min_stake", [RegistryMut, AdminCap, U64]),
    entry!("set_registration_fee", [RegistryMut, AdminCap, U64]),
    entry!("set_cooldown_ms", [RegistryMut, AdminCap, U64]),
    entry!("set_revoke_grace_ms", [RegistryMut, AdminCap, U64]),
    entry!("set_max_envelope_ttl_ms", [RegistryMut, AdminCap, U64]),
    entry!(
        "set_envelope_key_cert",
        [RegistryMut, AdminCap, Bytes, Clock]
    ),
    entry!("issue_master_cap", [RegistryMut, AdminCap, Address, Clock]),
    entry!("revoke_master_cap", [RegistryMut, AdminCap, Id, Clock]),
    entry!("issue_slash_cap", [RegistryMut, AdminCap, Address]),
    entry!("revoke_slash_cap", [RegistryMut, AdminCap, Id]),
    entry!("withdraw_treasury", [RegistryMut, AdminCap, U64, Address]),
];

/// Looks an entry function up by name.
pub fn entry_function(name: &str) -> Option<&'static EntryFunction> {
    ENTRY_FUNCTIONS.iter().find(|f| f.name == name)
}

/// `0x<package>::worker_registry::<name>`, the full type or event tag.
pub fn struct_type(package: &ObjectId, name: &str) -> String {
    format!("{package}::{MODULE}::{name}")
}

/// `sui::balance::Balance<SUI>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// MIST.
    pub value: u64,
}

/// `sui::table::Table<String, ID>` as stored: its UID and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The table's UID; entries are dynamic fields of it.
    pub id: ObjectId,
    /// Entry count.
    pub size: u64,
}

/// `sui::vec_set::VecSet<T>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VecSet<T> {
    /// The elements.
    pub contents: Vec<T>,
}

/// The shared registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRegistry {
    /// Object id.
    pub id: ObjectId,
    /// node_id → Worker id.
    pub workers: Table,
    /// Valid MasterCap ids.
    pub master_caps: VecSet<ObjectId>,
    /// Valid SlashCap ids.
    pub slash_caps: VecSet<ObjectId>,
    /// 105-byte certificate, or empty.
    pub envelope_key_cert: Vec<u8>,
    /// Minimum stake (MIST).
    pub min_stake: u64,
    /// Non-refundable fee (MIST).
    pub registration_fee: u64,
    /// Copied into each Worker at registration.
    pub cooldown_ms: u64,
    /// Extra wait when no master confirms a revocation (copied into each Worker).
    pub revoke_grace_ms: u64,
    /// Longest envelope lifetime.
    pub max_envelope_ttl_ms: u64,
    /// Fees and slashes.
    pub treasury: Balance,
    /// Stake held by workers.
    pub total_stake: u64,
    /// Registered workers.
    pub total_workers: u64,
}

/// A registered worker (shared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    /// Object id.
    pub id: ObjectId,
    /// Its registry.
    pub registry_id: ObjectId,
    /// `<label>-<fp>`.
    pub node_id: String,
    /// The staker.
    pub owner: Address,
    /// Stake in custody.
    pub stake: Balance,
    /// [`WorkerStatus`] byte.
    pub status: u8,
    /// 129-byte seal token.
    pub seal_token: Vec<u8>,
    /// Join envelope, empty before the first.
    pub join_envelope: Vec<u8>,
    /// Grows by one with each envelope and each seal-token rotation.
    pub token_version: u64,
    /// Cooldown copied at registration.
    pub cooldown_ms: u64,
    /// Revoke grace copied at registration (a later change never lengthens an exit).
    pub revoke_grace_ms: u64,
    /// Registration time.
    pub registered_at_ms: u64,
    /// When the stake can be withdrawn (after leaving or a slash).
    pub unlock_at_ms: u64,
}

/// A byte that is not a [`WorkerStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("worker status byte {0} is not a known status (0..=5)")]
pub struct UnknownStatus(pub u8);

impl Worker {
    /// The status, checked.
    pub fn status(&self) -> Result<WorkerStatus, UnknownStatus> {
        WorkerStatus::from_u8(self.status).ok_or(UnknownStatus(self.status))
    }
}

/// `AdminCap`, `SlashCap` and `MasterCap` share this layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    /// Object id.
    pub id: ObjectId,
    /// The registry it governs.
    pub registry_id: ObjectId,
}

/// `sui::coin::Coin<SUI>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coin {
    /// Object id.
    pub id: ObjectId,
    /// Value.
    pub balance: Balance,
}

/// `sui::dynamic_field::Field<K, V>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field<K, V> {
    /// The field object's id.
    pub id: ObjectId,
    /// The key.
    pub name: K,
    /// The value.
    pub value: V,
}

/// `WorkerRegisteredEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WorkerRegistered {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub owner: Address,
    pub stake_amount: u64,
    pub seal_token: Vec<u8>,
    pub timestamp_ms: u64,
}

/// `StakeDepositedEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct StakeDeposited {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub owner: Address,
    pub amount: u64,
    pub timestamp_ms: u64,
}

/// `JoinTokenSetEvent` (carries the version, never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct JoinTokenSet {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub token_version: u64,
    pub expires_at_ms: u64,
    pub timestamp_ms: u64,
}

/// `MasterActionSkippedEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MasterActionSkipped {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub action: u8,
    pub status: u8,
    pub timestamp_ms: u64,
}

/// `WorkerStatusChangedEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WorkerStatusChanged {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub old_status: u8,
    pub new_status: u8,
    pub timestamp_ms: u64,
}

/// `WorkerSlashedEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WorkerSlashed {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub amount: u64,
    pub reason: String,
    pub timestamp_ms: u64,
}

/// `StakeWithdrawnEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct StakeWithdrawn {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub owner: Address,
    pub amount: u64,
    pub timestamp_ms: u64,
}

/// `SealTokenRotatedEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SealTokenRotated {
    pub registry_id: ObjectId,
    pub worker_id: ObjectId,
    pub node_id: String,
    pub seal_token: Vec<u8>,
    pub timestamp_ms: u64,
}

/// `EnvelopeKeyCertSetEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct EnvelopeKeyCertSet {
    pub registry_id: ObjectId,
    pub serial: u64,
    pub timestamp_ms: u64,
}

/// `MasterCapChangedEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MasterCapChanged {
    pub registry_id: ObjectId,
    pub cap_id: ObjectId,
    pub valid: bool,
    pub timestamp_ms: u64,
}

/// Any event of the registry module.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum RegistryEvent {
    WorkerRegistered(WorkerRegistered),
    StakeDeposited(StakeDeposited),
    JoinTokenSet(JoinTokenSet),
    MasterActionSkipped(MasterActionSkipped),
    WorkerStatusChanged(WorkerStatusChanged),
    WorkerSlashed(WorkerSlashed),
    StakeWithdrawn(StakeWithdrawn),
    SealTokenRotated(SealTokenRotated),
    EnvelopeKeyCertSet(EnvelopeKeyCertSet),
    MasterCapChanged(MasterCapChanged),
}

/// An event whose bytes do not decode as its type says.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EventDecodeError {
    /// BCS does not match the struct layout.
    #[error("event {name}: BCS does not decode ({reason})")]
    Bcs {
        /// Struct name.
        name: String,
        /// The decoder's message.
        reason: String,
    },
}

/// The struct names of the ten events.
pub const EVENT_NAMES: [&str; 10] = [
    "WorkerRegisteredEvent",
    "StakeDepositedEvent",
    "JoinTokenSetEvent",
    "MasterActionSkippedEvent",
    "WorkerStatusChangedEvent",
    "WorkerSlashedEvent",
    "StakeWithdrawnEvent",
    "SealTokenRotatedEvent",
    "EnvelopeKeyCertSetEvent",
    "MasterCapChangedEvent",
];

impl RegistryEvent {
    /// Decodes the BCS of the event named `name` (the struct name, e.g.
    /// `JoinTokenSetEvent`). `Ok(None)` for a name this version does not know.
    pub fn decode(name: &str, bcs_bytes: &[u8]) -> Result<Option<Self>, EventDecodeError> {
        fn de<T: for<'a> Deserialize<'a>>(name: &str, b: &[u8]) -> Result<T, EventDecodeError> {
            bcs::from_bytes(b).map_err(|e| EventDecodeError::Bcs {
                name: name.into(),
                reason: e.to_string(),
            })
        }
        Ok(Some(match name {
            "WorkerRegisteredEvent" => RegistryEvent::WorkerRegistered(de(name, bcs_bytes)?),
            "StakeDepositedEvent" => RegistryEvent::StakeDeposited(de(name, bcs_bytes)?),
            "JoinTokenSetEvent" => RegistryEvent::JoinTokenSet(de(name, bcs_bytes)?),
            "MasterActionSkippedEvent" => RegistryEvent::MasterActionSkipped(de(name, bcs_bytes)?),
            "WorkerStatusChangedEvent" => RegistryEvent::WorkerStatusChanged(de(name, bcs_bytes)?),
            "WorkerSlashedEvent" => RegistryEvent::WorkerSlashed(de(name, bcs_bytes)?),
            "StakeWithdrawnEvent" => RegistryEvent::StakeWithdrawn(de(name, bcs_bytes)?),
            "SealTokenRotatedEvent" => RegistryEvent::SealTokenRotated(de(name, bcs_bytes)?),
            "EnvelopeKeyCertSetEvent" => RegistryEvent::EnvelopeKeyCertSet(de(name, bcs_bytes)?),
            "MasterCapChangedEvent" => RegistryEvent::MasterCapChanged(de(name, bcs_bytes)?),
            _ => return Ok(None),
        }))
    }

    /// The struct name.
    pub fn name(&self) -> &'static str {
        match self {
            RegistryEvent::WorkerRegistered(_) => EVENT_NAMES[0],
            RegistryEvent::StakeDeposited(_) => EVENT_NAMES[1],
            RegistryEvent::JoinTokenSet(_) => EVENT_NAMES[2],
            RegistryEvent::MasterActionSkipped(_) => EVENT_NAMES[3],
            RegistryEvent::WorkerStatusChanged(_) => EVENT_NAMES[4],
            RegistryEvent::WorkerSlashed(_) => EVENT_NAMES[5],
            RegistryEvent::StakeWithdrawn(_) => EVENT_NAMES[6],
            RegistryEvent::SealTokenRotated(_) => EVENT_NAMES[7],
            RegistryEvent::EnvelopeKeyCertSet(_) => EVENT_NAMES[8],
            RegistryEvent::MasterCapChanged(_) => EVENT_NAMES[9],
        }
    }

    /// BCS of the event struct.
    pub fn to_bcs(&self) -> Vec<u8> {
        let r = match self {
            RegistryEvent::WorkerRegistered(e) => bcs::to_bytes(e),
            RegistryEvent::StakeDeposited(e) => bcs::to_bytes(e),
            RegistryEvent::JoinTokenSet(e) => bcs::to_bytes(e),
            RegistryEvent::MasterActionSkipped(e) => bcs::to_bytes(e),
            RegistryEvent::WorkerStatusChanged(e) => bcs::to_bytes(e),
            RegistryEvent::WorkerSlashed(e) => bcs::to_bytes(e),
            RegistryEvent::StakeWithdrawn(e) => bcs::to_bytes(e),
            RegistryEvent::SealTokenRotated(e) => bcs::to_bytes(e),
            RegistryEvent::EnvelopeKeyCertSet(e) => bcs::to_bytes(e),
            RegistryEvent::MasterCapChanged(e) => bcs::to_bytes(e),
        };
        r.expect("event structs always serialize")
    }

    /// The registry the event belongs to (every event starts with it).
    pub fn registry_id(&self) -> ObjectId {
        match self {
            RegistryEvent::WorkerRegistered(e) => e.registry_id,
            RegistryEvent::StakeDeposited(e) => e.registry_id,
            RegistryEvent::JoinTokenSet(e) => e.registry_id,
            RegistryEvent::MasterActionSkipped(e) => e.registry_id,
            RegistryEvent::WorkerStatusChanged(e) => e.registry_id,
            RegistryEvent::WorkerSlashed(e) => e.registry_id,
            RegistryEvent::StakeWithdrawn(e) => e.registry_id,
            RegistryEvent::SealTokenRotated(e) => e.registry_id,
            RegistryEvent::EnvelopeKeyCertSet(e) => e.registry_id,
            RegistryEvent::MasterCapChanged(e) => e.registry_id,
        }
    }

    /// The worker it is about, if any.
    pub fn worker_id(&self) -> Option<ObjectId> {
        Some(match self {
            RegistryEvent::WorkerRegistered(e) => e.worker_id,
            RegistryEvent::StakeDeposited(e) => e.worker_id,
            RegistryEvent::JoinTokenSet(e) => e.worker_id,
            RegistryEvent::MasterActionSkipped(e) => e.worker_id,
            RegistryEvent::WorkerStatusChanged(e) => e.worker_id,
            RegistryEvent::WorkerSlashed(e) => e.worker_id,
            RegistryEvent::StakeWithdrawn(e) => e.worker_id,
            RegistryEvent::SealTokenRotated(e) => e.worker_id,
            RegistryEvent::EnvelopeKeyCertSet(_) | RegistryEvent::MasterCapChanged(_) => {
                return None;
            }
        })
    }
}

/// The struct name in a full Move type tag `0x…::worker_registry::Name`, if the
/// package (compared as an address, any spelling) and module match.
pub fn struct_name_in<'a>(type_tag: &'a str, package: &ObjectId) -> Option<&'a str> {
    let mut parts = type_tag.splitn(3, "::");
    let addr: ObjectId = parts.next()?.parse().ok()?;
    let module = parts.next()?;
    let name = parts.next()?;
    (addr == *package && module == MODULE && !name.contains('<')).then_some(name)
}

/// The dynamic-field object id of a `Table<String, _>` entry (Sui's
/// `derive_dynamic_field_id`): Blake2b-256(0xf0 || parent || u64 LE len(key) || key ||
/// bcs(TypeTag of `0x1::string::String`)).
pub fn table_entry_id(table: &ObjectId, key: &str) -> ObjectId {
    let key_bcs = crate::bcs_util::string(key);
    // TypeTag::Struct(0x1::string::String)
    let mut tag = vec![0x07];
    tag.extend_from_slice(ObjectId::from_u64(1).as_bytes());
    tag.extend_from_slice(&crate::bcs_util::string("string"));
    tag.extend_from_slice(&crate::bcs_util::string("String"));
    tag.push(0); // no type parameters
    ObjectId(crate::hash::blake2b256(&[
        &[0xf0],
        table.as_bytes(),
        &(key_bcs.len() as u64).to_le_bytes(),
        &key_bcs,
        &tag,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes_match_design() {
        for v in 0..=5u8 {
            assert_eq!(WorkerStatus::from_u8(v).unwrap() as u8, v);
        }
        assert!(WorkerStatus::from_u8(6).is_none());
        assert!(WorkerStatus::Leaving.is_terminal() && !WorkerStatus::Active.is_terminal());
    }

    #[test]
    fn every_event_round_trips_through_bcs_by_name() {
        let e = RegistryEvent::JoinTokenSet(JoinTokenSet {
            registry_id: ObjectId::from_u64(1),
            worker_id: ObjectId::from_u64(2),
            node_id: "rpi-0011223344556677".into(),
            token_version: 3,
            expires_at_ms: 4,
            timestamp_ms: 5,
        });
        let b = e.to_bcs();
        // 32 + 32 + (1 + 20) + 8 + 8 + 8
        assert_eq!(b.len(), 109);
        assert_eq!(RegistryEvent::decode(e.name(), &b).unwrap(), Some(e));
        assert!(RegistryEvent::decode("JoinTokenSetEvent", &b[..50]).is_err());
        assert_eq!(RegistryEvent::decode("Other", &b).unwrap(), None);
    }

    #[test]
    fn worker_bcs_layout_is_the_move_declaration_order() {
        let w = Worker {
            id: ObjectId::from_u64(1),
            registry_id: ObjectId::from_u64(2),
            node_id: "a".into(),
            owner: Address::from_u64(3),
            stake: Balance { value: 4 },
            status: 1,
            seal_token: vec![9; 2],
            join_envelope: vec![],
            token_version: 5,
            cooldown_ms: 6,
            revoke_grace_ms: 9,
            registered_at_ms: 7,
            unlock_at_ms: 8,
        };
        let b = bcs::to_bytes(&w).unwrap();
        assert_eq!(&b[64..66], &[1, b'a']);
        assert_eq!(&b[98..106], &4u64.to_le_bytes());
        assert_eq!(&b[106..110], &[1, 2, 9, 9]);
        assert_eq!(b[110], 0);
        // token_version, cooldown_ms, revoke_grace_ms, registered_at_ms, unlock_at_ms
        let tail: Vec<u64> = b[111..]
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(tail, [5, 6, 9, 7, 8]);
        assert_eq!(bcs::from_bytes::<Worker>(&b).unwrap(), w);
    }

    #[test]
    fn type_tags_parse_with_any_address_spelling() {
        let pkg = ObjectId::from_u64(0xabc);
        assert_eq!(
            struct_name_in("0xabc::worker_registry::JoinTokenSetEvent", &pkg),
            Some("JoinTokenSetEvent")
        );
        assert_eq!(
            struct_name_in(&struct_type(&pkg, "Worker"), &pkg),
            Some("Worker")
        );
        assert_eq!(struct_name_in("0xabd::worker_registry::Worker", &pkg), None);
        assert_eq!(struct_name_in("0xabc::other::Worker", &pkg), None);
    }

    #[test]
    fn entry_table_names_are_unique_and_findable() {
        for f in ENTRY_FUNCTIONS {
            assert_eq!(entry_function(f.name).unwrap().name, f.name);
        }
        assert_eq!(entry_function("set_join_token").unwrap().params.len(), 5);
    }
}
