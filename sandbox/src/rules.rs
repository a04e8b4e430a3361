//! The registry's rules (DESIGN §4–§6), the same as `move/sources/worker_registry.move`:
//! one function per entry function, over a transaction's scratch state.
//!
//! Each function makes the Move function's checks in the Move function's order, on the
//! same raw bytes, so a call aborts here with the code it aborts with on chain — and is
//! accepted exactly when the contract accepts it. In particular the seal token is never
//! parsed into `daas_protocol` key types here: those refuse keys (a low-order X25519
//! sealing key, an identity key that is not an Ed25519 point) that the contract does
//! not look at or leaves to `ed25519_verify`; master and agent refuse them themselves.

use daas_protocol::envelope::{HEADER_LEN, MAX_LEN, MIN_CIPHERTEXT_LEN, MIN_LEN, SIGNATURE_LEN};
use daas_protocol::onchain::{
    self, Balance, Cap, Coin, Field, MasterAction, RegistryEvent, Table, VecSet, Worker,
    WorkerRegistry, WorkerStatus, abort, defaults,
};
use daas_protocol::onchain::{
    EnvelopeKeyCertSet, JoinTokenSet, MasterActionSkipped, MasterCapChanged, SealTokenRotated,
    StakeDeposited, StakeWithdrawn, WorkerRegistered, WorkerSlashed, WorkerStatusChanged,
};
use daas_protocol::{Address, ObjectId, envkey_cert, node_id, seal_token};

use crate::exec::Scratch;
use crate::store::{Contents, Owner};

/// A Move abort with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abort(pub u64);

/// An argument after type checking.
#[derive(Debug, Clone)]
pub enum Arg {
    /// An object (registry, worker, cap, clock).
    Object(ObjectId),
    /// A coin value passed by value: (object id if it exists, balance). The coin is
    /// consumed by the callee.
    Coin(u64),
    /// `u64`.
    U64(u64),
    /// `String`.
    String(String),
    /// `vector<u8>`.
    Bytes(Vec<u8>),
    /// `address`.
    Address(Address),
    /// `ID`.
    Id(ObjectId),
}

type R<T = ()> = Result<T, Abort>;

fn status_of(w: &Worker) -> WorkerStatus {
    WorkerStatus::from_u8(w.status).expect("the sandbox only writes valid statuses")
}

