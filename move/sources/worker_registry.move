/// k8s-daas worker registry (DESIGN §4–§6): stake custody, registration with an
/// on-chain-verified seal token, sealed join envelopes, activation, unstake, slashing.
///
/// Nothing secret is ever stored or emitted: the join token reaches the chain only
/// inside an envelope sealed to the device's X25519 key (HPKE) and signed by the
/// master's certified envelope key. The contract checks the envelope's header, never
/// its contents (it cannot: it holds no keys); devices verify the signature against
/// the root-certified key they read from `envelope_key_cert`.
module k8s_daas::worker_registry;

use std::string::String;
use sui::balance::{Self, Balance};
use sui::bcs;
use sui::clock::Clock;
use sui::coin::{Self, Coin};
use sui::ed25519;
use sui::event;
use sui::hash;
use sui::hex;
use sui::sui::SUI;
use sui::table::{Self, Table};
use sui::vec_set::{Self, VecSet};

// === Abort codes (DESIGN §4; the same numbers in daas-sandbox) ===
const EInsufficientStake: u64 = 1;
const EWorkerAlreadyExists: u64 = 2;
const EWorkerNotFound: u64 = 3;
const EInvalidSealToken: u64 = 4;
const EInvalidNodeId: u64 = 5;
const EUnauthorized: u64 = 6;
const EInvalidStatus: u64 = 7;
const EWrongRegistry: u64 = 8;
const ECooldownNotOver: u64 = 9;
const EInvalidEnvelope: u64 = 10;
const EInvalidParameter: u64 = 11;
const ECapRevoked: u64 = 12;

// === Statuses ===
const STATUS_PENDING: u8 = 0;
const STATUS_TOKEN_ISSUED: u8 = 1;
const STATUS_ACTIVE: u8 = 2;
const STATUS_LEAVING: u8 = 3;
const STATUS_SLASHED: u8 = 4;
const STATUS_REVOKED: u8 = 5;

// === MasterActionSkippedEvent.action ===
const ACTION_SET_JOIN_TOKEN: u8 = 1;
const ACTION_ACTIVATE: u8 = 2;
const ACTION_CONFIRM_REVOKED: u8 = 3;

// === Defaults and limits ===
const DEFAULT_MIN_STAKE: u64 = 1_000_000_000;
const DEFAULT_COOLDOWN_MS: u64 = 604_800_000; // 7 days
const DEFAULT_REVOKE_GRACE_MS: u64 = 86_400_000; // 1 day
const DEFAULT_MAX_ENVELOPE_TTL_MS: u64 = 604_800_000; // 7 days
const MAX_DURATION_MS: u64 = 2_592_000_000; // 30 days
const MAX_SLASH_REASON_LEN: u64 = 256;

// === Byte formats (DESIGN §5) ===
const SEAL_TOKEN_LEN: u64 = 129;
const SEAL_TOKEN_VERSION: u8 = 1;
const SEAL_CLAIM_TAG: vector<u8> = b"k8s-daas/seal/v1";
const ENVELOPE_VERSION: u8 = 1;
const ENVELOPE_MIN_LEN: u64 = 131;
const ENVELOPE_MAX_LEN: u64 = 2048;
const ENVELOPE_HEADER_LEN: u64 = 51;
const ENVELOPE_SIGNATURE_LEN: u64 = 64;
const ENVELOPE_MIN_CIPHERTEXT: u64 = 16;
const CERT_LEN: u64 = 105;
const CERT_VERSION: u8 = 1;
const MAX_LABEL_LEN: u64 = 46;
const FINGERPRINT_LEN: u64 = 16;

/// The registry (shared).
public struct WorkerRegistry has key {
    id: UID,
    workers: Table<String, ID>,
    master_caps: VecSet<ID>,
    slash_caps: VecSet<ID>,
    envelope_key_cert: vector<u8>,
    min_stake: u64,
    registration_fee: u64,
    cooldown_ms: u64,
    revoke_grace_ms: u64,
    max_envelope_ttl_ms: u64,
    treasury: Balance<SUI>,
    total_stake: u64,
    total_workers: u64,
}

/// One worker (shared, so writes to different workers do not contend).
public struct Worker has key {
    id: UID,
    registry_id: ID,
    node_id: String,
    owner: address,
    stake: Balance<SUI>,
    status: u8,
    seal_token: vector<u8>,
    join_envelope: vector<u8>,
    token_version: u64,
    cooldown_ms: u64,
    revoke_grace_ms: u64,
    registered_at_ms: u64,
    unlock_at_ms: u64,
}

