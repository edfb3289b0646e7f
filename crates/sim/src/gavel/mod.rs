//! `strata sim gavel`: Gavel's heterogeneity-aware scheduling experiment (Narayanan et al.,
//! OSDI'20) — a K80/P100/V100 cluster, jobs whose speed depends on the chip, rounds of 6 minutes —
//! with Gavel's baselines and Strata's policies driven by the same pure round scheduler.
//!
//! Two job sources: Gavel's synthetic single-GPU continuous trace (`--jobs-per-hour`, measured on
//! jobs 4000–5000 as Gavel does) or an msr trace folder (`--trace …/seed=N`, each VC a tenant,
//! measured on every job).

pub mod engine;
pub mod generate;
pub mod report;
pub mod trace;

use anyhow::Context;
use clap::builder::PossibleValue;
use engine::{simulate, StopWhen};
use generate::{msr_jobs, poisson_jobs, SimJob};
use indicatif::{ProgressBar, ProgressStyle};
use report::{csv_row, markdown, summarize, Summary, CSV_HEADER};
use std::path::{Path, PathBuf};
use strata_sched::{ChipClass, HeteroPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeteroPolicyArg(pub HeteroPolicy);

impl clap::ValueEnum for HeteroPolicyArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [HeteroPolicyArg; 6] = [
            HeteroPolicyArg(HeteroPolicy::ALL[0]),
            HeteroPolicyArg(HeteroPolicy::ALL[1]),
            HeteroPolicyArg(HeteroPolicy::ALL[2]),
            HeteroPolicyArg(HeteroPolicy::ALL[3]),
            HeteroPolicyArg(HeteroPolicy::ALL[4]),
            HeteroPolicyArg(HeteroPolicy::ALL[5]),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name()).help(self.0.about()))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct GavelArgs {
    /// Gavel's `simulation_throughputs.json`.
    #[arg(long)]
    pub throughputs: PathBuf,
    /// Policies to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "strata")]
    pub policy: Vec<HeteroPolicyArg>,
    /// Synthetic trace: Poisson arrivals at this rate (ignored with `--trace`).
    #[arg(long, default_value_t = 4.0)]
    pub jobs_per_hour: f64,
    /// An msr trace folder (`traces/msr/seed=N`) instead of the synthetic trace.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Seed of the synthetic trace and of the policies' random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Synthetic trace: jobs measured, `start-end` by arrival index (Gavel: 4000-5000).
    #[arg(long, default_value = "4000-5000", value_parser = parse_window)]
    pub window: (usize, usize),
    /// GPUs per class: K80, P100, V100.
    #[arg(long, value_delimiter = ',', default_value = "36,36,36")]
    pub gpus: Vec<u32>,
    /// Dollars per GPU-hour: K80, P100, V100 (GCP on-demand, as in Gavel).
    #[arg(long, value_delimiter = ',', default_value = "0.52,1.68,2.85")]
    pub prices: Vec<f64>,
    /// Where `summary.csv` and `summary.md` go.
    #[arg(long)]
    pub out: PathBuf,
    /// Policies simulated in parallel (output does not depend on it).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
}

fn parse_window(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s.split_once('-').ok_or_else(|| format!("`{s}`: expected START-END, e.g. 4000-5000"))?;
    let a: usize = a.trim().parse().map_err(|_| format!("`{a}`: not a job index"))?;
    let b: usize = b.trim().parse().map_err(|_| format!("`{b}`: not a job index"))?;
    if a >= b {
        return Err(format!("`{s}`: START must be below END"));
    }
    Ok((a, b))
}

/// The cluster: K80, P100, V100 with their counts and prices.
pub fn chips(gpus: &[u32], prices: &[f64]) -> anyhow::Result<Vec<ChipClass>> {
    anyhow::ensure!(gpus.len() == 3 && prices.len() == 3, "--gpus and --prices take three values: K80,P100,V100");
    Ok(trace::CHIPS
        .iter()
        .zip(gpus.iter().zip(prices))
        .map(|(n, (&g, &p))| ChipClass { name: n.to_string(), gpus: g, dollars_per_gpu_hour: p })
        .collect())
}

/// A loaded experiment: its jobs, tenants, stop rule and measured window.
pub struct Experiment {
    pub jobs: Vec<SimJob>,
    pub tenants: Vec<String>,
    pub stop: StopWhen,
    pub window: std::ops::Range<usize>,
    pub title: String,
    pub load: String,
    pub jobs_per_hour: Option<f64>,
}

pub fn load(args: &GavelArgs) -> anyhow::Result<Experiment> {
    let t = trace::read_throughputs(&args.throughputs)?;
    if let Some(dir) = &args.trace {
        let vcs = trace::read_msr_dir(dir)?;
        let jobs = msr_jobs(dir, &t, &vcs)?;
        let n = jobs.len();
        let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        return Ok(Experiment {
            tenants: vcs.into_iter().map(|(vc, _)| vc).collect(),
            stop: StopWhen::AllDone,
            window: 0..n,
            title: format!("Gavel msr trace {name}: {n} jobs"),
            load: format!("msr/{name}"),
            jobs,
            jobs_per_hour: None,
        });
    }
    let (start, end) = args.window;
    // Enough arrivals after the window that its last jobs still see a loaded cluster.
    let jobs = poisson_jobs(&t, args.jobs_per_hour, end * 2, args.seed);
    Ok(Experiment {
        jobs,
        tenants: vec!["all".to_string()],
        stop: StopWhen::WindowDone { start, end },
        window: start..end,
        title: format!(
            "Gavel continuous single-GPU trace: {} jobs/hour, seed {}, jobs {start}–{end}",
            args.jobs_per_hour, args.seed
        ),
        load: format!("{:.1}", args.jobs_per_hour),
        jobs_per_hour: Some(args.jobs_per_hour),
    })
}

