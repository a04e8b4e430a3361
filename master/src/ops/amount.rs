//! Amounts of SUI and durations as operators type them.
//!
//! Amounts: a whole number is MIST (`1000000000`, `1_000_000_000`); a number with a
//! `SUI` suffix is SUI with at most 9 decimals (`1SUI`, `0.5 SUI`, `2.25sui`); `MIST`
//! may be written too (`1500 MIST`). Anything else — a fraction without a unit, more
//! than 9 decimals, a sign, an exponent, more than `u64::MAX` MIST — is refused with
//! the reason, never rounded.
//!
//! Durations: a whole number is milliseconds (the unit the registry stores); suffixes
//! `ms`, `s`, `m`, `h`, `d` (`7d`, `36h`, `1500ms`).

use std::fmt;
use std::str::FromStr;

use daas_protocol::onchain::MIST_PER_SUI;
use serde::Serialize;

/// An amount of MIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Amount(pub u64);

impl Amount {
    /// MIST.
    pub const fn mist(self) -> u64 {
        self.0
    }
}

fn digits(s: &str) -> Option<&str> {
    (!s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
    .then_some(s)
}

fn parse_whole(s: &str) -> Option<u64> {
    digits(s)?.replace('_', "").parse().ok()
}

impl FromStr for Amount {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let lower = s.to_ascii_lowercase();
        let (number, unit) = if let Some(n) = lower.strip_suffix("mist") {
            (n.trim_end(), "mist")
        } else if let Some(n) = lower.strip_suffix("sui") {
            (n.trim_end(), "sui")
        } else {
            (lower.as_str(), "")
        };
        let bad = |why: &str| format!("amount {input:?}: {why}");
        if number.is_empty() {
            return Err(bad(
                "no number: write MIST (1000000000) or SUI with the unit (1SUI, 0.5 SUI)",
            ));
        }
        if number.starts_with('-') || number.starts_with('+') {
            return Err(bad("amounts have no sign"));
        }
        match unit {
            "sui" => {
                let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
                let whole = if whole.is_empty() { "0" } else { whole };
                let w = parse_whole(whole).ok_or_else(|| bad("not a decimal number of SUI"))?;
                if number.contains('.') && (frac.is_empty() || digits(frac).is_none()) {
                    return Err(bad("not a decimal number of SUI"));
                }
                let frac = frac.replace('_', "");
                if frac.len() > 9 {
                    return Err(bad(
                        "more than 9 decimals: 1 MIST = 0.000000001 SUI is the smallest amount",
                    ));
                }
                let f: u64 = if frac.is_empty() {
                    0
                } else {
                    format!("{frac:0<9}").parse().expect("9 digits")
                };
                w.checked_mul(MIST_PER_SUI)
                    .and_then(|m| m.checked_add(f))
                    .map(Amount)
                    .ok_or_else(|| bad("more than 18446744073709551615 MIST"))
            }
            _ => {
                if number.contains('.') || number.contains(',') {
                    return Err(bad(
                        "a MIST amount is a whole number: add the unit for SUI (e.g. 0.5SUI)",
                    ));
                }
                if digits(number).is_none() {
                    return Err(bad(
                        "not a number: write MIST (1000000000) or SUI with the unit (1SUI, 0.5 SUI)",
                    ));
                }
                parse_whole(number)
                    .map(Amount)
                    .ok_or_else(|| bad("more than 18446744073709551615 MIST"))
            }
        }
    }
}

impl fmt::Display for Amount {
    /// `1.5 SUI (1500000000 MIST)`, or `0 SUI`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} MIST)", sui_string(self.0), self.0)
    }
}

/// `1.5 SUI`: MIST as SUI, without trailing zeros.
pub fn sui_string(mist: u64) -> String {
    let whole = mist / MIST_PER_SUI;
    let frac = mist % MIST_PER_SUI;
    if frac == 0 {
        format!("{whole} SUI")
    } else {
        let f = format!("{frac:09}");
        format!("{whole}.{} SUI", f.trim_end_matches('0'))
    }
}

/// A duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DurationMs(pub u64);