/// Registry parameters, certificates and caps.
public struct AdminCap has key, store { id: UID, registry_id: ID }
/// Slashing (keep it cold or in a multisig); valid while its id is in `slash_caps`.
public struct SlashCap has key, store { id: UID, registry_id: ID }
/// The master's capability; `key` only, so it moves only through this module.
public struct MasterCap has key { id: UID, registry_id: ID }

public struct WorkerRegisteredEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, owner: address, stake_amount: u64, seal_token: vector<u8>, timestamp_ms: u64,
}
public struct StakeDepositedEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, owner: address, amount: u64, timestamp_ms: u64,
}
public struct JoinTokenSetEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, token_version: u64, expires_at_ms: u64, timestamp_ms: u64,
}
public struct MasterActionSkippedEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, action: u8, status: u8, timestamp_ms: u64,
}
public struct WorkerStatusChangedEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, old_status: u8, new_status: u8, timestamp_ms: u64,
}
public struct WorkerSlashedEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, amount: u64, reason: String, timestamp_ms: u64,
}
public struct StakeWithdrawnEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, owner: address, amount: u64, timestamp_ms: u64,
}
public struct SealTokenRotatedEvent has copy, drop {
    registry_id: ID, worker_id: ID, node_id: String, seal_token: vector<u8>, timestamp_ms: u64,
}
public struct EnvelopeKeyCertSetEvent has copy, drop { registry_id: ID, serial: u64, timestamp_ms: u64 }
public struct MasterCapChangedEvent has copy, drop { registry_id: ID, cap_id: ID, valid: bool, timestamp_ms: u64 }

fun init(ctx: &mut TxContext) {
    create_registry(ctx);
}

/// Shares a registry with the DESIGN §4 defaults and gives the sender its caps.
fun create_registry(ctx: &mut TxContext) {
    let id = object::new(ctx);
    let registry_id = id.to_inner();
    let master = MasterCap { id: object::new(ctx), registry_id };
    let slasher = SlashCap { id: object::new(ctx), registry_id };
    let registry = WorkerRegistry {
        id,
        workers: table::new(ctx),
        master_caps: vec_set::singleton(object::id(&master)),
        slash_caps: vec_set::singleton(object::id(&slasher)),
        envelope_key_cert: vector[],
        min_stake: DEFAULT_MIN_STAKE,
        registration_fee: 0,
        cooldown_ms: DEFAULT_COOLDOWN_MS,
        revoke_grace_ms: DEFAULT_REVOKE_GRACE_MS,
        max_envelope_ttl_ms: DEFAULT_MAX_ENVELOPE_TTL_MS,
        treasury: balance::zero(),
        total_stake: 0,
        total_workers: 0,
    };
    transfer::share_object(registry);
    transfer::public_transfer(AdminCap { id: object::new(ctx), registry_id }, ctx.sender());
    transfer::public_transfer(slasher, ctx.sender());
    transfer::transfer(master, ctx.sender());
}

// === Helpers ===

fun read_u64(v: &vector<u8>, at: u64): u64 {
    let mut out = 0u64;
    let mut i = 8;
    while (i > 0) {
        i = i - 1;
        out = (out << 8) | (v[at + i] as u64);
    };
    out
}

fun slice(v: &vector<u8>, from: u64, to: u64): vector<u8> {
    let mut out = vector[];
    let mut i = from;
    while (i < to) {
        out.push_back(v[i]);
        i = i + 1;
    };
    out
}

/// The node_id rule (DESIGN §4): `<label>-<fp>`, label 1..=46 of [a-z0-9-] without a
/// leading or trailing '-', fp = 16 lowercase hex. Returns the fingerprint bytes.
fun check_node_id(node_id: &String): vector<u8> {
    let b = node_id.as_bytes();
    let n = b.length();
    assert!(n <= MAX_LABEL_LEN + 1 + FINGERPRINT_LEN && n >= FINGERPRINT_LEN + 2, EInvalidNodeId);
    let dash = n - FINGERPRINT_LEN - 1;
    assert!(b[dash] == 0x2d, EInvalidNodeId);
    let mut i = dash + 1;
    while (i < n) {
        let c = b[i];
        assert!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66), EInvalidNodeId);
        i = i + 1;
    };
    assert!(b[0] != 0x2d && b[dash - 1] != 0x2d, EInvalidNodeId);
    let mut j = 0;
    while (j < dash) {
        let c = b[j];
        assert!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c == 0x2d, EInvalidNodeId);
        j = j + 1;
    };
    slice(b, dash + 1, n)
}

