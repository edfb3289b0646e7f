//! Preemption, quota borrowing and reclaim, fair share and backfill: each test builds a fleet
//! with running work and a queue, and checks which jobs start, which are stopped and why.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{job, node, render, tenant};
use strata_domain::{GpuMillis, JobId, NodeId, TenantId};
use strata_sched::{schedule, GpuAssignment, HeldReplica, NodeView, PendingJob, RunningJob, SchedInput, TenantLimits};

const HOUR: i64 = 3_600_000;

/// A running job of `tenant` holding whole devices `gpus` of model H100 on node `node`.
fn running(id: i64, tenant: i64, priority: i32, node: i64, gpus: &[u32], started_ms: i64) -> RunningJob {
    RunningJob {
        id: JobId(id),
        tenant: TenantId(tenant),
        priority,
        preemptible: true,
        progress_since_ms: started_ms,
        expected_end_ms: None,
        replicas: vec![HeldReplica {
            node: NodeId(node),
            gpu_model: Some("H100".into()),
            cpu_milli: 1000,
            memory_mib: 1024,
            gpus: gpus.iter().map(|&index| GpuAssignment { index, milli: GpuMillis(1000) }).collect(),
            spread_group: None,
        }],
    }
}

/// An 8-GPU H100 node whose devices listed in `busy` are taken (by the running jobs).
fn h100_node(id: i64, busy: &[u32]) -> NodeView {
    let gpus: Vec<(&str, u32)> = (0..8).map(|i| ("H100", if busy.contains(&i) { 0 } else { 1000 })).collect();
    let mut n = node(id, None, &gpus);
    // What the running jobs hold of CPU and memory is already taken too.
    n.free_cpu.0 -= 1000 * busy.len() as u64;
    n.free_memory.0 -= 1024 * busy.len() as u64;
    n
}

fn pending(id: i64, tenant: i64, priority: i32, gpus: u32) -> PendingJob {
    PendingJob { tenant: TenantId(tenant), priority, ..job(id, gpus * 1000) }
}

fn input(
    nodes: Vec<NodeView>,
    pending: Vec<PendingJob>,
    running: Vec<RunningJob>,
    tenants: Vec<TenantLimits>,
) -> SchedInput {
    SchedInput { nodes, pending, tenants, running, now_ms: 10 * HOUR, seed: 0 }
}

fn stopped(input: &SchedInput) -> Vec<(i64, i64)> {
    schedule(input).preemptions.iter().map(|p| (p.job.0, p.for_job.0)).collect()
}

#[test]
fn a_higher_priority_job_stops_the_lower_priority_work_that_loses_least() {
    // Node 1 is full: job 11 (4 GPUs for 9 hours) and job 12 (4 GPUs for 1 hour), both priority 0.
    let run = vec![running(11, 1, 0, 1, &[0, 1, 2, 3], HOUR), running(12, 1, 0, 1, &[4, 5, 6, 7], 9 * HOUR)];
    let i = input(vec![h100_node(1, &[0, 1, 2, 3, 4, 5, 6, 7])], vec![pending(1, 1, 5, 4)], run, vec![]);
    let d = schedule(&i);
    assert_eq!(render(&d), ["job 1 -> n1[4,5,6,7]"], "{d:#?}");
    assert_eq!(stopped(&i), [(12, 1)], "the job with 4 GPU-hours at stake, not 36");
    assert!(d.preemptions[0].reason.contains("priority 5 over 0"), "{}", d.preemptions[0].reason);
}

#[test]
fn only_as_many_victims_as_needed_and_never_an_unpreemptible_one() {
    // Four 2-GPU jobs fill the node; the cheapest (most recent) one is not preemptible.
    let mut run: Vec<RunningJob> =
        (0..4).map(|k| running(11 + k, 1, 0, 1, &[2 * k as u32, 2 * k as u32 + 1], k * HOUR)).collect();
    run[3].preemptible = false;
    let i = input(vec![h100_node(1, &[0, 1, 2, 3, 4, 5, 6, 7])], vec![pending(1, 1, 1, 4)], run, vec![]);
    // Job 14 is the cheapest but may not be stopped: 13 and 12 are next.
    assert_eq!(stopped(&i), [(13, 1), (12, 1)]);
    assert_eq!(render(&schedule(&i)), ["job 1 -> n1[2,3,4,5]"]);
}

#[test]
fn priority_does_not_let_one_tenant_push_another_aside() {
    let run = vec![running(11, 2, 0, 1, &[0, 1, 2, 3, 4, 5, 6, 7], HOUR)];
    let i = input(vec![h100_node(1, &[0, 1, 2, 3, 4, 5, 6, 7])], vec![pending(1, 1, 100, 1)], run, vec![]);
    let d = schedule(&i);
    assert!(d.preemptions.is_empty());
    assert_eq!(d.waiting.len(), 1);
}

