//! Endpoint list, retries with jittered exponential backoff, failover, and the
//! highest-version-seen guard shared by both transports.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::{ChainError, Result};
use crate::chain_id::ChainId;
use crate::ids::ObjectId;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, across endpoints (default 6).
    pub attempts: u32,
    /// First backoff (default 100 ms); doubles per attempt, with jitter.
    pub base_delay: Duration,
    /// Longest backoff (default 5 s).
    pub max_delay: Duration,
    /// Per-request timeout (default 30 s; Sui's GraphQL allows 74 s for execution).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Endpoints of one transport for one pinned chain.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// URLs: JSON-RPC roots (`https://host:443`) or GraphQL (`https://host/graphql`).
    pub endpoints: Vec<String>,
    /// The pinned chain.
    pub chain_id: ChainId,
    /// Retries.
    pub retry: RetryPolicy,
}

/// One failed attempt: try the next endpoint, or give up now.
pub(crate) enum Attempt {
    Retry(ChainError),
    Fail(ChainError),
}

pub(crate) struct Transport {
    http: reqwest::Client,
    pub(crate) urls: Vec<String>,
    pub(crate) chain_id: ChainId,
    policy: RetryPolicy,
    verified: Vec<AtomicBool>,
    next: AtomicUsize,
    seen: Mutex<HashMap<ObjectId, u64>>,
}

