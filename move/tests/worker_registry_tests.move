/// S01–S32: the registry's rules, the same scenario ids as daas-sandbox's tests
/// (sandbox/tests/it/scenarios.rs). Seal tokens and node_ids below are produced by
/// the Rust daas-protocol code, so the on-chain claim check and the Rust code are held
/// to the same bytes. Regenerate with (registry = the first object of this scenario):
///   cargo run -q -p daas-protocol --example seal_token -- \
///     --registry 0x034401905bebdf8c04f3cd5f04f442a39372c8dc321c29edfb4f9cb30b23ab96 \
///     --owner <0xa11ce|0xb0b> --label <label> --seed <n> [--identity-seed <n>] \
///     [--sealing-public 0x<32 bytes>] [--raw-identity 0x<32 bytes>]
#[test_only]
module k8s_daas::worker_registry_tests;

use k8s_daas::worker_registry::{Self as wr, WorkerRegistry, Worker, MasterCap, AdminCap, SlashCap};
use k8s_daas::worker_registry::MasterActionSkippedEvent;
use k8s_daas::worker_registry::JoinTokenSetEvent;
use sui::clock::{Self, Clock};
use sui::coin::{Self, Coin};
use sui::event;
use sui::sui::SUI;
use sui::test_scenario::{Self as ts, Scenario};

const ADMIN: address = @0xAD;
const ALICE: address = @0xA11CE;
const BOB: address = @0xB0B;
const ONE_SUI: u64 = 1_000_000_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;
const T0: u64 = 1_000_000;
const REGISTRY_A: address = @0x034401905bebdf8c04f3cd5f04f442a39372c8dc321c29edfb4f9cb30b23ab96;

// --label rpi --seed 1 --owner 0xa11ce
const NODE_A: vector<u8> = b"rpi-6bf83345ba6e8d88";
const TOKEN_A: vector<u8> = x"015882e8b596b11ddf55abf6228a694daa3dc8776ff0159b88920fec4d08ceab6c61d8bf6a31ad54f0559279a6ec7d5822e1898bf3f541d377f61061cf4e81f076e45a99000b90f68cbf9e7cc538c278e219ef5885e8ba301eb49d4a98e3d63333538aa92421f2abb454c2a4d73e78e278e9a93fbd119f4e5344d897170c9df40b";
// the same device, --owner 0xb0b
const TOKEN_A_FOR_BOB: vector<u8> = x"015882e8b596b11ddf55abf6228a694daa3dc8776ff0159b88920fec4d08ceab6c61d8bf6a31ad54f0559279a6ec7d5822e1898bf3f541d377f61061cf4e81f076f2052aa154663604877e8afcdd57d02b72a98446245f34fec027b2033f52447e64df6120004aa968d33574bfe78777677c7cf0718c4576bd12984b20431c7f01";
// the same device, --registry 0x1234
const TOKEN_A_OTHER_REGISTRY: vector<u8> = x"015882e8b596b11ddf55abf6228a694daa3dc8776ff0159b88920fec4d08ceab6c61d8bf6a31ad54f0559279a6ec7d5822e1898bf3f541d377f61061cf4e81f076a8e065ad4e747edf6812e1ce909896b13b26c1793dbcd2fd1a6f33427133e8d075a9579502710df508398299db97b113874a34e10438ae17c94a17bdeaaba809";
// the same device, --label rpi-b (node_id rpi-b-6bf83345ba6e8d88)
const NODE_A_B: vector<u8> = b"rpi-b-6bf83345ba6e8d88";
const TOKEN_A_LABEL_B: vector<u8> = x"015882e8b596b11ddf55abf6228a694daa3dc8776ff0159b88920fec4d08ceab6c61d8bf6a31ad54f0559279a6ec7d5822e1898bf3f541d377f61061cf4e81f0761deb6a5fc0edd1af7b7a8cb40be46ec3dd73cc588c23f9d54489ea7cf792ee1d8842d6237a28a10da1810471a276bcfa6c3dd5313b7a1dd475a06a1ef7a37303";
// --label rpi --seed 2 --owner 0xa11ce (another identity key)
const NODE_B: vector<u8> = b"rpi-9aead9f534e0fbb4";
const TOKEN_B: vector<u8> = x"01ae04a6d2ea3da34228ee9290fe84e9c9d1fb960a9e966d1c957d9cbd591d18be467ec69ed65b4e8f87d18043b550d8bf4acddb7e534f8fb072cbdb851437bf06641b395050443c7053e92c85473156604278a577cc5e463c4661265d2eb0d0b484e45414596855afd4ade455243bc212f9fe3d2fcb00fd1b1a2ddaf06ffc6606";
// --label rpi --seed 3 --identity-seed 1 --owner 0xa11ce (same identity as A, new sealing key)
const TOKEN_A_ROTATED: vector<u8> = x"015882e8b596b11ddf55abf6228a694daa3dc8776ff0159b88920fec4d08ceab6cd95dae29995cd2e0ee0c4098e8764da35fc5a6435509ba2e67101e9f3a7a2c7da30f87b9874f387bcea466d60d3e7d24e70d6b2fbe8118a4fdecead7eb8fa18932994815494ea0b09d9765075ad8b5a6373ed64e1bb9227debccb8b562525407";
// --label node --seed 4 --owner 0xb0b
const NODE_C: vector<u8> = b"node-c30dd507d6f8a97e";
const TOKEN_C: vector<u8> = x"01edb063232656374e662a33479f77c5a775888b2526be32695890a7a2a7b166910840fb0e3cb3a62cae03e0578a9a16991a2ea6d10cbc68d44bac9a379805711104bfb0d90da46a940ad89f60bb8ac9750f346c8ed08a99ac3fd45081b19ab76f444fdf8472d5817abf0ec3c2f1b93eed7050cba11470da215b431622fcc2f80c";
// --label lo --seed 5 --owner 0xa11ce --sealing-public 0x00…00 (a low-order X25519 key,
// signed by a real identity key)
const NODE_LO: vector<u8> = b"lo-8cc2e8750d6e9a90";
const TOKEN_LO: vector<u8> = x"01b1291af1dd1bf921374bc0f9633521313a75cde7881368f868e2822fad4eede80000000000000000000000000000000000000000000000000000000000000000d2c4f1aae50a53ba53bbc76224fada82d735cbc344faabc87e143ac4226819032d8b97abae4ea76b1f0bb406229ef49a98b1a8f3c5ea7bc5644a5a345e8d9900";
// --label so --seed 6 --owner 0xa11ce --raw-identity 0x0100…00 (the neutral point: small
// order; R = neutral, s = 0 verifies under ZIP-215)
const NODE_SO: vector<u8> = b"so-afbc1c053c2f278e";
const TOKEN_SO: vector<u8> = x"010100000000000000000000000000000000000000000000000000000000000000edc77b925ddbecf325d1c358c6fa6d234971c5624bcb74fa20de9c658f59f95001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
// --label bad --seed 7 --owner 0xa11ce --raw-identity 0x0200…00 (y = 2 is not on the curve)
const NODE_BAD: vector<u8> = b"bad-452a1e75379fdcd9";
const TOKEN_BAD: vector<u8> = x"01020000000000000000000000000000000000000000000000000000000000000004d7e9790e684f1496899d8bf167bf6fd55913c9d9c4f0dcc85139f0aea97e2f01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
const U64_MAX: u64 = 18_446_744_073_709_551_615;

