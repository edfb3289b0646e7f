//! A spending limit with reservations: a request reserves what it could cost at most before it
//! runs (its prompt estimate and `max_tokens` at the model's prices), and settles the real cost
//! when it ends. A request that would take spent + reserved past the limit is refused before it
//! runs, so concurrent requests cannot overshoot together.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The limit in pico-dollars; `None` is unlimited.
    pub limit_pico: Option<i64>,
    /// Settled spending in pico-dollars.
    pub spent_pico: i64,
    /// Held by requests in flight.
    pub reserved_pico: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetRefusal {
    pub limit_pico: i64,
    pub spent_pico: i64,
    pub reserved_pico: i64,
    pub needed_pico: i64,
}

impl Budget {
    pub fn new(limit_pico: Option<i64>, spent_pico: i64) -> Budget {
        Budget { limit_pico, spent_pico, reserved_pico: 0 }
    }

    /// Whether `amount` more fits; nothing is reserved.
    pub fn check(&self, amount: i64) -> Result<(), BudgetRefusal> {
        match self.limit_pico {
            Some(limit) if self.spent_pico.saturating_add(self.reserved_pico).saturating_add(amount) > limit => {
                Err(BudgetRefusal {
                    limit_pico: limit,
                    spent_pico: self.spent_pico,
                    reserved_pico: self.reserved_pico,
                    needed_pico: amount,
                })
            }
            _ => Ok(()),
        }
    }

    pub fn reserve(&mut self, amount: i64) -> Result<(), BudgetRefusal> {
        self.check(amount)?;
        self.reserved_pico += amount;
        Ok(())
    }

    /// Ends a reservation with the real cost (which may be more than reserved when the
    /// estimate of the prompt was low; spending is recorded whatever it was).
    pub fn settle(&mut self, reserved: i64, actual: i64) {
        self.reserved_pico = (self.reserved_pico - reserved).max(0);
        self.spent_pico = self.spent_pico.saturating_add(actual);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_against_the_limit() {
        let mut b = Budget::new(Some(100), 10);
        assert!(b.reserve(60).is_ok());
        let refusal = b.reserve(31).unwrap_err();
        assert_eq!((refusal.spent_pico, refusal.reserved_pico, refusal.needed_pico), (10, 60, 31));
        b.settle(60, 20);
        assert_eq!((b.spent_pico, b.reserved_pico), (30, 0));
        assert!(b.reserve(70).is_ok());
        assert!(b.reserve(1).is_err());
    }

    #[test]
    fn unlimited_never_refuses() {
        let mut b = Budget::new(None, i64::MAX - 1);
        assert!(b.reserve(i64::MAX).is_ok());
    }
}
