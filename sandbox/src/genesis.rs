//! A deterministic genesis: the same seed and parameters (accounts, registry parameters,
//! genesis time) give the same chain id, object ids, keys and coins; the chain id is the
//! digest of checkpoint 0, as on Sui.

use daas_protocol::hash::blake2b256;
use daas_protocol::ledger;
use daas_protocol::onchain::{self, Balance, Cap, Coin, Table, VecSet, WorkerRegistry, defaults};
use daas_protocol::sui::TransactionDigest;
use daas_protocol::{ChainId, EnvelopeKey, EnvelopeKeyCert, ObjectId, RootKey, SuiKeypair};
use serde::{Deserialize, Serialize};

use crate::gas;
use crate::store::{CheckpointEntry, Contents, Obj, Owner, Store};

/// MIST in each genesis coin (1,000 SUI).
pub const COIN_VALUE: u64 = 1_000 * onchain::MIST_PER_SUI;
/// Coins per funded account.
pub const COINS_PER_ACCOUNT: usize = 2;

/// What a chain is made from; stored in the state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisParams {
    /// Seed of every id and key.
    pub seed: u64,
    /// Funded staker accounts.
    pub accounts: usize,
    /// Registry parameters (DESIGN §4 defaults).
    pub min_stake: u64,
    /// Fee to the treasury.
    pub registration_fee: u64,
    /// Cooldown copied into each Worker.
    pub cooldown_ms: u64,
    /// Grace when no master confirms a revocation.
    pub revoke_grace_ms: u64,
    /// Longest envelope lifetime.
    pub max_envelope_ttl_ms: u64,
    /// Genesis time (ms).
    pub genesis_ms: u64,
}

impl GenesisParams {
    /// DESIGN §4 defaults for `seed`, genesis at `genesis_ms`.
    pub fn new(seed: u64, accounts: usize, genesis_ms: u64) -> Self {
        GenesisParams {
            seed,
            accounts,
            min_stake: defaults::MIN_STAKE,
            registration_fee: defaults::REGISTRATION_FEE,
            cooldown_ms: defaults::COOLDOWN_MS,
            revoke_grace_ms: defaults::REVOKE_GRACE_MS,
            max_envelope_ttl_ms: defaults::MAX_ENVELOPE_TTL_MS,
            genesis_ms,
        }
    }
}

/// One registry deployment's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryIds {
    /// The registry.
    pub registry_id: ObjectId,
    /// Its initial shared version.
    pub registry_initial_shared_version: u64,
    /// The table of workers (its UID).
    pub workers_table_id: ObjectId,
    /// AdminCap (owned by the master account).
    pub admin_cap_id: ObjectId,
    /// SlashCap (owned by the master account).
    pub slash_cap_id: ObjectId,
    /// MasterCap (owned by the master account).
    pub master_cap_id: ObjectId,
}

/// A key pair as the info file writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Sui address.
    pub address: String,
    /// `suiprivkey1…` (a test key: the sandbox is not a place for real funds).
    pub suiprivkey: String,
}

/// An Ed25519 key as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexKey {
    /// Public key, `0x` hex.
    pub public: String,
    /// Private seed, `0x` hex (test key).
    pub private: String,
}

/// Everything a client of the sandbox needs (the `--info` file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// GraphQL URL.
    pub graphql_url: String,
    /// Base58 genesis digest.
    pub chain_id: String,
    /// The registry package.
    pub package_id: ObjectId,
    /// The registry.
    pub registry_id: ObjectId,
    /// Its initial shared version.
    pub registry_initial_shared_version: u64,
    /// AdminCap.
    pub admin_cap_id: ObjectId,
    /// SlashCap.
    pub slash_cap_id: ObjectId,
    /// MasterCap.
    pub master_cap_id: ObjectId,
    /// A second registry of the same package (for wrong-registry checks).
    pub other_registry: RegistryIds,
    /// The account holding the caps.
    pub master: Account,
    /// Root key (certifies envelope keys).
    pub root_key: HexKey,
    /// Envelope key (certificate serial 1 is set in the registry).
    pub envelope_key: HexKey,
    /// Funded staker accounts.
    pub accounts: Vec<Account>,
    /// The parameters the chain was made with.
    pub genesis: GenesisParams,
}

fn derive(seed: u64, what: &str) -> [u8; 32] {
    blake2b256(&[b"daas-sandbox/", what.as_bytes(), &seed.to_le_bytes()])
}

