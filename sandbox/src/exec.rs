//! Transaction execution: decode BCS, verify the signature, check inputs and gas the
//! way a validator does, run the programmable transaction, charge gas, and produce
//! effects. Deterministic: the same bytes at the same timestamp give the same result.

use std::collections::HashMap;

use daas_protocol::hash::blake2b256;
use daas_protocol::onchain::{self, CLOCK_ID, Param, RegistryEvent};
use daas_protocol::sui::{TransactionDigest, UserSignature};
use daas_protocol::tx::{Argument, CallArg, Command, ObjectArg, TransactionData};
use daas_protocol::{Address, ObjectId};

use crate::rules::{Abort, Arg};
use crate::store::{Change, Contents, Gas, Obj, Owner, Status, Store, StoredEvent, TxRecord};

/// Gas model (documented in the README): computation units per transaction and per
/// command, times the gas price; storage per byte written; 99% of the storage cost of
/// overwritten or deleted object versions rebated.
pub const BASE_UNITS: u64 = 1_000;
/// Units per Move call.
pub const MOVE_CALL_UNITS: u64 = 2_000;
/// Units per other command.
pub const COMMAND_UNITS: u64 = 500;
/// MIST per byte of object storage.
pub const STORAGE_PRICE_PER_BYTE: u64 = 760;
/// Smallest budget, in units of the gas price.
pub const MIN_BUDGET_UNITS: u64 = 1_000;

/// Why a transaction was refused before execution (nothing charged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Undecodable bytes or arguments (JSON-RPC -32602).
    InvalidParams(String),
    /// Input, gas or limit errors (JSON-RPC -32002, validator wording).
    Inputs(String),
    /// A bad signature (JSON-RPC -32002).
    Signature(String),
}

impl Reject {
    /// The message a Sui node gives.
    pub fn message(&self) -> String {
        match self {
            Reject::InvalidParams(m) => m.clone(),
            Reject::Inputs(m) => format!(
                "Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- {m}"
            ),
            Reject::Signature(m) => format!("Invalid user signature: {m}"),
        }
    }
}

/// The mutable view of one transaction: writes go to an overlay that is committed
/// only when the transaction succeeds (or, for gas, always).
pub struct Scratch<'a> {
    base: &'a Store,
    overlay: HashMap<ObjectId, Option<(Owner, Contents)>>,
    created: Vec<ObjectId>,
    digest: TransactionDigest,
    counter: u64,
    events: Vec<RegistryEvent>,
    /// Sender.
    pub sender: Address,
    /// Transaction time.
    pub now: u64,
}