/// Checks a seal token for (registry, owner, node_id): length and version (4), the
/// node_id's fingerprint names the token's identity key (5), the signature (4).
fun check_seal_token(registry_id: ID, owner: address, node_id: &String, fp: &vector<u8>, token: &vector<u8>) {
    assert!(token.length() == SEAL_TOKEN_LEN && token[0] == SEAL_TOKEN_VERSION, EInvalidSealToken);
    let identity = slice(token, 1, 33);
    let sealing = slice(token, 33, 65);
    let signature = slice(token, 65, SEAL_TOKEN_LEN);
    let digest = hash::blake2b256(&identity);
    assert!(hex::encode(slice(&digest, 0, 8)) == *fp, EInvalidNodeId);
    let mut claim = SEAL_CLAIM_TAG;
    claim.append(bcs::to_bytes(&registry_id));
    claim.append(bcs::to_bytes(&owner));
    claim.append(bcs::to_bytes(node_id));
    claim.append(bcs::to_bytes(&sealing));
    assert!(ed25519::ed25519_verify(&signature, &identity, &claim), EInvalidSealToken);
}

fun set_status(w: &mut Worker, new_status: u8, clock: &Clock) {
    let old_status = w.status;
    w.status = new_status;
    event::emit(WorkerStatusChangedEvent {
        registry_id: w.registry_id, worker_id: object::id(w), node_id: w.node_id, old_status, new_status,
        timestamp_ms: clock.timestamp_ms(),
    });
}

fun skip(w: &Worker, action: u8, clock: &Clock) {
    event::emit(MasterActionSkippedEvent {
        registry_id: w.registry_id, worker_id: object::id(w), node_id: w.node_id, action, status: w.status,
        timestamp_ms: clock.timestamp_ms(),
    });
}

fun check_master(registry: &WorkerRegistry, cap: &MasterCap, w: &Worker) {
    let rid = object::id(registry);
    assert!(cap.registry_id == rid && w.registry_id == rid, EWrongRegistry);
    assert!(registry.master_caps.contains(&object::id(cap)), ECapRevoked);
}

fun check_admin(registry: &WorkerRegistry, cap: &AdminCap) {
    assert!(cap.registry_id == object::id(registry), EWrongRegistry);
}

// === Staker ===

/// Anyone: stakes `payment` (≥ min_stake + registration_fee; the fee goes to the
/// treasury) and registers `node_id` with the device's `seal_token`, verified here.
/// Checks in this order: 1 (stake; never an overflow), 5 (node_id syntax), 2 (taken),
/// then the seal token: 4 (length, version), 5 (fingerprint), 4 (signature).
public fun stake_and_register_worker(
    registry: &mut WorkerRegistry,
    payment: Coin<SUI>,
    node_id: String,
    seal_token: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let amount = payment.value();
    // payment − min_stake ≥ fee, so a huge fee or min_stake aborts 1, never overflows
    assert!(amount >= registry.min_stake && amount - registry.min_stake >= registry.registration_fee, EInsufficientStake);
    let fp = check_node_id(&node_id);
    assert!(!registry.workers.contains(node_id), EWorkerAlreadyExists);
    let owner = ctx.sender();
    check_seal_token(object::id(registry), owner, &node_id, &fp, &seal_token);
    let mut stake = payment.into_balance();
    let fee = registry.registration_fee;
    registry.treasury.join(stake.split(fee));
    let stake_amount = stake.value();
    let now = clock.timestamp_ms();
    let worker = Worker {
        id: object::new(ctx),
        registry_id: object::id(registry),
        node_id,
        owner,
        stake,
        status: STATUS_PENDING,
        seal_token,
        join_envelope: vector[],
        token_version: 0,
        cooldown_ms: registry.cooldown_ms,
        revoke_grace_ms: registry.revoke_grace_ms,
        registered_at_ms: now,
        unlock_at_ms: 0,
    };
    let worker_id = object::id(&worker);
    registry.workers.add(node_id, worker_id);
    registry.total_stake = registry.total_stake + stake_amount;
    registry.total_workers = registry.total_workers + 1;
    event::emit(WorkerRegisteredEvent {
        registry_id: object::id(registry), worker_id, node_id, owner, stake_amount, seal_token: worker.seal_token, timestamp_ms: now,
    });
    event::emit(StakeDepositedEvent { registry_id: object::id(registry), worker_id, node_id, owner, amount: stake_amount, timestamp_ms: now });
    transfer::share_object(worker);
}

