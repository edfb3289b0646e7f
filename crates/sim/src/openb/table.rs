//! `strata sim openb-table`: the S1 comparison table from a folder of runs
//! (`<root>/<workload>/<policy>/allo.csv`) and the authors' results.

use super::report::{authors_policy, read_means, Metric};
use anyhow::Context;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct TableArgs {
    /// Folder holding `<workload>/<policy>/allo.csv` from `strata sim openb`.
    #[arg(long)]
    pub results: PathBuf,
    /// Folder with the authors' `analysis_allo_discrete.csv`.
    #[arg(long)]
    pub baseline: PathBuf,
    /// Arrived GPU demand (% of capacity) to compare at.
    #[arg(long, default_value_t = 130)]
    pub at: usize,
}

const ORDER: [&str; 6] = ["random", "bestfit", "gpupacking", "fgd", "strata", "classic"];

pub fn run(args: &TableArgs) -> anyhow::Result<()> {
    let theirs = read_means(&args.baseline.join(Metric::Allo.baseline_file()))
        .with_context(|| format!("reading the authors' results in {}", args.baseline.display()))?;
    let mut workloads: Vec<PathBuf> = dirs(&args.results)?;
    workloads.sort();
    let mut s = String::new();
    let _ = writeln!(s, "GPU allocation % at {}% arrived GPU demand, mean of seeds.\n", args.at);
    let _ = writeln!(
        s,
        "| workload | policy | ours | authors | Δ | Δ vs authors' FGD | first failure % | first shortfall % |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for wdir in workloads {
        let workload = wdir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for policy in ORDER {
            let pdir = wdir.join(policy);
            let Ok(ours) = read_means(&pdir.join(Metric::Allo.file())) else { continue };
            let Some(o) = ours.values().next().and_then(|v| v.get(args.at).copied().flatten()) else { continue };
            let get = |name: &str| {
                theirs.get(&(workload.clone(), name.to_string())).and_then(|v| v.get(args.at).copied().flatten())
            };
            let authors = get(authors_policy(policy));
            let fgd = get("06-FGD");
            let fmt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
            let diff = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:+.2}", o - v));
            let failures = pdir.join("first_failure.csv");
            let first = first_failure(&failures, "first_failure_pct");
            let shortfall = first_failure(&failures, "first_shortfall_pct");
            let _ = writeln!(
                s,
                "| {} | {policy} | {o:.2} | {} | {} | {} | {} | {} |",
                workload.trim_start_matches("openb_pod_list_"),
                fmt(authors),
                diff(authors),
                diff(fgd),
                fmt(first),
                fmt(shortfall)
            );
        }
    }
    print!("{s}");
    Ok(())
}

fn dirs(root: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))?;
    Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect())
}

/// Mean over seeds of one column of `first_failure.csv`, if any seed has a value there.
fn first_failure(path: &std::path::Path, column: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let col = lines.next()?.split(',').position(|h| h == column)?;
    let vals: Vec<f64> = lines.filter_map(|l| l.split(',').nth(col)?.parse().ok()).collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}
