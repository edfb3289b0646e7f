//! One scheduling cycle at scale: 10,000 pending jobs on 1,000 eight-GPU nodes (8,000 GPUs).
//! `cargo bench -p strata-sched --bench cycle` prints the time per cycle and per placement.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{job, node, whole};
use std::time::Instant;
use strata_sched::{schedule, PendingJob, SchedInput};

fn main() {
    let nodes = (1..=1000).map(|i| node(i, Some(&format!("r{}", i % 40)), &whole("H100", 8))).collect();
    let pending = (1..=10_000)
        .map(|i| PendingJob {
            replicas: [1, 1, 1, 2, 4][i as usize % 5],
            ..job(i, [250, 500, 1000, 2000, 4000, 8000][i as usize % 6])
        })
        .collect();
    let input = SchedInput { nodes, pending, tenants: vec![], running: vec![], now_ms: 0, seed: 0 };
    let runs = 5;
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let d = schedule(&input);
        best = best.min(start.elapsed().as_secs_f64());
        last = Some(d);
    }
    let d = last.unwrap();
    assert_eq!(d.placements.len() + d.waiting.len(), 10_000);
    println!(
        "sched cycle: 10000 pending × 1000 nodes (8000 GPUs): {} placed, {} waiting; best of {runs}: {:.1} ms ({:.1} µs per job considered)",
        d.placements.len(),
        d.waiting.len(),
        best * 1e3,
        best * 1e6 / 10_000.0
    );
}
