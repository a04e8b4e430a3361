//! Test-only crash points. The binary reads `DAAS_MASTER_CRASH_AT=<step>` (never set in
//! production) and the service stops dead at that step: it prints one line
//! `crash point <step> reached` to stderr and aborts the process — no destructor, no
//! flush, no shutdown, as abrupt as `kill -9`. The integration tests kill the master at
//! every step boundary this way and check that a restart converges.
//!
//! | step | where |
//! |---|---|
//! | `minting-recorded` | the mint intent (token version and id) is committed; no Secret yet |
//! | `secret-created` | the bootstrap-token Secret exists; the envelope is not stored |
//! | `minted` | the envelope is stored; no batch yet |
//! | `stored-<call>` | a batch whose first call is `<call>` is stored; not sent |
//! | `executed-<call>` | that batch executed; its outcome is not recorded |
//! | `issued` | an issue is recorded as on chain; nothing activated |
//! | `token-deleted` | an activated worker's token is deleted; the row is not updated |
//! | `revoke-cleaned` | a revoked worker's cluster side is torn down; no `confirm_revoked` yet |

use std::io::Write as _;

/// Every step name, for validation.
pub const STEPS: &[&str] = &[
    "minting-recorded",
    "secret-created",
    "minted",
    "stored-set_join_token",
    "executed-set_join_token",
    "stored-activate_worker",
    "executed-activate_worker",
    "stored-confirm_revoked",
    "executed-confirm_revoked",
    "issued",
    "token-deleted",
    "revoke-cleaned",
];

/// The configured crash point, if any.
#[derive(Debug, Clone, Default)]
pub struct CrashPoints(Option<String>);

impl CrashPoints {
    /// No crash point (production).
    pub fn none() -> Self {
        CrashPoints(None)
    }

    /// Crash at `step`; an unknown name is an error naming the known ones.
    pub fn at(step: &str) -> Result<Self, String> {
        if STEPS.contains(&step) {
            Ok(CrashPoints(Some(step.to_string())))
        } else {
            Err(format!(
                "DAAS_MASTER_CRASH_AT={step:?} is not a crash point; known: {}",
                STEPS.join(", ")
            ))
        }
    }

    /// Aborts the process if `step` is the configured crash point.
    pub fn hit(&self, step: &str) {
        if self.0.as_deref() == Some(step) {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "crash point {step} reached");
            let _ = e.flush();
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_steps_are_accepted_and_others_never_fire() {
        assert!(CrashPoints::at("minted").is_ok());
        assert!(
            CrashPoints::at("nope")
                .unwrap_err()
                .contains("minting-recorded")
        );
        CrashPoints::at("minted").unwrap().hit("issued");
        CrashPoints::none().hit("minted");
    }
}
