//! Leader election on a `coordination.k8s.io/v1` Lease, with the semantics of
//! client-go's `tools/leaderelection` (`leaderelection.go`, `resourcelock/leaselock.go`
//! in kubernetes/client-go), which every controller next to a control plane uses:
//!
//! - A candidate reads the Lease every `retry_period`. It takes it when the Lease does
//!   not exist (create), has no holder, or its record has not changed for
//!   `lease_duration` **by the candidate's own clock** since the candidate first saw
//!   that record (client-go's `observedTime`: no trust in another host's clock). Taking
//!   and renewing are updates carrying the `resourceVersion` that was read, so of two
//!   candidates racing only one succeeds (the other gets 409 Conflict).
//! - The leader renews every `retry_period`. If no renewal has succeeded for
//!   `renew_deadline` — counted from the *start* of the last successful request, so
//!   before the server wrote it — it stops acting and says so. A standby needs
//!   `lease_duration` (> `renew_deadline`) without a change to take over, so the old
//!   leader has stopped before anyone else can start.
//! - On shutdown the leader releases the Lease (holder cleared, duration 1 s, as
//!   client-go's `ReleaseOnCancel`), so a standby takes over at its next look.
//!
//! Leadership is published on a `watch` channel ([`crate::service::RunOptions::leader`]).
//! Safety never rests on the Lease alone: every master has its own Sui account and
//! MasterCap (no owned object is ever signed by two processes), and the contract skips a
//! racing second `set_join_token` (DESIGN §10).

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;

/// The election's settings (`[ha]` in `master.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This master's holder identity (unique among the masters).
    pub identity: String,
    /// How long a standby waits, without a change of the record, before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps acting without a successful renewal.
    pub renew_deadline: Duration,
    /// How often candidates look and the leader renews.
    pub retry_period: Duration,
}

/// The part of the Lease the election compares (client-go's `LeaderElectionRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    holder: String,
    duration_s: i32,
    acquire: Option<String>,
    renew: Option<String>,
    transitions: i32,
}

impl Record {
    fn of(lease: &Lease) -> Record {
        let s = lease.spec.clone().unwrap_or_default();
        Record {
            holder: s.holder_identity.unwrap_or_default(),
            duration_s: s.lease_duration_seconds.unwrap_or(0),
            acquire: s.acquire_time.map(|t| t.0.to_string()),
            renew: s.renew_time.map(|t| t.0.to_string()),
            transitions: s.lease_transitions.unwrap_or(0),
        }
    }
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// We hold the Lease (created, taken, or renewed).
    Held,
    /// Someone else holds a valid Lease.
    Taken(String),
}

/// One elector: the Lease API, the settings and what it has observed.
pub struct Elector {
    api: Api<Lease>,
    s: LeaseSettings,
    /// The last record read and when (by our clock) it was first seen.
    observed: Option<(Record, Instant)>,
    leading: bool,
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

impl Elector {
    /// An elector for `s` over `api` (the Lease's namespace).
    pub fn new(api: Api<Lease>, s: LeaseSettings) -> Elector {
        Elector {
            api,
            s,
            observed: None,
            leading: false,
        }
    }

    /// client-go's `tryAcquireOrRenew`.
    async fn try_acquire_or_renew(&mut self) -> Result<Outcome, kube::Error> {
        let now = now_micro();
        let current = self.api.get_opt(&self.s.name).await?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.s.name.clone()),
                    namespace: Some(self.s.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.s.identity.clone()),
                    lease_duration_seconds: Some(seconds(self.s.lease_duration)),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            let made = self.api.create(&PostParams::default(), &lease).await?;
            self.observed = Some((Record::of(&made), Instant::now()));
            return Ok(Outcome::Held);
        };
        let record = Record::of(&lease);
        let seen_at = match &self.observed {
            Some((r, at)) if *r == record => *at,
            _ => {
                let at = Instant::now();
                self.observed = Some((record.clone(), at));
                at
            }
        };
        let ours = record.holder == self.s.identity;
        let valid = !record.holder.is_empty()
            && seen_at.elapsed()
                < Duration::from_secs(u64::try_from(record.duration_s.max(0)).unwrap_or(0));
        if !ours && valid {
            return Ok(Outcome::Taken(record.holder));
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if !ours {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(record.transitions + 1);
        }
        spec.holder_identity = Some(self.s.identity.clone());
        spec.lease_duration_seconds = Some(seconds(self.s.lease_duration));
        spec.renew_time = Some(now);
        // `replace` sends the resourceVersion that was read: a racing writer gets 409.
        let updated = self
            .api
            .replace(&self.s.name, &PostParams::default(), &lease)
            .await?;
        self.observed = Some((Record::of(&updated), Instant::now()));
        Ok(Outcome::Held)
    }

