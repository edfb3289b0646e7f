//! Seating a chosen set of jobs on chip classes: by throughput ratio (what heterogeneity buys),
//! or by price per step within a time budget (what it costs).
//!
//! Both are greedy and deterministic. The ratio assignment seats first the job that would lose the
//! most relative speed if it missed its best free class ("regret"): a Transformer that runs 6× faster
//! on a V100 than on a K80 gets the V100 before a Recommendation model that runs as fast on a P100.
//! That is the effect of Gavel's throughput-normalised allocation without its linear program.

use crate::hetero::{ChipClass, RoundJob, COST_SLACK};

/// A job chosen for this round, with its index in the round's job list.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    pub index: usize,
    pub job: &'a RoundJob,
}

/// Seats `slots` by regret over normalised speed; returns `(job index, class)` for those seated and
/// takes their GPUs out of `free`. Among equal regrets the earlier slot (higher priority) goes first.
pub fn assign_by_ratio(slots: &[Slot<'_>], free: &mut [u32]) -> Vec<(usize, usize)> {
    let mut placed = Vec::with_capacity(slots.len());
    let mut waiting: Vec<usize> = (0..slots.len()).collect();
    while !waiting.is_empty() {
        // (position in `waiting`, class, regret)
        let mut pick: Option<(usize, usize, f64)> = None;
        for (w, &s) in waiting.iter().enumerate() {
            let job = slots[s].job;
            let best = job.best_steps_per_s();
            if best <= 0.0 {
                continue;
            }
            let mut first: Option<(usize, f64)> = None;
            let mut second = 0.0_f64;
            for (c, &room) in free.iter().enumerate() {
                if room < job.gpus {
                    continue;
                }
                let v = job.steps_per_s[c] / best;
                match first {
                    Some((_, f)) if v <= f => second = second.max(v),
                    Some((_, f)) => {
                        second = second.max(f);
                        first = Some((c, v));
                    }
                    None => first = Some((c, v)),
                }
            }
            if let Some((c, v)) = first {
                let regret = v - second;
                if pick.is_none_or(|(_, _, r)| regret > r) {
                    pick = Some((w, c, regret));
                }
            }
        }
        let Some((w, c, _)) = pick else { break };
        let s = waiting.remove(w);
        free[c] -= slots[s].job.gpus;
        placed.push((slots[s].index, c));
    }
    placed
}

/// Seats each slot, in priority order, on the free class with the lowest dollars per step among
/// those that finish it within [`COST_SLACK`] × its best time; if none does, the fastest free class.
pub fn assign_cheapest(chips: &[ChipClass], slots: &[Slot<'_>], free: &mut [u32]) -> Vec<(usize, usize)> {
    let mut placed = Vec::with_capacity(slots.len());
    for slot in slots {
        let job = slot.job;
        let best = job.best_steps_per_s();
        let fits = |c: usize| free[c] >= job.gpus && job.steps_per_s[c] > 0.0;
        let in_budget = |c: usize| job.steps_per_s[c] * COST_SLACK >= best;
        let dollars_per_step = |c: usize| chips[c].dollars_per_gpu_hour * f64::from(job.gpus) / job.steps_per_s[c];
        let cheapest = (0..free.len())
            .filter(|&c| fits(c) && in_budget(c))
            .min_by(|&a, &b| dollars_per_step(a).total_cmp(&dollars_per_step(b)).then(a.cmp(&b)));
        let fastest = || {
            (0..free.len())
                .filter(|&c| fits(c))
                .max_by(|&a, &b| job.steps_per_s[a].total_cmp(&job.steps_per_s[b]).then(b.cmp(&a)))
        };
        if let Some(c) = cheapest.or_else(fastest) {
            free[c] -= job.gpus;
            placed.push((slot.index, c));
        }
    }
    placed
}
