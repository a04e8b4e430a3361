//! k3s's node-password hash, as `k3s-io/k3s:pkg/authenticator/hash/scrypt.go` writes and
//! checks it, and as `pkg/nodepassword/nodepassword.go` stores it in the Secret
//! `kube-system/<node>.node-password.k3s` (data key `hash`).
//!
//! Format: `$1:<salt as %x>:<N>:<r>:<p>:<base64 RawStdEncoding of the key>`, created with an
//! 8-byte random salt, N = 15 (the cost is 2^N), r = 8, p = 1 and a 64-byte key. Verifying
//! takes N, r, p and the key length from the hash itself, as k3s does, and compares in
//! constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as RAW_STD;
use subtle::ConstantTimeEq as _;

/// The hash format version k3s writes and accepts (`hash.Version`).
pub const VERSION: u32 = 1;
/// log2 of the scrypt cost k3s uses (`NewSCrypt`: N = 15).
pub const LOG_N: u8 = 15;
/// scrypt block size.
pub const R: u32 = 8;
/// scrypt parallelism.
pub const P: u32 = 1;
/// Derived key length in bytes.
pub const KEY_LEN: usize = 64;
/// Salt length in bytes.
pub const SALT_LEN: usize = 8;

/// The largest cost this stand-in verifies (2^20 × r × 128 bytes of memory): a stored
/// hash with a larger one is refused rather than allowed to exhaust memory.
const MAX_LOG_N: u8 = 20;

/// Why a node password hash could not be checked, or did not match.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashError {
    /// The hash is not `$1:<hex>:<N>:<r>:<p>:<base64>`.
    #[error("node password hash is malformed: {0}")]
    Malformed(&'static str),
    /// The version field is not 1 (k3s's wording).
    #[error("hash version {0} does not match package version {VERSION}")]
    Version(u32),
    /// The parameters are outside what scrypt (or this stand-in) accepts.
    #[error("node password hash has unusable scrypt parameters: N={log_n} r={r} p={p}")]
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

/// Hashes `password` with a fresh random salt, in k3s's format.
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
        hex::encode(salt),
        RAW_STD.encode(key)
    )
}

/// Checks `password` against a stored hash, as `SCrypt.VerifyHash` does.
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

struct Parsed {
    salt: Vec<u8>,
    log_n: u8,
    r: u32,
    p: u32,
    key: Vec<u8>,
}

fn parse(hash: &str) -> Result<Parsed, HashError> {
    let rest = hash
        .strip_prefix('$')
        .ok_or(HashError::Malformed("it does not start with '$'"))?;
    let fields: Vec<&str> = rest.split(':').collect();
    if fields.len() != 6 {
        return Err(HashError::Malformed("expected 6 ':'-separated fields"));
    }
    let version: u32 = fields[0]
        .parse()
        .map_err(|_| HashError::Malformed("version is not a number"))?;
    if version != VERSION {
        return Err(HashError::Version(version));
    }
    let salt = hex::decode(fields[1]).map_err(|_| HashError::Malformed("salt is not hex"))?;
    let num =
        |s: &str, what: &'static str| s.parse::<u64>().map_err(|_| HashError::Malformed(what));
    let (log_n, r, p) = (
        num(fields[2], "N is not a number")?,
        num(fields[3], "r is not a number")?,
        num(fields[4], "p is not a number")?,
    );
    let key = RAW_STD
        .decode(fields[5])
        .map_err(|_| HashError::Malformed("key is not unpadded standard base64"))?;
    if key.is_empty() {
        return Err(HashError::Malformed("key is empty"));
    }
    let bad = HashError::Params { log_n, r, p };
    if log_n == 0 || log_n > u64::from(MAX_LOG_N) || r == 0 || p == 0 || r * p > 64 {
        return Err(bad);
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
) -> Result<Vec<u8>, HashError> {
    let bad = HashError::Params {
        log_n: log_n.into(),
        r: r.into(),
        p: p.into(),
    };
    let params = scrypt::Params::new(log_n, r, p).map_err(|_| bad.clone())?;
    let mut out = vec![0u8; len];
    scrypt::scrypt(password, salt, &params, &mut out).map_err(|_| bad)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with Python:
    /// `hashlib.scrypt(b"0123456789abcdef0123456789abcdef", salt=bytes.fromhex("0011223344556677"),
    ///  n=1<<15, r=8, p=1, maxmem=64<<20, dklen=64)`, base64 without padding.
    const VECTOR: &str = "$1:0011223344556677:15:8:1:/iOHeRy1TFHxZwR120qD+iWh49/3AGWm5XTQc7AbbofjwG/Y9CHpZK14leq861JNp0AVgiVA1K/oSSXK4A3XFA";
    const PASSWORD: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn matches_an_independent_vector() {
        let salt = hex::decode("0011223344556677").unwrap();
        assert_eq!(create_hash_with_salt(PASSWORD, &salt), VECTOR);
        assert_eq!(verify_hash(VECTOR, PASSWORD), Ok(()));
        assert_eq!(
            verify_hash(VECTOR, "0123456789abcdef0123456789abcdee"),
            Err(HashError::Mismatch)
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
        let hash = format!("$1:{}:4:8:1:{}", hex::encode(b"salt"), RAW_STD.encode(key));
        assert_eq!(verify_hash(&hash, "pw"), Ok(()));
    }

    #[test]
    fn parse_errors_name_the_problem() {
        assert_eq!(
            verify_hash("1:00:15:8:1:AA", "x"),
            Err(HashError::Malformed("it does not start with '$'"))
        );
        assert_eq!(
            verify_hash("$1:00:15:8:1", "x"),
            Err(HashError::Malformed("expected 6 ':'-separated fields"))
        );
        assert_eq!(
            verify_hash("$2:00:15:8:1:AA", "x"),
            Err(HashError::Version(2))
        );
        assert_eq!(
            verify_hash("$1:zz:15:8:1:AA", "x"),
            Err(HashError::Malformed("salt is not hex"))
        );
        assert_eq!(
            verify_hash("$1:00:15:8:1:A=", "x"),
            Err(HashError::Malformed("key is not unpadded standard base64"))
        );
        assert!(matches!(
            verify_hash("$1:00:40:8:1:AAAA", "x"),
            Err(HashError::Params { .. })
        ));
        assert_eq!(
            HashError::Version(2).to_string(),
            "hash version 2 does not match package version 1"
        );
    }
}