// === helpers ===

fun setup(): (Scenario, Clock) {
    let mut s = ts::begin(ADMIN);
    wr::init_for_testing(s.ctx());
    let mut clock = clock::create_for_testing(s.ctx());
    clock.set_for_testing(T0);
    s.next_tx(ADMIN);
    (s, clock)
}

fun finish(s: Scenario, clock: Clock) {
    clock.destroy_for_testing();
    s.end();
}

fun registry(s: &Scenario): WorkerRegistry {
    s.take_shared_by_id<WorkerRegistry>(object::id_from_address(REGISTRY_A))
}

fun register(s: &mut Scenario, clock: &Clock, who: address, node: vector<u8>, token: vector<u8>, amount: u64) {
    s.next_tx(who);
    let mut reg = registry(s);
    let coin = coin::mint_for_testing<SUI>(amount, s.ctx());
    wr::stake_and_register_worker(&mut reg, coin, node.to_string(), token, clock, s.ctx());
    ts::return_shared(reg);
}

/// Reads a worker in a new transaction (objects returned in this one are not
/// available again until the next).
fun worker(s: &mut Scenario, node: vector<u8>): Worker {
    let sender = s.sender();
    s.next_tx(sender);
    let reg = registry(s);
    let w = worker_in(s, &reg, node);
    ts::return_shared(reg);
    w
}

fun worker_in(s: &Scenario, reg: &WorkerRegistry, node: vector<u8>): Worker {
    s.take_shared_by_id<Worker>(wr::worker_id_of(reg, node.to_string()))
}

fun status(s: &mut Scenario, node: vector<u8>): u8 {
    let w = worker(s, node);
    let st = wr::worker_status(&w);
    ts::return_shared(w);
    st
}

fun envelope(version: u64, expires_at_ms: u64, n: u64): vector<u8> {
    let mut e = vector[1u8];
    let mut i = 0;
    while (i < 8) { e.push_back(((version >> ((i * 8) as u8)) & 0xff) as u8); i = i + 1; };
    i = 0;
    while (i < 8) { e.push_back(((expires_at_ms >> ((i * 8) as u8)) & 0xff) as u8); i = i + 1; };
    i = 0;
    while (i < 32) { e.push_back(0xee); i = i + 1; };
    e.push_back((n & 0xff) as u8);
    e.push_back((n >> 8) as u8);
    i = 0;
    while (i < n + 64) { e.push_back(0xcc); i = i + 1; };
    e
}

fun set_token_raw(s: &mut Scenario, clock: &Clock, node: vector<u8>, env: vector<u8>) {
    s.next_tx(ADMIN);
    let reg = registry(s);
    let cap = s.take_from_sender<MasterCap>();
    let mut w = worker_in(s, &reg, node);
    wr::set_join_token(&reg, &cap, &mut w, env, clock);
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg);
}

fun set_token(s: &mut Scenario, clock: &Clock, node: vector<u8>, version: u64) {
    set_token_raw(s, clock, node, envelope(version, clock.timestamp_ms() + HOUR, 16));
}

fun master(s: &mut Scenario, clock: &Clock, node: vector<u8>, action: u8) {
    s.next_tx(ADMIN);
    let reg = registry(s);
    let cap = s.take_from_sender<MasterCap>();
    let mut w = worker_in(s, &reg, node);
    if (action == 2) wr::activate_worker(&reg, &cap, &mut w, clock) else wr::confirm_revoked(&reg, &cap, &mut w, clock);
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg);
}

fun unstake(s: &mut Scenario, clock: &Clock, who: address, node: vector<u8>) {
    s.next_tx(who);
    let mut w = worker(s, node);
    wr::request_unstake(&mut w, clock, s.ctx());
    ts::return_shared(w);
}

fun withdraw(s: &mut Scenario, clock: &Clock, who: address, node: vector<u8>) {
    s.next_tx(who);
    let mut reg = registry(s);
    let w = worker_in(s, &reg, node);
    wr::withdraw_stake(&mut reg, w, clock, s.ctx());
    ts::return_shared(reg);
}

fun slash(s: &mut Scenario, clock: &Clock, node: vector<u8>, amount: u64, reason: vector<u8>) {
    s.next_tx(ADMIN);
    let mut reg = registry(s);
    let cap = s.take_from_sender<SlashCap>();
    let mut w = worker_in(s, &reg, node);
    wr::slash(&mut reg, &cap, &mut w, amount, reason.to_string(), clock);
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg);
}

/// A second registry (the most recent shared WorkerRegistry); its caps go to ADMIN
/// and become the most recent ones there.
fun second_registry(s: &mut Scenario) {
    s.next_tx(ADMIN);
    wr::init_for_testing(s.ctx());
    s.next_tx(ADMIN);
}

fun issued(s: &mut Scenario, clock: &Clock) {
    register(s, clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    set_token(s, clock, NODE_A, 1);
}

fun active(s: &mut Scenario, clock: &Clock) {
    issued(s, clock);
    master(s, clock, NODE_A, 2);
}

// === S01–S23 ===

#[test]
fun s01_register_ok() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 2, 0); // WorkerRegisteredEvent, StakeDepositedEvent
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_status(&w) == 0 && wr::worker_stake(&w) == ONE_SUI, 1);
    assert!(wr::is_worker_owner(&w, ALICE) && wr::token_version(&w) == 0, 2);
    assert!(wr::worker_seal_token(&w) == TOKEN_A, 3);
    ts::return_shared(w);
    // with a fee: fee to the treasury, the rest is the stake
    s.next_tx(ADMIN);
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_registration_fee(&mut reg, &admin, ONE_SUI / 2);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    register(&mut s, &clock, BOB, NODE_C, TOKEN_C, ONE_SUI + ONE_SUI / 2);
    s.next_tx(ADMIN);
    let reg = registry(&s);
    assert!(wr::treasury_value(&reg) == ONE_SUI / 2, 4);
    assert!(wr::total_stake(&reg) == 2 * ONE_SUI && wr::total_workers(&reg) == 2, 5);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInsufficientStake)]