/// The master account's key.
pub fn master_key(seed: u64) -> SuiKeypair {
    SuiKeypair::from_secret_bytes(derive(seed, "master"))
}

/// Staker account `i`'s key.
pub fn account_key(seed: u64, i: usize) -> SuiKeypair {
    SuiKeypair::from_secret_bytes(derive(seed, &format!("account/{i}")))
}

/// The root key.
pub fn root_key(seed: u64) -> RootKey {
    RootKey::from_secret_bytes(derive(seed, "root"))
}

/// The envelope key.
pub fn envelope_key(seed: u64) -> EnvelopeKey {
    EnvelopeKey::from_secret_bytes(derive(seed, "envelope"))
}

fn registry_ids(seed: u64, name: &str) -> RegistryIds {
    let id = |w: &str| ObjectId(derive(seed, &format!("{name}/{w}")));
    RegistryIds {
        registry_id: id("registry"),
        registry_initial_shared_version: 1,
        workers_table_id: id("workers"),
        admin_cap_id: id("admin-cap"),
        slash_cap_id: id("slash-cap"),
        master_cap_id: id("master-cap"),
    }
}

/// A system transaction creating `objects` (all at version 1): its effects, and the
/// objects stored at `checkpoint`.
fn create_all(
    store: &mut Store,
    digest: TransactionDigest,
    objects: Vec<Obj>,
    checkpoint: u64,
) -> ledger::TransactionEffectsV2 {
    let mut objects = objects;
    objects.sort_by_key(|o| o.id);
    let changed_objects = objects
        .iter()
        .map(|o| {
            (
                o.id,
                ledger::EffectsObjectChange {
                    input_state: ledger::ObjectIn::NotExist,
                    output_state: ledger::ObjectOut::ObjectWrite((
                        ledger::Digest(o.digest),
                        o.owner.to_ledger(),
                    )),
                    id_operation: ledger::IdOperation::Created,
                },
            )
        })
        .collect();
    for o in objects {
        store.put(o, checkpoint);
    }
    ledger::TransactionEffectsV2 {
        status: ledger::ExecutionStatus::Success,
        executed_epoch: 0,
        gas_used: ledger::GasCostSummary::default(),
        transaction_digest: ledger::Digest(digest.0),
        gas_object_index: None,
        events_digest: None,
        dependencies: vec![],
        lamport_version: 1,
        changed_objects,
        unchanged_shared_objects: vec![],
        aux_data_digest: None,
    }
}

fn seal(
    store: &mut Store,
    digest: TransactionDigest,
    effects: &ledger::TransactionEffectsV2,
    ms: u64,
) {
    store.seal_checkpoint(
        ms,
        vec![CheckpointEntry {
            digest,
            effects_digest: effects.digest(),
            signatures: vec![],
        }],
        ledger::GasCostSummary::default(),
    );
}