/// Runs every policy on the experiment; results in the order given, whatever the threads.
pub fn run_policies(
    e: &Experiment,
    chips: &[ChipClass],
    policies: &[HeteroPolicy],
    seed: u64,
    threads: usize,
    tick: &(dyn Fn(u64) + Sync),
) -> Vec<Summary> {
    let threads = threads.max(1);
    let mut out: Vec<(usize, Summary)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    policies
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(k, &p)| {
                            let r = simulate(p, &e.jobs, chips, seed, e.stop, tick);
                            (k, summarize(p, &e.jobs, &r, chips, e.window.clone()))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, s)| s).collect()
}

pub fn run(args: &GavelArgs) -> anyhow::Result<()> {
    let chips = chips(&args.gpus, &args.prices)?;
    let e = load(args)?;
    let policies: Vec<HeteroPolicy> = args.policy.iter().map(|p| p.0).collect();
    let per_policy = match e.stop {
        StopWhen::AllDone => e.jobs.len(),
        StopWhen::WindowDone { end, .. } => end,
    };
    let bar = ProgressBar::new((per_policy * policies.len()) as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} jobs done, eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("gavel {}", e.load));
    let summaries = run_policies(&e, &chips, &policies, args.seed, args.jobs, &|n| bar.inc(n));
    bar.finish_and_clear();

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut csv = format!("{CSV_HEADER}\n");
    for s in &summaries {
        csv.push_str(&csv_row(s, &e.load, args.seed, e.jobs_per_hour));
        csv.push('\n');
    }
    write(&args.out.join("summary.csv"), &csv)?;
    let md = markdown(&e.title, &summaries, e.jobs_per_hour, &e.tenants);
    write(&args.out.join("summary.md"), &md)?;
    print!("{md}");
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATRIX: &str = r#"{"k80": {"('A', 1)": {"null": 1.0}, "('B', 1)": {"null": 2.0}},
        "p100": {"('A', 1)": {"null": 3.0}, "('B', 1)": {"null": 2.5}},
        "v100": {"('A', 1)": {"null": 6.0}, "('B', 1)": {"null": 3.0}}}"#;

    fn run_to(dir: &Path, out: &str, policy: &str) -> anyhow::Result<String> {
        let throughputs = dir.join("t.json");
        std::fs::write(&throughputs, MATRIX)?;
        let args = GavelArgs {
            throughputs,
            policy: policy.split(',').filter_map(HeteroPolicy::from_name).map(HeteroPolicyArg).collect(),
            jobs_per_hour: 3.0,
            trace: None,
            seed: 3,
            window: (20, 60),
            gpus: vec![2, 2, 2],
            prices: vec![0.52, 1.68, 2.85],
            out: dir.join(out),
            jobs: 2,
        };
        run(&args)?;
        Ok(std::fs::read_to_string(dir.join(out).join("summary.csv"))?
            + &std::fs::read_to_string(dir.join(out).join("summary.md"))?)
    }

    #[test]
    fn same_seed_same_bytes_whatever_the_threads() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let all = "fifo,fifo-het,las,las-het,strata,strata-cost";
        let a = run_to(dir.path(), "a", all)?;
        let b = run_to(dir.path(), "b", all)?;
        assert_eq!(a, b);
        assert_eq!(a.lines().count(), 1 + 6 + 4 + 6);
        Ok(())
    }

    #[test]
    fn msr_folder_becomes_tenants() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let seed = dir.path().join("seed=0");
        std::fs::create_dir_all(&seed)?;
        std::fs::write(seed.join("vc2.trace"), "A\tc\t-n\t1\t600\t0\t1\nB\tc\t-n\t1\t300\t50\t1\n")?;
        std::fs::write(seed.join("vc1.trace"), "B\tc\t-n\t1\t900\t10\t1\n")?;
        let throughputs = dir.path().join("t.json");
        std::fs::write(&throughputs, MATRIX)?;
        let t = trace::read_throughputs(&throughputs)?;
        let vcs = trace::read_msr_dir(&seed)?;
        let jobs = msr_jobs(&seed, &t, &vcs)?;
        let got: Vec<(usize, f64)> = jobs.iter().map(|j| (j.tenant, j.arrival_s)).collect();
        assert_eq!(got, vec![(1, 0.0), (0, 10.0), (1, 50.0)]);
        std::fs::write(seed.join("vc3.trace"), "C\tc\t-n\t1\t1\t0\t1\n")?;
        let err = msr_jobs(&seed, &t, &trace::read_msr_dir(&seed)?).map_err(|e| e.to_string());
        assert!(
            matches!(&err, Err(m) if m.ends_with("vc3.trace: row 1: no throughput for ('C', 1) in the matrix")),
            "{err:?}"
        );
        Ok(())
    }
}
