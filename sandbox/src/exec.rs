//! Transaction execution in the phases of Sui's executor:
//!
//! 1. **input and gas checks** ([`Engine::check`]): decode, limits, signature, gas
//!    price and budget bounds, gas coins, owned and shared inputs — a failure here is a
//!    rejection (nothing is charged, no checkpoint);
//! 2. **consensus**: a consensus commit prologue advances the Clock (a real checkpoint on
//!    execution, a virtual one in a dry run) and shared objects get their versions;
//! 3. **gas set-aside** ([`Scratch::smash_gas`]): the gas coins are smashed into the
//!    first and the whole budget is put out of reach of the commands;
//! 4. **commands** ([`execute_commands`]): the programmable transaction over a
//!    [`Scratch`] overlay, fresh ids taken as commands run;
//! 5. **gas charge, effects and versions** ([`Engine::charge`], [`Engine::seal`]): computation
//!    bucketed, writes dropped on failure, every mutable input written, storage and
//!    rebates, the out-of-gas fallbacks, then the Lamport version, object digests and
//!    Sui's `TransactionEffectsV2`.
//!
//! Sources: MystenLabs/sui `sui-execution/latest/sui-adapter` (`execution_engine.rs`,
//! `programmable_transactions/context.rs` for the set-aside, `gas_charger.rs`,
//! `temporary_store.rs` `ensure_active_inputs_mutated`), `crates/sui-types`
//! (`error.rs` for the rejection texts, `gas_model/gas_v2.rs`). Deterministic: the
//! same bytes at the same time on the same state give the same effects.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use daas_protocol::hash::blake2b256;
use daas_protocol::ledger::{
    self, CommandArgumentError, Digest, EffectsObjectChange, ExecutionFailureStatus,
    ExecutionStatus, GasCostSummary, IdOperation, ModuleId, MoveLocation, ObjectIn, ObjectOut,
    TransactionEffectsV2, TransactionEvents, UnchangedSharedKind,
};
use daas_protocol::onchain::{self, CLOCK_ID, Param, RegistryEvent};
use daas_protocol::sui::{TransactionDigest, UserSignature};
use daas_protocol::tx::{
    Argument, CallArg, Command, ObjectArg, ObjectRef, ProgrammableTransaction, TransactionData,
    TransactionExpiration,
};
use daas_protocol::{Address, ChainId, ObjectId};

use crate::gas;
use crate::rules::{Abort, Arg};
use crate::store::{
    ChangedObject, CheckpointEntry, Contents, Obj, Owner, Store, StoredEvent, SystemTx, TxRecord,
};

/// The id of the mock gas coin of a dry run without gas payment (`ObjectID::MAX`).
pub const MOCK_GAS_ID: ObjectId = ObjectId([0xff; 32]);

/// Why a transaction was refused before execution (nothing charged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Bytes that are not a transaction.
    InvalidTransaction(String),
    /// Sui's `UserInputError` texts, one per problem.
    UserInput(Vec<String>),
    /// A signature that does not verify.
    Signature(String),
    /// Something Sui does that the sandbox does not model (says so).
    NotModelled(String),
}

impl Reject {
    fn input(m: impl Into<String>) -> Self {
        Reject::UserInput(vec![m.into()])
    }

    /// The message Sui's execution service gives (the gRPC status message, which
    /// JSON-RPC wraps and GraphQL passes on; sui-rpc-api `error.rs`).
    pub fn message(&self) -> String {
        match self {
            Reject::InvalidTransaction(m) | Reject::NotModelled(m) => m.clone(),
            Reject::UserInput(errors) => format!(
                "Transaction execution failed due to issues with transaction inputs, please review the errors and try again: {}.",
                errors.join(", ")
            ),
            Reject::Signature(m) => format!("Invalid user signature: {m}"),
        }
    }
}

/// Execute for real, or simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Signed; committed in a new checkpoint.
    Execute,
    /// Unsigned; nothing committed (`sui_dryRunTransactionBlock`, `simulateTransaction`).
    DryRun,
}

/// The mutable view of one transaction: writes go to an overlay over the store (and
/// over the consensus-assigned state of the Clock and a dry run's mock gas coin).
pub struct Scratch<'a> {
    base: &'a Store,
    /// Objects that are not (yet) in the store: the Clock after a virtual prologue, the
    /// mock gas coin.
    extra: &'a HashMap<ObjectId, Obj>,
    overlay: BTreeMap<ObjectId, Option<(Owner, Contents)>>,
    created: BTreeSet<ObjectId>,
    digest: TransactionDigest,
    counter: u64,
    events: Vec<RegistryEvent>,
    /// Sender.
    pub sender: Address,
    /// The Clock's time.
    pub now: u64,
}

impl<'a> Scratch<'a> {
    fn original(&self, id: &ObjectId) -> Option<&'a Obj> {
        self.extra.get(id).or_else(|| self.base.objects.get(id))
    }

    /// An object as this transaction sees it.
    pub fn get(&self, id: &ObjectId) -> Option<(Owner, &Contents)> {
        match self.overlay.get(id) {
            Some(Some((o, c))) => Some((*o, c)),
            Some(None) => None,
            None => self.original(id).map(|o| (o.owner, &o.contents)),
        }
    }

    /// Replaces an object's contents (owner kept).
    pub fn write(&mut self, id: ObjectId, contents: Contents) {
        let owner = self
            .get(&id)
            .map(|(o, _)| o)
            .expect("writing an existing object");
        self.overlay.insert(id, Some((owner, contents)));
    }

    /// Changes the owner.
    pub fn set_owner(&mut self, id: ObjectId, owner: Owner) {
        let contents = self
            .get(&id)
            .map(|(_, c)| c.clone())
            .expect("existing object");
        self.overlay.insert(id, Some((owner, contents)));
    }

    /// A new object (a `Shared(0)` owner becomes shared at the Lamport version).
    pub fn create(&mut self, id: ObjectId, owner: Owner, contents: Contents) {
        self.created.insert(id);
        self.overlay.insert(id, Some((owner, contents)));
    }

    /// Deletes an object.
    pub fn delete(&mut self, id: ObjectId) {
        self.overlay.insert(id, None);
    }

    /// Sui's `derive_id`: Blake2b-256(0xf1 || tx digest || creation counter).
    pub fn fresh_id(&mut self) -> ObjectId {
        let id = ObjectId(blake2b256(&[
            &[0xf1],
            &self.digest.0,
            &self.counter.to_le_bytes(),
        ]));
        self.counter += 1;
        id
    }

    /// Emits an event.
    pub fn emit(&mut self, e: RegistryEvent) {
        self.events.push(e);
    }

    fn coin_balance(&self, id: &ObjectId) -> Option<u64> {
        match self.get(id) {
            Some((_, Contents::Coin(c))) => Some(c.balance.value),
            _ => None,
        }
    }

    fn set_coin_balance(&mut self, id: ObjectId, value: u64) {
        self.write(
            id,
            Contents::Coin(onchain::Coin {
                id,
                balance: onchain::Balance { value },
            }),
        );
    }

    /// Gas smashing: the other gas coins are deleted and their value added to the first
    /// (`SmashMetadata::smash_gas`). Returns the total.
    fn smash_gas(&mut self, coins: &[ObjectId]) -> u64 {
        let total = coins
            .iter()
            .map(|c| self.coin_balance(c).expect("gas coins were checked"))
            .sum();
        for c in &coins[1..] {
            self.delete(*c);
        }
        self.set_coin_balance(coins[0], total);
        total
    }

    /// Drops every write but the gas smashing (`GasCharger::reset`).
    fn reset(&mut self, coins: &[ObjectId]) {
        self.overlay.clear();
        self.created.clear();
        self.events.clear();
        self.smash_gas(coins);
    }
}