/// Owner: back to Pending to get a new envelope (from TokenIssued only; else 7).
public fun request_join_token(worker: &mut Worker, clock: &Clock, ctx: &TxContext) {
    assert!(worker.owner == ctx.sender(), EUnauthorized);
    assert!(worker.status == STATUS_TOKEN_ISSUED, EInvalidStatus);
    set_status(worker, STATUS_PENDING, clock);
}

/// Owner: a new sealing key for the same identity key (4 otherwise); Pending, envelope
/// cleared, token_version + 1, so an envelope still in flight to the old sealing key
/// (made for the old token_version + 1) is skipped as a version race.
public fun rotate_seal_token(registry: &WorkerRegistry, worker: &mut Worker, seal_token: vector<u8>, clock: &Clock, ctx: &TxContext) {
    assert!(worker.owner == ctx.sender(), EUnauthorized);
    assert!(worker.registry_id == object::id(registry), EWrongRegistry);
    let s = worker.status;
    assert!(s == STATUS_PENDING || s == STATUS_TOKEN_ISSUED || s == STATUS_ACTIVE, EInvalidStatus);
    assert!(seal_token.length() == SEAL_TOKEN_LEN && seal_token[0] == SEAL_TOKEN_VERSION, EInvalidSealToken);
    assert!(slice(&seal_token, 1, 33) == slice(&worker.seal_token, 1, 33), EInvalidSealToken);
    let fp = check_node_id(&worker.node_id);
    check_seal_token(object::id(registry), ctx.sender(), &worker.node_id, &fp, &seal_token);
    worker.seal_token = seal_token;
    worker.join_envelope = vector[];
    worker.token_version = worker.token_version + 1;
    if (s != STATUS_PENDING) set_status(worker, STATUS_PENDING, clock);
    event::emit(SealTokenRotatedEvent {
        registry_id: worker.registry_id, worker_id: object::id(worker), node_id: worker.node_id, seal_token: worker.seal_token,
        timestamp_ms: clock.timestamp_ms(),
    });
}

/// Owner: leave; unlock_at = now + the Worker's own cooldown.
public fun request_unstake(worker: &mut Worker, clock: &Clock, ctx: &TxContext) {
    assert!(worker.owner == ctx.sender(), EUnauthorized);
    let s = worker.status;
    assert!(s == STATUS_PENDING || s == STATUS_TOKEN_ISSUED || s == STATUS_ACTIVE, EInvalidStatus);
    worker.unlock_at_ms = clock.timestamp_ms() + worker.cooldown_ms;
    set_status(worker, STATUS_LEAVING, clock);
}

/// Owner: after Revoked and the cooldown, or Leaving/Slashed and cooldown + the
/// Worker's own revoke grace (a dead master cannot hold stakes hostage; a later
/// registry change never lengthens a running exit). Deletes the Worker, frees the
/// node_id, pays the stake back. Aborts 6, 8, 9, 7.
public fun withdraw_stake(registry: &mut WorkerRegistry, worker: Worker, clock: &Clock, ctx: &mut TxContext) {
    assert!(worker.owner == ctx.sender(), EUnauthorized);
    assert!(worker.registry_id == object::id(registry), EWrongRegistry);
    let now = clock.timestamp_ms();
    let s = worker.status;
    if (s == STATUS_REVOKED) {
        assert!(now >= worker.unlock_at_ms, ECooldownNotOver);
    } else if (s == STATUS_LEAVING || s == STATUS_SLASHED) {
        assert!(now >= worker.unlock_at_ms + worker.revoke_grace_ms, ECooldownNotOver);
    } else {
        abort EInvalidStatus
    };
    let Worker { id, registry_id, node_id, owner, stake, status: _, seal_token: _, join_envelope: _, token_version: _, cooldown_ms: _, revoke_grace_ms: _, registered_at_ms: _, unlock_at_ms: _ } = worker;
    let worker_id = id.to_inner();
    id.delete();
    let _: ID = registry.workers.remove(node_id);
    let amount = stake.value();
    registry.total_stake = registry.total_stake - amount;
    registry.total_workers = registry.total_workers - 1;
    transfer::public_transfer(coin::from_balance(stake, ctx), owner);
    event::emit(StakeWithdrawnEvent { registry_id, worker_id, node_id, owner, amount, timestamp_ms: now });
}

