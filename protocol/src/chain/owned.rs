//! What one account's own transactions told it about its objects, ahead of the reads.
//!
//! On today's Sui a read right after a write may not show it (DESIGN §7). The versions
//! of the objects an account owns — its gas coins, a MasterCap — are therefore taken
//! from the effects of its transactions, never from a read: [`OwnedObjects`] keeps the
//! newest reference each effect gave, the balance of a gas coin when it can be worked
//! out, and the objects a transaction consumed (deleted, wrapped, merged, given away),
//! and lays them over what reads return until the reads catch up.

use std::collections::HashMap;

use super::{ChangeKind, CoinInfo, ExecOutcome, ExecStatus, ObjectInfo, Owner};
use crate::ids::{Address, ObjectId};
use crate::tx::{CallArg, ObjectArg, ObjectDigest, ObjectRef, TransactionData};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    r: ObjectRef,
    /// For a SUI coin whose balance the effects let us work out.
    balance: Option<u64>,
}

/// The objects one account owns, as its own transactions' effects left them.
#[derive(Debug, Clone, Default)]
pub struct OwnedObjects {
    known: HashMap<ObjectId, Known>,
    /// Objects the account's transactions consumed: the version that did it, and
    /// whether it was a gas coin (those leave the coin list once reads catch up).
    gone: HashMap<ObjectId, (u64, bool)>,
}

/// What a signed transaction takes out of its gas coins, for working out the gas
/// coin's balance afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GasPlan {
    /// The balances of all gas coins together before the transaction.
    pub total: u64,
    /// What the commands take from the gas coin on success.
    pub spend: u64,
}

impl OwnedObjects {
    /// The newest reference of `id` the effects gave, while reads may lag behind it.
    pub fn get(&self, id: &ObjectId) -> Option<ObjectRef> {
        self.known.get(id).map(|k| k.r)
    }

    /// Whether a transaction of this account consumed `id` (deleted, wrapped, merged
    /// it, or gave it away).
    pub fn is_gone(&self, id: &ObjectId) -> bool {
        self.gone.contains_key(id)
    }

    /// Forgets `id` (a rejection showed the cache wrong: someone else moved it).
    pub fn forget(&mut self, id: &ObjectId) {
        self.known.remove(id);
        self.gone.remove(id);
    }

    /// Takes in the effects of `tx`, sent by `sender`. Owned objects of `tx` that the
    /// effects do not list (a node that served only the first pages) are forgotten,
    /// so the next use reads them.
    pub(crate) fn learn(
        &mut self,
        sender: Address,
        tx: &TransactionData,
        out: &ExecOutcome,
        plan: Option<GasPlan>,
    ) {
        let v1 = tx.v1();
        let gas_id = v1.gas_data.payment.first().map(|p| p.id);
        let is_gas = |id: &ObjectId| v1.gas_data.payment.iter().any(|p| p.id == *id);
        for c in out.changes.iter().chain(out.gas_object.as_ref()) {
            let mine = c.owner == Some(Owner::Address(sender));
            match (c.kind, mine) {
                (ChangeKind::Created | ChangeKind::Mutated, true) => {
                    self.gone.remove(&c.id);
                    let balance = match (Some(c.id) == gas_id, plan) {
                        (true, Some(p)) => {
                            let spent = if out.status == ExecStatus::Success {
                                p.spend
                            } else {
                                0
                            };
                            let charged = out.gas.computation.saturating_add(out.gas.storage);
                            p.total
                                .saturating_sub(spent)
                                .saturating_add(out.gas.rebate)
                                .checked_sub(charged)
                        }
                        _ => None,
                    };
                    self.known.insert(
                        c.id,
                        Known {
                            r: ObjectRef {
                                id: c.id,
                                version: c.version,
                                digest: ObjectDigest(c.digest),
                            },
                            balance,
                        },
                    );
                }
                _ => {
                    self.known.remove(&c.id);
                    self.gone.insert(c.id, (c.version, is_gas(&c.id)));
                }
            }
        }
        let owned_inputs = v1.gas_data.payment.iter().map(|p| p.id).chain(
            tx.programmable().inputs.iter().filter_map(|i| match i {
                CallArg::Object(ObjectArg::ImmOrOwnedObject(r)) => Some(r.id),
                _ => None,
            }),
        );
        for id in owned_inputs.collect::<Vec<_>>() {
            if out.change(&id).is_none() {
                // Immutable inputs are not written either; forgetting them costs a read.
                self.known.remove(&id);
            }
        }
    }

    /// Lays the cache over a coin list read from the chain: newer versions (and
    /// their worked-out balances) replace lagging ones, consumed coins drop out, a
    /// coin whose newer balance is unknown is left out, and entries the read has
    /// caught up with are dropped.
    pub(crate) fn merge_coins(&mut self, read: Vec<CoinInfo>) -> Vec<CoinInfo> {
        let listed: Vec<ObjectId> = read.iter().map(|c| c.id).collect();
        let mut out = Vec::with_capacity(read.len());
        for c in read {
            if self.gone.get(&c.id).is_some_and(|&(v, _)| c.version < v) {
                continue;
            }
            self.gone.remove(&c.id);
            match self.known.get(&c.id).copied() {
                Some(k) if k.r.version > c.version => {
                    if let Some(balance) = k.balance {
                        out.push(CoinInfo {
                            id: c.id,
                            version: k.r.version,
                            digest: k.r.digest.0,
                            balance,
                        });
                    }
                }
                Some(_) => {
                    self.known.remove(&c.id);
                    out.push(c);
                }
                None => out.push(c),
            }
        }
        // Gas coins the read does not list yet.
        for (id, k) in &self.known {
            if let Some(balance) = k.balance
                && !listed.contains(id)
            {
                out.push(CoinInfo {
                    id: *id,
                    version: k.r.version,
                    digest: k.r.digest.0,
                    balance,
                });
            }
        }
        // A consumed coin the read no longer lists: the read has caught up.
        self.gone
            .retain(|id, (_, coin)| !*coin || listed.contains(id));
        out
    }

