//! The registry's rules S01–S32 (DESIGN §4–§6; the same ids as `move/tests/`), each
//! run through both transports against the sandbox chain.

use daas_protocol::chain::{Chain, ExecOutcome, WorkerObject};
use daas_protocol::onchain::{RegistryEvent, WorkerStatus, abort};
use daas_protocol::tx::{Arg, PtbBuilder, RegistryCalls};
use daas_protocol::{EnvelopeKey, EnvelopeKeyCert, EnvelopeKeyPin, ObjectId, RootKey, SuiKeypair};

use crate::world::{DAY, Device, HOUR, SUI, World};

/// A seal token built from raw parts, as a device that does not use `daas-protocol`
/// might make one: `identity` is an Ed25519 seed (signs the claim) or raw key bytes
/// (signed with R = the neutral point, s = 0, which ZIP-215 accepts for any message
/// under a small-order key and never otherwise).
enum RawIdentity {
    Seed([u8; 32]),
    Bytes([u8; 32]),
}

fn raw_token(
    registry: &ObjectId,
    owner: &daas_protocol::Address,
    label: &str,
    identity: RawIdentity,
    sealing: [u8; 32],
) -> (String, Vec<u8>) {
    let key = match &identity {
        RawIdentity::Seed(seed) => {
            let vk =
                ed25519_zebra::VerificationKeyBytes::from(&ed25519_zebra::SigningKey::from(*seed));
            <[u8; 32]>::from(vk)
        }
        RawIdentity::Bytes(b) => *b,
    };
    let node_id = format!(
        "{label}-{}",
        daas_protocol::node_id::fingerprint_of_bytes(&key)
    );
    let claim = daas_protocol::seal_token::claim_bytes(registry, owner, &node_id, &sealing);
    let signature: [u8; 64] = match identity {
        RawIdentity::Seed(seed) => ed25519_zebra::SigningKey::from(seed)
            .sign(&claim)
            .to_bytes(),
        RawIdentity::Bytes(_) => {
            let mut sig = [0u8; 64];
            sig[0] = 1;
            sig
        }
    };
    let token = [&[1u8][..], &key, &sealing, &signature].concat();
    (node_id, token)
}

fn aborted(out: &ExecOutcome, code: u64) {
    assert_eq!(
        out.abort_code(),
        Some(code),
        "expected abort {code} ({:?}), got {:?}",
        abort::name(code),
        out.status
    );
}

fn ok(out: &ExecOutcome) {
    assert!(out.is_success(), "expected success, got {:?}", out.status);
}

fn status(w: &WorkerObject) -> WorkerStatus {
    w.worker.status().unwrap()
}

impl<C: Chain> World<C> {
    async fn call(
        &self,
        signer: &SuiKeypair,
        calls: RegistryCalls,
        f: &str,
        args: Vec<Arg<'_>>,
    ) -> ExecOutcome {
        let mut b = PtbBuilder::new();
        calls
            .call(&mut b, f, &args)
            .expect("arguments fit the entry table");
        daas_protocol::chain::Submitter::new(self.chain(), signer)
            .submit(b.finish())
            .await
            .expect("transaction reaches the chain")
    }

    async fn admin(&self, f: &str, mut args: Vec<Arg<'_>>) -> ExecOutcome {
        args.insert(0, Arg::Cap(self.object_ref(self.info.admin_cap_id).await));
        self.call(&self.master, self.calls, f, args).await
    }

    async fn master_call(&self, f: &str, w: &WorkerObject) -> ExecOutcome {
        let cap = self.object_ref(self.info.master_cap_id).await;
        self.call(
            &self.master,
            self.calls,
            f,
            vec![Arg::Cap(cap), Arg::Worker(Self::shared(w))],
        )
        .await
    }

    async fn set_token(&self, w: &WorkerObject, envelope: &[u8]) -> ExecOutcome {
        let cap = self.object_ref(self.info.master_cap_id).await;
        self.call(
            &self.master,
            self.calls,
            "set_join_token",
            vec![
                Arg::Cap(cap),
                Arg::Worker(Self::shared(w)),
                Arg::Bytes(envelope),
            ],
        )
        .await
    }

    async fn owner_call(&self, i: usize, f: &str, w: &WorkerObject) -> ExecOutcome {
        self.call(
            &self.accounts[i],
            self.calls,
            f,
            vec![Arg::Worker(Self::shared(w))],
        )
        .await
    }

    async fn refresh(&self, w: &WorkerObject) -> WorkerObject {
        self.worker_by_id(w.info.id)
            .await
            .expect("worker still exists")
    }

    /// A registered worker with an envelope at version 1 (TokenIssued).
    async fn issued(&self, i: usize, label: &str, seed: u64) -> (Device, WorkerObject) {
        let (d, w) = self.register(i, label, seed).await;
        ok(&self
            .set_token(&w, &self.envelope(&w, &d, 1, self.now() + HOUR))
            .await);
        let w = self.refresh(&w).await;
        (d, w)
    }

    async fn active(&self, i: usize, label: &str, seed: u64) -> (Device, WorkerObject) {
        let (d, w) = self.issued(i, label, seed).await;
        ok(&self.master_call("activate_worker", &w).await);
        let w = self.refresh(&w).await;
        assert_eq!(status(&w), WorkerStatus::Active);
        (d, w)
    }

    /// `issue_slash_cap` to account `i`; the new cap's id (the registry's newest).
    async fn issue_slash_cap(&self, i: usize) -> ObjectId {
        let before = self.reader.registry().await.unwrap().1.slash_caps.contents;
        ok(&self
            .admin(
                "issue_slash_cap",
                vec![Arg::Address(self.accounts[i].address())],
            )
            .await);
        let after = self.reader.registry().await.unwrap().1.slash_caps.contents;
        assert_eq!(after.len(), before.len() + 1, "one more valid SlashCap");
        assert_eq!(
            after[..before.len()],
            before[..],
            "the others stay, in order"
        );
        *after.last().unwrap()
    }

    async fn slash_with(
        &self,
        signer: &SuiKeypair,
        calls: RegistryCalls,
        cap: ObjectId,
        worker: &WorkerObject,
        amount: u64,
    ) -> ExecOutcome {
        let cap = self.object_ref(cap).await;
        self.call(
            signer,
            calls,
            "slash",
            vec![
                Arg::Cap(cap),
                Arg::Worker(Self::shared(worker)),
                Arg::U64(amount),
                Arg::Str("r"),
            ],
        )
        .await
    }

    async fn withdraw(&self, i: usize, calls: RegistryCalls, worker: &WorkerObject) -> ExecOutcome {
        self.call(
            &self.accounts[i],
            calls,
            "withdraw_stake",
            vec![Arg::Worker(Self::shared(worker))],
        )
        .await
    }

    async fn rotate(
        &self,
        i: usize,
        calls: RegistryCalls,
        worker: &WorkerObject,
        token: &[u8],
    ) -> ExecOutcome {
        self.call(
            &self.accounts[i],
            calls,
            "rotate_seal_token",
            vec![Arg::Worker(Self::shared(worker)), Arg::Bytes(token)],
        )
        .await
    }

    /// `set_join_token` with `envelope` aborts 10 (`what` names the case).
    async fn envelope_refused(&self, w: &WorkerObject, envelope: &[u8], what: &str) {
        let out = self.set_token(w, envelope).await;
        assert_eq!(
            out.abort_code(),
            Some(abort::E_INVALID_ENVELOPE),
            "{what}: {:?}",
            out.status
        );
    }