// === Master ===

/// MasterCap: stores a join envelope (header checked: 10 on any defect). A status or
/// version race (token_version ≠ current + 1; Leaving/Slashed/Revoked) is skipped
/// with MasterActionSkippedEvent, never an abort of the batch.
public fun set_join_token(registry: &WorkerRegistry, cap: &MasterCap, worker: &mut Worker, envelope: vector<u8>, clock: &Clock) {
    check_master(registry, cap, worker);
    let n = envelope.length();
    assert!(n >= ENVELOPE_MIN_LEN && n <= ENVELOPE_MAX_LEN, EInvalidEnvelope);
    assert!(envelope[0] == ENVELOPE_VERSION, EInvalidEnvelope);
    let ct = (envelope[49] as u64) | ((envelope[50] as u64) << 8);
    assert!(ct >= ENVELOPE_MIN_CIPHERTEXT, EInvalidEnvelope);
    assert!(ENVELOPE_HEADER_LEN + ct + ENVELOPE_SIGNATURE_LEN == n, EInvalidEnvelope);
    let version = read_u64(&envelope, 1);
    let expires_at_ms = read_u64(&envelope, 9);
    let now = clock.timestamp_ms();
    assert!(expires_at_ms > now && expires_at_ms <= now + registry.max_envelope_ttl_ms, EInvalidEnvelope);
    let s = worker.status;
    if (!(s == STATUS_PENDING || s == STATUS_TOKEN_ISSUED || s == STATUS_ACTIVE) || version != worker.token_version + 1) {
        skip(worker, ACTION_SET_JOIN_TOKEN, clock);
        return
    };
    worker.join_envelope = envelope;
    worker.token_version = version;
    if (s == STATUS_PENDING) set_status(worker, STATUS_TOKEN_ISSUED, clock);
    event::emit(JoinTokenSetEvent {
        registry_id: worker.registry_id, worker_id: object::id(worker), node_id: worker.node_id, token_version: version, expires_at_ms, timestamp_ms: now,
    });
}

/// MasterCap: TokenIssued → Active once the node joined (else skipped).
public fun activate_worker(registry: &WorkerRegistry, cap: &MasterCap, worker: &mut Worker, clock: &Clock) {
    check_master(registry, cap, worker);
    if (worker.status != STATUS_TOKEN_ISSUED) {
        skip(worker, ACTION_ACTIVATE, clock);
        return
    };
    set_status(worker, STATUS_ACTIVE, clock);
}

/// MasterCap: Leaving/Slashed → Revoked once the node is removed (else skipped).
public fun confirm_revoked(registry: &WorkerRegistry, cap: &MasterCap, worker: &mut Worker, clock: &Clock) {
    check_master(registry, cap, worker);
    if (worker.status != STATUS_LEAVING && worker.status != STATUS_SLASHED) {
        skip(worker, ACTION_CONFIRM_REVOKED, clock);
        return
    };
    set_status(worker, STATUS_REVOKED, clock);
}

// === Slashing ===

/// SlashCap: moves up to `amount` of the stake to the treasury; Slashed, unlock set.
/// Aborts 8 (other registry), 12 (revoked SlashCap), 11 (reason > 256 bytes), 7 (Revoked).
public fun slash(registry: &mut WorkerRegistry, cap: &SlashCap, worker: &mut Worker, amount: u64, reason: String, clock: &Clock) {
    let rid = object::id(registry);
    assert!(cap.registry_id == rid && worker.registry_id == rid, EWrongRegistry);
    assert!(registry.slash_caps.contains(&object::id(cap)), ECapRevoked);
    assert!(reason.length() <= MAX_SLASH_REASON_LEN, EInvalidParameter);
    let s = worker.status;
    assert!(s == STATUS_PENDING || s == STATUS_TOKEN_ISSUED || s == STATUS_ACTIVE || s == STATUS_LEAVING, EInvalidStatus);
    let taken = if (amount < worker.stake.value()) amount else worker.stake.value();
    registry.treasury.join(worker.stake.split(taken));
    registry.total_stake = registry.total_stake - taken;
    worker.unlock_at_ms = clock.timestamp_ms() + worker.cooldown_ms;
    set_status(worker, STATUS_SLASHED, clock);
    event::emit(WorkerSlashedEvent { registry_id: rid, worker_id: object::id(worker), node_id: worker.node_id, amount: taken, reason, timestamp_ms: clock.timestamp_ms() });
}

