//! S3 (BENCHMARKS.md): queueing on a Philly-shaped cluster. Gavel's msr arrivals (one tenant per
//! virtual cluster) on the 352 eight-GPU nodes of Philly's VCs (`helios_sc21/philly_vc.csv`),
//! scheduled by the control plane's own `strata_sched::schedule`; JCT and queueing delay of each
//! policy as a ratio to strict FIFO's, the published comparison being Philly's FIFO against
//! Helios's QSSF and Tiresias.
//!
//! Policies:
//! - `fifo`: YARN's FIFO — the oldest waiting job starts when it fits and nothing passes it.
//! - `greedy`: `schedule` without runtime estimates — dominant resource fairness across VCs,
//!   and any job that fits starts (which can starve large gangs).
//! - `easy`: `schedule` with runtime estimates (the jobs' true durations, as Helios's QSSF
//!   predicts them) — the first job in line gets a reservation (EASY backfill).
//! - `quota`: `easy` plus nominal quotas — each VC is guaranteed GPUs in proportion to its share
//!   of the trace's GPU demand; beyond that it borrows, and gives back by preemption (jobs
//!   checkpoint every `--checkpoint-min` minutes; the rest is lost).
//! - `sjf`: `easy` with the least GPU-time first, from the true durations (an oracle's bound).
//! - `sjf-learned`: the same order from durations learned online from finished jobs
//!   (`predict.rs`), which also serve as EASY's estimates.

pub mod engine;
pub mod predict;

use crate::gavel::{generate::msr_jobs, trace};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// YARN-like strict arrival order: nothing passes the first job that waits.
    Fifo,
    /// Dominant resource fairness across VCs; anything that fits starts.
    Greedy,
    /// Greedy plus runtime estimates: EASY backfill.
    Easy,
    /// Easy plus a nominal quota per VC, borrowing and reclaim by preemption.
    Quota,
    /// Easy, with the least GPU-time (GPUs × remaining time) first: QSSF's ideal (Helios,
    /// SC'21), with the true durations as its prediction — a bound, not a predictor.
    Sjf,
    /// Sjf with durations predicted from the jobs finished so far (same VC, model and GPU
    /// count, backing off to coarser keys), for the order and for EASY's estimates alike.
    SjfLearned,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::Greedy => "greedy",
            Policy::Easy => "easy",
            Policy::Quota => "quota",
            Policy::Sjf => "sjf",
            Policy::SjfLearned => "sjf-learned",
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct PhillyArgs {
    /// Gavel's `simulation_throughputs.json` (job durations on a V100).
    #[arg(long)]
    pub throughputs: PathBuf,
    /// An msr trace folder (`gavel_osdi20/traces/msr/seed=N`): one file per VC.
    #[arg(long)]
    pub trace: PathBuf,
    /// Philly's VC sizes (`helios_sc21/philly_vc.csv`: `vc,node num`); their sum is the cluster.
    #[arg(long)]
    pub vcs: PathBuf,
    /// Policies to run, comma-separated; the first is the baseline of the ratios.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "fifo,greedy,easy,quota")]
    pub policy: Vec<Policy>,
    /// Arrival times are divided by this: the msr arrivals alone load Philly's 2,816 GPUs to a
    /// few percent, so the queueing the published numbers come from needs them compressed.
    #[arg(long, default_value_t = 1.0)]
    pub compress: f64,
    /// Only the first N jobs by arrival (0: all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    /// Minutes between checkpoints: a preempted job loses what it did since its last one.
    #[arg(long, default_value_t = 30.0)]
    pub checkpoint_min: f64,
    /// Where `summary.md` goes.
    #[arg(long)]
    pub out: PathBuf,
}

/// Node count from `vc,node num` rows; a bad row is named by line.
pub fn read_vc_nodes(path: &std::path::Path) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut total = 0;
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let count = line.split(',').nth(1).map(str::trim);
        let nodes: u32 = count.and_then(|c| c.parse().ok()).with_context(|| {
            format!("{}:{}: expected `vc,node num` with a whole number of nodes, found `{line}`", path.display(), n + 1)
        })?;
        total += nodes;
    }
    anyhow::ensure!(total > 0, "{}: no VC rows; expected `vc,node num` lines after the header", path.display());
    Ok(total)
}