    /// Registry B as it is now.
    async fn other_registry(&self) -> daas_protocol::onchain::WorkerRegistry {
        self.chain()
            .object(self.info.other_registry.registry_id)
            .await
            .unwrap()
            .expect("registry B exists")
            .decode("WorkerRegistry")
            .unwrap()
    }

    async fn set_params(&self, min_stake: u64, fee: u64) {
        ok(&self.admin("set_min_stake", vec![Arg::U64(min_stake)]).await);
        ok(&self
            .admin("set_registration_fee", vec![Arg::U64(fee)])
            .await);
    }

    async fn skipped(&self, before: usize, action: u8) {
        let ev = self.events_after(before).await;
        assert!(
            matches!(ev.as_slice(), [RegistryEvent::MasterActionSkipped(e)] if e.action == action),
            "expected one MasterActionSkippedEvent for action {action}, got {ev:?}"
        );
    }
}

pub async fn s01_register_ok<C: Chain>(w: &World<C>) {
    let before = w.events().await.len();
    let (d, worker) = w.register(0, "rpi-1", 1).await;
    assert_eq!(status(&worker), WorkerStatus::Pending);
    assert_eq!(worker.worker.owner, w.accounts[0].address());
    assert_eq!(worker.worker.stake.value, SUI);
    assert_eq!(worker.worker.node_id, d.node_id.as_str());
    assert_eq!(worker.worker.seal_token, d.token.to_bytes());
    assert_eq!(worker.worker.token_version, 0);
    let ev = w.events_after(before).await;
    assert!(
        matches!(&ev[..], [RegistryEvent::WorkerRegistered(r), RegistryEvent::StakeDeposited(s)]
        if r.worker_id == worker.info.id && r.stake_amount == SUI && s.amount == SUI && r.seal_token == d.token.to_bytes()),
        "{ev:?}"
    );
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        (reg.total_workers, reg.total_stake, reg.treasury.value),
        (1, SUI, 0)
    );

    // with a fee: the fee goes to the treasury, the rest is the stake
    ok(&w
        .admin("set_registration_fee", vec![Arg::U64(SUI / 2)])
        .await);
    let d2 = w.device(1, "rpi-2", 2);
    ok(&w
        .register_raw(1, SUI + SUI / 2, d2.node_id.as_str(), &d2.token.to_bytes())
        .await);
    let w2 = w.worker(d2.node_id.as_str()).await.unwrap();
    assert_eq!(w2.worker.stake.value, SUI);
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        (reg.total_workers, reg.total_stake, reg.treasury.value),
        (2, 2 * SUI, SUI / 2)
    );
    assert_eq!(w.reader.all_workers().await.unwrap().len(), 2);
}

pub async fn s02_payment_below_min_stake_plus_fee<C: Chain>(w: &World<C>) {
    let d = w.device(0, "rpi", 1);
    aborted(
        &w.register_raw(0, SUI - 1, d.node_id.as_str(), &d.token.to_bytes())
            .await,
        abort::E_INSUFFICIENT_STAKE,
    );
    ok(&w.admin("set_registration_fee", vec![Arg::U64(1000)]).await);
    aborted(
        &w.register_raw(0, SUI, d.node_id.as_str(), &d.token.to_bytes())
            .await,
        abort::E_INSUFFICIENT_STAKE,
    );
    assert!(w.worker(d.node_id.as_str()).await.is_none());
}

pub async fn s03_duplicate_node_id<C: Chain>(w: &World<C>) {
    let (d, _) = w.register(0, "rpi", 1).await;
    aborted(
        &w.register_raw(0, SUI, d.node_id.as_str(), &d.token.to_bytes())
            .await,
        abort::E_WORKER_ALREADY_EXISTS,
    );
}

pub async fn s04_bad_node_id<C: Chain>(w: &World<C>) {
    let d = w.device(0, "rpi", 1);
    let fp = d.node_id.fingerprint().to_string();
    let bad = [
        format!("RPI-{fp}"),
        format!("{}-{fp}", "a".repeat(47)),
        format!("-rpi-{fp}"),
        format!("rpi--{fp}"),
        format!("-{fp}"),
        "rpi".to_string(),
        format!("rpi-{}", &fp[..15]),
        format!("rpi-{}", fp.to_uppercase()),
    ];
    assert_eq!(bad[1].len(), 64);
    for node_id in bad {
        aborted(
            &w.register_raw(0, SUI, &node_id, &d.token.to_bytes()).await,
            abort::E_INVALID_NODE_ID,
        );
    }
}

pub async fn s05_fingerprint_of_another_identity_key<C: Chain>(w: &World<C>) {
    let mine = w.device(0, "rpi", 1);
    let other = w.device(0, "rpi", 2);
    aborted(
        &w.register_raw(0, SUI, other.node_id.as_str(), &mine.token.to_bytes())
            .await,
        abort::E_INVALID_NODE_ID,
    );
}

pub async fn s06_seal_token_length_or_version<C: Chain>(w: &World<C>) {
    let d = w.device(0, "rpi", 1);
    let t = d.token.to_bytes();
    aborted(
        &w.register_raw(0, SUI, d.node_id.as_str(), &t[..128]).await,
        abort::E_INVALID_SEAL_TOKEN,
    );
    aborted(
        &w.register_raw(0, SUI, d.node_id.as_str(), &[t.as_slice(), &[0]].concat())
            .await,
        abort::E_INVALID_SEAL_TOKEN,
    );
    let mut v2 = t;
    v2[0] = 2;
    aborted(
        &w.register_raw(0, SUI, d.node_id.as_str(), &v2).await,
        abort::E_INVALID_SEAL_TOKEN,
    );
}

pub async fn s07_seal_token_for_another_owner<C: Chain>(w: &World<C>) {
    let d = w.device(1, "rpi", 1);
    aborted(
        &w.register_raw(0, SUI, d.node_id.as_str(), &d.token.to_bytes())
            .await,
        abort::E_INVALID_SEAL_TOKEN,
    );
}

pub async fn s08_seal_token_for_another_registry_or_node_id<C: Chain>(w: &World<C>) {
    let owner = w.accounts[0].address();
    let d = w.device_for(w.info.other_registry.registry_id, owner, "rpi", 1, 1);
    aborted(
        &w.register_raw(0, SUI, d.node_id.as_str(), &d.token.to_bytes())
            .await,
        abort::E_INVALID_SEAL_TOKEN,
    );
    let signed_for = w.device(0, "rpi-a", 1);
    let used_as = w.device(0, "rpi-b", 1);
    assert_eq!(
        signed_for.node_id.fingerprint(),
        used_as.node_id.fingerprint()
    );
    aborted(
        &w.register_raw(
            0,
            SUI,
            used_as.node_id.as_str(),
            &signed_for.token.to_bytes(),
        )
        .await,
        abort::E_INVALID_SEAL_TOKEN,
    );
}