    /// Gives the Lease up (client-go's `release`): holder cleared, duration 1 s.
    async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.s.name).await else {
            return;
        };
        if Record::of(&lease).holder != self.s.identity {
            return;
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = Some(String::new());
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now_micro());
        match self
            .api
            .replace(&self.s.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.lease_name(), "released the lease"),
            Err(e) => {
                tracing::warn!(lease = %self.lease_name(), "releasing the lease: {e}")
            }
        }
    }

    fn lease_name(&self) -> String {
        format!("{}/{}", self.s.namespace, self.s.name)
    }

    /// A retry period with client-go's jitter (up to +20 %).
    fn jittered_retry(&self) -> Duration {
        let mut b = [0u8; 1];
        let _ = getrandom::fill(&mut b);
        self.s
            .retry_period
            .mul_f64(1.0 + f64::from(b[0]) / 255.0 * 0.2)
    }

    /// Runs the election until `stop` resolves, publishing leadership on `leader`.
    /// Before returning it stops acting, waits for `drained` (the work in flight),
    /// then releases the Lease if it holds it.
    pub async fn run(
        mut self,
        leader: watch::Sender<bool>,
        stop: impl Future<Output = ()>,
        drained: impl Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut last_renew: Option<Instant> = None;
        let mut holder_logged: Option<String> = None;
        loop {
            let started = Instant::now();
            // A leader's attempt ends at its renew deadline; a candidate's after a renew
            // deadline too, so a hung request never delays the next look for long.
            let deadline = last_renew.unwrap_or(started) + self.s.renew_deadline;
            let attempt = async {
                tokio::time::timeout_at(deadline, self.try_acquire_or_renew())
                    .await
                    .ok()
            };
            let result = tokio::select! {
                _ = &mut stop => break,
                r = attempt => r,
            };
            match result {
                Some(Ok(Outcome::Held)) => {
                    if !self.leading {
                        self.leading = true;
                        holder_logged = None;
                        tracing::info!(lease = %self.lease_name(), identity = %self.s.identity, "became the leader: acting");
                        let _ = leader.send(true);
                    }
                    last_renew = Some(started);
                }
                Some(Ok(Outcome::Taken(holder))) => {
                    if self.leading {
                        // Someone else's valid record while we think we lead: stop now.
                        self.step_down(&leader);
                        last_renew = None;
                    }
                    if holder_logged.as_deref() != Some(holder.as_str()) {
                        tracing::info!(lease = %self.lease_name(), %holder, "standby: another master leads");
                        holder_logged = Some(holder);
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(lease = %self.lease_name(), "lease request: {e}");
                }
                None => {}
            }
            if self.leading
                && let Some(t) = last_renew
                && t.elapsed() >= self.s.renew_deadline
            {
                self.step_down(&leader);
                last_renew = None;
            }
            let pause = self.jittered_retry();
            let wake = match (self.leading, last_renew) {
                // A leader wakes at its renew deadline at the latest, to stop in time.
                (true, Some(t)) => (Instant::now() + pause).min(t + self.s.renew_deadline),
                _ => Instant::now() + pause,
            };
            // Woken at the renew deadline, the next attempt's deadline has passed: it
            // ends at once and the check above steps down.
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        let was_leading = self.leading;
        if self.leading {
            self.leading = false;
            let _ = leader.send(false);
        }
        drained.await;
        if was_leading {
            self.release().await;
        }
    }

    fn step_down(&mut self, leader: &watch::Sender<bool>) {
        self.leading = false;
        let _ = leader.send(false);
        tracing::warn!(
            lease = %self.lease_name(),
            renew_deadline_ms = self.s.renew_deadline.as_millis() as u64,
            lease_duration_ms = self.s.lease_duration.as_millis() as u64,
            "lost the lease: no renewal within the renew deadline, stopped acting (a standby can take over only after the lease duration)"
        );
    }
}
