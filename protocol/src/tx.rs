//! Sui transactions in BCS (SUI-WIRE.md §5): `TransactionData` V1 with a programmable
//! transaction, a builder, and the registry's calls (feature `tx`; the agent never
//! sends transactions and builds without it).
//!
//! The types cover what this project sends and what the sandbox must decode; other
//! variants (system transactions, `FundsWithdrawal` inputs, the `NonExclusiveWrite`
//! shared mutability, the `Validity` expiration) do not decode, which is the honest answer for
//! a chain stand-in that does not model them.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::ids::{Address, ObjectId};
use crate::onchain::{self, CLOCK_ID, CLOCK_INITIAL_SHARED_VERSION, MODULE, Param};
use crate::sui::TransactionDigest;

/// Sui's protocol limits that matter for batching.
pub mod limits {
    /// Largest transaction (BCS TransactionData), bytes.
    pub const MAX_TX_SIZE: usize = 128 * 1024;
    /// Most commands in one programmable transaction.
    pub const MAX_COMMANDS: usize = 1024;
    /// Most inputs in one programmable transaction.
    pub const MAX_INPUTS: usize = 2048;
    /// Largest pure argument, bytes.
    pub const MAX_PURE_ARG_SIZE: usize = 16 * 1024;
}

/// An object digest: 32 bytes, BCS with its length prefix (`0x20`), Base58 in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ObjectDigest(pub [u8; 32]);

impl fmt::Display for ObjectDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl fmt::Debug for ObjectDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectDigest({self})")
    }
}

impl std::str::FromStr for ObjectDigest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v = bs58::decode(s)
            .into_vec()
            .map_err(|_| format!("{s:?} is not a Base58 object digest"))?;
        v.try_into()
            .map(ObjectDigest)
            .map_err(|_| format!("{s:?} is not a 32-byte object digest"))
    }
}

impl Serialize for ObjectDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ObjectDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            let v = <Vec<u8>>::deserialize(d)?;
            v.try_into()
                .map(ObjectDigest)
                .map_err(|_| serde::de::Error::custom("object digest is not 32 bytes"))
        }
    }
}

/// `(id, version, digest)` of an owned or immutable object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Object id.
    pub id: ObjectId,
    /// Version.
    pub version: u64,
    /// Digest.
    pub digest: ObjectDigest,
}

/// A shared object as a transaction names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedRef {
    /// Object id.
    pub id: ObjectId,
    /// The version at which it became shared.
    pub initial_shared_version: u64,
}

/// The Clock (`0x6`).
pub const CLOCK: SharedRef = SharedRef {
    id: CLOCK_ID,
    initial_shared_version: CLOCK_INITIAL_SHARED_VERSION,
};

/// How an object enters a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectArg {
    /// Owned or immutable, at an exact version.
    ImmOrOwnedObject(ObjectRef),
    /// Shared.
    SharedObject {
        /// Object id.
        id: ObjectId,
        /// Version at which it became shared.
        initial_shared_version: u64,
        /// Whether the transaction writes it.
        mutable: bool,
    },
    /// An object sent to another object.
    Receiving(ObjectRef),
}

/// An input of a programmable transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallArg {
    /// BCS bytes of a pure value.
    Pure(Vec<u8>),
    /// An object.
    Object(ObjectArg),
}

/// A value inside a programmable transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Argument {
    /// The gas coin.
    GasCoin,
    /// Input `i`.
    Input(u16),
    /// The result of command `i`.
    Result(u16),
    /// Result `j` of command `i`.
    NestedResult(u16, u16),
}

/// A Move type tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum TypeTag {
    Bool,
    U8,
    U64,
    U128,
    Address,
    Signer,
    Vector(Box<TypeTag>),
    Struct(Box<StructTag>),
    U16,
    U32,
    U256,
}

/// A Move struct type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StructTag {
    /// Defining package.
    pub address: Address,
    /// Module.
    pub module: String,
    /// Struct name.
    pub name: String,
    /// Type arguments.
    pub type_params: Vec<TypeTag>,
}

/// A Move call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgrammableMoveCall {
    /// Package id.
    pub package: ObjectId,
    /// Module.
    pub module: String,
    /// Function.
    pub function: String,
    /// Type arguments.
    pub type_arguments: Vec<TypeTag>,
    /// Arguments.
    pub arguments: Vec<Argument>,
}

