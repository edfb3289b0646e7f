//! Round-based scheduling on heterogeneous chips (Gavel, OSDI'20): for the next round, which jobs
//! run and on which chip class.
//!
//! A round is a time slice (Gavel uses 6 minutes); between rounds any job may be preempted or moved.
//! The caller keeps the clock and the jobs' progress and calls [`assign_round`] once per round; the
//! answer depends only on its inputs (the seed included), so a simulation is byte-for-byte
//! reproducible. Each job carries its measured speed on every chip class (steps/s for the whole
//! gang); a gang always runs on one class.
//!
//! Policies, from the baselines Gavel compares against to ours:
//! - `fifo`: arrival order, non-preemptive, a random free chip class (heterogeneity-agnostic).
//! - `fifo-het`: arrival order, the fastest free chip class, chips re-planned every round.
//! - `las`: least attained service (GPU-seconds) first, preemptive, chip class agnostic.
//! - `las-het`: least attained *normalised* service first (seconds weighted by the speed on the
//!   chip over the job's best speed, the quantity Gavel's max-min fairness equalises), chip classes
//!   given by throughput ratio.
//! - `strata`: shortest remaining work first (remaining steps over the best speed), aged so that no
//!   job starves, chip classes given by throughput ratio.
//! - `strata-cost`: `strata`'s order, but each job takes the cheapest chip per step among those that
//!   finish it within [`COST_SLACK`] of its best time.

use crate::assign::{assign_by_ratio, assign_cheapest, Slot};
use crate::Rng;

/// A class of identical chips (e.g. 36 × V100) with its price.
#[derive(Debug, Clone, PartialEq)]
pub struct ChipClass {
    pub name: String,
    pub gpus: u32,
    pub dollars_per_gpu_hour: f64,
}

/// What the round scheduler knows about one active (arrived, unfinished) job.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundJob {
    /// Arrival order; also the final tie-break, so that equal keys never depend on input order.
    pub id: u64,
    pub arrival_s: f64,
    /// Gang size: GPUs of one chip class.
    pub gpus: u32,
    /// Steps per second of the whole gang on each chip class (same order as the classes).
    pub steps_per_s: Vec<f64>,
    pub remaining_steps: f64,
    /// GPU-seconds received so far.
    pub attained_gpu_s: f64,
    /// Seconds received, each weighted by (speed there / best speed).
    pub attained_norm_s: f64,
    /// The class it ran on in the previous round, if it ran.
    pub current: Option<usize>,
}

impl RoundJob {
    pub fn best_steps_per_s(&self) -> f64 {
        self.steps_per_s.iter().copied().fold(0.0, f64::max)
    }

