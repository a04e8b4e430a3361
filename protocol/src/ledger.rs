//! Sui's ledger records as validators encode and hash them (feature `tx`): objects,
//! transaction effects (V2) and events, checkpoint contents and summaries, and the
//! `SenderSignedData` a node returns as a transaction's raw input.
//!
//! Every digest here is Sui's `default_hash`: Blake2b-256 over the type's name, `::`,
//! and its BCS bytes (`sui-types/src/crypto.rs`, `Signable` for serde types) — the
//! same rule as `TransactionData::` for transaction digests. The layouts follow
//! MystenLabs/sui `crates/sui-types/src/{object.rs, effects/effects_v2.rs,
//! effects/object_change.rs, execution_status.rs, event.rs, messages_checkpoint.rs,
//! transaction.rs}`; variant order is what gives each enum its BCS tag, so the enums
//! list Sui's variants in Sui's order up to the last one this project emits.
//!
//! The sandbox uses these to give its objects, effects and checkpoints the digests
//! Sui gives them (so the chain id is the digest of checkpoint 0, and the official
//! SDK parses the effects it serves); clients may use them to check what a node says.

use serde::{Deserialize, Serialize};

use crate::hash::blake2b256;
use crate::ids::{Address, ObjectId};
use crate::tx::{StructTag, TypeTag};

pub use crate::tx::ObjectDigest as Digest;

/// Sui's `default_hash`: Blake2b-256(`"<name>::"` || BCS(value)).
pub fn default_hash<T: Serialize + ?Sized>(name: &str, value: &T) -> [u8; 32] {
    let bytes = bcs::to_bytes(value).expect("ledger records always serialize");
    blake2b256(&[name.as_bytes(), b"::", &bytes])
}

// ---------------------------------------------------------------------------------------
// Objects (sui-types/src/object.rs)
// ---------------------------------------------------------------------------------------

/// Who owns an object, as Sui encodes it (`Owner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Owner {
    /// An account.
    AddressOwner(Address),
    /// Another object (dynamic fields).
    ObjectOwner(Address),
    /// Shared since a version.
    Shared {
        /// The version at which it became shared.
        initial_shared_version: u64,
    },
    /// Frozen.
    Immutable,
    /// Owned by an address, sequenced by consensus.
    ConsensusAddressOwner {
        /// Version at which it became consensus-owned.
        start_version: u64,
        /// The owner.
        owner: Address,
    },
}

/// `MoveObjectType`: the compact forms Sui uses for coins, else the struct tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MoveObjectType {
    /// Any other struct.
    Other(StructTag),
    /// `0x2::coin::Coin<0x2::sui::SUI>`.
    GasCoin,
    /// `0x3::staking_pool::StakedSui`.
    StakedSui,
    /// `0x2::coin::Coin<T>` for another `T`.
    Coin(TypeTag),
}

/// `MoveObject`: type, transferability, version and the struct's BCS contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveObject {
    /// Its type.
    pub type_: MoveObjectType,
    /// Whether the type has `store` (public transfer).
    pub has_public_transfer: bool,
    /// Version.
    pub version: u64,
    /// BCS of the Move struct (the UID first).
    pub contents: Vec<u8>,
}

impl MoveObject {
    /// `MoveObject::object_size_for_gas_metering`: contents, the BCS type tag, the
    /// `has_public_transfer` byte and the 8-byte version.
    pub fn size_for_gas_metering(&self) -> u64 {
        let type_tag = bcs::serialized_size(&self.type_).expect("type tags serialize");
        (self.contents.len() + type_tag + 1 + 8) as u64
    }
}

/// `Data`: only Move objects are modelled (packages are not served as objects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Data {
    /// A Move object.
    Move(MoveObject),
}

/// `Object` (its BCS is `ObjectInner`): what an object digest is taken over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// The data.
    pub data: Data,
    /// The owner.
    pub owner: Owner,
    /// The transaction that wrote this version.
    pub previous_transaction: Digest,
    /// The storage rebate paid back when this version is replaced or deleted.
    pub storage_rebate: u64,
}