/// A value inside the running transaction.
#[derive(Debug, Clone, Copy)]
enum Val {
    /// An input object or the gas coin.
    Object(ObjectId),
    /// A coin made by SplitCoins, with the id it took when it ran.
    NewCoin(ObjectId),
    /// Pure bytes (the input index).
    Pure(u16),
    /// A value already moved.
    Moved,
}

/// How an input object enters the transaction after the input checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Pure,
    /// Owned by the sender (mutable) or immutable.
    Owned {
        id: ObjectId,
        immutable: bool,
    },
    /// Shared, live.
    Shared {
        id: ObjectId,
        mutable: bool,
    },
    /// Shared, deleted before this transaction: the tombstone version.
    DeletedShared {
        id: ObjectId,
        version: u64,
        mutable: bool,
    },
}

/// A transaction that passed the input checks.
struct Checked {
    tx: TransactionData,
    tx_bytes: Vec<u8>,
    signatures: Vec<String>,
    digest: TransactionDigest,
    sender: Address,
    price: u64,
    budget: u64,
    gas_coins: Vec<ObjectId>,
    mock_gas: Option<Obj>,
    inputs: Vec<InputKind>,
}

/// The chain engine: state plus the deployment it serves.
pub struct Engine {
    /// State.
    pub store: Store,
    /// The registry package id.
    pub package: ObjectId,
    /// Reference gas price.
    pub reference_gas_price: u64,
    /// The chain (checked against `ValidDuring` expirations).
    pub chain_id: ChainId,
}

/// An executed (or simulated) transaction and its events.
pub type Executed = (TxRecord, Vec<RegistryEvent>);

impl Engine {
    /// Executes (`Mode::Execute`: signed, committed in a new checkpoint) or simulates
    /// (`Mode::DryRun`) a transaction at `now_ms`.
    pub fn execute(
        &mut self,
        tx_bytes: &[u8],
        signatures: &[String],
        now_ms: u64,
        mode: Mode,
    ) -> Result<Executed, Reject> {
        let digest = TransactionDigest::of_transaction(tx_bytes);
        if mode == Mode::Execute
            && let Some(done) = self.store.txs.get(&digest)
        {
            // Sui executes a transaction once; a resubmission gets the same effects.
            if signatures.len() == 1 && done.signatures == signatures {
                let events = self.store.events[done.events.clone()]
                    .iter()
                    .map(|e| e.event.clone())
                    .collect();
                return Ok((done.clone(), events));
            }
        }
        let checked = self.check(tx_bytes, signatures, mode)?;
        // consensus: the commit prologue advances the Clock before the transaction runs
        let clock = self.store.objects.get(&CLOCK_ID).expect("the Clock exists");
        let now = now_ms.max(clock_time(clock));
        let mut extra = HashMap::new();
        let checkpoint = self.store.latest_checkpoint() + 1;
        let prologue = match mode {
            Mode::Execute => Some(self.consensus_commit_prologue(checkpoint, now)),
            Mode::DryRun => {
                let clock = self.advanced_clock(now, TransactionDigest([0; 32]));
                extra.insert(CLOCK_ID, clock);
                None
            }
        };
        if let Some(mock) = &checked.mock_gas {
            extra.insert(mock.id, mock.clone());
        }
        let outcome = self.run(checked, &extra, now, checkpoint);
        let result = (outcome.record.clone(), outcome.events.clone());
        if let Some(prologue) = prologue {
            self.commit(outcome, prologue);
            let digest = result.0.digest;
            return Ok((self.store.txs[&digest].clone(), result.1));
        }
        Ok(result)
    }

    fn check_owned(&self, r: &ObjectRef, sender: &Address) -> Result<&Obj, Reject> {
        let o = match self.store.objects.get(&r.id) {
            Some(o) => o,
            None => {
                return Err(Reject::input(match self.store.deleted.get(&r.id) {
                    Some(t) => format!(
                        "Object deleted at reference ({}, {:?}, {})",
                        t.id,
                        SeqDebug(t.version),
                        t.digest
                    ),
                    None => format!(
                        "Could not find the referenced object {} at version {:?}",
                        r.id,
                        Some(SeqDebug(r.version))
                    ),
                }));
            }
        };
        if o.version != r.version || o.digest != r.digest.0 {
            return Err(Reject::input(format!(
                "Object ID {} Version {:#x} Digest {} is not available for consumption, current version: {:#x}",
                r.id, r.version, r.digest, o.version
            )));
        }
        match o.owner {
            Owner::Address(a) if a == *sender => Ok(o),
            Owner::Immutable => Ok(o),
            Owner::Object(parent) => Err(Reject::input(format!(
                "Object {} is owned by object {parent}. Objects owned by other objects cannot be used as input arguments",
                r.id
            ))),
            Owner::Shared(_) => Err(Reject::input("Object used as owned is not owned")),
            Owner::Address(a) => Err(Reject::input(format!(
                "Transaction was not signed by the correct sender: Object {} is owned by account address {a}, but given owner/signer address is {sender}",
                r.id
            ))),
        }
    }

    /// Phase 1: everything a validator checks before it signs.
    fn check(&self, tx_bytes: &[u8], signatures: &[String], mode: Mode) -> Result<Checked, Reject> {
        use daas_protocol::tx::limits;
        if tx_bytes.len() > limits::MAX_TX_SIZE {
            return Err(Reject::input(format!(
                "Size limit exceeded: serialized transaction size is {}",
                tx_bytes.len()
            )));
        }
        let tx = TransactionData::from_bcs(tx_bytes).map_err(|e| {
            Reject::InvalidTransaction(format!(
                "Invalid transaction bytes: Failed to deserialize TransactionData: {e}"
            ))
        })?;
        tx.check_limits(tx_bytes.len())
            .map_err(|e| Reject::input(format!("Size limit exceeded: {e}")))?;
        let v1 = tx.v1();
        let sender = v1.sender;
        if mode == Mode::Execute {
            if signatures.len() != 1 {
                return Err(Reject::Signature(format!(
                    "Expect 1 signer signatures but got {}",
                    signatures.len()
                )));
            }
            let sig = UserSignature::from_base64(&signatures[0])
                .map_err(|e| Reject::Signature(e.to_string()))?;
            sig.verify_transaction(tx_bytes, &sender)
                .map_err(|e| Reject::Signature(e.to_string()))?;
        }
        self.check_expiration(&v1.expiration, v1.gas_data.payment.is_empty(), mode)?;
        self.check_commands(tx.programmable())?;

        let gas = &v1.gas_data;
        let (gas_coins, mock_gas) = self.check_gas(gas, &sender)?;
        let inputs = self.check_inputs(tx.programmable(), &gas_coins, &sender)?;
        Ok(Checked {
            digest: TransactionDigest::of_transaction(tx_bytes),
            tx_bytes: tx_bytes.to_vec(),
            signatures: signatures.to_vec(),
            sender,
            price: gas.price,
            budget: gas.budget,
            gas_coins,
            mock_gas,
            inputs,
            tx,
        })
    }

