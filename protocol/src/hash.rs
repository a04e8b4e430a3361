//! Blake2b-256, the hash Sui uses for addresses, digests and the node_id fingerprint.

use blake2::{Blake2b256, Digest};

/// Blake2b-256 over the concatenation of `parts`.
pub fn blake2b256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2b256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn blake2b256_of_empty_input_matches_the_reference_value() {
        // RFC 7693 parameters, 32-byte digest of "" (as computed by Python's hashlib).
        assert_eq!(
            ::hex::encode(super::blake2b256(&[])),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
        assert_eq!(
            super::blake2b256(&[b"ab", b"c"]),
            super::blake2b256(&[b"abc"])
        );
    }
}
