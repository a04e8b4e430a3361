//! Fault injection: `429:0.1,5xx:0.05,timeout:0.02,malformed:0.02,drop:0.02,latency:50ms`
//! — each applied per request at its probability (latency: always, that long).

use std::str::FromStr;
use std::time::Duration;

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Served normally.
    None,
    /// Served after a delay.
    Latency(Duration),
    /// HTTP 429.
    TooMany,
    /// HTTP 503.
    ServerError,
    /// No answer for a long time, then 504.
    Timeout(Duration),
    /// HTTP 200 with a truncated JSON body.
    Malformed,
    /// The connection breaks mid-body.
    Drop,
}

/// Probabilities of each fault, and a deterministic random source.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    too_many: f64,
    server_error: f64,
    timeout: f64,
    malformed: f64,
    drop: f64,
    latency: Duration,
    timeout_after: Duration,
    state: u64,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults {
            timeout_after: crate::server::TIMEOUT_FAULT,
            state: 0x9e37_79b9_7f4a_7c15,
            ..Default::default()
        }
    }

    /// Sets how long a `timeout` fault hangs (default 35 s).
    pub fn with_timeout_after(mut self, d: Duration) -> Self {
        self.timeout_after = d;
        self
    }

    fn next(&mut self) -> f64 {
        // xorshift64*
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Draws the fault for one request.
    pub fn draw(&mut self) -> Fault {
        let r = self.next();
        let mut acc = 0.0;
        for (p, f) in [
            (self.too_many, Fault::TooMany),
            (self.server_error, Fault::ServerError),
            (self.timeout, Fault::Timeout(self.timeout_after)),
            (self.malformed, Fault::Malformed),
            (self.drop, Fault::Drop),
        ] {
            acc += p;
            if r < acc {
                return f;
            }
        }
        if self.latency.is_zero() {
            Fault::None
        } else {
            Fault::Latency(self.latency)
        }
    }
}

impl FromStr for Faults {
    type Err = String;
    fn from_str(spec: &str) -> Result<Self, String> {
        let mut f = Faults::none();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once(':').ok_or_else(|| {
                format!("fault {part:?} is not kind:value (e.g. 429:0.1 or latency:50ms)")
            })?;
            if k == "latency" {
                let ms = v
                    .strip_suffix("ms")
                    .ok_or_else(|| format!("latency {v:?} must be in ms, e.g. latency:50ms"))?;
                f.latency = Duration::from_millis(
                    ms.parse()
                        .map_err(|_| format!("latency {v:?} is not a number of ms"))?,
                );
                continue;
            }
            let p: f64 = v
                .parse()
                .map_err(|_| format!("fault {k}: probability {v:?} is not a number"))?;
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("fault {k}: probability {p} is not between 0 and 1"));
            }
            match k {
                "429" => f.too_many = p,
                "5xx" => f.server_error = p,
                "timeout" => f.timeout = p,
                "malformed" => f.malformed = p,
                "drop" => f.drop = p,
                other => {
                    return Err(format!(
                        "unknown fault {other:?}: use 429, 5xx, timeout, malformed, drop or latency"
                    ));
                }
            }
        }
        if f.too_many + f.server_error + f.timeout + f.malformed + f.drop > 1.0 {
            return Err("fault probabilities add up to more than 1".into());
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_and_draws_at_about_the_rates() {
        let mut f: Faults = "429:0.1,5xx:0.05,timeout:0.02,malformed:0.02,drop:0.02,latency:50ms"
            .parse()
            .unwrap();
        let mut counts = [0usize; 6];
        for _ in 0..100_000 {
            let i = match f.draw() {
                Fault::TooMany => 0,
                Fault::ServerError => 1,
                Fault::Timeout(_) => 2,
                Fault::Malformed => 3,
                Fault::Drop => 4,
                Fault::Latency(d) => {
                    assert_eq!(d, Duration::from_millis(50));
                    5
                }
                Fault::None => unreachable!("latency is set"),
            };
            counts[i] += 1;
        }
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
        assert!((4_000..6_000).contains(&counts[1]), "{counts:?}");
        assert!((1_500..2_500).contains(&counts[2]), "{counts:?}");
        for bad in ["429", "429:2", "foo:0.1", "latency:50", "429:0.6,5xx:0.6"] {
            assert!(bad.parse::<Faults>().is_err(), "{bad}");
        }
        assert_eq!(Faults::none().draw(), Fault::None);
    }
}