/// Owner (40 bytes), previous transaction (32) and storage rebate (8) counted for every
/// object in `Object::object_size_for_gas_metering`.
pub const OBJECT_METADATA_SIZE_FOR_GAS: u64 = 40 + 32 + 8;

impl Object {
    /// `Object::digest`: `default_hash` with the `Object::` prefix.
    pub fn digest(&self) -> Digest {
        Digest(default_hash("Object", self))
    }

    /// `Object::object_size_for_gas_metering`: the metadata constant plus the Move
    /// object's size.
    pub fn size_for_gas_metering(&self) -> u64 {
        let Data::Move(m) = &self.data;
        OBJECT_METADATA_SIZE_FOR_GAS + m.size_for_gas_metering()
    }

    /// The Move object.
    pub fn move_object(&self) -> &MoveObject {
        let Data::Move(m) = &self.data;
        m
    }

    /// BCS bytes (GraphQL `objectBcs`).
    pub fn to_bcs(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("objects serialize")
    }
}

/// The digest Sui writes in effects for a deleted object (`OBJECT_DIGEST_DELETED`).
pub const OBJECT_DIGEST_DELETED: Digest = Digest([99; 32]);
/// The digest Sui writes in effects for a wrapped object (`OBJECT_DIGEST_WRAPPED`).
pub const OBJECT_DIGEST_WRAPPED: Digest = Digest([88; 32]);

// ---------------------------------------------------------------------------------------
// Execution status (sui-types/src/execution_status.rs)
// ---------------------------------------------------------------------------------------

/// `move_core_types::language_storage::ModuleId`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleId {
    /// The package.
    pub address: Address,
    /// The module name.
    pub name: String,
}

impl std::fmt::Debug for ModuleId {
    /// Move's Debug form: the address as 64 hex digits without `0x`, the name as
    /// `Identifier("…")` (what `MoveAbort(…)` texts carry).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ModuleId {{ address: {}, name: Identifier({:?}) }}",
            ::hex::encode(self.address.as_bytes()),
            self.name
        )
    }
}

impl std::fmt::Display for ModuleId {
    /// `0x<64 hex>::<name>` (`to_canonical_display(with_prefix = true)`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}", self.address, self.name)
    }
}

/// Where a Move abort happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveLocation {
    /// The module.
    pub module: ModuleId,
    /// Function definition index.
    pub function: u16,
    /// Bytecode offset.
    pub instruction: u16,
    /// Function name.
    pub function_name: Option<String>,
}

/// Why a command argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum CommandArgumentError {
    TypeMismatch,
    InvalidBCSBytes,
    InvalidUsageOfPureArg,
    InvalidArgumentToPrivateEntryFunction,
    IndexOutOfBounds { idx: u16 },
    SecondaryIndexOutOfBounds { result_idx: u16, secondary_idx: u16 },
    InvalidResultArity { result_idx: u16 },
    InvalidGasCoinUsage,
    InvalidValueUsage,
    InvalidObjectByValue,
    InvalidObjectByMutRef,
    SharedObjectOperationNotAllowed,
    InvalidArgumentArity,
    InvalidTransferObject,
}

