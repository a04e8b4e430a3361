//! One look at the chain, with every trust check of DESIGN §2 step 4 and §5, ending in
//! a [`Verdict`] the run loop acts on. Trust comes only from the two pinned values (the
//! chain id, checked by the client on every endpoint, and the root key):
//!
//! 1. the registry's envelope-key certificate, accepted only under the pinned root for
//!    this chain and registry, never below the highest serial seen ([`EnvelopeKeyPin`]);
//! 2. the Worker registered under this device's node_id, whose seal token must be this
//!    device's (identity key, one of its sealing keys) and verify for the Worker's
//!    owner, registry and node_id — else the name is squatted and never joined;
//! 3. the join envelope, opened by `daas_protocol::envelope::open` only after its
//!    signature verified under the certified key, refusing a token_version below the
//!    highest used for this Worker and an expiry before max(clock, newest chain time);
//! 4. the cluster CA, checked against the token's `K10<hash>` ([`crate::cacerts`]);
//! 5. a revocation (Leaving, Slashed, Revoked, or the Worker gone) is a verdict only
//!    when the configured quorum of endpoints returns the identical object.

use std::collections::BTreeMap;
use std::time::Duration;

use daas_protocol::chain::{
    AnyChain, Chain as _, ChainError, Quorum, RegistryReader, WorkerObject,
};
use daas_protocol::config::ChainConfig;
use daas_protocol::envelope::{self, EnvelopeContext, EnvelopeHeader, JoinSecret, OpenPolicy};
use daas_protocol::onchain::{CLOCK_ID, WorkerStatus};
use daas_protocol::{
    CertifiedEnvelopeKey, ChainId, EnvelopeKeyPin, ObjectId, RootPublicKey, SealToken,
};
use serde::Deserialize;

use crate::device::Device;
use crate::state::WorkerState;

/// The Worker as the status file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainStatus {
    /// On chain, with this status.
    Worker(WorkerStatus),
    /// No Worker under this node_id.
    NotRegistered,
    /// The Worker this device knew is no longer on chain (withdrawn).
    Gone,
}

impl ChainStatus {
    /// `pending`, `token_issued`, `active`, `leaving`, `slashed`, `revoked`,
    /// `not_registered`, `gone`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Worker(WorkerStatus::Pending) => "pending",
            ChainStatus::Worker(WorkerStatus::TokenIssued) => "token_issued",
            ChainStatus::Worker(WorkerStatus::Active) => "active",
            ChainStatus::Worker(WorkerStatus::Leaving) => "leaving",
            ChainStatus::Worker(WorkerStatus::Slashed) => "slashed",
            ChainStatus::Worker(WorkerStatus::Revoked) => "revoked",
            ChainStatus::NotRegistered => "not_registered",
            ChainStatus::Gone => "gone",
        }
    }

    /// Whether k3s must stop (once a quorum agrees).
    pub fn is_revocation(self) -> bool {
        matches!(
            self,
            ChainStatus::Gone
                | ChainStatus::Worker(
                    WorkerStatus::Leaving | WorkerStatus::Slashed | WorkerStatus::Revoked
                )
        )
    }

    /// `worker slashed`, `worker gone`, … for status lines.
    pub fn words(self) -> String {
        format!("worker {}", self.as_str().replace('_', " "))
    }
}

/// What the run loop knows that a poll needs.
#[derive(Debug, Clone, Default)]
pub struct PollInput {
    /// Highest token_version used per Worker id (persisted).
    pub workers: BTreeMap<ObjectId, WorkerState>,
    /// max(newest chain time seen, the system clock), ms.
    pub now_ms: u64,
    /// The (Worker, token_version) k3s runs with.
    pub in_use: Option<(ObjectId, u64)>,
    /// A (Worker, token_version) k3s or the CA check refused: wait for a newer one.
    pub refused: Option<(ObjectId, u64)>,
    /// A Worker this device joined or runs k3s for (to notice it is gone).
    pub known_worker: Option<ObjectId>,
    /// The (Worker, token_version) k3s last reached READY with (persisted).
    pub joined: Option<(ObjectId, u64)>,
}

/// A verified, opened envelope whose CA matched: start (or restart) k3s with it.
#[derive(Debug)]
pub struct JoinPlan {
    /// The Worker.
    pub worker_id: ObjectId,
    /// The envelope's token_version.
    pub token_version: u64,
    /// Its expiry (ms).
    pub expires_at_ms: u64,
    /// Server, token, node password.
    pub secret: JoinSecret,
}

