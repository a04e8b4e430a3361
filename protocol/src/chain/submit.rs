//! Signing and submitting programmable transactions as today's Sui takes them (DESIGN
//! §7): gas coins chosen to pay what the commands take from the gas coin *plus* the
//! budget (Sui sets the whole budget aside before the first command runs), the budget
//! sized from a dry run made with a budget the account can afford, local signing,
//! execution without `WaitForLocalExecution`, the new versions of the account's
//! objects taken from the effects ([`OwnedObjects`]), a stale-object refusal retried
//! once the transaction that consumed the object is visible — and the signed bytes
//! kept so that a caller that crashed can resubmit exactly what it signed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::owned::{GasPlan, OwnedObjects};
use super::{
    Chain, ChainError, CoinInfo, ExecOutcome, ExecStatus, Owner, RejectKind, Result, Spend,
};
use crate::ids::ObjectId;
use crate::sui::{SuiKeypair, TransactionDigest, UserSignature};
use crate::tx::{
    Argument, CallArg, Command, GasData, ObjectArg, ObjectRef, ProgrammableTransaction,
    TransactionData,
};

/// Sui's largest gas budget (`max_tx_gas` in its protocol config: 50 SUI).
pub const MAX_BUDGET: u64 = 50_000_000_000;
/// Sui's smallest budget, in units of the gas price (`base_tx_cost_fixed`).
pub const MIN_BUDGET_UNITS: u64 = 1_000;
/// Most coins one transaction may pay gas with (`max_gas_payment_objects`).
pub const MAX_GAS_COINS: usize = 256;

/// A signed transaction, ready to (re)submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTransaction {
    /// BCS TransactionData.
    pub tx_bytes: Vec<u8>,
    /// The sender's signature.
    pub signature: UserSignature,
    /// The digest.
    pub digest: TransactionDigest,
}

/// Builds, signs and executes transactions for one account. Keep one per account for
/// as long as it sends: it remembers what its transactions' effects said about the
/// account's objects, so back-to-back transactions do not wait for reads to catch up.
/// Made with [`Submitter::for_sender`], it only builds them, for a signer that is not
/// at hand (a cold wallet, a multisig address).
pub struct Submitter<C> {
    chain: C,
    sender: crate::ids::Address,
    signer: Option<SuiKeypair>,
    owned: Mutex<OwnedObjects>,
    plans: Mutex<HashMap<TransactionDigest, GasPlan>>,
    /// Budget = dry-run gross cost × this percentage / 100 (default 120).
    pub budget_margin_percent: u64,
    /// The largest budget a dry run or a transaction gets (default [`MAX_BUDGET`]).
    pub max_budget: u64,
    /// How often [`Submitter::submit`] rebuilds after a stale-object refusal (default 2).
    pub stale_retries: u32,
    /// How long it waits for the transaction that consumed a stale object to become
    /// visible to reads (default 30 s).
    pub stale_wait: Duration,
}

/// What `pt` takes from the gas coin: the sum of the pure `u64` amounts it splits off
/// `GasCoin`. `None` when it uses the gas coin in a way whose cost cannot be read off
/// the transaction (a transfer of the gas coin, a Move call taking it, an amount that
/// is the result of another command): pass the amount with [`Submitter::sign_with`].
pub fn gas_coin_spend(pt: &ProgrammableTransaction) -> Option<u64> {
    let pure_u64 = |a: &Argument| match a {
        Argument::Input(i) => match pt.inputs.get(*i as usize) {
            Some(CallArg::Pure(b)) => <[u8; 8]>::try_from(b.as_slice())
                .ok()
                .map(u64::from_le_bytes),
            _ => None,
        },
        _ => None,
    };
    let mut total = 0u64;
    for c in &pt.commands {
        match c {
            Command::SplitCoins(Argument::GasCoin, amounts) => {
                for a in amounts {
                    total = total.checked_add(pure_u64(a)?)?;
                }
            }
            // Merging other coins into the gas coin only adds to it.
            Command::MergeCoins(Argument::GasCoin, from) if !from.contains(&Argument::GasCoin) => {}
            Command::SplitCoins(_, args)
            | Command::MergeCoins(_, args)
            | Command::MakeMoveVec(_, args) => {
                if args.contains(&Argument::GasCoin) {
                    return None;
                }
            }
            Command::TransferObjects(objs, to) => {
                if objs.contains(&Argument::GasCoin) || *to == Argument::GasCoin {
                    return None;
                }
            }
            Command::MoveCall(call) => {
                if call.arguments.contains(&Argument::GasCoin) {
                    return None;
                }
            }
            Command::Publish(..) => {}
            Command::Upgrade(_, _, _, ticket) => {
                if *ticket == Argument::GasCoin {
                    return None;
                }
            }
        }
    }
    Some(total)
}

