//! Prices per model, and the cost of a request, in exact integers.
//!
//! A price is micro-US-dollars per million tokens (`$0.15 / 1M` = 150,000), so the cost of one
//! request in pico-dollars is `tokens × price` with no rounding at all: sums over millions of
//! requests match the per-request records to the last digit.

use serde::{Deserialize, Serialize};

/// Pico-dollars in a micro-dollar.
pub const PICO_PER_MICRO: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Micro-dollars per million prompt tokens.
    pub input_micro_per_mtok: i64,
    /// Micro-dollars per million completion tokens.
    pub output_micro_per_mtok: i64,
}

impl Price {
    /// From dollars per million tokens, as people write prices ($0.15 → 150,000 µ$).
    pub fn from_usd_per_mtok(input: f64, output: f64) -> Option<Price> {
        let micro = |usd: f64| {
            let m = (usd * 1e6).round();
            (usd.is_finite() && usd >= 0.0 && m <= 1e15).then_some(m as i64)
        };
        Some(Price { input_micro_per_mtok: micro(input)?, output_micro_per_mtok: micro(output)? })
    }

    /// The exact cost in pico-dollars.
    pub fn cost_pico(&self, prompt_tokens: u64, completion_tokens: u64) -> i64 {
        let c = prompt_tokens as i128 * self.input_micro_per_mtok as i128
            + completion_tokens as i128 * self.output_micro_per_mtok as i128;
        c.min(i64::MAX as i128) as i64
    }
}

/// Pico-dollars as dollars, for people.
pub fn pico_to_usd(pico: i64) -> f64 {
    pico as f64 / 1e12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact() {
        let p = Price::from_usd_per_mtok(0.15, 0.60).unwrap();
        assert_eq!(p, Price { input_micro_per_mtok: 150_000, output_micro_per_mtok: 600_000 });
        // 1M prompt tokens cost $0.15 = 150,000 µ$ = 1.5e11 p$.
        assert_eq!(p.cost_pico(1_000_000, 0), 150_000 * PICO_PER_MICRO);
        assert_eq!(p.cost_pico(3, 7), 3 * 150_000 + 7 * 600_000);
        assert!((pico_to_usd(p.cost_pico(1_000_000, 1_000_000)) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn bad_prices_are_refused() {
        assert!(Price::from_usd_per_mtok(-1.0, 0.0).is_none());
        assert!(Price::from_usd_per_mtok(f64::NAN, 0.0).is_none());
        assert!(Price::from_usd_per_mtok(0.0, 1e12).is_none());
    }
}