pub async fn s09_set_join_token_issues_token<C: Chain>(w: &World<C>) {
    let (d, worker) = w.register(0, "rpi", 1).await;
    let before = w.events().await.len();
    let env = w.envelope(&worker, &d, 1, w.now() + HOUR);
    ok(&w.set_token(&worker, &env).await);
    let worker = w.refresh(&worker).await;
    assert_eq!(
        (status(&worker), worker.worker.token_version),
        (WorkerStatus::TokenIssued, 1)
    );
    assert_eq!(worker.worker.join_envelope, env);
    let ev = w.events_after(before).await;
    assert!(ev.iter().any(|e| matches!(e, RegistryEvent::JoinTokenSet(j) if j.token_version == 1 && j.worker_id == worker.info.id)), "{ev:?}");
    // no event carries the envelope or anything of the secret
    for e in &ev {
        let b = e.to_bcs();
        // the sealed part (encapsulated key, ciphertext, signature) never appears
        assert!(
            !b.windows(16)
                .any(|win| env[17..].windows(16).any(|x| x == win)),
            "event {} carries envelope bytes",
            e.name()
        );
        assert!(!b.windows(3).any(|x| x == b"K10"));
    }
    ok(&w
        .set_token(&worker, &w.envelope(&worker, &d, 2, w.now() + HOUR))
        .await);
    let worker = w.refresh(&worker).await;
    assert_eq!(
        (status(&worker), worker.worker.token_version),
        (WorkerStatus::TokenIssued, 2)
    );
    ok(&w.master_call("activate_worker", &worker).await);
    ok(&w
        .set_token(&worker, &w.envelope(&worker, &d, 3, w.now() + HOUR))
        .await);
    let worker = w.refresh(&worker).await;
    assert_eq!(
        (status(&worker), worker.worker.token_version),
        (WorkerStatus::Active, 3)
    );
}

pub async fn s10_master_cap_of_another_registry_or_revoked<C: Chain>(w: &World<C>) {
    let (d, worker) = w.register(0, "rpi", 1).await;
    let env = w.envelope(&worker, &d, 1, w.now() + HOUR);
    let other_cap = w.object_ref(w.info.other_registry.master_cap_id).await;
    let out = w
        .call(
            &w.master,
            w.calls,
            "set_join_token",
            vec![
                Arg::Cap(other_cap),
                Arg::Worker(World::<C>::shared(&worker)),
                Arg::Bytes(&env),
            ],
        )
        .await;
    aborted(&out, abort::E_WRONG_REGISTRY);
    // a new cap, then revoked
    let before = w.events().await.len();
    ok(&w
        .admin("issue_master_cap", vec![Arg::Address(w.master.address())])
        .await);
    let new_cap = match &w.events_after(before).await[..] {
        [RegistryEvent::MasterCapChanged(c)] if c.valid => c.cap_id,
        other => panic!("expected MasterCapChanged, got {other:?}"),
    };
    ok(&w.admin("revoke_master_cap", vec![Arg::Id(new_cap)]).await);
    let cap = w.object_ref(new_cap).await;
    let out = w
        .call(
            &w.master,
            w.calls,
            "set_join_token",
            vec![
                Arg::Cap(cap),
                Arg::Worker(World::<C>::shared(&worker)),
                Arg::Bytes(&env),
            ],
        )
        .await;
    aborted(&out, abort::E_CAP_REVOKED);
    assert_eq!(status(&w.refresh(&worker).await), WorkerStatus::Pending);
}

pub async fn s11_envelope_defects<C: Chain>(w: &World<C>) {
    let (d, worker) = w.register(0, "rpi", 1).await;
    let good = w.envelope(&worker, &d, 1, w.now() + HOUR);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![];
    let mut long = good.clone();
    long.resize(2049, 0);
    cases.push(("longer than 2048", long));
    cases.push(("shorter than 131", good[..130].to_vec()));
    let mut v = good.clone();
    v[0] = 2;
    cases.push(("version 2", v));
    let mut len = good.clone();
    len[49] ^= 1;
    cases.push(("length field inconsistent", len));
    let mut short = vec![1u8; 131];
    short[1..9].copy_from_slice(&1u64.to_le_bytes());
    short[9..17].copy_from_slice(&(w.now() + HOUR).to_le_bytes());
    short[49..51].copy_from_slice(&15u16.to_le_bytes());
    cases.push(("n < 16", short));
    cases.push((
        "expired",
        w.envelope(&worker, &d, 1, w.now().saturating_sub(1)),
    ));
    cases.push((
        "beyond max ttl",
        w.envelope(&worker, &d, 1, w.now() + 8 * DAY),
    ));
    for (what, env) in cases {
        w.envelope_refused(&worker, &env, what).await;
    }
    assert_eq!(w.refresh(&worker).await.worker.token_version, 0);
}

pub async fn s12_version_race_or_leaving_worker_is_skipped<C: Chain>(w: &World<C>) {
    let (d, worker) = w.register(0, "rpi", 1).await;
    let before = w.events().await.len();
    ok(&w
        .set_token(&worker, &w.envelope(&worker, &d, 2, w.now() + HOUR))
        .await);
    w.skipped(before, 1).await;
    assert_eq!(w.refresh(&worker).await.worker.token_version, 0);

    // three calls in one transaction, the middle one stale: the other two apply
    let (d2, w2) = w.register(1, "rpi-b", 2).await;
    let (d3, w3) = w.register(2, "rpi-c", 3).await;
    let envs = [
        w.envelope(&worker, &d, 1, w.now() + HOUR),
        w.envelope(&w2, &d2, 5, w.now() + HOUR),
        w.envelope(&w3, &d3, 1, w.now() + HOUR),
    ];
    let cap = w.object_ref(w.info.master_cap_id).await;
    let calls = w.calls;
    let before = w.events().await.len();
    let out = w
        .submit(&w.master, |b| {
            for (wk, env) in [&worker, &w2, &w3].into_iter().zip(&envs) {
                calls.set_join_token(b, cap, World::<C>::shared(wk), env);
            }
        })
        .await;
    ok(&out);
    assert_eq!(w.refresh(&worker).await.worker.token_version, 1);
    assert_eq!(w.refresh(&w2).await.worker.token_version, 0);
    assert_eq!(w.refresh(&w3).await.worker.token_version, 1);
    let skipped = w
        .events_after(before)
        .await
        .into_iter()
        .filter(|e| matches!(e, RegistryEvent::MasterActionSkipped(_)))
        .count();
    assert_eq!(skipped, 1);

    // a leaving worker is skipped
    ok(&w.owner_call(1, "request_unstake", &w2).await);
    let w2 = w.refresh(&w2).await;
    let before = w.events().await.len();
    ok(&w
        .set_token(&w2, &w.envelope(&w2, &d2, 1, w.now() + HOUR))
        .await);
    w.skipped(before, 1).await;
    assert_eq!(status(&w.refresh(&w2).await), WorkerStatus::Leaving);
}

pub async fn s13_activate_worker<C: Chain>(w: &World<C>) {
    let (_, pending) = w.register(0, "rpi-p", 9).await;
    let before = w.events().await.len();
    ok(&w.master_call("activate_worker", &pending).await);
    w.skipped(before, 2).await;
    assert_eq!(status(&w.refresh(&pending).await), WorkerStatus::Pending);
    let (_, issued) = w.issued(1, "rpi", 1).await;
    ok(&w.master_call("activate_worker", &issued).await);
    assert_eq!(status(&w.refresh(&issued).await), WorkerStatus::Active);
}

pub async fn s14_request_unstake<C: Chain>(w: &World<C>) {
    let (_, p) = w.register(0, "rpi-p", 1).await;
    aborted(
        &w.owner_call(1, "request_unstake", &p).await,
        abort::E_UNAUTHORIZED,
    );
    let (_, t) = w.issued(0, "rpi-t", 2).await;
    let (_, a) = w.active(0, "rpi-a", 3).await;
    for worker in [&p, &t, &a] {
        let now = w.now();
        ok(&w.owner_call(0, "request_unstake", worker).await);
        let after = w.refresh(worker).await;
        assert_eq!(status(&after), WorkerStatus::Leaving);
        let expected = now + worker.worker.cooldown_ms;
        assert!(
            (expected..expected + 60_000).contains(&after.worker.unlock_at_ms),
            "unlock_at {} vs now+cooldown {expected}",
            after.worker.unlock_at_ms
        );
    }
    // a later cooldown change does not touch existing workers
    let (_, late) = w.register(1, "rpi-l", 4).await;
    ok(&w.admin("set_cooldown_ms", vec![Arg::U64(DAY)]).await);
    assert_eq!(w.refresh(&late).await.worker.cooldown_ms, 7 * DAY);
    let now = w.now();
    ok(&w.owner_call(1, "request_unstake", &late).await);
    assert!(w.refresh(&late).await.worker.unlock_at_ms >= now + 7 * DAY);
    aborted(
        &w.owner_call(1, "request_unstake", &w.refresh(&late).await)
            .await,
        abort::E_INVALID_STATUS,
    );
}