/// [`gas_coin_spend`] as a [`Spend`], or an error saying how to give it.
fn read_spend(pt: &ProgrammableTransaction) -> Result<Spend> {
    gas_coin_spend(pt).map(Spend::new).ok_or_else(|| {
        ChainError::Config(
            "the transaction uses the gas coin in a way whose cost cannot be read off it: give the amount with `Submitter::sign_with` or `submit_with`".into(),
        )
    })
}

/// Signed transactions whose gas plan is kept for their execution, at most.
const MAX_PLANS: usize = 1024;

/// The shortest prefix of `coins` (richest first) holding at least `need`, or all of
/// them (at most [`MAX_GAS_COINS`]) when none does.
fn pick(coins: &[CoinInfo], need: u64) -> (Vec<&CoinInfo>, u64) {
    let mut out = Vec::new();
    let mut sum = 0u64;
    for c in coins.iter().take(MAX_GAS_COINS) {
        if sum >= need && !out.is_empty() {
            break;
        }
        sum = sum.saturating_add(c.balance);
        out.push(c);
    }
    (out, sum)
}

impl<C: Chain> Submitter<C> {
    /// A submitter for `signer`'s account (pass `&client` to share a client).
    pub fn new(chain: C, signer: &SuiKeypair) -> Self {
        Submitter {
            chain,
            sender: signer.address(),
            signer: Some(signer.clone()),
            owned: Mutex::new(OwnedObjects::default()),
            plans: Mutex::new(HashMap::new()),
            budget_margin_percent: 120,
            max_budget: MAX_BUDGET,
            stale_retries: 2,
            stale_wait: Duration::from_secs(30),
        }
    }

    /// A submitter that builds transactions for `sender` without its key (a cold
    /// wallet or a multisig address): [`Self::prepare_with`] gives the unsigned
    /// `TransactionData`; [`Self::sign_with`] refuses and [`Self::sign_data`] panics.
    pub fn for_sender(chain: C, sender: crate::ids::Address) -> Self {
        Submitter {
            chain,
            sender,
            signer: None,
            owned: Mutex::new(OwnedObjects::default()),
            plans: Mutex::new(HashMap::new()),
            budget_margin_percent: 120,
            max_budget: MAX_BUDGET,
            stale_retries: 2,
            stale_wait: Duration::from_secs(30),
        }
    }

    /// The chain client.
    pub fn chain(&self) -> &C {
        &self.chain
    }

    /// The sending account.
    pub fn address(&self) -> crate::ids::Address {
        self.sender
    }

    /// What this submitter's transactions told it about the account's objects.
    pub fn owned(&self) -> OwnedObjects {
        self.owned.lock().expect("poisoned").clone()
    }

    /// The current reference of an object the account owns (a cap, a coin): from the
    /// effects of this submitter's last transaction that wrote it, else from a read.
    /// An error if the account does not own it.
    pub async fn object_ref(&self, id: ObjectId) -> Result<ObjectRef> {
        let (known, gone) = {
            let owned = self.owned.lock().expect("poisoned");
            (owned.get(&id), owned.is_gone(&id))
        };
        if let Some(r) = known {
            return Ok(r);
        }
        let not_owned = |why: String| {
            ChainError::Config(format!(
                "object {id} is not owned by {} ({why}): pass an object this account owns",
                self.address()
            ))
        };
        if gone {
            return Err(not_owned(
                "a transaction of this account consumed or gave it away".into(),
            ));
        }
        let read = self.chain.object(id).await?;
        self.owned
            .lock()
            .expect("poisoned")
            .observe_read(&id, read.as_ref());
        match read {
            Some(o) if o.owner == Owner::Address(self.address()) => Ok(o.object_ref()),
            Some(o) => Err(not_owned(format!("its owner is {:?}", o.owner))),
            None => Err(not_owned("it does not exist".into())),
        }
    }

