//! A coarse scale check, ignored by default: `cargo test -p strata-sched --release -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{job, node, whole};
use std::time::Instant;
use strata_sched::{schedule, PendingJob, SchedInput};

#[test]
#[ignore = "timing check; run explicitly in release mode"]
fn ten_thousand_jobs_on_a_thousand_nodes() {
    let nodes = (1..=1000)
        .map(|i| node(i, Some(&format!("r{}", i % 40)), &whole("H100", 8)))
        .collect();
    let pending = (1..=10_000)
        .map(|i| PendingJob {
            replicas: [1, 1, 1, 2, 4][i as usize % 5],
            ..job(i, [250, 500, 1000, 2000, 4000, 8000][i as usize % 6])
        })
        .collect();
    let input = SchedInput {
        nodes,
        pending,
        tenants: vec![],
        now_ms: 0,
        seed: 0,
    };
    let start = Instant::now();
    let d = schedule(&input);
    let took = start.elapsed();
    println!(
        "{} placed, {} waiting in {took:?}",
        d.placements.len(),
        d.waiting.len()
    );
    assert_eq!(d.placements.len() + d.waiting.len(), 10_000);
}