/// A command of a programmable transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Call a Move function.
    MoveCall(Box<ProgrammableMoveCall>),
    /// Send objects to an address.
    TransferObjects(Vec<Argument>, Argument),
    /// Split amounts off a coin.
    SplitCoins(Argument, Vec<Argument>),
    /// Merge coins into the first.
    MergeCoins(Argument, Vec<Argument>),
    /// Publish modules.
    Publish(Vec<Vec<u8>>, Vec<ObjectId>),
    /// Build a vector.
    MakeMoveVec(Option<TypeTag>, Vec<Argument>),
    /// Upgrade a package.
    Upgrade(Vec<Vec<u8>>, Vec<ObjectId>, ObjectId, Argument),
}

/// A programmable transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgrammableTransaction {
    /// Inputs.
    pub inputs: Vec<CallArg>,
    /// Commands.
    pub commands: Vec<Command>,
}

/// The kind of transaction (only user programmable transactions are modelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionKind {
    /// A programmable transaction block.
    ProgrammableTransaction(ProgrammableTransaction),
}

/// Gas payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasData {
    /// Coins paying for gas (the first is the gas coin).
    pub payment: Vec<ObjectRef>,
    /// Who pays.
    pub owner: Address,
    /// Gas price (≥ the reference gas price).
    pub price: u64,
    /// Most MIST the transaction may spend.
    pub budget: u64,
}

/// Expiry of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionExpiration {
    /// Never.
    None,
    /// At the end of an epoch.
    Epoch(u64),
    /// Valid in an epoch (and time) range on one chain; what transactions paying gas
    /// from an address balance (empty gas payment) carry, and what Sui's TypeScript SDK
    /// puts in the transaction it dry-runs to size a budget.
    ValidDuring {
        /// First epoch it is valid in.
        min_epoch: Option<u64>,
        /// Last epoch it is valid in.
        max_epoch: Option<u64>,
        /// Earliest time (ms).
        min_timestamp: Option<u64>,
        /// Latest time (ms).
        max_timestamp: Option<u64>,
        /// The chain id (genesis checkpoint digest).
        chain: ObjectDigest,
        /// Distinguishes otherwise identical transactions.
        nonce: u32,
    },
}

/// `TransactionData::V1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionDataV1 {
    /// What it does.
    pub kind: TransactionKind,
    /// Signer.
    pub sender: Address,
    /// Gas.
    pub gas_data: GasData,
    /// Expiry.
    pub expiration: TransactionExpiration,
}

/// What the sender signs (`tx_bytes` = its BCS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionData {
    /// The only version.
    V1(TransactionDataV1),
}

/// Bytes that are not a transaction this project can handle.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TxError {
    /// Not BCS of a V1 programmable transaction (or trailing bytes).
    #[error("transaction bytes do not decode as a V1 programmable transaction: {0}")]
    Decode(String),
    /// Over one of Sui's limits.
    #[error("transaction exceeds a Sui limit: {0}")]
    Limit(String),
}

impl TransactionData {
    /// A V1 programmable transaction.
    pub fn new(pt: ProgrammableTransaction, sender: Address, gas_data: GasData) -> Self {
        TransactionData::V1(TransactionDataV1 {
            kind: TransactionKind::ProgrammableTransaction(pt),
            sender,
            gas_data,
            expiration: TransactionExpiration::None,
        })
    }

    /// The BCS bytes (what is signed and sent).
    pub fn to_bcs(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("transaction data always serializes")
    }

    /// Decodes BCS bytes, refusing trailing bytes.
    pub fn from_bcs(b: &[u8]) -> Result<Self, TxError> {
        bcs::from_bytes(b).map_err(|e| TxError::Decode(e.to_string()))
    }

    /// The V1 body.
    pub fn v1(&self) -> &TransactionDataV1 {
        match self {
            TransactionData::V1(v) => v,
        }
    }

    /// The programmable transaction.
    pub fn programmable(&self) -> &ProgrammableTransaction {
        match &self.v1().kind {
            TransactionKind::ProgrammableTransaction(pt) => pt,
        }
    }