impl Transport {
    pub(crate) fn new(config: ClientConfig) -> Result<Self> {
        if config.endpoints.is_empty() {
            return Err(ChainError::Config("no endpoints configured".into()));
        }
        for u in &config.endpoints {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(ChainError::Config(format!(
                    "endpoint {u:?} is not an http:// or https:// URL"
                )));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(config.retry.request_timeout)
            .connect_timeout(config.retry.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("k8s-daas/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ChainError::Config(format!("HTTP client: {e}")))?;
        Ok(Transport {
            http,
            verified: config
                .endpoints
                .iter()
                .map(|_| AtomicBool::new(false))
                .collect(),
            urls: config.endpoints,
            chain_id: config.chain_id,
            policy: config.retry,
            next: AtomicUsize::new(0),
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// A transport on one of the endpoints (same HTTP client), for quorum reads.
    pub(crate) fn single(&self, i: usize) -> Transport {
        Transport {
            http: self.http.clone(),
            urls: vec![self.urls[i].clone()],
            chain_id: self.chain_id,
            policy: self.policy,
            verified: vec![AtomicBool::new(self.verified[i].load(Ordering::Relaxed))],
            next: AtomicUsize::new(0),
            seen: Mutex::new(self.seen.lock().expect("poisoned").clone()),
        }
    }

    /// The endpoint order for one request: round-robin start, then the others.
    pub(crate) fn order(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.urls.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..self.policy.attempts as usize).map(move |a| (start + a) % n)
    }

    pub(crate) fn is_verified(&self, i: usize) -> bool {
        self.verified[i].load(Ordering::Relaxed)
    }

    pub(crate) fn mark_verified(&self, i: usize) {
        self.verified[i].store(true, Ordering::Relaxed);
    }

    /// Sleeps before attempt `attempt` (0 = no sleep): base · 2^(attempt-1), capped,
    /// times a random factor in [0.5, 1).
    pub(crate) async fn backoff(&self, attempt: usize) {
        if attempt == 0 {
            return;
        }
        let exp = self
            .policy
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.policy.max_delay);
        let jitter = 0.5 + (getrandom::u32().unwrap_or(0) as f64 / u32::MAX as f64) * 0.5;
        tokio::time::sleep(exp.mul_f64(jitter)).await;
    }

    /// One HTTP POST of a JSON body; classifies transport and HTTP failures.
    pub(crate) async fn post(&self, i: usize, body: &Value) -> std::result::Result<Value, Attempt> {
        let url = &self.urls[i];
        let resp = match self.http.post(url).json(body).send().await {
            Ok(r) => r,
            Err(e) => {
                let reason = if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "connection failed".to_string()
                } else {
                    format!("request failed: {e}")
                };
                return Err(Attempt::Retry(ChainError::Unavailable {
                    endpoint: url.clone(),
                    reason,
                }));
            }
        };
        let status = resp.status().as_u16();
        let bytes = read_capped(resp, url).await?;
        if status == 429 || status >= 500 {
            return Err(Attempt::Retry(ChainError::Unavailable {
                endpoint: url.clone(),
                reason: format!("HTTP {status}"),
            }));
        }
        if !(200..300).contains(&status) {
            return Err(Attempt::Fail(ChainError::Http {
                endpoint: url.clone(),
                status,
                body: String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
            }));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Attempt::Retry(ChainError::Malformed {
                endpoint: url.clone(),
                what: format!("body is not JSON ({e})"),
            })
        })
    }

    /// Records `version` of `id`, refusing a version lower than one seen before.
    pub(crate) fn observe(&self, id: ObjectId, version: u64) -> Result<()> {
        let mut seen = self.seen.lock().expect("poisoned");
        let e = seen.entry(id).or_insert(version);
        if version < *e {
            return Err(ChainError::Stale {
                object: id,
                got: version,
                seen: *e,
            });
        }
        *e = version;
        Ok(())
    }

    /// The endpoint list, for messages.
    pub(crate) fn describe(&self) -> String {
        self.urls.join(", ")
    }
}

/// The largest answer read from an endpoint. What this project asks for is far
/// smaller (a page of 50 events or objects with 2 KiB envelopes is ~200 KiB); a
/// larger body is a broken or hostile endpoint, refused before it is held in memory
/// (a board has little of it), and the request goes to the next endpoint.
pub const MAX_RESPONSE_BYTES: usize = 8 << 20;

/// Reads `resp`'s body, at most [`MAX_RESPONSE_BYTES`].
async fn read_capped(
    mut resp: reqwest::Response,
    url: &str,
) -> std::result::Result<Vec<u8>, Attempt> {
    let too_big = || {
        Attempt::Retry(ChainError::Malformed {
            endpoint: url.to_string(),
            what: format!("answer larger than {} MiB", MAX_RESPONSE_BYTES >> 20),
        })
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() + c.len() > MAX_RESPONSE_BYTES {
                    return Err(too_big());
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(Attempt::Retry(ChainError::Unavailable {
                    endpoint: url.to_string(),
                    reason: format!("reading the body failed: {e}"),
                }));
            }
        }
    }
}

/// Runs `one` against endpoints in order until it succeeds or fails permanently;
/// backoff between attempts; the last retryable error if all fail.
macro_rules! with_retries {
    ($t:expr, |$i:ident| $body:expr) => {{
        let t = $t;
        let mut last: Option<$crate::chain::ChainError> = None;
        let mut out = None;
        for (attempt, $i) in t.order().enumerate() {
            t.backoff(attempt).await;
            match $body {
                Ok(v) => {
                    out = Some(Ok(v));
                    break;
                }
                Err($crate::chain::transport::Attempt::Fail(e)) => {
                    out = Some(Err(e));
                    break;
                }
                Err($crate::chain::transport::Attempt::Retry(e)) => {
                    tracing::debug!(endpoint = %t.urls[$i], error = %e, "retrying on another endpoint");
                    last = Some(e);
                }
            }
        }
        out.unwrap_or_else(|| Err(last.expect("at least one attempt")))
    }};
}
pub(crate) use with_retries;

/// [`super::Chain::verify_chain`]: checks every endpoint with `check`, each given the
/// policy's attempts with backoff, so that one 429 or 503 does not pass for a wrong
/// chain. A chain mismatch is an answer, not an outage: it ends the check at once.
pub(crate) async fn verify_each<F, Fut>(t: &Transport, check: F) -> Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<(), Attempt>>,
{
    for i in 0..t.urls.len() {
        let mut last = None;
        for attempt in 0..t.policy.attempts.max(1) as usize {
            t.backoff(attempt).await;
            match check(i).await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(Attempt::Retry(e @ ChainError::ChainMismatch { .. }))
                | Err(Attempt::Fail(e)) => {
                    return Err(e);
                }
                Err(Attempt::Retry(e)) => {
                    tracing::debug!(endpoint = %t.urls[i], error = %e, "checking the chain id again");
                    last = Some(e);
                }
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    Ok(())
}

/// Polls `probe` on each endpoint in turn until it shows the transaction (`Some`),
/// for [`super::Chain::wait_for_transaction`]. An endpoint that keeps failing with a
/// retryable error is skipped (a later read there fails over anyway); one that
/// answers without the transaction until `deadline` is [`ChainError::NotVisible`].
#[cfg(feature = "tx")]
pub(crate) async fn wait_on_each_endpoint<F, Fut>(
    t: &Transport,
    digest: &crate::sui::TransactionDigest,
    deadline: tokio::time::Instant,
    probe: F,
) -> Result<super::ExecOutcome>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Option<super::ExecOutcome>>>,
{
    /// Failed probes before an unreachable endpoint is skipped.
    const UNREACHABLE_AFTER: u32 = 3;
    let start = tokio::time::Instant::now();
    let mut seen: Option<super::ExecOutcome> = None;
    let mut last_failure: Option<ChainError> = None;
    for i in 0..t.urls.len() {
        let mut poll = super::POLL_START;
        let mut failures = 0;
        loop {
            match probe(i).await {
                Ok(Some(out)) => {
                    seen.get_or_insert(out);
                    break;
                }
                Ok(None) => failures = 0,
                Err(e) if e.is_retryable() => {
                    failures += 1;
                    if failures >= UNREACHABLE_AFTER {
                        tracing::warn!(endpoint = %t.urls[i], error = %e, %digest, "endpoint unreachable while waiting for a transaction: skipped");
                        last_failure = Some(e);
                        break;
                    }
                }
                Err(e) => return Err(e),
            }
            if tokio::time::Instant::now() + poll > deadline {
                return Err(ChainError::NotVisible {
                    digest: *digest,
                    endpoint: t.urls[i].clone(),
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(super::POLL_MAX);
        }
    }
    match (seen, last_failure) {
        (Some(out), _) => Ok(out),
        (None, Some(e)) => Err(e),
        (None, None) => Err(ChainError::Config("no endpoints configured".into())),
    }
}
