//! Talking to Sui (DESIGN §7): one [`Chain`] trait, two transports speaking Sui's HTTP
//! APIs directly — [`JsonRpcClient`] (JSON-RPC) and [`GraphQlClient`] (GraphQL RPC) —
//! over reqwest with rustls, no SDK and no CLI.
//!
//! Both clients take a list of endpoints, retry with jittered exponential backoff, fail
//! over on timeouts, 429 and 5xx, check the pinned chain id on every endpoint before
//! any other call, and never treat a malformed answer as "no data". Objects and events
//! are decoded from their BCS bytes (identical on both transports). [`Quorum`] asks
//! several endpoints for the same object and fails unless they agree; every client
//! refuses an object version lower than one it has already seen.

mod any;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod graphql;
mod jsonrpc;
#[cfg(feature = "tx")]
mod owned;
mod quorum;
mod registry;
mod reject;
#[cfg(feature = "tx")]
mod submit;
mod transport;

use std::future::Future;

use thiserror::Error;

use crate::chain_id::ChainId;
use crate::ids::{Address, ObjectId};
use crate::onchain::RegistryEvent;
use crate::sui::TransactionDigest;

pub use any::AnyChain;
pub use graphql::{DOCUMENTS as GRAPHQL_DOCUMENTS, GraphQlClient};
pub use jsonrpc::JsonRpcClient;
#[cfg(feature = "tx")]
pub use owned::OwnedObjects;
pub use quorum::Quorum;
pub use registry::{RegistryReader, WorkerObject};
pub use reject::{RejectKind, classify_rejection};
#[cfg(feature = "tx")]
pub use submit::{
    MAX_BUDGET, MAX_GAS_COINS, MIN_BUDGET_UNITS, SignedTransaction, Submitter, gas_coin_spend,
};
pub use transport::{ClientConfig, MAX_RESPONSE_BYTES, RetryPolicy};

#[cfg(feature = "tx")]
use crate::sui::UserSignature;
#[cfg(feature = "tx")]
use crate::tx::{ObjectDigest, ObjectRef, SharedRef};

/// What went wrong talking to Sui. Messages name the endpoint and what to check.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum ChainError {
    /// Every attempt failed with a retryable error (timeouts, refused connections,
    /// 429, 5xx, JSON-RPC -32050).
    #[error(
        "no endpoint answered (last: {endpoint}: {reason}); check the endpoints in the config and the network"
    )]
    Unavailable {
        /// The last endpoint tried.
        endpoint: String,
        /// Its failure.
        reason: String,
    },
    /// A non-retryable HTTP status.
    #[error("{endpoint} answered HTTP {status}: {body}")]
    Http {
        /// Endpoint.
        endpoint: String,
        /// Status code.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// A JSON-RPC or GraphQL error that is not a rejection of a transaction.
    #[error("{endpoint} returned error {code}: {message}")]
    Rpc {
        /// Endpoint.
        endpoint: String,
        /// JSON-RPC code (0 for GraphQL).
        code: i64,
        /// Message.
        message: String,
    },
    /// The transaction was refused before execution (JSON-RPC -32002/-32602 on
    /// execute or dry run, GraphQL errors on `executeTransaction`/`simulateTransaction`),
    /// typed by what it is: stale or locked objects, insufficient gas, a bad signature…
    #[error("transaction rejected before execution by {endpoint}: {message}")]
    Rejected {
        /// Endpoint.
        endpoint: String,
        /// The node's reason.
        message: String,
        /// What kind of refusal it is.
        kind: RejectKind,
    },
    /// A transaction did not become visible to reads before the deadline.
    #[error(
        "transaction {digest} is not visible on {endpoint} after {waited_ms} ms: the node's reads lag behind execution; try again later"
    )]
    NotVisible {
        /// The transaction.
        digest: TransactionDigest,
        /// The endpoint that does not show it.
        endpoint: String,
        /// How long it was awaited.
        waited_ms: u64,
    },
    /// An answer that does not have the shape the spec gives.
    #[error("malformed answer from {endpoint}: {what}")]
    Malformed {
        /// Endpoint.
        endpoint: String,
        /// What is wrong.
        what: String,
    },
    /// The endpoint serves another chain than the pinned one.
    #[error(
        "{endpoint} serves chain {got}, but the config pins {expected}: fix `chain_id` or the endpoint"
    )]
    ChainMismatch {
        /// Endpoint.
        endpoint: String,
        /// The pinned chain id.
        expected: ChainId,
        /// What the endpoint said.
        got: String,
    },
    /// An object version lower than one already seen (a lagging or lying node).
    #[error(
        "object {object} at version {got} is older than version {seen} already seen: refusing a stale read"
    )]
    Stale {
        /// Object.
        object: ObjectId,
        /// Version offered.
        got: u64,
        /// Highest version seen.
        seen: u64,
    },
    /// Quorum endpoints disagree.
    #[error("endpoints disagree on {object}: {detail}")]
    Disagreement {
        /// Object.
        object: ObjectId,
        /// Who said what.
        detail: String,
    },
    /// Object contents that do not decode as the expected Move type.
    #[error("object {object} is not a {expected}: {reason}")]
    WrongType {
        /// Object.
        object: ObjectId,
        /// Expected Move type.
        expected: String,
        /// Why.
        reason: String,
    },
    /// The account cannot pay what a transaction takes from its gas coin plus the gas
    /// budget (the budget is set aside before the first command runs, DESIGN §7).
    #[error(
        "account {account} has {} in {coins} coin{}; {} + {}{} gas: fund it with at least {} more",
        fmt_sui(*balance),
        if *coins == 1 { "" } else { "s" },
        spend.describe(),
        if *gas_is_estimate { "~" } else { "at least " },
        fmt_sui(*gas),
        fmt_sui(spend.amount.saturating_add(*gas).saturating_sub(*balance).max(1))
    )]
    InsufficientFunds {
        /// The paying account.
        account: Address,
        /// Its SUI balance over the coins that can pay gas (at most 256).
        balance: u64,
        /// How many coins that is.
        coins: usize,
        /// What the transaction takes from the gas coin.
        spend: Spend,
        /// The gas budget it needs (MIST): a dry-run figure (`gas_is_estimate`) or the
        /// minimum budget when the account cannot even afford a dry run.
        gas: u64,
        /// Whether `gas` comes from a dry run (else it is a lower bound).
        gas_is_estimate: bool,
    },
    /// Bad client configuration.
    #[error("chain client config: {0}")]
    Config(String),
}

