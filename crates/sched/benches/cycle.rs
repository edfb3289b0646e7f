//! One scheduling cycle at scale: 10,000 pending jobs on 1,000 eight-GPU nodes (8,000 GPUs) by
//! default, or `NODES` nodes and `JOBS` jobs. `cargo bench -p strata-sched --bench cycle` prints
//! the time per cycle and per job, with the cycle's index and with a scan of every node per job.
//!
//!     NODES=6250 JOBS=20000 cargo bench -p strata-sched --bench cycle   # 50,000 GPUs

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{job, node, whole};
use std::time::Instant;
use strata_sched::{schedule, schedule_by_scan, Decisions, PendingJob, SchedInput};

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let (node_count, job_count) = (env("NODES", 1000), env("JOBS", 10_000));
    let nodes = (1..=node_count).map(|i| node(i, Some(&format!("r{}", i % 40)), &whole("H100", 8))).collect();
    let pending = (1..=job_count)
        .map(|i| PendingJob {
            replicas: [1, 1, 1, 2, 4][i as usize % 5],
            ..job(i, [250, 500, 1000, 2000, 4000, 8000][i as usize % 6])
        })
        .collect();
    let input = SchedInput { nodes, pending, tenants: vec![], running: vec![], now_ms: 0, seed: 0 };
    let indexed = run(&input, schedule);
    let scanned = run(&input, schedule_by_scan);
    assert_eq!(indexed.0, scanned.0, "the index and the scan decided differently");
    let d = &indexed.0;
    assert_eq!(d.placements.len() + d.waiting.len(), job_count as usize);
    println!(
        "sched cycle: {job_count} pending × {node_count} nodes ({} GPUs): {} placed, {} waiting",
        node_count * 8,
        d.placements.len(),
        d.waiting.len(),
    );
    for (name, (_, best)) in [("index", indexed), ("scan", scanned)] {
        println!(
            "  {name}: best of {RUNS}: {:.1} ms ({:.2} µs per job considered)",
            best * 1e3,
            best * 1e6 / job_count as f64
        );
    }
}

const RUNS: usize = 5;

/// The decisions and the best wall time of `RUNS` cycles.
fn run(input: &SchedInput, cycle: fn(&SchedInput) -> Decisions) -> (Decisions, f64) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let d = cycle(input);
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(d);
    }
    (last.unwrap(), best)
}