pub fn run(args: &PhillyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.compress > 0.0, "--compress must be positive (1 = the trace's own arrival times)");
    anyhow::ensure!(args.checkpoint_min > 0.0, "--checkpoint-min must be positive");
    let t = trace::read_throughputs(&args.throughputs)?;
    let vcs = trace::read_msr_dir(&args.trace)?;
    let mut jobs = msr_jobs(&args.trace, &t, &vcs)?;
    if args.limit > 0 {
        jobs.truncate(args.limit);
    }
    for j in &mut jobs {
        j.arrival_s /= args.compress;
    }
    let nodes = read_vc_nodes(&args.vcs)?;
    let gpus = u64::from(nodes) * 8;
    // Nominal quota in proportion to each VC's GPU-seconds of demand, in whole GPUs.
    let mut demand = vec![0.0f64; vcs.len()];
    for j in &jobs {
        demand[j.tenant] += f64::from(j.gpus) * j.total_steps / j.steps_per_s[2].max(1e-9);
    }
    let total: f64 = demand.iter().sum::<f64>().max(1e-9);
    let nominal: Vec<u64> = demand.iter().map(|d| (d / total * gpus as f64).floor() as u64).collect();

    let bar = ProgressBar::new((jobs.len() * args.policy.len()) as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} jobs done, eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("philly ×{}", args.compress));
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join("summary.md");
    let name = args.trace.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut rows = Vec::new();
    let mut md = String::new();
    for &p in &args.policy {
        bar.set_message(format!("philly ×{} {}", args.compress, p.name()));
        let r = engine::simulate(p, &jobs, nodes, vcs.len(), &nominal, args.checkpoint_min * 60.0, &|n| bar.inc(n));
        rows.push((p, summarize(&jobs, &r, gpus)));
        // Rewritten after every policy: a long run that is stopped keeps the rows it finished.
        md = markdown(&name, jobs.len(), nodes, args.compress, &rows);
        std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    }
    bar.finish_and_clear();
    print!("{md}");
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub avg_jct_s: f64,
    pub p99_jct_s: f64,
    pub avg_queue_s: f64,
    pub makespan_s: f64,
    pub utilisation: f64,
    pub preemptions: u64,
    pub lost_gpu_h: f64,
    pub cycles: u64,
}

fn summarize(jobs: &[crate::gavel::generate::SimJob], r: &engine::Run, gpus: u64) -> Summary {
    let mut jct: Vec<f64> = Vec::new();
    let mut queue = 0.0;
    for (j, o) in jobs.iter().zip(&r.outcomes) {
        if let (Some(s), Some(f)) = (o.first_start_s, o.finish_s) {
            jct.push(f - j.arrival_s);
            queue += s - j.arrival_s;
        }
    }
    let n = jct.len().max(1) as f64;
    jct.sort_by(f64::total_cmp);
    let p99 = jct.get(((jct.len().max(1) - 1) as f64 * 0.99).round() as usize).copied().unwrap_or(0.0);
    Summary {
        avg_jct_s: jct.iter().sum::<f64>() / n,
        p99_jct_s: p99,
        avg_queue_s: queue / n,
        makespan_s: r.makespan_s,
        utilisation: r.busy_gpu_s / (gpus as f64 * r.makespan_s.max(1e-9)),
        preemptions: r.outcomes.iter().map(|o| u64::from(o.preemptions)).sum(),
        lost_gpu_h: r.outcomes.iter().map(|o| o.lost_gpu_s).sum::<f64>() / 3600.0,
        cycles: r.cycles,
    }
}

