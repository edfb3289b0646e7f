//! A run on the fleet (`strata data run --on-cluster`): phase 1, the costly per-document work, is
//! split into shards of input files that run as jobs on the agents (`strata data run
//! --scan-files 0,3,7`), each writing the same per-file checkpoints a local run writes; then the
//! coordinator runs the pipeline itself, which finds every file scanned and only deduplicates
//! across all of them and writes the shards. The output is byte for byte a local run's.
//!
//! The output directory must be on storage every agent sees (one machine, or a shared
//! filesystem), and each agent must have the `strata` binary at the coordinator's path.

use serde::Serialize;

use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::run::{check, RunOptions};

/// What a coordinator hands out: shards of input files still to scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterPlan {
    /// Identifies the run (pipeline and inputs); jobs of the same shard of the same run share it.
    pub fingerprint: String,
    pub files: usize,
    /// Files a previous attempt already scanned (not handed out again).
    pub already_scanned: usize,
    /// Input-file indexes per shard, each list ascending; no file in two shards.
    pub shards: Vec<Vec<usize>>,
}

/// Checks the pipeline, prepares the output directory and splits the unscanned input files into
/// at most `shards` shards of about equal bytes.
pub fn plan_cluster(pipeline: &Pipeline, options: &RunOptions, shards: usize) -> Result<ClusterPlan> {
    let setup = check(pipeline, options)?;
    let todo: Vec<(usize, u64)> =
        setup.files.iter().enumerate().filter(|(i, _)| !setup.scanned(*i)).map(|(i, f)| (i, f.size)).collect();
    Ok(ClusterPlan {
        fingerprint: setup.fingerprint.clone(),
        files: setup.files.len(),
        already_scanned: setup.files.len() - todo.len(),
        shards: balance(&todo, shards),
    })
}

/// Largest file first into the lightest shard (ties: the lower index), so shards finish at about
/// the same time; empty shards are dropped. Deterministic.
pub fn balance(files: &[(usize, u64)], shards: usize) -> Vec<Vec<usize>> {
    let mut order = files.to_vec();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut bins: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); shards.max(1)];
    for (index, size) in order {
        let lightest = (0..bins.len()).min_by_key(|&b| (bins[b].0, bins[b].1.len(), b)).unwrap_or(0);
        bins[lightest].0 += size;
        bins[lightest].1.push(index);
    }
    let mut out: Vec<Vec<usize>> = bins.into_iter().map(|(_, mut f)| (f.sort_unstable(), f).1).collect();
    out.retain(|f| !f.is_empty());
    out.sort();
    out
}

/// `0,3,7` — how a shard's files are passed to its job.
pub fn format_files(files: &[usize]) -> String {
    files.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

/// Parses [`format_files`]'s form.
pub fn parse_files(text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .map(|part| {
            part.trim().parse::<usize>().map_err(|_| Error::Config {
                file: "--scan-files".into(),
                path: "scan_files".into(),
                message: format!("`{part}` is not a file index; expected indexes like 0,3,7"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_spreads_bytes_and_keeps_every_file_once() {
        let files = [(0, 100), (1, 10), (2, 60), (3, 50), (4, 5), (5, 45)];
        let shards = balance(&files, 3);
        assert_eq!(shards, vec![vec![0], vec![1, 2, 4], vec![3, 5]], "100 | 60+10+5 | 50+45");
        let mut all: Vec<usize> = shards.concat();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(balance(&files[..2], 8), vec![vec![0], vec![1]], "no empty shards");
        assert_eq!(balance(&[], 4), Vec::<Vec<usize>>::new());
        assert_eq!(balance(&files, 0).len(), 1, "at least one shard");
    }

    #[test]
    fn file_lists_round_trip() {
        assert_eq!(parse_files(&format_files(&[0, 3, 17])).unwrap(), vec![0, 3, 17]);
        assert!(parse_files("0,x").unwrap_err().to_string().contains("`x` is not a file index"));
    }
}