    /// The transaction digest.
    pub fn digest(&self) -> TransactionDigest {
        TransactionDigest::of_transaction(&self.to_bcs())
    }

    /// Checks Sui's size and count limits.
    pub fn check_limits(&self, tx_len: usize) -> Result<(), TxError> {
        let pt = self.programmable();
        if tx_len > limits::MAX_TX_SIZE {
            return Err(TxError::Limit(format!(
                "transaction is {tx_len} bytes, at most {} allowed",
                limits::MAX_TX_SIZE
            )));
        }
        if pt.commands.len() > limits::MAX_COMMANDS {
            return Err(TxError::Limit(format!(
                "{} commands, at most {} allowed",
                pt.commands.len(),
                limits::MAX_COMMANDS
            )));
        }
        if pt.inputs.len() > limits::MAX_INPUTS {
            return Err(TxError::Limit(format!(
                "{} inputs, at most {} allowed",
                pt.inputs.len(),
                limits::MAX_INPUTS
            )));
        }
        for (i, input) in pt.inputs.iter().enumerate() {
            if let CallArg::Pure(b) = input
                && b.len() > limits::MAX_PURE_ARG_SIZE
            {
                return Err(TxError::Limit(format!(
                    "pure input {i} is {} bytes, at most {} allowed",
                    b.len(),
                    limits::MAX_PURE_ARG_SIZE
                )));
            }
        }
        Ok(())
    }
}

/// Builds a programmable transaction. Each object is one input however often it is
/// used (Sui requires it); a shared object used mutably anywhere is input mutably.
#[derive(Debug, Default, Clone)]
pub struct PtbBuilder {
    inputs: Vec<CallArg>,
    commands: Vec<Command>,
    objects: HashMap<ObjectId, u16>,
}

impl PtbBuilder {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    fn push_input(&mut self, arg: CallArg) -> Argument {
        self.inputs.push(arg);
        Argument::Input((self.inputs.len() - 1) as u16)
    }

    /// A pure value, BCS-encoded.
    pub fn pure<T: Serialize + ?Sized>(&mut self, v: &T) -> Argument {
        self.push_input(CallArg::Pure(
            bcs::to_bytes(v).expect("pure values serialize"),
        ))
    }

    /// A shared object.
    pub fn shared(&mut self, r: SharedRef, mutable: bool) -> Argument {
        if let Some(&i) = self.objects.get(&r.id) {
            if let CallArg::Object(ObjectArg::SharedObject { mutable: m, .. }) =
                &mut self.inputs[i as usize]
            {
                *m |= mutable;
            }
            return Argument::Input(i);
        }
        let arg = self.push_input(CallArg::Object(ObjectArg::SharedObject {
            id: r.id,
            initial_shared_version: r.initial_shared_version,
            mutable,
        }));
        self.objects.insert(r.id, (self.inputs.len() - 1) as u16);
        arg
    }

    /// An owned or immutable object.
    pub fn owned(&mut self, r: ObjectRef) -> Argument {
        if let Some(&i) = self.objects.get(&r.id) {
            return Argument::Input(i);
        }
        let arg = self.push_input(CallArg::Object(ObjectArg::ImmOrOwnedObject(r)));
        self.objects.insert(r.id, (self.inputs.len() - 1) as u16);
        arg
    }

    /// Appends a command; returns its result.
    pub fn command(&mut self, c: Command) -> Argument {
        self.commands.push(c);
        Argument::Result((self.commands.len() - 1) as u16)
    }

    /// `SplitCoins(coin, amounts)`; the i-th new coin is `NestedResult(cmd, i)`.
    pub fn split_coins(&mut self, coin: Argument, amounts: &[u64]) -> Vec<Argument> {
        let amounts: Vec<Argument> = amounts.iter().map(|a| self.pure(a)).collect();
        let n = amounts.len();
        let Argument::Result(cmd) = self.command(Command::SplitCoins(coin, amounts)) else {
            unreachable!("command returns Result")
        };
        (0..n as u16)
            .map(|i| Argument::NestedResult(cmd, i))
            .collect()
    }

