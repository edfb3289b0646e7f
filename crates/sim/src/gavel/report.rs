//! What a Gavel run reports: JCT and queueing delay (mean, p50, p99), makespan, utilisation,
//! preemptions, dollars, per-tenant share — as CSV and as markdown beside Gavel's own numbers.
//!
//! Every number is printed with a fixed number of decimals, so the same run gives the same bytes.

use super::engine::SimResult;
use super::generate::SimJob;
use std::fmt::Write as _;
use std::ops::Range;
use strata_sched::{ChipClass, HeteroPolicy};

/// Gavel's cached results (BENCHMARKS.md S2): mean JCT in hours of jobs 4000–5000,
/// `(jobs/hour, FIFO, FIFO-het, LAS, LAS-het)`; `None` = unstable.
pub const GAVEL_MEAN_JCT_H: [(f64, [Option<f64>; 4]); 4] = [
    (2.0, [Some(18.32), Some(15.45), Some(23.47), Some(16.95)]),
    (4.0, [Some(25.38), Some(17.08), Some(23.49), Some(16.82)]),
    (4.8, [Some(99.19), Some(22.24), Some(35.79), Some(18.97)]),
    (5.6, [None, Some(104.12), Some(95.99), Some(28.96)]),
];

/// Gavel's number for the policy ours is compared with (ours and the cost variant against LAS-het).
pub fn gavel_baseline(policy: HeteroPolicy, jobs_per_hour: f64) -> Option<Option<f64>> {
    let column = match policy {
        HeteroPolicy::Fifo => 0,
        HeteroPolicy::FifoHet => 1,
        HeteroPolicy::Las => 2,
        HeteroPolicy::LasHet | HeteroPolicy::Strata | HeteroPolicy::StrataCost => 3,
    };
    GAVEL_MEAN_JCT_H.iter().find(|(rate, _)| (rate - jobs_per_hour).abs() < 1e-9).map(|(_, row)| row[column])
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub policy: HeteroPolicy,
    pub measured: usize,
    pub unfinished: usize,
    pub mean_jct_h: f64,
    pub p50_jct_h: f64,
    pub p99_jct_h: f64,
    pub mean_queue_h: f64,
    pub p99_queue_h: f64,
    pub makespan_h: f64,
    pub utilisation: f64,
    pub preemptions: u64,
    pub dollars: f64,
    pub dollars_per_job: f64,
    pub max_queue: usize,
    /// Per tenant: share of busy GPU-time.
    pub tenant_share: Vec<f64>,
}

pub fn summarize(
    policy: HeteroPolicy,
    jobs: &[SimJob],
    r: &SimResult,
    chips: &[ChipClass],
    window: Range<usize>,
) -> Summary {
    let window = window.start.min(jobs.len())..window.end.min(jobs.len());
    let mut jct = Vec::new();
    let mut queue = Vec::new();
    let mut unfinished = 0;
    for i in window.clone() {
        let o = &r.outcomes[i];
        match (o.start_s, o.finish_s) {
            (Some(s), Some(f)) => {
                jct.push((f - jobs[i].arrival_s) / 3600.0);
                queue.push((s - jobs[i].arrival_s) / 3600.0);
            }
            _ => unfinished += 1,
        }
    }
    let completed = r.outcomes.iter().filter(|o| o.finish_s.is_some()).count();
    let dollars: f64 = chips.iter().zip(&r.busy_gpu_s).map(|(c, s)| c.dollars_per_gpu_hour * s / 3600.0).sum();
    let total_gpus: f64 = chips.iter().map(|c| f64::from(c.gpus)).sum();
    let first = jobs.first().map_or(0.0, |j| j.arrival_s);
    let span_s = (r.end_s - first).max(0.0);
    let busy: f64 = r.busy_gpu_s.iter().sum();
    let tenant_total: f64 = r.tenant_gpu_s.iter().sum();
    Summary {
        policy,
        measured: jct.len(),
        unfinished,
        mean_jct_h: mean(&jct),
        p50_jct_h: percentile(&mut jct.clone(), 0.50),
        p99_jct_h: percentile(&mut jct, 0.99),
        mean_queue_h: mean(&queue),
        p99_queue_h: percentile(&mut queue, 0.99),
        makespan_h: span_s / 3600.0,
        utilisation: if span_s > 0.0 { busy / (total_gpus * span_s) } else { 0.0 },
        preemptions: window.map(|i| u64::from(r.outcomes[i].preemptions)).sum(),
        dollars,
        dollars_per_job: if completed > 0 { dollars / completed as f64 } else { 0.0 },
        max_queue: r.max_queue,
        tenant_share: r.tenant_gpu_s.iter().map(|s| if tenant_total > 0.0 { s / tenant_total } else { 0.0 }).collect(),
    }
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Nearest-rank percentile.
fn percentile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let rank = (q * xs.len() as f64).ceil().max(1.0) as usize;
    xs[rank.min(xs.len()) - 1]
}