fun s02_payment_below_min_stake() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI - 1);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInsufficientStake)]
fun s02_payment_below_min_stake_plus_fee() {
    let (mut s, clock) = setup();
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_registration_fee(&mut reg, &admin, 1000);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWorkerAlreadyExists)]
fun s03_duplicate_node_id() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_uppercase() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"RPI-6bf83345ba6e8d88", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_64_bytes() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-6bf83345ba6e8d88", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_leading_dash() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"-rpi-6bf83345ba6e8d88", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_trailing_dash() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"rpi--6bf83345ba6e8d88", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_empty_label() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"-6bf83345ba6e8d88", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_missing_fingerprint() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"rpi", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_short_fingerprint() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"rpi-6bf83345ba6e8d8", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s04_bad_node_id_uppercase_fingerprint() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, b"rpi-6BF83345BA6E8D88", TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s05_fingerprint_of_another_identity_key() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_B, TOKEN_A, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidSealToken)]
fun s06_seal_token_wrong_length() {
    let (mut s, clock) = setup();
    let mut t = TOKEN_A;
    t.pop_back();
    register(&mut s, &clock, ALICE, NODE_A, t, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidSealToken)]
fun s06_seal_token_wrong_version() {
    let (mut s, clock) = setup();
    let mut t = TOKEN_A;
    *(&mut t[0]) = 2;
    register(&mut s, &clock, ALICE, NODE_A, t, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidSealToken)]
fun s07_seal_token_for_another_owner() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A_FOR_BOB, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidSealToken)]
fun s08_seal_token_for_another_registry() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A_OTHER_REGISTRY, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidSealToken)]
fun s08_seal_token_for_another_node_id() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A_LABEL_B, ONE_SUI);
    finish(s, clock);
}

#[test]
fun s08_the_right_token_for_the_other_node_id_registers() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A_B, TOKEN_A_LABEL_B, ONE_SUI);
    assert!(status(&mut s, NODE_A_B) == 0, 0);
    finish(s, clock);
}

#[test]
fun s09_set_join_token_issues_token() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    let env = envelope(1, T0 + HOUR, 16);
    set_token_raw(&mut s, &clock, NODE_A, env);
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 2, 0); // WorkerStatusChangedEvent, JoinTokenSetEvent
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_status(&w) == 1 && wr::token_version(&w) == 1, 1);
    assert!(wr::get_worker_join_token(&w) == env, 2);
    ts::return_shared(w);
    set_token(&mut s, &clock, NODE_A, 2);
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_status(&w) == 1 && wr::token_version(&w) == 2, 3);
    ts::return_shared(w);
    master(&mut s, &clock, NODE_A, 2);
    set_token(&mut s, &clock, NODE_A, 3);
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_status(&w) == 2 && wr::token_version(&w) == 3, 4);
    ts::return_shared(w);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s10_master_cap_of_another_registry() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    second_registry(&mut s);
    set_token(&mut s, &clock, NODE_A, 1); // the most recent MasterCap is registry B's
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::ECapRevoked)]
fun s10_revoked_master_cap() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    s.next_tx(ADMIN);
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>();
    let cap = s.take_from_sender<MasterCap>();
    wr::revoke_master_cap(&mut reg, &admin, object::id(&cap), &clock);
    s.return_to_sender(cap);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    set_token(&mut s, &clock, NODE_A, 1);
    finish(s, clock);
}

fun envelope_defect(env: vector<u8>) {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    set_token_raw(&mut s, &clock, NODE_A, env);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s11_envelope_longer_than_2048() { envelope_defect(envelope(1, T0 + HOUR, 2048 - 115 + 1)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s11_envelope_shorter_than_131() {
    let mut e = envelope(1, T0 + HOUR, 16);
    e.pop_back();
    envelope_defect(e)
}

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s11_envelope_version_not_1() {
    let mut e = envelope(1, T0 + HOUR, 16);
    *(&mut e[0]) = 2;
    envelope_defect(e)
}

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s11_envelope_length_field_inconsistent() {
    let mut e = envelope(1, T0 + HOUR, 20);
    e.push_back(0);
    envelope_defect(e)
}

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s11_envelope_ciphertext_below_16() {
    let mut e = envelope(1, T0 + HOUR, 15);
    e.push_back(0);
    *(&mut e[49]) = 15;
    envelope_defect(e)
}

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s11_envelope_expired() { envelope_defect(envelope(1, T0, 16)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s11_envelope_beyond_max_ttl() { envelope_defect(envelope(1, T0 + 7 * DAY + 1, 16)) }

#[test]
fun s11_envelope_at_max_ttl_is_accepted() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    set_token_raw(&mut s, &clock, NODE_A, envelope(1, T0 + 7 * DAY, 2048 - 115));
    assert!(status(&mut s, NODE_A) == 1, 0);
    finish(s, clock);
}

#[test]
fun s12_version_race_or_leaving_is_skipped() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    register(&mut s, &clock, ALICE, NODE_B, TOKEN_B, ONE_SUI);
    register(&mut s, &clock, BOB, NODE_C, TOKEN_C, ONE_SUI);
    // one transaction, three calls, the middle one stale
    s.next_tx(ADMIN);
    let reg = registry(&s);
    let cap = s.take_from_sender<MasterCap>();
    let mut a = worker_in(&s, &reg, NODE_A);
    let mut b = worker_in(&s, &reg, NODE_B);
    let mut c = worker_in(&s, &reg, NODE_C);
    wr::set_join_token(&reg, &cap, &mut a, envelope(1, T0 + HOUR, 16), &clock);
    wr::set_join_token(&reg, &cap, &mut b, envelope(5, T0 + HOUR, 16), &clock);
    wr::set_join_token(&reg, &cap, &mut c, envelope(1, T0 + HOUR, 16), &clock);
    assert!(wr::token_version(&a) == 1 && wr::token_version(&b) == 0 && wr::token_version(&c) == 1, 0);
    assert!(wr::worker_status(&b) == 0, 1);
    ts::return_shared(a);
    ts::return_shared(b);
    ts::return_shared(c);
    s.return_to_sender(cap);
    ts::return_shared(reg);
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 5, 2); // 2 × (status changed, token set) + 1 skipped
    // a leaving worker is skipped
    unstake(&mut s, &clock, ALICE, NODE_B);
    set_token(&mut s, &clock, NODE_B, 1);
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 1, 3);
    assert!(status(&mut s, NODE_B) == 3, 4);
    finish(s, clock);
}

#[test]
fun s13_activate_worker() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, BOB, NODE_C, TOKEN_C, ONE_SUI);
    master(&mut s, &clock, NODE_C, 2);
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 1, 0); // skipped
    assert!(status(&mut s, NODE_C) == 0, 1);
    issued(&mut s, &clock);
    master(&mut s, &clock, NODE_A, 2);
    assert!(status(&mut s, NODE_A) == 2, 2);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EUnauthorized)]