impl std::fmt::Display for CommandArgumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use CommandArgumentError as E;
        match self {
            E::TypeMismatch => write!(f, "The type of the value does not match the expected type"),
            E::InvalidBCSBytes => write!(
                f,
                "The argument cannot be deserialized into a value of the specified type"
            ),
            E::InvalidUsageOfPureArg => {
                write!(f, "The argument cannot be instantiated from raw bytes")
            }
            E::InvalidArgumentToPrivateEntryFunction => write!(
                f,
                "Invalid argument to private entry function. These functions cannot take arguments from other Move functions"
            ),
            E::IndexOutOfBounds { idx } => {
                write!(f, "Out of bounds access to input or result vector {idx}")
            }
            E::SecondaryIndexOutOfBounds {
                result_idx,
                secondary_idx,
            } => write!(
                f,
                "Out of bounds secondary access to result vector {result_idx} at secondary index {secondary_idx}"
            ),
            E::InvalidResultArity { result_idx } => write!(
                f,
                "Invalid usage of result {result_idx}, expected a single result but found either no return values or multiple."
            ),
            E::InvalidGasCoinUsage => write!(
                f,
                "Invalid taking of the Gas coin. It can only be used by-value with TransferObjects"
            ),
            E::InvalidValueUsage => write!(
                f,
                "Invalid usage of value. Mutably borrowed values require unique usage. Immutably borrowed values cannot be taken or borrowed mutably. Taken values cannot be used again."
            ),
            E::InvalidObjectByValue => {
                write!(f, "Immutable and shared objects cannot be passed by-value.")
            }
            E::InvalidObjectByMutRef => write!(
                f,
                "Immutable objects cannot be passed by mutable reference, &mut."
            ),
            // texts not checked against a Sui source: the variant's name
            E::SharedObjectOperationNotAllowed
            | E::InvalidArgumentArity
            | E::InvalidTransferObject => {
                write!(f, "{self:?}")
            }
        }
    }
}

/// `TypeArgumentError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum TypeArgumentError {
    TypeNotFound,
    ConstraintNotSatisfied,
}

/// `PackageUpgradeError` (never produced here; present for the tag order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum PackageUpgradeError {
    UnableToFetchPackage {
        package_id: ObjectId,
    },
    NotAPackage {
        object_id: ObjectId,
    },
    IncompatibleUpgrade,
    DigestDoesNotMatch {
        digest: Vec<u8>,
    },
    UnknownUpgradePolicy {
        policy: u8,
    },
    PackageIDDoesNotMatch {
        package_id: ObjectId,
        ticket_id: ObjectId,
    },
}

/// `ExecutionFailureStatus`, in Sui's order up to `InputObjectDeleted`. Its `Debug` is
/// the text JSON-RPC puts in `effects.status.error`; its `Display` is Sui's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ExecutionFailureStatus {
    InsufficientGas,
    InvalidGasObject,
    InvariantViolation,
    FeatureNotYetSupported,
    MoveObjectTooBig {
        object_size: u64,
        max_object_size: u64,
    },
    MovePackageTooBig {
        object_size: u64,
        max_object_size: u64,
    },
    CircularObjectOwnership {
        object: ObjectId,
    },
    InsufficientCoinBalance,
    CoinBalanceOverflow,
    PublishErrorNonZeroAddress,
    SuiMoveVerificationError,
    MovePrimitiveRuntimeError(Option<MoveLocation>),
    MoveAbort(MoveLocation, u64),
    VMVerificationOrDeserializationError,
    VMInvariantViolation,
    FunctionNotFound,
    ArityMismatch,
    TypeArityMismatch,
    NonEntryFunctionInvoked,
    CommandArgumentError {
        arg_idx: u16,
        kind: CommandArgumentError,
    },
    TypeArgumentError {
        argument_idx: u16,
        kind: TypeArgumentError,
    },
    UnusedValueWithoutDrop {
        result_idx: u16,
        secondary_idx: u16,
    },
    InvalidPublicFunctionReturnType {
        idx: u16,
    },
    InvalidTransferObject,
    EffectsTooLarge {
        current_size: u64,
        max_size: u64,
    },
    PublishUpgradeMissingDependency,
    PublishUpgradeDependencyDowngrade,
    PackageUpgradeError {
        upgrade_error: PackageUpgradeError,
    },
    WrittenObjectsTooLarge {
        current_size: u64,
        max_size: u64,
    },
    CertificateDenied,
    SuiMoveVerificationTimedout,
    SharedObjectOperationNotAllowed,
    InputObjectDeleted,
}

impl std::fmt::Display for MoveLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.function_name {
            Some(name) => write!(
                f,
                "{}::{name} (function index {}) at offset {}",
                self.module, self.function, self.instruction
            ),
            None => write!(
                f,
                "{} in function definition {} at offset {}",
                self.module, self.function, self.instruction
            ),
        }
    }
}

