//! What to do with one worker, given its row, a fresh quorum read of its Worker object
//! and the bootstrap tokens labelled for it — a pure function, so the exactly-once
//! rules are tested without a chain or a cluster.
//!
//! The rules rest on one invariant the master keeps: **at most one token Secret per
//! (worker, token_version)**. The envelope on chain with version `v` therefore always
//! carries the token of the Secret labelled `v`, whichever master (or incarnation of
//! one, before a crash or a lost database) sealed it. So:
//! - a Secret labelled with the live envelope's version of a TokenIssued worker is the
//!   live token; every other labelled Secret of that worker is superseded and deleted;
//! - to issue version `v`, an existing Secret labelled `v` is reused, never a second
//!   one created;
//! - an issue is done when the chain shows the envelope of version `v`, whatever
//!   happened to the process or its database in between.

use daas_protocol::envelope::EnvelopeHeader;
use daas_protocol::onchain::{Worker, WorkerStatus};

use crate::db::{Stage, WorkerRow};
use crate::k8s::TokenInfo;

/// Safety margin before `unlock_at + revoke_grace`: past it a worker is left out of
/// batches (its owner may withdraw it before the transaction runs, which would fail
/// the whole transaction with `InputObjectDeleted`).
pub const GRACE_MARGIN_MS: u64 = 10 * 60 * 1000;

/// Calls of one issue that may abort before the worker is refused.
pub const MAX_FAILURES: u32 = 3;

/// A quorum read of a Worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Object version.
    pub version: u64,
    /// Initial shared version.
    pub isv: u64,
    /// Contents.
    pub worker: Worker,
}

/// What the endpoints agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // short-lived, one per quorum read; boxing buys nothing
pub enum Read {
    /// The Worker does not exist (withdrawn, or never existed).
    Gone,
    /// The Worker.
    Worker(Observed),
}

/// Where the batch carrying the row's call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    /// No batch: the call waits for one.
    Queued,
    /// Signed and stored, outcome unknown.
    InFlight,
    /// Executed (successfully or not) or dropped.
    Settled,
}

/// The rest of what a decision needs.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// Now (ms).
    pub now_ms: u64,
    /// This master's registry.
    pub registry_id: daas_protocol::ObjectId,
    /// The bootstrap tokens labelled for this worker (annotation `worker-id`).
    pub tokens: &'a [TokenInfo],
    /// The seal-token check (`Err` says why it fails).
    pub seal_check: Result<(), String>,
    /// The batch of the row's call.
    pub batch: BatchStatus,
    /// A token labelled with a version the chain has not reached is kept this long
    /// after its creation (ms): another master may be sealing it right now (with
    /// `[ha]`, the renew deadline; 0 without).
    pub orphan_grace_ms: u64,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing now.
    Keep,
    /// The read does not yet show our own last transaction: read again later.
    Retry,
    /// Refuse the worker until it changes on chain.
    Refuse(String),
    /// Issue token version `version`: reuse the Secret `reuse` if given.
    Mint {
        /// The envelope's token_version.
        version: u64,
        /// An existing Secret labelled `version` for this worker.
        reuse: Option<String>,
        /// A rotation of an Active worker.
        rotation: bool,
        /// A re-issue of an expired, unused envelope.
        reissue: bool,
    },
    /// The stored envelope goes into another batch (its transaction had no effect).
    Requeue,
    /// The envelope of `version` is live; its token is `token_id`.
    Issued {
        /// The live version.
        version: u64,
        /// Its token, if it exists in the cluster.
        token_id: Option<String>,
        /// Its expiry.
        expires_at_ms: u64,
        /// A rotation of an Active worker.
        rotation: bool,
    },
    /// Active on chain.
    Active,
    /// Tear down the cluster side; `confirm` = then call `confirm_revoked`.
    Revoke {
        /// Call `confirm_revoked` after the teardown.
        confirm: bool,
    },
    /// Nothing left to do.
    Revoked,
}

/// A decision: the plan and the tokens of this worker to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The plan.
    pub plan: Plan,
    /// Token ids to delete (superseded, orphaned, used, or expired).
    pub delete: Vec<String>,
    /// A note for the row (shown in `/api/workers`).
    pub note: Option<String>,
}

impl Decision {
    fn new(plan: Plan) -> Self {
        Decision {
            plan,
            delete: Vec::new(),
            note: None,
        }
    }