fun s14_request_unstake_by_non_owner() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, BOB, NODE_A);
    finish(s, clock);
}

#[test]
fun s14_request_unstake_keeps_the_workers_own_cooldown() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_B, TOKEN_B, ONE_SUI); // Pending
    active(&mut s, &clock); // NODE_A Active
    register(&mut s, &clock, BOB, NODE_C, TOKEN_C, ONE_SUI);
    set_token(&mut s, &clock, NODE_C, 1); // TokenIssued
    s.next_tx(ADMIN);
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_cooldown_ms(&mut reg, &admin, DAY);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    clock.increment_for_testing(1000);
    unstake(&mut s, &clock, ALICE, NODE_B);
    unstake(&mut s, &clock, ALICE, NODE_A);
    unstake(&mut s, &clock, BOB, NODE_C);
    let nodes = vector[NODE_A, NODE_B, NODE_C];
    let mut i = 0;
    while (i < 3) {
        let w = worker(&mut s, nodes[i]);
        assert!(wr::worker_status(&w) == 3, i);
        assert!(wr::worker_unlock_at_ms(&w) == T0 + 1000 + 7 * DAY, 10 + i);
        ts::return_shared(w);
        i = i + 1;
    };
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EUnauthorized)]
fun s15_withdraw_by_non_owner() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    withdraw(&mut s, &clock, BOB, NODE_A);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidStatus)]
fun s15_withdraw_while_active() {
    let (mut s, clock) = setup();
    active(&mut s, &clock);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::ECooldownNotOver)]
fun s15_withdraw_leaving_before_unlock_plus_grace() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    clock.increment_for_testing(7 * DAY + DAY - 1);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::ECooldownNotOver)]
fun s15_withdraw_revoked_before_unlock() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    master(&mut s, &clock, NODE_A, 3);
    clock.increment_for_testing(7 * DAY - 1);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    finish(s, clock);
}

#[test]
fun s15_withdraw_revoked_after_unlock_pays_and_frees_the_node_id() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    master(&mut s, &clock, NODE_A, 3);
    clock.increment_for_testing(7 * DAY);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    let eff = s.next_tx(ALICE);
    assert!(eff.num_user_events() == 1, 0); // StakeWithdrawnEvent
    assert!(eff.deleted().length() >= 1, 1);
    let coin = s.take_from_sender<Coin<SUI>>();
    assert!(coin.value() == ONE_SUI, 2);
    s.return_to_sender(coin);
    let reg = registry(&s);
    assert!(!wr::has_worker(&reg, NODE_A.to_string()), 3);
    assert!(wr::total_stake(&reg) == 0 && wr::total_workers(&reg) == 0, 4);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test]
fun s15_withdraw_leaving_never_revoked_after_unlock_plus_grace() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    clock.increment_for_testing(7 * DAY + DAY);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    s.next_tx(ALICE);
    let coin = s.take_from_sender<Coin<SUI>>();
    assert!(coin.value() == ONE_SUI, 0);
    s.return_to_sender(coin);
    finish(s, clock);
}

#[test]
fun s16_slash_caps_amount_at_the_stake() {
    let (mut s, clock) = setup();
    active(&mut s, &clock);
    slash(&mut s, &clock, NODE_A, 5 * ONE_SUI, b"double signing");
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 2, 0); // status changed, slashed
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_status(&w) == 4 && wr::worker_stake(&w) == 0, 1);
    assert!(wr::worker_unlock_at_ms(&w) == T0 + 7 * DAY, 2);
    ts::return_shared(w);
    s.next_tx(ADMIN);
    let reg = registry(&s);
    assert!(wr::treasury_value(&reg) == ONE_SUI && wr::total_stake(&reg) == 0, 3);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s16_slash_reason_over_256_bytes() {
    let (mut s, clock) = setup();
    active(&mut s, &clock);
    let mut reason = vector[];
    let mut i = 0;
    while (i < 257u64) { reason.push_back(0x78); i = i + 1; };
    slash(&mut s, &clock, NODE_A, 1, reason);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s16_slash_cap_of_another_registry() {
    let (mut s, clock) = setup();
    active(&mut s, &clock);
    second_registry(&mut s);
    slash(&mut s, &clock, NODE_A, 1, b"other");
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidStatus)]
fun s16_slash_revoked() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    master(&mut s, &clock, NODE_A, 3);
    slash(&mut s, &clock, NODE_A, 1, b"late");
    finish(s, clock);
}

#[test]
fun s17_confirm_revoked() {
    let (mut s, clock) = setup();
    active(&mut s, &clock);
    master(&mut s, &clock, NODE_A, 3);
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 1, 0); // skipped
    assert!(status(&mut s, NODE_A) == 2, 1);
    unstake(&mut s, &clock, ALICE, NODE_A);
    master(&mut s, &clock, NODE_A, 3);
    assert!(status(&mut s, NODE_A) == 5, 2);
    register(&mut s, &clock, BOB, NODE_C, TOKEN_C, ONE_SUI);
    slash(&mut s, &clock, NODE_C, 1, b"r");
    master(&mut s, &clock, NODE_C, 3);
    assert!(status(&mut s, NODE_C) == 5, 3);
    finish(s, clock);
}

#[test]
fun s18_rotate_seal_token() {
    let (mut s, clock) = setup();
    active(&mut s, &clock);
    s.next_tx(ALICE);
    let reg = registry(&s);
    let mut w = worker_in(&s, &reg, NODE_A);
    wr::rotate_seal_token(&reg, &mut w, TOKEN_A_ROTATED, &clock, s.ctx());
    assert!(wr::worker_status(&w) == 0, 0);
    assert!(wr::get_worker_join_token(&w).length() == 0, 1);
    assert!(wr::token_version(&w) == 2, 2); // 1 envelope + 1 rotation
    assert!(wr::worker_seal_token(&w) == TOKEN_A_ROTATED, 3);
    ts::return_shared(w);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidSealToken)]