/// Builds the chain and the info (URLs filled in by the caller): checkpoint 0 is the
/// genesis transaction (the Clock and the funded accounts' coins), and its digest is
/// the chain id; checkpoint 1 deploys the registry package's objects (two registries,
/// whose envelope-key certificates name that chain id, and their caps), as a publish
/// would after genesis on a real network.
pub fn build(p: &GenesisParams) -> (Store, ObjectId, SandboxInfo) {
    let seed = p.seed;
    let package = ObjectId(derive(seed, "package"));
    let master = master_key(seed);
    let root = root_key(seed);
    let env = envelope_key(seed);
    let mut store = Store::default();
    let obj =
        |id: ObjectId, owner: Owner, contents: Contents, tx: TransactionDigest, paid: bool| {
            let o = Obj::new(id, 1, owner, contents.clone(), tx, &package, 0);
            // objects a transaction paid for carry their storage cost as rebate; the Clock
            // is a system object (rebate 0)
            let rebate = if paid {
                gas::storage_cost(o.size_for_gas(&package))
            } else {
                0
            };
            Obj::new(id, 1, owner, contents, tx, &package, rebate)
        };

    // checkpoint 0: genesis
    let genesis_tx = TransactionDigest(derive(seed, "genesis-tx"));
    let mut objects = vec![obj(
        onchain::CLOCK_ID,
        Owner::Shared(1),
        Contents::Clock {
            id: onchain::CLOCK_ID,
            timestamp_ms: p.genesis_ms,
        },
        genesis_tx,
        false,
    )];
    let mut accounts = Vec::new();
    let fund = |who: &SuiKeypair, name: &str, objects: &mut Vec<Obj>| {
        for c in 0..COINS_PER_ACCOUNT {
            let id = ObjectId(derive(seed, &format!("coin/{name}/{c}")));
            objects.push(obj(
                id,
                Owner::Address(who.address()),
                Contents::Coin(Coin {
                    id,
                    balance: Balance { value: COIN_VALUE },
                }),
                genesis_tx,
                true,
            ));
        }
    };
    fund(&master, "master", &mut objects);
    for i in 0..p.accounts {
        let k = account_key(seed, i);
        fund(&k, &format!("account/{i}"), &mut objects);
        accounts.push(Account {
            address: k.address().to_string(),
            suiprivkey: k.to_suiprivkey().to_string(),
        });
    }
    let effects = create_all(&mut store, genesis_tx, objects, 0);
    seal(&mut store, genesis_tx, &effects, p.genesis_ms);
    let chain = ChainId(store.checkpoints[0].digest.0);

    // checkpoint 1: the registry deployment
    let deploy_tx = TransactionDigest(blake2b256(&[
        b"daas-sandbox/deployment",
        chain.as_bytes(),
        package.as_bytes(),
    ]));
    let main = registry_ids(seed, "registry-a");
    let other = registry_ids(seed, "registry-b");
    let mut objects = Vec::new();
    for r in [&main, &other] {
        let cert = EnvelopeKeyCert::issue(&root, &chain, &r.registry_id, 1, &env.public());
        objects.push(obj(
            r.registry_id,
            Owner::Shared(1),
            Contents::Registry(WorkerRegistry {
                id: r.registry_id,
                workers: Table {
                    id: r.workers_table_id,
                    size: 0,
                },
                master_caps: VecSet {
                    contents: vec![r.master_cap_id],
                },
                slash_caps: VecSet {
                    contents: vec![r.slash_cap_id],
                },
                envelope_key_cert: cert.to_bytes().to_vec(),
                min_stake: p.min_stake,
                registration_fee: p.registration_fee,
                cooldown_ms: p.cooldown_ms,
                revoke_grace_ms: p.revoke_grace_ms,
                max_envelope_ttl_ms: p.max_envelope_ttl_ms,
                treasury: Balance { value: 0 },
                total_stake: 0,
                total_workers: 0,
            }),
            deploy_tx,
            true,
        ));
        let cap = Cap {
            id: r.admin_cap_id,
            registry_id: r.registry_id,
        };
        let owner = Owner::Address(master.address());
        objects.push(obj(
            r.admin_cap_id,
            owner,
            Contents::AdminCap(cap),
            deploy_tx,
            true,
        ));
        objects.push(obj(
            r.slash_cap_id,
            owner,
            Contents::SlashCap(Cap {
                id: r.slash_cap_id,
                ..cap
            }),
            deploy_tx,
            true,
        ));
        objects.push(obj(
            r.master_cap_id,
            owner,
            Contents::MasterCap(Cap {
                id: r.master_cap_id,
                ..cap
            }),
            deploy_tx,
            true,
        ));
    }
    let effects = create_all(&mut store, deploy_tx, objects, 1);
    seal(&mut store, deploy_tx, &effects, p.genesis_ms);

    let hex = |b: &[u8]| daas_protocol::hex::encode_0x(b);
    let info = SandboxInfo {
        rpc_url: String::new(),
        graphql_url: String::new(),
        chain_id: chain.to_string(),
        package_id: package,
        registry_id: main.registry_id,
        registry_initial_shared_version: main.registry_initial_shared_version,
        admin_cap_id: main.admin_cap_id,
        slash_cap_id: main.slash_cap_id,
        master_cap_id: main.master_cap_id,
        other_registry: other,
        master: Account {
            address: master.address().to_string(),
            suiprivkey: master.to_suiprivkey().to_string(),
        },
        root_key: HexKey {
            public: root.public().to_hex(),
            private: hex(root.secret_bytes().as_ref()),
        },
        envelope_key: HexKey {
            public: env.public().to_hex(),
            private: hex(env.secret_bytes().as_ref()),
        },
        accounts,
        genesis: p.clone(),
    };
    (store, package, info)
}
