//! The few BCS encodings the signed claims need (DESIGN §5), via the `bcs` crate so
//! they are byte-for-byte what Move's `bcs::to_bytes` produces.

/// `bcs(String)` / `bcs(vector<u8>)`: ULEB128 length then the bytes.
pub(crate) fn bytes(v: &[u8]) -> Vec<u8> {
    bcs::to_bytes(v).expect("a byte slice always serializes")
}

/// `bcs(String)`.
pub(crate) fn string(s: &str) -> Vec<u8> {
    bcs::to_bytes(s).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    #[test]
    fn uleb128_length_prefix() {
        assert_eq!(super::string("abc"), b"\x03abc");
        let long = vec![7u8; 200];
        let enc = super::bytes(&long);
        assert_eq!(&enc[..2], &[0xc8, 0x01]);
        assert_eq!(enc.len(), 202);
    }
}