pub async fn s15_withdraw_stake<C: Chain>(w: &World<C>) {
    let withdraw = |i: usize, worker: &WorkerObject| {
        let worker = World::<C>::shared(worker);
        async move {
            w.call(
                &w.accounts[i],
                w.calls,
                "withdraw_stake",
                vec![Arg::Worker(worker)],
            )
            .await
        }
    };
    let (_, a) = w.active(0, "rpi-a", 1).await;
    aborted(&withdraw(1, &a).await, abort::E_UNAUTHORIZED);
    aborted(&withdraw(0, &a).await, abort::E_INVALID_STATUS);

    // Revoked before unlock → 9; after → paid, deleted, node_id free, event
    ok(&w.owner_call(0, "request_unstake", &a).await);
    aborted(
        &withdraw(0, &w.refresh(&a).await).await,
        abort::E_COOLDOWN_NOT_OVER,
    );
    ok(&w.master_call("confirm_revoked", &w.refresh(&a).await).await);
    let revoked = w.refresh(&a).await;
    assert_eq!(status(&revoked), WorkerStatus::Revoked);
    aborted(&withdraw(0, &revoked).await, abort::E_COOLDOWN_NOT_OVER);
    w.advance(7 * DAY + 1000);
    let balance_before: u64 = w
        .chain()
        .coins(w.accounts[0].address())
        .await
        .unwrap()
        .iter()
        .map(|c| c.balance)
        .sum();
    let before = w.events().await.len();
    let paid = withdraw(0, &revoked).await;
    ok(&paid);
    assert!(w.worker_by_id(revoked.info.id).await.is_none());
    assert!(w.worker(&revoked.worker.node_id).await.is_none());
    let balance_after: u64 = w
        .chain()
        .coins(w.accounts[0].address())
        .await
        .unwrap()
        .iter()
        .map(|c| c.balance)
        .sum();
    // the whole stake comes back; only the withdrawal's own gas is spent
    let g = paid.gas;
    assert_eq!(
        balance_after as i128,
        balance_before as i128 + SUI as i128 - (g.computation + g.storage) as i128
            + g.rebate as i128,
        "stake paid back: {balance_before} → {balance_after}"
    );
    assert!(w.events_after(before).await.iter().any(|e| matches!(e, RegistryEvent::StakeWithdrawn(s) if s.amount == SUI && s.worker_id == revoked.info.id)));

    // Leaving, never revoked: 9 until unlock + grace, then allowed
    let (_, l) = w.register(1, "rpi-l", 2).await;
    ok(&w.owner_call(1, "request_unstake", &l).await);
    let l = w.refresh(&l).await;
    w.advance(7 * DAY + 1000);
    aborted(&withdraw(1, &l).await, abort::E_COOLDOWN_NOT_OVER);
    w.advance(DAY);
    ok(&withdraw(1, &l).await);
    assert!(w.worker_by_id(l.info.id).await.is_none());
}

pub async fn s16_slash<C: Chain>(w: &World<C>) {
    let slash = |calls: RegistryCalls,
                 cap: ObjectId,
                 worker: &WorkerObject,
                 amount: u64,
                 reason: String| {
        let worker = World::<C>::shared(worker);
        async move {
            let cap = w.object_ref(cap).await;
            w.call(
                &w.master,
                calls,
                "slash",
                vec![
                    Arg::Cap(cap),
                    Arg::Worker(worker),
                    Arg::U64(amount),
                    Arg::Str(&reason),
                ],
            )
            .await
        }
    };
    let (_, a) = w.active(0, "rpi", 1).await;
    aborted(
        &slash(w.calls, w.info.slash_cap_id, &a, 1, "x".repeat(257)).await,
        abort::E_INVALID_PARAMETER,
    );
    aborted(
        &slash(
            w.other,
            w.info.other_registry.slash_cap_id,
            &a,
            1,
            "other".into(),
        )
        .await,
        abort::E_WRONG_REGISTRY,
    );
    let before = w.events().await.len();
    let now = w.now();
    ok(&slash(
        w.calls,
        w.info.slash_cap_id,
        &a,
        5 * SUI,
        "double signing".into(),
    )
    .await);
    let s = w.refresh(&a).await;
    assert_eq!(
        (status(&s), s.worker.stake.value),
        (WorkerStatus::Slashed, 0)
    );
    assert!(s.worker.unlock_at_ms >= now + s.worker.cooldown_ms);
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!((reg.treasury.value, reg.total_stake), (SUI, 0));
    assert!(w.events_after(before).await.iter().any(|e| matches!(e, RegistryEvent::WorkerSlashed(x) if x.amount == SUI && x.reason == "double signing")));
    ok(&w.master_call("confirm_revoked", &s).await);
    aborted(
        &slash(
            w.calls,
            w.info.slash_cap_id,
            &w.refresh(&s).await,
            1,
            "again".into(),
        )
        .await,
        abort::E_INVALID_STATUS,
    );
}

pub async fn s17_confirm_revoked<C: Chain>(w: &World<C>) {
    let (_, a) = w.active(0, "rpi-a", 1).await;
    let before = w.events().await.len();
    ok(&w.master_call("confirm_revoked", &a).await);
    w.skipped(before, 3).await;
    ok(&w.owner_call(0, "request_unstake", &a).await);
    ok(&w.master_call("confirm_revoked", &w.refresh(&a).await).await);
    assert_eq!(status(&w.refresh(&a).await), WorkerStatus::Revoked);
    let (_, b) = w.register(1, "rpi-b", 2).await;
    let cap = w.object_ref(w.info.slash_cap_id).await;
    ok(&w
        .call(
            &w.master,
            w.calls,
            "slash",
            vec![
                Arg::Cap(cap),
                Arg::Worker(World::<C>::shared(&b)),
                Arg::U64(1),
                Arg::Str("r"),
            ],
        )
        .await);
    ok(&w.master_call("confirm_revoked", &w.refresh(&b).await).await);
    assert_eq!(status(&w.refresh(&b).await), WorkerStatus::Revoked);
}

pub async fn s18_rotate_seal_token<C: Chain>(w: &World<C>) {
    let (d, a) = w.active(0, "rpi", 1).await;
    let owner = w.accounts[0].address();
    // same identity key, new sealing key
    let rotated = w.device_for(w.info.registry_id, owner, "rpi", 2, 1);
    assert_eq!(rotated.node_id, d.node_id);
    assert_eq!(rotated.identity.public(), d.identity.public());
    assert_ne!(rotated.sealing.public(), d.sealing.public());
    let token = rotated.token.to_bytes();
    aborted(
        &w.call(
            &w.accounts[1],
            w.calls,
            "rotate_seal_token",
            vec![Arg::Worker(World::<C>::shared(&a)), Arg::Bytes(&token)],
        )
        .await,
        abort::E_UNAUTHORIZED,
    );
    let other_identity = w.device_for(w.info.registry_id, owner, "rpi", 3, 3);
    let bad = other_identity.token.to_bytes();
    aborted(
        &w.call(
            &w.accounts[0],
            w.calls,
            "rotate_seal_token",
            vec![Arg::Worker(World::<C>::shared(&a)), Arg::Bytes(&bad)],
        )
        .await,
        abort::E_INVALID_SEAL_TOKEN,
    );
    ok(&w
        .call(
            &w.accounts[0],
            w.calls,
            "rotate_seal_token",
            vec![Arg::Worker(World::<C>::shared(&a)), Arg::Bytes(&token)],
        )
        .await);
    let after = w.refresh(&a).await;
    assert_eq!(status(&after), WorkerStatus::Pending);
    assert!(after.worker.join_envelope.is_empty());
    assert_eq!(after.worker.token_version, 2, "1 envelope + 1 rotation");
    assert_eq!(after.worker.seal_token, token);
}