fun s18_rotate_to_another_identity_key() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    s.next_tx(ALICE);
    let reg = registry(&s);
    let mut w = worker_in(&s, &reg, NODE_A);
    wr::rotate_seal_token(&reg, &mut w, TOKEN_B, &clock, s.ctx());
    ts::return_shared(w);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EUnauthorized)]
fun s18_rotate_by_non_owner() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    s.next_tx(BOB);
    let reg = registry(&s);
    let mut w = worker_in(&s, &reg, NODE_A);
    wr::rotate_seal_token(&reg, &mut w, TOKEN_A_ROTATED, &clock, s.ctx());
    ts::return_shared(w);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test]
fun s19_request_join_token() {
    let (mut s, clock) = setup();
    issued(&mut s, &clock);
    s.next_tx(ALICE);
    let mut w = worker(&mut s, NODE_A);
    wr::request_join_token(&mut w, &clock, s.ctx());
    assert!(wr::worker_status(&w) == 0, 0);
    ts::return_shared(w);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidStatus)]
fun s19_request_join_token_from_pending() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    s.next_tx(ALICE);
    let mut w = worker(&mut s, NODE_A);
    wr::request_join_token(&mut w, &clock, s.ctx());
    ts::return_shared(w);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s20_setter_with_another_registrys_admin_cap() {
    let (mut s, clock) = setup();
    second_registry(&mut s);
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>(); // registry B's
    wr::set_min_stake(&mut reg, &admin, 1);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s20_cooldown_over_30_days() {
    let (s, clock) = setup();
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_cooldown_ms(&mut reg, &admin, 30 * DAY + 1);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test]
fun s20_admin_setters_and_issue_slash_cap() {
    let (mut s, clock) = setup();
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_min_stake(&mut reg, &admin, 2 * ONE_SUI);
    wr::set_cooldown_ms(&mut reg, &admin, 30 * DAY);
    wr::set_revoke_grace_ms(&mut reg, &admin, DAY);
    wr::set_max_envelope_ttl_ms(&mut reg, &admin, DAY);
    wr::issue_slash_cap(&mut reg, &admin, BOB, s.ctx());
    assert!(wr::min_stake(&reg) == 2 * ONE_SUI && wr::cooldown_ms(&reg) == 30 * DAY, 0);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, 2 * ONE_SUI);
    // BOB's new SlashCap slashes
    s.next_tx(BOB);
    let mut reg = registry(&s);
    let cap = s.take_from_sender<SlashCap>();
    let mut w = worker_in(&s, &reg, NODE_A);
    wr::slash(&mut reg, &cap, &mut w, 1, b"by bob".to_string(), &clock);
    assert!(wr::worker_status(&w) == 4, 1);
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test]
fun s21_views() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    let w = worker(&mut s, NODE_A);
    assert!(wr::is_worker_owner(&w, ALICE) && !wr::is_worker_owner(&w, BOB), 0);
    assert!(wr::get_worker_join_token(&w) == vector[], 1);
    assert!(wr::worker_status(&w) == 0 && wr::token_version(&w) == 0, 2);
    assert!(wr::worker_node_id(&w) == NODE_A.to_string() && wr::worker_cooldown_ms(&w) == 7 * DAY, 3);
    assert!(wr::worker_revoke_grace_ms(&w) == DAY, 4);
    ts::return_shared(w);
    finish(s, clock);
}

fun cert(serial: u64): vector<u8> {
    let mut c = vector[1u8];
    let mut i = 0;
    while (i < 8u64) { c.push_back(((serial >> ((i * 8) as u8)) & 0xff) as u8); i = i + 1; };
    i = 0;
    while (i < 96) { c.push_back(0x5a); i = i + 1; };
    c
}

