//! The chain state: objects with versions, digests, owners and storage rebates, and
//! every version they ever had (so reads can be served as of an older checkpoint);
//! events with cursors; executed transactions with their Sui effects; checkpoints.

use std::collections::{BTreeMap, HashMap};

use daas_protocol::ledger::{
    self, Digest, EffectsObjectChange, ExecutionStatus, GasCostSummary, IdOperation,
    MoveObjectType, ObjectIn, ObjectOut, TransactionEffectsV2, UnchangedSharedKind,
};
use daas_protocol::onchain::{self, Cap, Coin, Field, RegistryEvent, Worker, WorkerRegistry};
use daas_protocol::sui::TransactionDigest;
use daas_protocol::tx::{ObjectDigest, ObjectRef, StructTag, TypeTag};
use daas_protocol::{Address, ObjectId};

use crate::value::MoveValue;

/// Who owns an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// An account.
    Address(Address),
    /// Another object (the table's dynamic fields).
    Object(ObjectId),
    /// Shared since this version (`Shared(0)` while being created: the Lamport version).
    Shared(u64),
    /// Frozen.
    Immutable,
}

impl Owner {
    /// As Sui encodes it.
    pub fn to_ledger(self) -> ledger::Owner {
        match self {
            Owner::Address(a) => ledger::Owner::AddressOwner(a),
            Owner::Object(id) => ledger::Owner::ObjectOwner(id.into()),
            Owner::Shared(v) => ledger::Owner::Shared {
                initial_shared_version: v,
            },
            Owner::Immutable => ledger::Owner::Immutable,
        }
    }
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

/// A struct tag of a framework type (`0x1`/`0x2`).
pub fn framework_tag(address: u64, module: &str, name: &str, params: Vec<TypeTag>) -> StructTag {
    StructTag {
        address: Address::from_u64(address),
        module: module.into(),
        name: name.into(),
        type_params: params,
    }
}

/// `0x1::string::String`.
pub fn string_tag() -> TypeTag {
    TypeTag::Struct(Box::new(framework_tag(1, "string", "String", vec![])))
}

/// `0x2::object::ID`.
pub fn id_tag() -> TypeTag {
    TypeTag::Struct(Box::new(framework_tag(2, "object", "ID", vec![])))
}

/// `0x2::coin::Coin<0x2::sui::SUI>`.
pub fn coin_tag() -> StructTag {
    framework_tag(
        2,
        "coin",
        "Coin",
        vec![TypeTag::Struct(Box::new(framework_tag(
            2,
            "sui",
            "SUI",
            vec![],
        )))],
    )
}

/// A type tag written as Sui's GraphQL `MoveType.repr` does: every address in full
/// (`0x` + 64 hex), type parameters separated by `,` without spaces.
pub fn canonical_type(t: &TypeTag) -> String {
    match t {
        TypeTag::Bool => "bool".into(),
        TypeTag::U8 => "u8".into(),
        TypeTag::U16 => "u16".into(),
        TypeTag::U32 => "u32".into(),
        TypeTag::U64 => "u64".into(),
        TypeTag::U128 => "u128".into(),
        TypeTag::U256 => "u256".into(),
        TypeTag::Address => "address".into(),
        TypeTag::Signer => "signer".into(),
        TypeTag::Vector(t) => format!("vector<{}>", canonical_type(t)),
        TypeTag::Struct(s) => canonical_struct(s),
    }
}

/// [`canonical_type`] of a struct.
pub fn canonical_struct(s: &StructTag) -> String {
    let mut out = format!("{}::{}::{}", s.address, s.module, s.name);
    if !s.type_params.is_empty() {
        let params: Vec<String> = s.type_params.iter().map(canonical_type).collect();
        out.push('<');
        out.push_str(&params.join(","));
        out.push('>');
    }
    out
}

impl Contents {
    /// The full Move type, as JSON-RPC prints it (framework addresses short).
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

