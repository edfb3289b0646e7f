//! Job durations learned online from the jobs that finished, as a real scheduler has to: Helios's
//! QSSF (SC'21) orders the queue by a prediction made from the same user's earlier jobs of the
//! same name and size. The msr trace names no user, so the closest key is the VC, the model
//! (`job_type`) and the GPU count, backed off to the VC and GPU count, the GPU count alone, and
//! every job. Means of log-durations (a geometric mean): durations span seconds to weeks, and a
//! plain mean would let one weeks-long job make every job of its key look long.

use crate::gavel::generate::SimJob;
use std::collections::BTreeMap;

/// Assumed for a job before any job has finished: one hour.
pub const PRIOR_S: f64 = 3600.0;

#[derive(Debug, Clone, Copy, Default)]
struct Mean {
    log_sum: f64,
    n: u32,
}

impl Mean {
    fn add(&mut self, seconds: f64) {
        self.log_sum += seconds.max(1.0).ln();
        self.n += 1;
    }

    fn get(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.log_sum / f64::from(self.n)).exp())
    }
}

#[derive(Debug, Default)]
pub struct Predictor {
    /// By (VC, GPUs), then model: looked up by `&str`, with no key to build per prediction.
    exact: BTreeMap<(usize, u32), BTreeMap<String, Mean>>,
    vc_gpus: BTreeMap<(usize, u32), Mean>,
    gpus: BTreeMap<u32, Mean>,
    all: Mean,
}

impl Predictor {
    /// Records that `job` ran for `seconds` in all.
    pub fn learn(&mut self, job: &SimJob, seconds: f64) {
        self.exact.entry((job.tenant, job.gpus)).or_default().entry(job.job_type.clone()).or_default().add(seconds);
        self.vc_gpus.entry((job.tenant, job.gpus)).or_default().add(seconds);
        self.gpus.entry(job.gpus).or_default().add(seconds);
        self.all.add(seconds);
    }

    /// The expected duration of `job` in seconds, from the most specific key with a history.
    pub fn predict(&self, job: &SimJob) -> f64 {
        self.exact
            .get(&(job.tenant, job.gpus))
            .and_then(|m| m.get(job.job_type.as_str()))
            .and_then(Mean::get)
            .or_else(|| self.vc_gpus.get(&(job.tenant, job.gpus)).and_then(Mean::get))
            .or_else(|| self.gpus.get(&job.gpus).and_then(Mean::get))
            .or_else(|| self.all.get())
            .unwrap_or(PRIOR_S)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tenant: usize, kind: &str, gpus: u32) -> SimJob {
        SimJob { tenant, job_type: kind.into(), gpus, total_steps: 1.0, arrival_s: 0.0, steps_per_s: [1.0; 3] }
    }

    #[test]
    fn predictions_come_from_the_most_specific_history_and_back_off() {
        let mut p = Predictor::default();
        assert_eq!(p.predict(&job(0, "resnet", 1)), PRIOR_S, "nothing finished yet");
        p.learn(&job(0, "resnet", 1), 100.0);
        p.learn(&job(0, "resnet", 1), 10_000.0);
        p.learn(&job(1, "lm", 8), 50.0);
        // The geometric mean of 100 and 10,000.
        assert!((p.predict(&job(0, "resnet", 1)) - 1000.0).abs() < 1e-6);
        // Same VC and size, another model: the VC's 1-GPU jobs.
        assert!((p.predict(&job(0, "lm", 1)) - 1000.0).abs() < 1e-6);
        // Another VC, 8 GPUs: every 8-GPU job.
        assert!((p.predict(&job(2, "resnet", 8)) - 50.0).abs() < 1e-6);
        // A size never seen: every job (100, 10,000, 50).
        let all = (100f64.ln() + 10_000f64.ln() + 50f64.ln()) / 3.0;
        assert!((p.predict(&job(2, "x", 4)) - all.exp()).abs() < 1e-6);
    }
}
