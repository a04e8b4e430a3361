//! The chain state: objects with versions, digests and owners; events with cursors;
//! executed transactions; checkpoints.

use std::collections::{BTreeMap, HashMap};

use daas_protocol::hash::blake2b256;
use daas_protocol::onchain::{self, Cap, Coin, Field, RegistryEvent, Worker, WorkerRegistry};
use daas_protocol::sui::TransactionDigest;
use daas_protocol::tx::{ObjectDigest, ObjectRef};
use daas_protocol::{Address, ObjectId};

use crate::value::MoveValue;

/// Who owns an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// An account.
    Address(Address),
    /// Another object (the table's dynamic fields).
    Object(ObjectId),
    /// Shared since this version.
    Shared(u64),
    /// Frozen.
    Immutable,
}

/// What an object holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// `worker_registry::WorkerRegistry`.
    Registry(WorkerRegistry),
    /// `worker_registry::Worker`.
    Worker(Worker),
    /// `worker_registry::AdminCap`.
    AdminCap(Cap),
    /// `worker_registry::SlashCap`.
    SlashCap(Cap),
    /// `worker_registry::MasterCap`.
    MasterCap(Cap),
    /// `0x2::coin::Coin<0x2::sui::SUI>`.
    Coin(Coin),
    /// `0x2::dynamic_field::Field<String, ID>` (a Table entry).
    Field(Field<String, ObjectId>),
    /// `0x2::clock::Clock`.
    Clock {
        /// Its UID (0x6).
        id: ObjectId,
        /// Milliseconds.
        timestamp_ms: u64,
    },
}

/// The short type Sui prints for a Coin<SUI>.
pub const COIN_TYPE: &str = "0x2::coin::Coin<0x2::sui::SUI>";
/// Type of a Table<String, ID> entry.
pub const FIELD_TYPE: &str = "0x2::dynamic_field::Field<0x1::string::String, 0x2::object::ID>";
const TABLE_TYPE: &str = "0x2::table::Table<0x1::string::String, 0x2::object::ID>";
const VEC_SET_TYPE: &str = "0x2::vec_set::VecSet<0x2::object::ID>";

fn addr(a: &ObjectId) -> MoveValue {
    MoveValue::Address(a.0)
}

fn id_set(s: &onchain::VecSet<ObjectId>) -> MoveValue {
    MoveValue::Struct {
        type_: VEC_SET_TYPE.into(),
        fields: vec![(
            "contents",
            MoveValue::Vector(s.contents.iter().map(addr).collect()),
        )],
    }
}

impl Contents {
    /// The full Move type.
    pub fn type_(&self, package: &ObjectId) -> String {
        match self {
            Contents::Registry(_) => onchain::struct_type(package, "WorkerRegistry"),
            Contents::Worker(_) => onchain::struct_type(package, "Worker"),
            Contents::AdminCap(_) => onchain::struct_type(package, "AdminCap"),
            Contents::SlashCap(_) => onchain::struct_type(package, "SlashCap"),
            Contents::MasterCap(_) => onchain::struct_type(package, "MasterCap"),
            Contents::Coin(_) => COIN_TYPE.into(),
            Contents::Field(_) => FIELD_TYPE.into(),
            Contents::Clock { .. } => "0x2::clock::Clock".into(),
        }
    }

    /// Whether the type has `store` (JSON-RPC `hasPublicTransfer`).
    pub fn has_public_transfer(&self) -> bool {
        matches!(
            self,
            Contents::Coin(_) | Contents::AdminCap(_) | Contents::SlashCap(_)
        )
    }