    /// The struct tag.
    pub fn struct_tag(&self, package: &ObjectId) -> StructTag {
        let registry = |name: &str| StructTag {
            address: (*package).into(),
            module: onchain::MODULE.into(),
            name: name.into(),
            type_params: vec![],
        };
        match self {
            Contents::Registry(_) => registry("WorkerRegistry"),
            Contents::Worker(_) => registry("Worker"),
            Contents::AdminCap(_) => registry("AdminCap"),
            Contents::SlashCap(_) => registry("SlashCap"),
            Contents::MasterCap(_) => registry("MasterCap"),
            Contents::Coin(_) => coin_tag(),
            Contents::Field(_) => {
                framework_tag(2, "dynamic_field", "Field", vec![string_tag(), id_tag()])
            }
            Contents::Clock { .. } => framework_tag(2, "clock", "Clock", vec![]),
        }
    }

    /// The type as Sui's `MoveObjectType` encodes it (`GasCoin` for `Coin<SUI>`).
    pub fn object_type(&self, package: &ObjectId) -> MoveObjectType {
        match self {
            Contents::Coin(_) => MoveObjectType::GasCoin,
            other => MoveObjectType::Other(other.struct_tag(package)),
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

/// `VecSet<ID>` (`master_caps`, `slash_caps`).
fn id_set(s: &onchain::VecSet<ObjectId>) -> MoveValue {
    MoveValue::Struct {
        type_: VEC_SET_TYPE.into(),
        fields: vec![(
            "contents",
            MoveValue::Vector(s.contents.iter().map(addr).collect()),
        )],
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

/// An object at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    /// Id.
    pub id: ObjectId,
    /// Version.
    pub version: u64,
    /// Digest of this version (Sui's `Object::digest`).
    pub digest: [u8; 32],
    /// Owner.
    pub owner: Owner,
    /// Contents.
    pub contents: Contents,
    /// The transaction that wrote this version.
    pub previous_tx: TransactionDigest,
    /// What replacing or deleting this version pays back (before the rebate rate).
    pub storage_rebate: u64,
}

impl Obj {
    /// An object version; its digest is Sui's, over the BCS `Object`.
    pub fn new(
        id: ObjectId,
        version: u64,
        owner: Owner,
        contents: Contents,
        tx: TransactionDigest,
        package: &ObjectId,
        storage_rebate: u64,
    ) -> Self {
        let mut o = Obj {
            id,
            version,
            digest: [0; 32],
            owner,
            contents,
            previous_tx: tx,
            storage_rebate,
        };
        o.digest = o.to_ledger(package).digest().0;
        o
    }

    /// As Sui's `Object`.
    pub fn to_ledger(&self, package: &ObjectId) -> ledger::Object {
        ledger::Object {
            data: ledger::Data::Move(self.move_object(package)),
            owner: self.owner.to_ledger(),
            previous_transaction: Digest(self.previous_tx.0),
            storage_rebate: self.storage_rebate,
        }
    }

    /// As Sui's `MoveObject` (GraphQL `moveObjectBcs`).
    pub fn move_object(&self, package: &ObjectId) -> ledger::MoveObject {
        ledger::MoveObject {
            type_: self.contents.object_type(package),
            has_public_transfer: self.contents.has_public_transfer(),
            version: self.version,
            contents: self.contents.value(package).to_bcs(),
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

    /// Sui's `object_size_for_gas_metering`.
    pub fn size_for_gas(&self, package: &ObjectId) -> u64 {
        self.to_ledger(package).size_for_gas_metering()
    }
}

/// An emitted event with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Emitting transaction.
    pub tx_digest: TransactionDigest,
    /// Index within the transaction.
    pub event_seq: u64,
    /// Global index (the ordering).
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

impl StoredEvent {
    /// As Sui's `Event`.
    pub fn to_ledger(&self, package: &ObjectId) -> ledger::Event {
        ledger::Event {
            package_id: *package,
            transaction_module: self.module.clone(),
            sender: self.sender,
            type_: StructTag {
                address: (*package).into(),
                module: onchain::MODULE.into(),
                name: self.event.name().into(),
                type_params: vec![],
            },
            contents: self.event.to_bcs(),
        }
    }
}

/// One object the transaction changed, as its effects list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedObject {
    /// Id.
    pub id: ObjectId,
    /// (version, digest, owner) before; `None` if created.
    pub input: Option<(u64, [u8; 32], Owner)>,
    /// (digest, owner) after, at the Lamport version; `None` if deleted.
    pub output: Option<([u8; 32], Owner)>,
    /// Its Move type (JSON-RPC `objectChanges`).
    pub type_: String,
}

impl ChangedObject {
    /// Created by this transaction.
    pub fn is_created(&self) -> bool {
        self.input.is_none()
    }

    /// Deleted by this transaction.
    pub fn is_deleted(&self) -> bool {
        self.output.is_none()
    }

    /// The change as Sui's effects (V2) list it.
    pub fn to_effects(&self) -> (ObjectId, EffectsObjectChange) {
        let change = EffectsObjectChange {
            input_state: match self.input {
                Some((v, d, o)) => ObjectIn::Exist(((v, Digest(d)), o.to_ledger())),
                None => ObjectIn::NotExist,
            },
            output_state: match self.output {
                Some((d, o)) => ObjectOut::ObjectWrite((Digest(d), o.to_ledger())),
                None => ObjectOut::NotExist,
            },
            id_operation: match (&self.input, &self.output) {
                (None, _) => IdOperation::Created,
                (Some(_), None) => IdOperation::Deleted,
                _ => IdOperation::None,
            },
        };
        (self.id, change)
    }
}

/// An executed transaction (or a dry run).
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
    pub status: ExecutionStatus,
    /// Gas.
    pub gas: GasCostSummary,
    /// Version given to written objects.
    pub lamport_version: u64,
    /// Changed objects, ordered by id.
    pub changed: Vec<ChangedObject>,
    /// Shared inputs it did not change.
    pub unchanged_shared: Vec<(ObjectId, UnchangedSharedKind)>,
    /// The gas coin (a mock coin in a dry run without gas payment).
    pub gas_object: ObjectId,
    /// Transactions that wrote its inputs.
    pub dependencies: Vec<TransactionDigest>,
    /// SUI balance changes per owner (coins before vs. after), as Sui derives them.
    pub balance_changes: Vec<(Address, i128)>,
    /// Its events (global sequence numbers).
    pub events: std::ops::Range<usize>,
    /// Sui's effects.
    pub effects: TransactionEffectsV2,
    /// Timestamp.
    pub timestamp_ms: u64,
    /// Checkpoint.
    pub checkpoint: u64,
}

impl TxRecord {
    /// The gas coin's reference and owner after the transaction.
    pub fn gas_object_ref(&self) -> (ObjectRef, Owner) {
        let c = self
            .changed
            .iter()
            .find(|c| c.id == self.gas_object)
            .expect("the gas coin is always written");
        let (digest, owner) = c.output.expect("the gas coin is never deleted");
        (
            ObjectRef {
                id: c.id,
                version: self.lamport_version,
                digest: ObjectDigest(digest),
            },
            owner,
        )
    }

    /// Shared inputs with the version they were read or written at (JSON-RPC
    /// `sharedObjects`: Sui's `input_shared_objects`).
    pub fn shared_inputs(&self) -> Vec<ObjectRef> {
        let mut out: Vec<ObjectRef> = self
            .changed
            .iter()
            .filter_map(|c| match c.input {
                Some((version, digest, Owner::Shared(_))) => Some(ObjectRef {
                    id: c.id,
                    version,
                    digest: ObjectDigest(digest),
                }),
                _ => None,
            })
            .collect();
        for (id, kind) in &self.unchanged_shared {
            out.push(match kind {
                UnchangedSharedKind::ReadOnlyRoot((version, digest)) => ObjectRef {
                    id: *id,
                    version: *version,
                    digest: *digest,
                },
                UnchangedSharedKind::MutateDeleted(v)
                | UnchangedSharedKind::ReadDeleted(v)
                | UnchangedSharedKind::Cancelled(v) => ObjectRef {
                    id: *id,
                    version: *v,
                    digest: ledger::OBJECT_DIGEST_DELETED,
                },
                UnchangedSharedKind::PerEpochConfig => continue,
            });
        }
        out
    }

    /// Whether it succeeded.
    pub fn is_success(&self) -> bool {
        self.status == ExecutionStatus::Success
    }
}

/// A system transaction (genesis, the registry deployment, a consensus commit
/// prologue): in a checkpoint's contents, not served as a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemTx {
    /// Its digest.
    pub digest: TransactionDigest,
    /// Its effects.
    pub effects: TransactionEffectsV2,
}

/// A transaction as a checkpoint's contents list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointEntry {
    /// Transaction digest.
    pub digest: TransactionDigest,
    /// Effects digest.
    pub effects_digest: Digest,
    /// Serialized user signatures (none for system transactions).
    pub signatures: Vec<Vec<u8>>,
}

/// A sealed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Sui's summary (what the digest is taken over).
    pub summary: ledger::CheckpointSummary,
    /// Its digest.
    pub digest: Digest,
    /// The transactions in it, in order (system transactions included).
    pub transactions: Vec<TransactionDigest>,
}

/// One entry of an object's history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // most slots are live versions; boxing them costs an allocation each
pub enum Slot {
    /// A version (boxed: an object is ten times the size of a tombstone).
    Live(Box<Obj>),
    /// Deleted: Sui's tombstone reference.
    Deleted(ObjectRef),
}

/// All state.
#[derive(Debug, Default, Clone)]
pub struct Store {
    /// Live objects.
    pub objects: BTreeMap<ObjectId, Obj>,
    /// Every version of every object, with the checkpoint that wrote it.
    pub history: BTreeMap<ObjectId, Vec<(u64, Slot)>>,
    /// Deleted objects: the version and digest Sui records (`OBJECT_DIGEST_DELETED` at
    /// the deleting transaction's Lamport version).
    pub deleted: HashMap<ObjectId, ObjectRef>,
    /// Events in order.
    pub events: Vec<StoredEvent>,
    /// Executed user transactions.
    pub txs: HashMap<TransactionDigest, TxRecord>,
    /// Sealed checkpoints; the last is the latest.
    pub checkpoints: Vec<Checkpoint>,
}

impl Store {
    /// The latest checkpoint's sequence number.
    pub fn latest_checkpoint(&self) -> u64 {
        self.checkpoints.len().saturating_sub(1) as u64
    }