/// What the run loop should do.
#[derive(Debug)]
pub enum Verdict {
    /// No endpoint answered (or answered nonsense); try again later.
    Unreachable(String),
    /// No Worker under this node_id.
    NotRegistered,
    /// The node_id is registered with a seal token that is not this device's.
    Squatted(String),
    /// Nothing to do yet (no envelope, no certificate, CA unreachable…).
    Waiting(String),
    /// k3s already runs with the envelope on chain.
    UpToDate,
    /// The envelope on chain was refused.
    Rejected {
        /// Its token_version, when its header parsed.
        token_version: Option<u64>,
        /// Why (no secret).
        reason: String,
    },
    /// A new envelope passed every check.
    Join(Box<JoinPlan>),
    /// The envelope k3s already joined with has expired since (the agent restarted
    /// after its expiry): start k3s again with that same token. k3s still needs a
    /// token (it checks the CA hash with it, and refuses an empty one), but once
    /// joined it authenticates with the kubelet certificate it kept, so a deleted or
    /// expired bootstrap token does not stop the restart (K3S.md, k3s-io/k3s#6898).
    Rejoin(Box<JoinPlan>),
    /// A quorum of endpoints agrees the worker is revoked.
    Revoked(ChainStatus),
    /// The failover read says revoked, but no quorum agrees.
    Unconfirmed {
        /// What the first read said.
        claimed: ChainStatus,
        /// What the quorum read said.
        detail: String,
    },
}

/// The result of one poll.
#[derive(Debug)]
pub struct PollOutcome {
    /// The Clock's timestamp, when it was read.
    pub chain_time_ms: Option<u64>,
    /// The certificate accepted in this poll.
    pub certified: Option<CertifiedEnvelopeKey>,
    /// The Worker's id, when found.
    pub worker_id: Option<ObjectId>,
    /// The Worker's status per the (failover) read.
    pub chain_status: Option<ChainStatus>,
    /// What to do.
    pub verdict: Verdict,
}

/// `0x2::clock::Clock`.
#[derive(Deserialize)]
struct Clock {
    _id: ObjectId,
    timestamp_ms: u64,
}