    /// Phase 1, gas (`gas_v2.rs` `check_gas_balance`, `transaction.rs` gas-price and
    /// budget checks): price and budget within Sui's bounds, the payment coins owned by
    /// the sender and worth the budget. A dry run without payment pays with a mock coin.
    fn check_gas(
        &self,
        gas: &daas_protocol::tx::GasData,
        sender: &Address,
    ) -> Result<(Vec<ObjectId>, Option<Obj>), Reject> {
        if gas.owner != *sender {
            return Err(Reject::NotModelled(
                "sponsored transactions are not modelled by daas-sandbox: the gas owner must be the sender".into(),
            ));
        }
        if gas.price < self.reference_gas_price {
            return Err(Reject::input(format!(
                "Gas price {} under reference gas price (RGP) {}",
                gas.price, self.reference_gas_price
            )));
        }
        if gas.price > gas::MAX_GAS_PRICE {
            return Err(Reject::input(format!(
                "Gas price cannot exceed {} mist",
                gas::MAX_GAS_PRICE
            )));
        }
        if gas.budget > gas::MAX_TX_GAS {
            return Err(Reject::input(format!(
                "Gas budget: {} is higher than max: {}",
                gas.budget,
                gas::MAX_TX_GAS
            )));
        }
        let min_budget = gas::min_budget(gas.price);
        if gas.budget < min_budget {
            return Err(Reject::input(format!(
                "Gas budget: {} is lower than min: {min_budget}",
                gas.budget
            )));
        }
        let (gas_coins, mock_gas, gas_total) = if gas.payment.is_empty() {
            // a dry run without gas pays with a mock coin (sui-core `dry_exec_transaction`)
            let mock = Obj::new(
                MOCK_GAS_ID,
                1,
                Owner::Address(gas.owner),
                Contents::Coin(onchain::Coin {
                    id: MOCK_GAS_ID,
                    balance: onchain::Balance {
                        value: gas::SIMULATION_GAS_COIN_VALUE,
                    },
                }),
                TransactionDigest([0; 32]),
                &self.package,
                0,
            );
            (
                vec![MOCK_GAS_ID],
                Some(mock),
                gas::SIMULATION_GAS_COIN_VALUE as u128,
            )
        } else {
            let mut total = 0u128;
            let mut ids = Vec::new();
            for p in &gas.payment {
                let o = self.check_owned(p, sender)?;
                match &o.contents {
                    Contents::Coin(c) if o.owner != Owner::Immutable => {
                        total += c.balance.value as u128
                    }
                    _ => {
                        return Err(Reject::input(format!(
                            "Object {} is not a gas object",
                            p.id
                        )));
                    }
                }
                if ids.contains(&p.id) {
                    return Err(Reject::input(
                        "The transaction inputs contain duplicated ObjectRef's",
                    ));
                }
                ids.push(p.id);
            }
            (ids, None, total)
        };
        if gas_total < gas.budget as u128 {
            return Err(Reject::input(format!(
                "Balance of gas object {gas_total} is lower than the needed amount: {}",
                gas.budget
            )));
        }
        Ok((gas_coins, mock_gas))
    }

    /// Phase 1, inputs: owned ones owned by the sender at the given version, shared
    /// ones at their initial shared version (or deleted since), none twice.
    fn check_inputs(
        &self,
        pt: &ProgrammableTransaction,
        gas_coins: &[ObjectId],
        sender: &Address,
    ) -> Result<Vec<InputKind>, Reject> {
        let mut inputs = Vec::with_capacity(pt.inputs.len());
        let mut seen = BTreeSet::new();
        for input in &pt.inputs {
            let kind = match input {
                CallArg::Pure(_) => InputKind::Pure,
                CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => {
                    if gas_coins.contains(&r.id) {
                        return Err(Reject::input(format!(
                            "Mutable object {} cannot appear more than one in one transaction",
                            r.id
                        )));
                    }
                    let o = self.check_owned(r, sender)?;
                    InputKind::Owned {
                        id: r.id,
                        immutable: o.owner == Owner::Immutable,
                    }
                }
                CallArg::Object(ObjectArg::SharedObject {
                    id,
                    initial_shared_version,
                    mutable,
                }) => self.check_shared(id, *initial_shared_version, *mutable)?,
                CallArg::Object(ObjectArg::Receiving(_)) => {
                    return Err(Reject::NotModelled(
                        "Receiving inputs are not modelled by daas-sandbox".into(),
                    ));
                }
            };
            if let InputKind::Owned { id, .. }
            | InputKind::Shared { id, .. }
            | InputKind::DeletedShared { id, .. } = kind
                && !seen.insert(id)
            {
                return Err(Reject::input(
                    "The transaction inputs contain duplicated ObjectRef's",
                ));
            }
            inputs.push(kind);
        }
        Ok(inputs)
    }

