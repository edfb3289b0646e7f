//! Jobs for the simulation: Gavel's synthetic continuous trace (Poisson arrivals, Philly-shaped
//! durations) or the msr trace files, each turned into [`SimJob`]s with a speed per chip class.
//!
//! The synthetic generator follows the shape of Gavel's `generate_job` (read, not copied): a job
//! type drawn uniformly from the single-GPU types of the throughput matrix; a duration on a V100 of
//! 10^U(1.5, 3) minutes with probability 0.8, else 10^U(3, 4) minutes; `total_steps` = duration ×
//! V100 throughput; inter-arrival times exponential with mean 3600 / (jobs per hour) seconds.

use super::trace::{GavelError, MsrJob, Throughputs};
use std::path::Path;
use strata_sched::Rng;

/// A job as the simulator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimJob {
    pub tenant: usize,
    pub job_type: String,
    pub gpus: u32,
    pub total_steps: f64,
    pub arrival_s: f64,
    /// Steps/s of the whole gang on each chip class (k80, p100, v100).
    pub steps_per_s: [f64; 3],
}

/// Uniform in [0, 1) from the top 53 bits.
pub fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Gavel's synthetic single-GPU continuous trace: `count` jobs, one tenant.
pub fn poisson_jobs(t: &Throughputs, jobs_per_hour: f64, count: usize, seed: u64) -> Vec<SimJob> {
    let types = t.single_gpu_types();
    let mut rng = Rng::new(seed);
    let mean_gap_s = 3600.0 / jobs_per_hour.max(f64::MIN_POSITIVE);
    let mut arrival_s = 0.0;
    let mut jobs = Vec::with_capacity(count);
    if types.is_empty() {
        return jobs;
    }
    for _ in 0..count {
        let job_type = types[rng.index(types.len())].clone();
        let minutes_exp = if unit(&mut rng) >= 0.8 { 3.0 + unit(&mut rng) } else { 1.5 + 1.5 * unit(&mut rng) };
        let run_s = 60.0 * 10f64.powf(minutes_exp);
        let steps_per_s = t.get(&job_type, 1).unwrap_or([0.0; 3]);
        jobs.push(SimJob {
            tenant: 0,
            job_type,
            gpus: 1,
            total_steps: (run_s * steps_per_s[2]).round(),
            arrival_s,
            steps_per_s,
        });
        arrival_s += -(1.0 - unit(&mut rng)).ln() * mean_gap_s;
    }
    jobs
}

/// The msr trace of one seed folder: each VC a tenant (sorted by name), jobs sorted by arrival.
/// A `(job type, scale factor)` the matrix lacks is an error naming the VC.
pub fn msr_jobs(dir: &Path, t: &Throughputs, vcs: &[(String, Vec<MsrJob>)]) -> Result<Vec<SimJob>, GavelError> {
    let mut jobs = Vec::new();
    for (tenant, (vc, rows)) in vcs.iter().enumerate() {
        for (n, row) in rows.iter().enumerate() {
            let steps_per_s = t.gang(&row.job_type, row.scale_factor).ok_or_else(|| GavelError::Shape {
                file: dir.join(format!("{vc}.trace")),
                message: format!(
                    "row {}: no throughput for ('{}', {}) in the matrix",
                    n + 1,
                    row.job_type,
                    row.scale_factor
                ),
            })?;
            jobs.push(SimJob {
                tenant,
                job_type: row.job_type.clone(),
                gpus: row.scale_factor,
                total_steps: row.total_steps,
                arrival_s: row.arrival_s,
                steps_per_s,
            });
        }
    }
    // Stable: equal arrivals keep VC order, then file order.
    jobs.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    Ok(jobs)
}
