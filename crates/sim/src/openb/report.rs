//! Writing results in the FGD authors' CSV schema and reading their published rows back, so
//! ours and theirs can be put side by side.
//!
//! Schema: `workload,sc_policy,tune,seed,total_gpus,0,1,…,130` — one row per seed; `workload` is
//! the pod file's stem, `sc_policy` our policy's name. (The authors' `frag` and `frag_ratio` files
//! lack `total_gpus`; ours keep it in all three, and readers go by column name.)

use super::curve::{py_float, Curves, BUCKETS};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One run's rows, ready to write.
pub struct Table<'a> {
    pub workload: &'a str,
    pub policy: &'a str,
    pub tune: f64,
    pub total_gpus: u64,
    pub rows: &'a [(u64, Curves)],
}

#[derive(Debug, Clone, Copy)]
pub enum Metric {
    Allo,
    Frag,
    FragRatio,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Allo, Metric::Frag, Metric::FragRatio];

    pub fn file(self) -> &'static str {
        match self {
            Metric::Allo => "allo.csv",
            Metric::Frag => "frag.csv",
            Metric::FragRatio => "frag_ratio.csv",
        }
    }

    /// The authors' file for this metric.
    pub fn baseline_file(self) -> &'static str {
        match self {
            Metric::Allo => "analysis_allo_discrete.csv",
            Metric::Frag => "analysis_frag_discrete.csv",
            Metric::FragRatio => "analysis_frag_ratio_discrete.csv",
        }
    }

    fn of(self, c: &Curves) -> &[Option<f64>] {
        match self {
            Metric::Allo => &c.allo,
            Metric::Frag => &c.frag,
            Metric::FragRatio => &c.frag_ratio,
        }
    }
}

/// The CSV text for one metric: header and one row per seed, in the order given.
pub fn render(table: &Table, metric: Metric) -> String {
    let mut out = String::from("workload,sc_policy,tune,seed,total_gpus");
    for b in 0..BUCKETS {
        let _ = write!(out, ",{b}");
    }
    out.push('\n');
    for (seed, curves) in table.rows {
        let _ = write!(out, "{},{},{},{seed},{}", table.workload, table.policy, py_float(table.tune), table.total_gpus);
        for v in metric.of(curves) {
            out.push(',');
            if let Some(v) = v {
                out.push_str(&py_float(*v));
            }
        }
        out.push('\n');
    }
    out
}

/// Mean per bucket over rows of a file in this schema, keyed by (workload, sc_policy).
pub type Means = BTreeMap<(String, String), Vec<Option<f64>>>;

/// Reads a CSV in the FGD schema (ours or the authors') and averages each bucket over seeds.
pub fn read_means(path: &Path) -> std::io::Result<Means> {
    let text = std::fs::read_to_string(path)?;
    Ok(means_of(&text))
}

pub fn means_of(text: &str) -> Means {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(w), Some(p)) = (col("workload"), col("sc_policy")) else { return Means::new() };
    let buckets: Vec<Option<usize>> = (0..BUCKETS).map(|b| col(&b.to_string())).collect();
    let mut sums: BTreeMap<(String, String), Vec<(f64, u32)>> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(wl), Some(pl)) = (f.get(w), f.get(p)) else { continue };
        let acc = sums.entry((wl.to_string(), pl.to_string())).or_insert_with(|| vec![(0.0, 0); BUCKETS]);
        for (b, c) in buckets.iter().enumerate() {
            if let Some(v) = c.and_then(|c| f.get(c)).and_then(|s| s.parse::<f64>().ok()) {
                acc[b].0 += v;
                acc[b].1 += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(k, acc)| (k, acc.into_iter().map(|(s, n)| (n > 0).then(|| s / f64::from(n))).collect()))
        .collect()
}

/// The authors' row name for the baseline our policy reproduces (or competes with).
pub fn authors_policy(policy: &str) -> &'static str {
    match policy {
        "random" => "01-Random",
        "bestfit" => "05-BestFit",
        "gpupacking" => "04-GpuPacking",
        _ => "06-FGD",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_fgd_schema_and_reads_it_back() {
        let mut c = Curves { allo: vec![None; BUCKETS], frag: vec![None; BUCKETS], frag_ratio: vec![None; BUCKETS] };
        c.allo[0] = Some(0.25);
        c.allo[130] = Some(95.0);
        let rows = [(42, c.clone()), (43, c)];
        let t = Table { workload: "openb_pod_list_default", policy: "fgd", tune: 1.3, total_gpus: 6212, rows: &rows };
        let text = render(&t, Metric::Allo);
        let first = text.lines().nth(1).unwrap_or("");
        assert!(first.starts_with("openb_pod_list_default,fgd,1.3,42,6212,0.25,,"), "{first}");
        assert!(first.ends_with(",95.0"), "{first}");
        let means = means_of(&text);
        let m = &means[&("openb_pod_list_default".to_string(), "fgd".to_string())];
        assert_eq!((m[0], m[1], m[130]), (Some(0.25), None, Some(95.0)));
    }
}
