//! k3s's node-password hash (feature `k3s`), both halves: what the k3s server writes into
//! `kube-system/<node>.node-password.k3s` (data key `hash`) when a node first joins, and
//! the check the master makes before it activates a worker (DESIGN §10). One
//! implementation for the master and the k3s stand-in (`daas-sandbox`'s `daas-k3s`).
//!
//! Format, as `k3s-io/k3s:pkg/authenticator/hash/scrypt.go` writes and checks it:
//! `$1:<salt as %x>:<log2 N>:<r>:<p>:<unpadded standard Base64 key>`, created with an
//! 8-byte random salt, N = 2^15, r = 8, p = 1 and a 64-byte key. Verifying takes N, r, p
//! and the key length from the hash itself, as k3s does, within bounds that keep memory
//! in check, and compares in constant time.
//!
//! One scrypt run costs about 32 MiB and tens of milliseconds at k3s's parameters: call
//! these off the async executor.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as RAW_STD;
use subtle::ConstantTimeEq as _;
use thiserror::Error;

use crate::secret::NodePassword;

/// The hash format version k3s writes and accepts (`hash.Version`).
pub const VERSION: u32 = 1;
/// log2 of the scrypt cost k3s uses (`NewSCrypt`: N = 2^15).
pub const LOG_N: u8 = 15;
/// scrypt block size.
pub const R: u32 = 8;
/// scrypt parallelism.
pub const P: u32 = 1;
/// Derived key length in bytes.
pub const KEY_LEN: usize = 64;
/// Salt length in bytes.
pub const SALT_LEN: usize = 8;

/// The largest cost verified (2^20 × r × 128 bytes of memory): a stored hash with a
/// larger one is refused rather than allowed to exhaust memory.
const MAX_LOG_N: u64 = 20;
/// The longest derived key verified.
const MAX_KEY_LEN: usize = 1024;

/// Why a node-password hash could not be checked, or did not match. Never carries the
/// password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HashError {
    /// Not `$<version>:<hex>:<N>:<r>:<p>:<base64>`.
    #[error("node password hash is malformed: {0}")]
    Malformed(&'static str),
    /// The version field is not 1 (k3s's wording).
    #[error("hash version {0} does not match package version {VERSION}")]
    Version(u32),
    /// Parameters outside what scrypt accepts or what is verified here.
    #[error("node password hash has unusable scrypt parameters: N=2^{log_n} r={r} p={p}")]
    Params {
        /// log2 N.
        log_n: u64,
        /// r.
        r: u64,
        /// p.
        p: u64,
    },
    /// The password does not match (k3s's wording).
    #[error("hash does not match")]
    Mismatch,
}

/// Hashes `password` with a fresh random salt, in k3s's format (what the k3s server
/// stores when a node joins for the first time).
pub fn create_hash(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).expect("the operating system provides random bytes");
    create_hash_with_salt(password, &salt)
}

/// Hashes `password` with the given salt (tests and vectors).
pub fn create_hash_with_salt(password: &str, salt: &[u8]) -> String {
    let key = derive(password.as_bytes(), salt, LOG_N, R, P, KEY_LEN)
        .expect("k3s's parameters are valid");
    format!(
        "${VERSION}:{}:{LOG_N}:{R}:{P}:{}",
        ::hex::encode(salt),
        RAW_STD.encode(key.as_slice())
    )
}

/// Checks `password` against a stored hash, as k3s's `SCrypt.VerifyHash` does.
pub fn verify_hash(hash: &str, password: &str) -> Result<(), HashError> {
    let parsed = parse(hash)?;
    let key = derive(
        password.as_bytes(),
        &parsed.salt,
        parsed.log_n,
        parsed.r,
        parsed.p,
        parsed.key.len(),
    )?;
    if bool::from(key.as_slice().ct_eq(parsed.key.as_slice())) {
        Ok(())
    } else {
        Err(HashError::Mismatch)
    }
}

/// Whether `hash` (the node-password Secret's `hash` value) is k3s's hash of the
/// worker's node password: `Ok(false)` for another password, an error for a hash that
/// cannot be checked.
pub fn verify_node_password_hash(hash: &str, password: &NodePassword) -> Result<bool, HashError> {
    match verify_hash(hash, password.expose()) {
        Ok(()) => Ok(true),
        Err(HashError::Mismatch) => Ok(false),
        Err(e) => Err(e),
    }
}

struct Parsed {
    salt: Vec<u8>,
    log_n: u8,
    r: u32,
    p: u32,
    key: Vec<u8>,
}