    /// The sender's SUI coins that `pt` does not use as inputs, richest first.
    async fn gas_coins(&self, pt: &ProgrammableTransaction) -> Result<Vec<CoinInfo>> {
        let used: Vec<ObjectId> = pt
            .inputs
            .iter()
            .filter_map(|i| match i {
                CallArg::Object(ObjectArg::ImmOrOwnedObject(r) | ObjectArg::Receiving(r)) => {
                    Some(r.id)
                }
                _ => None,
            })
            .collect();
        let read = self.chain.coins(self.sender).await?;
        let mut coins: Vec<CoinInfo> = self
            .owned
            .lock()
            .expect("poisoned")
            .merge_coins(read)
            .into_iter()
            .filter(|c| !used.contains(&c.id))
            .collect();
        coins.sort_by(|a, b| b.balance.cmp(&a.balance).then(a.id.cmp(&b.id)));
        Ok(coins)
    }

    /// Signs `pt`, which takes from the gas coin what [`gas_coin_spend`] reads off it.
    pub async fn sign(&self, pt: ProgrammableTransaction) -> Result<SignedTransaction> {
        let spend = read_spend(&pt)?;
        self.sign_with(pt, spend).await
    }

    /// Picks gas coins that pay `spend` plus the budget, sizes the budget with a dry
    /// run the account can afford (budget = min(balance − spend, max budget)), and
    /// signs. A dry run that ran out of gas is never trusted; one that aborted still
    /// reports its cost (the abort shows again when the transaction executes).
    pub async fn sign_with(
        &self,
        pt: ProgrammableTransaction,
        spend: Spend,
    ) -> Result<SignedTransaction> {
        if self.signer.is_none() {
            return Err(ChainError::Config(format!(
                "no key for {}: this submitter only prepares unsigned transactions",
                self.sender
            )));
        }
        let (data, total) = self.plan(pt, &spend).await?;
        let signed = self.sign_data(&data);
        let mut plans = self.plans.lock().expect("poisoned");
        if plans.len() >= MAX_PLANS {
            // signed and never executed here: their coins are read again instead
            plans.clear();
        }
        plans.insert(
            signed.digest,
            GasPlan {
                total,
                spend: spend.amount,
            },
        );
        Ok(signed)
    }

    /// What [`Self::sign_with`] would sign — the transaction with its gas coins and
    /// budget — unsigned, for a signer that is not at hand.
    pub async fn prepare_with(
        &self,
        pt: ProgrammableTransaction,
        spend: Spend,
    ) -> Result<TransactionData> {
        Ok(self.plan(pt, &spend).await?.0)
    }

    /// Gas coins and budget for `pt`; returns the data and the gas coins' total.
    async fn plan(
        &self,
        pt: ProgrammableTransaction,
        spend: &Spend,
    ) -> Result<(TransactionData, u64)> {
        let price = self.chain.reference_gas_price().await?;
        let coins = self.gas_coins(&pt).await?;
        let sender = self.sender;
        let min_budget = price.saturating_mul(MIN_BUDGET_UNITS);
        let cap = self.max_budget.max(min_budget);
        let short = |balance: u64, coins: usize, gas: u64, gas_is_estimate: bool| {
            ChainError::InsufficientFunds {
                account: sender,
                balance,
                coins,
                spend: spend.clone(),
                gas,
                gas_is_estimate,
            }
        };
        let data = |payment: &[&CoinInfo], budget: u64| {
            TransactionData::new(
                pt.clone(),
                sender,
                GasData {
                    payment: payment.iter().map(|c| c.object_ref()).collect(),
                    owner: sender,
                    price,
                    budget,
                },
            )
        };

        let (probe_coins, probe_sum) = pick(&coins, spend.amount.saturating_add(cap));
        if probe_sum < spend.amount.saturating_add(min_budget) {
            return Err(short(probe_sum, probe_coins.len(), min_budget, false));
        }
        let probe_budget = (probe_sum - spend.amount).min(cap);
        let dry = self
            .chain
            .dry_run(&data(&probe_coins, probe_budget).to_bcs())
            .await?;
        if dry.status.ran_out_of_gas() {
            if probe_budget < cap {
                return Err(short(probe_sum, probe_coins.len(), probe_budget + 1, false));
            }
            return Err(ChainError::Config(format!(
                "the transaction runs out of gas at the largest budget ({}): split it into smaller transactions",
                super::fmt_sui(cap)
            )));
        }
        if let ExecStatus::Failure(m) = &dry.status
            && dry.status.is_insufficient_coin_balance()
        {
            return Err(ChainError::Config(format!(
                "the dry run failed with {m}: the transaction takes more from the gas coin than the {} declared",
                super::fmt_sui(spend.amount)
            )));
        }
        let budget = (dry.gas.gross().saturating_mul(self.budget_margin_percent) / 100)
            .clamp(min_budget, cap);
        let (pay, sum) = pick(&coins, spend.amount.saturating_add(budget));
        if sum < spend.amount.saturating_add(budget) {
            return Err(short(sum, pay.len(), budget, true));
        }
        Ok((data(&pay, budget), sum))
    }