fun set_cert(s: &mut Scenario, clock: &Clock, c: vector<u8>) {
    s.next_tx(ADMIN);
    let mut reg = registry(s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_envelope_key_cert(&mut reg, &admin, c, clock);
    s.return_to_sender(admin);
    ts::return_shared(reg);
}

#[test]
fun s22_envelope_key_cert_stored_with_growing_serial() {
    let (mut s, clock) = setup();
    set_cert(&mut s, &clock, cert(1));
    set_cert(&mut s, &clock, cert(2));
    let eff = s.next_tx(ADMIN);
    assert!(eff.num_user_events() == 1, 0);
    let reg = registry(&s);
    assert!(wr::envelope_key_cert(&reg) == cert(2), 1);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s22_envelope_key_cert_serial_not_above() {
    let (mut s, clock) = setup();
    set_cert(&mut s, &clock, cert(2));
    set_cert(&mut s, &clock, cert(2));
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s22_envelope_key_cert_not_105_bytes() {
    let (mut s, clock) = setup();
    let mut c = cert(1);
    c.pop_back();
    set_cert(&mut s, &clock, c);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s22_envelope_key_cert_version_not_1() {
    let (mut s, clock) = setup();
    let mut c = cert(1);
    *(&mut c[0]) = 2;
    set_cert(&mut s, &clock, c);
    finish(s, clock);
}

#[test]
fun s23_reregister_after_withdraw() {
    let (mut s, mut clock) = setup();
    issued(&mut s, &clock);
    let first = {
        let w = worker(&mut s, NODE_A);
        let id = object::id(&w);
        ts::return_shared(w);
        id
    };
    unstake(&mut s, &clock, ALICE, NODE_A);
    master(&mut s, &clock, NODE_A, 3);
    clock.increment_for_testing(7 * DAY);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    let w = worker(&mut s, NODE_A);
    assert!(object::id(&w) != first, 0);
    assert!(wr::token_version(&w) == 0 && wr::worker_status(&w) == 0, 1);
    ts::return_shared(w);
    finish(s, clock);
}

// === S24–S32 (DESIGN v1.2) ===

fun rotate(s: &mut Scenario, clock: &Clock, token: vector<u8>) {
    s.next_tx(ALICE);
    let reg = registry(s);
    let mut w = worker_in(s, &reg, NODE_A);
    wr::rotate_seal_token(&reg, &mut w, token, clock, s.ctx());
    ts::return_shared(w);
    ts::return_shared(reg);
}

/// set_join_token in its own transaction; returns (skipped events, token-set events).
fun set_token_counting(s: &mut Scenario, clock: &Clock, node: vector<u8>, version: u64): (u64, u64) {
    s.next_tx(ADMIN);
    let reg = registry(s);
    let cap = s.take_from_sender<MasterCap>();
    let mut w = worker_in(s, &reg, node);
    wr::set_join_token(&reg, &cap, &mut w, envelope(version, clock.timestamp_ms() + HOUR, 16), clock);
    let skipped = event::events_by_type<MasterActionSkippedEvent>().length();
    let set = event::events_by_type<JoinTokenSetEvent>().length();
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg);
    (skipped, set)
}

#[test]
fun s24_rotation_skips_an_envelope_in_flight_to_the_old_key() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    // the master reads Pending at token_version 0 and seals version 1 to the old key;
    // the owner's rotation lands first
    rotate(&mut s, &clock, TOKEN_A_ROTATED);
    let w = worker(&mut s, NODE_A);
    assert!(wr::token_version(&w) == 1 && wr::worker_status(&w) == 0, 0);
    ts::return_shared(w);
    let (skipped, set) = set_token_counting(&mut s, &clock, NODE_A, 1);
    assert!(skipped == 1 && set == 0, 1);
    let w = worker(&mut s, NODE_A);
    assert!(wr::token_version(&w) == 1 && wr::worker_status(&w) == 0, 2);
    assert!(wr::get_worker_join_token(&w).length() == 0, 3);
    ts::return_shared(w);
    // an envelope made after the rotation (version 2) is stored
    let (skipped, set) = set_token_counting(&mut s, &clock, NODE_A, 2);
    assert!(skipped == 0 && set == 1, 4);
    assert!(status(&mut s, NODE_A) == 1, 5);
    // from TokenIssued and from Active, each rotation adds one
    rotate(&mut s, &clock, TOKEN_A_ROTATED);
    let w = worker(&mut s, NODE_A);
    assert!(wr::token_version(&w) == 3 && wr::worker_status(&w) == 0, 6);
    ts::return_shared(w);
    set_token(&mut s, &clock, NODE_A, 4);
    master(&mut s, &clock, NODE_A, 2);
    rotate(&mut s, &clock, TOKEN_A);
    let w = worker(&mut s, NODE_A);
    assert!(wr::token_version(&w) == 5 && wr::worker_status(&w) == 0, 7);
    assert!(wr::worker_seal_token(&w) == TOKEN_A, 8);
    ts::return_shared(w);
    finish(s, clock);
}

fun slash_with(s: &mut Scenario, clock: &Clock, who: address, cap_id: ID, node: vector<u8>) {
    s.next_tx(who);
    let mut reg = registry(s);
    let cap = s.take_from_sender_by_id<SlashCap>(cap_id);
    let mut w = worker_in(s, &reg, node);
    wr::slash(&mut reg, &cap, &mut w, 1, b"r".to_string(), clock);
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg);
}

fun revoke_slash(s: &mut Scenario, cap_id: ID) {
    s.next_tx(ADMIN);
    let mut reg = registry(s);
    let admin = s.take_from_sender<AdminCap>();
    wr::revoke_slash_cap(&mut reg, &admin, cap_id);
    s.return_to_sender(admin);
    ts::return_shared(reg);
}

fun genesis_slash_cap(s: &mut Scenario): ID {
    s.next_tx(ADMIN);
    let cap = s.take_from_sender<SlashCap>();
    let id = object::id(&cap);
    s.return_to_sender(cap);
    id
}

#[test]
fun s25_slash_caps_are_listed_issued_and_revoked() {
    let (mut s, clock) = setup();
    let genesis = genesis_slash_cap(&mut s);
    s.next_tx(ADMIN);
    let mut reg = registry(&s);
    assert!(wr::is_slash_cap_valid(&reg, genesis), 0);
    let admin = s.take_from_sender<AdminCap>();
    wr::issue_slash_cap(&mut reg, &admin, BOB, s.ctx());
    s.return_to_sender(admin);
    ts::return_shared(reg);
    s.next_tx(BOB);
    let bobs = s.take_from_sender<SlashCap>();
    let bobs_id = object::id(&bobs);
    s.return_to_sender(bobs);
    let reg = registry(&s);
    assert!(wr::is_slash_cap_valid(&reg, bobs_id) && wr::is_slash_cap_valid(&reg, genesis), 1);
    ts::return_shared(reg);
    revoke_slash(&mut s, genesis);
    s.next_tx(ADMIN);
    let reg = registry(&s);
    assert!(!wr::is_slash_cap_valid(&reg, genesis) && wr::is_slash_cap_valid(&reg, bobs_id), 2);
    ts::return_shared(reg);
    // the cap still valid slashes
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    slash_with(&mut s, &clock, BOB, bobs_id, NODE_A);
    assert!(status(&mut s, NODE_A) == 4, 3);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::ECapRevoked)]
fun s25_revoked_slash_cap_aborts() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    let genesis = genesis_slash_cap(&mut s);
    revoke_slash(&mut s, genesis);
    slash_with(&mut s, &clock, ADMIN, genesis, NODE_A);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s25_revoking_an_unknown_slash_cap() {
    let (mut s, clock) = setup();
    let genesis = genesis_slash_cap(&mut s);
    revoke_slash(&mut s, genesis);
    revoke_slash(&mut s, genesis);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s25_revoke_slash_cap_with_another_registrys_admin_cap() {
    let (mut s, clock) = setup();
    let genesis = genesis_slash_cap(&mut s);
    second_registry(&mut s);
    let mut reg = registry(&s);
    let admin = s.take_from_sender<AdminCap>(); // registry B's
    wr::revoke_slash_cap(&mut reg, &admin, genesis);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    finish(s, clock);
}

fun set_grace(s: &mut Scenario, value: u64) {
    s.next_tx(ADMIN);
    let mut reg = registry(s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_revoke_grace_ms(&mut reg, &admin, value);
    s.return_to_sender(admin);
    ts::return_shared(reg);
}

#[test]
fun s26_a_longer_grace_later_does_not_lengthen_a_running_exit() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    set_grace(&mut s, 30 * DAY);
    register(&mut s, &clock, BOB, NODE_C, TOKEN_C, ONE_SUI);
    let w = worker(&mut s, NODE_C);
    assert!(wr::worker_revoke_grace_ms(&w) == 30 * DAY, 0);
    ts::return_shared(w);
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_revoke_grace_ms(&w) == DAY, 1);
    ts::return_shared(w);
    clock.increment_for_testing(7 * DAY + DAY);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    s.next_tx(ALICE);
    let coin = s.take_from_sender<Coin<SUI>>();
    assert!(coin.value() == ONE_SUI, 2);
    s.return_to_sender(coin);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::ECooldownNotOver)]
fun s26_a_shorter_grace_later_does_not_shorten_a_running_exit() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    set_grace(&mut s, 0);
    clock.increment_for_testing(7 * DAY + DAY - 1);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    finish(s, clock);
}

