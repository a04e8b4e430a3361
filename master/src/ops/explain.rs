//! Move abort codes of `k8s_daas::worker_registry` (DESIGN §4) in words, with what the
//! command knows about the worker when it can say more.

use daas_protocol::onchain::{WorkerStatus, abort};
use serde::Serialize;

/// An abort, as the CLI reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbortReport {
    /// The code.
    pub code: u64,
    /// The Move constant's name (`EInvalidStatus`), if the code is one of the module's.
    pub name: Option<&'static str>,
    /// What it means here.
    pub meaning: String,
}

impl std::fmt::Display for AbortReport {
    /// `aborted 7 EInvalidStatus: worker is Active, unstake needs …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "aborted {} {}: {}",
            self.code,
            self.name.unwrap_or("(not a worker_registry code)"),
            self.meaning
        )
    }
}

/// The statuses a call accepts (DESIGN §4 transitions), for the owner's and admin's
/// calls that abort 7 on any other.
pub fn allowed_statuses(function: &str) -> Option<&'static [WorkerStatus]> {
    use WorkerStatus::*;
    Some(match function {
        "request_join_token" => &[TokenIssued],
        "rotate_seal_token" | "request_unstake" => &[Pending, TokenIssued, Active],
        "slash" => &[Pending, TokenIssued, Active, Leaving],
        "withdraw_stake" => &[Revoked, Leaving, Slashed],
        _ => return None,
    })
}

/// Capitalised status name for messages (`TokenIssued`).
pub fn status_word(s: WorkerStatus) -> &'static str {
    match s {
        WorkerStatus::Pending => "Pending",
        WorkerStatus::TokenIssued => "TokenIssued",
        WorkerStatus::Active => "Active",
        WorkerStatus::Leaving => "Leaving",
        WorkerStatus::Slashed => "Slashed",
        WorkerStatus::Revoked => "Revoked",
    }
}

/// What the CLI knows when a call aborts.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// The entry function that aborted.
    pub function: &'a str,
    /// The command's name for it (`unstake`).
    pub action: &'a str,
    /// The worker's status before the call, if it was read.
    pub status: Option<WorkerStatus>,
    /// When its stake unlocks and the grace after it, if known.
    pub unlock_at_ms: Option<u64>,
    /// The worker's revoke grace, if known.
    pub revoke_grace_ms: Option<u64>,
}

fn list(statuses: &[WorkerStatus]) -> String {
    statuses
        .iter()
        .map(|s| status_word(*s))
        .collect::<Vec<_>>()
        .join("/")
}

/// Explains `code` for a call described by `cx`.
pub fn explain(code: u64, cx: &Context<'_>) -> AbortReport {
    let meaning = match code {
        abort::E_INSUFFICIENT_STAKE => {
            "the payment is below the registry's min_stake plus its registration fee".to_string()
        }
        abort::E_WORKER_ALREADY_EXISTS => "this node_id is already registered".to_string(),
        abort::E_WORKER_NOT_FOUND => "no such worker in this registry".to_string(),
        abort::E_INVALID_SEAL_TOKEN => {
            "the seal token is not signed for this registry, owner (the sender) and node_id"
                .to_string()
        }
        abort::E_INVALID_NODE_ID => {
            "the node_id is malformed or its fingerprint names another identity key".to_string()
        }
        abort::E_UNAUTHORIZED => "the sender is not the worker's owner".to_string(),
        abort::E_INVALID_STATUS => {
            match (cx.status, allowed_statuses(cx.function)) {
                (Some(s), Some(allowed)) => format!(
                    "worker is {}, {} needs {}",
                    status_word(s),
                    cx.action,
                    list(allowed)
                ),
                (Some(s), None) => format!("worker is {}, which {} does not accept", status_word(s), cx.action),
                (None, _) => format!("the worker's status does not allow {}", cx.action),
            }
        }
        abort::E_WRONG_REGISTRY => "an object of another registry was passed".to_string(),
        abort::E_COOLDOWN_NOT_OVER => match (cx.status, cx.unlock_at_ms) {
            (Some(WorkerStatus::Revoked), Some(t)) => {
                format!("the stake unlocks at {} (unlock_at_ms {t})", iso(t))
            }
            (Some(s), Some(t)) => {
                let grace = cx.revoke_grace_ms.unwrap_or(0);
                format!(
                    "worker is {} and no master has confirmed the revocation: the stake unlocks at {} (unlock_at_ms {t} + revoke grace {grace} ms)",
                    status_word(s),
                    iso(t.saturating_add(grace))
                )
            }
            _ => "the cooldown is not over yet".to_string(),
        },
        abort::E_INVALID_ENVELOPE => "the join envelope is malformed or expired".to_string(),
        abort::E_INVALID_PARAMETER => {
            "a parameter is out of range (cooldown and revoke grace are at most 30 days, a certificate's serial must grow, the amount must be available)".to_string()
        }
        abort::E_CAP_REVOKED => "the capability was revoked".to_string(),
        _ => "an abort code the worker_registry module does not define (another module's?)"
            .to_string(),
    };
    AbortReport {
        code,
        name: abort::name(code),
        meaning,
    }
}

/// Milliseconds since the epoch as RFC 3339 UTC (`2026-11-24T15:34:32Z`).
pub fn iso(ms: u64) -> String {
    let (y, m, d, h, mi, s) = civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// UTC (year, month, day, hour, minute, second) of `ms` since the epoch.
pub fn civil(ms: u64) -> (i64, i64, i64, i64, i64, i64) {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil from days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_status_names_the_status_and_what_the_call_needs() {
        let r = explain(
            7,
            &Context {
                function: "request_join_token",
                action: "request-join-token",
                status: Some(WorkerStatus::Active),
                ..Context::default()
            },
        );
        assert_eq!(
            r.to_string(),
            "aborted 7 EInvalidStatus: worker is Active, request-join-token needs TokenIssued"
        );
        let r = explain(
            7,
            &Context {
                function: "request_unstake",
                action: "unstake",
                status: Some(WorkerStatus::Leaving),
                ..Context::default()
            },
        );
        assert!(r.meaning.contains("Pending/TokenIssued/Active"), "{r}");
    }

    #[test]
    fn every_module_code_has_a_name_and_unknown_codes_say_so() {
        for code in 1..=12 {
            let r = explain(code, &Context::default());
            assert!(r.name.is_some(), "{code}");
            assert!(!r.meaning.is_empty());
        }
        assert_eq!(explain(99, &Context::default()).name, None);
    }

    #[test]
    fn cooldown_names_the_unlock_time() {
        let r = explain(
            9,
            &Context {
                function: "withdraw_stake",
                action: "withdraw",
                status: Some(WorkerStatus::Revoked),
                unlock_at_ms: Some(1_795_534_472_123),
                ..Context::default()
            },
        );
        assert!(r.meaning.contains("2026-11-24T15:34:32Z"), "{r}");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