pub const CSV_HEADER: &str = "policy,load,seed,measured,unfinished,mean_jct_h,p50_jct_h,p99_jct_h,mean_queue_h,\
p99_queue_h,makespan_h,utilisation,preemptions,dollars,dollars_per_job,max_queue,gavel_mean_jct_h";

pub fn csv_row(s: &Summary, load: &str, seed: u64, jobs_per_hour: Option<f64>) -> String {
    let gavel = jobs_per_hour.and_then(|r| gavel_baseline(s.policy, r)).map_or(String::new(), fmt_gavel);
    format!(
        "{},{load},{seed},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.2},{:.4},{},{:.2},{:.3},{},{gavel}",
        s.policy.name(),
        s.measured,
        s.unfinished,
        s.mean_jct_h,
        s.p50_jct_h,
        s.p99_jct_h,
        s.mean_queue_h,
        s.p99_queue_h,
        s.makespan_h,
        s.utilisation,
        s.preemptions,
        s.dollars,
        s.dollars_per_job,
        s.max_queue,
    )
}

fn fmt_gavel(v: Option<f64>) -> String {
    v.map_or("unstable".to_string(), |x| format!("{x:.2}"))
}

/// The markdown summary: one row per policy, Gavel's number and the ratio beside ours.
pub fn markdown(title: &str, rows: &[Summary], jobs_per_hour: Option<f64>, tenants: &[String]) -> String {
    let mut md = format!("# {title}\n\n");
    md.push_str("| policy | mean JCT h | Gavel h | ratio | p50 JCT h | p99 JCT h | mean queue h | p99 queue h | makespan h | util | preemptions | $ total | $/job | max queue |\n");
    md.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for s in rows {
        let gavel = jobs_per_hour.and_then(|r| gavel_baseline(s.policy, r));
        let ratio = match gavel {
            Some(Some(g)) if g > 0.0 => format!("{:.2}", s.mean_jct_h / g),
            _ => "–".to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {:.2} | {} | {ratio} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.3} | {} | {:.0} | {:.2} | {} |",
            s.policy.name(),
            s.mean_jct_h,
            gavel.map_or("–".to_string(), fmt_gavel),
            s.p50_jct_h,
            s.p99_jct_h,
            s.mean_queue_h,
            s.p99_queue_h,
            s.makespan_h,
            s.utilisation,
            s.preemptions,
            s.dollars,
            s.dollars_per_job,
            s.max_queue,
        );
    }
    if tenants.len() > 1 {
        md.push_str("\nPer-tenant share of busy GPU-time (entitlement: equal, ");
        let _ = write!(md, "{:.3} each)\n\n| tenant |", 1.0 / tenants.len() as f64);
        for s in rows {
            let _ = write!(md, " {} |", s.policy.name());
        }
        md.push_str("\n| --- |");
        md.push_str(&" --- |".repeat(rows.len()));
        md.push('\n');
        for (t, name) in tenants.iter().enumerate() {
            let _ = write!(md, "| {name} |");
            for s in rows {
                let _ = write!(md, " {:.3} |", s.tenant_share.get(t).copied().unwrap_or(0.0));
            }
            md.push('\n');
        }
    }
    md
}