impl std::fmt::Display for ExecutionFailureStatus {
    /// Sui's `#[error]` texts for the variants this project can produce; the others
    /// fall back to their Debug form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ExecutionFailureStatus as E;
        match self {
            E::InsufficientGas => write!(f, "Insufficient Gas."),
            E::InvalidGasObject => write!(
                f,
                "Invalid Gas Object. Possibly not address-owned or possibly not a SUI coin."
            ),
            E::InvariantViolation => write!(f, "INVARIANT VIOLATION."),
            E::InsufficientCoinBalance => write!(f, "Insufficient coin balance for operation."),
            E::CoinBalanceOverflow => write!(f, "The coin balance overflows u64"),
            E::MovePrimitiveRuntimeError(loc) => match loc {
                Some(l) => write!(
                    f,
                    "Move Primitive Runtime Error. Location: {l}. Arithmetic error, stack overflow, max value depth, etc."
                ),
                None => write!(
                    f,
                    "Move Primitive Runtime Error. Location: UNKNOWN. Arithmetic error, stack overflow, max value depth, etc."
                ),
            },
            E::MoveAbort(loc, code) => {
                write!(f, "Move Runtime Abort. Location: {loc}, Abort Code: {code}")
            }
            E::FunctionNotFound => write!(f, "Function Not Found."),
            E::ArityMismatch => write!(
                f,
                "Arity mismatch for Move function. The number of arguments does not match the number of parameters"
            ),
            E::TypeArityMismatch => write!(
                f,
                "Type arity mismatch for Move function. Mismatch between the number of actual versus expected type arguments."
            ),
            E::NonEntryFunctionInvoked => write!(
                f,
                "Non Entry Function Invoked. Move Call must start with an entry function"
            ),
            E::CommandArgumentError { arg_idx, kind } => {
                write!(f, "Invalid command argument at {arg_idx}. {kind}")
            }
            E::UnusedValueWithoutDrop {
                result_idx,
                secondary_idx,
            } => write!(
                f,
                "Unused result without the drop ability. Command result {result_idx}, return value {secondary_idx}"
            ),
            E::InvalidTransferObject => write!(
                f,
                "Invalid Transfer Object, object does not have public transfer."
            ),
            E::InputObjectDeleted => write!(
                f,
                "Certificate cannot be executed due to a dependency on a deleted shared object or an object that was transferred out of consensus"
            ),
            other => write!(f, "{other:?}"),
        }
    }
}

/// `ExecutionStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutionStatus {
    /// Applied.
    Success,
    /// Failed; only gas (and the version bumps of mutable inputs) applied.
    Failure {
        /// Why.
        error: ExecutionFailureStatus,
        /// In which command, when the failure belongs to one.
        command: Option<u64>,
    },
}

impl ExecutionStatus {
    /// JSON-RPC's `effects.status.error` text: the Debug form, then ` in command N`.
    pub fn jsonrpc_error(&self) -> Option<String> {
        match self {
            ExecutionStatus::Success => None,
            ExecutionStatus::Failure { error, command } => Some(match command {
                Some(c) => format!("{error:?} in command {c}"),
                None => format!("{error:?}"),
            }),
        }
    }

    /// GraphQL's `executionError.message` (sui-indexer-alt-graphql
    /// `api/types/execution_error.rs`): `Error in <n>th command, …` with the ordinal of
    /// the command counted from 1; for a Move abort without clever-error metadata
    /// `from '<module>::<function>' (instruction <i>), abort code: <code>`.
    pub fn graphql_message(&self) -> Option<String> {
        let ExecutionStatus::Failure { error, command } = self else {
            return None;
        };
        let Some(command) = command else {
            return Some(error.to_string());
        };
        let n = command + 1;
        let suffix = match (n % 10, n % 100) {
            (1, m) if m != 11 => "st",
            (2, m) if m != 12 => "nd",
            (3, m) if m != 13 => "rd",
            _ => "th",
        };
        let mut msg = format!("Error in {n}{suffix} command, ");
        match error {
            ExecutionFailureStatus::MoveAbort(loc, code) => {
                msg.push_str(&format!("from '{}", loc.module));
                match &loc.function_name {
                    Some(name) => msg.push_str(&format!("::{name}'")),
                    None => msg.push('\''),
                }
                msg.push_str(&format!(
                    " (instruction {}), abort code: {code}",
                    loc.instruction
                ));
            }
            other => msg.push_str(&other.to_string()),
        }
        Some(msg)
    }
}