fun set_stake_and_fee(s: &mut Scenario, min_stake: u64, fee: u64) {
    s.next_tx(ADMIN);
    let mut reg = registry(s);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_min_stake(&mut reg, &admin, min_stake);
    wr::set_registration_fee(&mut reg, &admin, fee);
    s.return_to_sender(admin);
    ts::return_shared(reg);
}

#[test, expected_failure(abort_code = wr::EInsufficientStake)]
fun s27_fee_u64_max_aborts_insufficient_stake() {
    let (mut s, clock) = setup();
    set_stake_and_fee(&mut s, ONE_SUI, U64_MAX);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, U64_MAX);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInsufficientStake)]
fun s27_min_stake_u64_max_plus_a_fee_aborts_insufficient_stake() {
    let (mut s, clock) = setup();
    set_stake_and_fee(&mut s, U64_MAX, 1);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, U64_MAX);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInsufficientStake)]
fun s27_payment_below_a_min_stake_of_u64_max() {
    let (mut s, clock) = setup();
    set_stake_and_fee(&mut s, U64_MAX, 0);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, U64_MAX - 1);
    finish(s, clock);
}

#[test]
fun s27_min_stake_and_fee_summing_to_u64_max_register() {
    let (mut s, clock) = setup();
    set_stake_and_fee(&mut s, U64_MAX - 10, 10);
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, U64_MAX);
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_stake(&w) == U64_MAX - 10, 0);
    ts::return_shared(w);
    s.next_tx(ADMIN);
    let reg = registry(&s);
    assert!(wr::treasury_value(&reg) == 10 && wr::total_stake(&reg) == U64_MAX - 10, 1);
    ts::return_shared(reg);
    finish(s, clock);
}

#[test]
fun s28_a_low_order_sealing_key_registers() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_LO, TOKEN_LO, ONE_SUI);
    let w = worker(&mut s, NODE_LO);
    assert!(wr::worker_seal_token(&w) == TOKEN_LO, 0);
    ts::return_shared(w);
    finish(s, clock);
}

#[test]
fun s28_a_small_order_identity_key_registers() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_SO, TOKEN_SO, ONE_SUI);
    assert!(status(&mut s, NODE_SO) == 0, 0);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidSealToken)]
fun s28_an_identity_key_that_is_not_a_point_fails_the_signature() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_BAD, TOKEN_BAD, ONE_SUI);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidNodeId)]
fun s28_the_fingerprint_is_checked_before_the_point() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_BAD, ONE_SUI);
    finish(s, clock);
}

/// Registry B (created after A), taken by id.
fun registry_b(s: &Scenario): WorkerRegistry {
    let id = ts::most_recent_id_shared<WorkerRegistry>().destroy_some();
    assert!(id != object::id_from_address(REGISTRY_A), 900);
    s.take_shared_by_id<WorkerRegistry>(id)
}

