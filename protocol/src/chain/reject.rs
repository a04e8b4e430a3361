//! What a refused transaction was refused for, read off the node's text (both
//! transports carry Sui's validator wording; only JSON-RPC adds a code).
//!
//! The texts are those of Sui's `UserInputError`/`SuiError` displays as its JSON-RPC
//! and GraphQL services forward them (`crates/sui-types/src/error.rs`,
//! `crates/sui-json-rpc/src/error.rs`, `crates/sui-indexer-alt-jsonrpc/src/api/write`):
//! - `Object ID 0x… Version 0x5 Digest … is not available for consumption, current
//!   version: 0x6` (older nodes: `Object (0x…, SequenceNumber(5), o#…) is not
//!   available for consumption, its current version: SequenceNumber(6).`)
//! - `Could not find the referenced object 0x… at version Some(SequenceNumber(5))`
//! - `… one or more of its objects is reserved for another transaction …`,
//!   `Object … already locked by a different transaction: …`
//! - `Balance of gas object 10 is lower than the needed amount: 100`,
//!   `Gas budget: 1 is lower than min: 1000.`, `Gas price 1 under reference gas price`
//! - `Invalid user signature: …`, `Invalid signature 0: …`
//! - `Invalid Params: WaitForLocalExecution mode is deprecated`, `Invalid transaction
//!   bytes: …`
//! - `Transaction timed out before reaching finality`, overload texts (JSON-RPC -32050,
//!   -32604 `Timed out: …`)

use crate::ids::ObjectId;

/// Why a node refused a transaction before executing it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectKind {
    /// The request itself is wrong: undecodable bytes, an unsupported request type
    /// (`WaitForLocalExecution`), malformed arguments. Fix the client, do not retry.
    InvalidParams,
    /// An owned input (or gas coin) at a version that was already consumed: another
    /// transaction used it. Re-read it once that transaction is visible, then rebuild.
    StaleObject {
        /// The object, when the text names it.
        object: Option<ObjectId>,
        /// The version the transaction gave.
        given: Option<u64>,
        /// Its current version, when the text gives it.
        current: Option<u64>,
    },
    /// An input that does not exist (at the given version).
    ObjectNotFound {
        /// The object, when the text names it.
        object: Option<ObjectId>,
    },
    /// Inputs reserved for another transaction (equivocation): they stay locked until
    /// the epoch ends.
    Locked {
        /// The objects the text names.
        objects: Vec<ObjectId>,
    },
    /// The gas coins cannot pay the budget, or the budget or price is out of range.
    InsufficientGas,
    /// The signature is malformed or does not verify for the sender.
    BadSignature,
    /// Overload or a timeout before finality: submitting the same bytes again is safe.
    Retryable,
    /// None of the above.
    Other,
}

impl RejectKind {
    /// Whether submitting the same bytes again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RejectKind::Retryable)
    }
}

/// The first `0x` + 64 hex digits in `s`, as an object id.
fn first_id(s: &str) -> Option<ObjectId> {
    ids(s).into_iter().next()
}

/// Every distinct `0x` + 64 hex digits in `s`.
fn ids(s: &str) -> Vec<ObjectId> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(p) = s[i..].find("0x") {
        let start = i + p + 2;
        let hex_len = b[start..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if hex_len == 64
            && let Ok(id) = s[start - 2..start + 64].parse::<ObjectId>()
            && !out.contains(&id)
        {
            out.push(id);
        }
        i = start + hex_len;
    }
    out
}

/// A version as Sui prints one: `0x1a`, `26`, `SequenceNumber(26)`, `Some(SequenceNumber(26))`.
fn version_at(s: &str) -> Option<u64> {
    let mut t = s.trim_start();
    for prefix in ["Some(", "SequenceNumber("] {
        if let Some(r) = t.strip_prefix(prefix) {
            t = r;
        }
    }
    if let Some(hex) = t.strip_prefix("0x") {
        let digits: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
        return u64::from_str_radix(&digits, 16).ok();
    }
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The part of a multi-line message (`…:\n- A\n- B`) that contains `needle`.
fn item_with<'a>(message: &'a str, needle: &str) -> Option<&'a str> {
    let at = message.find(needle)?;
    let start = message[..at].rfind(['\n']).map_or(0, |p| p + 1);
    let end = message[at..].find('\n').map_or(message.len(), |p| at + p);
    Some(&message[start..end])
}