    /// Signs fully built transaction data. Panics on a [`Self::for_sender`] submitter,
    /// which holds no key.
    pub fn sign_data(&self, tx: &TransactionData) -> SignedTransaction {
        let tx_bytes = tx.to_bcs();
        let signer = self
            .signer
            .as_ref()
            .expect("a Submitter::for_sender has no key: use prepare_with");
        SignedTransaction {
            signature: signer.sign_transaction(&tx_bytes),
            digest: TransactionDigest::of_transaction(&tx_bytes),
            tx_bytes,
        }
    }

    /// Executes a signed transaction (again, after a crash: same bytes, same digest)
    /// and takes the new versions of the account's objects from its effects.
    pub async fn execute(&self, signed: &SignedTransaction) -> Result<ExecOutcome> {
        let tx = TransactionData::from_bcs(&signed.tx_bytes)
            .map_err(|e| ChainError::Config(format!("signed transaction: {e}")))?;
        let out = match self
            .chain
            .execute(&signed.tx_bytes, std::slice::from_ref(&signed.signature))
            .await
        {
            Ok(out) => out,
            Err(e) => {
                if !e.is_retryable() {
                    // refused for good: these bytes will not execute
                    self.plans.lock().expect("poisoned").remove(&signed.digest);
                }
                return Err(e);
            }
        };
        if out.digest != signed.digest {
            return Err(ChainError::Malformed {
                endpoint: self.chain.describe(),
                what: format!(
                    "executed {} but the node reports digest {}",
                    signed.digest, out.digest
                ),
            });
        }
        let plan = self.plans.lock().expect("poisoned").remove(&signed.digest);
        self.owned
            .lock()
            .expect("poisoned")
            .learn(tx.v1().sender, &tx, &out, plan);
        Ok(out)
    }

    /// Signs (the spend read off `pt`) and executes, rebuilding after a stale-object
    /// refusal (see [`Submitter::submit_with`]).
    pub async fn submit(&self, pt: ProgrammableTransaction) -> Result<ExecOutcome> {
        let spend = read_spend(&pt)?;
        self.submit_with(pt, spend).await
    }

    /// Signs with an explicit spend and executes. When a node refuses it because an
    /// owned object (a gas coin, a cap) was already consumed — another process with
    /// the same key, or effects this submitter never saw — it waits (at most
    /// [`Submitter::stale_wait`]) until reads show the object past the version the
    /// refusal names, i.e. the consuming transaction is visible, then rebuilds with
    /// the fresh reference: at most [`Submitter::stale_retries`] times, never blindly.
    pub async fn submit_with(
        &self,
        mut pt: ProgrammableTransaction,
        spend: Spend,
    ) -> Result<ExecOutcome> {
        let mut attempt = 0;
        loop {
            let (err, tx) = match self.sign_with(pt.clone(), spend.clone()).await {
                Err(e) => (e, None),
                Ok(signed) => match self.execute(&signed).await {
                    Ok(out) => return Ok(out),
                    Err(e) => (e, TransactionData::from_bcs(&signed.tx_bytes).ok()),
                },
            };
            let Some(RejectKind::StaleObject {
                object: Some(id),
                given,
                current,
            }) = err.reject_kind().cloned()
            else {
                return Err(err);
            };
            if attempt >= self.stale_retries {
                return Err(err);
            }
            attempt += 1;
            let given = given.or_else(|| tx.as_ref().and_then(|t| version_in(t, &id)));
            tracing::info!(object = %id, ?given, ?current, attempt, "object already consumed: waiting for the consuming transaction, then rebuilding");
            let fresh = self.wait_past(id, given, current).await?;
            if let Some(fresh) = fresh {
                replace_input(&mut pt, fresh);
            }
        }
    }

