//! Signing and submitting programmable transactions as today's Sui takes them (DESIGN
//! §7): gas coins chosen to pay what the commands take from the gas coin *plus* the
//! budget (Sui sets the whole budget aside before the first command runs), the budget
//! sized from a dry run made with a budget the account can afford, local signing,
//! execution — and the signed bytes kept so that a caller that crashed can resubmit
//! exactly what it signed.

use super::{Chain, ChainError, CoinInfo, ExecOutcome, ExecStatus, Result, Spend};
use crate::ids::ObjectId;
use crate::sui::{SuiKeypair, TransactionDigest, UserSignature};
use crate::tx::{
    Argument, CallArg, Command, GasData, ObjectArg, ProgrammableTransaction, TransactionData,
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

/// Builds, signs and executes transactions for one account.
pub struct Submitter<C> {
    chain: C,
    signer: SuiKeypair,
    /// Budget = dry-run gross cost × this percentage / 100 (default 120).
    pub budget_margin_percent: u64,
    /// The largest budget a dry run or a transaction gets (default [`MAX_BUDGET`]).
    pub max_budget: u64,
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

/// Whether a failed execution ran out of gas (so its gas figures are not the cost).
fn failed_for_gas(status: &ExecStatus) -> bool {
    matches!(status, ExecStatus::Failure(m) if m.starts_with("InsufficientGas"))
}

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
            signer: signer.clone(),
            budget_margin_percent: 120,
            max_budget: MAX_BUDGET,
        }
    }

    /// The chain client.
    pub fn chain(&self) -> &C {
        &self.chain
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
        let mut coins: Vec<CoinInfo> = self
            .chain
            .coins(self.signer.address())
            .await?
            .into_iter()
            .filter(|c| !used.contains(&c.id))
            .collect();
        coins.sort_by(|a, b| b.balance.cmp(&a.balance).then(a.id.cmp(&b.id)));
        Ok(coins)
    }

    /// Signs `pt`, which takes from the gas coin what [`gas_coin_spend`] reads off it.
    pub async fn sign(&self, pt: ProgrammableTransaction) -> Result<SignedTransaction> {
        let amount = gas_coin_spend(&pt).ok_or_else(|| {
            ChainError::Config(
                "the transaction uses the gas coin in a way whose cost cannot be read off it: give the amount with `Submitter::sign_with`".into(),
            )
        })?;
        self.sign_with(pt, Spend::new(amount)).await
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
        let price = self.chain.reference_gas_price().await?;
        let coins = self.gas_coins(&pt).await?;
        let sender = self.signer.address();
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
        if failed_for_gas(&dry.status) {
            if probe_budget < cap {
                return Err(short(probe_sum, probe_coins.len(), probe_budget + 1, false));
            }
            return Err(ChainError::Config(format!(
                "the transaction runs out of gas at the largest budget ({}): split it into smaller transactions",
                super::fmt_sui(cap)
            )));
        }
        if let ExecStatus::Failure(m) = &dry.status
            && m.starts_with("InsufficientCoinBalance")
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
        Ok(self.sign_data(&data(&pay, budget)))
    }

    /// Signs fully built transaction data.
    pub fn sign_data(&self, tx: &TransactionData) -> SignedTransaction {
        let tx_bytes = tx.to_bcs();
        SignedTransaction {
            signature: self.signer.sign_transaction(&tx_bytes),
            digest: TransactionDigest::of_transaction(&tx_bytes),
            tx_bytes,
        }
    }

    /// Executes a signed transaction (again, after a crash: same bytes, same digest).
    pub async fn execute(&self, signed: &SignedTransaction) -> Result<ExecOutcome> {
        let out = self
            .chain
            .execute(&signed.tx_bytes, std::slice::from_ref(&signed.signature))
            .await?;
        if out.digest != signed.digest {
            return Err(ChainError::Malformed {
                endpoint: self.chain.describe(),
                what: format!(
                    "executed {} but the node reports digest {}",
                    signed.digest, out.digest
                ),
            });
        }
        Ok(out)
    }

    /// Signs and executes.
    pub async fn submit(&self, pt: ProgrammableTransaction) -> Result<ExecOutcome> {
        let signed = self.sign(pt).await?;
        self.execute(&signed).await
    }

    /// Signs with an explicit spend and executes.
    pub async fn submit_with(
        &self,
        pt: ProgrammableTransaction,
        spend: Spend,
    ) -> Result<ExecOutcome> {
        let signed = self.sign_with(pt, spend).await?;
        self.execute(&signed).await
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