// === Admin ===

/// AdminCap: minimum stake (MIST).
public fun set_min_stake(registry: &mut WorkerRegistry, cap: &AdminCap, value: u64) {
    check_admin(registry, cap);
    registry.min_stake = value;
}

/// AdminCap: non-refundable registration fee (MIST).
public fun set_registration_fee(registry: &mut WorkerRegistry, cap: &AdminCap, value: u64) {
    check_admin(registry, cap);
    registry.registration_fee = value;
}

/// AdminCap: cooldown copied into new Workers, at most 30 days (11).
public fun set_cooldown_ms(registry: &mut WorkerRegistry, cap: &AdminCap, value: u64) {
    check_admin(registry, cap);
    assert!(value <= MAX_DURATION_MS, EInvalidParameter);
    registry.cooldown_ms = value;
}

/// AdminCap: grace after the cooldown when no master confirms, at most 30 days (11).
public fun set_revoke_grace_ms(registry: &mut WorkerRegistry, cap: &AdminCap, value: u64) {
    check_admin(registry, cap);
    assert!(value <= MAX_DURATION_MS, EInvalidParameter);
    registry.revoke_grace_ms = value;
}

/// AdminCap: longest envelope lifetime, 1 ms to 30 days (11).
public fun set_max_envelope_ttl_ms(registry: &mut WorkerRegistry, cap: &AdminCap, value: u64) {
    check_admin(registry, cap);
    assert!(value > 0 && value <= MAX_DURATION_MS, EInvalidParameter);
    registry.max_envelope_ttl_ms = value;
}

/// AdminCap: stores the root-signed envelope-key certificate (105 bytes, version 1,
/// serial above the current one; else 11). The signature is checked by devices,
/// which pin the root key; the chain keeps the layout and the growing serial.
public fun set_envelope_key_cert(registry: &mut WorkerRegistry, cap: &AdminCap, cert: vector<u8>, clock: &Clock) {
    check_admin(registry, cap);
    assert!(cert.length() == CERT_LEN && cert[0] == CERT_VERSION, EInvalidParameter);
    let serial = read_u64(&cert, 1);
    if (registry.envelope_key_cert.length() == CERT_LEN) {
        assert!(serial > read_u64(&registry.envelope_key_cert, 1), EInvalidParameter);
    };
    registry.envelope_key_cert = cert;
    event::emit(EnvelopeKeyCertSetEvent { registry_id: object::id(registry), serial, timestamp_ms: clock.timestamp_ms() });
}

/// AdminCap: a new valid MasterCap for `recipient`.
public fun issue_master_cap(registry: &mut WorkerRegistry, cap: &AdminCap, recipient: address, clock: &Clock, ctx: &mut TxContext) {
    check_admin(registry, cap);
    let master = MasterCap { id: object::new(ctx), registry_id: object::id(registry) };
    let cap_id = object::id(&master);
    registry.master_caps.insert(cap_id);
    transfer::transfer(master, recipient);
    event::emit(MasterCapChangedEvent { registry_id: object::id(registry), cap_id, valid: true, timestamp_ms: clock.timestamp_ms() });
}

/// AdminCap: cancels a MasterCap (using it then aborts 12; an unknown id aborts 11).
public fun revoke_master_cap(registry: &mut WorkerRegistry, cap: &AdminCap, cap_id: ID, clock: &Clock) {
    check_admin(registry, cap);
    assert!(registry.master_caps.contains(&cap_id), EInvalidParameter);
    registry.master_caps.remove(&cap_id);
    event::emit(MasterCapChangedEvent { registry_id: object::id(registry), cap_id, valid: false, timestamp_ms: clock.timestamp_ms() });
}

/// AdminCap: another valid SlashCap for `recipient` (a multisig, say).
public fun issue_slash_cap(registry: &mut WorkerRegistry, cap: &AdminCap, recipient: address, ctx: &mut TxContext) {
    check_admin(registry, cap);
    let slasher = SlashCap { id: object::new(ctx), registry_id: object::id(registry) };
    registry.slash_caps.insert(object::id(&slasher));
    transfer::public_transfer(slasher, recipient);
}

