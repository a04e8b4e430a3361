//! The k3s formats the master checks (feature `k3s`): the node-password hash k3s keeps
//! in `kube-system/<node>.node-password.k3s` (`k3s-io/k3s:pkg/authenticator/hash/scrypt.go`):
//! `$1:<salt hex>:<log2 N>:<r>:<p>:<unpadded standard Base64 key>`, written with an
//! 8-byte salt, N = 2^15, r = 8, p = 1 and a 64-byte key. Verification takes the
//! parameters from the hash, as k3s does, within bounds that keep memory in check.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use subtle::ConstantTimeEq as _;
use thiserror::Error;

use crate::secret::NodePassword;

/// The largest log2 N verified (2^20 × r × 128 bytes of memory); above it is refused.
const MAX_LOG_N: u64 = 20;

/// A stored node-password hash that cannot be checked. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NodePasswordHashError {
    /// Not `$1:<hex>:<N>:<r>:<p>:<base64>`.
    #[error("node password hash is not in k3s's $1:<salt>:<N>:<r>:<p>:<key> format: {0}")]
    Malformed(&'static str),
    /// Parameters outside what is verified.
    #[error("node password hash has unusable scrypt parameters N=2^{log_n} r={r} p={p}")]
    Params {
        /// log2 N.
        log_n: u64,
        /// r.
        r: u64,
        /// p.
        p: u64,
    },
}

/// Whether `hash` (the Secret's `hash` value) is k3s's hash of `password`. Costs one
/// scrypt run (about 32 MiB and tens of milliseconds at k3s's parameters): run it off
/// the async executor.
pub fn verify_node_password_hash(
    hash: &str,
    password: &NodePassword,
) -> Result<bool, NodePasswordHashError> {
    use NodePasswordHashError::Malformed;
    let fields: Vec<&str> = hash
        .strip_prefix("$1:")
        .ok_or(Malformed("it does not start with $1:"))?
        .split(':')
        .collect();
    let [salt, log_n, r, p, key] = fields[..] else {
        return Err(Malformed("expected six ':'-separated fields"));
    };
    let salt = ::hex::decode(salt).map_err(|_| Malformed("the salt is not hex"))?;
    let num = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| Malformed("N, r or p is not a number"))
    };
    let (log_n, r, p) = (num(log_n)?, num(r)?, num(p)?);
    let key = STANDARD_NO_PAD
        .decode(key)
        .map_err(|_| Malformed("the key is not unpadded Base64"))?;
    if key.is_empty() || key.len() > 1024 {
        return Err(Malformed("the key length is outside 1..=1024 bytes"));
    }
    let params_err = NodePasswordHashError::Params { log_n, r, p };
    if log_n == 0 || log_n > MAX_LOG_N || r == 0 || p == 0 || r * p > 64 {
        return Err(params_err);
    }
    let params =
        scrypt::Params::new(log_n as u8, r as u32, p as u32).map_err(|_| params_err.clone())?;
    let mut derived = zeroize::Zeroizing::new(vec![0u8; key.len()]);
    scrypt::scrypt(password.expose().as_bytes(), &salt, &params, &mut derived)
        .map_err(|_| params_err)?;
    Ok(bool::from(derived.as_slice().ct_eq(&key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python: `hashlib.scrypt(b"0123456789abcdef0123456789abcdef",
    /// salt=bytes.fromhex("0011223344556677"), n=1<<15, r=8, p=1, maxmem=64<<20, dklen=64)`,
    /// Base64 without padding.
    const VECTOR: &str = "$1:0011223344556677:15:8:1:/iOHeRy1TFHxZwR120qD+iWh49/3AGWm5XTQc7AbbofjwG/Y9CHpZK14leq861JNp0AVgiVA1K/oSSXK4A3XFA";

    fn pw(s: &str) -> NodePassword {
        NodePassword::new(s.into()).unwrap()
    }

    #[test]
    fn k3s_hashes_verify_and_others_do_not() {
        assert_eq!(
            verify_node_password_hash(VECTOR, &pw("0123456789abcdef0123456789abcdef")),
            Ok(true)
        );
        assert_eq!(
            verify_node_password_hash(VECTOR, &pw("0123456789abcdef0123456789abcdee")),
            Ok(false)
        );
    }

    #[test]
    fn malformed_and_expensive_hashes_are_refused() {
        let p = pw("0123456789abcdef0123456789abcdef");
        for bad in [
            "",
            "$2:00:15:8:1:AA",
            "$1:zz:15:8:1:AA",
            "$1:00:15:8:1",
            "$1:00:x:8:1:AA",
            "$1:00:15:8:1:!!",
        ] {
            assert!(
                matches!(
                    verify_node_password_hash(bad, &p),
                    Err(NodePasswordHashError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            verify_node_password_hash("$1:00:30:8:1:AAAA", &p),
            Err(NodePasswordHashError::Params { log_n: 30, .. })
        ));
    }
}