    /// Writes an object version at `checkpoint`.
    pub fn put(&mut self, obj: Obj, checkpoint: u64) {
        self.deleted.remove(&obj.id);
        self.history
            .entry(obj.id)
            .or_default()
            .push((checkpoint, Slot::Live(Box::new(obj.clone()))));
        self.objects.insert(obj.id, obj);
    }

    /// Deletes an object at `checkpoint`, leaving Sui's tombstone reference.
    pub fn remove(&mut self, tombstone: ObjectRef, checkpoint: u64) {
        self.objects.remove(&tombstone.id);
        self.history
            .entry(tombstone.id)
            .or_default()
            .push((checkpoint, Slot::Deleted(tombstone)));
        self.deleted.insert(tombstone.id, tombstone);
    }

    /// Seals the next checkpoint over `entries` (Sui's `CheckpointSummary`: contents
    /// digest, the previous checkpoint's digest, transaction count and the epoch's rolling
    /// gas). Returns its sequence number.
    pub fn seal_checkpoint(
        &mut self,
        timestamp_ms: u64,
        entries: Vec<CheckpointEntry>,
        gas: GasCostSummary,
    ) -> u64 {
        let previous = self.checkpoints.last();
        let sequence_number = self.checkpoints.len() as u64;
        let rolling = previous.map_or(GasCostSummary::default(), |p| {
            p.summary.epoch_rolling_gas_cost_summary
        });
        let contents = ledger::CheckpointContents::V1(ledger::CheckpointContentsV1 {
            transactions: entries
                .iter()
                .map(|e| ledger::ExecutionDigests {
                    transaction: Digest(e.digest.0),
                    effects: e.effects_digest,
                })
                .collect(),
            user_signatures: entries.iter().map(|e| e.signatures.clone()).collect(),
        });
        let summary = ledger::CheckpointSummary {
            epoch: 0,
            sequence_number,
            network_total_transactions: previous
                .map_or(0, |p| p.summary.network_total_transactions)
                + entries.len() as u64,
            content_digest: contents.digest(),
            previous_digest: previous.map(|p| p.digest),
            epoch_rolling_gas_cost_summary: GasCostSummary {
                computation_cost: rolling.computation_cost + gas.computation_cost,
                storage_cost: rolling.storage_cost + gas.storage_cost,
                storage_rebate: rolling.storage_rebate + gas.storage_rebate,
                non_refundable_storage_fee: rolling.non_refundable_storage_fee
                    + gas.non_refundable_storage_fee,
            },
            timestamp_ms,
            checkpoint_commitments: vec![],
            end_of_epoch_data: None,
            version_specific_data: ledger::VERSION_SPECIFIC_DATA_V1_EMPTY.to_vec(),
        };
        self.checkpoints.push(Checkpoint {
            digest: summary.digest(),
            summary,
            transactions: entries.iter().map(|e| e.digest).collect(),
        });
        sequence_number
    }