impl Scratch<'_> {
    /// An object as this transaction sees it.
    pub fn get(&self, id: &ObjectId) -> Option<(Owner, &Contents)> {
        match self.overlay.get(id) {
            Some(Some((o, c))) => Some((*o, c)),
            Some(None) => None,
            None => self.base.objects.get(id).map(|o| (o.owner, &o.contents)),
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

    /// A new object (a `Shared(_)` owner becomes shared at this transaction's version).
    pub fn create(&mut self, id: ObjectId, owner: Owner, contents: Contents) {
        self.created.push(id);
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
}

/// A value inside the running transaction.
#[derive(Debug, Clone)]
enum Val {
    /// An input object or the gas coin.
    Object(ObjectId),
    /// A coin made by SplitCoins, not yet stored: index into `new_coins`.
    NewCoin(usize),
    /// Pure bytes.
    Pure(Vec<u8>),
    /// A value already moved.
    Moved,
}

/// A failure during execution (gas is still charged).
#[derive(Debug, Clone)]
enum ExecError {
    Abort {
        code: u64,
        function: String,
        command: usize,
    },
    Other(String),
}

fn function_index(name: &str) -> u16 {
    onchain::ENTRY_FUNCTIONS
        .iter()
        .position(|f| f.name == name)
        .unwrap_or(0) as u16
}

/// The chain engine: state plus the deployment it serves.
pub struct Engine {
    /// State.
    pub store: Store,
    /// The registry package id.
    pub package: ObjectId,
    /// Reference gas price.
    pub reference_gas_price: u64,
}

impl Engine {
    /// Executes (or, with `dry_run`, simulates without signatures and without
    /// committing) a transaction at `now_ms`.
    /// Returns the record and the events emitted (stored too, unless a dry run).
    pub fn execute(
        &mut self,
        tx_bytes: &[u8],
        signatures: &[String],
        now_ms: u64,
        dry_run: bool,
    ) -> Result<(TxRecord, Vec<RegistryEvent>), Reject> {
        self.run(tx_bytes, signatures, now_ms, dry_run)
    }

    fn check_owned(
        &self,
        r: &daas_protocol::tx::ObjectRef,
        sender: &Address,
    ) -> Result<&Obj, Reject> {
        let not_available = |current: Option<u64>| {
            Reject::Inputs(match current {
                Some(v) => format!(
                    "Object ID {} Version {:#x} Digest {} is not available for consumption, current version: {:#x}",
                    r.id, r.version, r.digest, v
                ),
                None => format!(
                    "Could not find the referenced object {} at version {:?}",
                    r.id,
                    Some(r.version)
                ),
            })
        };
        let o = self
            .store
            .objects
            .get(&r.id)
            .ok_or_else(|| not_available(None))?;
        if o.version != r.version || o.digest != r.digest.0 {
            return Err(not_available(Some(o.version)));
        }
        match o.owner {
            Owner::Address(a) if a == *sender => Ok(o),
            Owner::Immutable => Ok(o),
            _ => Err(Reject::Inputs(format!(
                "Transaction was not signed by the correct sender: Object {} is owned by account address {:?}, but given owner/signer address is {sender}",
                r.id, o.owner
            ))),
        }
    }

    fn run(
        &mut self,
        tx_bytes: &[u8],
        signatures: &[String],
        now: u64,
        dry_run: bool,
    ) -> Result<(TxRecord, Vec<RegistryEvent>), Reject> {
        use daas_protocol::tx::limits;
        if tx_bytes.len() > limits::MAX_TX_SIZE {
            return Err(Reject::Inputs(format!(
                "SizeLimitExceeded {{ limit: \"maximum transaction size in bytes\", value: \"{}\" }}",
                limits::MAX_TX_SIZE
            )));
        }
        let tx = TransactionData::from_bcs(tx_bytes)
            .map_err(|e| Reject::InvalidParams(format!("Invalid transaction bytes: {e}")))?;
        tx.check_limits(tx_bytes.len())
            .map_err(|e| Reject::Inputs(e.to_string()))?;
        let v1 = tx.v1();
        let sender = v1.sender;
        if !dry_run {
            if signatures.len() != 1 {
                return Err(Reject::Signature(format!(
                    "expected 1 signature, got {}",
                    signatures.len()
                )));
            }
            let sig = UserSignature::from_base64(&signatures[0])
                .map_err(|e| Reject::Signature(e.to_string()))?;
            sig.verify_transaction(tx_bytes, &sender)
                .map_err(|e| Reject::Signature(e.to_string()))?;
        }
        let digest = TransactionDigest::of_transaction(tx_bytes);
        if !dry_run && let Some(done) = self.store.txs.get(&digest) {
            // Sui executes a transaction once; a resubmission gets the same effects.
            let events = self.store.events[done.events.clone()]
                .iter()
                .map(|e| e.event.clone())
                .collect();
            return Ok((done.clone(), events));
        }

        // gas
        let gas = &v1.gas_data;
        if gas.owner != sender {
            return Err(Reject::Inputs("sponsored transactions are not modelled by daas-sandbox: gas owner must be the sender".into()));
        }
        if gas.payment.is_empty() {
            return Err(Reject::Inputs("Missing gas payment".into()));
        }
        if gas.price < self.reference_gas_price {
            return Err(Reject::Inputs(format!(
                "Gas price {} under reference gas price (RGP) {}",
                gas.price, self.reference_gas_price
            )));
        }
        let mut gas_total = 0u64;
        for p in &gas.payment {
            let o = self.check_owned(p, &sender)?;
            match &o.contents {
                Contents::Coin(c) => gas_total += c.balance.value,
                _ => {
                    return Err(Reject::Inputs(format!(
                        "Gas object {} is not a Coin<SUI>",
                        p.id
                    )));
                }
            }
        }
        let min_budget = MIN_BUDGET_UNITS * gas.price;
        if gas.budget < min_budget {
            return Err(Reject::Inputs(format!(
                "Gas budget: {} is lower than min: {min_budget}.",
                gas.budget
            )));
        }
        if gas_total < gas.budget {
            return Err(Reject::Inputs(format!(
                "Balance of gas object {} is lower than the needed amount: {}",
                gas.payment[0].version, gas.budget
            )));
        }

        // inputs
        let pt = tx.programmable();
        let mut max_version = gas.payment.iter().map(|p| p.version).max().unwrap_or(0);
        let mut shared = Vec::new();
        let mut mutable_inputs = Vec::new();
        let mut owned_inputs = Vec::new();
        for (i, input) in pt.inputs.iter().enumerate() {
            match input {
                CallArg::Pure(_) => {}
                CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => {
                    if gas.payment.iter().any(|p| p.id == r.id) {
                        return Err(Reject::Inputs(format!(
                            "Object {} is used as both gas and input {i}",
                            r.id
                        )));
                    }
                    if self.check_owned(r, &sender)?.owner != Owner::Immutable {
                        owned_inputs.push(r.id);
                    }
                    max_version = max_version.max(r.version);
                }
                CallArg::Object(ObjectArg::SharedObject {
                    id,
                    initial_shared_version,
                    mutable,
                }) => {
                    let o = self.store.objects.get(id).ok_or_else(|| {
                        Reject::Inputs(format!(
                            "Could not find the referenced object {id} at version None"
                        ))
                    })?;
                    match o.owner {
                        Owner::Shared(isv) if isv == *initial_shared_version => {}
                        Owner::Shared(isv) => {
                            return Err(Reject::Inputs(format!(
                                "SharedObjectStartingVersionMismatch: object {id} became shared at version {isv}, not {initial_shared_version}"
                            )));
                        }
                        _ => return Err(Reject::Inputs(format!("Object {id} is not shared"))),
                    }
                    if *id == CLOCK_ID && *mutable {
                        return Err(Reject::Inputs("ImmutableParameterExpectedError: the Clock (0x6) must be passed immutably".into()));
                    }
                    if *mutable {
                        mutable_inputs.push(*id);
                    }
                    shared.push(o.object_ref());
                    max_version = max_version.max(o.version);
                }
                CallArg::Object(ObjectArg::Receiving(_)) => {
                    return Err(Reject::Inputs(
                        "Receiving inputs are not modelled by daas-sandbox".into(),
                    ));
                }
            }
        }
        let lamport = max_version + 1;
        let price = gas.price;
        let gas_id = gas.payment[0].id;

        // execute
        let mut scratch = Scratch {
            base: &self.store,
            overlay: HashMap::new(),
            created: Vec::new(),
            digest,
            counter: 0,
            events: Vec::new(),
            sender,
            now,
        };
        // extra gas coins merge into the first, as on Sui
        if gas.payment.len() > 1 {
            for p in &gas.payment[1..] {
                scratch.delete(p.id);
            }
            scratch.set_coin_balance(gas_id, gas_total);
        }
        let result = execute_commands(&mut scratch, pt, gas_id, self.package, &mutable_inputs);
        let units = BASE_UNITS
            + pt.commands
                .iter()
                .map(|c| {
                    if matches!(c, Command::MoveCall(_)) {
                        MOVE_CALL_UNITS
                    } else {
                        COMMAND_UNITS
                    }
                })
                .sum::<u64>();
        let computation = units * price;

        let (status, overlay, created, events) = match result {
            Ok(()) => (
                Status::Success,
                scratch.overlay,
                scratch.created,
                scratch.events,
            ),
            Err(e) => {
                let status = match e {
                    ExecError::Abort {
                        code,
                        function,
                        command,
                    } => Status::MoveAbort {
                        code,
                        function_index: function_index(&function),
                        function,
                        command,
                    },
                    ExecError::Other(m) => Status::Failure(m),
                };
                // keep only the gas coin merge
                let mut overlay = HashMap::new();
                for p in &gas.payment[1..] {
                    overlay.insert(p.id, None);
                }
                (status, overlay, Vec::new(), Vec::new())
            }
        };

        // Owned inputs get a new version whether or not the transaction succeeds, as on Sui.
        let mut overlay = overlay;
        for id in &owned_inputs {
            if let Some(o) = self.store.objects.get(id) {
                overlay
                    .entry(*id)
                    .or_insert_with(|| Some((o.owner, o.contents.clone())));
            }
        }
        // storage and rebates
        let package = self.package;
        let bytes_of = |c: &Contents| c.value(&package).to_bcs().len() as u64 + 100;
        let mut storage = 0;
        let mut rebate_base = 0;
        for (id, after) in &overlay {
            if let Some(before) = self.store.objects.get(id) {
                rebate_base += bytes_of(&before.contents) * STORAGE_PRICE_PER_BYTE;
            }
            if let Some((_, c)) = after {
                storage += bytes_of(c) * STORAGE_PRICE_PER_BYTE;
            }
        }
        // the gas coin is always rewritten
        let gas_before = &self.store.objects[&gas_id];
        if !overlay.contains_key(&gas_id) {
            rebate_base += bytes_of(&gas_before.contents) * STORAGE_PRICE_PER_BYTE;
            storage += bytes_of(&gas_before.contents) * STORAGE_PRICE_PER_BYTE;
        }
        let rebate = rebate_base * 99 / 100;
        let non_refundable = rebate_base - rebate;
        let (
            mut status,
            mut overlay,
            mut created,
            mut events,
            mut storage,
            mut rebate,
            mut non_refundable,
        ) = (
            status,
            overlay,
            created,
            events,
            storage,
            rebate,
            non_refundable,
        );
        let mut gas_used = Gas {
            computation,
            storage,
            rebate,
            non_refundable,
        };
        if computation + storage > gas.budget {
            // out of gas: revert everything but the gas charge
            status = Status::Failure("InsufficientGas".into());
            overlay = HashMap::new();
            for p in &gas.payment[1..] {
                overlay.insert(p.id, None);
            }
            for id in &owned_inputs {
                if let Some(o) = self.store.objects.get(id) {
                    overlay.insert(*id, Some((o.owner, o.contents.clone())));
                }
            }
            created = Vec::new();
            events = Vec::new();
            let gas_bytes = bytes_of(&gas_before.contents) * STORAGE_PRICE_PER_BYTE;
            storage = gas_bytes;
            rebate = gas_bytes * 99 / 100;
            non_refundable = gas_bytes - rebate;
            gas_used = Gas {
                computation: (gas.budget - storage).min(computation),
                storage,
                rebate,
                non_refundable,
            };
        }
        let charge = (gas_used.computation + gas_used.storage).saturating_sub(gas_used.rebate);
        let gas_balance_after_exec = match overlay.get(&gas_id) {
            Some(Some((_, Contents::Coin(c)))) => c.balance.value,
            _ => gas_total,
        };
        let gas_after = gas_balance_after_exec.saturating_sub(charge);
        overlay.insert(
            gas_id,
            Some((
                Owner::Address(sender),
                Contents::Coin(onchain::Coin {
                    id: gas_id,
                    balance: onchain::Balance { value: gas_after },
                }),
            )),
        );

        // effects
        let checkpoint = self.store.checkpoint + 1;
        let mut changes = Vec::new();
        let mut new_objects = Vec::new();
        let mut ids: Vec<&ObjectId> = overlay.keys().collect();
        ids.sort();
        let mut gas_object = None;
        for id in ids {
            match &overlay[id] {
                Some((owner, contents)) => {
                    let owner = match owner {
                        Owner::Shared(0) => Owner::Shared(lamport),
                        Owner::Shared(v) => Owner::Shared(*v),
                        o => *o,
                    };
                    let obj =
                        Obj::new(*id, lamport, owner, contents.clone(), digest, &self.package);
                    let kind = if created.contains(id) {
                        Change::Created
                    } else {
                        Change::Mutated
                    };
                    if *id == gas_id {
                        gas_object = Some((obj.object_ref(), owner));
                    }
                    changes.push((kind, obj.object_ref(), owner));
                    new_objects.push(obj);
                }
                None => {
                    if let Some(before) = self.store.objects.get(id) {
                        let mut r = before.object_ref();
                        r.version = lamport;
                        r.digest = daas_protocol::tx::ObjectDigest([0x63; 32]);
                        changes.push((Change::Deleted, r, before.owner));
                    }
                }
            }
        }
        let first_event = self.store.events.len();
        let record = TxRecord {
            digest,
            tx_bytes: tx_bytes.to_vec(),
            signatures: signatures.to_vec(),
            sender,
            status,
            gas: gas_used,
            lamport_version: lamport,
            changes,
            gas_object: gas_object.expect("the gas coin is always written"),
            shared,
            events: first_event..first_event + events.len(),
            timestamp_ms: now,
            checkpoint,
        };
        if dry_run {
            return Ok((
                TxRecord {
                    events: 0..0,
                    ..record
                },
                events,
            ));
        }
        // commit
        for obj in new_objects {
            self.store.deleted.remove(&obj.id);
            self.store.objects.insert(obj.id, obj);
        }
        for (kind, r, _) in &record.changes {
            if *kind == Change::Deleted {
                self.store.objects.remove(&r.id);
                self.store.deleted.insert(r.id, *r);
            }
        }
        for (seq, event) in events.iter().cloned().enumerate() {
            let global_seq = self.store.events.len() as u64;
            self.store.events.push(StoredEvent {
                tx_digest: digest,
                event_seq: seq as u64,
                global_seq,
                checkpoint,
                timestamp_ms: now,
                sender,
                module: onchain::MODULE.into(),
                event,
            });
        }
        if let Some(clock) = self.store.objects.get_mut(&CLOCK_ID) {
            clock.contents = Contents::Clock {
                id: CLOCK_ID,
                timestamp_ms: now,
            };
        }
        self.store.checkpoint = checkpoint;
        self.store.checkpoint_times.push(now);
        self.store.txs.insert(digest, record.clone());
        Ok((record, events))
    }
}

fn pure_u64(b: &[u8]) -> Option<u64> {
    bcs::from_bytes(b).ok()
}

fn execute_commands(
    s: &mut Scratch<'_>,
    pt: &daas_protocol::tx::ProgrammableTransaction,
    gas_id: ObjectId,
    package: ObjectId,
    mutable_inputs: &[ObjectId],
) -> Result<(), ExecError> {
    let mut inputs: Vec<Val> = pt
        .inputs
        .iter()
        .map(|i| match i {
            CallArg::Pure(b) => Val::Pure(b.clone()),
            CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => Val::Object(r.id),
            CallArg::Object(ObjectArg::SharedObject { id, .. }) => Val::Object(*id),
            CallArg::Object(ObjectArg::Receiving(r)) => Val::Object(r.id),
        })
        .collect();
    let mut results: Vec<Vec<Val>> = Vec::new();
    let mut new_coins: Vec<Option<u64>> = Vec::new();

    fn get(
        inputs: &[Val],
        results: &[Vec<Val>],
        gas_id: ObjectId,
        a: &Argument,
        cmd: usize,
    ) -> Result<Val, ExecError> {
        let bad = || {
            ExecError::Other(format!(
                "CommandArgumentError {{ arg_idx: 0, kind: IndexOutOfBounds }} in command {cmd}"
            ))
        };
        match a {
            Argument::GasCoin => Ok(Val::Object(gas_id)),
            Argument::Input(i) => inputs.get(*i as usize).cloned().ok_or_else(bad),
            Argument::Result(i) => match results.get(*i as usize).map(Vec::as_slice) {
                Some([v]) => Ok(v.clone()),
                _ => Err(bad()),
            },
            Argument::NestedResult(i, j) => results
                .get(*i as usize)
                .and_then(|r| r.get(*j as usize))
                .cloned()
                .ok_or_else(bad),
        }
    }

    fn mark_moved(inputs: &mut [Val], results: &mut [Vec<Val>], a: &Argument) {
        match a {
            Argument::Input(i) => inputs[*i as usize] = Val::Moved,
            Argument::Result(i) => results[*i as usize][0] = Val::Moved,
            Argument::NestedResult(i, j) => results[*i as usize][*j as usize] = Val::Moved,
            Argument::GasCoin => {}
        }
    }

    let type_error = |cmd: usize, arg: usize| {
        ExecError::Other(format!(
            "CommandArgumentError {{ arg_idx: {arg}, kind: TypeMismatch }} in command {cmd}"
        ))
    };

    for (cmd, c) in pt.commands.iter().enumerate() {
        match c {
            Command::SplitCoins(coin, amounts) => {
                let source = get(&inputs, &results, gas_id, coin, cmd)?;
                let mut total = 0u64;
                let mut outs = Vec::new();
                let mut values = Vec::new();
                for (k, a) in amounts.iter().enumerate() {
                    let Val::Pure(b) = get(&inputs, &results, gas_id, a, cmd)? else {
                        return Err(type_error(cmd, k + 1));
                    };
                    let v = pure_u64(&b).ok_or_else(|| type_error(cmd, k + 1))?;
                    total = total.checked_add(v).ok_or_else(|| {
                        ExecError::Other(format!("ArithmeticError in command {cmd}"))
                    })?;
                    values.push(v);
                }
                let insufficient =
                    || ExecError::Other(format!("InsufficientCoinBalance in command {cmd}"));
                match source {
                    Val::Object(id) => {
                        let bal = s.coin_balance(&id).ok_or_else(|| type_error(cmd, 0))?;
                        if bal < total {
                            return Err(insufficient());
                        }
                        s.set_coin_balance(id, bal - total);
                    }
                    Val::NewCoin(k) => {
                        let bal = new_coins[k].ok_or_else(|| type_error(cmd, 0))?;
                        if bal < total {
                            return Err(insufficient());
                        }
                        new_coins[k] = Some(bal - total);
                    }
                    _ => return Err(type_error(cmd, 0)),
                }
                for v in values {
                    new_coins.push(Some(v));
                    outs.push(Val::NewCoin(new_coins.len() - 1));
                }
                results.push(outs);
            }
            Command::MergeCoins(target, sources) => {
                let mut add = 0u64;
                for (k, a) in sources.iter().enumerate() {
                    match get(&inputs, &results, gas_id, a, cmd)? {
                        Val::Object(id) if id != gas_id => {
                            add += s.coin_balance(&id).ok_or_else(|| type_error(cmd, k + 1))?;
                            s.delete(id);
                        }
                        Val::NewCoin(i) => {
                            add += new_coins[i].take().ok_or_else(|| type_error(cmd, k + 1))?
                        }
                        _ => return Err(type_error(cmd, k + 1)),
                    }
                    mark_moved(&mut inputs, &mut results, a);
                }
                match get(&inputs, &results, gas_id, target, cmd)? {
                    Val::Object(id) => {
                        let bal = s.coin_balance(&id).ok_or_else(|| type_error(cmd, 0))?;
                        s.set_coin_balance(id, bal + add);
                    }
                    Val::NewCoin(i) => {
                        let bal = new_coins[i].ok_or_else(|| type_error(cmd, 0))?;
                        new_coins[i] = Some(bal + add);
                    }
                    _ => return Err(type_error(cmd, 0)),
                }
                results.push(vec![]);
            }
            Command::TransferObjects(objects, recipient) => {
                let Val::Pure(b) = get(&inputs, &results, gas_id, recipient, cmd)? else {
                    return Err(type_error(cmd, objects.len()));
                };
                let to: Address =
                    bcs::from_bytes(&b).map_err(|_| type_error(cmd, objects.len()))?;
                for (k, a) in objects.iter().enumerate() {
                    match get(&inputs, &results, gas_id, a, cmd)? {
                        Val::Object(id) if id == gas_id => {
                            return Err(ExecError::Other(format!(
                                "CommandArgumentError {{ arg_idx: {k}, kind: InvalidGasCoinUsage }} in command {cmd}"
                            )));
                        }
                        Val::Object(id) => match s.get(&id) {
                            Some((
                                Owner::Address(_),
                                Contents::Coin(_) | Contents::AdminCap(_) | Contents::SlashCap(_),
                            )) => s.set_owner(id, Owner::Address(to)),
                            _ => {
                                return Err(ExecError::Other(format!(
                                    "CommandArgumentError {{ arg_idx: {k}, kind: InvalidTransferObject }} in command {cmd}"
                                )));
                            }
                        },
                        Val::NewCoin(i) => {
                            let v = new_coins[i].take().ok_or_else(|| type_error(cmd, k))?;
                            let id = s.fresh_id();
                            s.create(
                                id,
                                Owner::Address(to),
                                Contents::Coin(onchain::Coin {
                                    id,
                                    balance: onchain::Balance { value: v },
                                }),
                            );
                        }
                        _ => return Err(type_error(cmd, k)),
                    }
                    mark_moved(&mut inputs, &mut results, a);
                }
                results.push(vec![]);
            }
            Command::MoveCall(call) => {
                if call.package != package || call.module != onchain::MODULE {
                    return Err(ExecError::Other(format!(
                        "FunctionNotFound: {}::{}::{} is not modelled by daas-sandbox (it serves only {package}::{})",
                        call.package,
                        call.module,
                        call.function,
                        onchain::MODULE
                    )));
                }
                let f = onchain::entry_function(&call.function).ok_or_else(|| {
                    ExecError::Other(format!(
                        "FunctionNotFound: {}::{}::{} in command {cmd}",
                        call.package, call.module, call.function
                    ))
                })?;
                if !call.type_arguments.is_empty() {
                    return Err(ExecError::Other(format!(
                        "TypeArityMismatch in command {cmd}"
                    )));
                }
                if call.arguments.len() != f.params.len() {
                    return Err(ExecError::Other(format!(
                        "ArityMismatch: {} takes {} arguments, got {} in command {cmd}",
                        f.name,
                        f.params.len(),
                        call.arguments.len()
                    )));
                }
                let mut args = Vec::with_capacity(f.params.len());
                for (k, (p, a)) in f.params.iter().zip(&call.arguments).enumerate() {
                    let v = get(&inputs, &results, gas_id, a, cmd)?;
                    let obj_kind = |id: &ObjectId| s.get(id).map(|(o, c)| (o, c.clone()));
                    let arg = match (p, &v) {
                        (Param::Registry | Param::RegistryMut, Val::Object(id)) => {
                            match obj_kind(id) {
                                Some((_, Contents::Registry(_)))
                                    if *p == Param::Registry || mutable_inputs.contains(id) =>
                                {
                                    Arg::Object(*id)
                                }
                                _ => return Err(type_error(cmd, k)),
                            }
                        }
                        (Param::WorkerMut | Param::WorkerByValue, Val::Object(id)) => {
                            match obj_kind(id) {
                                Some((_, Contents::Worker(_))) if mutable_inputs.contains(id) => {
                                    Arg::Object(*id)
                                }
                                _ => return Err(type_error(cmd, k)),
                            }
                        }
                        (Param::AdminCap, Val::Object(id)) => match obj_kind(id) {
                            Some((_, Contents::AdminCap(_))) => Arg::Object(*id),
                            _ => return Err(type_error(cmd, k)),
                        },
                        (Param::SlashCap, Val::Object(id)) => match obj_kind(id) {
                            Some((_, Contents::SlashCap(_))) => Arg::Object(*id),
                            _ => return Err(type_error(cmd, k)),
                        },
                        (Param::MasterCap, Val::Object(id)) => match obj_kind(id) {
                            Some((_, Contents::MasterCap(_))) => Arg::Object(*id),
                            _ => return Err(type_error(cmd, k)),
                        },
                        (Param::Clock, Val::Object(id)) if *id == CLOCK_ID => Arg::Object(*id),
                        (Param::Coin, Val::NewCoin(i)) => {
                            let v = new_coins[*i].take().ok_or_else(|| type_error(cmd, k))?;
                            mark_moved(&mut inputs, &mut results, a);
                            Arg::Coin(v)
                        }
                        (Param::Coin, Val::Object(id)) if *id != gas_id => {
                            let v = s.coin_balance(id).ok_or_else(|| type_error(cmd, k))?;
                            s.delete(*id);
                            mark_moved(&mut inputs, &mut results, a);
                            Arg::Coin(v)
                        }
                        (Param::U64, Val::Pure(b)) => {
                            Arg::U64(pure_u64(b).ok_or_else(|| type_error(cmd, k))?)
                        }
                        (Param::String, Val::Pure(b)) => Arg::String(
                            bcs::from_bytes::<String>(b).map_err(|_| type_error(cmd, k))?,
                        ),
                        (Param::Bytes, Val::Pure(b)) => Arg::Bytes(
                            bcs::from_bytes::<Vec<u8>>(b).map_err(|_| type_error(cmd, k))?,
                        ),
                        (Param::Address, Val::Pure(b)) => {
                            Arg::Address(bcs::from_bytes(b).map_err(|_| type_error(cmd, k))?)
                        }
                        (Param::Id, Val::Pure(b)) => {
                            Arg::Id(bcs::from_bytes(b).map_err(|_| type_error(cmd, k))?)
                        }
                        _ => return Err(type_error(cmd, k)),
                    };
                    args.push(arg);
                }
                if matches!(f.params.get(1), Some(Param::WorkerByValue)) {
                    mark_moved(&mut inputs, &mut results, &call.arguments[1]);
                }
                s.call(f.name, args)
                    .map_err(|Abort(code)| ExecError::Abort {
                        code,
                        function: f.name.into(),
                        command: cmd,
                    })?;
                results.push(vec![]);
            }
            Command::MakeMoveVec(..) | Command::Publish(..) | Command::Upgrade(..) => {
                return Err(ExecError::Other(format!(
                    "{} is not modelled by daas-sandbox (command {cmd})",
                    match c {
                        Command::MakeMoveVec(..) => "MakeMoveVec",
                        Command::Publish(..) => "Publish",
                        _ => "Upgrade",
                    }
                )));
            }
        }
    }
    if new_coins.iter().any(Option::is_some) {
        return Err(ExecError::Other(
            "UnusedValueWithoutDrop: a coin made by SplitCoins was neither used nor transferred"
                .into(),
        ));
    }
    Ok(())
}