/// Classifies a rejection text (and, for JSON-RPC, its code).
pub fn classify_rejection(code: Option<i64>, message: &str) -> RejectKind {
    let lower = message.to_ascii_lowercase();
    if lower.contains("reserved for another transaction")
        || lower.contains("already locked by a different transaction")
        || lower.contains("objectlockconflict")
        || lower.contains("equivocated")
    {
        return RejectKind::Locked {
            objects: ids(message),
        };
    }
    if let Some(item) = item_with(message, "is not available for consumption") {
        let before = &item[..item.find("is not available").unwrap_or(item.len())];
        let given = before
            .find("Version ")
            .and_then(|p| version_at(&before[p + "Version ".len()..]))
            .or_else(|| {
                before
                    .find("SequenceNumber(")
                    .and_then(|p| version_at(&before[p..]))
            });
        let current = item
            .find("current version:")
            .and_then(|p| version_at(&item[p + "current version:".len()..]));
        return RejectKind::StaleObject {
            object: first_id(before),
            given,
            current,
        };
    }
    if let Some(item) = item_with(message, "Could not find the referenced object") {
        return RejectKind::ObjectNotFound {
            object: first_id(item),
        };
    }
    if lower.contains("signature") {
        return RejectKind::BadSignature;
    }
    if lower.contains("balance of gas object")
        || lower.contains("gas budget")
        || lower.contains("gasbalancetoolow")
        || lower.contains("insufficientgas")
        || lower.contains("gas price")
    {
        return RejectKind::InsufficientGas;
    }
    if matches!(code, Some(-32050 | -32604))
        || lower.contains("timed out")
        || lower.contains("overload")
        || lower.contains("too many")
        || lower.contains("try again later")
    {
        return RejectKind::Retryable;
    }
    if code == Some(-32602)
        || lower.contains("invalid params")
        || lower.contains("invalid transaction bytes")
        || lower.contains("deprecated")
    {
        return RejectKind::InvalidParams;
    }
    RejectKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0x00bf8123e61f47bbaf976a1723955571cb4808321b60efbabf79366d656f4165";

    #[test]
    fn stale_objects_name_the_object_and_both_versions_in_every_wording() {
        let want = |given, current| RejectKind::StaleObject {
            object: Some(ID.parse().unwrap()),
            given: Some(given),
            current: Some(current),
        };
        let new = format!(
            "Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- Balance of gas object 10 is lower than the needed amount: 100\n- Object ID {ID} Version 0x5 Digest 11111111111111111111111111111111 is not available for consumption, current version: 0xa"
        );
        assert_eq!(classify_rejection(Some(-32002), &new), want(5, 10));
        let decimal = format!(
            "Invalid Params: Transaction execution failed: Object ID {ID} Version 958986780 Digest 2jX46bsvCW5dpdZbaMvZRSGmk6UHcsybACxTV4E3uciL is not available for consumption, current version: 958986781"
        );
        assert_eq!(
            classify_rejection(Some(-32602), &decimal),
            want(958_986_780, 958_986_781)
        );
        let old = format!(
            "Object ({ID}, SequenceNumber(5), o#2jX46bsvCW5dpdZbaMvZRSGmk6UHcsybACxTV4E3uciL) is not available for consumption, its current version: SequenceNumber(6)."
        );
        assert_eq!(classify_rejection(None, &old), want(5, 6));
    }

    #[test]
    fn the_other_kinds() {
        let cases: &[(Option<i64>, String, RejectKind)] = &[
            (
                Some(-32602),
                "Invalid Params: WaitForLocalExecution mode is deprecated".into(),
                RejectKind::InvalidParams,
            ),
            (
                Some(-32602),
                "Invalid transaction bytes: unexpected end of input".into(),
                RejectKind::InvalidParams,
            ),
            (
                Some(-32002),
                format!("Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- Could not find the referenced object {ID} at version None"),
                RejectKind::ObjectNotFound {
                    object: Some(ID.parse().unwrap()),
                },
            ),
            (
                Some(-32002),
                format!("Failed to sign transaction by a quorum of validators because one or more of its objects is reserved for another transaction. Other transactions locking these objects:\n- {ID}"),
                RejectKind::Locked {
                    objects: vec![ID.parse().unwrap()],
                },
            ),
            (
                Some(-32002),
                "Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- Balance of gas object 10 is lower than the needed amount: 100".into(),
                RejectKind::InsufficientGas,
            ),
            (
                None,
                "Gas budget: 5 is lower than min: 1000000.".into(),
                RejectKind::InsufficientGas,
            ),
            (
                Some(-32002),
                "Invalid user signature: Signature is not valid: Required Signature from 0xab is absent".into(),
                RejectKind::BadSignature,
            ),
            (
                Some(-32050),
                "Transaction timed out before reaching finality".into(),
                RejectKind::Retryable,
            ),
            (
                None,
                "Too many transactions pending execution: try again later".into(),
                RejectKind::Retryable,
            ),
            (Some(-32000), "something new".into(), RejectKind::Other),
        ];
        for (code, text, want) in cases {
            assert_eq!(&classify_rejection(*code, text), want, "{text}");
        }
    }

    #[test]
    fn versions_read_in_every_spelling() {
        assert_eq!(version_at(" 0x1a"), Some(26));
        assert_eq!(version_at("26,"), Some(26));
        assert_eq!(version_at("SequenceNumber(26))"), Some(26));
        assert_eq!(version_at("Some(SequenceNumber(26))"), Some(26));
        assert_eq!(version_at("None"), None);
    }
}