/// A's worker with registry B and B's MasterCap (the most recent one of ADMIN).
fun master_with_registry_b(s: &mut Scenario, clock: &Clock, action: u8) {
    second_registry(s);
    let reg_a = registry(s);
    let mut w = worker_in(s, &reg_a, NODE_A);
    ts::return_shared(reg_a);
    let reg_b = registry_b(s);
    let cap = s.take_from_sender<MasterCap>();
    let env = envelope(wr::token_version(&w) + 1, T0 + HOUR, 16);
    if (action == 1) wr::set_join_token(&reg_b, &cap, &mut w, env, clock)
    else if (action == 2) wr::activate_worker(&reg_b, &cap, &mut w, clock)
    else wr::confirm_revoked(&reg_b, &cap, &mut w, clock);
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg_b);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s29_worker_of_another_registry_set_join_token() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    master_with_registry_b(&mut s, &clock, 1);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s29_worker_of_another_registry_activate_worker() {
    let (mut s, clock) = setup();
    issued(&mut s, &clock);
    master_with_registry_b(&mut s, &clock, 2);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s29_worker_of_another_registry_confirm_revoked() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    master_with_registry_b(&mut s, &clock, 3);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s29_worker_of_another_registry_rotate_seal_token() {
    let (mut s, clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    second_registry(&mut s);
    s.next_tx(ALICE);
    let w_id = {
        let reg_a = registry(&s);
        let id = wr::worker_id_of(&reg_a, NODE_A.to_string());
        ts::return_shared(reg_a);
        id
    };
    let mut w = s.take_shared_by_id<Worker>(w_id);
    let reg_b = registry_b(&s);
    wr::rotate_seal_token(&reg_b, &mut w, TOKEN_A_ROTATED, &clock, s.ctx());
    ts::return_shared(w);
    ts::return_shared(reg_b);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s29_worker_of_another_registry_withdraw_stake() {
    let (mut s, mut clock) = setup();
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, ONE_SUI);
    unstake(&mut s, &clock, ALICE, NODE_A);
    master(&mut s, &clock, NODE_A, 3);
    clock.increment_for_testing(7 * DAY);
    second_registry(&mut s);
    s.next_tx(ALICE);
    let reg_a = registry(&s);
    let w = worker_in(&s, &reg_a, NODE_A);
    ts::return_shared(reg_a);
    let mut reg_b = registry_b(&s);
    wr::withdraw_stake(&mut reg_b, w, &clock, s.ctx());
    ts::return_shared(reg_b);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EWrongRegistry)]
fun s29_worker_of_another_registry_slash() {
    let (mut s, clock) = setup();
    active(&mut s, &clock);
    second_registry(&mut s);
    let reg_a = registry(&s);
    let mut w = worker_in(&s, &reg_a, NODE_A);
    ts::return_shared(reg_a);
    let mut reg_b = registry_b(&s);
    let cap = s.take_from_sender<SlashCap>(); // registry B's
    wr::slash(&mut reg_b, &cap, &mut w, 1, b"r".to_string(), &clock);
    ts::return_shared(w);
    s.return_to_sender(cap);
    ts::return_shared(reg_b);
    finish(s, clock);
}

/// The first `n` bytes of a well-formed 131-byte envelope.
fun truncated(n: u64): vector<u8> {
    let full = envelope(1, T0 + HOUR, 16);
    let mut out = vector[];
    let mut i = 0;
    while (i < n) { out.push_back(full[i]); i = i + 1; };
    out
}

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_0_bytes() { envelope_defect(truncated(0)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_1_byte() { envelope_defect(truncated(1)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_17_bytes() { envelope_defect(truncated(17)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_49_bytes() { envelope_defect(truncated(49)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_50_bytes() { envelope_defect(truncated(50)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_51_bytes() { envelope_defect(truncated(51)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_52_bytes() { envelope_defect(truncated(52)) }

#[test, expected_failure(abort_code = wr::EInvalidEnvelope)]
fun s30_envelope_of_130_bytes() { envelope_defect(truncated(130)) }

#[test]
fun s31_every_admin_setter_reads_back() {
    let (mut s, clock) = setup();
    s.next_tx(ADMIN);
    let mut reg = registry(&s);
    // defaults (DESIGN §4)
    assert!(wr::min_stake(&reg) == ONE_SUI && wr::registration_fee(&reg) == 0, 0);
    assert!(wr::cooldown_ms(&reg) == 7 * DAY && wr::revoke_grace_ms(&reg) == DAY, 1);
    assert!(wr::max_envelope_ttl_ms(&reg) == 7 * DAY && wr::envelope_key_cert(&reg) == vector[], 2);
    let admin = s.take_from_sender<AdminCap>();
    wr::set_min_stake(&mut reg, &admin, 3 * ONE_SUI);
    wr::set_registration_fee(&mut reg, &admin, 7);
    wr::set_cooldown_ms(&mut reg, &admin, 2 * DAY);
    wr::set_revoke_grace_ms(&mut reg, &admin, 3 * HOUR);
    wr::set_max_envelope_ttl_ms(&mut reg, &admin, 5 * HOUR);
    wr::set_envelope_key_cert(&mut reg, &admin, cert(9), &clock);
    wr::issue_master_cap(&mut reg, &admin, BOB, &clock, s.ctx());
    assert!(wr::min_stake(&reg) == 3 * ONE_SUI && wr::registration_fee(&reg) == 7, 3);
    assert!(wr::cooldown_ms(&reg) == 2 * DAY && wr::revoke_grace_ms(&reg) == 3 * HOUR, 4);
    assert!(wr::max_envelope_ttl_ms(&reg) == 5 * HOUR && wr::envelope_key_cert(&reg) == cert(9), 5);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    // treasury, totals, a Worker's copies
    register(&mut s, &clock, ALICE, NODE_A, TOKEN_A, 3 * ONE_SUI + 7);
    let w = worker(&mut s, NODE_A);
    assert!(wr::worker_cooldown_ms(&w) == 2 * DAY && wr::worker_revoke_grace_ms(&w) == 3 * HOUR, 6);
    assert!(wr::worker_stake(&w) == 3 * ONE_SUI, 7);
    ts::return_shared(w);
    s.next_tx(ADMIN);
    let mut reg = registry(&s);
    assert!(wr::treasury_value(&reg) == 7 && wr::total_stake(&reg) == 3 * ONE_SUI && wr::total_workers(&reg) == 1, 8);
    let admin = s.take_from_sender<AdminCap>();
    wr::withdraw_treasury(&mut reg, &admin, 5, BOB, s.ctx());
    assert!(wr::treasury_value(&reg) == 2, 9);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    // the MasterCaps: the new one valid, then revoked
    s.next_tx(BOB);
    let paid = s.take_from_sender<Coin<SUI>>();
    assert!(paid.value() == 5, 10);
    s.return_to_sender(paid);
    let bobs = s.take_from_sender<MasterCap>();
    let bobs_id = object::id(&bobs);
    s.return_to_sender(bobs);
    s.next_tx(ADMIN);
    let genesis = s.take_from_sender<MasterCap>();
    let genesis_id = object::id(&genesis);
    s.return_to_sender(genesis);
    let mut reg = registry(&s);
    assert!(wr::is_master_cap_valid(&reg, bobs_id) && wr::is_master_cap_valid(&reg, genesis_id), 11);
    let admin = s.take_from_sender<AdminCap>();
    wr::revoke_master_cap(&mut reg, &admin, bobs_id, &clock);
    assert!(!wr::is_master_cap_valid(&reg, bobs_id) && wr::is_master_cap_valid(&reg, genesis_id), 12);
    s.return_to_sender(admin);
    ts::return_shared(reg);
    finish(s, clock);
}

fun admin_set(s: &mut Scenario, which: u8, value: u64) {
    s.next_tx(ADMIN);
    let mut reg = registry(s);
    let admin = s.take_from_sender<AdminCap>();
    if (which == 1) wr::set_revoke_grace_ms(&mut reg, &admin, value)
    else if (which == 2) wr::set_max_envelope_ttl_ms(&mut reg, &admin, value)
    else wr::withdraw_treasury(&mut reg, &admin, value, ADMIN, s.ctx());
    s.return_to_sender(admin);
    ts::return_shared(reg);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s31_revoke_grace_over_30_days() {
    let (mut s, clock) = setup();
    admin_set(&mut s, 1, 30 * DAY + 1);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s31_max_envelope_ttl_of_0() {
    let (mut s, clock) = setup();
    admin_set(&mut s, 2, 0);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s31_max_envelope_ttl_over_30_days() {
    let (mut s, clock) = setup();
    admin_set(&mut s, 2, 30 * DAY + 1);
    finish(s, clock);
}

#[test, expected_failure(abort_code = wr::EInvalidParameter)]
fun s31_withdraw_more_than_the_treasury() {
    let (mut s, clock) = setup();
    admin_set(&mut s, 3, 1);
    finish(s, clock);
}

#[test]
fun s32_partial_slash_then_withdraw_pays_exactly_the_remainder() {
    let (mut s, mut clock) = setup();
    active(&mut s, &clock);
    register(&mut s, &clock, BOB, NODE_C, TOKEN_C, 2 * ONE_SUI);
    slash(&mut s, &clock, NODE_A, 300_000_000, b"downtime");
    slash(&mut s, &clock, NODE_C, 1, b"late");
    // A: confirmed revoked, withdrawn after the cooldown
    master(&mut s, &clock, NODE_A, 3);
    clock.increment_for_testing(7 * DAY);
    withdraw(&mut s, &clock, ALICE, NODE_A);
    s.next_tx(ALICE);
    let coin = s.take_from_sender<Coin<SUI>>();
    assert!(coin.value() == ONE_SUI - 300_000_000, 0);
    s.return_to_sender(coin);
    // C: never confirmed, withdrawn after cooldown + grace
    clock.increment_for_testing(DAY);
    withdraw(&mut s, &clock, BOB, NODE_C);
    s.next_tx(BOB);
    let coin = s.take_from_sender<Coin<SUI>>();
    assert!(coin.value() == 2 * ONE_SUI - 1, 1);
    s.return_to_sender(coin);
    let reg = registry(&s);
    assert!(wr::treasury_value(&reg) == 300_000_001, 2);
    assert!(wr::total_stake(&reg) == 0 && wr::total_workers(&reg) == 0, 3);
    ts::return_shared(reg);
    finish(s, clock);
}