/// What a transaction takes from its gas coin besides gas (e.g. the `SplitCoins` amounts
/// of a stake), with a description for messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spend {
    /// MIST taken from the gas coin by the commands.
    pub amount: u64,
    /// What it is for (`"1 SUI stake + 0.1 SUI fee"`); `None` prints the amount.
    pub what: Option<String>,
}

impl Spend {
    /// `amount` MIST taken from the gas coin.
    pub fn new(amount: u64) -> Self {
        Spend { amount, what: None }
    }

    /// The coin a registration splits off the gas coin: the stake plus the fee.
    pub fn registration(stake: u64, fee: u64) -> Self {
        Spend {
            amount: stake.saturating_add(fee),
            what: Some(format!("{} stake + {} fee", fmt_sui(stake), fmt_sui(fee))),
        }
    }

    fn describe(&self) -> String {
        match &self.what {
            Some(w) => format!("this transaction needs {w}"),
            None => format!(
                "this transaction takes {} from the gas coin",
                fmt_sui(self.amount)
            ),
        }
    }
}

/// MIST as SUI for messages: `4.2 SUI`, `0 SUI`, `0.000001 SUI`.
pub fn fmt_sui(mist: u64) -> String {
    let whole = mist / 1_000_000_000;
    let frac = mist % 1_000_000_000;
    if frac == 0 {
        return format!("{whole} SUI");
    }
    let f = format!("{frac:09}");
    format!("{whole}.{} SUI", f.trim_end_matches('0'))
}