/// `sui::ed25519::ed25519_verify(signature, public_key, msg)` as Sui executes it:
/// `sui-execution/latest/sui-move-natives/src/crypto/ed25519.rs` (MystenLabs/sui) returns
/// false when the signature bytes do not parse as a fastcrypto `Ed25519Signature` (64
/// bytes) or the key bytes as an `Ed25519PublicKey`, else the result of `verify`.
/// fastcrypto (`fastcrypto/src/ed25519.rs`) wraps `ed25519_consensus`: a public key
/// parses when its 32 bytes decompress to a curve point — non-canonical encodings and
/// small-order points (the neutral element included) are accepted, nothing else is
/// checked — and `verify` is ZIP-215 (`ed25519-consensus/src/verification_key.rs`:
/// s < ℓ, R any decompressible point, the cofactored equation [8][s]B = [8]R + [8][k]A).
/// `ed25519-zebra` 5 applies the same rules (ed25519-consensus is its fork), so a
/// signature that Sui accepts is accepted here and one it rejects is rejected.
fn ed25519_verify(signature: &[u8], public_key: &[u8], msg: &[u8]) -> bool {
    let Ok(signature) = ed25519_zebra::Signature::try_from(signature) else {
        return false;
    };
    let Ok(key) = ed25519_zebra::VerificationKey::try_from(public_key) else {
        return false;
    };
    key.verify(&signature, msg).is_ok()
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Scratch<'_> {
    fn registry(&self, id: ObjectId) -> WorkerRegistry {
        match self.get(&id).expect("type-checked").1 {
            Contents::Registry(r) => r.clone(),
            _ => unreachable!("type-checked as a registry"),
        }
    }

    fn worker(&self, id: ObjectId) -> Worker {
        match self.get(&id).expect("type-checked").1 {
            Contents::Worker(w) => w.clone(),
            _ => unreachable!("type-checked as a worker"),
        }
    }

    fn cap(&self, id: ObjectId) -> Cap {
        match self.get(&id).expect("type-checked").1 {
            Contents::AdminCap(c) | Contents::SlashCap(c) | Contents::MasterCap(c) => *c,
            _ => unreachable!("type-checked as a cap"),
        }
    }

    fn put_registry(&mut self, r: WorkerRegistry) {
        self.write(r.id, Contents::Registry(r));
    }

    fn put_worker(&mut self, w: Worker) {
        self.write(w.id, Contents::Worker(w));
    }

    fn set_status(&mut self, w: &mut Worker, new: WorkerStatus) {
        let old = w.status;
        w.status = new as u8;
        self.emit(RegistryEvent::WorkerStatusChanged(WorkerStatusChanged {
            registry_id: w.registry_id,
            worker_id: w.id,
            node_id: w.node_id.clone(),
            old_status: old,
            new_status: new as u8,
            timestamp_ms: self.now,
        }));
    }

    fn skip(&mut self, w: &Worker, action: MasterAction) {
        self.emit(RegistryEvent::MasterActionSkipped(MasterActionSkipped {
            registry_id: w.registry_id,
            worker_id: w.id,
            node_id: w.node_id.clone(),
            action: action as u8,
            status: w.status,
            timestamp_ms: self.now,
        }));
    }

    fn check_admin(&self, reg: &WorkerRegistry, cap: ObjectId) -> R {
        if self.cap(cap).registry_id != reg.id {
            return Err(Abort(abort::E_WRONG_REGISTRY));
        }
        Ok(())
    }

    fn check_master(&self, reg: &WorkerRegistry, cap: ObjectId, w: &Worker) -> R {
        let c = self.cap(cap);
        if c.registry_id != reg.id || w.registry_id != reg.id {
            return Err(Abort(abort::E_WRONG_REGISTRY));
        }
        if !reg.master_caps.contents.contains(&c.id) {
            return Err(Abort(abort::E_CAP_REVOKED));
        }
        Ok(())
    }

    /// Move `check_node_id`: the syntax (5); returns the fingerprint part.
    fn check_node_id(node_id: &str) -> R<&str> {
        node_id::validate(node_id)
            .map(|(_, fp)| fp)
            .map_err(|_| Abort(abort::E_INVALID_NODE_ID))
    }

    /// Move `check_seal_token`, in its order: length and version (4), the node_id's
    /// fingerprint names the token's identity-key bytes (5), `ed25519_verify` of the
    /// claim rebuilt with `owner` (4).
    fn check_seal_token(
        registry_id: &ObjectId,
        owner: &Address,
        node_id: &str,
        fp: &str,
        token: &[u8],
    ) -> R {
        if token.len() != seal_token::LEN || token[0] != seal_token::VERSION {
            return Err(Abort(abort::E_INVALID_SEAL_TOKEN));
        }
        let (identity, sealing, signature) = (&token[1..33], &token[33..65], &token[65..129]);
        if node_id::fingerprint_of_bytes(identity) != fp {
            return Err(Abort(abort::E_INVALID_NODE_ID));
        }
        let claim = seal_token::claim_bytes(registry_id, owner, node_id, sealing);
        if !ed25519_verify(signature, identity, &claim) {
            return Err(Abort(abort::E_INVALID_SEAL_TOKEN));
        }
        Ok(())
    }

    /// Calls `function` with type-checked `args` (the trailing `ctx` is implicit).
    pub fn call(&mut self, function: &str, args: Vec<Arg>) -> R {
        use Arg::*;
        match (function, args.as_slice()) {
            (
                "stake_and_register_worker",
                [
                    Object(reg),
                    Coin(amount),
                    String(node_id),
                    Bytes(token),
                    Object(_),
                ],
            ) => self.stake_and_register_worker(*reg, *amount, node_id, token),
            ("set_join_token", [Object(reg), Object(cap), Object(w), Bytes(env), Object(_)]) => {
                self.set_join_token(*reg, *cap, *w, env)
            }
            ("activate_worker", [Object(reg), Object(cap), Object(w), Object(_)]) => {
                self.activate_worker(*reg, *cap, *w)
            }
            ("confirm_revoked", [Object(reg), Object(cap), Object(w), Object(_)]) => {
                self.confirm_revoked(*reg, *cap, *w)
            }
            ("request_join_token", [Object(w), Object(_)]) => self.request_join_token(*w),
            ("rotate_seal_token", [Object(reg), Object(w), Bytes(token), Object(_)]) => {
                self.rotate_seal_token(*reg, *w, token)
            }
            ("request_unstake", [Object(w), Object(_)]) => self.request_unstake(*w),
            ("withdraw_stake", [Object(reg), Object(w), Object(_)]) => {
                self.withdraw_stake(*reg, *w)
            }
            (
                "slash",
                [
                    Object(reg),
                    Object(cap),
                    Object(w),
                    U64(amount),
                    String(reason),
                    Object(_),
                ],
            ) => self.slash(*reg, *cap, *w, *amount, reason),
            (
                "set_min_stake"
                | "set_registration_fee"
                | "set_cooldown_ms"
                | "set_revoke_grace_ms"
                | "set_max_envelope_ttl_ms",
                [Object(reg), Object(cap), U64(v)],
            ) => self.set_parameter(function, *reg, *cap, *v),
            ("set_envelope_key_cert", [Object(reg), Object(cap), Bytes(cert), Object(_)]) => {
                self.set_envelope_key_cert(*reg, *cap, cert)
            }
            ("issue_master_cap", [Object(reg), Object(cap), Address(to), Object(_)]) => {
                self.issue_master_cap(*reg, *cap, *to)
            }
            ("revoke_master_cap", [Object(reg), Object(cap), Id(id), Object(_)]) => {
                self.revoke_master_cap(*reg, *cap, *id)
            }
            ("issue_slash_cap", [Object(reg), Object(cap), Address(to)]) => {
                self.issue_slash_cap(*reg, *cap, *to)
            }
            ("revoke_slash_cap", [Object(reg), Object(cap), Id(id)]) => {
                self.revoke_slash_cap(*reg, *cap, *id)
            }
            ("withdraw_treasury", [Object(reg), Object(cap), U64(amount), Address(to)]) => {
                self.withdraw_treasury(*reg, *cap, *amount, *to)
            }
            _ => unreachable!("arguments were checked against ENTRY_FUNCTIONS"),
        }
    }

    fn stake_and_register_worker(
        &mut self,
        reg_id: ObjectId,
        amount: u64,
        node_id: &str,
        token: &[u8],
    ) -> R {
        let mut reg = self.registry(reg_id);
        // payment − min_stake ≥ fee: never an overflow (the `||` guards the subtraction)
        if amount < reg.min_stake || amount - reg.min_stake < reg.registration_fee {
            return Err(Abort(abort::E_INSUFFICIENT_STAKE));
        }
        let fp = Self::check_node_id(node_id)?;
        let entry_id = onchain::table_entry_id(&reg.workers.id, node_id);
        if self.get(&entry_id).is_some() {
            return Err(Abort(abort::E_WORKER_ALREADY_EXISTS));
        }
        let owner = self.sender;
        Self::check_seal_token(&reg.id, &owner, node_id, fp, token)?;
        let stake = amount - reg.registration_fee;
        reg.treasury.value += reg.registration_fee;
        let worker_id = self.fresh_id();
        let worker = Worker {
            id: worker_id,
            registry_id: reg.id,
            node_id: node_id.into(),
            owner,
            stake: Balance { value: stake },
            status: WorkerStatus::Pending as u8,
            seal_token: token.to_vec(),
            join_envelope: vec![],
            token_version: 0,
            cooldown_ms: reg.cooldown_ms,
            revoke_grace_ms: reg.revoke_grace_ms,
            registered_at_ms: self.now,
            unlock_at_ms: 0,
        };
        self.create(worker_id, Owner::Shared(0), Contents::Worker(worker));
        self.create(
            entry_id,
            Owner::Object(reg.workers.id),
            Contents::Field(Field {
                id: entry_id,
                name: node_id.into(),
                value: worker_id,
            }),
        );
        reg.workers = Table {
            id: reg.workers.id,
            size: reg.workers.size + 1,
        };
        reg.total_stake += stake;
        reg.total_workers += 1;
        let registry_id = reg.id;
        self.put_registry(reg);
        self.emit(RegistryEvent::WorkerRegistered(WorkerRegistered {
            registry_id,
            worker_id,
            node_id: node_id.into(),
            owner,
            stake_amount: stake,
            seal_token: token.to_vec(),
            timestamp_ms: self.now,
        }));
        self.emit(RegistryEvent::StakeDeposited(StakeDeposited {
            registry_id,
            worker_id,
            node_id: node_id.into(),
            owner,
            amount: stake,
            timestamp_ms: self.now,
        }));
        Ok(())
    }

    fn set_join_token(
        &mut self,
        reg_id: ObjectId,
        cap: ObjectId,
        w_id: ObjectId,
        envelope: &[u8],
    ) -> R {
        let reg = self.registry(reg_id);
        let mut w = self.worker(w_id);
        self.check_master(&reg, cap, &w)?;
        // the header checks of Move `set_join_token`, in its order, all abort 10: the
        // length range first, so no byte is read from an envelope shorter than 131
        let bad = Err(Abort(abort::E_INVALID_ENVELOPE));
        let n = envelope.len();
        if !(MIN_LEN..=MAX_LEN).contains(&n) || envelope[0] != daas_protocol::envelope::VERSION {
            return bad;
        }
        let ct = u16::from_le_bytes([envelope[49], envelope[50]]) as usize;
        if ct < MIN_CIPHERTEXT_LEN || HEADER_LEN + ct + SIGNATURE_LEN != n {
            return bad;
        }
        let (version, expires_at_ms) = (le_u64(envelope, 1), le_u64(envelope, 9));
        let latest = self.now.saturating_add(reg.max_envelope_ttl_ms);
        if expires_at_ms <= self.now || expires_at_ms > latest {
            return bad;
        }
        let status = status_of(&w);
        let status_ok = matches!(
            status,
            WorkerStatus::Pending | WorkerStatus::TokenIssued | WorkerStatus::Active
        );
        if !status_ok || version != w.token_version + 1 {
            self.skip(&w, MasterAction::SetJoinToken);
            return Ok(());
        }
        w.join_envelope = envelope.to_vec();
        w.token_version = version;
        if status != WorkerStatus::Active && status != WorkerStatus::TokenIssued {
            self.set_status(&mut w, WorkerStatus::TokenIssued);
        }
        self.emit(RegistryEvent::JoinTokenSet(JoinTokenSet {
            registry_id: reg.id,
            worker_id: w.id,
            node_id: w.node_id.clone(),
            token_version: w.token_version,
            expires_at_ms,
            timestamp_ms: self.now,
        }));
        self.put_worker(w);
        Ok(())
    }

    fn activate_worker(&mut self, reg_id: ObjectId, cap: ObjectId, w_id: ObjectId) -> R {
        let reg = self.registry(reg_id);
        let mut w = self.worker(w_id);
        self.check_master(&reg, cap, &w)?;
        if status_of(&w) != WorkerStatus::TokenIssued {
            self.skip(&w, MasterAction::Activate);
            return Ok(());
        }
        self.set_status(&mut w, WorkerStatus::Active);
        self.put_worker(w);
        Ok(())
    }

    fn confirm_revoked(&mut self, reg_id: ObjectId, cap: ObjectId, w_id: ObjectId) -> R {
        let reg = self.registry(reg_id);
        let mut w = self.worker(w_id);
        self.check_master(&reg, cap, &w)?;
        if !matches!(status_of(&w), WorkerStatus::Leaving | WorkerStatus::Slashed) {
            self.skip(&w, MasterAction::ConfirmRevoked);
            return Ok(());
        }
        self.set_status(&mut w, WorkerStatus::Revoked);
        self.put_worker(w);
        Ok(())
    }

    fn owned_worker(&self, w_id: ObjectId) -> R<Worker> {
        let w = self.worker(w_id);
        if w.owner != self.sender {
            return Err(Abort(abort::E_UNAUTHORIZED));
        }
        Ok(w)
    }

    fn request_join_token(&mut self, w_id: ObjectId) -> R {
        let mut w = self.owned_worker(w_id)?;
        if status_of(&w) != WorkerStatus::TokenIssued {
            return Err(Abort(abort::E_INVALID_STATUS));
        }
        self.set_status(&mut w, WorkerStatus::Pending);
        self.put_worker(w);
        Ok(())
    }

    fn rotate_seal_token(&mut self, reg_id: ObjectId, w_id: ObjectId, token: &[u8]) -> R {
        let reg = self.registry(reg_id);
        let mut w = self.owned_worker(w_id)?;
        if w.registry_id != reg.id {
            return Err(Abort(abort::E_WRONG_REGISTRY));
        }
        if !matches!(
            status_of(&w),
            WorkerStatus::Pending | WorkerStatus::TokenIssued | WorkerStatus::Active
        ) {
            return Err(Abort(abort::E_INVALID_STATUS));
        }
        if token.len() != seal_token::LEN || token[0] != seal_token::VERSION {
            return Err(Abort(abort::E_INVALID_SEAL_TOKEN));
        }
        if token[1..33] != w.seal_token[1..33] {
            return Err(Abort(abort::E_INVALID_SEAL_TOKEN));
        }
        let fp = Self::check_node_id(&w.node_id)?;
        Self::check_seal_token(&reg.id, &self.sender, &w.node_id, fp, token)?;
        w.seal_token = token.to_vec();
        w.join_envelope = vec![];
        // a new token_version, so an envelope sealed to the old key is skipped as a race
        w.token_version += 1;
        if status_of(&w) != WorkerStatus::Pending {
            self.set_status(&mut w, WorkerStatus::Pending);
        }
        self.emit(RegistryEvent::SealTokenRotated(SealTokenRotated {
            registry_id: reg.id,
            worker_id: w.id,
            node_id: w.node_id.clone(),
            seal_token: token.to_vec(),
            timestamp_ms: self.now,
        }));
        self.put_worker(w);
        Ok(())
    }

    fn request_unstake(&mut self, w_id: ObjectId) -> R {
        let mut w = self.owned_worker(w_id)?;
        if !matches!(
            status_of(&w),
            WorkerStatus::Pending | WorkerStatus::TokenIssued | WorkerStatus::Active
        ) {
            return Err(Abort(abort::E_INVALID_STATUS));
        }
        w.unlock_at_ms = self.now.saturating_add(w.cooldown_ms);
        self.set_status(&mut w, WorkerStatus::Leaving);
        self.put_worker(w);
        Ok(())
    }

    fn withdraw_stake(&mut self, reg_id: ObjectId, w_id: ObjectId) -> R {
        let mut reg = self.registry(reg_id);
        let w = self.owned_worker(w_id)?;
        if w.registry_id != reg.id {
            return Err(Abort(abort::E_WRONG_REGISTRY));
        }
        match status_of(&w) {
            WorkerStatus::Revoked if self.now >= w.unlock_at_ms => {}
            WorkerStatus::Leaving | WorkerStatus::Slashed
                if self.now >= w.unlock_at_ms.saturating_add(w.revoke_grace_ms) => {}
            WorkerStatus::Revoked | WorkerStatus::Leaving | WorkerStatus::Slashed => {
                return Err(Abort(abort::E_COOLDOWN_NOT_OVER));
            }
            _ => return Err(Abort(abort::E_INVALID_STATUS)),
        }
        let entry_id = onchain::table_entry_id(&reg.workers.id, &w.node_id);
        self.delete(entry_id);
        self.delete(w.id);
        reg.workers.size -= 1;
        reg.total_workers -= 1;
        reg.total_stake -= w.stake.value;
        let registry_id = reg.id;
        self.put_registry(reg);
        let coin_id = self.fresh_id();
        self.create(
            coin_id,
            Owner::Address(w.owner),
            Contents::Coin(Coin {
                id: coin_id,
                balance: Balance {
                    value: w.stake.value,
                },
            }),
        );
        self.emit(RegistryEvent::StakeWithdrawn(StakeWithdrawn {
            registry_id,
            worker_id: w.id,
            node_id: w.node_id.clone(),
            owner: w.owner,
            amount: w.stake.value,
            timestamp_ms: self.now,
        }));
        Ok(())
    }

    fn slash(
        &mut self,
        reg_id: ObjectId,
        cap: ObjectId,
        w_id: ObjectId,
        amount: u64,
        reason: &str,
    ) -> R {
        let mut reg = self.registry(reg_id);
        let mut w = self.worker(w_id);
        let c = self.cap(cap);
        if c.registry_id != reg.id || w.registry_id != reg.id {
            return Err(Abort(abort::E_WRONG_REGISTRY));
        }
        if !reg.slash_caps.contents.contains(&c.id) {
            return Err(Abort(abort::E_CAP_REVOKED));
        }
        if reason.len() > defaults::MAX_SLASH_REASON_LEN {
            return Err(Abort(abort::E_INVALID_PARAMETER));
        }
        if !matches!(
            status_of(&w),
            WorkerStatus::Pending
                | WorkerStatus::TokenIssued
                | WorkerStatus::Active
                | WorkerStatus::Leaving
        ) {
            return Err(Abort(abort::E_INVALID_STATUS));
        }
        let taken = amount.min(w.stake.value);
        w.stake.value -= taken;
        reg.treasury.value += taken;
        reg.total_stake -= taken;
        w.unlock_at_ms = self.now.saturating_add(w.cooldown_ms);
        self.set_status(&mut w, WorkerStatus::Slashed);
        self.emit(RegistryEvent::WorkerSlashed(WorkerSlashed {
            registry_id: reg.id,
            worker_id: w.id,
            node_id: w.node_id.clone(),
            amount: taken,
            reason: reason.into(),
            timestamp_ms: self.now,
        }));
        self.put_worker(w);
        self.put_registry(reg);
        Ok(())
    }

    fn set_parameter(&mut self, function: &str, reg_id: ObjectId, cap: ObjectId, v: u64) -> R {
        let mut reg = self.registry(reg_id);
        self.check_admin(&reg, cap)?;
        match function {
            "set_min_stake" => reg.min_stake = v,
            "set_registration_fee" => reg.registration_fee = v,
            "set_cooldown_ms" if v <= defaults::MAX_COOLDOWN_MS => reg.cooldown_ms = v,
            "set_revoke_grace_ms" if v <= defaults::MAX_COOLDOWN_MS => reg.revoke_grace_ms = v,
            "set_max_envelope_ttl_ms" if v > 0 && v <= defaults::MAX_COOLDOWN_MS => {
                reg.max_envelope_ttl_ms = v
            }
            _ => return Err(Abort(abort::E_INVALID_PARAMETER)),
        }
        self.put_registry(reg);
        Ok(())
    }

    fn set_envelope_key_cert(&mut self, reg_id: ObjectId, cap: ObjectId, cert: &[u8]) -> R {
        let mut reg = self.registry(reg_id);
        self.check_admin(&reg, cap)?;
        // The contract has no root key: devices verify the signature; the chain keeps
        // the layout and a growing serial.
        if cert.len() != envkey_cert::LEN || cert[0] != envkey_cert::VERSION {
            return Err(Abort(abort::E_INVALID_PARAMETER));
        }
        let serial = le_u64(cert, 1);
        if reg.envelope_key_cert.len() == envkey_cert::LEN {
            let current = le_u64(&reg.envelope_key_cert, 1);
            if serial <= current {
                return Err(Abort(abort::E_INVALID_PARAMETER));
            }
        }
        reg.envelope_key_cert = cert.to_vec();
        let registry_id = reg.id;
        self.put_registry(reg);
        self.emit(RegistryEvent::EnvelopeKeyCertSet(EnvelopeKeyCertSet {
            registry_id,
            serial,
            timestamp_ms: self.now,
        }));
        Ok(())
    }

    fn issue_master_cap(&mut self, reg_id: ObjectId, cap: ObjectId, to: Address) -> R {
        let mut reg = self.registry(reg_id);
        self.check_admin(&reg, cap)?;
        let id = self.fresh_id();
        self.create(
            id,
            Owner::Address(to),
            Contents::MasterCap(Cap {
                id,
                registry_id: reg.id,
            }),
        );
        reg.master_caps.contents.push(id);
        let registry_id = reg.id;
        self.put_registry(reg);
        self.emit(RegistryEvent::MasterCapChanged(MasterCapChanged {
            registry_id,
            cap_id: id,
            valid: true,
            timestamp_ms: self.now,
        }));
        Ok(())
    }

    fn revoke_master_cap(&mut self, reg_id: ObjectId, cap: ObjectId, cap_id: ObjectId) -> R {
        let mut reg = self.registry(reg_id);
        self.check_admin(&reg, cap)?;
        remove_from(&mut reg.master_caps, &cap_id)?;
        let registry_id = reg.id;
        self.put_registry(reg);
        self.emit(RegistryEvent::MasterCapChanged(MasterCapChanged {
            registry_id,
            cap_id,
            valid: false,
            timestamp_ms: self.now,
        }));
        Ok(())
    }

    fn issue_slash_cap(&mut self, reg_id: ObjectId, cap: ObjectId, to: Address) -> R {
        let mut reg = self.registry(reg_id);
        self.check_admin(&reg, cap)?;
        let id = self.fresh_id();
        self.create(
            id,
            Owner::Address(to),
            Contents::SlashCap(Cap {
                id,
                registry_id: reg.id,
            }),
        );
        reg.slash_caps.contents.push(id);
        self.put_registry(reg);
        Ok(())
    }

    fn revoke_slash_cap(&mut self, reg_id: ObjectId, cap: ObjectId, cap_id: ObjectId) -> R {
        let mut reg = self.registry(reg_id);
        self.check_admin(&reg, cap)?;
        remove_from(&mut reg.slash_caps, &cap_id)?;
        self.put_registry(reg);
        Ok(())
    }

    fn withdraw_treasury(
        &mut self,
        reg_id: ObjectId,
        cap: ObjectId,
        amount: u64,
        to: Address,
    ) -> R {
        let mut reg = self.registry(reg_id);
        self.check_admin(&reg, cap)?;
        if amount > reg.treasury.value {
            return Err(Abort(abort::E_INVALID_PARAMETER));
        }
        reg.treasury.value -= amount;
        self.put_registry(reg);
        let id = self.fresh_id();
        self.create(
            id,
            Owner::Address(to),
            Contents::Coin(Coin {
                id,
                balance: Balance { value: amount },
            }),
        );
        Ok(())
    }
}

/// Move `assert!(set.contains(&id), EInvalidParameter); set.remove(&id)` (`VecSet::remove`
/// keeps the order of the others).
fn remove_from(set: &mut VecSet<ObjectId>, id: &ObjectId) -> R {
    let at = set
        .contents
        .iter()
        .position(|c| c == id)
        .ok_or(Abort(abort::E_INVALID_PARAMETER))?;
    set.contents.remove(at);
    Ok(())
}