    /// As a Move value.
    pub fn value(&self, package: &ObjectId) -> MoveValue {
        let type_ = self.type_(package);
        let fields = match self {
            Contents::Registry(r) => vec![
                ("id", MoveValue::Uid(r.id.0)),
                (
                    "workers",
                    MoveValue::Struct {
                        type_: TABLE_TYPE.into(),
                        fields: vec![
                            ("id", MoveValue::Uid(r.workers.id.0)),
                            ("size", MoveValue::U64(r.workers.size)),
                        ],
                    },
                ),
                ("master_caps", id_set(&r.master_caps)),
                ("slash_caps", id_set(&r.slash_caps)),
                (
                    "envelope_key_cert",
                    MoveValue::Bytes(r.envelope_key_cert.clone()),
                ),
                ("min_stake", MoveValue::U64(r.min_stake)),
                ("registration_fee", MoveValue::U64(r.registration_fee)),
                ("cooldown_ms", MoveValue::U64(r.cooldown_ms)),
                ("revoke_grace_ms", MoveValue::U64(r.revoke_grace_ms)),
                ("max_envelope_ttl_ms", MoveValue::U64(r.max_envelope_ttl_ms)),
                ("treasury", MoveValue::Balance(r.treasury.value)),
                ("total_stake", MoveValue::U64(r.total_stake)),
                ("total_workers", MoveValue::U64(r.total_workers)),
            ],
            Contents::Worker(w) => vec![
                ("id", MoveValue::Uid(w.id.0)),
                ("registry_id", addr(&w.registry_id)),
                ("node_id", MoveValue::String(w.node_id.clone())),
                ("owner", MoveValue::Address(w.owner.0)),
                ("stake", MoveValue::Balance(w.stake.value)),
                ("status", MoveValue::U8(w.status)),
                ("seal_token", MoveValue::Bytes(w.seal_token.clone())),
                ("join_envelope", MoveValue::Bytes(w.join_envelope.clone())),
                ("token_version", MoveValue::U64(w.token_version)),
                ("cooldown_ms", MoveValue::U64(w.cooldown_ms)),
                ("revoke_grace_ms", MoveValue::U64(w.revoke_grace_ms)),
                ("registered_at_ms", MoveValue::U64(w.registered_at_ms)),
                ("unlock_at_ms", MoveValue::U64(w.unlock_at_ms)),
            ],
            Contents::AdminCap(c) | Contents::SlashCap(c) | Contents::MasterCap(c) => {
                vec![
                    ("id", MoveValue::Uid(c.id.0)),
                    ("registry_id", addr(&c.registry_id)),
                ]
            }
            Contents::Coin(c) => vec![
                ("id", MoveValue::Uid(c.id.0)),
                ("balance", MoveValue::Balance(c.balance.value)),
            ],
            Contents::Field(f) => vec![
                ("id", MoveValue::Uid(f.id.0)),
                ("name", MoveValue::String(f.name.clone())),
                ("value", addr(&f.value)),
            ],
            Contents::Clock { id, timestamp_ms } => {
                vec![
                    ("id", MoveValue::Uid(id.0)),
                    ("timestamp_ms", MoveValue::U64(*timestamp_ms)),
                ]
            }
        };
        MoveValue::Struct { type_, fields }
    }
}