/// The chain side of the agent: clients, keys, and the envelope-key pin.
pub struct Watcher {
    reader: RegistryReader<AnyChain>,
    quorum: Quorum<AnyChain>,
    chain_id: ChainId,
    registry_id: ObjectId,
    device: Device,
    pin: EnvelopeKeyPin,
    cacerts_timeout: Duration,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("chain", &self.reader.chain.describe())
            .field("node_id", &self.device.node_id)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// A watcher over `chain` (all endpoints, failing over) with a quorum over each of
    /// them; `highest` restores the pinned certificate.
    pub fn new(
        config: &ChainConfig,
        root: RootPublicKey,
        device: Device,
        highest: Option<CertifiedEnvelopeKey>,
        cacerts_timeout: Duration,
    ) -> Result<Self, ChainError> {
        let chain = AnyChain::connect(config)?;
        let quorum = chain.quorum(config)?;
        let mut pin = EnvelopeKeyPin::new(root, config.chain_id, config.registry_id);
        if let Some(h) = highest {
            pin = pin.with_highest(h);
        }
        Ok(Watcher {
            reader: RegistryReader::new(chain, config.package_id, config.registry_id),
            quorum,
            chain_id: config.chain_id,
            registry_id: config.registry_id,
            device,
            pin,
            cacerts_timeout,
        })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    async fn chain_time(&self) -> Option<u64> {
        match self.reader.chain.object(CLOCK_ID).await {
            Ok(Some(info)) => info
                .decode::<Clock>("0x2::clock::Clock")
                .ok()
                .map(|c| c.timestamp_ms),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = %e, "reading the Clock failed");
                None
            }
        }
    }

    /// One poll: read, check, decide.
    pub async fn poll(&mut self, input: &PollInput) -> PollOutcome {
        let mut out = PollOutcome {
            chain_time_ms: None,
            certified: None,
            worker_id: None,
            chain_status: None,
            verdict: Verdict::Unreachable(String::new()),
        };
        out.verdict = self.poll_into(input, &mut out).await;
        out
    }

    async fn poll_into(&mut self, input: &PollInput, out: &mut PollOutcome) -> Verdict {
        let registry = match self.reader.registry().await {
            Ok((_, r)) => r,
            Err(e) => return Verdict::Unreachable(format!("reading the registry: {e}")),
        };
        out.chain_time_ms = self.chain_time().await;
        // Expiry is judged by the newest time known, this poll's chain time included:
        // after a restart the persisted chain time can be minutes old.
        let input = &PollInput {
            now_ms: input.now_ms.max(out.chain_time_ms.unwrap_or(0)),
            ..input.clone()
        };
        let cert = self.pin.accept(&registry.envelope_key_cert);
        if let Ok(c) = &cert {
            out.certified = Some(*c);
        }
        let node_id = self.device.node_id.clone();
        let id = match self
            .reader
            .worker_id_by_node_id(&registry, node_id.as_str())
            .await
        {
            Ok(Some(id)) => id,
            Ok(None) => {
                out.chain_status = Some(ChainStatus::NotRegistered);
                return match input.known_worker {
                    Some(known) => {
                        out.worker_id = Some(known);
                        self.confirm(known, ChainStatus::Gone).await
                    }
                    None => Verdict::NotRegistered,
                };
            }
            Err(e) => return Verdict::Unreachable(format!("looking up {node_id}: {e}")),
        };
        out.worker_id = Some(id);
        let w = match self.reader.worker(id).await {
            Ok(Some(w)) => w,
            Ok(None) => {
                out.chain_status = Some(ChainStatus::Gone);
                return self.confirm(id, ChainStatus::Gone).await;
            }
            Err(e) => return Verdict::Unreachable(format!("reading worker {id}: {e}")),
        };
        let status = match w.worker.status() {
            Ok(s) => s,
            Err(e) => return Verdict::Unreachable(format!("worker {id}: {e}")),
        };
        out.chain_status = Some(ChainStatus::Worker(status));
        let token = match self.check_seal_token(&w) {
            Ok(t) => t,
            Err(why) => return Verdict::Squatted(why),
        };
        if ChainStatus::Worker(status).is_revocation() {
            return self.confirm(id, ChainStatus::Worker(status)).await;
        }
        self.consider_envelope(input, &w, &token, cert).await
    }

    /// The Worker's seal token must be this device's and verify for its owner,
    /// registry and node_id.
    fn check_seal_token(&mut self, w: &WorkerObject) -> Result<SealToken, String> {
        if let Ok(token) = SealToken::from_bytes(&w.worker.seal_token)
            && self.device.sealing_key_for(token.sealing()).is_none()
            && let Err(e) = self.device.refresh_next()
        {
            tracing::warn!(error = %e, "re-reading the rotated sealing key failed");
        }
        let d = &self.device;
        if w.worker.registry_id != self.registry_id {
            return Err(format!(
                "worker {} belongs to registry {}, not the configured {}",
                w.info.id, w.worker.registry_id, self.registry_id
            ));
        }
        if w.worker.node_id != d.node_id.as_str() {
            return Err(format!(
                "worker {} is registered as {:?}, not {}",
                w.info.id, w.worker.node_id, d.node_id
            ));
        }
        let token = SealToken::from_bytes(&w.worker.seal_token)
            .map_err(|e| format!("the worker's seal token is unusable: {e}"))?;
        if *token.identity() != d.keys.identity.public() {
            return Err(format!(
                "{} is registered with another device's identity key {}",
                d.node_id,
                token.identity()
            ));
        }
        if d.sealing_key_for(token.sealing()).is_none() {
            return Err(format!(
                "{} is registered with sealing key {}, which this device does not hold",
                d.node_id,
                token.sealing()
            ));
        }
        token
            .verify(&self.registry_id, &w.worker.owner, &d.node_id)
            .map_err(|e| format!("{e}"))?;
        Ok(token)
    }

    async fn consider_envelope(
        &mut self,
        input: &PollInput,
        w: &WorkerObject,
        token: &SealToken,
        cert: Result<CertifiedEnvelopeKey, daas_protocol::envkey_cert::CertError>,
    ) -> Verdict {
        let id = w.info.id;
        let bytes = &w.worker.join_envelope;
        if bytes.is_empty() {
            return Verdict::Waiting("waiting for join token (worker pending on chain)".into());
        }
        let header = match EnvelopeHeader::parse(bytes) {
            Ok(h) => h,
            Err(e) => {
                return Verdict::Rejected {
                    token_version: None,
                    reason: format!("envelope: {e}"),
                };
            }
        };
        let version = header.token_version;
        if input.in_use == Some((id, version)) {
            return Verdict::UpToDate;
        }
        if input.refused == Some((id, version)) {
            return Verdict::Waiting(format!(
                "token version {version} was refused: waiting for a new envelope"
            ));
        }
        let certified = match cert {
            Ok(c) => c,
            Err(e) => {
                return Verdict::Rejected {
                    token_version: Some(version),
                    reason: format!("envelope-key certificate: {e}"),
                };
            }
        };
        let (sealing, is_next) = self
            .device
            .sealing_key_for(token.sealing())
            .expect("checked with the seal token");
        let ctx = EnvelopeContext {
            chain_id: self.chain_id,
            registry_id: self.registry_id,
            worker_id: id,
            node_id: self.device.node_id.clone(),
        };
        let policy = OpenPolicy {
            envelope_key: &certified.key,
            highest_used_version: input
                .workers
                .get(&id)
                .map_or(0, |s| s.highest_token_version),
            now_ms: input.now_ms,
        };
        let opened = match envelope::open(bytes, &ctx, sealing, &policy) {
            Ok(o) => o,
            // Signature and replay checks passed; only the clock says no, and this very
            // envelope was already used to join: no new secret is needed.
            Err(envelope::EnvelopeError::Expired { .. })
                if input.joined == Some((id, version))
                    && w.worker.status() == Ok(WorkerStatus::Active) =>
            {
                let again = OpenPolicy {
                    now_ms: 0,
                    ..policy
                };
                return match envelope::open(bytes, &ctx, sealing, &again) {
                    Ok(o) => Verdict::Rejoin(Box::new(JoinPlan {
                        worker_id: id,
                        token_version: o.token_version,
                        expires_at_ms: o.expires_at_ms,
                        secret: o.secret,
                    })),
                    Err(e) => Verdict::Rejected {
                        token_version: Some(version),
                        reason: e.to_string(),
                    },
                };
            }
            Err(e) => {
                return Verdict::Rejected {
                    token_version: Some(version),
                    reason: e.to_string(),
                };
            }
        };
        tracing::info!(worker = %id, token_version = opened.token_version, expires_at_ms = opened.expires_at_ms, "verified and opened the join envelope");
        if is_next {
            match self.device.promote_next_sealing_key() {
                Ok(()) => tracing::info!(
                    node_id = %self.device.node_id,
                    "an envelope under the rotated sealing key opened: it is now the sealing key"
                ),
                Err(e) => tracing::error!(error = %e, "promoting the rotated sealing key failed"),
            }
        }
        match crate::cacerts::verify(
            &opened.secret.server,
            &opened.secret.token,
            self.cacerts_timeout,
        )
        .await
        {
            Ok(_) => {
                tracing::info!(worker = %id, server = %opened.secret.server, "the cluster CA matches the token's hash")
            }
            Err(e) if e.is_transient() => {
                return Verdict::Waiting(format!("cannot check the cluster CA yet: {e}"));
            }
            Err(e) => {
                return Verdict::Rejected {
                    token_version: Some(version),
                    reason: e.to_string(),
                };
            }
        }
        Verdict::Join(Box::new(JoinPlan {
            worker_id: id,
            token_version: opened.token_version,
            expires_at_ms: opened.expires_at_ms,
            secret: opened.secret,
        }))
    }

    /// Asks the quorum whether `id` is really revoked (or gone).
    async fn confirm(&self, id: ObjectId, claimed: ChainStatus) -> Verdict {
        match self.quorum.object(id).await {
            Ok(None) => Verdict::Revoked(ChainStatus::Gone),
            Ok(Some(info)) => {
                match RegistryReader::<AnyChain>::decode_worker(&self.reader.package, info) {
                    Ok(w) => match w.worker.status() {
                        Ok(s) if ChainStatus::Worker(s).is_revocation() => {
                            Verdict::Revoked(ChainStatus::Worker(s))
                        }
                        Ok(s) => Verdict::Unconfirmed {
                            claimed,
                            detail: format!(
                                "the endpoint quorum says the worker is {}",
                                ChainStatus::Worker(s).as_str()
                            ),
                        },
                        Err(e) => Verdict::Unconfirmed {
                            claimed,
                            detail: e.to_string(),
                        },
                    },
                    Err(e) => Verdict::Unconfirmed {
                        claimed,
                        detail: e.to_string(),
                    },
                }
            }
            Err(e) => Verdict::Unconfirmed {
                claimed,
                detail: e.to_string(),
            },
        }
    }
}