fn markdown(trace: &str, jobs: usize, nodes: u32, compress: f64, rows: &[(Policy, Summary)]) -> String {
    let mut md = format!(
        "# S3 Philly-shaped cluster: msr {trace}, {jobs} jobs, {nodes} nodes × 8 V100, arrivals compressed ×{compress}\n\n\
         | policy | avg JCT s | JCT ÷ first | p99 JCT s | avg queueing s | queueing ÷ first | makespan h | utilisation | preemptions | GPU-h lost | cycles |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    let Some((_, base)) = rows.first() else { return md };
    for (p, s) in rows {
        md.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} | {:.1} | {:.3} | {} | {:.1} | {} |\n",
            p.name(),
            s.avg_jct_s,
            s.avg_jct_s / base.avg_jct_s.max(1e-9),
            s.p99_jct_s,
            s.avg_queue_s,
            s.avg_queue_s / base.avg_queue_s.max(1e-9),
            s.makespan_s / 3600.0,
            s.utilisation,
            s.preemptions,
            s.lost_gpu_h,
            s.cycles
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gavel::generate::SimJob;

    fn job(tenant: usize, gpus: u32, seconds: f64, arrival_s: f64) -> SimJob {
        SimJob { tenant, job_type: "t".into(), gpus, total_steps: seconds, arrival_s, steps_per_s: [1.0, 1.0, 1.0] }
    }

    fn run(policy: Policy, jobs: &[SimJob], nominal: &[u64]) -> engine::Run {
        engine::simulate(policy, jobs, 2, 2, nominal, 600.0, &|_| {})
    }

    #[test]
    fn fifo_blocks_behind_a_gang_and_easy_backfills_without_delaying_it() {
        // 16 GPUs. An 8-GPU job runs for 1000 s; a 16-GPU gang waits for it; a 4-GPU job of
        // 500 s fits beside the first and ends before the gang could start.
        // One VC: fair share across VCs would rightly serve another VC's small job first.
        let jobs = [job(0, 8, 1000.0, 0.0), job(0, 16, 100.0, 1.0), job(0, 4, 500.0, 2.0)];
        let fifo = run(Policy::Fifo, &jobs, &[]);
        assert_eq!(fifo.outcomes[2].first_start_s, Some(1100.0), "FIFO: the small job waits behind the gang");
        let easy = run(Policy::Easy, &jobs, &[]);
        assert_eq!(easy.outcomes[2].first_start_s, Some(2.0), "EASY: it backfills");
        assert_eq!(easy.outcomes[1].first_start_s, Some(1000.0), "and the gang is not delayed");
        // A long small job would delay the gang: EASY holds it, greedy does not.
        let jobs = [job(0, 8, 1000.0, 0.0), job(0, 16, 100.0, 1.0), job(0, 4, 5000.0, 2.0)];
        assert_eq!(run(Policy::Easy, &jobs, &[]).outcomes[1].first_start_s, Some(1000.0));
        assert_eq!(run(Policy::Greedy, &jobs, &[]).outcomes[1].first_start_s, Some(5002.0));
    }

    #[test]
    fn shortest_gpu_time_first_serves_the_short_job_before_the_long_one() {
        // 16 GPUs busy until 1000 s; then a long 16-GPU job (arrived first) and a short one wait.
        let jobs = [job(0, 16, 1000.0, 0.0), job(0, 16, 5000.0, 1.0), job(0, 16, 100.0, 2.0)];
        let fifo = run(Policy::Fifo, &jobs, &[]);
        assert_eq!((fifo.outcomes[1].first_start_s, fifo.outcomes[2].first_start_s), (Some(1000.0), Some(6000.0)));
        let sjf = run(Policy::Sjf, &jobs, &[]);
        assert_eq!((sjf.outcomes[2].first_start_s, sjf.outcomes[1].first_start_s), (Some(1000.0), Some(1100.0)));
    }

    #[test]
    fn learned_shortest_first_orders_by_what_finished_jobs_took() {
        let typed = |kind: &str, seconds: f64, arrival_s: f64| SimJob {
            job_type: kind.into(),
            ..job(0, 16, seconds, arrival_s)
        };
        // A short job and a long one finish first; then a long and a short one wait together.
        let jobs = [
            typed("short", 10.0, 0.0),
            typed("long", 1000.0, 20.0),
            typed("long", 1000.0, 30.0),
            typed("short", 10.0, 31.0),
        ];
        let learned = run(Policy::SjfLearned, &jobs, &[]);
        assert_eq!(
            (learned.outcomes[3].first_start_s, learned.outcomes[2].first_start_s),
            (Some(1020.0), Some(1030.0))
        );
        let easy = run(Policy::Easy, &jobs, &[]);
        assert_eq!((easy.outcomes[2].first_start_s, easy.outcomes[3].first_start_s), (Some(1020.0), Some(2020.0)));
    }

    #[test]
    fn a_vc_within_its_nominal_quota_reclaims_borrowed_gpus() {
        // VC 1 borrows all 16 GPUs; VC 0 (guaranteed 8) arrives and takes 8 back at once.
        let jobs = [job(1, 8, 10_000.0, 0.0), job(1, 8, 10_000.0, 0.0), job(0, 8, 100.0, 700.0)];
        let r = run(Policy::Quota, &jobs, &[8, 8]);
        assert_eq!(r.outcomes[2].first_start_s, Some(700.0));
        let preempted: u32 = r.outcomes.iter().map(|o| o.preemptions).sum();
        assert_eq!(preempted, 1);
        // It had checkpointed at 600 s: 100 s × 8 GPUs lost.
        let lost: f64 = r.outcomes.iter().map(|o| o.lost_gpu_s).sum();
        assert_eq!(lost, 800.0);
        // Without quotas the newcomer waits for a borrower to finish.
        assert_eq!(run(Policy::Easy, &jobs, &[8, 8]).outcomes[2].first_start_s, Some(10_000.0));
    }

    #[test]
    fn vc_sizes_are_read_with_the_line_of_a_bad_row() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vc.csv");
        std::fs::write(&p, "vc,node num\na,3\nb,5\n").unwrap();
        assert_eq!(read_vc_nodes(&p).unwrap(), 8);
        std::fs::write(&p, "vc,node num\na,3\nb,five\n").unwrap();
        let e = read_vc_nodes(&p).unwrap_err().to_string();
        assert!(e.contains("vc.csv:3:") && e.contains("`b,five`"), "{e}");
    }
}