    fn deleting(mut self, tokens: &[TokenInfo], keep: &[u64]) -> Self {
        self.delete = tokens
            .iter()
            .filter(|t| !keep.contains(&t.version))
            .map(|t| t.token_id.clone())
            .collect();
        self
    }

    fn noting(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

fn token_for(tokens: &[TokenInfo], version: u64) -> Option<&TokenInfo> {
    tokens.iter().find(|t| t.version == version)
}

/// Whether the row is issuing `version` (minting, waiting for a batch, or in one).
fn issuing(row: &WorkerRow, version: u64) -> bool {
    row.version == Some(version)
        && matches!(row.stage, Stage::Minting | Stage::Minted | Stage::Submitted)
}

/// The plan while `version` is being issued: wait, or hand the envelope to another
/// batch when its transaction settled without storing it.
fn continue_issue(row: &WorkerRow, f: &Facts<'_>) -> Plan {
    match (row.stage, f.batch) {
        (Stage::Submitted, BatchStatus::Settled) => Plan::Requeue,
        _ => Plan::Keep,
    }
}

/// Decides what to do with `row` given `read` (see the module docs). A token for a
/// version the chain has not reached yet, younger than [`Facts::orphan_grace_ms`], is
/// never deleted while the worker can still take an envelope: after a takeover the
/// old leader may be sealing it in its last moments; once older it is an orphan.
pub fn decide(row: &WorkerRow, read: &Read, f: &Facts<'_>) -> Decision {
    let mut d = decide_tokens(row, read, f);
    if let Read::Worker(o) = read
        && matches!(
            o.worker.status(),
            Ok(WorkerStatus::Pending | WorkerStatus::TokenIssued | WorkerStatus::Active)
        )
    {
        let tv = o.worker.token_version;
        d.delete.retain(|id| {
            f.tokens.iter().find(|t| &t.token_id == id).is_none_or(|t| {
                t.version <= tv
                    || t.created_ms
                        .is_none_or(|c| f.now_ms >= c.saturating_add(f.orphan_grace_ms))
            })
        });
    }
    d
}

fn decide_tokens(row: &WorkerRow, read: &Read, f: &Facts<'_>) -> Decision {
    let o = match read {
        Read::Gone => {
            if row.stage == Stage::Revoked {
                return Decision::new(Plan::Keep).deleting(f.tokens, &[]);
            }
            return Decision::new(Plan::Revoke { confirm: false })
                .deleting(f.tokens, &[])
                .noting("the Worker no longer exists on chain (withdrawn)");
        }
        Read::Worker(o) => o,
    };
    if o.version <= row.min_version {
        return Decision::new(Plan::Retry);
    }
    let w = &o.worker;
    if w.registry_id != f.registry_id {
        return Decision::new(Plan::Refuse(format!(
            "the Worker belongs to registry {}, not this master's",
            w.registry_id
        )));
    }
    let Ok(status) = w.status() else {
        return Decision::new(Plan::Refuse(format!(
            "unknown status byte {}: upgrade daas-master",
            w.status
        )));
    };
    let tv = w.token_version;
    let live = EnvelopeHeader::parse(&w.join_envelope)
        .ok()
        .map(|h| (h.token_version, h.expires_at_ms));
    let failed_too_often = row.failures >= MAX_FAILURES;
    match status {
        WorkerStatus::Pending => {
            if let Err(why) = &f.seal_check {
                return Decision::new(Plan::Refuse(why.clone())).deleting(f.tokens, &[]);
            }
            if failed_too_often {
                return Decision::new(Plan::Refuse(format!(
                    "set_join_token aborted {} times: {}",
                    row.failures,
                    row.note.clone().unwrap_or_default()
                )));
            }
            let v = tv + 1;
            if issuing(row, v) {
                return Decision::new(continue_issue(row, f)).deleting(f.tokens, &[v]);
            }
            Decision::new(Plan::Mint {
                version: v,
                reuse: token_for(f.tokens, v).map(|t| t.token_id.clone()),
                rotation: false,
                reissue: false,
            })
            .deleting(f.tokens, &[v])
        }
        WorkerStatus::TokenIssued => {
            let Some((ev, expires_at_ms)) = live.filter(|(ev, _)| *ev == tv) else {
                // TokenIssued always carries the envelope of token_version; anything
                // else is repaired with a fresh issue.
                let v = tv + 1;
                if issuing(row, v) {
                    return Decision::new(continue_issue(row, f)).deleting(f.tokens, &[v]);
                }
                return Decision::new(Plan::Mint {
                    version: v,
                    reuse: token_for(f.tokens, v).map(|t| t.token_id.clone()),
                    rotation: false,
                    reissue: false,
                })
                .deleting(f.tokens, &[v])
                .noting("TokenIssued without an envelope of its token_version");
            };
            if issuing(row, ev + 1) {
                // A re-issue in flight: the old envelope stays live until it lands.
                return Decision::new(continue_issue(row, f)).deleting(f.tokens, &[ev, ev + 1]);
            }
            if row.stage == Stage::Activating
                && row.version == Some(ev)
                && f.batch != BatchStatus::Settled
            {
                return Decision::new(Plan::Keep).deleting(f.tokens, &[ev]);
            }
            let expired = f.now_ms >= expires_at_ms;
            let token = token_for(f.tokens, ev);
            if expired {
                if row.reissued == 0 {
                    return Decision::new(Plan::Mint {
                        version: ev + 1,
                        reuse: token_for(f.tokens, ev + 1).map(|t| t.token_id.clone()),
                        rotation: false,
                        reissue: true,
                    })
                    .deleting(f.tokens, &[ev + 1])
                    .noting("the envelope expired unused: re-issued once");
                }
                return Decision::new(Plan::Keep).deleting(f.tokens, &[]).noting(
                    "the re-issued envelope expired unused: the owner asks again with request_join_token",
                );
            }
            match token {
                Some(t) => Decision::new(Plan::Issued {
                    version: ev,
                    token_id: Some(t.token_id.clone()),
                    expires_at_ms,
                    rotation: false,
                })
                .deleting(f.tokens, &[ev]),
                None if row.reissued == 0 => Decision::new(Plan::Mint {
                    version: ev + 1,
                    reuse: token_for(f.tokens, ev + 1).map(|t| t.token_id.clone()),
                    rotation: false,
                    reissue: true,
                })
                .deleting(f.tokens, &[ev + 1])
                .noting("the live envelope's token is missing from the cluster: re-issued"),
                None => Decision::new(Plan::Keep).deleting(f.tokens, &[]).noting(
                    "the live envelope's token is missing from the cluster: the owner asks again with request_join_token",
                ),
            }
        }
        WorkerStatus::Active => {
            let v = tv + 1;
            if row.rotation && issuing(row, v) {
                return Decision::new(continue_issue(row, f)).deleting(f.tokens, &[v]);
            }
            if row.rotation && row.stage == Stage::Seen {
                if let Err(why) = &f.seal_check {
                    return Decision::new(Plan::Refuse(why.clone()));
                }
                return Decision::new(Plan::Mint {
                    version: v,
                    reuse: token_for(f.tokens, v).map(|t| t.token_id.clone()),
                    rotation: true,
                    reissue: false,
                })
                .deleting(f.tokens, &[v]);
            }
            // A rotation whose envelope is live and unexpired keeps its token until
            // the Node is Ready again (or the token expires). A database rebuilt
            // from the cluster finds such a token by its label.
            if let Some((ev, exp)) = live.filter(|(ev, _)| *ev == tv)
                && f.now_ms < exp
                && let Some(t) = token_for(f.tokens, ev)
                && (row.rotation || row.stage == Stage::Seen)
                && !matches!(row.stage, Stage::Activating)
            {
                return Decision::new(Plan::Issued {
                    version: ev,
                    token_id: Some(t.token_id.clone()),
                    expires_at_ms: exp,
                    rotation: true,
                })
                .deleting(f.tokens, &[ev]);
            }
            Decision::new(Plan::Active).deleting(f.tokens, &[])
        }
        WorkerStatus::Leaving | WorkerStatus::Slashed => {
            if row.stage == Stage::Confirming && f.batch != BatchStatus::Settled {
                return Decision::new(Plan::Keep).deleting(f.tokens, &[]);
            }
            let deadline = w.unlock_at_ms.saturating_add(w.revoke_grace_ms);
            let confirm = f.now_ms.saturating_add(GRACE_MARGIN_MS) < deadline;
            let d = Decision::new(Plan::Revoke { confirm }).deleting(f.tokens, &[]);
            if confirm {
                d
            } else {
                d.noting("past unlock + revoke grace: torn down without confirm_revoked (the owner may withdraw)")
            }
        }
        WorkerStatus::Revoked => match row.stage {
            Stage::Revoked => Decision::new(Plan::Keep).deleting(f.tokens, &[]),
            // Our confirm_revoked landed: the cluster side was torn down before it.
            Stage::Confirming => Decision::new(Plan::Revoked).deleting(f.tokens, &[]),
            _ => Decision::new(Plan::Revoke { confirm: false }).deleting(f.tokens, &[]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daas_protocol::ObjectId;
    use daas_protocol::ids::Address;
    use daas_protocol::onchain::Balance;

    const NODE: &str = "rpi-0123456789abcdef";
    const REG: ObjectId = ObjectId::from_u64(0xaa);
    const W: ObjectId = ObjectId::from_u64(0x77);
    const NOW: u64 = 1_000_000;

    fn envelope(version: u64, expires: u64) -> Vec<u8> {
        let mut e = vec![1u8];
        e.extend_from_slice(&version.to_le_bytes());
        e.extend_from_slice(&expires.to_le_bytes());
        e.extend_from_slice(&[0; 32]);
        e.extend_from_slice(&16u16.to_le_bytes());
        e.extend_from_slice(&[0; 16 + 64]);
        e
    }

    fn worker(status: WorkerStatus, tv: u64, env: Option<(u64, u64)>) -> Read {
        Read::Worker(Observed {
            version: 10,
            isv: 3,
            worker: Worker {
                id: W,
                registry_id: REG,
                node_id: NODE.into(),
                owner: Address::from_u64(1),
                stake: Balance { value: 1 },
                status: status as u8,
                seal_token: vec![],
                join_envelope: env.map(|(v, e)| envelope(v, e)).unwrap_or_default(),
                token_version: tv,
                cooldown_ms: 1000,
                revoke_grace_ms: 86_400_000,
                registered_at_ms: 0,
                unlock_at_ms: NOW + 1000,
            },
        })
    }

    fn row(stage: Stage, version: Option<u64>) -> WorkerRow {
        let mut r = WorkerRow::new(W, NODE.into(), 0);
        r.stage = stage;
        r.version = version;
        r.min_version = 5;
        r
    }

    fn tok(id: &str, version: u64) -> TokenInfo {
        TokenInfo {
            token_id: id.into(),
            node_id: NODE.into(),
            version,
            worker_id: W,
            expires_at_ms: Some(NOW + 1000),
            created_ms: Some(NOW - 60_000),
        }
    }

    fn facts(tokens: &[TokenInfo]) -> Facts<'_> {
        Facts {
            now_ms: NOW,
            registry_id: REG,
            tokens,
            seal_check: Ok(()),
            batch: BatchStatus::Queued,
            orphan_grace_ms: 0,
        }
    }

    #[test]
    fn a_young_token_of_a_version_not_on_chain_waits_out_the_grace() {
        // Issued v1 on chain; another master's v2 Secret appeared 2 s ago (a re-issue it
        // may still be sealing), and a v0 left over from before.
        let mut young = tok("young2", 2);
        young.created_ms = Some(NOW - 2_000);
        let tokens = [tok("live01", 1), young, tok("stale0", 0)];
        let read = worker(WorkerStatus::TokenIssued, 1, Some((1, NOW + 5_000)));
        let r = row(Stage::Issued, Some(1));
        let mut f = facts(&tokens);
        f.orphan_grace_ms = 5_000;
        let d = decide(&r, &read, &f);
        assert_eq!(d.delete, vec!["stale0".to_string()], "the young v2 is kept");
        // Older than the grace: an orphan, deleted.
        f.now_ms = NOW + 3_000;
        let d = decide(&r, &read, &f);
        assert_eq!(d.delete, vec!["young2".to_string(), "stale0".to_string()]);
        // A revoked worker keeps nothing, however young.
        let gone = worker(WorkerStatus::Slashed, 1, Some((1, NOW + 5_000)));
        f.now_ms = NOW;
        let d = decide(&r, &gone, &f);
        assert_eq!(d.delete.len(), 3);
    }

    #[test]
    fn a_new_pending_worker_is_minted_the_next_version() {
        let d = decide(
            &row(Stage::Seen, None),
            &worker(WorkerStatus::Pending, 0, None),
            &facts(&[]),
        );
        assert_eq!(
            d.plan,
            Plan::Mint {
                version: 1,
                reuse: None,
                rotation: false,
                reissue: false
            }
        );
        assert!(d.delete.is_empty());
    }

    #[test]
    fn a_secret_of_the_version_is_reused_never_doubled_and_others_deleted() {
        // The database was lost after the Secret was created: reuse it.
        let tokens = [tok("old000", 1), tok("new000", 2)];
        let d = decide(
            &row(Stage::Seen, None),
            &worker(WorkerStatus::Pending, 1, None),
            &facts(&tokens),
        );
        assert_eq!(
            d.plan,
            Plan::Mint {
                version: 2,
                reuse: Some("new000".into()),
                rotation: false,
                reissue: false
            }
        );
        assert_eq!(d.delete, vec!["old000".to_string()]);
    }

    #[test]
    fn a_read_that_does_not_show_our_transaction_is_retried() {
        let mut r = row(Stage::Submitted, Some(1));
        r.min_version = 10;
        let d = decide(&r, &worker(WorkerStatus::Pending, 0, None), &facts(&[]));
        assert_eq!(d.plan, Plan::Retry);
    }

    #[test]
    fn an_issue_in_flight_waits_and_a_settled_one_without_effect_is_requeued() {
        let tokens = [tok("t00001", 1)];
        let r = row(Stage::Submitted, Some(1));
        let mut f = facts(&tokens);
        f.batch = BatchStatus::InFlight;
        assert_eq!(
            decide(&r, &worker(WorkerStatus::Pending, 0, None), &f).plan,
            Plan::Keep
        );
        f.batch = BatchStatus::Settled;
        let d = decide(&r, &worker(WorkerStatus::Pending, 0, None), &f);
        assert_eq!(d.plan, Plan::Requeue);
        assert!(d.delete.is_empty(), "the token of the issue is kept");
    }

    #[test]
    fn the_envelope_on_chain_makes_the_issue_done_whoever_sent_it() {
        let tokens = [tok("t00001", 1), tok("stale0", 0)];
        for stage in [Stage::Submitted, Stage::Minted, Stage::Minting, Stage::Seen] {
            let d = decide(
                &row(stage, Some(1)),
                &worker(WorkerStatus::TokenIssued, 1, Some((1, NOW + 500))),
                &facts(&tokens),
            );
            assert_eq!(
                d.plan,
                Plan::Issued {
                    version: 1,
                    token_id: Some("t00001".into()),
                    expires_at_ms: NOW + 500,
                    rotation: false
                },
                "{stage}"
            );
            assert_eq!(d.delete, vec!["stale0".to_string()]);
        }
    }

    #[test]
    fn an_expired_unused_envelope_is_reissued_once() {
        let tokens = [tok("t00001", 1)];
        let read = worker(WorkerStatus::TokenIssued, 1, Some((1, NOW - 1)));
        let d = decide(&row(Stage::Issued, Some(1)), &read, &facts(&tokens));
        assert_eq!(
            d.plan,
            Plan::Mint {
                version: 2,
                reuse: None,
                rotation: false,
                reissue: true
            }
        );
        assert_eq!(d.delete, vec!["t00001".to_string()]);
        let mut again = row(Stage::Issued, Some(1));
        again.reissued = 1;
        let d = decide(&again, &read, &facts(&tokens));
        assert_eq!(d.plan, Plan::Keep);
        assert!(d.note.unwrap().contains("request_join_token"));
    }

    #[test]
    fn request_join_token_and_seal_rotation_start_a_new_issue() {
        // After request_join_token the worker is Pending with token_version 1 and
        // its old envelope: version 2 is minted and the old token deleted.
        let tokens = [tok("t00001", 1)];
        let d = decide(
            &row(Stage::Issued, Some(1)),
            &worker(WorkerStatus::Pending, 1, Some((1, NOW + 9))),
            &facts(&tokens),
        );
        assert!(matches!(d.plan, Plan::Mint { version: 2, .. }));
        assert_eq!(d.delete, vec!["t00001".to_string()]);
        // rotate_seal_token bumped token_version to 2 while version 2 was being
        // minted: that issue is superseded, version 3 is minted.
        let tokens = [tok("t00002", 2)];
        let d = decide(
            &row(Stage::Minted, Some(2)),
            &worker(WorkerStatus::Pending, 2, None),
            &facts(&tokens),
        );
        assert!(matches!(d.plan, Plan::Mint { version: 3, .. }));
        assert_eq!(d.delete, vec!["t00002".to_string()]);
    }

    #[test]
    fn a_bad_seal_token_is_refused_and_its_tokens_deleted() {
        let tokens = [tok("t00001", 1)];
        let mut f = facts(&tokens);
        f.seal_check = Err("seal token signature does not verify".into());
        let d = decide(
            &row(Stage::Seen, None),
            &worker(WorkerStatus::Pending, 0, None),
            &f,
        );
        assert_eq!(
            d.plan,
            Plan::Refuse("seal token signature does not verify".into())
        );
        assert_eq!(d.delete, vec!["t00001".to_string()]);
    }

    #[test]
    fn activation_deletes_every_token() {
        let tokens = [tok("t00001", 1)];
        let d = decide(
            &row(Stage::Activating, Some(1)),
            &worker(WorkerStatus::Active, 1, Some((1, NOW + 9))),
            &facts(&tokens),
        );
        assert_eq!(d.plan, Plan::Active);
        assert_eq!(d.delete, vec!["t00001".to_string()]);
    }

    #[test]
    fn a_rotation_is_minted_then_kept_until_the_node_rejoins() {
        let mut r = row(Stage::Seen, Some(1));
        r.rotation = true;
        let d = decide(
            &r,
            &worker(WorkerStatus::Active, 1, Some((1, NOW + 9))),
            &facts(&[]),
        );
        assert!(matches!(
            d.plan,
            Plan::Mint {
                version: 2,
                rotation: true,
                ..
            }
        ));
        let tokens = [tok("t00002", 2)];
        r.stage = Stage::Submitted;
        r.version = Some(2);
        let d = decide(
            &r,
            &worker(WorkerStatus::Active, 2, Some((2, NOW + 9))),
            &facts(&tokens),
        );
        assert_eq!(
            d.plan,
            Plan::Issued {
                version: 2,
                token_id: Some("t00002".into()),
                expires_at_ms: NOW + 9,
                rotation: true
            }
        );
        assert!(d.delete.is_empty());
    }

    #[test]
    fn leaving_and_slashed_are_revoked_and_confirmed_only_within_the_grace() {
        for status in [WorkerStatus::Leaving, WorkerStatus::Slashed] {
            let d = decide(
                &row(Stage::Active, Some(1)),
                &worker(status, 1, None),
                &facts(&[tok("x00000", 1)]),
            );
            assert_eq!(d.plan, Plan::Revoke { confirm: true });
            assert_eq!(d.delete.len(), 1);
        }
        let Read::Worker(mut o) = worker(WorkerStatus::Leaving, 1, None) else {
            unreachable!()
        };
        o.worker.unlock_at_ms = 0;
        o.worker.revoke_grace_ms = NOW;
        let d = decide(&row(Stage::Active, Some(1)), &Read::Worker(o), &facts(&[]));
        assert_eq!(d.plan, Plan::Revoke { confirm: false });
        let mut f = facts(&[]);
        f.batch = BatchStatus::InFlight;
        let d = decide(
            &row(Stage::Confirming, Some(1)),
            &worker(WorkerStatus::Slashed, 1, None),
            &f,
        );
        assert_eq!(d.plan, Plan::Keep);
    }

    #[test]
    fn a_withdrawn_worker_is_torn_down_once() {
        let tokens = [tok("t00001", 1)];
        let d = decide(&row(Stage::Active, Some(1)), &Read::Gone, &facts(&tokens));
        assert_eq!(d.plan, Plan::Revoke { confirm: false });
        assert_eq!(d.delete, vec!["t00001".to_string()]);
        let d = decide(&row(Stage::Revoked, Some(1)), &Read::Gone, &facts(&[]));
        assert_eq!(d.plan, Plan::Keep);
    }

    #[test]
    fn a_worker_of_another_registry_is_not_ours() {
        let Read::Worker(mut o) = worker(WorkerStatus::Pending, 0, None) else {
            unreachable!()
        };
        o.worker.registry_id = ObjectId::from_u64(0xbb);
        let d = decide(&row(Stage::Seen, None), &Read::Worker(o), &facts(&[]));
        assert!(matches!(d.plan, Plan::Refuse(_)));
    }
}
