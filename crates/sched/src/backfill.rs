//! EASY backfill (Lifka, 1995): the first job in line that does not fit gets a reservation —
//! the earliest time it would fit once running jobs end as expected, and the capacity it would
//! take then. Jobs behind it may still start now, but only if they do not delay it: they finish
//! before that time (by their runtime estimate), or they use nothing the reservation needs.
//!
//! Without runtime estimates for the running work there is no start time to protect, and every
//! job that fits starts (plain greedy backfill, which can starve a large job; give estimates to
//! avoid that).

use crate::fleet::Fleet;
use crate::model::{HeldReplica, PendingJob, RunningJob};
use std::collections::BTreeSet;
use strata_domain::JobId;

pub(crate) struct Reservation<'a> {
    pub job: JobId,
    /// When the job is expected to fit.
    pub start_ms: i64,
    /// The fleet as it will be at `start_ms`, with the job's replicas already taken.
    future: Fleet<'a>,
    /// Running jobs whose capacity `future` already counts free.
    ended: BTreeSet<JobId>,
    /// The job's spread group and its limit per node, when it has them: a job of the same group
    /// that takes group room the reservation counts on would delay it as surely as one taking
    /// its devices.
    group: Option<(String, u32)>,
}

impl<'a> Reservation<'a> {
    /// Reserves for `job` at the earliest expected end of running work after which `place`
    /// succeeds on the fleet; `None` when no such time is known.
    pub fn plan(
        fleet: &Fleet<'a>,
        running: Vec<&RunningJob>,
        job: &PendingJob,
        place: impl Fn(&mut Fleet<'a>) -> bool,
    ) -> Option<Self> {
        let mut ending: Vec<&RunningJob> = running;
        ending.sort_by_key(|r| (r.expected_end_ms.unwrap_or(i64::MAX), r.id));
        // Jobs with no estimate may run forever: nothing after them can be counted on.
        let known = ending.iter().take_while(|r| r.expected_end_ms.is_some()).count();
        let after = |k: usize| {
            let mut f = fleet.clone();
            for r in &ending[..k] {
                for h in &r.replicas {
                    f.release(h);
                }
            }
            f
        };
        // More ended jobs never leave less room, so the first moment it fits is found by
        // bisection: a few fleet copies instead of one per running job.
        let fits = |k: usize| {
            let mut f = after(k);
            place(&mut f).then_some(f)
        };
        let mut full = fits(known)?;
        let (mut lo, mut hi) = (0, known);
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            match fits(mid) {
                Some(f) => {
                    hi = mid;
                    full = f;
                }
                None => lo = mid,
            }
        }
        // `full` is the fleet after `hi` jobs ended: set when `hi` was last lowered, or at `known`.
        if hi == 0 {
            return None;
        }
        let start_ms = ending[hi - 1].expected_end_ms?;
        let ended = ending[..hi].iter().map(|r| r.id).collect();
        let group = match (&job.resources.spread_group, job.resources.max_replicas_per_node) {
            (Some(g), Some(cap)) => Some((g.clone(), cap.max(1))),
            _ => None,
        };
        Some(Reservation { job: job.id, start_ms, future: full, ended, group })
    }

    /// Whether a job just placed now at `replicas` leaves the reservation intact: it ends by
    /// the reserved start, or the capacity it took is still free then (and is now taken there).
    pub fn admits(&mut self, job: &PendingJob, now_ms: i64, held: &[HeldReplica]) -> bool {
        let ends_in_time = job
            .runtime_estimate_ms
            .and_then(|e| i64::try_from(e).ok())
            .is_some_and(|e| now_ms.saturating_add(e) <= self.start_ms);
        if ends_in_time {
            return true;
        }
        // All replicas or none: roll back the ones taken if a later one does not fit (cheaper
        // than copying the fleet for every job placed behind the reservation).
        for (i, h) in held.iter().enumerate() {
            let group_full = self.group.as_ref().is_some_and(|(g, cap)| {
                h.spread_group.as_deref() == Some(g.as_str()) && self.future.spread_count(h.node, g) >= *cap
            });
            if group_full || !self.future.take_exact(h) {
                for taken in &held[..i] {
                    self.future.release(taken);
                }
                return false;
            }
        }
        true
    }

    /// A running job stopped this cycle frees its capacity at the reserved start too.
    pub fn stopped(&mut self, r: &RunningJob) {
        if self.ended.insert(r.id) {
            for h in &r.replicas {
                self.future.release(h);
            }
        }
    }
}
