//! `strata sim openb`: FGD's inflation experiment (Weng et al., ATC'23) on the Alibaba openb
//! traces, written in the authors' CSV schema with a markdown summary beside their numbers.

pub mod curve;
pub mod inflate;
pub mod replay;
pub mod report;
pub mod run;
pub mod table;
pub mod trace;

use anyhow::Context;
use clap::builder::PossibleValue;
use curve::{discretize, py_float, Curves};
use indicatif::{ProgressBar, ProgressStyle};
use report::{authors_policy, read_means, render, Means, Metric, Table};
use run::{run_seed, SeedRun, Workload};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use strata_sched::Policy;

/// A placement policy on the command line; `--help` lists each with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyArg(pub Policy);

impl Default for PolicyArg {
    fn default() -> Self {
        PolicyArg(Policy::Strata)
    }
}

impl clap::ValueEnum for PolicyArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [PolicyArg; 6] = [
            PolicyArg(Policy::ALL[0]),
            PolicyArg(Policy::ALL[1]),
            PolicyArg(Policy::ALL[2]),
            PolicyArg(Policy::ALL[3]),
            PolicyArg(Policy::ALL[4]),
            PolicyArg(Policy::ALL[5]),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name()).help(self.0.about()))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct OpenbArgs {
    /// Node list: `sn,cpu_milli,memory_mib,gpu,model`.
    #[arg(long)]
    pub nodes: PathBuf,
    /// Pod list: `name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,…]`.
    #[arg(long)]
    pub pods: PathBuf,
    /// Placement policy.
    #[arg(long, value_enum, default_value_t = PolicyArg::default())]
    pub policy: PolicyArg,
    /// Seeds: `42-51`, `42,45` or `42`.
    #[arg(long, default_value = "42-51", value_parser = parse_seeds)]
    pub seeds: Seeds,
    /// Where `allo.csv`, `frag.csv`, `frag_ratio.csv`, `first_failure.csv` and `summary.md` go.
    #[arg(long)]
    pub out: PathBuf,
    /// Target GPU demand as a multiple of cluster capacity (FGD's `tune`).
    #[arg(long, default_value_t = 1.3)]
    pub tune: f64,
    /// Folder with the authors' `analysis_*_discrete.csv`, to print their numbers beside ours.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Seeds simulated in parallel (output does not depend on it).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
}

/// A validated list of seeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeds(pub Vec<u64>);

pub fn parse_seeds(s: &str) -> Result<Seeds, String> {
    let mut seeds = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |x: &str| x.trim().parse::<u64>().map_err(|e| format!("seed `{x}` in `{s}`: {e}"));
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("seed range `{part}` runs backwards; write `{b}-{a}`"));
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(num(part)?),
        }
    }
    if seeds.is_empty() {
        return Err("no seeds given; write e.g. `42-51`".to_string());
    }
    Ok(Seeds(seeds))
}

/// Runs every seed, writes the CSVs and the summary.
pub fn run(args: &OpenbArgs) -> anyhow::Result<()> {
    let w = Workload::load(&args.nodes, &args.pods)?;
    let policy = args.policy.0;
    let seeds = &args.seeds.0;
    let total: u64 = seeds.iter().map(|&s| w.arrivals(args.tune, s).len() as u64).sum();
    let bar = progress(total, &format!("{} {}", w.name, policy.name()));
    let runs = run_all(&w, policy, args.tune, seeds, args.jobs.max(1), &|| bar.inc(1));
    bar.finish_and_clear();

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let rows: Vec<(u64, Curves)> = runs.iter().map(|r| (r.seed, discretize(&r.observations, w.total_gpus))).collect();
    let table =
        Table { workload: &w.name, policy: policy.name(), tune: args.tune, total_gpus: w.total_gpus, rows: &rows };
    for metric in Metric::ALL {
        write(&args.out.join(metric.file()), &render(&table, metric))?;
    }
    write(&args.out.join("first_failure.csv"), &failures_csv(&w.name, policy, &runs))?;
    let baseline = args.baseline.as_deref().map(load_baseline).transpose()?;
    let summary = summary(&w, policy, args.tune, &runs, &rows, baseline.as_ref());
    write(&args.out.join("summary.md"), &summary)?;
    print!("{summary}");
    Ok(())
}