fn nominal(mut t: TenantLimits, gpus: u64) -> TenantLimits {
    t.nominal_gpu_milli.insert("H100".into(), gpus * 1000);
    t
}

#[test]
fn a_tenant_within_its_nominal_quota_reclaims_what_another_borrowed() {
    // Tenant 1 is guaranteed 8 H100s and uses none; tenant 2 (guaranteed 0) borrowed all 8.
    let run = vec![running(11, 2, 0, 1, &[0, 1, 2, 3], 2 * HOUR), running(12, 2, 0, 1, &[4, 5, 6, 7], 3 * HOUR)];
    let tenants = vec![nominal(tenant(1, "research", None, 0), 8), tenant(2, "batch", None, 8000)];
    let i = input(vec![h100_node(1, &[0, 1, 2, 3, 4, 5, 6, 7])], vec![pending(1, 1, 0, 4)], run, tenants);
    let d = schedule(&i);
    assert_eq!(stopped(&i), [(12, 1)]);
    assert_eq!(render(&d), ["job 1 -> n1[4,5,6,7]"]);
    let reason = &d.preemptions[0].reason;
    assert!(reason.contains("tenant batch was borrowing") && reason.contains("tenant research reclaimed"), "{reason}");
}

#[test]
fn no_reclaim_beyond_the_claimants_own_nominal_quota() {
    // Tenant 1 is guaranteed 4 and already runs 4: a fifth GPU would be borrowing too.
    let run = vec![running(11, 1, 0, 1, &[0, 1, 2, 3], 2 * HOUR), running(12, 2, 0, 1, &[4, 5, 6, 7], 3 * HOUR)];
    let tenants = vec![nominal(tenant(1, "research", None, 4000), 4), tenant(2, "batch", None, 4000)];
    let i = input(vec![h100_node(1, &[0, 1, 2, 3, 4, 5, 6, 7])], vec![pending(1, 1, 0, 1)], run, tenants);
    assert!(stopped(&i).is_empty());
    // Nor from a tenant within its own guarantee.
    let run = vec![running(11, 2, 0, 1, &[0, 1, 2, 3, 4, 5, 6, 7], HOUR)];
    let tenants = vec![nominal(tenant(1, "research", None, 0), 8), nominal(tenant(2, "batch", None, 8000), 8)];
    let i = input(vec![h100_node(1, &[0, 1, 2, 3, 4, 5, 6, 7])], vec![pending(1, 1, 0, 1)], run, tenants);
    assert!(stopped(&i).is_empty());
}

#[test]
fn a_hard_quota_is_not_a_reason_to_preempt() {
    // Tenant 1 may hold at most 2 GPUs: stopping its own low-priority work would not let it run
    // more than the quota either way, but the quota check comes first and is final.
    let run = vec![running(11, 1, 0, 1, &[0, 1], HOUR)];
    let i = input(vec![h100_node(1, &[0, 1])], vec![pending(1, 1, 5, 2)], run, vec![tenant(1, "t", Some(2000), 2000)]);
    let d = schedule(&i);
    assert!(d.preemptions.is_empty());
    assert!(d.waiting[0].reason.contains("quota"), "{:?}", d.waiting);
}

#[test]
fn a_gang_preempts_on_as_few_victims_as_it_needs_across_nodes() {
    // Two full nodes; a 2-replica gang of 8 GPUs each needs both emptied.
    let run = vec![
        running(11, 1, 0, 1, &[0, 1, 2, 3, 4, 5, 6, 7], HOUR),
        running(12, 1, 0, 2, &[0, 1, 2, 3, 4, 5, 6, 7], HOUR),
        running(13, 1, 9, 3, &[0, 1, 2, 3, 4, 5, 6, 7], HOUR),
    ];
    let full = [0, 1, 2, 3, 4, 5, 6, 7];
    let nodes = vec![h100_node(1, &full), h100_node(2, &full), h100_node(3, &full)];
    let gang = PendingJob { replicas: 2, ..pending(1, 1, 5, 8) };
    let i = input(nodes, vec![gang], run, vec![]);
    let mut s = stopped(&i);
    s.sort();
    assert_eq!(s, [(11, 1), (12, 1)], "job 13 has a higher priority than the gang");
    assert_eq!(schedule(&i).placements.len(), 1);
}