/// `GasCostSummary` (MIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GasCostSummary {
    /// Computation, bucketed, times the gas price.
    pub computation_cost: u64,
    /// Storage of every written object.
    pub storage_cost: u64,
    /// What the sender gets back of the storage of replaced and deleted versions.
    pub storage_rebate: u64,
    /// The part of that storage the network keeps.
    pub non_refundable_storage_fee: u64,
}

impl GasCostSummary {
    /// What the gas coin pays: computation + storage − rebate (may be negative).
    pub fn net_gas_usage(&self) -> i128 {
        self.computation_cost as i128 + self.storage_cost as i128 - self.storage_rebate as i128
    }
}

// ---------------------------------------------------------------------------------------
// Effects (sui-types/src/effects/effects_v2.rs, object_change.rs)
// ---------------------------------------------------------------------------------------

/// The state of a changed object before the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectIn {
    /// Created or unwrapped.
    NotExist,
    /// ((version, digest), owner) before.
    Exist(((u64, Digest), Owner)),
}

/// The state of a changed object after the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOut {
    /// Deleted or wrapped.
    NotExist,
    /// Written at the Lamport version: (digest, owner).
    ObjectWrite((Digest, Owner)),
    /// A package write: (version, digest).
    PackageWrite((u64, Digest)),
}

/// What happened to the object id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdOperation {
    /// The id existed before and after.
    None,
    /// Created by this transaction.
    Created,
    /// Deleted by this transaction.
    Deleted,
}

/// One entry of `changed_objects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectsObjectChange {
    /// Before.
    pub input_state: ObjectIn,
    /// After.
    pub output_state: ObjectOut,
    /// Id operation.
    pub id_operation: IdOperation,
}

/// A shared input the transaction did not change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnchangedSharedKind {
    /// Read at (version, digest).
    ReadOnlyRoot((u64, Digest)),
    /// Deleted before the transaction, taken mutably: the version it was deleted at.
    MutateDeleted(u64),
    /// Deleted before the transaction, taken immutably.
    ReadDeleted(u64),
    /// Cancelled (congestion or randomness).
    Cancelled(u64),
    /// A per-epoch config object.
    PerEpochConfig,
}

/// `TransactionEffectsV2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionEffectsV2 {
    /// How it ended.
    pub status: ExecutionStatus,
    /// The epoch it ran in.
    pub executed_epoch: u64,
    /// Gas.
    pub gas_used: GasCostSummary,
    /// The transaction.
    pub transaction_digest: Digest,
    /// Index of the gas coin in `changed_objects` (none for system transactions).
    pub gas_object_index: Option<u32>,
    /// Digest of the emitted events, if any.
    pub events_digest: Option<Digest>,
    /// Transactions that wrote this transaction's inputs.
    pub dependencies: Vec<Digest>,
    /// Version of every written object.
    pub lamport_version: u64,
    /// Changed objects, ordered by id.
    pub changed_objects: Vec<(ObjectId, EffectsObjectChange)>,
    /// Shared inputs not changed.
    pub unchanged_shared_objects: Vec<(ObjectId, UnchangedSharedKind)>,
    /// Auxiliary data digest (not produced).
    pub aux_data_digest: Option<Digest>,
}

impl TransactionEffectsV2 {
    /// BCS of `TransactionEffects::V2(self)` (variant tag 1): JSON-RPC `rawEffects`,
    /// GraphQL `effectsBcs`.
    pub fn to_bcs(&self) -> Vec<u8> {
        let mut out = vec![1u8];
        out.extend(bcs::to_bytes(self).expect("effects serialize"));
        out
    }

    /// `TransactionEffectsDigest`: `default_hash` of the `TransactionEffects` enum.
    pub fn digest(&self) -> Digest {
        Digest(blake2b256(&[b"TransactionEffects::", &self.to_bcs()]))
    }
}

