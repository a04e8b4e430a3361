//! Hex as DESIGN §4 writes it: lowercase with `0x` on output; with or without `0x`, any
//! case, on input.

use thiserror::Error;

/// A string that is not the hex this project reads.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HexError {
    /// A character that is not a hex digit.
    #[error("invalid hex character {ch:?} at position {index}")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its position after any `0x` prefix.
        index: usize,
    },
    /// An odd number of hex digits.
    #[error("hex has an odd number of digits ({digits})")]
    OddLength {
        /// Number of digits after any `0x` prefix.
        digits: usize,
    },
    /// The decoded value has the wrong number of bytes.
    #[error("hex decodes to {got} bytes, expected {expected}")]
    Length {
        /// Bytes required.
        expected: usize,
        /// Bytes found.
        got: usize,
    },
}

/// Lowercase hex with a `0x` prefix.
pub fn encode_0x(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    s.push_str(&::hex::encode(bytes));
    s
}

/// Strips an optional `0x`/`0X` prefix.
pub fn strip_prefix(s: &str) -> &str {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s)
}

/// Decodes hex with or without `0x`, in any case.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let digits = strip_prefix(s.trim());
    if let Some((index, ch)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(HexError::InvalidChar { ch, index });
    }
    if !digits.len().is_multiple_of(2) {
        return Err(HexError::OddLength {
            digits: digits.len(),
        });
    }
    Ok(::hex::decode(digits).expect("digits were checked above"))
}

/// Decodes hex into exactly `N` bytes.
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let v = decode(s)?;
    v.as_slice().try_into().map_err(|_| HexError::Length {
        expected: N,
        got: v.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_any_case_with_or_without_prefix_and_writes_lowercase_0x() {
        assert_eq!(decode("0xDeAd").unwrap(), vec![0xde, 0xad]);
        assert_eq!(decode("dEaD").unwrap(), vec![0xde, 0xad]);
        assert_eq!(decode("0XDEAD").unwrap(), vec![0xde, 0xad]);
        assert_eq!(encode_0x(&[0xde, 0xad]), "0xdead");
    }

    #[test]
    fn rejects_bad_hex_with_a_precise_error() {
        assert_eq!(
            decode("0xzz"),
            Err(HexError::InvalidChar { ch: 'z', index: 0 })
        );
        assert_eq!(decode("abc"), Err(HexError::OddLength { digits: 3 }));
        assert_eq!(
            decode_array::<4>("0xdead"),
            Err(HexError::Length {
                expected: 4,
                got: 2
            })
        );
    }
}
