//! Signing and submitting programmable transactions: gas coin selection, a budget from
//! a dry run, local signing, execution — and the signed bytes kept so that a caller
//! that crashed can resubmit exactly what it signed (DESIGN §7).

use super::{Chain, ChainError, CoinInfo, ExecOutcome, ExecStatus, Result};
use crate::ids::ObjectId;
use crate::sui::{SuiKeypair, TransactionDigest, UserSignature};
use crate::tx::{GasData, ProgrammableTransaction, TransactionData};

/// Budget for the dry run when the coin can afford it (50 SUI).
const DRY_RUN_BUDGET: u64 = 50_000_000_000;

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
pub struct Submitter<'a, C> {
    chain: &'a C,
    signer: &'a SuiKeypair,
    /// Budget = dry-run gross cost × this percentage / 100 (default 120).
    pub budget_margin_percent: u64,
}

impl<'a, C: Chain> Submitter<'a, C> {
    /// A submitter for `signer`'s account.
    pub fn new(chain: &'a C, signer: &'a SuiKeypair) -> Self {
        Submitter {
            chain,
            signer,
            budget_margin_percent: 120,
        }
    }

    /// The sender's richest SUI coin not used as an input by `pt`.
    async fn gas_coin(&self, pt: &ProgrammableTransaction) -> Result<CoinInfo> {
        use crate::tx::{CallArg, ObjectArg};
        let used: Vec<ObjectId> = pt
            .inputs
            .iter()
            .filter_map(|i| match i {
                CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => Some(r.id),
                _ => None,
            })
            .collect();
        self.chain
            .coins(self.signer.address())
            .await?
            .into_iter()
            .filter(|c| !used.contains(&c.id))
            .max_by_key(|c| c.balance)
            .ok_or_else(|| {
                ChainError::Config(format!(
                    "account {} has no SUI coin to pay gas with: fund it",
                    self.signer.address()
                ))
            })
    }

    /// Picks gas, sizes the budget with a dry run (an aborting dry run still reports
    /// its cost; the abort shows in the executed outcome), and signs.
    pub async fn sign(&self, pt: ProgrammableTransaction) -> Result<SignedTransaction> {
        let price = self.chain.reference_gas_price().await?;
        let coin = self.gas_coin(&pt).await?;
        let sender = self.signer.address();
        let gas = |budget| GasData {
            payment: vec![coin.object_ref()],
            owner: sender,
            price,
            budget,
        };
        let probe = TransactionData::new(pt.clone(), sender, gas(DRY_RUN_BUDGET.min(coin.balance)));
        let dry = self.chain.dry_run(&probe.to_bcs()).await?;
        let budget = (dry.gas.gross() * self.budget_margin_percent / 100)
            .max(price * 1_000)
            .min(coin.balance);
        let tx = TransactionData::new(pt, sender, gas(budget));
        Ok(self.sign_data(&tx))
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