    fn check_expiration(
        &self,
        e: &TransactionExpiration,
        no_gas_payment: bool,
        mode: Mode,
    ) -> Result<(), Reject> {
        match e {
            TransactionExpiration::None if no_gas_payment && mode == Mode::Execute => Err(
                Reject::input("Transaction with empty gas payment must specify an expiration."),
            ),
            TransactionExpiration::None | TransactionExpiration::Epoch(_) => Ok(()),
            TransactionExpiration::ValidDuring {
                min_epoch, chain, ..
            } => {
                if chain.0 != self.chain_id.0 {
                    return Err(Reject::input(format!(
                        "Transaction chain ID {chain} does not match network chain ID {}.",
                        self.chain_id
                    )));
                }
                if min_epoch.is_some_and(|e| e > 0) {
                    return Err(Reject::input(
                        "Invalid transaction expiration: the transaction is not valid in epoch 0",
                    ));
                }
                if no_gas_payment && mode == Mode::Execute {
                    return Err(Reject::NotModelled(
                        "address-balance gas payment is not modelled by daas-sandbox: pay with a gas coin".into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Commands the sandbox cannot run are refused up front, saying so.
    fn check_commands(&self, pt: &ProgrammableTransaction) -> Result<(), Reject> {
        for (i, c) in pt.commands.iter().enumerate() {
            match c {
                Command::MoveCall(call) if call.package != self.package => {
                    let framework = (1..=3).any(|n| call.package == ObjectId::from_u64(n));
                    return Err(if framework {
                        Reject::NotModelled(format!(
                            "command {i}: {}::{}::{} is not modelled by daas-sandbox (it serves only {}::{})",
                            call.package,
                            call.module,
                            call.function,
                            self.package,
                            onchain::MODULE
                        ))
                    } else {
                        Reject::input(format!(
                            "Could not find the referenced object {} at version None",
                            call.package
                        ))
                    });
                }
                Command::TransferObjects(objs, _) if objs.contains(&Argument::GasCoin) => {
                    return Err(Reject::NotModelled(format!(
                        "command {i}: transferring the gas coin is not modelled by daas-sandbox"
                    )));
                }
                Command::MakeMoveVec(..) | Command::Publish(..) | Command::Upgrade(..) => {
                    return Err(Reject::NotModelled(format!(
                        "command {i}: {} is not modelled by daas-sandbox",
                        match c {
                            Command::MakeMoveVec(..) => "MakeMoveVec",
                            Command::Publish(..) => "Publish",
                            _ => "Upgrade",
                        }
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_shared(
        &self,
        id: &ObjectId,
        initial_shared_version: u64,
        mutable: bool,
    ) -> Result<InputKind, Reject> {
        if *id == CLOCK_ID && mutable {
            return Err(Reject::input(
                "Mutable parameter provided, immutable parameter expected",
            ));
        }
        let owner_isv = match self.store.objects.get(id) {
            Some(o) => match o.owner {
                Owner::Shared(isv) => isv,
                _ => return Err(Reject::input("Object used as shared is not shared")),
            },
            None => match self.store.deleted.get(id) {
                // consensus assigns a deleted shared object the version it was deleted at;
                // the transaction then fails in execution (InputObjectDeleted)
                Some(t) if self.was_shared(id) => {
                    return Ok(InputKind::DeletedShared {
                        id: *id,
                        version: t.version,
                        mutable,
                    });
                }
                _ => {
                    return Err(Reject::input(format!(
                        "Could not find the referenced object {id} at version None"
                    )));
                }
            },
        };
        if owner_isv != initial_shared_version {
            return Err(Reject::input(
                "Wrong initial version given for shared object",
            ));
        }
        Ok(InputKind::Shared { id: *id, mutable })
    }

    fn was_shared(&self, id: &ObjectId) -> bool {
        self.store.history.get(id).is_some_and(|h| {
            h.iter().any(|(_, s)| {
                matches!(s, crate::store::Slot::Live(o) if matches!(o.owner, Owner::Shared(_)))
            })
        })
    }

    fn advanced_clock(&self, now: u64, tx: TransactionDigest) -> Obj {
        let clock = &self.store.objects[&CLOCK_ID];
        Obj::new(
            CLOCK_ID,
            clock.version + 1,
            clock.owner,
            Contents::Clock {
                id: CLOCK_ID,
                timestamp_ms: now,
            },
            tx,
            &self.package,
            clock.storage_rebate,
        )
    }

    /// The consensus commit prologue of checkpoint `checkpoint`: the Clock moves to `now`
    /// at its next version. Applied to the store; returned for the checkpoint contents.
    /// Its digest is the sandbox's own (over the checkpoint and time), not the digest of
    /// a `ConsensusCommitPrologue` transaction.
    fn consensus_commit_prologue(&mut self, checkpoint: u64, now: u64) -> SystemTx {
        let digest = TransactionDigest(blake2b256(&[
            b"daas-sandbox/consensus-commit-prologue",
            &checkpoint.to_le_bytes(),
            &now.to_le_bytes(),
        ]));
        let before = self.store.objects[&CLOCK_ID].clone();
        let after = self.advanced_clock(now, digest);
        let effects = TransactionEffectsV2 {
            status: ExecutionStatus::Success,
            executed_epoch: 0,
            gas_used: GasCostSummary::default(),
            transaction_digest: Digest(digest.0),
            gas_object_index: None,
            events_digest: None,
            dependencies: vec![Digest(before.previous_tx.0)],
            lamport_version: after.version,
            changed_objects: vec![(
                CLOCK_ID,
                EffectsObjectChange {
                    input_state: ObjectIn::Exist((
                        (before.version, Digest(before.digest)),
                        before.owner.to_ledger(),
                    )),
                    output_state: ObjectOut::ObjectWrite((
                        Digest(after.digest),
                        after.owner.to_ledger(),
                    )),
                    id_operation: IdOperation::None,
                },
            )],
            unchanged_shared_objects: vec![],
            aux_data_digest: None,
        };
        self.store.put(after, checkpoint);
        SystemTx { digest, effects }
    }

    /// Phases 3–5 over the checked transaction.
    fn run(
        &self,
        c: Checked,
        extra: &HashMap<ObjectId, Obj>,
        now: u64,
        checkpoint: u64,
    ) -> Outcome {
        let inputs = self.input_versions(&c, extra);

        // phase 3: the gas set-aside
        let mut s = Scratch {
            base: &self.store,
            extra,
            overlay: BTreeMap::new(),
            created: BTreeSet::new(),
            digest: c.digest,
            counter: 0,
            events: Vec::new(),
            sender: c.sender,
            now,
        };
        let gas_id = c.gas_coins[0];
        let total = s.smash_gas(&c.gas_coins);
        s.set_coin_balance(gas_id, total - c.budget);

        // phase 4: the commands (not run when a shared input was deleted meanwhile)
        let (mut result, command_units) = if inputs.deleted_shared.is_empty() {
            execute_commands(&mut s, c.tx.programmable(), gas_id, self.package, &c.inputs)
        } else {
            (Err((ExecutionFailureStatus::InputObjectDeleted, None)), 0)
        };

        // phase 5: the gas charge, then effects and versions
        let units = inputs.read_bytes * gas::OBJ_ACCESS_COST_READ_PER_BYTE + command_units;
        let charge = self.charge(
            &mut s,
            &c,
            &mut result,
            units,
            total,
            &inputs.mutable,
            inputs.lamport,
        );
        let status = match result {
            Ok(()) => ExecutionStatus::Success,
            Err((error, command)) => ExecutionStatus::Failure {
                error,
                command: command.map(|c| c as u64),
            },
        };
        self.seal(c, s, inputs, status, &charge, now, checkpoint)
    }

    /// Phase 2 (the versions the inputs bring): the Lamport version — one above every
    /// input version, deleted shared ones included — the inputs taken mutably, the
    /// bytes read, the dependencies and the read-only and deleted shared inputs.
    fn input_versions(&self, c: &Checked, extra: &HashMap<ObjectId, Obj>) -> InputVersions {
        let object = |id: &ObjectId| extra.get(id).or_else(|| self.store.objects.get(id));
        let mut v = InputVersions::default();
        let mut max_version = 0;
        let mut consider = |v: &mut InputVersions, o: &Obj, is_mutable: bool| {
            max_version = max_version.max(o.version);
            v.read_bytes += o.size_for_gas(&self.package);
            if o.previous_tx.0 != [0; 32] {
                v.dependencies.insert(o.previous_tx.0);
            }
            if is_mutable {
                v.mutable.push(o.id);
            }
        };
        for g in &c.gas_coins {
            consider(&mut v, object(g).expect("gas coins were checked"), true);
        }
        for input in &c.inputs {
            match *input {
                InputKind::Pure => {}
                InputKind::Owned { id, immutable } => consider(
                    &mut v,
                    object(&id).expect("owned inputs were checked"),
                    !immutable,
                ),
                InputKind::Shared { id, mutable } => {
                    let o = object(&id).expect("shared inputs were checked");
                    consider(&mut v, o, mutable);
                    if !mutable {
                        v.readonly_shared.push((id, o.version, o.digest));
                    }
                }
                InputKind::DeletedShared {
                    id,
                    version,
                    mutable,
                } => v.deleted_shared.push((id, version, mutable)),
            }
        }
        let max_deleted = v
            .deleted_shared
            .iter()
            .map(|(_, v, _)| *v)
            .max()
            .unwrap_or(0);
        v.lamport = max_version.max(max_deleted) + 1;
        v
    }

    /// Phase 5b: the written objects at the Lamport version (fresh shared objects take
    /// it as their initial shared version), the object changes of the effects and the
    /// balance changes per owner.
    fn object_changes(
        &self,
        s: &Scratch<'_>,
        lamport: u64,
        charge: &Charge,
        digest: TransactionDigest,
    ) -> ObjectChanges {
        let mut out = ObjectChanges::default();
        let mut balances: BTreeMap<Address, i128> = BTreeMap::new();
        for (id, after) in &s.overlay {
            let before = s.original(id);
            if let Some(Obj {
                owner: Owner::Address(a),
                contents: Contents::Coin(coin),
                ..
            }) = before
            {
                *balances.entry(*a).or_default() -= coin.balance.value as i128;
            }
            if let Some((Owner::Address(a), Contents::Coin(coin))) = after {
                *balances.entry(*a).or_default() += coin.balance.value as i128;
            }
            let input = before.map(|b| (b.version, b.digest, b.owner));
            let output = after.as_ref().map(|(owner, contents)| {
                let owner = match owner {
                    Owner::Shared(0) => Owner::Shared(lamport),
                    o => *o,
                };
                let rebate = charge.rebates.get(id).copied().unwrap_or(0);
                let obj = Obj::new(
                    *id,
                    lamport,
                    owner,
                    contents.clone(),
                    digest,
                    &self.package,
                    rebate,
                );
                let written = (obj.digest, owner);
                out.writes.push(obj);
                written
            });
            if input.is_none() && output.is_none() {
                // created and destroyed within the transaction: leaves no trace
                continue;
            }
            let type_ = before
                .map(|b| b.contents.type_(&self.package))
                .or_else(|| after.as_ref().map(|(_, c)| c.type_(&self.package)))
                .unwrap_or_default();
            out.changed.push(ChangedObject {
                id: *id,
                input,
                output,
                type_,
            });
        }
        out.balances = balances.into_iter().filter(|(_, v)| *v != 0).collect();
        out
    }

    /// Phase 5c: the events, Sui's `TransactionEffectsV2` and the record of the
    /// transaction.
    #[allow(clippy::too_many_arguments)]
    fn seal(
        &self,
        c: Checked,
        mut s: Scratch<'_>,
        inputs: InputVersions,
        status: ExecutionStatus,
        charge: &Charge,
        now: u64,
        checkpoint: u64,
    ) -> Outcome {
        let lamport = inputs.lamport;
        let gas_id = c.gas_coins[0];
        let ObjectChanges {
            changed,
            writes,
            balances,
        } = self.object_changes(&s, lamport, charge, c.digest);
        let mut unchanged_shared: Vec<(ObjectId, UnchangedSharedKind)> = inputs
            .readonly_shared
            .into_iter()
            .map(|(id, v, d)| (id, UnchangedSharedKind::ReadOnlyRoot((v, Digest(d)))))
            .collect();
        for (id, version, mutable) in inputs.deleted_shared {
            unchanged_shared.push((
                id,
                if mutable {
                    UnchangedSharedKind::MutateDeleted(version)
                } else {
                    UnchangedSharedKind::ReadDeleted(version)
                },
            ));
        }
        let events: Vec<RegistryEvent> = std::mem::take(&mut s.events);
        let stored: Vec<StoredEvent> = events
            .iter()
            .enumerate()
            .map(|(i, event)| StoredEvent {
                tx_digest: c.digest,
                event_seq: i as u64,
                global_seq: 0,
                checkpoint,
                timestamp_ms: now,
                sender: c.sender,
                module: onchain::MODULE.into(),
                event: event.clone(),
            })
            .collect();
        let events_digest = (!stored.is_empty()).then(|| {
            TransactionEvents {
                data: stored.iter().map(|e| e.to_ledger(&self.package)).collect(),
            }
            .digest()
        });
        let dependencies: Vec<TransactionDigest> = inputs
            .dependencies
            .into_iter()
            .map(TransactionDigest)
            .collect();
        let effects = TransactionEffectsV2 {
            status: status.clone(),
            executed_epoch: 0,
            gas_used: charge.summary,
            transaction_digest: Digest(c.digest.0),
            gas_object_index: changed
                .iter()
                .position(|x| x.id == gas_id)
                .map(|i| i as u32),
            events_digest,
            dependencies: dependencies.iter().map(|d| Digest(d.0)).collect(),
            lamport_version: lamport,
            changed_objects: changed.iter().map(ChangedObject::to_effects).collect(),
            unchanged_shared_objects: unchanged_shared.clone(),
            aux_data_digest: None,
        };
        let record = TxRecord {
            digest: c.digest,
            tx_bytes: c.tx_bytes,
            signatures: c.signatures,
            sender: c.sender,
            status,
            gas: charge.summary,
            lamport_version: lamport,
            changed,
            unchanged_shared,
            gas_object: gas_id,
            dependencies,
            balance_changes: balances,
            events: 0..0,
            effects,
            timestamp_ms: now,
            checkpoint,
        };
        Outcome {
            record,
            events,
            writes,
        }
    }

    /// Phase 5a: Sui's `GasCharger::charge_gas` for gas model 2+.
    #[allow(clippy::too_many_arguments)]
    fn charge(
        &self,
        s: &mut Scratch<'_>,
        c: &Checked,
        result: &mut Result<(), (ExecutionFailureStatus, Option<usize>)>,
        units: u64,
        gas_total: u64,
        mutable: &[ObjectId],
        lamport: u64,
    ) -> Charge {
        let gas_id = c.gas_coins[0];
        let mut computation = gas::bucket(units) * c.price;
        if computation >= c.budget {
            computation = c.budget;
            if result.is_ok() {
                *result = Err((ExecutionFailureStatus::InsufficientGas, None));
            }
        }
        if result.is_err() {
            s.reset(&c.gas_coins);
        } else {
            // the budget set aside before the commands is the coin's again
            let b = s.coin_balance(&gas_id).expect("the gas coin exists");
            s.set_coin_balance(gas_id, b + c.budget);
        }
        let mut storage = self.collect_storage(s, mutable, lamport, c.digest);
        let over = |storage: &Storage, computation: u64| {
            let sender = gas::sender_rebate(storage.rebate);
            sender < storage.cost && c.budget - computation < storage.cost - sender
        };
        if over(&storage, computation) {
            // out of gas paying for storage: charge only for the inputs' storage
            s.reset(&c.gas_coins);
            storage = self.collect_storage(s, mutable, lamport, c.digest);
            if over(&storage, computation) {
                // not even that: the whole budget as computation, no storage charge
                computation = c.budget;
                storage.cost = 0;
                storage.rebates.values_mut().for_each(|r| *r = 0);
            }
            if result.is_ok() {
                *result = Err((ExecutionFailureStatus::InsufficientGas, None));
            }
        }
        let sender = gas::sender_rebate(storage.rebate);
        let summary = GasCostSummary {
            computation_cost: computation,
            storage_cost: storage.cost,
            storage_rebate: sender,
            non_refundable_storage_fee: storage.rebate - sender,
        };
        let net = summary.net_gas_usage();
        let balance = s.coin_balance(&gas_id).expect("the gas coin exists") as i128;
        debug_assert!(balance >= net && balance <= gas_total as i128 + storage.rebate as i128);
        s.set_coin_balance(gas_id, (balance - net) as u64);
        Charge {
            summary,
            rebates: storage.rebates,
        }
    }

    /// `ensure_active_inputs_mutated` then `collect_storage_and_rebate`: every mutable
    /// input is written; each written object costs its size in storage and carries that
    /// as its new `storage_rebate`; each replaced or deleted version pays its rebate back.
    fn collect_storage(
        &self,
        s: &mut Scratch<'_>,
        mutable: &[ObjectId],
        lamport: u64,
        digest: TransactionDigest,
    ) -> Storage {
        for id in mutable {
            if !s.overlay.contains_key(id) {
                let (owner, contents) = s
                    .get(id)
                    .map(|(o, c)| (o, c.clone()))
                    .expect("inputs exist");
                s.overlay.insert(*id, Some((owner, contents)));
            }
        }
        let mut out = Storage::default();
        for (id, after) in &s.overlay {
            if let Some(before) = s.original(id) {
                out.rebate += before.storage_rebate;
            }
            if let Some((owner, contents)) = after {
                let obj = Obj::new(
                    *id,
                    lamport,
                    *owner,
                    contents.clone(),
                    digest,
                    &self.package,
                    0,
                );
                let cost = gas::storage_cost(obj.size_for_gas(&self.package));
                out.cost += cost;
                out.rebates.insert(*id, cost);
            }
        }
        out
    }

    /// Applies an executed transaction: its objects and events, and the checkpoint
    /// holding its prologue and itself.
    fn commit(&mut self, outcome: Outcome, prologue: SystemTx) {
        let Outcome {
            mut record,
            events,
            writes,
        } = outcome;
        let checkpoint = record.checkpoint;
        for c in &record.changed {
            if c.output.is_none() {
                self.store.remove(
                    ObjectRef {
                        id: c.id,
                        version: record.lamport_version,
                        digest: ledger::OBJECT_DIGEST_DELETED,
                    },
                    checkpoint,
                );
            }
        }
        for obj in writes {
            self.store.put(obj, checkpoint);
        }
        let first = self.store.events.len();
        for (seq, event) in events.into_iter().enumerate() {
            let global_seq = self.store.events.len() as u64;
            self.store.events.push(StoredEvent {
                tx_digest: record.digest,
                event_seq: seq as u64,
                global_seq,
                checkpoint,
                timestamp_ms: record.timestamp_ms,
                sender: record.sender,
                module: onchain::MODULE.into(),
                event,
            });
        }
        record.events = first..self.store.events.len();
        let signatures = record
            .signatures
            .iter()
            .map(|s| {
                UserSignature::from_base64(s)
                    .expect("verified")
                    .as_bytes()
                    .to_vec()
            })
            .collect();
        self.store.seal_checkpoint(
            record.timestamp_ms,
            vec![
                CheckpointEntry {
                    digest: prologue.digest,
                    effects_digest: prologue.effects.digest(),
                    signatures: vec![],
                },
                CheckpointEntry {
                    digest: record.digest,
                    effects_digest: record.effects.digest(),
                    signatures,
                },
            ],
            record.gas,
        );
        self.store.txs.insert(record.digest, record);
    }
}

/// What the inputs bring to execution (phase 2, [`Engine::input_versions`]).
#[derive(Default)]
struct InputVersions {
    lamport: u64,
    /// Every input taken mutably, gas coins first: each is written at `lamport`.
    mutable: Vec<ObjectId>,
    read_bytes: u64,
    dependencies: BTreeSet<[u8; 32]>,
    /// (id, version the consensus assigned, taken mutably)
    deleted_shared: Vec<(ObjectId, u64, bool)>,
    /// (id, version, digest)
    readonly_shared: Vec<(ObjectId, u64, [u8; 32])>,
}

/// Phase 5b's output ([`Engine::object_changes`]).
#[derive(Default)]
struct ObjectChanges {
    changed: Vec<ChangedObject>,
    writes: Vec<Obj>,
    balances: Vec<(Address, i128)>,
}

/// What phases 3–5 produce: the record, the events, and the written object versions.
struct Outcome {
    record: TxRecord,
    events: Vec<RegistryEvent>,
    writes: Vec<Obj>,
}

struct SeqDebug(u64);

impl std::fmt::Debug for SeqDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SequenceNumber({})", self.0)
    }
}

#[derive(Debug, Default)]
struct Storage {
    cost: u64,
    rebate: u64,
    rebates: HashMap<ObjectId, u64>,
}

struct Charge {
    summary: GasCostSummary,
    rebates: HashMap<ObjectId, u64>,
}

fn clock_time(o: &Obj) -> u64 {
    match o.contents {
        Contents::Clock { timestamp_ms, .. } => timestamp_ms,
        _ => 0,
    }
}

type ExecResult = Result<(), (ExecutionFailureStatus, Option<usize>)>;

fn arg_error(
    cmd: usize,
    arg_idx: usize,
    kind: CommandArgumentError,
) -> (ExecutionFailureStatus, Option<usize>) {
    (
        ExecutionFailureStatus::CommandArgumentError {
            arg_idx: arg_idx as u16,
            kind,
        },
        Some(cmd),
    )
}

fn type_error(cmd: usize, arg_idx: usize) -> (ExecutionFailureStatus, Option<usize>) {
    arg_error(cmd, arg_idx, CommandArgumentError::TypeMismatch)
}

fn function_index(name: &str) -> u16 {
    onchain::ENTRY_FUNCTIONS
        .iter()
        .position(|f| f.name == name)
        .unwrap_or(0) as u16
}

/// Phase 4: the commands, in order, over the scratch state. Returns the outcome and the
/// computation units the commands used (the sandbox's estimate, see [`gas`]).
fn execute_commands(
    s: &mut Scratch<'_>,
    pt: &ProgrammableTransaction,
    gas_id: ObjectId,
    package: ObjectId,
    kinds: &[InputKind],
) -> (ExecResult, u64) {
    let mut units = 0;
    let mut inputs: Vec<Val> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| match k {
            InputKind::Pure => Val::Pure(i as u16),
            InputKind::Owned { id, .. }
            | InputKind::Shared { id, .. }
            | InputKind::DeletedShared { id, .. } => Val::Object(*id),
        })
        .collect();
    let mutable_shared: Vec<ObjectId> = kinds
        .iter()
        .filter_map(|k| match k {
            InputKind::Shared { id, mutable: true } => Some(*id),
            _ => None,
        })
        .collect();
    let mut results: Vec<Vec<Val>> = Vec::new();
    // coins made by SplitCoins: balance (None once moved) and where they came from
    let mut new_coins: BTreeMap<ObjectId, (Option<u64>, u16, u16)> = BTreeMap::new();

    let get = |inputs: &[Val], results: &[Vec<Val>], a: &Argument, cmd: usize, k: usize| {
        let oob = |idx: u16| arg_error(cmd, k, CommandArgumentError::IndexOutOfBounds { idx });
        match a {
            Argument::GasCoin => Ok(Val::Object(gas_id)),
            Argument::Input(i) => inputs.get(*i as usize).copied().ok_or_else(|| oob(*i)),
            Argument::Result(i) => match results.get(*i as usize).map(Vec::as_slice) {
                Some([v]) => Ok(*v),
                Some(_) => Err(arg_error(
                    cmd,
                    k,
                    CommandArgumentError::InvalidResultArity { result_idx: *i },
                )),
                None => Err(oob(*i)),
            },
            Argument::NestedResult(i, j) => match results.get(*i as usize) {
                None => Err(oob(*i)),
                Some(r) => r.get(*j as usize).copied().ok_or_else(|| {
                    arg_error(
                        cmd,
                        k,
                        CommandArgumentError::SecondaryIndexOutOfBounds {
                            result_idx: *i,
                            secondary_idx: *j,
                        },
                    )
                }),
            },
        }
    };
    let pure = |i: u16| match &pt.inputs[i as usize] {
        CallArg::Pure(b) => b.as_slice(),
        _ => unreachable!("Val::Pure indexes a pure input"),
    };

    fn mark_moved(inputs: &mut [Val], results: &mut [Vec<Val>], a: &Argument) {
        match a {
            Argument::Input(i) => inputs[*i as usize] = Val::Moved,
            Argument::Result(i) => results[*i as usize][0] = Val::Moved,
            Argument::NestedResult(i, j) => results[*i as usize][*j as usize] = Val::Moved,
            Argument::GasCoin => {}
        }
    }

    for (cmd, c) in pt.commands.iter().enumerate() {
        match c {
            Command::SplitCoins(coin, amounts) => {
                units += gas::COMMAND_UNITS;
                let source = match get(&inputs, &results, coin, cmd, 0) {
                    Ok(v) => v,
                    Err(e) => return (Err(e), units),
                };
                let mut outs = Vec::new();
                for (k, a) in amounts.iter().enumerate() {
                    let v = match get(&inputs, &results, a, cmd, k + 1) {
                        Ok(Val::Pure(i)) => match bcs::from_bytes::<u64>(pure(i)) {
                            Ok(v) => v,
                            Err(_) => {
                                return (
                                    Err(arg_error(
                                        cmd,
                                        k + 1,
                                        CommandArgumentError::InvalidBCSBytes,
                                    )),
                                    units,
                                );
                            }
                        },
                        Ok(_) => return (Err(type_error(cmd, k + 1)), units),
                        Err(e) => return (Err(e), units),
                    };
                    // each amount is split off in turn (coin::split), its id taken now
                    let balance = match source {
                        Val::Object(id) => s.coin_balance(&id),
                        Val::NewCoin(id) => new_coins.get(&id).and_then(|c| c.0),
                        _ => None,
                    };
                    let Some(balance) = balance else {
                        return (Err(type_error(cmd, 0)), units);
                    };
                    if balance < v {
                        return (
                            Err((ExecutionFailureStatus::InsufficientCoinBalance, Some(cmd))),
                            units,
                        );
                    }
                    match source {
                        Val::Object(id) => s.set_coin_balance(id, balance - v),
                        Val::NewCoin(id) => {
                            new_coins.get_mut(&id).expect("checked").0 = Some(balance - v)
                        }
                        _ => unreachable!("checked above"),
                    }
                    let id = s.fresh_id();
                    new_coins.insert(id, (Some(v), cmd as u16, k as u16));
                    outs.push(Val::NewCoin(id));
                }
                results.push(outs);
            }
            Command::MergeCoins(target, sources) => {
                units += gas::COMMAND_UNITS;
                let mut add = 0u64;
                for (k, a) in sources.iter().enumerate() {
                    let value = match get(&inputs, &results, a, cmd, k + 1) {
                        Ok(Val::Object(id)) if id == gas_id => {
                            return (
                                Err(arg_error(
                                    cmd,
                                    k + 1,
                                    CommandArgumentError::InvalidGasCoinUsage,
                                )),
                                units,
                            );
                        }
                        Ok(Val::Object(id)) => match s.coin_balance(&id) {
                            Some(v) => {
                                s.delete(id);
                                v
                            }
                            None => return (Err(type_error(cmd, k + 1)), units),
                        },
                        Ok(Val::NewCoin(id)) => {
                            match new_coins.get_mut(&id).and_then(|c| c.0.take()) {
                                Some(v) => v,
                                None => {
                                    return (
                                        Err(arg_error(
                                            cmd,
                                            k + 1,
                                            CommandArgumentError::InvalidValueUsage,
                                        )),
                                        units,
                                    );
                                }
                            }
                        }
                        Ok(Val::Moved) => {
                            return (
                                Err(arg_error(
                                    cmd,
                                    k + 1,
                                    CommandArgumentError::InvalidValueUsage,
                                )),
                                units,
                            );
                        }
                        Ok(Val::Pure(_)) => return (Err(type_error(cmd, k + 1)), units),
                        Err(e) => return (Err(e), units),
                    };
                    add = match add.checked_add(value) {
                        Some(v) => v,
                        None => {
                            return (
                                Err((ExecutionFailureStatus::CoinBalanceOverflow, Some(cmd))),
                                units,
                            );
                        }
                    };
                    mark_moved(&mut inputs, &mut results, a);
                }
                let target_val = match get(&inputs, &results, target, cmd, 0) {
                    Ok(v) => v,
                    Err(e) => return (Err(e), units),
                };
                let overflow = (ExecutionFailureStatus::CoinBalanceOverflow, Some(cmd));
                match target_val {
                    Val::Object(id) => match s.coin_balance(&id) {
                        Some(b) => match b.checked_add(add) {
                            Some(v) => s.set_coin_balance(id, v),
                            None => return (Err(overflow), units),
                        },
                        None => return (Err(type_error(cmd, 0)), units),
                    },
                    Val::NewCoin(id) => match new_coins.get_mut(&id) {
                        Some((Some(b), ..)) => match b.checked_add(add) {
                            Some(v) => *b = v,
                            None => return (Err(overflow), units),
                        },
                        _ => {
                            return (
                                Err(arg_error(cmd, 0, CommandArgumentError::InvalidValueUsage)),
                                units,
                            );
                        }
                    },
                    _ => return (Err(type_error(cmd, 0)), units),
                }
                results.push(vec![]);
            }
            Command::TransferObjects(objects, recipient) => {
                units += gas::COMMAND_UNITS;
                let to: Address = match get(&inputs, &results, recipient, cmd, objects.len()) {
                    Ok(Val::Pure(i)) => match bcs::from_bytes(pure(i)) {
                        Ok(a) => a,
                        Err(_) => {
                            return (
                                Err(arg_error(
                                    cmd,
                                    objects.len(),
                                    CommandArgumentError::InvalidBCSBytes,
                                )),
                                units,
                            );
                        }
                    },
                    Ok(_) => return (Err(type_error(cmd, objects.len())), units),
                    Err(e) => return (Err(e), units),
                };
                for (k, a) in objects.iter().enumerate() {
                    match get(&inputs, &results, a, cmd, k) {
                        Ok(Val::Object(id)) => match s.get(&id) {
                            Some((
                                Owner::Address(_),
                                Contents::Coin(_) | Contents::AdminCap(_) | Contents::SlashCap(_),
                            )) => s.set_owner(id, Owner::Address(to)),
                            Some((Owner::Address(_), _)) => {
                                return (
                                    Err((ExecutionFailureStatus::InvalidTransferObject, Some(cmd))),
                                    units,
                                );
                            }
                            _ => {
                                return (
                                    Err(arg_error(
                                        cmd,
                                        k,
                                        CommandArgumentError::InvalidObjectByValue,
                                    )),
                                    units,
                                );
                            }
                        },
                        Ok(Val::NewCoin(id)) => match new_coins
                            .get_mut(&id)
                            .and_then(|c| c.0.take())
                        {
                            Some(v) => s.create(
                                id,
                                Owner::Address(to),
                                Contents::Coin(onchain::Coin {
                                    id,
                                    balance: onchain::Balance { value: v },
                                }),
                            ),
                            None => {
                                return (
                                    Err(arg_error(cmd, k, CommandArgumentError::InvalidValueUsage)),
                                    units,
                                );
                            }
                        },
                        Ok(Val::Moved) => {
                            return (
                                Err(arg_error(cmd, k, CommandArgumentError::InvalidValueUsage)),
                                units,
                            );
                        }
                        Ok(Val::Pure(_)) => return (Err(type_error(cmd, k)), units),
                        Err(e) => return (Err(e), units),
                    }
                    mark_moved(&mut inputs, &mut results, a);
                }
                results.push(vec![]);
            }
            Command::MoveCall(call) => {
                units += gas::MOVE_CALL_UNITS;
                debug_assert_eq!(call.package, package, "checked before execution");
                let Some(f) = (call.module == onchain::MODULE)
                    .then(|| onchain::entry_function(&call.function))
                    .flatten()
                else {
                    return (
                        Err((ExecutionFailureStatus::FunctionNotFound, Some(cmd))),
                        units,
                    );
                };
                if !call.type_arguments.is_empty() {
                    return (
                        Err((ExecutionFailureStatus::TypeArityMismatch, Some(cmd))),
                        units,
                    );
                }
                if call.arguments.len() != f.params.len() {
                    return (
                        Err((ExecutionFailureStatus::ArityMismatch, Some(cmd))),
                        units,
                    );
                }
                if matches!(f.name, "stake_and_register_worker" | "rotate_seal_token") {
                    units += gas::SEAL_TOKEN_CHECK_UNITS;
                }
                let mut args = Vec::with_capacity(f.params.len());
                for (k, (p, a)) in f.params.iter().zip(&call.arguments).enumerate() {
                    let v = match get(&inputs, &results, a, cmd, k) {
                        Ok(v) => v,
                        Err(e) => return (Err(e), units),
                    };
                    let kind = |id: &ObjectId| s.get(id).map(|(o, c)| (o, c.clone()));
                    let by_mut_ref =
                        || arg_error(cmd, k, CommandArgumentError::InvalidObjectByMutRef);
                    let arg = match (p, &v) {
                        (Param::Registry | Param::RegistryMut, Val::Object(id)) => match kind(id) {
                            Some((_, Contents::Registry(_))) => {
                                if *p == Param::RegistryMut && !mutable_shared.contains(id) {
                                    return (Err(by_mut_ref()), units);
                                }
                                Arg::Object(*id)
                            }
                            _ => return (Err(type_error(cmd, k)), units),
                        },
                        (Param::WorkerMut | Param::WorkerByValue, Val::Object(id)) => {
                            match kind(id) {
                                Some((_, Contents::Worker(_))) => {
                                    if !mutable_shared.contains(id) {
                                        return (Err(by_mut_ref()), units);
                                    }
                                    Arg::Object(*id)
                                }
                                _ => return (Err(type_error(cmd, k)), units),
                            }
                        }
                        (Param::AdminCap, Val::Object(id)) => match kind(id) {
                            Some((_, Contents::AdminCap(_))) => Arg::Object(*id),
                            _ => return (Err(type_error(cmd, k)), units),
                        },
                        (Param::SlashCap, Val::Object(id)) => match kind(id) {
                            Some((_, Contents::SlashCap(_))) => Arg::Object(*id),
                            _ => return (Err(type_error(cmd, k)), units),
                        },
                        (Param::MasterCap, Val::Object(id)) => match kind(id) {
                            Some((_, Contents::MasterCap(_))) => Arg::Object(*id),
                            _ => return (Err(type_error(cmd, k)), units),
                        },
                        (Param::Clock, Val::Object(id)) if *id == CLOCK_ID => Arg::Object(*id),
                        (Param::Coin, Val::NewCoin(id)) => {
                            match new_coins.get_mut(id).and_then(|c| c.0.take()) {
                                Some(v) => {
                                    mark_moved(&mut inputs, &mut results, a);
                                    Arg::Coin(v)
                                }
                                None => {
                                    return (
                                        Err(arg_error(
                                            cmd,
                                            k,
                                            CommandArgumentError::InvalidValueUsage,
                                        )),
                                        units,
                                    );
                                }
                            }
                        }
                        (Param::Coin, Val::Object(id)) if *id == gas_id => {
                            return (
                                Err(arg_error(cmd, k, CommandArgumentError::InvalidGasCoinUsage)),
                                units,
                            );
                        }
                        (Param::Coin, Val::Object(id)) => match s.coin_balance(id) {
                            Some(v) => {
                                s.delete(*id);
                                mark_moved(&mut inputs, &mut results, a);
                                Arg::Coin(v)
                            }
                            None => return (Err(type_error(cmd, k)), units),
                        },
                        (_, Val::Moved) => {
                            return (
                                Err(arg_error(cmd, k, CommandArgumentError::InvalidValueUsage)),
                                units,
                            );
                        }
                        (Param::U64, Val::Pure(i)) => match bcs::from_bytes(pure(*i)) {
                            Ok(v) => Arg::U64(v),
                            Err(_) => {
                                return (
                                    Err(arg_error(cmd, k, CommandArgumentError::InvalidBCSBytes)),
                                    units,
                                );
                            }
                        },
                        (Param::String, Val::Pure(i)) => {
                            match bcs::from_bytes::<String>(pure(*i)) {
                                Ok(v) => Arg::String(v),
                                Err(_) => {
                                    return (
                                        Err(arg_error(
                                            cmd,
                                            k,
                                            CommandArgumentError::InvalidBCSBytes,
                                        )),
                                        units,
                                    );
                                }
                            }
                        }
                        (Param::Bytes, Val::Pure(i)) => {
                            match bcs::from_bytes::<Vec<u8>>(pure(*i)) {
                                Ok(v) => Arg::Bytes(v),
                                Err(_) => {
                                    return (
                                        Err(arg_error(
                                            cmd,
                                            k,
                                            CommandArgumentError::InvalidBCSBytes,
                                        )),
                                        units,
                                    );
                                }
                            }
                        }
                        (Param::Address, Val::Pure(i)) => match bcs::from_bytes(pure(*i)) {
                            Ok(v) => Arg::Address(v),
                            Err(_) => {
                                return (
                                    Err(arg_error(cmd, k, CommandArgumentError::InvalidBCSBytes)),
                                    units,
                                );
                            }
                        },
                        (Param::Id, Val::Pure(i)) => match bcs::from_bytes(pure(*i)) {
                            Ok(v) => Arg::Id(v),
                            Err(_) => {
                                return (
                                    Err(arg_error(cmd, k, CommandArgumentError::InvalidBCSBytes)),
                                    units,
                                );
                            }
                        },
                        _ => return (Err(type_error(cmd, k)), units),
                    };
                    args.push(arg);
                }
                if matches!(f.params.get(1), Some(Param::WorkerByValue)) {
                    mark_moved(&mut inputs, &mut results, &call.arguments[1]);
                }
                if let Err(Abort(code)) = s.call(f.name, args) {
                    let location = MoveLocation {
                        module: ModuleId {
                            address: package.into(),
                            name: onchain::MODULE.into(),
                        },
                        function: function_index(f.name),
                        instruction: 0,
                        function_name: Some(f.name.into()),
                    };
                    return (
                        Err((ExecutionFailureStatus::MoveAbort(location, code), Some(cmd))),
                        units,
                    );
                }
                results.push(vec![]);
            }
            Command::MakeMoveVec(..) | Command::Publish(..) | Command::Upgrade(..) => {
                unreachable!("refused before execution")
            }
        }
    }
    if let Some((_, (_, cmd, j))) = new_coins.iter().find(|(_, c)| c.0.is_some()) {
        return (
            Err((
                ExecutionFailureStatus::UnusedValueWithoutDrop {
                    result_idx: *cmd,
                    secondary_idx: *j,
                },
                None,
            )),
            units,
        );
    }
    (Ok(()), units)
}