impl FromStr for DurationMs {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, String> {
        let s = input.trim().to_ascii_lowercase();
        let bad = |why: &str| format!("duration {input:?}: {why}");
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let factor: u64 = match unit.trim() {
            "" | "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(bad(
                    "expected a whole number with an optional unit ms, s, m, h or d (e.g. 7d, 36h, 1500ms)",
                ));
            }
        };
        let n = parse_whole(number).ok_or_else(|| {
            bad("expected a whole number with an optional unit ms, s, m, h or d (e.g. 7d, 36h, 1500ms)")
        })?;
        n.checked_mul(factor)
            .map(DurationMs)
            .ok_or_else(|| bad("too long"))
    }
}

impl fmt::Display for DurationMs {
    /// `7d (604800000 ms)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        let human = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ]
        .into_iter()
        .find(|(u, _)| ms >= *u && ms.is_multiple_of(*u))
        .map(|(u, name)| format!("{}{name}", ms / u))
        .unwrap_or_else(|| format!("{ms}ms"));
        write!(f, "{human} ({ms} ms)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> u64 {
        s.parse::<Amount>().unwrap_or_else(|e| panic!("{s}: {e}")).0
    }

    fn err(s: &str) -> String {
        s.parse::<Amount>().unwrap_err()
    }

    #[test]
    fn amounts_in_mist_and_sui() {
        assert_eq!(ok("1000000000"), 1_000_000_000);
        assert_eq!(ok("1_000_000_000"), 1_000_000_000);
        assert_eq!(ok("1SUI"), 1_000_000_000);
        assert_eq!(ok("1 SUI"), 1_000_000_000);
        assert_eq!(ok("0.5 SUI"), 500_000_000);
        assert_eq!(ok(".5sui"), 500_000_000);
        assert_eq!(ok("2.25Sui"), 2_250_000_000);
        assert_eq!(ok("0.000000001 SUI"), 1);
        assert_eq!(ok("1500 MIST"), 1500);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("18446744073709551615"), u64::MAX);
        assert_eq!(ok("18446744073.709551615SUI"), u64::MAX);
    }

    #[test]
    fn ambiguous_or_too_precise_amounts_are_refused_with_the_reason() {
        assert!(err("1.5").contains("whole number"), "{}", err("1.5"));
        assert!(err("0.0000000001SUI").contains("9 decimals"));
        assert!(err("-1").contains("sign"));
        assert!(err("+1SUI").contains("sign"));
        assert!(err("1e9").contains("not a number"));
        assert!(err("SUI").contains("no number"));
        assert!(err("").contains("no number"));
        assert!(err("18446744073709551616").contains("more than"));
        assert!(err("18446744074SUI").contains("more than"));
        assert!(err("1.SUI").contains("decimal"));
        assert!(err("1,5SUI").contains("decimal"));
        assert!(err("1 000").contains("not a number"));
        assert!(err("_1").contains("not a number"));
        assert!(err("1 BTC").contains("not a number"));
        assert!(err("12abc").contains("\"12abc\""), "the input is named");
    }

    #[test]
    fn amounts_print_in_both_units() {
        assert_eq!(
            Amount(1_500_000_000).to_string(),
            "1.5 SUI (1500000000 MIST)"
        );
        assert_eq!(sui_string(0), "0 SUI");
        assert_eq!(sui_string(1), "0.000000001 SUI");
        assert_eq!(sui_string(2_000_000_000), "2 SUI");
    }

    #[test]
    fn durations() {
        let d = |s: &str| s.parse::<DurationMs>().unwrap().0;
        assert_eq!(d("7d"), 604_800_000);
        assert_eq!(d("36h"), 129_600_000);
        assert_eq!(d("90m"), 5_400_000);
        assert_eq!(d("30s"), 30_000);
        assert_eq!(d("1500ms"), 1500);
        assert_eq!(d("1500"), 1500);
        assert_eq!(d("1_000"), 1000);
        for bad in ["", "7w", "1.5d", "-1d", "d", "99999999999999999999d"] {
            assert!(bad.parse::<DurationMs>().is_err(), "{bad}");
        }
        assert_eq!(DurationMs(604_800_000).to_string(), "7d (604800000 ms)");
        assert_eq!(DurationMs(1500).to_string(), "1500ms (1500 ms)");
    }
}