    /// Seconds still needed on the job's fastest class.
    pub fn remaining_best_s(&self) -> f64 {
        let best = self.best_steps_per_s();
        if best > 0.0 {
            self.remaining_steps / best
        } else {
            f64::INFINITY
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeteroPolicy {
    Fifo,
    FifoHet,
    Las,
    LasHet,
    Strata,
    StrataCost,
}

impl HeteroPolicy {
    pub const ALL: [HeteroPolicy; 6] = [
        HeteroPolicy::Fifo,
        HeteroPolicy::FifoHet,
        HeteroPolicy::Las,
        HeteroPolicy::LasHet,
        HeteroPolicy::Strata,
        HeteroPolicy::StrataCost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HeteroPolicy::Fifo => "fifo",
            HeteroPolicy::FifoHet => "fifo-het",
            HeteroPolicy::Las => "las",
            HeteroPolicy::LasHet => "las-het",
            HeteroPolicy::Strata => "strata",
            HeteroPolicy::StrataCost => "strata-cost",
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            HeteroPolicy::Fifo => "arrival order, non-preemptive, random free chip class",
            HeteroPolicy::FifoHet => "arrival order, fastest free chip class, re-planned every round",
            HeteroPolicy::Las => "least attained GPU-seconds first, preemptive, chip-agnostic",
            HeteroPolicy::LasHet => "least attained normalised service first, chips by throughput ratio",
            HeteroPolicy::Strata => "shortest remaining work first with aging, chips by throughput ratio",
            HeteroPolicy::StrataCost => "strata's order, cheapest chip per step within 1.5x of the best time",
        }
    }

    pub fn from_name(name: &str) -> Option<HeteroPolicy> {
        HeteroPolicy::ALL.into_iter().find(|p| p.name() == name)
    }

    /// FIFO keeps a job where it started; FIFO-het re-plans every round in arrival order, as
    /// Gavel's performance-aware FIFO resets its allocation each time, so the oldest jobs move
    /// to the fastest chips as they free up (the set of running jobs is the same either way).
    fn preemptive(self) -> bool {
        !matches!(self, HeteroPolicy::Fifo)
    }
}

/// A job's remaining time is divided by `1 + waited / AGING_S`: a long job's key halves after it has
/// waited this long, so however many short jobs arrive, every job eventually comes first.
pub const AGING_S: f64 = 7.0 * 24.0 * 3600.0;

/// `strata-cost` accepts a chip if it finishes the job within this factor of its best time.
pub const COST_SLACK: f64 = 1.5;

/// Inputs of one round.
#[derive(Debug, Clone, Copy)]
pub struct RoundInput<'a> {
    pub chips: &'a [ChipClass],
    pub jobs: &'a [RoundJob],
    pub now_s: f64,
    pub seed: u64,
}

/// For each job (same order as `input.jobs`), the chip class it runs on this round, if any.
pub fn assign_round(policy: HeteroPolicy, input: &RoundInput<'_>) -> Vec<Option<usize>> {
    let mut free: Vec<u32> = input.chips.iter().map(|c| c.gpus).collect();
    let mut out = vec![None; input.jobs.len()];
    if !policy.preemptive() {
        // Running jobs keep their chips; only the queue is ordered.
        for (i, job) in input.jobs.iter().enumerate() {
            if let Some(c) = job.current.filter(|&c| c < free.len() && free[c] >= job.gpus) {
                free[c] -= job.gpus;
                out[i] = Some(c);
            }
        }
    }
    let order = priority_order(policy, input);
    // The per-round stream: the seed and the round's start pick the draws, nothing else.
    let mut rng = Rng::new(input.seed ^ input.now_s.to_bits().rotate_left(17));
    match policy {
        HeteroPolicy::Fifo | HeteroPolicy::FifoHet | HeteroPolicy::Las => {
            for &i in &order {
                if out[i].is_some() {
                    continue;
                }
                let job = &input.jobs[i];
                let fits: Vec<usize> = (0..free.len()).filter(|&c| free[c] >= job.gpus).collect();
                let pick = match policy {
                    HeteroPolicy::FifoHet => fastest(job, &fits),
                    // Agnostic: the newest class first (classes are listed oldest first), as a
                    // cluster whose scheduler knows only "newer is faster" would.
                    HeteroPolicy::Fifo => fits.last().copied(),
                    // Staying put avoids a pointless migration; otherwise any class will do.
                    _ => job.current.filter(|c| fits.contains(c)).or_else(|| random(&mut rng, &fits)),
                };
                if let Some(c) = pick {
                    free[c] -= job.gpus;
                    out[i] = Some(c);
                }
            }
        }
        HeteroPolicy::LasHet | HeteroPolicy::Strata | HeteroPolicy::StrataCost => {
            let selected = select_prefix(input.jobs, &order, &free);
            let slots: Vec<Slot<'_>> = selected.iter().map(|&i| Slot { index: i, job: &input.jobs[i] }).collect();
            let placed = if policy == HeteroPolicy::StrataCost {
                assign_cheapest(input.chips, &slots, &mut free)
            } else {
                assign_by_ratio(&slots, &mut free)
            };
            for (i, c) in placed {
                out[i] = Some(c);
            }
            // Backfill: a gang the assignment could not seat leaves GPUs a later, smaller job can use.
            for &i in &order {
                if out[i].is_some() {
                    continue;
                }
                let job = &input.jobs[i];
                let fits: Vec<usize> = (0..free.len()).filter(|&c| free[c] >= job.gpus).collect();
                if let Some(c) = fastest(job, &fits) {
                    free[c] -= job.gpus;
                    out[i] = Some(c);
                }
            }
        }
    }
    out
}

/// Job indices, most urgent first; ties go to the earlier arrival, then the lower id.
fn priority_order(policy: HeteroPolicy, input: &RoundInput<'_>) -> Vec<usize> {
    let key = |j: &RoundJob| -> f64 {
        match policy {
            HeteroPolicy::Fifo | HeteroPolicy::FifoHet => j.arrival_s,
            HeteroPolicy::Las => j.attained_gpu_s,
            HeteroPolicy::LasHet => j.attained_norm_s,
            HeteroPolicy::Strata | HeteroPolicy::StrataCost => {
                let waited = (input.now_s - j.arrival_s).max(0.0);
                j.remaining_best_s() * f64::from(j.gpus) / (1.0 + waited / AGING_S)
            }
        }
    };
    let keys: Vec<f64> = input.jobs.iter().map(key).collect();
    let mut order: Vec<usize> = (0..input.jobs.len()).collect();
    order.sort_by(|&a, &b| {
        keys[a]
            .total_cmp(&keys[b])
            .then(input.jobs[a].arrival_s.total_cmp(&input.jobs[b].arrival_s))
            .then(input.jobs[a].id.cmp(&input.jobs[b].id))
    });
    order
}

/// The longest prefix of `order` (skipping gangs that cannot fit anywhere) whose GPUs the free
/// capacity can hold, counting each gang against the class with the most room left.
fn select_prefix(jobs: &[RoundJob], order: &[usize], free: &[u32]) -> Vec<usize> {
    let mut room = free.to_vec();
    let mut selected = Vec::new();
    for &i in order {
        if room.iter().all(|&r| r == 0) {
            break;
        }
        let need = jobs[i].gpus;
        let widest = (0..room.len()).filter(|&c| room[c] >= need).max_by_key(|&c| (room[c], std::cmp::Reverse(c)));
        if let Some(c) = widest {
            room[c] -= need;
            selected.push(i);
        }
    }
    selected
}

fn fastest(job: &RoundJob, fits: &[usize]) -> Option<usize> {
    fits.iter().copied().max_by(|&a, &b| job.steps_per_s[a].total_cmp(&job.steps_per_s[b]).then(b.cmp(&a)))
}

fn random(rng: &mut Rng, fits: &[usize]) -> Option<usize> {
    if fits.is_empty() {
        None
    } else {
        Some(fits[rng.index(fits.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chips(k80: u32, v100: u32) -> Vec<ChipClass> {
        vec![
            ChipClass { name: "k80".into(), gpus: k80, dollars_per_gpu_hour: 0.52 },
            ChipClass { name: "v100".into(), gpus: v100, dollars_per_gpu_hour: 2.85 },
        ]
    }

    /// `(arrival, gpus, k80 steps/s, v100 steps/s, remaining steps, attained GPU-s, current)`
    type Spec = (f64, u32, f64, f64, f64, f64, Option<usize>);

    fn jobs(specs: &[Spec]) -> Vec<RoundJob> {
        specs
            .iter()
            .enumerate()
            .map(|(i, &(arrival_s, gpus, k80, v100, remaining_steps, attained, current))| RoundJob {
                id: i as u64,
                arrival_s,
                gpus,
                steps_per_s: vec![k80, v100],
                remaining_steps,
                attained_gpu_s: attained,
                attained_norm_s: attained,
                current,
            })
            .collect()
    }

    /// Runs one round and renders it as `job:class` for every job, `-` when it waits.
    fn check(policy: HeteroPolicy, chips: &[ChipClass], specs: &[Spec], now_s: f64, expected: &str) {
        let js = jobs(specs);
        let got = assign_round(policy, &RoundInput { chips, jobs: &js, now_s, seed: 7 });
        let text: Vec<String> =
            got.iter().enumerate().map(|(i, c)| format!("{i}:{}", c.map_or("-", |c| chips[c].name.as_str()))).collect();
        assert_eq!(text.join(" "), expected, "{}", policy.name());
    }

    #[test]
    fn fifo_keeps_running_jobs_and_fills_newest_class_first() {
        // Job 0 runs on the K80 and keeps it although job 1 is older; job 1 takes the V100.
        let specs = [
            (5.0, 1, 1.0, 4.0, 100.0, 0.0, Some(0)),
            (1.0, 1, 1.0, 4.0, 100.0, 0.0, None),
            (2.0, 1, 1.0, 4.0, 1.0, 0.0, None),
        ];
        check(HeteroPolicy::Fifo, &chips(1, 1), &specs, 0.0, "0:k80 1:v100 2:-");
    }

    #[test]
    fn fifo_het_moves_the_oldest_job_to_its_fastest_class() {
        let specs = [(0.0, 1, 1.0, 4.0, 100.0, 0.0, Some(0)), (1.0, 1, 1.0, 4.0, 100.0, 0.0, Some(1))];
        check(HeteroPolicy::FifoHet, &chips(1, 1), &specs, 0.0, "0:v100 1:k80");
    }

    #[test]
    fn fifo_het_gives_each_job_its_fastest_free_class() {
        // Job 0 is faster on the K80 (a recommendation model can be), job 1 on the V100.
        let specs = [(0.0, 1, 3.0, 2.0, 100.0, 0.0, None), (1.0, 1, 1.0, 4.0, 100.0, 0.0, None)];
        check(HeteroPolicy::FifoHet, &chips(1, 1), &specs, 0.0, "0:k80 1:v100");
        check(HeteroPolicy::Fifo, &chips(1, 1), &specs, 0.0, "0:v100 1:k80");
    }

    #[test]
    fn las_preempts_the_job_with_most_service() {
        let specs = [
            (0.0, 1, 1.0, 4.0, 100.0, 900.0, Some(1)),
            (1.0, 1, 1.0, 4.0, 100.0, 10.0, None),
            (2.0, 1, 1.0, 4.0, 100.0, 0.0, None),
        ];
        check(HeteroPolicy::Las, &chips(1, 1), &specs, 0.0, "0:- 1:k80 2:v100");
        check(HeteroPolicy::LasHet, &chips(1, 1), &specs, 0.0, "0:- 1:k80 2:v100");
    }

    #[test]
    fn ratio_assignment_gives_the_v100_to_the_job_that_gains_most() {
        // Job 0 gains 1.25× on the V100, job 1 gains 8×: job 1 gets it whatever the order.
        let specs = [(0.0, 1, 4.0, 5.0, 100.0, 0.0, None), (1.0, 1, 1.0, 8.0, 100.0, 5.0, None)];
        check(HeteroPolicy::LasHet, &chips(1, 1), &specs, 0.0, "0:k80 1:v100");
        check(HeteroPolicy::Strata, &chips(1, 1), &specs, 0.0, "0:k80 1:v100");
    }

    #[test]
    fn strata_runs_the_shortest_remaining_work_first() {
        // One V100, three jobs: remaining 10 s, 100 s and 1000 s on their best class.
        let specs = [
            (0.0, 1, 1.0, 1.0, 1000.0, 0.0, Some(1)),
            (1.0, 1, 1.0, 1.0, 10.0, 0.0, None),
            (2.0, 1, 1.0, 1.0, 100.0, 0.0, None),
        ];
        check(HeteroPolicy::Strata, &chips(0, 1), &specs, 0.0, "0:- 1:v100 2:-");
    }

    #[test]
    fn strata_ages_long_waiting_jobs_ahead() {
        // After three aging periods the 1000 s job's key (250) drops below the fresh 300 s job's.
        let specs = [(0.0, 1, 1.0, 1.0, 1000.0, 0.0, None), (3.0 * AGING_S, 1, 1.0, 1.0, 300.0, 0.0, None)];
        check(HeteroPolicy::Strata, &chips(0, 1), &specs, 3.0 * AGING_S, "0:v100 1:-");
        check(HeteroPolicy::Strata, &chips(0, 1), &specs, 3.0, "0:- 1:v100");
    }

    #[test]
    fn strata_cost_takes_the_cheap_chip_within_the_slack() {
        // 1.2× slower on the K80 is within 1.5×, and the K80 costs a fifth: take it.
        let cheap = [(0.0, 1, 10.0, 12.0, 100.0, 0.0, None)];
        check(HeteroPolicy::StrataCost, &chips(1, 1), &cheap, 0.0, "0:k80");
        // 4× slower is outside the slack: the V100.
        let slow = [(0.0, 1, 1.0, 4.0, 100.0, 0.0, None)];
        check(HeteroPolicy::StrataCost, &chips(1, 1), &slow, 0.0, "0:v100");
    }

    #[test]
    fn gangs_stay_on_one_class_and_small_jobs_backfill() {
        // A 2-GPU gang cannot fit a class of 1: it waits, the single-GPU jobs run.
        let specs = [
            (0.0, 2, 1.0, 2.0, 1.0, 0.0, None),
            (1.0, 1, 1.0, 2.0, 100.0, 0.0, None),
            (2.0, 1, 1.0, 2.0, 100.0, 0.0, None),
        ];
        for p in HeteroPolicy::ALL {
            check(p, &chips(1, 1), &specs, 0.0, "0:- 1:v100 2:k80");
        }
        // With two V100s the gang (the shortest) gets them.
        check(HeteroPolicy::Strata, &chips(1, 2), &specs, 0.0, "0:v100 1:k80 2:-");
    }

    #[test]
    fn names_round_trip() {
        for p in HeteroPolicy::ALL {
            assert_eq!(HeteroPolicy::from_name(p.name()), Some(p));
        }
    }
}