impl ChainError {
    /// Whether trying again later can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            ChainError::Rejected { kind, .. } => kind.is_retryable(),
            ChainError::Unavailable { .. }
            | ChainError::Stale { .. }
            | ChainError::Disagreement { .. }
            | ChainError::NotVisible { .. } => true,
            _ => false,
        }
    }

    /// The kind of refusal, for a transaction refused before execution.
    pub fn reject_kind(&self) -> Option<&RejectKind> {
        match self {
            ChainError::Rejected { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// Short result alias.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

/// Who owns an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Owner {
    /// An account.
    Address(Address),
    /// Another object (dynamic fields).
    Object(ObjectId),
    /// Shared since a version.
    Shared {
        /// Initial shared version.
        initial_shared_version: u64,
    },
    /// Frozen.
    Immutable,
    /// Consensus-ordered, owned by an address.
    ConsensusAddress {
        /// The owner.
        owner: Address,
        /// Start version.
        start_version: u64,
    },
}

/// An object as read from a node: its reference, owner, Move type and contents BCS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Object id.
    pub id: ObjectId,
    /// Version.
    pub version: u64,
    /// Digest (Base58 bytes).
    pub digest: [u8; 32],
    /// Owner.
    pub owner: Owner,
    /// Full Move type.
    pub type_: String,
    /// BCS of the Move struct.
    pub bcs: Vec<u8>,
}

impl ObjectInfo {
    /// Decodes the contents as `T`, refusing trailing bytes.
    pub fn decode<T: for<'de> serde::Deserialize<'de>>(&self, expected: &str) -> Result<T> {
        bcs::from_bytes(&self.bcs).map_err(|e| ChainError::WrongType {
            object: self.id,
            expected: expected.into(),
            reason: e.to_string(),
        })
    }

    /// `(id, version, digest)`, for owned objects in a transaction.
    #[cfg(feature = "tx")]
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            id: self.id,
            version: self.version,
            digest: ObjectDigest(self.digest),
        }
    }

    /// The shared reference, if the object is shared.
    #[cfg(feature = "tx")]
    pub fn shared_ref(&self) -> Option<SharedRef> {
        match self.owner {
            Owner::Shared {
                initial_shared_version,
            } => Some(SharedRef {
                id: self.id,
                initial_shared_version,
            }),
            _ => None,
        }
    }
}

/// A SUI coin owned by an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinInfo {
    /// Object id.
    pub id: ObjectId,
    /// Version.
    pub version: u64,
    /// Digest.
    pub digest: [u8; 32],
    /// MIST.
    pub balance: u64,
}

#[cfg(feature = "tx")]
impl CoinInfo {
    /// For gas payment.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            id: self.id,
            version: self.version,
            digest: ObjectDigest(self.digest),
        }
    }
}

/// One entry of a `Table<String, ID>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    /// The key (a node_id).
    pub key: String,
    /// The value (a Worker id).
    pub value: ObjectId,
}

/// A page of something, with the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Cursor for the next page (None at the end).
    pub next_cursor: Option<String>,
}

/// Where to continue reading events: an opaque string that survives a restart. It
/// belongs to the transport that issued it (a JSON-RPC `EventID` as JSON, or a GraphQL
/// cursor) and must be given back to the same kind of client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EventCursor(pub String);

/// An event of the registry package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    /// Cursor just after this event.
    pub cursor: EventCursor,
    /// Transaction that emitted it.
    pub tx_digest: TransactionDigest,
    /// Timestamp (ms), if the node gave one.
    pub timestamp_ms: Option<u64>,
    /// Full Move type.
    pub type_: String,
    /// BCS of the event struct.
    pub bcs: Vec<u8>,
    /// Decoded, when it is an event of this package that this version knows.
    pub event: Option<RegistryEvent>,
}

/// A page of events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// Events in chain order.
    pub events: Vec<ChainEvent>,
    /// Resume here (the last event's cursor, or the one given when the page is empty).
    pub next_cursor: Option<EventCursor>,
    /// Whether more events are available now.
    pub has_next_page: bool,
}

/// Gas spent by a transaction (MIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GasCost {
    /// Computation.
    pub computation: u64,
    /// Storage.
    pub storage: u64,
    /// Storage rebate.
    pub rebate: u64,
    /// Non-refundable storage fee.
    pub non_refundable: u64,
}

impl GasCost {
    /// Net charge: computation + storage − rebate (never below computation).
    pub fn net(&self) -> u64 {
        (self.computation + self.storage)
            .saturating_sub(self.rebate)
            .max(self.computation)
    }

    /// What to budget: computation + storage (rebates arrive after the charge).
    pub fn gross(&self) -> u64 {
        self.computation + self.storage
    }
}

/// How an executed (or simulated) transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecStatus {
    /// Applied.
    Success,
    /// A Move abort: nothing but gas was applied.
    MoveAbort {
        /// The abort code (DESIGN §4).
        code: u64,
        /// The function, when the node names it.
        function: Option<String>,
        /// The command index, when the node gives it.
        command: Option<u64>,
    },
    /// Another execution failure (out of gas, coin balance...).
    Failure(String),
}