    /// The state as of `checkpoint` (clamped to the latest).
    pub fn view(&self, checkpoint: u64) -> View<'_> {
        View {
            store: self,
            checkpoint: checkpoint.min(self.latest_checkpoint()),
        }
    }

    /// The latest state.
    pub fn latest(&self) -> View<'_> {
        self.view(u64::MAX)
    }
}

/// Reads as of one checkpoint: what a node that has executed up to it would answer.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The state.
    pub store: &'a Store,
    /// The checkpoint served.
    pub checkpoint: u64,
}

impl<'a> View<'a> {
    fn entry(&self, id: &ObjectId) -> Option<&'a Slot> {
        let versions = self.store.history.get(id)?;
        let n = versions.partition_point(|(cp, _)| *cp <= self.checkpoint);
        n.checked_sub(1).map(|i| &versions[i].1)
    }

    /// An object as of the checkpoint.
    pub fn object(&self, id: &ObjectId) -> Option<&'a Obj> {
        match self.entry(id) {
            Some(Slot::Live(o)) => Some(&**o),
            _ => None,
        }
    }

    /// A deleted object's tombstone, if it was deleted by the checkpoint.
    pub fn deleted(&self, id: &ObjectId) -> Option<ObjectRef> {
        match self.entry(id) {
            Some(Slot::Deleted(r)) => Some(*r),
            _ => None,
        }
    }

    /// Every object live at the checkpoint, by id.
    pub fn objects(&self) -> impl Iterator<Item = &'a Obj> + '_ {
        self.store.history.keys().filter_map(|id| self.object(id))
    }

    /// Coins owned by `owner`, by id.
    pub fn coins_of(&self, owner: &Address) -> Vec<&'a Obj> {
        self.objects()
            .filter(|o| {
                o.owner == Owner::Address(*owner) && matches!(o.contents, Contents::Coin(_))
            })
            .collect()
    }

    /// Objects owned by `owner`, by id.
    pub fn owned_by(&self, owner: &Address) -> Vec<&'a Obj> {
        self.objects()
            .filter(|o| o.owner == Owner::Address(*owner))
            .collect()
    }

    /// Dynamic fields (Table entries) under `parent`, by id.
    pub fn fields_of(&self, parent: &ObjectId) -> Vec<&'a Obj> {
        self.objects()
            .filter(|o| o.owner == Owner::Object(*parent))
            .collect()
    }

    /// Events up to the checkpoint, in order.
    pub fn events(&self) -> &'a [StoredEvent] {
        let n = self
            .store
            .events
            .partition_point(|e| e.checkpoint <= self.checkpoint);
        &self.store.events[..n]
    }

    /// A user transaction, if it is in a checkpoint up to this one.
    pub fn tx(&self, digest: &TransactionDigest) -> Option<&'a TxRecord> {
        self.store
            .txs
            .get(digest)
            .filter(|r| r.checkpoint <= self.checkpoint)
    }

    /// A checkpoint, if it is sealed by this one.
    pub fn checkpoint_at(&self, seq: u64) -> Option<&'a Checkpoint> {
        (seq <= self.checkpoint)
            .then(|| self.store.checkpoints.get(seq as usize))
            .flatten()
    }
}
