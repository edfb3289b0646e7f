//! Requests-per-minute and tokens-per-minute limits for keys and tenants.
//!
//! A request is admitted only if every bucket that applies to it (its key's and its tenant's,
//! requests and tokens) can grant it; then all of them are charged together, so a refusal
//! charges nothing. Tokens are reserved up front (the prompt estimate plus `max_tokens`) and the
//! reservation is settled with the real count when the request ends: unused tokens return to the
//! buckets, extra ones are charged as debt.

use crate::bucket::TokenBucket;
use std::collections::HashMap;

/// Per-minute limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Key(i64),
    Tenant(i64),
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Key(_) => "key",
            Scope::Tenant(_) => "tenant",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitKind {
    Requests,
    Tokens,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Requests => "requests per minute",
            LimitKind::Tokens => "tokens per minute",
        }
    }
}

/// Which limit refused a request, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub scope: Scope,
    pub kind: LimitKind,
    pub limit: u64,
    pub retry_after_ms: u64,
    /// The request asks for more than the limit grants in a whole minute: waiting will not help.
    pub too_large: bool,
}

/// What an admitted request holds until it is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub reserved_tokens: u64,
    token_scopes: Vec<Scope>,
}

#[derive(Debug, Default)]
pub struct Limiter {
    buckets: HashMap<(Scope, LimitKind), TokenBucket>,
}

impl Limiter {
    pub fn new() -> Limiter {
        Limiter::default()
    }

    fn bucket(&mut self, scope: Scope, kind: LimitKind, rate: u64, now_ms: i64) -> &mut TokenBucket {
        let bucket = self.buckets.entry((scope, kind)).or_insert_with(|| TokenBucket::new(rate, now_ms));
        if bucket.per_minute() != rate {
            bucket.set_rate(rate, now_ms);
        }
        bucket
    }

    /// Admits a request that reserves `tokens`, under every `(scope, limits)` given, or says
    /// which limit refuses it (the one with the longest wait).
    pub fn admit(&mut self, checks: &[(Scope, Limits)], tokens: u64, now_ms: i64) -> Result<Admission, Refusal> {
        let mut worst: Option<Refusal> = None;
        for &(scope, limits) in checks {
            for (kind, rate, amount) in [(LimitKind::Requests, limits.rpm, 1), (LimitKind::Tokens, limits.tpm, tokens)]
            {
                let Some(rate) = rate else { continue };
                let bucket = self.bucket(scope, kind, rate, now_ms);
                let too_large = !bucket.can_ever_grant(amount);
                let wait = bucket.wait_ms(amount, now_ms);
                if wait > 0 && worst.is_none_or(|w| (too_large, wait) > (w.too_large, w.retry_after_ms)) {
                    worst = Some(Refusal { scope, kind, limit: rate, retry_after_ms: wait, too_large });
                }
            }
        }
        if let Some(refusal) = worst {
            return Err(refusal);
        }
        let mut token_scopes = Vec::new();
        for &(scope, limits) in checks {
            if let Some(rate) = limits.rpm {
                self.bucket(scope, LimitKind::Requests, rate, now_ms).force_take(1, now_ms);
            }
            if let Some(rate) = limits.tpm {
                self.bucket(scope, LimitKind::Tokens, rate, now_ms).force_take(tokens, now_ms);
                token_scopes.push(scope);
            }
        }
        Ok(Admission { reserved_tokens: tokens, token_scopes })
    }

    /// Settles an admission with the tokens really used.
    pub fn settle(&mut self, admission: &Admission, used_tokens: u64, now_ms: i64) {
        for scope in &admission.token_scopes {
            let Some(bucket) = self.buckets.get_mut(&(*scope, LimitKind::Tokens)) else { continue };
            if used_tokens <= admission.reserved_tokens {
                bucket.give_back(admission.reserved_tokens - used_tokens, now_ms);
            } else {
                bucket.force_take(used_tokens - admission.reserved_tokens, now_ms);
            }
        }
    }

    /// Drops a scope's buckets (a revoked key, a deleted tenant).
    pub fn forget(&mut self, scope: Scope) {
        self.buckets.retain(|(s, _), _| *s != scope);
    }

    /// Tokens a scope's token bucket has now; `None` when it has no token limit yet.
    pub fn tokens_available(&mut self, scope: Scope, now_ms: i64) -> Option<u64> {
        self.buckets.get_mut(&(scope, LimitKind::Tokens)).map(|b| b.available(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Scope = Scope::Key(1);
    const TENANT: Scope = Scope::Tenant(7);

    #[test]
    fn rpm_refuses_the_request_over_the_limit_and_names_it() {
        let mut l = Limiter::new();
        let checks = [(KEY, Limits { rpm: Some(2), tpm: None }), (TENANT, Limits::default())];
        assert!(l.admit(&checks, 10, 0).is_ok());
        assert!(l.admit(&checks, 10, 0).is_ok());
        let r = l.admit(&checks, 10, 0).unwrap_err();
        assert_eq!((r.scope, r.kind, r.limit, r.retry_after_ms), (KEY, LimitKind::Requests, 2, 30_000));
        assert!(l.admit(&checks, 10, 30_000).is_ok());
    }

    #[test]
    fn a_refusal_charges_nothing() {
        let mut l = Limiter::new();
        let checks = [(KEY, Limits { rpm: Some(100), tpm: None }), (TENANT, Limits { rpm: None, tpm: Some(50) })];
        assert!(l.admit(&checks, 40, 0).is_ok());
        let r = l.admit(&checks, 40, 0).unwrap_err();
        assert_eq!((r.scope, r.kind), (TENANT, LimitKind::Tokens));
        // The key's request bucket was not charged for the refused request.
        let only_key = [(KEY, Limits { rpm: Some(100), tpm: None })];
        for _ in 0..99 {
            assert!(l.admit(&only_key, 0, 0).is_ok());
        }
        assert!(l.admit(&only_key, 0, 0).is_err());
    }

    #[test]
    fn settling_returns_unused_tokens_and_charges_extra_ones() {
        let mut l = Limiter::new();
        let checks = [(KEY, Limits { rpm: None, tpm: Some(1000) })];
        let a = l.admit(&checks, 600, 0).unwrap();
        l.settle(&a, 100, 0);
        assert_eq!(l.tokens_available(KEY, 0), Some(900));
        let b = l.admit(&checks, 100, 0).unwrap();
        l.settle(&b, 400, 0);
        assert_eq!(l.tokens_available(KEY, 0), Some(500));
    }

    #[test]
    fn a_request_larger_than_a_minute_of_tokens_is_too_large() {
        let mut l = Limiter::new();
        let r = l.admit(&[(KEY, Limits { rpm: None, tpm: Some(100) })], 101, 0).unwrap_err();
        assert!(r.too_large);
    }

    #[test]
    fn a_changed_limit_applies_at_once() {
        let mut l = Limiter::new();
        assert!(l.admit(&[(KEY, Limits { rpm: Some(10), tpm: None })], 0, 0).is_ok());
        // Lowered to 1 per minute: the bank shrinks to one request, then the new rate holds.
        assert!(l.admit(&[(KEY, Limits { rpm: Some(1), tpm: None })], 0, 0).is_ok());
        let r = l.admit(&[(KEY, Limits { rpm: Some(1), tpm: None })], 0, 0).unwrap_err();
        assert_eq!(r.retry_after_ms, 60_000);
    }
}
