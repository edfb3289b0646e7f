//! Invariants of the gateway's pure decisions under arbitrary sequences of events.

use proptest::prelude::*;
use strata_gateway_core::{choose_replica, Budget, Limiter, Limits, ReplicaLoad, Scope, TokenBucket};

proptest! {
    /// Over any window, a bucket grants at most its capacity plus what refills in the window.
    #[test]
    fn a_bucket_never_grants_more_than_its_rate(
        per_minute in 1u64..10_000,
        steps in prop::collection::vec((0i64..5_000, 1u64..500), 1..200),
    ) {
        let mut bucket = TokenBucket::new(per_minute, 0);
        let (mut now, mut granted) = (0i64, 0u128);
        for (advance, amount) in steps {
            now += advance;
            if bucket.try_take(amount, now).is_ok() {
                granted += amount as u128;
            }
        }
        let refill = now as u128 * per_minute as u128 / 60_000;
        prop_assert!(granted <= per_minute as u128 + refill + 1);
    }

    /// Whatever the order of reservations and settlements, a reservation never takes spent plus
    /// reserved past the limit.
    #[test]
    fn a_budget_is_never_overshot_by_reservations(
        limit in 0i64..1_000_000,
        ops in prop::collection::vec((0i64..200_000, 0i64..200_000, any::<bool>()), 1..100),
    ) {
        let mut budget = Budget::new(Some(limit), 0);
        let mut open: Vec<(i64, i64)> = Vec::new();
        for (reserve, actual, settle) in ops {
            if settle && !open.is_empty() {
                let (r, a) = open.remove(0);
                budget.settle(r, a.min(r));
            } else if budget.reserve(reserve).is_ok() {
                open.push((reserve, actual));
            }
            prop_assert!(budget.spent_pico + budget.reserved_pico <= limit);
        }
    }

    /// Admitting and settling through the limiter never lets requests per minute exceed the rpm.
    #[test]
    fn the_limiter_holds_rpm(rpm in 1u64..100, gaps in prop::collection::vec(0i64..2_000, 1..300)) {
        let mut limiter = Limiter::new();
        let checks = [(Scope::Key(1), Limits { rpm: Some(rpm), tpm: None })];
        let mut now = 0i64;
        let mut admitted = 0u64;
        for gap in gaps {
            now += gap;
            if let Ok(a) = limiter.admit(&checks, 0, now) {
                limiter.settle(&a, 0, now);
                admitted += 1;
            }
        }
        prop_assert!(admitted <= rpm + (now as u64 * rpm) / 60_000 + 1);
    }

    /// The chosen replica is healthy, and one exists whenever any replica is healthy.
    #[test]
    fn routing_picks_a_healthy_replica(
        loads in prop::collection::vec((0u32..20, any::<bool>()), 0..12),
        prefix in prop::option::of(any::<u64>()),
        random in any::<u64>(),
    ) {
        let replicas: Vec<ReplicaLoad> = loads.iter().enumerate()
            .map(|(i, &(outstanding, healthy))| ReplicaLoad { id: i as u64, outstanding, healthy })
            .collect();
        match choose_replica(&replicas, prefix, random, 4) {
            Some(i) => prop_assert!(replicas[i].healthy),
            None => prop_assert!(replicas.iter().all(|r| !r.healthy)),
        }
    }
}