// ---------------------------------------------------------------------------------------
// Events (sui-types/src/event.rs, effects/mod.rs)
// ---------------------------------------------------------------------------------------

/// One emitted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Package of the called function.
    pub package_id: ObjectId,
    /// Module of the called function.
    pub transaction_module: String,
    /// The sender.
    pub sender: Address,
    /// The event's struct type.
    pub type_: StructTag,
    /// BCS of the event struct.
    pub contents: Vec<u8>,
}

impl Event {
    /// BCS (GraphQL `eventBcs`).
    pub fn to_bcs(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("events serialize")
    }
}

/// `TransactionEvents`: what `events_digest` is taken over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionEvents {
    /// The events in emission order.
    pub data: Vec<Event>,
}

impl TransactionEvents {
    /// `TransactionEventsDigest`.
    pub fn digest(&self) -> Digest {
        Digest(default_hash("TransactionEvents", self))
    }
}

// ---------------------------------------------------------------------------------------
// Checkpoints (sui-types/src/messages_checkpoint.rs)
// ---------------------------------------------------------------------------------------

/// A transaction and its effects, as a checkpoint lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionDigests {
    /// Transaction digest.
    pub transaction: Digest,
    /// Effects digest.
    pub effects: Digest,
}

/// `CheckpointContentsV1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointContentsV1 {
    /// The transactions in execution order.
    pub transactions: Vec<ExecutionDigests>,
    /// Each transaction's user signatures (serialized `GenericSignature`s; empty for
    /// system transactions).
    pub user_signatures: Vec<Vec<Vec<u8>>>,
}

/// `CheckpointContents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointContents {
    /// The only version.
    V1(CheckpointContentsV1),
}

impl CheckpointContents {
    /// `CheckpointContentsDigest`.
    pub fn digest(&self) -> Digest {
        Digest(default_hash("CheckpointContents", self))
    }
}

/// `CheckpointCommitment` (none are produced; present for the layout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointCommitment {
    /// `ECMHLiveObjectSetDigest`.
    EcmhLiveObjectSetDigest(Digest),
    /// `CheckpointArtifactsDigest`.
    CheckpointArtifactsDigest(Digest),
}

/// `CheckpointSummary`: what a checkpoint digest — and, for checkpoint 0, the chain
/// id — is taken over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointSummary {
    /// Epoch.
    pub epoch: u64,
    /// Sequence number.
    pub sequence_number: u64,
    /// Transactions since genesis, including this checkpoint's.
    pub network_total_transactions: u64,
    /// Digest of the contents.
    pub content_digest: Digest,
    /// Digest of the previous checkpoint.
    pub previous_digest: Option<Digest>,
    /// Gas of the epoch so far.
    pub epoch_rolling_gas_cost_summary: GasCostSummary,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Commitments (none).
    pub checkpoint_commitments: Vec<CheckpointCommitment>,
    /// End-of-epoch data: always absent (the sandbox never changes epoch), so it is
    /// encoded as an empty option.
    pub end_of_epoch_data: Option<()>,
    /// BCS of `CheckpointVersionSpecificData`.
    pub version_specific_data: Vec<u8>,
}

impl CheckpointSummary {
    /// `CheckpointDigest`: `default_hash` with the `CheckpointSummary::` prefix.
    pub fn digest(&self) -> Digest {
        Digest(default_hash("CheckpointSummary", self))
    }
}

/// `bcs(CheckpointVersionSpecificData::V1 { randomness_rounds: [] })`, what current
/// protocol versions put in `version_specific_data`.
pub const VERSION_SPECIFIC_DATA_V1_EMPTY: [u8; 2] = [0, 0];

// ---------------------------------------------------------------------------------------
// Signed transactions (sui-types/src/transaction.rs)
// ---------------------------------------------------------------------------------------

