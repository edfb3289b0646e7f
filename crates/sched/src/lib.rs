//! The scheduler: a pure function from the state of the fleet and the queue to decisions.
//!
//! It does no IO, reads no clock and draws no global randomness: `now_ms` and `seed` are inputs,
//! so the live control plane and the trace simulator get the same decisions from the same state.
//! The control plane loads a [`SchedInput`] from its store, calls [`schedule`], and writes the
//! [`Decisions`] back in one transaction.
//!
//! `schedule` orders jobs by priority, then by dominant resource fairness across tenants; checks
//! per-tenant quotas; stops running work to make room when it has grounds (a tenant's own
//! lower-priority work, or GPUs another tenant borrowed beyond its nominal quota); keeps the first
//! job that waits from being delayed by the jobs behind it (EASY backfill, with runtime
//! estimates); places gangs all-or-nothing, best fit. Every job left waiting carries a reason a
//! person can act on.
//!
//! Single replicas can also be placed one at a time with a [`Placer`] and any [`Policy`] —
//! FGD's baselines, FGD itself and Strata's own — through the same fit checks and the same
//! single-replica choice `schedule` uses; the trace simulator (`strata-sim`) drives it.
//!
//! On heterogeneous chips with measured speeds (Gavel's throughput matrix), [`assign_round`] decides
//! for each time-sliced round which jobs run on which chip class, under Gavel's baselines or ours.

mod assign;
mod backfill;
mod fair;
mod fleet;
mod frag;
mod hetero;
mod index;
mod mix;
mod model;
mod place;
mod placer;
mod policy;
mod preempt;
mod quota;
mod reason;
mod rng;
mod scores;
mod strata;
#[cfg(test)]
mod testing;

pub use hetero::{assign_round, ChipClass, HeteroPolicy, RoundInput, RoundJob, AGING_S, COST_SLACK};
pub use mix::{TaskMix, TaskShape};
pub use model::{
    Decisions, GpuAssignment, GpuSlot, HeldReplica, NodeView, PendingJob, Placement, Preemption, ReplicaPlacement,
    RunningJob, SchedInput, TenantLimits, Waiting,
};
pub use place::{schedule, schedule_by_scan};
pub use placer::Placer;
pub use policy::Policy;
pub use rng::Rng;