pub async fn s19_request_join_token<C: Chain>(w: &World<C>) {
    let (_, p) = w.register(0, "rpi-p", 2).await;
    aborted(
        &w.owner_call(0, "request_join_token", &p).await,
        abort::E_INVALID_STATUS,
    );
    let (_, t) = w.issued(0, "rpi", 1).await;
    aborted(
        &w.owner_call(1, "request_join_token", &t).await,
        abort::E_UNAUTHORIZED,
    );
    ok(&w.owner_call(0, "request_join_token", &t).await);
    assert_eq!(status(&w.refresh(&t).await), WorkerStatus::Pending);
}

pub async fn s20_admin_needs_this_registrys_admin_cap<C: Chain>(w: &World<C>) {
    let other_admin = w.object_ref(w.info.other_registry.admin_cap_id).await;
    for f in [
        "set_min_stake",
        "set_registration_fee",
        "set_cooldown_ms",
        "set_revoke_grace_ms",
        "set_max_envelope_ttl_ms",
    ] {
        let cap = w.object_ref(w.info.other_registry.admin_cap_id).await;
        aborted(
            &w.call(&w.master, w.calls, f, vec![Arg::Cap(cap), Arg::U64(1)])
                .await,
            abort::E_WRONG_REGISTRY,
        );
    }
    let _ = other_admin;
    aborted(
        &w.admin("set_cooldown_ms", vec![Arg::U64(30 * DAY + 1)])
            .await,
        abort::E_INVALID_PARAMETER,
    );
    ok(&w.admin("set_cooldown_ms", vec![Arg::U64(30 * DAY)]).await);
    ok(&w.admin("set_min_stake", vec![Arg::U64(2 * SUI)]).await);
    assert_eq!(w.reader.registry().await.unwrap().1.min_stake, 2 * SUI);
    // issue_slash_cap: a new valid cap, owned by the recipient, that slashes
    let stranger = 2;
    let new_cap = w.issue_slash_cap(stranger).await;
    let info = w.chain().object(new_cap).await.unwrap().unwrap();
    assert_eq!(
        info.owner,
        daas_protocol::chain::Owner::Address(w.accounts[stranger].address())
    );
    assert!(info.type_.ends_with("::worker_registry::SlashCap"));
    let d = w.device(0, "rpi", 1);
    ok(&w
        .register_raw(0, 2 * SUI, d.node_id.as_str(), &d.token.to_bytes())
        .await);
    let victim = w.worker(d.node_id.as_str()).await.unwrap();
    ok(&w
        .slash_with(&w.accounts[stranger], w.calls, new_cap, &victim, 1)
        .await);
    assert_eq!(status(&w.refresh(&victim).await), WorkerStatus::Slashed);
}

pub async fn s21_views<C: Chain>(w: &World<C>) {
    let (d, p) = w.register(0, "rpi", 1).await;
    assert!(p.worker.join_envelope.is_empty());
    assert_eq!(
        (p.worker.owner, p.worker.token_version, status(&p)),
        (w.accounts[0].address(), 0, WorkerStatus::Pending)
    );
    let env = w.envelope(&p, &d, 1, w.now() + HOUR);
    ok(&w.set_token(&p, &env).await);
    let t = w.refresh(&p).await;
    assert_eq!(
        (
            t.worker.join_envelope.as_slice(),
            t.worker.token_version,
            status(&t)
        ),
        (env.as_slice(), 1, WorkerStatus::TokenIssued)
    );
    assert_ne!(t.worker.owner, w.accounts[1].address());
    // the device reads its worker by node_id and opens the envelope with its own key
    let found = w.worker(d.node_id.as_str()).await.unwrap();
    assert_eq!(found.info.id, p.info.id);
}

pub async fn s22_envelope_key_cert<C: Chain>(w: &World<C>) {
    let root = RootKey::from_secret_bytes(
        daas_protocol::hex::decode_array(&w.info.root_key.private).unwrap(),
    );
    let new_key = EnvelopeKey::from_secret_bytes([42; 32]);
    let cert = EnvelopeKeyCert::issue(
        &root,
        &w.chain_id,
        &w.info.registry_id,
        2,
        &new_key.public(),
    )
    .to_bytes();
    let before = w.events().await.len();
    ok(&w
        .admin("set_envelope_key_cert", vec![Arg::Bytes(&cert)])
        .await);
    assert!(
        matches!(&w.events_after(before).await[..], [RegistryEvent::EnvelopeKeyCertSet(e)] if e.serial == 2)
    );
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(reg.envelope_key_cert, cert);
    let mut pin = EnvelopeKeyPin::new(root.public(), w.chain_id, w.info.registry_id);
    assert_eq!(
        pin.accept(&reg.envelope_key_cert).unwrap().key,
        new_key.public()
    );
    aborted(
        &w.admin("set_envelope_key_cert", vec![Arg::Bytes(&cert)])
            .await,
        abort::E_INVALID_PARAMETER,
    );
    aborted(
        &w.admin("set_envelope_key_cert", vec![Arg::Bytes(&cert[..104])])
            .await,
        abort::E_INVALID_PARAMETER,
    );
    let mut v2 = EnvelopeKeyCert::issue(
        &root,
        &w.chain_id,
        &w.info.registry_id,
        3,
        &new_key.public(),
    )
    .to_bytes();
    v2[0] = 2;
    aborted(
        &w.admin("set_envelope_key_cert", vec![Arg::Bytes(&v2)])
            .await,
        abort::E_INVALID_PARAMETER,
    );
}

pub async fn s23_reregister_after_withdraw<C: Chain>(w: &World<C>) {
    let (d, a) = w.issued(0, "rpi", 1).await;
    ok(&w.owner_call(0, "request_unstake", &a).await);
    ok(&w.master_call("confirm_revoked", &w.refresh(&a).await).await);
    w.advance(7 * DAY + 1000);
    ok(&w
        .call(
            &w.accounts[0],
            w.calls,
            "withdraw_stake",
            vec![Arg::Worker(World::<C>::shared(&a))],
        )
        .await);
    ok(&w
        .register_raw(0, SUI, d.node_id.as_str(), &d.token.to_bytes())
        .await);
    let again = w.worker(d.node_id.as_str()).await.unwrap();
    assert_ne!(again.info.id, a.info.id);
    assert_eq!(
        (again.worker.token_version, status(&again)),
        (0, WorkerStatus::Pending)
    );
}