/// BCS of `SenderSignedData` for one transaction: `[IntentMessage { intent: [0,0,0],
/// value: TransactionData }, tx_signatures]` — JSON-RPC `rawTransaction`.
pub fn sender_signed_data(tx_bytes: &[u8], signatures: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(&crate::sui::TRANSACTION_INTENT);
    out.extend_from_slice(tx_bytes);
    out.extend(bcs::to_bytes(signatures).expect("signatures serialize"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_hash_prefixes_the_type_name() {
        let v = 7u64;
        assert_eq!(
            default_hash("Thing", &v),
            blake2b256(&[b"Thing::", &7u64.to_le_bytes()])
        );
    }

    #[test]
    fn enum_tags_follow_sui_order() {
        let tag = |e: &ExecutionFailureStatus| bcs::to_bytes(e).unwrap()[0];
        assert_eq!(tag(&ExecutionFailureStatus::InsufficientGas), 0);
        assert_eq!(tag(&ExecutionFailureStatus::InsufficientCoinBalance), 7);
        assert_eq!(tag(&ExecutionFailureStatus::FunctionNotFound), 15);
        assert_eq!(tag(&ExecutionFailureStatus::InputObjectDeleted), 32);
        let shared = bcs::to_bytes(&Owner::Shared {
            initial_shared_version: 5,
        })
        .unwrap();
        assert_eq!(shared, [&[2u8][..], &5u64.to_le_bytes()].concat());
        assert_eq!(bcs::to_bytes(&MoveObjectType::GasCoin).unwrap(), [1]);
        assert_eq!(
            bcs::to_bytes(&UnchangedSharedKind::MutateDeleted(9)).unwrap()[0],
            1
        );
    }

    #[test]
    fn status_texts_are_suis() {
        let abort = ExecutionStatus::Failure {
            error: ExecutionFailureStatus::MoveAbort(
                MoveLocation {
                    module: ModuleId {
                        address: Address([0xab; 32]),
                        name: "m".into(),
                    },
                    function: 5,
                    instruction: 83,
                    function_name: Some("f".into()),
                },
                7,
            ),
            command: Some(1),
        };
        assert_eq!(
            abort.jsonrpc_error().unwrap(),
            format!(
                "MoveAbort(MoveLocation {{ module: ModuleId {{ address: {}, name: Identifier(\"m\") }}, function: 5, instruction: 83, function_name: Some(\"f\") }}, 7) in command 1",
                "ab".repeat(32)
            )
        );
        assert_eq!(
            abort.graphql_message().unwrap(),
            format!(
                "Error in 2nd command, from '0x{}::m::f' (instruction 83), abort code: 7",
                "ab".repeat(32)
            )
        );
        let coin = ExecutionStatus::Failure {
            error: ExecutionFailureStatus::InsufficientCoinBalance,
            command: Some(0),
        };
        assert_eq!(
            coin.jsonrpc_error().unwrap(),
            "InsufficientCoinBalance in command 0"
        );
        assert_eq!(
            coin.graphql_message().unwrap(),
            "Error in 1st command, Insufficient coin balance for operation."
        );
        let arg = ExecutionFailureStatus::CommandArgumentError {
            arg_idx: 2,
            kind: CommandArgumentError::IndexOutOfBounds { idx: 9 },
        };
        assert_eq!(
            format!("{arg:?}"),
            "CommandArgumentError { arg_idx: 2, kind: IndexOutOfBounds { idx: 9 } }"
        );
        for (n, ord) in [
            (0, "1st"),
            (10, "11th"),
            (11, "12th"),
            (21, "22nd"),
            (102, "103rd"),
        ] {
            let s = ExecutionStatus::Failure {
                error: ExecutionFailureStatus::InsufficientGas,
                command: Some(n),
            };
            assert!(
                s.graphql_message()
                    .unwrap()
                    .starts_with(&format!("Error in {ord} command"))
            );
        }
    }

    #[test]
    fn sender_signed_data_wraps_intent_and_signatures() {
        let b = sender_signed_data(&[9, 9], &[vec![1, 2, 3]]);
        assert_eq!(b, [1, 0, 0, 0, 9, 9, 1, 3, 1, 2, 3]);
    }
}
