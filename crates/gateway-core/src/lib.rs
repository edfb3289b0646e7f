//! The gateway's decisions without the IO: who may send a request now (token buckets for
//! requests and tokens per minute), what it may cost (prices, budgets with reservations), which
//! replica serves it (least outstanding of two choices, prefix affinity by rendezvous hashing),
//! and how many replicas a deployment needs (autoscaling, down to zero).
//!
//! Everything takes `now_ms` and random numbers as inputs, so the gateway's behaviour under a
//! given load is reproducible in tests. Invariants, property-tested:
//! - a bucket never grants more than its capacity plus what refilled since it was full;
//! - a budget's spent plus reserved never exceeds its limit through a reservation;
//! - the replica chosen is always a healthy one, and the same prefix maps to the same replica
//!   while the replica set and loads allow it.

pub mod bucket;
pub mod budget;
pub mod limits;
pub mod price;
pub mod route;
pub mod scale;

pub use bucket::TokenBucket;
pub use budget::{Budget, BudgetRefusal};
pub use limits::{Admission, LimitKind, Limiter, Limits, Refusal, Scope};
pub use price::{Price, PICO_PER_MICRO};
pub use route::{choose_replica, prefix_key, ReplicaLoad, PREFIX_BYTES};
pub use scale::{desired_replicas, ScaleInput, ScalePolicy};

/// A conservative guess of a text's token count before the model's tokenizer has seen it:
/// about four bytes per token for English, rounded up; a reservation reconciled afterwards.
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}