/// The Move value of an event.
pub fn event_value(e: &RegistryEvent, package: &ObjectId) -> MoveValue {
    use RegistryEvent as E;
    let s = |v: &str| MoveValue::String(v.to_string());
    let fields = match e {
        E::WorkerRegistered(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("owner", MoveValue::Address(e.owner.0)),
            ("stake_amount", MoveValue::U64(e.stake_amount)),
            ("seal_token", MoveValue::Bytes(e.seal_token.clone())),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::StakeDeposited(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("owner", MoveValue::Address(e.owner.0)),
            ("amount", MoveValue::U64(e.amount)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::JoinTokenSet(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("token_version", MoveValue::U64(e.token_version)),
            ("expires_at_ms", MoveValue::U64(e.expires_at_ms)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::MasterActionSkipped(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("action", MoveValue::U8(e.action)),
            ("status", MoveValue::U8(e.status)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::WorkerStatusChanged(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("old_status", MoveValue::U8(e.old_status)),
            ("new_status", MoveValue::U8(e.new_status)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::WorkerSlashed(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("amount", MoveValue::U64(e.amount)),
            ("reason", s(&e.reason)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::StakeWithdrawn(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("owner", MoveValue::Address(e.owner.0)),
            ("amount", MoveValue::U64(e.amount)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::SealTokenRotated(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("worker_id", addr(&e.worker_id)),
            ("node_id", s(&e.node_id)),
            ("seal_token", MoveValue::Bytes(e.seal_token.clone())),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::EnvelopeKeyCertSet(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("serial", MoveValue::U64(e.serial)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        E::MasterCapChanged(e) => vec![
            ("registry_id", addr(&e.registry_id)),
            ("cap_id", addr(&e.cap_id)),
            ("valid", MoveValue::Bool(e.valid)),
            ("timestamp_ms", MoveValue::U64(e.timestamp_ms)),
        ],
        _ => vec![],
    };
    MoveValue::Struct {
        type_: onchain::struct_type(package, e.name()),
        fields,
    }
}

/// An object at its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    /// Id.
    pub id: ObjectId,
    /// Version.
    pub version: u64,
    /// Digest of this version.
    pub digest: [u8; 32],
    /// Owner.
    pub owner: Owner,
    /// Contents.
    pub contents: Contents,
    /// The transaction that wrote this version.
    pub previous_tx: TransactionDigest,
}

impl Obj {
    /// A new version of an object (digest over id, version and contents).
    pub fn new(
        id: ObjectId,
        version: u64,
        owner: Owner,
        contents: Contents,
        tx: TransactionDigest,
        package: &ObjectId,
    ) -> Self {
        let bcs = contents.value(package).to_bcs();
        let digest = blake2b256(&[
            b"daas-sandbox/object",
            id.as_bytes(),
            &version.to_le_bytes(),
            &bcs,
        ]);
        Obj {
            id,
            version,
            digest,
            owner,
            contents,
            previous_tx: tx,
        }
    }

    /// `(id, version, digest)`.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            id: self.id,
            version: self.version,
            digest: ObjectDigest(self.digest),
        }
    }

    /// Bytes of storage it occupies (for gas).
    pub fn storage_bytes(&self, package: &ObjectId) -> u64 {
        self.contents.value(package).to_bcs().len() as u64 + 100
    }
}

/// An emitted event with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Emitting transaction.
    pub tx_digest: TransactionDigest,
    /// Index within the transaction.
    pub event_seq: u64,
    /// Global index (the GraphQL cursor and ordering).
    pub global_seq: u64,
    /// Checkpoint.
    pub checkpoint: u64,
    /// Timestamp of the transaction.
    pub timestamp_ms: u64,
    /// Sender of the transaction.
    pub sender: Address,
    /// Module of the called function (always the registry module here).
    pub module: String,
    /// The event.
    pub event: RegistryEvent,
}

/// A changed object in effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created.
    Created,
    /// Mutated.
    Mutated,
    /// Deleted.
    Deleted,
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Applied.
    Success,
    /// Aborted in `function` of the registry with `code`, at command `command`.
    MoveAbort {
        /// Abort code.
        code: u64,
        /// Function name.
        function: String,
        /// Function index in the module (for the Debug-style message).
        function_index: u16,
        /// Command index.
        command: usize,
    },
    /// Another failure, with Sui's error text.
    Failure(String),
}

/// Gas charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gas {
    /// Computation (MIST).
    pub computation: u64,
    /// Storage (MIST).
    pub storage: u64,
    /// Rebate (MIST).
    pub rebate: u64,
    /// Non-refundable part of the rebate.
    pub non_refundable: u64,
}

/// An executed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// Digest.
    pub digest: TransactionDigest,
    /// BCS TransactionData.
    pub tx_bytes: Vec<u8>,
    /// Signatures (Base64).
    pub signatures: Vec<String>,
    /// Sender.
    pub sender: Address,
    /// Outcome.
    pub status: Status,
    /// Gas.
    pub gas: Gas,
    /// Lamport version given to written objects.
    pub lamport_version: u64,
    /// Changed objects with their new reference (deleted: the last one).
    pub changes: Vec<(Change, ObjectRef, Owner)>,
    /// The gas object after the transaction.
    pub gas_object: (ObjectRef, Owner),
    /// Shared objects read or written, with the version used.
    pub shared: Vec<ObjectRef>,
    /// Events (global sequence numbers).
    pub events: std::ops::Range<usize>,
    /// Timestamp.
    pub timestamp_ms: u64,
    /// Checkpoint.
    pub checkpoint: u64,
}

/// All state.
#[derive(Debug, Default, Clone)]
pub struct Store {
    /// Live objects.
    pub objects: BTreeMap<ObjectId, Obj>,
    /// Deleted objects: last version and digest.
    pub deleted: HashMap<ObjectId, ObjectRef>,
    /// Events in order.
    pub events: Vec<StoredEvent>,
    /// Executed transactions.
    pub txs: HashMap<TransactionDigest, TxRecord>,
    /// Latest checkpoint.
    pub checkpoint: u64,
    /// Timestamp of each checkpoint.
    pub checkpoint_times: Vec<u64>,
}

impl Store {
    /// Coins owned by `owner`, by id.
    pub fn coins_of(&self, owner: &Address) -> Vec<&Obj> {
        self.objects
            .values()
            .filter(|o| {
                o.owner == Owner::Address(*owner) && matches!(o.contents, Contents::Coin(_))
            })
            .collect()
    }

    /// Dynamic fields (Table entries) under `parent`, by id order.
    pub fn fields_of(&self, parent: &ObjectId) -> Vec<&Obj> {
        self.objects
            .values()
            .filter(|o| o.owner == Owner::Object(*parent))
            .collect()
    }
}