/// Simulates the seeds on `jobs` threads; results come back in seed order whatever the threads.
pub fn run_all(
    w: &Workload,
    policy: Policy,
    tune: f64,
    seeds: &[u64],
    jobs: usize,
    tick: &(dyn Fn() + Sync),
) -> Vec<SeedRun> {
    let mut runs: Vec<SeedRun> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let mine: Vec<u64> = seeds.iter().skip(j).step_by(jobs).copied().collect();
                scope.spawn(move || mine.into_iter().map(|s| run_seed(w, policy, tune, s, tick)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    runs.sort_by_key(|r| seeds.iter().position(|&s| s == r.seed));
    runs
}

fn progress(total: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} pods {per_sec} eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_string());
    bar
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn failures_csv(workload: &str, policy: Policy, runs: &[SeedRun]) -> String {
    let mut out = String::from("workload,sc_policy,seed,pods,failed,never_fit,first_failure_pct,first_shortfall_pct\n");
    let pct = |p: Option<f64>| p.map(|p| format!("{p:.2}")).unwrap_or_default();
    for r in runs {
        let _ = writeln!(
            out,
            "{workload},{},{},{},{},{},{},{}",
            policy.name(),
            r.seed,
            r.observations.len(),
            r.failed,
            r.never_fit,
            pct(r.first_failure_pct),
            pct(r.first_shortfall_pct)
        );
    }
    out
}

/// The authors' means for each metric.
pub struct Baseline {
    pub allo: Means,
    pub frag_ratio: Means,
}

pub fn load_baseline(dir: &Path) -> anyhow::Result<Baseline> {
    let read = |m: Metric| {
        let p = dir.join(m.baseline_file());
        read_means(&p).with_context(|| format!("reading the authors' results {}", p.display()))
    };
    Ok(Baseline { allo: read(Metric::Allo)?, frag_ratio: read(Metric::FragRatio)? })
}

const SUMMARY_POINTS: [usize; 8] = [50, 70, 80, 90, 100, 110, 120, 130];

fn summary(
    w: &Workload,
    policy: Policy,
    tune: f64,
    runs: &[SeedRun],
    rows: &[(u64, Curves)],
    base: Option<&Baseline>,
) -> String {
    let mut s = String::new();
    let seeds: Vec<String> = runs.iter().map(|r| r.seed.to_string()).collect();
    let _ = writeln!(s, "# openb: {}, policy `{}`, seeds {}\n", w.name, policy.name(), seeds.join(","));
    let pods: Vec<usize> = runs.iter().map(|r| r.observations.len()).collect();
    let _ = writeln!(
        s,
        "{} nodes, {} GPUs; {} pods in the list, {}–{} arrivals per seed (target {}% of GPU capacity); {} typical task classes.\n",
        w.nodes.len(),
        w.total_gpus,
        w.pods.len(),
        pods.iter().min().unwrap_or(&0),
        pods.iter().max().unwrap_or(&0),
        py_float(tune * 100.0),
        w.mix.classes.len()
    );
    let header: Vec<String> = SUMMARY_POINTS.iter().map(|p| p.to_string()).collect();
    let _ = writeln!(s, "| arrived GPU demand (%) | {} |", header.join(" | "));
    let _ = writeln!(s, "| --- |{}", " --- |".repeat(SUMMARY_POINTS.len()));
    let ours_allo = mean_rows(rows, |c| &c.allo);
    let ours_ratio = mean_rows(rows, |c| &c.frag_ratio);
    line(&mut s, &format!("allocation %, ours ({})", policy.name()), &ours_allo);
    let theirs = |m: &Means, name: &str| m.get(&(w.name.clone(), name.to_string())).cloned();
    let authors = authors_policy(policy.name());
    let mut names = vec![authors];
    if authors != "06-FGD" {
        names.push("06-FGD");
    }
    if let Some(b) = base {
        for name in &names {
            if let Some(v) = theirs(&b.allo, name) {
                line(&mut s, &format!("allocation %, authors' {name}"), &v);
            }
        }
    }
    line(&mut s, &format!("fragmentation ratio %, ours ({})", policy.name()), &ours_ratio);
    if let Some(b) = base {
        for name in &names {
            if let Some(v) = theirs(&b.frag_ratio, name) {
                line(&mut s, &format!("fragmentation ratio %, authors' {name}"), &v);
            }
        }
    }
    let failed: usize = runs.iter().map(|r| r.failed).sum();
    let never: usize = runs.iter().map(|r| r.never_fit).sum();
    let per_seed = |n: usize| n as f64 / runs.len().max(1) as f64;
    match spread(runs.iter().filter_map(|r| r.first_failure_pct)) {
        None => {
            let _ = writeln!(s, "\nNo pod failed.");
        }
        Some((mean, lo, hi, n)) => {
            let _ = writeln!(
                s,
                "\nFirst failure at {mean:.2}% arrived GPU demand (mean of {n} seeds; {lo:.2}–{hi:.2}); {:.1} failed pods per seed, {:.1} of them too big for the empty cluster.",
                per_seed(failed),
                per_seed(never)
            );
        }
    }
    if let Some((mean, lo, hi, n)) = spread(runs.iter().filter_map(|r| r.first_shortfall_pct)) {
        let _ = writeln!(
            s,
            "First shortfall (a failed pod that fits the empty cluster) at {mean:.2}% (mean of {n} seeds; {lo:.2}–{hi:.2})."
        );
    }
    s
}

/// Mean, min, max and count of some values, if there are any.
fn spread(values: impl Iterator<Item = f64>) -> Option<(f64, f64, f64, usize)> {
    let v: Vec<f64> = values.collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64, lo, hi, v.len()))
}

fn mean_rows(rows: &[(u64, Curves)], metric: fn(&Curves) -> &Vec<Option<f64>>) -> Vec<Option<f64>> {
    (0..curve::BUCKETS)
        .map(|b| {
            let vals: Vec<f64> = rows.iter().filter_map(|(_, c)| metric(c)[b]).collect();
            (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
        })
        .collect()
}

fn line(s: &mut String, label: &str, values: &[Option<f64>]) {
    let cells: Vec<String> = SUMMARY_POINTS
        .iter()
        .map(|&p| values.get(p).copied().flatten().map_or("–".to_string(), |v| format!("{v:.2}")))
        .collect();
    let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
}