    /// Takes in a fresh read of one object: drops what the read has caught up with.
    pub(crate) fn observe_read(&mut self, id: &ObjectId, read: Option<&ObjectInfo>) {
        match read {
            Some(o) => {
                if self.known.get(id).is_some_and(|k| k.r.version <= o.version) {
                    self.known.remove(id);
                }
                if self.gone.get(id).is_some_and(|&(v, _)| o.version >= v) {
                    self.gone.remove(id);
                }
            }
            None => {
                self.known.remove(id);
                self.gone.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{GasCost, ObjectChange};
    use crate::sui::TransactionDigest;
    use crate::tx::{GasData, PtbBuilder};

    const ME: Address = Address::from_u64(0xa);

    fn coin(n: u64, version: u64, balance: u64) -> CoinInfo {
        CoinInfo {
            id: ObjectId::from_u64(n),
            version,
            digest: [n as u8; 32],
            balance,
        }
    }

    fn tx(payment: &[CoinInfo]) -> TransactionData {
        TransactionData::new(
            PtbBuilder::new().finish(),
            ME,
            GasData {
                payment: payment.iter().map(CoinInfo::object_ref).collect(),
                owner: ME,
                price: 1000,
                budget: 5_000_000,
            },
        )
    }

    fn change(n: u64, kind: ChangeKind, version: u64, owner: Option<Owner>) -> ObjectChange {
        ObjectChange {
            id: ObjectId::from_u64(n),
            kind,
            version,
            digest: [version as u8; 32],
            owner,
        }
    }

    #[test]
    fn the_gas_coin_comes_from_the_effects_with_its_balance_worked_out() {
        let mut cache = OwnedObjects::default();
        let (a, b) = (coin(1, 3, 100_000_000), coin(2, 4, 50_000_000));
        let out = ExecOutcome {
            digest: TransactionDigest([1; 32]),
            status: ExecStatus::Success,
            gas: GasCost {
                computation: 1_000_000,
                storage: 2_000_000,
                rebate: 500_000,
                non_refundable: 0,
            },
            changes: vec![change(2, ChangeKind::Deleted, 5, None)],
            gas_object: Some(change(1, ChangeKind::Mutated, 5, Some(Owner::Address(ME)))),
            checkpoint: None,
        };
        cache.learn(
            ME,
            &tx(&[a.clone(), b.clone()]),
            &out,
            Some(GasPlan {
                total: 150_000_000,
                spend: 10_000_000,
            }),
        );
        assert!(cache.is_gone(&b.id), "the merged coin is consumed");
        // a lagging read still lists both coins at their old versions
        let merged = cache.merge_coins(vec![a.clone(), b.clone()]);
        assert_eq!(
            merged,
            vec![CoinInfo {
                id: a.id,
                version: 5,
                digest: [5; 32],
                balance: 150_000_000 - 10_000_000 - 3_000_000 + 500_000,
            }]
        );
        // the read catches up: its figures win and the cache empties
        let fresh = coin(1, 5, 137_500_000);
        assert_eq!(cache.merge_coins(vec![fresh.clone()]), vec![fresh]);
        assert!(cache.get(&a.id).is_none() && !cache.is_gone(&b.id));
    }

    #[test]
    fn an_aborted_transaction_spends_only_gas_and_given_away_objects_are_gone() {
        let mut cache = OwnedObjects::default();
        let a = coin(1, 3, 100_000_000);
        let out = ExecOutcome {
            digest: TransactionDigest([2; 32]),
            status: ExecStatus::MoveAbort {
                code: 1,
                function: None,
                command: Some(1),
            },
            gas: GasCost {
                computation: 1_000_000,
                storage: 1_000_000,
                rebate: 1_000_000,
                non_refundable: 0,
            },
            changes: vec![change(
                9,
                ChangeKind::Mutated,
                4,
                Some(Owner::Address(Address::from_u64(0xb))),
            )],
            gas_object: Some(change(1, ChangeKind::Mutated, 4, Some(Owner::Address(ME)))),
            checkpoint: None,
        };
        cache.learn(
            ME,
            &tx(std::slice::from_ref(&a)),
            &out,
            Some(GasPlan {
                total: 100_000_000,
                spend: 90_000_000,
            }),
        );
        assert_eq!(cache.merge_coins(vec![a])[0].balance, 99_000_000);
        assert!(cache.is_gone(&ObjectId::from_u64(9)));
        assert!(cache.get(&ObjectId::from_u64(9)).is_none());
    }

    #[test]
    fn a_coin_with_an_unknown_newer_balance_is_left_out() {
        let mut cache = OwnedObjects::default();
        let a = coin(1, 3, 100);
        let out = ExecOutcome {
            digest: TransactionDigest([3; 32]),
            status: ExecStatus::Success,
            gas: GasCost::default(),
            changes: vec![],
            gas_object: Some(change(1, ChangeKind::Mutated, 4, Some(Owner::Address(ME)))),
            checkpoint: None,
        };
        // resubmitted bytes: no plan, so no balance
        cache.learn(ME, &tx(std::slice::from_ref(&a)), &out, None);
        assert_eq!(cache.get(&a.id).unwrap().version, 4);
        assert!(cache.merge_coins(vec![a]).is_empty());
    }
}
