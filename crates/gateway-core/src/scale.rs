//! How many replicas a deployment should have, from its load.
//!
//! Up at once when the work in flight per replica passes the target (a request held for a
//! deployment with no replica counts, so a scaled-to-zero deployment wakes on its first
//! request); down one replica at a time, only after the load has stayed low for
//! `scale_down_after_ms`; to zero only when `min` is 0 and no request came for `idle_to_zero_ms`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalePolicy {
    pub min: u32,
    pub max: u32,
    /// Requests in flight per replica above which another replica is added.
    pub target_in_flight: u32,
    pub scale_down_after_ms: i64,
    pub idle_to_zero_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleInput {
    /// The replica count asked for now.
    pub current: u32,
    /// Requests in flight or held waiting for a replica, summed over all gateways.
    pub in_flight: u32,
    /// When the last request arrived, if ever.
    pub last_request_ms: Option<i64>,
    /// When the replica count last changed.
    pub last_change_ms: i64,
    pub now_ms: i64,
}

pub fn desired_replicas(policy: &ScalePolicy, input: &ScaleInput) -> u32 {
    let target = policy.target_in_flight.max(1);
    let mut need = input.in_flight.div_ceil(target);
    let idle_since = input.last_request_ms.unwrap_or(input.last_change_ms);
    let idle = input.in_flight == 0 && input.now_ms - idle_since >= policy.idle_to_zero_ms;
    if need == 0 && !idle {
        // Recently used: keep one replica warm.
        need = 1;
    }
    let need = need.clamp(policy.min, policy.max.max(policy.min));
    if need > input.current {
        return need;
    }
    if need < input.current && input.now_ms - input.last_change_ms >= policy.scale_down_after_ms {
        return if need == 0 { 0 } else { input.current - 1 };
    }
    input.current
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ScalePolicy =
        ScalePolicy { min: 0, max: 4, target_in_flight: 4, scale_down_after_ms: 30_000, idle_to_zero_ms: 300_000 };

    fn input(current: u32, in_flight: u32, last_request_ms: Option<i64>, now_ms: i64) -> ScaleInput {
        ScaleInput { current, in_flight, last_request_ms, last_change_ms: 0, now_ms }
    }

    #[test]
    fn a_held_request_wakes_a_deployment_at_zero() {
        assert_eq!(desired_replicas(&POLICY, &input(0, 1, Some(1_000), 1_000)), 1);
    }

    #[test]
    fn load_above_target_adds_replicas_at_once_up_to_max() {
        assert_eq!(desired_replicas(&POLICY, &input(1, 9, Some(10), 10)), 3);
        assert_eq!(desired_replicas(&POLICY, &input(1, 100, Some(10), 10)), 4);
    }

    #[test]
    fn scale_down_waits_and_goes_one_at_a_time() {
        assert_eq!(desired_replicas(&POLICY, &input(3, 1, Some(10_000), 10_000)), 3);
        assert_eq!(desired_replicas(&POLICY, &input(3, 1, Some(40_000), 40_000)), 2);
    }

    #[test]
    fn idle_goes_to_zero_only_when_min_is_zero() {
        assert_eq!(desired_replicas(&POLICY, &input(1, 0, Some(0), 299_999)), 1);
        assert_eq!(desired_replicas(&POLICY, &input(1, 0, Some(0), 300_000)), 0);
        let keep_one = ScalePolicy { min: 1, ..POLICY };
        assert_eq!(desired_replicas(&keep_one, &input(1, 0, Some(0), 1_000_000)), 1);
    }
}