impl ExecStatus {
    /// Whether the transaction ran out of gas: JSON-RPC says `InsufficientGas`,
    /// GraphQL `Insufficient Gas.` (Sui's `ExecutionFailureStatus` as Debug and as
    /// Display). Its gas figures are then what the budget allowed, not the cost.
    pub fn ran_out_of_gas(&self) -> bool {
        self.failure_is("insufficientgas")
    }

    /// Whether a command took more from a coin than it held (`InsufficientCoinBalance
    /// in command N` / `Error in Nth command, Insufficient coin balance for operation.`).
    pub fn is_insufficient_coin_balance(&self) -> bool {
        self.failure_is("insufficientcoinbalance")
    }

    fn failure_is(&self, squashed: &str) -> bool {
        match self {
            ExecStatus::Failure(m) => m
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
                .contains(squashed),
            _ => false,
        }
    }
}

/// What a transaction did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// Made by the transaction.
    Created,
    /// Written (an existing object, or one unwrapped back into the store).
    Mutated,
    /// Deleted.
    Deleted,
    /// Wrapped into another object (no longer in the store by itself).
    Wrapped,
}

/// One object a transaction wrote, as its effects list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectChange {
    /// The object.
    pub id: ObjectId,
    /// What happened to it.
    pub kind: ChangeKind,
    /// Its version after the transaction (the transaction's Lamport version).
    pub version: u64,
    /// Its digest after the transaction (zero when deleted or wrapped and the node
    /// gives none).
    pub digest: [u8; 32],
    /// Its owner after the transaction (`None` when deleted or wrapped).
    pub owner: Option<Owner>,
}

impl ObjectChange {
    /// `(id, version, digest)` after the transaction, if the object still exists.
    #[cfg(feature = "tx")]
    pub fn object_ref(&self) -> Option<ObjectRef> {
        self.owner.map(|_| ObjectRef {
            id: self.id,
            version: self.version,
            digest: ObjectDigest(self.digest),
        })
    }
}

/// The effects of a transaction as far as this project needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Its digest.
    pub digest: TransactionDigest,
    /// How it ended.
    pub status: ExecStatus,
    /// Gas used.
    pub gas: GasCost,
    /// The objects it wrote (every mutable input is among them, whatever the status).
    /// On GraphQL, at most the first pages the node serves with the answer.
    pub changes: Vec<ObjectChange>,
    /// The gas coin after the transaction (all gas coins are merged into it).
    pub gas_object: Option<ObjectChange>,
    /// The checkpoint that holds it, once the node knows (an execution answer
    /// usually comes before the checkpoint).
    pub checkpoint: Option<u64>,
}

impl ExecOutcome {
    /// An outcome with no object changes, gas object or checkpoint (for fakes of
    /// [`Chain`] in tests; the transports fill in everything the node gives).
    pub fn new(digest: TransactionDigest, status: ExecStatus, gas: GasCost) -> Self {
        ExecOutcome {
            digest,
            status,
            gas,
            changes: Vec::new(),
            gas_object: None,
            checkpoint: None,
        }
    }

    /// The change to `id`, if the transaction wrote it.
    pub fn change(&self, id: &ObjectId) -> Option<&ObjectChange> {
        self.changes
            .iter()
            .find(|c| c.id == *id)
            .or(self.gas_object.as_ref().filter(|g| g.id == *id))
    }
}

/// Reads (and, with feature `tx`, writes) against one Sui network. Implemented by
/// both transports and by [`Quorum`]'s members; tests may implement it too.
pub trait Chain: Send + Sync {
    /// The endpoint list, for messages.
    fn describe(&self) -> String;

    /// Checks every endpoint serves the pinned chain (also done lazily before the
    /// first call on each endpoint).
    fn verify_chain(&self) -> impl Future<Output = Result<()>> + Send;

    /// The reference gas price (MIST).
    fn reference_gas_price(&self) -> impl Future<Output = Result<u64>> + Send;

    /// All SUI coins of `owner`.
    fn coins(&self, owner: Address) -> impl Future<Output = Result<Vec<CoinInfo>>> + Send;

    /// One object; `None` if it does not exist or was deleted.
    fn object(&self, id: ObjectId) -> impl Future<Output = Result<Option<ObjectInfo>>> + Send;