/// AdminCap: cancels a SlashCap (slashing with it then aborts 12; an unknown id aborts 11).
public fun revoke_slash_cap(registry: &mut WorkerRegistry, cap: &AdminCap, cap_id: ID) {
    check_admin(registry, cap);
    assert!(registry.slash_caps.contains(&cap_id), EInvalidParameter);
    registry.slash_caps.remove(&cap_id);
}

/// AdminCap: pays `amount` of fees and slashes to `recipient` (11 above the treasury).
public fun withdraw_treasury(registry: &mut WorkerRegistry, cap: &AdminCap, amount: u64, recipient: address, ctx: &mut TxContext) {
    check_admin(registry, cap);
    assert!(amount <= registry.treasury.value(), EInvalidParameter);
    transfer::public_transfer(coin::from_balance(registry.treasury.split(amount), ctx), recipient);
}

// === Views ===

/// The stored envelope (empty before the first).
public fun get_worker_join_token(worker: &Worker): vector<u8> { worker.join_envelope }
/// Whether `addr` owns the worker.
public fun is_worker_owner(worker: &Worker, addr: address): bool { worker.owner == addr }
/// The status byte.
public fun worker_status(worker: &Worker): u8 { worker.status }
/// Envelopes stored so far.
public fun token_version(worker: &Worker): u64 { worker.token_version }
/// The node_id.
public fun worker_node_id(worker: &Worker): String { worker.node_id }
/// Stake in custody (MIST).
public fun worker_stake(worker: &Worker): u64 { worker.stake.value() }
/// When the stake unlocks.
public fun worker_unlock_at_ms(worker: &Worker): u64 { worker.unlock_at_ms }
/// The worker's cooldown, copied at registration.
public fun worker_cooldown_ms(worker: &Worker): u64 { worker.cooldown_ms }
/// The worker's revoke grace, copied at registration.
public fun worker_revoke_grace_ms(worker: &Worker): u64 { worker.revoke_grace_ms }
/// The seal token.
public fun worker_seal_token(worker: &Worker): vector<u8> { worker.seal_token }
/// The Worker id of `node_id`; aborts 3 when none.
public fun worker_id_of(registry: &WorkerRegistry, node_id: String): ID {
    assert!(registry.workers.contains(node_id), EWorkerNotFound);
    registry.workers[node_id]
}
/// Whether `node_id` is registered.
public fun has_worker(registry: &WorkerRegistry, node_id: String): bool { registry.workers.contains(node_id) }
/// Treasury (MIST).
public fun treasury_value(registry: &WorkerRegistry): u64 { registry.treasury.value() }
/// Stake held by workers (MIST).
public fun total_stake(registry: &WorkerRegistry): u64 { registry.total_stake }
/// Registered workers.
public fun total_workers(registry: &WorkerRegistry): u64 { registry.total_workers }
/// The envelope-key certificate (empty until set).
public fun envelope_key_cert(registry: &WorkerRegistry): vector<u8> { registry.envelope_key_cert }
/// Minimum stake (MIST).
public fun min_stake(registry: &WorkerRegistry): u64 { registry.min_stake }
/// Registration fee (MIST).
public fun registration_fee(registry: &WorkerRegistry): u64 { registry.registration_fee }
/// Cooldown for new workers.
public fun cooldown_ms(registry: &WorkerRegistry): u64 { registry.cooldown_ms }
/// Revoke grace for new workers.
public fun revoke_grace_ms(registry: &WorkerRegistry): u64 { registry.revoke_grace_ms }
/// Longest envelope lifetime.
public fun max_envelope_ttl_ms(registry: &WorkerRegistry): u64 { registry.max_envelope_ttl_ms }
/// Whether the MasterCap `cap_id` is valid here.
public fun is_master_cap_valid(registry: &WorkerRegistry, cap_id: ID): bool { registry.master_caps.contains(&cap_id) }
/// Whether the SlashCap `cap_id` is valid here.
public fun is_slash_cap_valid(registry: &WorkerRegistry, cap_id: ID): bool { registry.slash_caps.contains(&cap_id) }

#[test_only]
public fun init_for_testing(ctx: &mut TxContext) { init(ctx) }