fn parse(hash: &str) -> Result<Parsed, HashError> {
    use HashError::Malformed;
    let rest = hash
        .strip_prefix('$')
        .ok_or(Malformed("it does not start with '$'"))?;
    let fields: Vec<&str> = rest.split(':').collect();
    let [version, salt, log_n, r, p, key] = fields[..] else {
        return Err(Malformed("expected 6 ':'-separated fields"));
    };
    let version: u32 = version
        .parse()
        .map_err(|_| Malformed("version is not a number"))?;
    if version != VERSION {
        return Err(HashError::Version(version));
    }
    let salt = ::hex::decode(salt).map_err(|_| Malformed("salt is not hex"))?;
    let num = |s: &str, what: &'static str| s.parse::<u64>().map_err(|_| Malformed(what));
    let (log_n, r, p) = (
        num(log_n, "N is not a number")?,
        num(r, "r is not a number")?,
        num(p, "p is not a number")?,
    );
    let key = RAW_STD
        .decode(key)
        .map_err(|_| Malformed("key is not unpadded standard base64"))?;
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(Malformed("key length is outside 1..=1024 bytes"));
    }
    if log_n == 0 || log_n > MAX_LOG_N || r == 0 || p == 0 || r * p > 64 {
        return Err(HashError::Params { log_n, r, p });
    }
    Ok(Parsed {
        salt,
        log_n: log_n as u8,
        r: r as u32,
        p: p as u32,
        key,
    })
}

fn derive(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
    len: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>, HashError> {
    let bad = HashError::Params {
        log_n: log_n.into(),
        r: r.into(),
        p: p.into(),
    };
    let params = scrypt::Params::new(log_n, r, p).map_err(|_| bad.clone())?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; len]);
    scrypt::scrypt(password, salt, &params, &mut out).map_err(|_| bad)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with Python:
    /// `hashlib.scrypt(b"0123456789abcdef0123456789abcdef", salt=bytes.fromhex("0011223344556677"),
    ///  n=1<<15, r=8, p=1, maxmem=64<<20, dklen=64)`, Base64 without padding.
    const VECTOR: &str = "$1:0011223344556677:15:8:1:/iOHeRy1TFHxZwR120qD+iWh49/3AGWm5XTQc7AbbofjwG/Y9CHpZK14leq861JNp0AVgiVA1K/oSSXK4A3XFA";
    const PASSWORD: &str = "0123456789abcdef0123456789abcdef";

    fn pw(s: &str) -> NodePassword {
        NodePassword::new(s.into()).unwrap()
    }

    #[test]
    fn matches_an_independent_vector() {
        let salt = ::hex::decode("0011223344556677").unwrap();
        assert_eq!(create_hash_with_salt(PASSWORD, &salt), VECTOR);
        assert_eq!(verify_hash(VECTOR, PASSWORD), Ok(()));
        assert_eq!(
            verify_hash(VECTOR, "0123456789abcdef0123456789abcdee"),
            Err(HashError::Mismatch)
        );
        assert_eq!(verify_node_password_hash(VECTOR, &pw(PASSWORD)), Ok(true));
        assert_eq!(
            verify_node_password_hash(VECTOR, &pw("0123456789abcdef0123456789abcdee")),
            Ok(false)
        );
    }

    #[test]
    fn fresh_hashes_have_k3s_shape_and_verify() {
        let a = create_hash("pw");
        let b = create_hash("pw");
        assert_ne!(a, b, "salts are random");
        let f: Vec<&str> = a.split(':').collect();
        assert_eq!(f[0], "$1");
        assert_eq!(f[1].len(), 16);
        assert_eq!(&f[2..5], ["15", "8", "1"]);
        assert_eq!(f[5].len(), 86, "64 bytes in unpadded base64");
        assert_eq!(verify_hash(&a, "pw"), Ok(()));
        assert_eq!(verify_hash(&a, "px"), Err(HashError::Mismatch));
    }

    #[test]
    fn verify_takes_parameters_from_the_hash() {
        // A cheaper hash (N=2^4) written by someone else still verifies, as in Go.
        let key = derive(b"pw", b"salt", 4, 8, 1, 32).unwrap();
        let hash = format!(
            "$1:{}:4:8:1:{}",
            ::hex::encode(b"salt"),
            RAW_STD.encode(key.as_slice())
        );
        assert_eq!(verify_hash(&hash, "pw"), Ok(()));
    }

    #[test]
    fn malformed_and_expensive_hashes_are_refused_naming_the_problem() {
        let cases = [
            ("1:00:15:8:1:AA", "it does not start with '$'"),
            ("", "it does not start with '$'"),
            ("$1:00:15:8:1", "expected 6 ':'-separated fields"),
            ("$1:zz:15:8:1:AA", "salt is not hex"),
            ("$1:00:x:8:1:AA", "N is not a number"),
            ("$1:00:15:8:1:A=", "key is not unpadded standard base64"),
            ("$1:00:15:8:1:!!", "key is not unpadded standard base64"),
        ];
        for (bad, why) in cases {
            assert_eq!(
                verify_hash(bad, "x"),
                Err(HashError::Malformed(why)),
                "{bad}"
            );
        }
        assert_eq!(
            verify_hash("$2:00:15:8:1:AA", "x"),
            Err(HashError::Version(2))
        );
        assert!(matches!(
            verify_node_password_hash("$1:00:30:8:1:AAAA", &pw(PASSWORD)),
            Err(HashError::Params { log_n: 30, .. })
        ));
        assert_eq!(
            HashError::Version(2).to_string(),
            "hash version 2 does not match package version 1"
        );
    }
}