    /// `TransferObjects(objects, recipient)`.
    pub fn transfer_objects(&mut self, objects: Vec<Argument>, recipient: Address) {
        let to = self.pure(&recipient);
        self.command(Command::TransferObjects(objects, to));
    }

    /// A Move call without type arguments.
    pub fn move_call(
        &mut self,
        package: ObjectId,
        module: &str,
        function: &str,
        arguments: Vec<Argument>,
    ) -> Argument {
        self.command(Command::MoveCall(Box::new(ProgrammableMoveCall {
            package,
            module: module.into(),
            function: function.into(),
            type_arguments: vec![],
            arguments,
        })))
    }

    /// Commands so far.
    pub fn command_count(&self) -> usize {
        self.commands.len()
    }

    /// Inputs so far.
    pub fn input_count(&self) -> usize {
        self.inputs.len()
    }

    /// The finished transaction.
    pub fn finish(self) -> ProgrammableTransaction {
        ProgrammableTransaction {
            inputs: self.inputs,
            commands: self.commands,
        }
    }
}

/// An argument value for [`RegistryCalls::call`], matched against
/// [`onchain::ENTRY_FUNCTIONS`].
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum Arg<'a> {
    Worker(SharedRef),
    Cap(ObjectRef),
    /// An already-built argument (e.g. a split coin).
    Value(Argument),
    U64(u64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Address(Address),
    Id(ObjectId),
}

/// Calls into one deployment of `k8s_daas::worker_registry`.
#[derive(Debug, Clone, Copy)]
pub struct RegistryCalls {
    /// The package id.
    pub package: ObjectId,
    /// The shared registry.
    pub registry: SharedRef,
}

/// A call that does not fit the function's parameter list.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{function}: {reason}")]
pub struct CallError {
    /// Function name.
    pub function: String,
    /// What does not fit.
    pub reason: String,
}