pub async fn s24_rotation_skips_an_envelope_in_flight_to_the_old_key<C: Chain>(w: &World<C>) {
    let (d, _) = w.register(0, "rpi", 1).await;
    // the master reads the worker: Pending at token_version 0; it seals version 1 to
    // the sealing key it read
    let read = w.worker(d.node_id.as_str()).await.unwrap();
    assert_eq!(
        (status(&read), read.worker.token_version),
        (WorkerStatus::Pending, 0)
    );
    let in_flight = w.envelope(&read, &d, read.worker.token_version + 1, w.now() + HOUR);
    // the owner's rotation lands first
    let owner = w.accounts[0].address();
    let rotated = w.device_for(w.info.registry_id, owner, "rpi", 2, 1);
    ok(&w.rotate(0, w.calls, &read, &rotated.token.to_bytes()).await);
    let after = w.refresh(&read).await;
    assert_eq!(
        (status(&after), after.worker.token_version),
        (WorkerStatus::Pending, 1)
    );
    let before = w.events().await.len();
    ok(&w.set_token(&read, &in_flight).await);
    w.skipped(before, 1).await;
    let after = w.refresh(&read).await;
    assert_eq!(after.worker.token_version, 1);
    assert!(
        after.worker.join_envelope.is_empty(),
        "the stale envelope is not stored"
    );
    assert_eq!(status(&after), WorkerStatus::Pending);
    // the next read gives version 1: the envelope for 2, to the new key, is stored
    let fresh = w.envelope(
        &after,
        &rotated,
        after.worker.token_version + 1,
        w.now() + HOUR,
    );
    ok(&w.set_token(&after, &fresh).await);
    let issued = w.refresh(&after).await;
    assert_eq!(
        (status(&issued), issued.worker.token_version),
        (WorkerStatus::TokenIssued, 2)
    );
    assert_eq!(issued.worker.join_envelope, fresh);
    // from TokenIssued and from Active each rotation adds one
    ok(&w.rotate(0, w.calls, &issued, &d.token.to_bytes()).await);
    let again = w.refresh(&issued).await;
    assert_eq!(
        (status(&again), again.worker.token_version),
        (WorkerStatus::Pending, 3)
    );
    ok(&w
        .set_token(&again, &w.envelope(&again, &d, 4, w.now() + HOUR))
        .await);
    ok(&w
        .master_call("activate_worker", &w.refresh(&again).await)
        .await);
    ok(&w
        .rotate(0, w.calls, &again, &rotated.token.to_bytes())
        .await);
    let last = w.refresh(&again).await;
    assert_eq!(
        (status(&last), last.worker.token_version),
        (WorkerStatus::Pending, 5)
    );
    let rotations = w
        .events()
        .await
        .into_iter()
        .filter(|e| matches!(e, RegistryEvent::SealTokenRotated(r) if r.worker_id == read.info.id))
        .count();
    assert_eq!(rotations, 3);
}

pub async fn s25_slash_caps_are_listed_issued_and_revoked<C: Chain>(w: &World<C>) {
    let genesis = w.info.slash_cap_id;
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        reg.slash_caps.contents,
        vec![genesis],
        "the genesis SlashCap is valid"
    );
    let bobs = w.issue_slash_cap(1).await;
    ok(&w.admin("revoke_slash_cap", vec![Arg::Id(genesis)]).await);
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(reg.slash_caps.contents, vec![bobs]);
    let (_, a) = w.register(0, "rpi", 1).await;
    aborted(
        &w.slash_with(&w.master, w.calls, genesis, &a, 1).await,
        abort::E_CAP_REVOKED,
    );
    assert_eq!(status(&w.refresh(&a).await), WorkerStatus::Pending);
    // revoking twice, or an id that never was a SlashCap: 11
    aborted(
        &w.admin("revoke_slash_cap", vec![Arg::Id(genesis)]).await,
        abort::E_INVALID_PARAMETER,
    );
    aborted(
        &w.admin("revoke_slash_cap", vec![Arg::Id(w.info.master_cap_id)])
            .await,
        abort::E_INVALID_PARAMETER,
    );
    // another registry's AdminCap: 8
    let other_admin = w.object_ref(w.info.other_registry.admin_cap_id).await;
    aborted(
        &w.call(
            &w.master,
            w.calls,
            "revoke_slash_cap",
            vec![Arg::Cap(other_admin), Arg::Id(bobs)],
        )
        .await,
        abort::E_WRONG_REGISTRY,
    );
    // the cap still valid slashes
    ok(&w.slash_with(&w.accounts[1], w.calls, bobs, &a, 1).await);
    assert_eq!(status(&w.refresh(&a).await), WorkerStatus::Slashed);
    // registry B's caps are untouched
    let other = w.other_registry().await;
    assert_eq!(
        other.slash_caps.contents,
        vec![w.info.other_registry.slash_cap_id]
    );
}

pub async fn s26_revoke_grace_is_copied_at_registration<C: Chain>(w: &World<C>) {
    let (_, a) = w.register(0, "rpi-a", 1).await;
    assert_eq!(a.worker.revoke_grace_ms, DAY);
    ok(&w
        .admin("set_revoke_grace_ms", vec![Arg::U64(30 * DAY)])
        .await);
    let (_, b) = w.register(1, "rpi-b", 2).await;
    assert_eq!(b.worker.revoke_grace_ms, 30 * DAY);
    ok(&w.admin("set_revoke_grace_ms", vec![Arg::U64(0)]).await);
    assert_eq!(w.refresh(&a).await.worker.revoke_grace_ms, DAY);
    ok(&w.owner_call(0, "request_unstake", &a).await);
    ok(&w.owner_call(1, "request_unstake", &b).await);
    // the registry's grace is now 0, but each exit keeps its own: A 1 day, B 30 days
    w.advance(7 * DAY + 1000);
    aborted(
        &w.withdraw(0, w.calls, &a).await,
        abort::E_COOLDOWN_NOT_OVER,
    );
    w.advance(DAY);
    ok(&w.withdraw(0, w.calls, &a).await);
    aborted(
        &w.withdraw(1, w.calls, &b).await,
        abort::E_COOLDOWN_NOT_OVER,
    );
    w.advance(29 * DAY);
    ok(&w.withdraw(1, w.calls, &b).await);
}

pub async fn s27_the_stake_check_cannot_overflow<C: Chain>(w: &World<C>) {
    let d = w.device(0, "rpi", 1);
    let token = d.token.to_bytes();
    let register = || w.register_raw(0, SUI, d.node_id.as_str(), &token);
    for (min_stake, fee) in [
        (SUI, u64::MAX),
        (u64::MAX, 1),
        (u64::MAX, 0),
        (u64::MAX, u64::MAX),
        (1, u64::MAX - 1),
        (SUI, 1),
    ] {
        w.set_params(min_stake, fee).await;
        aborted(&register().await, abort::E_INSUFFICIENT_STAKE);
    }
    // payment − min_stake == fee exactly: registered, the fee to the treasury
    w.set_params(SUI - 5, 5).await;
    ok(&register().await);
    let worker = w.worker(d.node_id.as_str()).await.unwrap();
    assert_eq!(worker.worker.stake.value, SUI - 5);
    assert_eq!(w.reader.registry().await.unwrap().1.treasury.value, 5);
}

