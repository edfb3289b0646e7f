//! The discrete-event loop: a virtual clock advancing in rounds (Gavel's 6 minutes), the pure
//! round scheduler deciding each round, jobs progressing at their chip's speed.
//!
//! A job that arrives mid-round waits for the next round, as in Gavel; a job that finishes mid-round
//! leaves its GPUs idle until the round ends (they are not billed). With nothing to run the clock
//! jumps to the next arrival. Nothing here reads a clock or a global RNG.

use super::generate::SimJob;
use strata_sched::{assign_round, ChipClass, HeteroPolicy, RoundInput, RoundJob};

/// Gavel's round length.
pub const ROUND_S: f64 = 360.0;

/// When the simulation may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWhen {
    AllDone,
    /// Jobs with arrival index in `start..end` are done (Gavel's measurement window).
    WindowDone {
        start: usize,
        end: usize,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobOutcome {
    pub start_s: Option<f64>,
    pub finish_s: Option<f64>,
    /// Rounds in which a job that ran in the previous round was stopped or moved to another class.
    pub preemptions: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    pub outcomes: Vec<JobOutcome>,
    /// Busy GPU-seconds per chip class.
    pub busy_gpu_s: Vec<f64>,
    /// Busy GPU-seconds per tenant.
    pub tenant_gpu_s: Vec<f64>,
    pub end_s: f64,
    pub rounds: u64,
    /// Most jobs waiting (arrived, not running) at any round start.
    pub max_queue: usize,
}

struct Live {
    index: usize,
    remaining_steps: f64,
    attained_gpu_s: f64,
    attained_norm_s: f64,
    current: Option<usize>,
}

/// Runs `jobs` (sorted by arrival) under `policy`; `tick(done)` is called as jobs finish.
pub fn simulate(
    policy: HeteroPolicy,
    jobs: &[SimJob],
    chips: &[ChipClass],
    seed: u64,
    stop: StopWhen,
    tick: &dyn Fn(u64),
) -> SimResult {
    let tenants = jobs.iter().map(|j| j.tenant + 1).max().unwrap_or(0);
    let mut outcomes = vec![JobOutcome::default(); jobs.len()];
    let mut busy_gpu_s = vec![0.0; chips.len()];
    let mut tenant_gpu_s = vec![0.0; tenants];
    let mut live: Vec<Live> = Vec::new();
    let mut next = 0;
    let mut now = 0.0_f64;
    let mut rounds = 0;
    let mut max_queue = 0;
    let mut end_s: f64 = 0.0;
    let (window, mut window_left) = match stop {
        StopWhen::AllDone => (0..jobs.len(), jobs.len()),
        StopWhen::WindowDone { start, end } => {
            let w = start.min(jobs.len())..end.min(jobs.len());
            let n = w.len();
            (w, n)
        }
    };
    while window_left > 0 {
        if live.is_empty() {
            let Some(job) = jobs.get(next) else { break };
            now = now.max(job.arrival_s);
        }
        while next < jobs.len() && jobs[next].arrival_s <= now {
            let j = &jobs[next];
            let fits_somewhere = chips.iter().zip(&j.steps_per_s).any(|(c, &r)| c.gpus >= j.gpus && r > 0.0);
            if !fits_somewhere {
                // A gang larger than every class, or a job no chip runs, can never finish: it must
                // not hold the simulation open. It is reported as unfinished.
                if window.contains(&next) {
                    window_left -= 1;
                }
                next += 1;
                continue;
            }
            live.push(Live {
                index: next,
                remaining_steps: j.total_steps,
                attained_gpu_s: 0.0,
                attained_norm_s: 0.0,
                current: None,
            });
            next += 1;
        }
        let views: Vec<RoundJob> = live
            .iter()
            .map(|l| {
                let j = &jobs[l.index];
                RoundJob {
                    id: l.index as u64,
                    arrival_s: j.arrival_s,
                    gpus: j.gpus,
                    steps_per_s: j.steps_per_s[..chips.len().min(3)].to_vec(),
                    remaining_steps: l.remaining_steps,
                    attained_gpu_s: l.attained_gpu_s,
                    attained_norm_s: l.attained_norm_s,
                    current: l.current,
                }
            })
            .collect();
        let decided = assign_round(policy, &RoundInput { chips, jobs: &views, now_s: now, seed });
        rounds += 1;
        max_queue = max_queue.max(decided.iter().filter(|d| d.is_none()).count());
        let mut finished = Vec::new();
        for (k, (l, chip)) in live.iter_mut().zip(&decided).enumerate() {
            let out = &mut outcomes[l.index];
            if l.current.is_some() && *chip != l.current {
                out.preemptions += 1;
            }
            l.current = *chip;
            let Some(c) = *chip else { continue };
            let j = &jobs[l.index];
            let rate = j.steps_per_s[c];
            if rate <= 0.0 {
                continue;
            }
            out.start_s.get_or_insert(now);
            let dt = (l.remaining_steps / rate).min(ROUND_S);
            let gpu_s = dt * f64::from(j.gpus);
            busy_gpu_s[c] += gpu_s;
            tenant_gpu_s[j.tenant] += gpu_s;
            l.attained_gpu_s += gpu_s;
            l.attained_norm_s += dt * rate / views[k].best_steps_per_s();
            l.remaining_steps -= rate * dt;
            // Steps are whole in the trace; a residue below a thousandth of one is rounding.
            if l.remaining_steps <= 1e-3 {
                out.finish_s = Some(now + dt);
                end_s = end_s.max(now + dt);
                finished.push(k);
                if window.contains(&l.index) {
                    window_left -= 1;
                }
            }
        }
        if !finished.is_empty() {
            tick(finished.len() as u64);
            let mut k = 0;
            live.retain(|_| {
                let keep = finished.binary_search(&k).is_err();
                k += 1;
                keep
            });
        }
        now += ROUND_S;
    }
    SimResult { outcomes, busy_gpu_s, tenant_gpu_s, end_s, rounds, max_queue }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(arrival_s: f64, gpus: u32, total_steps: f64, speeds: [f64; 3]) -> SimJob {
        SimJob { tenant: 0, job_type: "t".into(), gpus, total_steps, arrival_s, steps_per_s: speeds }
    }

    fn cluster(k80: u32, p100: u32, v100: u32) -> Vec<ChipClass> {
        [("k80", k80, 0.52), ("p100", p100, 1.68), ("v100", v100, 2.85)]
            .iter()
            .map(|&(n, g, p)| ChipClass { name: n.into(), gpus: g, dollars_per_gpu_hour: p })
            .collect()
    }

    /// Renders each job as `start-finish` in rounds-free seconds, `p` preemptions.
    fn check(policy: HeteroPolicy, chips: &[ChipClass], jobs: &[SimJob], expected: &str) {
        let r = simulate(policy, jobs, chips, 1, StopWhen::AllDone, &|_| {});
        let text: Vec<String> =
            r.outcomes.iter().map(|o| format!("{:?}-{:?}/{}", o.start_s, o.finish_s, o.preemptions)).collect();
        assert_eq!(text.join(" "), expected, "{}", policy.name());
    }

    #[test]
    fn one_v100_fifo_runs_jobs_back_to_back_at_round_boundaries() {
        // 720 steps at 1 step/s = 2 rounds; the second job starts at the round after the first ends.
        let jobs = [job(0.0, 1, 720.0, [0.0, 0.0, 1.0]), job(10.0, 1, 100.0, [0.0, 0.0, 1.0])];
        check(HeteroPolicy::Fifo, &cluster(0, 0, 1), &jobs, "Some(0.0)-Some(720.0)/0 Some(720.0)-Some(820.0)/0");
    }

    #[test]
    fn strata_preempts_a_long_job_for_a_short_one() {
        // The short job arrives during the long one's first round and takes the V100 next round;
        // the V100 then idles to the end of that round (as in Gavel) before the long job resumes.
        let jobs = [job(0.0, 1, 1080.0, [0.0, 0.0, 1.0]), job(10.0, 1, 100.0, [0.0, 0.0, 1.0])];
        check(HeteroPolicy::Strata, &cluster(0, 0, 1), &jobs, "Some(0.0)-Some(1440.0)/1 Some(360.0)-Some(460.0)/0");
        check(HeteroPolicy::Fifo, &cluster(0, 0, 1), &jobs, "Some(0.0)-Some(1080.0)/0 Some(1080.0)-Some(1180.0)/0");
    }

    #[test]
    fn a_gang_larger_than_every_class_is_left_unfinished_not_spun_on() {
        let jobs = [job(0.0, 4, 10.0, [1.0, 1.0, 1.0]), job(0.0, 1, 10.0, [1.0, 1.0, 1.0])];
        check(HeteroPolicy::LasHet, &cluster(1, 1, 1), &jobs, "None-None/0 Some(0.0)-Some(10.0)/0");
    }

    #[test]
    fn busy_time_is_billed_per_class() {
        let jobs = [job(0.0, 2, 720.0, [1.0, 2.0, 4.0])];
        let r = simulate(HeteroPolicy::FifoHet, &jobs, &cluster(2, 2, 2), 1, StopWhen::AllDone, &|_| {});
        assert_eq!((r.busy_gpu_s, r.end_s, r.rounds), (vec![0.0, 0.0, 360.0], 180.0, 1));
    }
}