impl RegistryCalls {
    /// Appends a call to `function` with `args` for its non-implicit parameters (the
    /// registry and the Clock are filled in), checking them against the entry table.
    pub fn call(
        &self,
        b: &mut PtbBuilder,
        function: &str,
        args: &[Arg<'_>],
    ) -> Result<Argument, CallError> {
        let err = |reason: String| CallError {
            function: function.into(),
            reason,
        };
        let f = onchain::entry_function(function)
            .ok_or_else(|| err("not an entry function of worker_registry".into()))?;
        let mut given = args.iter();
        let mut out = Vec::with_capacity(f.params.len());
        for p in f.params {
            let a = match p {
                Param::Registry => b.shared(self.registry, false),
                Param::RegistryMut => b.shared(self.registry, true),
                Param::Clock => b.shared(CLOCK, false),
                _ => {
                    let arg = given
                        .next()
                        .ok_or_else(|| err(format!("missing argument for {p:?}")))?;
                    match (p, arg) {
                        (Param::WorkerMut | Param::WorkerByValue, Arg::Worker(w)) => {
                            b.shared(*w, true)
                        }
                        (Param::AdminCap | Param::SlashCap | Param::MasterCap, Arg::Cap(c)) => {
                            b.owned(*c)
                        }
                        (Param::Coin, Arg::Value(v)) => *v,
                        (Param::U64, Arg::U64(v)) => b.pure(v),
                        (Param::String, Arg::Str(s)) => b.pure(*s),
                        (Param::Bytes, Arg::Bytes(v)) => b.pure(*v),
                        (Param::Address, Arg::Address(a)) => b.pure(a),
                        (Param::Id, Arg::Id(id)) => b.pure(id),
                        (p, a) => return Err(err(format!("{a:?} given for a {p:?} parameter"))),
                    }
                }
            };
            out.push(a);
        }
        if given.next().is_some() {
            return Err(err(format!("more than {} arguments", f.params.len())));
        }
        Ok(b.move_call(self.package, MODULE, function, out))
    }

    /// `stake_and_register_worker`, paying `amount` split off the gas coin.
    pub fn stake_and_register_worker(
        &self,
        b: &mut PtbBuilder,
        amount: u64,
        node_id: &str,
        seal_token: &[u8],
    ) -> Argument {
        let coin = b.split_coins(Argument::GasCoin, &[amount])[0];
        self.call(
            b,
            "stake_and_register_worker",
            &[Arg::Value(coin), Arg::Str(node_id), Arg::Bytes(seal_token)],
        )
        .expect("matches the entry table")
    }

    /// `set_join_token` (one of many in a batch).
    pub fn set_join_token(
        &self,
        b: &mut PtbBuilder,
        master_cap: ObjectRef,
        worker: SharedRef,
        envelope: &[u8],
    ) -> Argument {
        self.call(
            b,
            "set_join_token",
            &[
                Arg::Cap(master_cap),
                Arg::Worker(worker),
                Arg::Bytes(envelope),
            ],
        )
        .expect("matches the entry table")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    /// The `sui_executeTransactionBlock` example of spec/openrpc.json.
    const OFFICIAL_TX: &str = "AAACACBqEB6aOvXIBwES+Ahkizbvv43uihqC3kbZUE6WoRCKFwEAjvdvVsOZYzousxC8qRJOXy84znOeqsu2YAaIgE4HhEgCAAAAAAAAACB9w3+ufZMpihJFwxtCBojBaGy00TVtFxgN2C6TpIPFqwEBAQEBAAEAAAS0l6kWtGVmCaf6gnoJGE1vR2gdO6dM4NejbGSysfiHAZ+Q9/hmzCnfsdpjc86U+dldylpA9OF2mRjuv5+64AvTAgAAAAAAAAAgjleHL0UiRGjh/BfIFHCJ3EMY/dQA22c2TvNQyVJnbYUEtJepFrRlZgmn+oJ6CRhNb0doHTunTODXo2xksrH4hwoAAAAAAAAAoIYBAAAAAAAA";

    #[test]
    fn official_example_decodes_and_rebuilds_byte_for_byte() {
        let bytes = BASE64.decode(OFFICIAL_TX).unwrap();
        let tx = TransactionData::from_bcs(&bytes).unwrap();
        assert_eq!(tx.to_bcs(), bytes);
        assert_eq!(
            tx.digest().to_string(),
            "Gx7V6EteEAqSsptc1kbi1nUEMP7mhr4qV2cYS7JjzbBd"
        );
        // What the example's JSON says it is, rebuilt with the builder.
        let sender: Address = "0x04b497a916b4656609a7fa827a09184d6f47681d3ba74ce0d7a36c64b2b1f887"
            .parse()
            .unwrap();
        let mut b = PtbBuilder::new();
        let to = b.pure(
            &"0x6a101e9a3af5c8070112f808648b36efbf8dee8a1a82de46d9504e96a1108a17"
                .parse::<Address>()
                .unwrap(),
        );
        let obj = b.owned(ObjectRef {
            id: "0x8ef76f56c399633a2eb310bca9124e5f2f38ce739eaacbb6600688804e078448"
                .parse()
                .unwrap(),
            version: 2,
            digest: "9Tvs1pGrMbNv7kkr1PoKLsWamyQpaFz5UWbL2AQ1ezk2"
                .parse()
                .unwrap(),
        });
        b.command(Command::TransferObjects(vec![obj], to));
        let rebuilt = TransactionData::new(
            b.finish(),
            sender,
            GasData {
                payment: vec![ObjectRef {
                    id: "0x9f90f7f866cc29dfb1da6373ce94f9d95dca5a40f4e1769918eebf9fbae00bd3"
                        .parse()
                        .unwrap(),
                    version: 2,
                    digest: "AaeJbTYkUuyromsivxzkoxSkHt7pCESTyQG7xz6nbQ2G"
                        .parse()
                        .unwrap(),
                }],
                owner: sender,
                price: 10,
                budget: 100_000,
            },
        );
        assert_eq!(rebuilt.to_bcs(), bytes);
    }

    #[test]
    fn sui_wire_register_example_encodes_as_documented() {
        // SUI-WIRE.md §5: SplitCoins + MoveCall registry::register.
        let pkg = ObjectId([0x11; 32]);
        let mut b = PtbBuilder::new();
        let coin = b.split_coins(Argument::GasCoin, &[1_000_000])[0];
        let reg = b.shared(
            SharedRef {
                id: ObjectId([0x22; 32]),
                initial_shared_version: 7,
            },
            true,
        );
        let name = b.pure("hello");
        let blob = b.pure(&[0xdeu8, 0xad][..]);
        b.move_call(pkg, "registry", "register", vec![reg, coin, name, blob]);
        let tx = TransactionData::new(
            b.finish(),
            Address([0x33; 32]),
            GasData {
                payment: vec![ObjectRef {
                    id: ObjectId([0x44; 32]),
                    version: 42,
                    digest: ObjectDigest([0x55; 32]),
                }],
                owner: Address([0x33; 32]),
                price: 1000,
                budget: 10_000_000,
            },
        );
        let hex = ::hex::encode(tx.to_bcs());
        let expected = [
            "0000",
            "04",
            "000840420f0000000000",
            &format!("0101{}070000000000000001", "22".repeat(32)),
            "00060568656c6c6f",
            "000302dead",
            "02",
            "0200010100",
            "00",
            &format!(
                "00{}08{}08{}00040101000300000000010200010300",
                "11".repeat(32),
                ::hex::encode("registry"),
                ::hex::encode("register")
            ),
            &"33".repeat(32),
            &format!("01{}2a0000000000000020{}", "44".repeat(32), "55".repeat(32)),
            &format!("{}e8030000000000008096980000000000", "33".repeat(32)),
            "00",
        ]
        .concat();
        assert_eq!(hex, expected);
    }

    #[test]
    fn one_input_per_object_and_mutable_wins() {
        let calls = RegistryCalls {
            package: ObjectId::from_u64(0xaa),
            registry: SharedRef {
                id: ObjectId::from_u64(0xbb),
                initial_shared_version: 3,
            },
        };
        let cap = ObjectRef {
            id: ObjectId::from_u64(0xcc),
            version: 9,
            digest: ObjectDigest([1; 32]),
        };
        let mut b = PtbBuilder::new();
        for i in 0..3u64 {
            let w = SharedRef {
                id: ObjectId::from_u64(0x100 + i),
                initial_shared_version: 4,
            };
            calls.set_join_token(&mut b, cap, w, &[1, 2, 3]);
        }
        // registry + cap + clock once; a worker and an envelope per call
        assert_eq!(b.input_count(), 3 + 3 * 2);
        assert_eq!(b.command_count(), 3);
        calls
            .call(&mut b, "set_min_stake", &[Arg::Cap(cap), Arg::U64(5)])
            .unwrap();
        let pt = b.finish();
        let reg_inputs: Vec<_> = pt
            .inputs
            .iter()
            .filter(|i| matches!(i, CallArg::Object(ObjectArg::SharedObject { id, .. }) if *id == ObjectId::from_u64(0xbb)))
            .collect();
        assert_eq!(reg_inputs.len(), 1);
        assert!(matches!(
            reg_inputs[0],
            CallArg::Object(ObjectArg::SharedObject { mutable: true, .. })
        ));
    }

    #[test]
    fn calls_are_checked_against_the_entry_table() {
        let calls = RegistryCalls {
            package: ObjectId::from_u64(1),
            registry: SharedRef {
                id: ObjectId::from_u64(2),
                initial_shared_version: 1,
            },
        };
        let mut b = PtbBuilder::new();
        assert!(calls.call(&mut b, "nope", &[]).is_err());
        assert!(calls.call(&mut b, "set_min_stake", &[Arg::U64(1)]).is_err());
        assert!(
            calls
                .call(
                    &mut b,
                    "request_unstake",
                    &[Arg::Worker(CLOCK), Arg::U64(1)]
                )
                .is_err()
        );
        assert!(
            calls
                .call(&mut b, "request_unstake", &[Arg::Worker(CLOCK)])
                .is_ok()
        );
    }

    #[test]
    fn limits_are_enforced() {
        let mut b = PtbBuilder::new();
        b.pure(&vec![0u8; limits::MAX_PURE_ARG_SIZE + 1]);
        let tx = TransactionData::new(
            b.finish(),
            Address::from_u64(1),
            GasData {
                payment: vec![],
                owner: Address::from_u64(1),
                price: 1000,
                budget: 1,
            },
        );
        assert!(tx.check_limits(tx.to_bcs().len()).is_err());
        assert!(TransactionData::from_bcs(&[0, 1]).is_err());
    }
}