pub async fn s28_seal_token_keys_are_checked_as_sui_checks_them<C: Chain>(w: &World<C>) {
    let reg = w.info.registry_id;
    let owner = w.accounts[0].address();
    let neutral = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };
    // the neutral point again, non-canonically (y = p + 1); ZIP-215 takes it
    let neutral_non_canonical = {
        let mut b = [0xff; 32];
        b[0] = 0xee;
        b[31] = 0x7f;
        b
    };
    let not_a_point = {
        let mut b = [0u8; 32];
        b[0] = 2; // y = 2 is not on the curve
        b
    };
    assert!(ed25519_zebra::VerificationKey::try_from(not_a_point).is_err());
    assert!(ed25519_zebra::VerificationKey::try_from(neutral_non_canonical).is_ok());
    let mut u1 = [0u8; 32];
    u1[0] = 1;
    // low-order X25519 sealing keys signed by a real identity key register (the
    // contract does not look at them; master and agent refuse them)
    for (i, sealing) in [[0u8; 32], u1].into_iter().enumerate() {
        assert!(daas_protocol::SealingPublicKey::from_bytes(sealing).is_err());
        let (node_id, token) = raw_token(
            &reg,
            &owner,
            &format!("lo{i}"),
            RawIdentity::Seed([40 + i as u8; 32]),
            sealing,
        );
        ok(&w.register_raw(0, SUI, &node_id, &token).await);
        assert_eq!(w.worker(&node_id).await.unwrap().worker.seal_token, token);
    }
    // a small-order identity key with the signature any message has under it registers
    for (i, key) in [neutral, neutral_non_canonical].into_iter().enumerate() {
        let (node_id, token) = raw_token(
            &reg,
            &owner,
            &format!("so{i}"),
            RawIdentity::Bytes(key),
            [9; 32],
        );
        ok(&w.register_raw(0, SUI, &node_id, &token).await);
    }
    // the same forged signature under a prime-order key fails
    let real = w.device(0, "rpi", 5);
    let mut forged = real.token.to_bytes();
    forged[65..].copy_from_slice(
        &raw_token(&reg, &owner, "x", RawIdentity::Bytes(neutral), [0; 32]).1[65..],
    );
    aborted(
        &w.register_raw(0, SUI, real.node_id.as_str(), &forged).await,
        abort::E_INVALID_SEAL_TOKEN,
    );
    // an identity key that is not a point: the fingerprint is checked first (5), then
    // the signature fails (4)
    let (bad_node, bad_token) = raw_token(
        &reg,
        &owner,
        "bad",
        RawIdentity::Bytes(not_a_point),
        [9; 32],
    );
    aborted(
        &w.register_raw(0, SUI, real.node_id.as_str(), &bad_token)
            .await,
        abort::E_INVALID_NODE_ID,
    );
    aborted(
        &w.register_raw(0, SUI, &bad_node, &bad_token).await,
        abort::E_INVALID_SEAL_TOKEN,
    );
    // rotation takes the same rules: to a low-order sealing key
    let seed = [40u8; 32];
    let (lo_node, _) = raw_token(&reg, &owner, "lo0", RawIdentity::Seed(seed), [0; 32]);
    let lo = w.worker(&lo_node).await.unwrap();
    let (_, rotated) = raw_token(&reg, &owner, "lo0", RawIdentity::Seed(seed), u1);
    ok(&w.rotate(0, w.calls, &lo, &rotated).await);
    assert_eq!(w.refresh(&lo).await.worker.seal_token, rotated);
}

pub async fn s29_a_worker_of_another_registry_is_refused<C: Chain>(w: &World<C>) {
    let b = w.other;
    let b_master = w.info.other_registry.master_cap_id;
    let b_slash = w.info.other_registry.slash_cap_id;
    let master_b = |f: &'static str, worker: WorkerObject, env: Option<Vec<u8>>| async move {
        let cap = w.object_ref(b_master).await;
        let mut args = vec![Arg::Cap(cap), Arg::Worker(World::<C>::shared(&worker))];
        if let Some(e) = &env {
            args.push(Arg::Bytes(e));
        }
        w.call(&w.master, b, f, args).await
    };
    let (d, pending) = w.register(0, "rpi-p", 1).await;
    let env = w.envelope(&pending, &d, 1, w.now() + HOUR);
    aborted(
        &master_b("set_join_token", pending.clone(), Some(env)).await,
        abort::E_WRONG_REGISTRY,
    );
    let (_, issued) = w.issued(1, "rpi-i", 2).await;
    aborted(
        &master_b("activate_worker", issued.clone(), None).await,
        abort::E_WRONG_REGISTRY,
    );
    let (_, leaving) = w.register(2, "rpi-l", 3).await;
    ok(&w.owner_call(2, "request_unstake", &leaving).await);
    let leaving = w.refresh(&leaving).await;
    aborted(
        &master_b("confirm_revoked", leaving.clone(), None).await,
        abort::E_WRONG_REGISTRY,
    );
    let owner = w.accounts[0].address();
    let rotated = w.device_for(w.info.registry_id, owner, "rpi-p", 7, 1);
    aborted(
        &w.rotate(0, b, &pending, &rotated.token.to_bytes()).await,
        abort::E_WRONG_REGISTRY,
    );
    aborted(
        &w.slash_with(&w.master, b, b_slash, &issued, 1).await,
        abort::E_WRONG_REGISTRY,
    );
    // a withdrawable worker (Revoked, cooldown over) with registry B
    ok(&w.master_call("confirm_revoked", &leaving).await);
    w.advance(7 * DAY + 1000);
    aborted(&w.withdraw(2, b, &leaving).await, abort::E_WRONG_REGISTRY);
    // nothing changed, in either registry
    let p = w.refresh(&pending).await;
    assert_eq!(
        (status(&p), p.worker.token_version),
        (WorkerStatus::Pending, 0)
    );
    assert_eq!(p.worker.seal_token, d.token.to_bytes());
    let i = w.refresh(&issued).await;
    assert_eq!(
        (status(&i), i.worker.stake.value),
        (WorkerStatus::TokenIssued, SUI)
    );
    assert_eq!(status(&w.refresh(&leaving).await), WorkerStatus::Revoked);
    let other = w.other_registry().await;
    assert_eq!(
        (other.total_workers, other.total_stake, other.treasury.value),
        (0, 0, 0)
    );
    // and with A, the same withdrawal pays
    ok(&w.withdraw(2, w.calls, &leaving).await);
}

pub async fn s30_envelopes_shorter_than_131_bytes_abort<C: Chain>(w: &World<C>) {
    let (d, worker) = w.register(0, "rpi", 1).await;
    let good = w.envelope(&worker, &d, 1, w.now() + HOUR);
    assert!(good.len() >= 131);
    // every length below the minimum, the 51-byte header and shorter included: 10, never
    // an index error
    for n in 0..131 {
        w.envelope_refused(&worker, &good[..n], &format!("{n} bytes"))
            .await;
    }
    assert_eq!(w.refresh(&worker).await.worker.token_version, 0);
}

