//! A token bucket refilled continuously: `capacity` tokens per minute, never more than
//! `capacity` banked. Integer arithmetic in milli-tokens, so no float drift over a long run.

use serde::{Deserialize, Serialize};

const MS_PER_MINUTE: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBucket {
    /// Tokens granted per minute, and the most the bucket holds.
    per_minute: u64,
    /// Level in milli-tokens; negative after a settlement that used more than was reserved
    /// (the debt is paid by waiting).
    level_milli: i128,
    last_ms: i64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_minute: u64, now_ms: i64) -> TokenBucket {
        TokenBucket { per_minute, level_milli: per_minute as i128 * 1000, last_ms: now_ms }
    }

    pub fn per_minute(&self) -> u64 {
        self.per_minute
    }

    /// Changes the rate, keeping the level (clamped to the new capacity).
    pub fn set_rate(&mut self, per_minute: u64, now_ms: i64) {
        self.refill(now_ms);
        self.per_minute = per_minute;
        self.level_milli = self.level_milli.min(per_minute as i128 * 1000);
    }

    fn refill(&mut self, now_ms: i64) {
        let elapsed = (now_ms - self.last_ms).max(0) as i128;
        // per_minute tokens per 60,000 ms = per_minute milli-tokens per 60 ms.
        let gained = elapsed * self.per_minute as i128 * 1000 / MS_PER_MINUTE as i128;
        // Only whole milli-tokens move the clock on, so fractions of a refill are never lost.
        if gained > 0 {
            self.level_milli = (self.level_milli + gained).min(self.per_minute as i128 * 1000);
            self.last_ms = now_ms.max(self.last_ms);
        }
    }

    /// Milliseconds until `amount` tokens are available; 0 when they are now.
    pub fn wait_ms(&mut self, amount: u64, now_ms: i64) -> u64 {
        self.refill(now_ms);
        let missing = amount as i128 * 1000 - self.level_milli;
        if missing <= 0 {
            return 0;
        }
        if self.per_minute == 0 {
            return u64::MAX;
        }
        let per_minute = self.per_minute as i128;
        // Round up so that waiting this long is always enough.
        ((missing * MS_PER_MINUTE as i128 + per_minute * 1000 - 1) / (per_minute * 1000)) as u64
    }

    /// Whether `amount` tokens could ever be granted at once.
    pub fn can_ever_grant(&self, amount: u64) -> bool {
        amount <= self.per_minute
    }

    /// Takes `amount` if available; otherwise the wait in milliseconds. Takes nothing on refusal.
    pub fn try_take(&mut self, amount: u64, now_ms: i64) -> Result<(), u64> {
        match self.wait_ms(amount, now_ms) {
            0 => {
                self.level_milli -= amount as i128 * 1000;
                Ok(())
            }
            wait => Err(wait),
        }
    }

    /// Takes `amount` unconditionally (the level may go negative): for usage beyond a reservation.
    pub fn force_take(&mut self, amount: u64, now_ms: i64) {
        self.refill(now_ms);
        self.level_milli -= amount as i128 * 1000;
    }

    /// Returns tokens reserved but not used.
    pub fn give_back(&mut self, amount: u64, now_ms: i64) {
        self.refill(now_ms);
        self.level_milli = (self.level_milli + amount as i128 * 1000).min(self.per_minute as i128 * 1000);
    }

    /// Whole tokens available now (never negative).
    pub fn available(&mut self, now_ms: i64) -> u64 {
        self.refill(now_ms);
        (self.level_milli.max(0) / 1000) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_bucket_grants_capacity_then_refuses_with_the_wait() {
        let mut b = TokenBucket::new(60, 0);
        for _ in 0..60 {
            assert_eq!(b.try_take(1, 0), Ok(()));
        }
        // One token per second refills.
        assert_eq!(b.try_take(1, 0), Err(1000));
        assert_eq!(b.try_take(1, 999), Err(1));
        assert_eq!(b.try_take(1, 1000), Ok(()));
    }

    #[test]
    fn refill_stops_at_capacity() {
        let mut b = TokenBucket::new(10, 0);
        assert_eq!(b.try_take(10, 0), Ok(()));
        assert_eq!(b.available(10 * 60_000), 10);
    }

    #[test]
    fn debt_from_a_settlement_delays_the_next_request() {
        let mut b = TokenBucket::new(600, 0);
        b.force_take(700, 0);
        // 100 tokens of debt plus 1 token at 10 tokens/s.
        assert_eq!(b.wait_ms(1, 0), 10_100);
        b.give_back(100, 0);
        assert_eq!(b.wait_ms(1, 0), 100);
    }

    #[test]
    fn a_zero_rate_never_grants() {
        let mut b = TokenBucket::new(0, 0);
        assert_eq!(b.try_take(1, 1_000_000), Err(u64::MAX));
        assert!(!b.can_ever_grant(1));
    }

    #[test]
    fn clock_going_backwards_grants_nothing_extra() {
        let mut b = TokenBucket::new(60, 10_000);
        assert_eq!(b.try_take(60, 10_000), Ok(()));
        assert!(b.try_take(1, 5_000).is_err());
        assert!(b.try_take(1, 10_500).is_err());
    }
}