#[test]
fn fair_share_serves_the_tenant_with_the_smaller_dominant_share_first() {
    // One free GPU. Tenant 1 already holds 4 of the 5, tenant 2 none; tenant 1 asked first.
    let nodes = vec![h100_node(1, &[0, 1, 2, 3, 5, 6, 7])];
    let q = vec![pending(1, 1, 0, 1), pending(2, 2, 0, 1)];
    let tenants = vec![tenant(1, "a", None, 4000), tenant(2, "b", None, 0)];
    let d = schedule(&input(nodes.clone(), q.clone(), vec![], tenants));
    assert_eq!(d.placements.iter().map(|p| p.job.0).collect::<Vec<_>>(), [2]);
    // Priority still comes first.
    let q = vec![pending(1, 1, 1, 1), pending(2, 2, 0, 1)];
    let tenants = vec![tenant(1, "a", None, 4000), tenant(2, "b", None, 0)];
    let d = schedule(&input(nodes, q, vec![], tenants));
    assert_eq!(d.placements.iter().map(|p| p.job.0).collect::<Vec<_>>(), [1]);
}

#[test]
fn backfill_never_takes_the_spread_group_room_the_first_job_in_line_counts_on() {
    // 7 of 8 GPUs busy until hour 12; job 1 (4 GPUs) is first in line and will go there then.
    // Job 2, of job 1's group and without an estimate, fits on the free GPU now, and its
    // devices would not delay job 1 — but the group allows one replica per node, so it would.
    let mut r = running(11, 1, 5, 1, &[0, 1, 2, 3, 4, 5, 6], HOUR);
    r.expected_end_ms = Some(12 * HOUR);
    r.preemptible = false;
    let grouped = |mut j: PendingJob| {
        j.resources.max_replicas_per_node = Some(1);
        j.resources.spread_group = Some("deployment chat".into());
        j
    };
    let nodes = vec![h100_node(1, &[0, 1, 2, 3, 4, 5, 6])];
    let q = vec![grouped(pending(1, 1, 0, 4)), grouped(pending(2, 1, 0, 1))];
    let lines = render(&schedule(&input(nodes.clone(), q, vec![r.clone()], vec![])));
    assert!(lines[0].starts_with("job 1 waits:") && lines[0].contains("first in line"), "{lines:#?}");
    assert!(lines[1].starts_with("job 2 waits:") && lines[1].contains("would delay job 1"), "{lines:#?}");
    // Outside the group the same job backfills: its GPU is free at hour 12 too.
    let q = vec![grouped(pending(1, 1, 0, 4)), pending(2, 1, 0, 1)];
    let lines = render(&schedule(&input(nodes, q, vec![r], vec![])));
    assert_eq!(lines[0], "job 2 -> n1[7]", "{lines:#?}");
}

#[test]
fn backfill_never_delays_the_first_job_in_line() {
    // 6 of 8 GPUs busy until hour 12; job 1 needs all 8 and is first in line.
    let mut r = running(11, 1, 5, 1, &[0, 1, 2, 3, 4, 5], HOUR);
    r.expected_end_ms = Some(12 * HOUR);
    r.preemptible = false;
    // Job 3 would end at hour 15, job 4 at hour 11.
    let long = PendingJob { runtime_estimate_ms: Some(5 * HOUR as u64), ..pending(3, 1, 0, 2) };
    let short = PendingJob { runtime_estimate_ms: Some(HOUR as u64), ..pending(4, 1, 0, 2) };
    let q = vec![pending(1, 1, 0, 8), pending(2, 1, 0, 2), long, short];
    let d = schedule(&input(vec![h100_node(1, &[0, 1, 2, 3, 4, 5])], q, vec![r], vec![]));
    let lines = render(&d);
    assert_eq!(lines[0], "job 4 -> n1[6,7]", "{lines:#?}");
    assert!(
        lines[1].starts_with("job 1 waits:") && lines[1].contains("first in line") && lines[1].contains("12:00 UTC")
    );
    assert!(lines[2].starts_with("job 2 waits:") && lines[2].contains("would delay job 1"), "{lines:#?}");
    assert!(lines[3].starts_with("job 3 waits:") && lines[3].contains("would delay job 1"), "{lines:#?}");
    // Without estimates for the running work there is nothing to protect: greedy, as before.
    let mut r = running(11, 1, 5, 1, &[0, 1, 2, 3, 4, 5], HOUR);
    r.preemptible = false;
    let d = schedule(&input(
        vec![h100_node(1, &[0, 1, 2, 3, 4, 5])],
        vec![pending(1, 1, 0, 8), pending(2, 1, 0, 2)],
        vec![r],
        vec![],
    ));
    assert_eq!(render(&d)[0], "job 2 -> n1[6,7]");
}