pub async fn s31_every_admin_setter_reads_back<C: Chain>(w: &World<C>) {
    let params = || async {
        let (_, reg) = w.reader.registry().await.unwrap();
        [
            reg.min_stake,
            reg.registration_fee,
            reg.cooldown_ms,
            reg.revoke_grace_ms,
            reg.max_envelope_ttl_ms,
        ]
    };
    assert_eq!(
        params().await,
        [SUI, 0, 7 * DAY, DAY, 7 * DAY],
        "DESIGN §4 defaults"
    );
    for (f, v) in [
        ("set_min_stake", 3 * SUI),
        ("set_registration_fee", 7),
        ("set_cooldown_ms", 2 * DAY),
        ("set_revoke_grace_ms", 3 * HOUR),
        ("set_max_envelope_ttl_ms", 5 * HOUR),
    ] {
        ok(&w.admin(f, vec![Arg::U64(v)]).await);
    }
    for (f, v) in [
        ("set_cooldown_ms", 30 * DAY + 1),
        ("set_revoke_grace_ms", 30 * DAY + 1),
        ("set_max_envelope_ttl_ms", 0),
        ("set_max_envelope_ttl_ms", 30 * DAY + 1),
    ] {
        aborted(
            &w.admin(f, vec![Arg::U64(v)]).await,
            abort::E_INVALID_PARAMETER,
        );
    }
    assert_eq!(params().await, [3 * SUI, 7, 2 * DAY, 3 * HOUR, 5 * HOUR]);
    // a Worker copies cooldown and grace; the stake and fee land where they belong
    let d = w.device(0, "rpi", 1);
    ok(&w
        .register_raw(0, 3 * SUI + 7, d.node_id.as_str(), &d.token.to_bytes())
        .await);
    let worker = w.worker(d.node_id.as_str()).await.unwrap();
    assert_eq!(
        (
            worker.worker.cooldown_ms,
            worker.worker.revoke_grace_ms,
            worker.worker.stake.value
        ),
        (2 * DAY, 3 * HOUR, 3 * SUI)
    );
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        (
            reg.treasury.value,
            reg.total_stake,
            reg.total_workers,
            reg.workers.size
        ),
        (7, 3 * SUI, 1, 1)
    );
    // withdraw_treasury: the treasury shrinks, the recipient gets a coin of exactly that
    let recipient = w.accounts[2].address();
    let before: Vec<_> = w.chain().coins(recipient).await.unwrap();
    let admin = w.object_ref(w.info.admin_cap_id).await;
    ok(&w
        .call(
            &w.master,
            w.calls,
            "withdraw_treasury",
            vec![Arg::Cap(admin), Arg::U64(5), Arg::Address(recipient)],
        )
        .await);
    aborted(
        &w.call(
            &w.master,
            w.calls,
            "withdraw_treasury",
            vec![
                Arg::Cap(w.object_ref(w.info.admin_cap_id).await),
                Arg::U64(3),
                Arg::Address(recipient),
            ],
        )
        .await,
        abort::E_INVALID_PARAMETER,
    );
    assert_eq!(w.reader.registry().await.unwrap().1.treasury.value, 2);
    let paid: Vec<_> = w
        .chain()
        .coins(recipient)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| !before.iter().any(|b| b.id == c.id))
        .collect();
    assert!(matches!(&paid[..], [c] if c.balance == 5), "{paid:?}");
    // the envelope-key certificate (S22 checks the serial rule)
    let root = RootKey::from_secret_bytes(
        daas_protocol::hex::decode_array(&w.info.root_key.private).unwrap(),
    );
    let cert = EnvelopeKeyCert::issue(
        &root,
        &w.chain_id,
        &w.info.registry_id,
        9,
        &w.envelope_key.public(),
    )
    .to_bytes();
    ok(&w
        .admin("set_envelope_key_cert", vec![Arg::Bytes(&cert)])
        .await);
    assert_eq!(w.reader.registry().await.unwrap().1.envelope_key_cert, cert);
    // MasterCaps: issued valid, revoked invalid, the genesis one kept
    let before = w.events().await.len();
    ok(&w
        .admin(
            "issue_master_cap",
            vec![Arg::Address(w.accounts[1].address())],
        )
        .await);
    let new_cap = match &w.events_after(before).await[..] {
        [RegistryEvent::MasterCapChanged(c)] if c.valid => c.cap_id,
        other => panic!("expected MasterCapChanged, got {other:?}"),
    };
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        reg.master_caps.contents,
        vec![w.info.master_cap_id, new_cap]
    );
    ok(&w.admin("revoke_master_cap", vec![Arg::Id(new_cap)]).await);
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(reg.master_caps.contents, vec![w.info.master_cap_id]);
    // SlashCaps (S25 covers revocation)
    let new_slash = w.issue_slash_cap(1).await;
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        reg.slash_caps.contents,
        vec![w.info.slash_cap_id, new_slash]
    );
}

pub async fn s32_partial_slash_then_withdraw_pays_exactly_the_remainder<C: Chain>(w: &World<C>) {
    let (_, a) = w.active(0, "rpi-a", 1).await;
    let d = w.device(1, "rpi-c", 2);
    ok(&w
        .register_raw(1, 2 * SUI, d.node_id.as_str(), &d.token.to_bytes())
        .await);
    let c = w.worker(d.node_id.as_str()).await.unwrap();
    ok(&w
        .slash_with(&w.master, w.calls, w.info.slash_cap_id, &a, 300_000_000)
        .await);
    ok(&w
        .slash_with(&w.master, w.calls, w.info.slash_cap_id, &c, 1)
        .await);
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        (reg.treasury.value, reg.total_stake),
        (300_000_001, SUI - 300_000_000 + 2 * SUI - 1)
    );
    let paid_to = |i: usize, worker: WorkerObject, calls: RegistryCalls| async move {
        let owner = w.accounts[i].address();
        let before = w.chain().coins(owner).await.unwrap();
        let n = w.events().await.len();
        ok(&w.withdraw(i, calls, &worker).await);
        let ev = w.events_after(n).await;
        let amount = match &ev[..] {
            [RegistryEvent::StakeWithdrawn(s)] if s.worker_id == worker.info.id => s.amount,
            other => panic!("expected one StakeWithdrawn, got {other:?}"),
        };
        let new: Vec<u64> = w
            .chain()
            .coins(owner)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| !before.iter().any(|b| b.id == c.id))
            .map(|c| c.balance)
            .collect();
        assert_eq!(new, vec![amount], "one new coin holding the stake");
        amount
    };
    // A: confirmed revoked, withdrawn after the cooldown
    ok(&w.master_call("confirm_revoked", &w.refresh(&a).await).await);
    w.advance(7 * DAY + 1000);
    assert_eq!(
        paid_to(0, w.refresh(&a).await, w.calls).await,
        SUI - 300_000_000
    );
    // C: never confirmed, withdrawn after cooldown + grace
    w.advance(DAY);
    assert_eq!(paid_to(1, w.refresh(&c).await, w.calls).await, 2 * SUI - 1);
    let (_, reg) = w.reader.registry().await.unwrap();
    assert_eq!(
        (reg.treasury.value, reg.total_stake, reg.total_workers),
        (300_000_001, 0, 0)
    );
}

macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod jsonrpc {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let w = crate::world::World::jsonrpc().await;
                    super::$name(&w).await;
                    w.assert_conformant();
                }
            )*
        }
        mod graphql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let w = crate::world::World::graphql().await;
                    super::$name(&w).await;
                    w.assert_conformant();
                }
            )*
        }
    };
}

both_transports!(
    s01_register_ok,
    s02_payment_below_min_stake_plus_fee,
    s03_duplicate_node_id,
    s04_bad_node_id,
    s05_fingerprint_of_another_identity_key,
    s06_seal_token_length_or_version,
    s07_seal_token_for_another_owner,
    s08_seal_token_for_another_registry_or_node_id,
    s09_set_join_token_issues_token,
    s10_master_cap_of_another_registry_or_revoked,
    s11_envelope_defects,
    s12_version_race_or_leaving_worker_is_skipped,
    s13_activate_worker,
    s14_request_unstake,
    s15_withdraw_stake,
    s16_slash,
    s17_confirm_revoked,
    s18_rotate_seal_token,
    s19_request_join_token,
    s20_admin_needs_this_registrys_admin_cap,
    s21_views,
    s22_envelope_key_cert,
    s23_reregister_after_withdraw,
    s24_rotation_skips_an_envelope_in_flight_to_the_old_key,
    s25_slash_caps_are_listed_issued_and_revoked,
    s26_revoke_grace_is_copied_at_registration,
    s27_the_stake_check_cannot_overflow,
    s28_seal_token_keys_are_checked_as_sui_checks_them,
    s29_a_worker_of_another_registry_is_refused,
    s30_envelopes_shorter_than_131_bytes_abort,
    s31_every_admin_setter_reads_back,
    s32_partial_slash_then_withdraw_pays_exactly_the_remainder,
);