    /// Waits until reads show `id` past `given` (at `current` or later, when known),
    /// drops what this submitter cached about it, and returns the fresh reference if
    /// the account still owns it.
    async fn wait_past(
        &self,
        id: ObjectId,
        given: Option<u64>,
        current: Option<u64>,
    ) -> Result<Option<ObjectRef>> {
        let need = current.or(given.map(|g| g + 1)).unwrap_or(0);
        let deadline = tokio::time::Instant::now() + self.stale_wait;
        let mut poll = super::POLL_START;
        self.owned.lock().expect("poisoned").forget(&id);
        loop {
            match self.chain.object(id).await {
                // deleted or wrapped by the consuming transaction (an object this
                // account had never reads as absent, even on a lagging node)
                Ok(None) => {
                    self.owned.lock().expect("poisoned").observe_read(&id, None);
                    return Ok(None);
                }
                Ok(Some(o)) if o.version >= need => {
                    self.owned
                        .lock()
                        .expect("poisoned")
                        .observe_read(&id, Some(&o));
                    return Ok((o.owner == Owner::Address(self.address())).then(|| o.object_ref()));
                }
                Ok(Some(_)) => {}
                // a lagging endpoint behind one already read, or none answering: poll on
                Err(e) if e.is_retryable() => {
                    tracing::debug!(object = %id, error = %e, "re-reading a stale object");
                }
                Err(e) => return Err(e),
            }
            if tokio::time::Instant::now() + poll > deadline {
                return Err(ChainError::Unavailable {
                    endpoint: self.chain.describe(),
                    reason: format!(
                        "object {id} was refused as already consumed (current version {}), but reads did not show it past version {} within {} s",
                        current.map_or("unknown".into(), |c| c.to_string()),
                        given.map_or("unknown".into(), |g| g.to_string()),
                        self.stale_wait.as_secs()
                    ),
                });
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(super::POLL_MAX);
        }
    }
}

/// The version at which `tx` used `id` (as a gas coin or an owned input).
fn version_in(tx: &TransactionData, id: &ObjectId) -> Option<u64> {
    let v1 = tx.v1();
    v1.gas_data
        .payment
        .iter()
        .copied()
        .chain(tx.programmable().inputs.iter().filter_map(|i| match i {
            CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => Some(*r),
            _ => None,
        }))
        .find(|r| r.id == *id)
        .map(|r| r.version)
}

/// Puts `fresh` in place of the owned input with its id, if `pt` has one.
fn replace_input(pt: &mut ProgrammableTransaction, fresh: ObjectRef) {
    for i in &mut pt.inputs {
        if let CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) = i
            && r.id == fresh.id
        {
            *r = fresh;
        }
    }
}

impl ExecOutcome {
    /// The abort code, if the transaction aborted.
    pub fn abort_code(&self) -> Option<u64> {
        match self.status {
            ExecStatus::MoveAbort { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether it succeeded.
    pub fn is_success(&self) -> bool {
        self.status == ExecStatus::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Address;
    use crate::tx::PtbBuilder;

    #[test]
    fn the_spend_is_read_off_gas_coin_splits() {
        let mut b = PtbBuilder::new();
        b.split_coins(Argument::GasCoin, &[5, 7]);
        let c = b.split_coins(Argument::GasCoin, &[11])[0];
        b.transfer_objects(vec![c], Address::from_u64(1));
        assert_eq!(gas_coin_spend(&b.finish()), Some(23));

        let mut b = PtbBuilder::new();
        b.transfer_objects(vec![Argument::GasCoin], Address::from_u64(1));
        assert_eq!(
            gas_coin_spend(&b.finish()),
            None,
            "the whole gas coin moves"
        );

        let mut b = PtbBuilder::new();
        let r = b.split_coins(Argument::GasCoin, &[1])[0];
        b.command(Command::SplitCoins(Argument::GasCoin, vec![r]));
        assert_eq!(gas_coin_spend(&b.finish()), None, "an amount from a result");
        assert_eq!(gas_coin_spend(&PtbBuilder::new().finish()), Some(0));
    }

    #[test]
    fn coins_are_picked_richest_first_until_the_need_is_met() {
        let coin = |n: u64, balance| CoinInfo {
            id: ObjectId::from_u64(n),
            version: 1,
            digest: [0; 32],
            balance,
        };
        let coins = vec![coin(1, 50), coin(2, 30), coin(3, 20)];
        let (p, s) = pick(&coins, 60);
        assert_eq!((p.len(), s), (2, 80));
        let (p, s) = pick(&coins, 500);
        assert_eq!((p.len(), s), (3, 100));
        let (p, s) = pick(&coins, 0);
        assert_eq!((p.len(), s), (1, 50), "gas needs one coin even for nothing");
        let many: Vec<CoinInfo> = (0..300).map(|n| coin(n, 1)).collect();
        assert_eq!(pick(&many, 1_000).0.len(), MAX_GAS_COINS);
    }
}