    /// The value of a `Table<String, ID>` entry (the table's UID is the parent).
    fn table_entry(
        &self,
        table: ObjectId,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectId>>> + Send;

    /// A page of `Table<String, ID>` entries.
    fn table_entries(
        &self,
        table: ObjectId,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<Page<TableEntry>>> + Send;

    /// Events whose type is defined in `package::worker_registry`, after `cursor`
    /// (exclusive), in chain order.
    fn events(
        &self,
        package: ObjectId,
        cursor: Option<&EventCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<EventPage>> + Send;

    /// The newest checkpoint this client's reads see (the first endpoint that answers).
    fn latest_checkpoint(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Simulates unsigned transaction bytes (for the gas budget).
    #[cfg(feature = "tx")]
    fn dry_run(&self, tx_bytes: &[u8]) -> impl Future<Output = Result<ExecOutcome>> + Send;

    /// Executes signed transaction bytes and waits for finality.
    #[cfg(feature = "tx")]
    fn execute(
        &self,
        tx_bytes: &[u8],
        signatures: &[UserSignature],
    ) -> impl Future<Output = Result<ExecOutcome>> + Send;

    /// The outcome of an executed transaction; `None` if the node does not know it.
    #[cfg(feature = "tx")]
    fn transaction(
        &self,
        digest: &TransactionDigest,
    ) -> impl Future<Output = Result<Option<ExecOutcome>>> + Send;

    /// Waits until reads show transaction `digest`, for callers that must read their
    /// own write (execution answers before reads catch up, DESIGN §7): until every
    /// endpoint that answers knows the transaction in a checkpoint and serves reads
    /// at least that fresh. Endpoints that do not answer are skipped when another one
    /// has shown the transaction. [`ChainError::NotVisible`] after `deadline`.
    ///
    /// This default polls [`Chain::transaction`] and [`Chain::latest_checkpoint`]
    /// through the client's normal endpoint order; the two transports check each
    /// endpoint in turn.
    #[cfg(feature = "tx")]
    fn wait_for_transaction(
        &self,
        digest: &TransactionDigest,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = Result<ExecOutcome>> + Send {
        async move {
            let start = tokio::time::Instant::now();
            let mut poll = POLL_START;
            loop {
                if let Some(out) = self.transaction(digest).await?
                    && let Some(cp) = out.checkpoint
                    && self.latest_checkpoint().await? >= cp
                {
                    return Ok(out);
                }
                if tokio::time::Instant::now() + poll > deadline {
                    return Err(ChainError::NotVisible {
                        digest: *digest,
                        endpoint: self.describe(),
                        waited_ms: start.elapsed().as_millis() as u64,
                    });
                }
                tokio::time::sleep(poll).await;
                poll = (poll * 2).min(POLL_MAX);
            }
        }
    }
}

/// First and longest pause between polls for a transaction to become visible.
#[cfg(feature = "tx")]
pub(crate) const POLL_START: std::time::Duration = std::time::Duration::from_millis(20);
#[cfg(feature = "tx")]
pub(crate) const POLL_MAX: std::time::Duration = std::time::Duration::from_millis(500);

/// A shared reference to a chain client is a chain client (readers and submitters can
/// share one connection pool).
impl<C: Chain> Chain for &C {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn verify_chain(&self) -> impl Future<Output = Result<()>> + Send {
        (**self).verify_chain()
    }
    fn reference_gas_price(&self) -> impl Future<Output = Result<u64>> + Send {
        (**self).reference_gas_price()
    }
    fn coins(&self, owner: Address) -> impl Future<Output = Result<Vec<CoinInfo>>> + Send {
        (**self).coins(owner)
    }
    fn object(&self, id: ObjectId) -> impl Future<Output = Result<Option<ObjectInfo>>> + Send {
        (**self).object(id)
    }
    fn table_entry(
        &self,
        table: ObjectId,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectId>>> + Send {
        (**self).table_entry(table, key)
    }
    fn table_entries(
        &self,
        table: ObjectId,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<Page<TableEntry>>> + Send {
        (**self).table_entries(table, cursor)
    }
    fn events(
        &self,
        package: ObjectId,
        cursor: Option<&EventCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<EventPage>> + Send {
        (**self).events(package, cursor, limit)
    }
    fn latest_checkpoint(&self) -> impl Future<Output = Result<u64>> + Send {
        (**self).latest_checkpoint()
    }
    #[cfg(feature = "tx")]
    fn dry_run(&self, tx_bytes: &[u8]) -> impl Future<Output = Result<ExecOutcome>> + Send {
        (**self).dry_run(tx_bytes)
    }
    #[cfg(feature = "tx")]
    fn execute(
        &self,
        tx_bytes: &[u8],
        signatures: &[UserSignature],
    ) -> impl Future<Output = Result<ExecOutcome>> + Send {
        (**self).execute(tx_bytes, signatures)
    }
    #[cfg(feature = "tx")]
    fn transaction(
        &self,
        digest: &TransactionDigest,
    ) -> impl Future<Output = Result<Option<ExecOutcome>>> + Send {
        (**self).transaction(digest)
    }
    #[cfg(feature = "tx")]
    fn wait_for_transaction(
        &self,
        digest: &TransactionDigest,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = Result<ExecOutcome>> + Send {
        (**self).wait_for_transaction(digest, deadline)
    }
}

/// Parses a u64 given as a JSON string or number (nodes emit strings; some spec
/// examples numbers).
pub(crate) fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Milliseconds since the epoch of an RFC 3339 / ISO-8601 UTC timestamp
/// (`2026-11-24T15:34:32.123Z`, GraphQL's `DateTime`).
pub(crate) fn iso8601_ms(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = s.split_once('T')?;
    // RFC 3339's fixed-width fields: digits only (no sign), a four-digit year. A year
    // of any i64 once overflowed the day arithmetic below (found by fuzz/graphql_response).
    let field = |p: Option<&str>, width: usize| -> Option<i64> {
        let p = p?;
        if p.len() != width || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let mut d = date.splitn(3, '-');
    let (y, m, day) = (
        field(d.next(), 4)?,
        field(d.next(), 2)?,
        field(d.next(), 2)?,
    );
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => {
            (hms, frac)
        }
        Some(_) => return None,
        None => (time, ""),
    };
    let mut t = hms.splitn(3, ':');
    let (hh, mm, ss) = (
        field(t.next(), 2)?,
        field(t.next(), 2)?,
        field(t.next(), 2)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let ms: i64 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(3).collect();
        format!("{digits:0<3}").parse().ok()?
    };
    // days from civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn out_of_gas_and_coin_balance_read_in_both_transports_words() {
        use super::ExecStatus::{Failure, Success};
        for m in ["InsufficientGas", "Insufficient Gas."] {
            assert!(Failure(m.into()).ran_out_of_gas(), "{m}");
        }
        for m in [
            "InsufficientCoinBalance in command 0",
            "Error in 1st command, Insufficient coin balance for operation.",
        ] {
            assert!(Failure(m.into()).is_insufficient_coin_balance(), "{m}");
            assert!(!Failure(m.into()).ran_out_of_gas(), "{m}");
        }
        assert!(!Success.ran_out_of_gas());
    }

    #[test]
    fn sui_amounts_print_without_trailing_zeros() {
        assert_eq!(super::fmt_sui(0), "0 SUI");
        assert_eq!(super::fmt_sui(4_200_000_000), "4.2 SUI");
        assert_eq!(super::fmt_sui(5_000_000_000), "5 SUI");
        assert_eq!(super::fmt_sui(1_000), "0.000001 SUI");
    }

    #[test]
    fn iso8601_parses_to_ms() {
        assert_eq!(super::iso8601_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(super::iso8601_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(
            super::iso8601_ms("2026-11-24T15:34:32.123Z"),
            Some(1_795_534_472_123)
        );
        assert_eq!(
            super::iso8601_ms("2000-02-29T00:00:00+00:00"),
            Some(951_782_400_000)
        );
        assert_eq!(super::iso8601_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(super::iso8601_ms("yesterday"), None);
    }

    /// A node's timestamp is untrusted text: a year of any size, a sign or a short
    /// field is refused, never a panic (an i64 year overflowed the day count; found by
    /// fuzz/graphql_response) nor a shifted time (`-1` hours was taken as an hour).
    #[test]
    fn iso8601_refuses_out_of_range_and_signed_fields() {
        for s in [
            "9223372036854775807-01-01T00:00:00Z",
            "99999-01-01T00:00:00Z",
            "-001-01-01T00:00:00Z",
            "2026-01-01T-1:00:00Z",
            "2026-01-01T+1:00:00Z",
            "2026-1-01T00:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.-5Z",
            "2026-01-01T00:00Z",
        ] {
            assert_eq!(super::iso8601_ms(s), None, "{s}");
        }
        assert_eq!(
            super::iso8601_ms("0000-03-01T00:00:00Z"),
            None,
            "before the epoch"
        );
        assert_eq!(
            super::iso8601_ms("9999-12-31T23:59:59.999Z"),
            Some(253_402_300_799_999)
        );
    }
}
