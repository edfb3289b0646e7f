//! Example-based tests of the baseline policy: each builds a small fleet and queue and checks the
//! decisions line by line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{cpu_node, job, node, render, tenant, whole};
use strata_domain::{CpuMillis, GpuRequest, TenantId};
use strata_sched::{schedule, NodeView, PendingJob, SchedInput, TenantLimits};

fn input(nodes: Vec<NodeView>, pending: Vec<PendingJob>, tenants: Vec<TenantLimits>) -> SchedInput {
    SchedInput { nodes, pending, tenants, running: vec![], now_ms: 0, seed: 0 }
}

#[track_caller]
fn check(input: SchedInput, expected: &[&str]) {
    let got = render(&schedule(&input));
    assert_eq!(got, expected, "\n got: {got:#?}");
}

fn models(mut j: PendingJob, allowed: &[&str], preferred: &[&str]) -> PendingJob {
    j.resources.gpu_models = allowed.iter().map(|s| s.to_string()).collect();
    j.resources.preferred_gpu_models = preferred.iter().map(|s| s.to_string()).collect();
    j
}

fn gang(id: i64, replicas: u32, gpu_milli: u32) -> PendingJob {
    PendingJob { replicas, ..job(id, gpu_milli) }
}

#[test]
fn single_gpu_job_goes_to_the_fuller_node() {
    let busy = [("A100", 0), ("A100", 0), ("A100", 1000), ("A100", 1000)];
    let nodes = vec![node(1, None, &whole("A100", 8)), node(2, None, &busy)];
    check(input(nodes, vec![job(1, 1000)], vec![]), &["job 1 -> n2[2]"]);
}

#[test]
fn fractional_share_packs_onto_the_tightest_device() {
    let nodes = vec![
        node(1, None, &whole("A100", 8)),
        node(2, None, &[("A100", 1000), ("A100", 400), ("A100", 300), ("A100", 200)]),
    ];
    let pending = vec![job(1, 250), job(2, 250), job(3, 500)];
    check(input(nodes, pending, vec![]), &["job 1 -> n2[2:250]", "job 2 -> n2[1:250]", "job 3 -> n2[0:500]"]);
}

#[test]
fn gang_of_two_by_four_shares_one_eight_gpu_node() {
    let nodes = vec![node(1, None, &whole("H100", 8)), node(2, None, &whole("H100", 8))];
    check(input(nodes, vec![gang(1, 2, 4000)], vec![]), &["job 1 -> n1[0,1,2,3] n1[4,5,6,7]"]);
}

/// A spread gang: no more of its replicas on a node than it allows, and while the nodes it may
/// use cannot hold it so spread, it waits and says why.
fn spread(id: i64, replicas: u32, gpu_milli: u32, per_node: u32) -> PendingJob {
    let mut j = gang(id, replicas, gpu_milli);
    j.resources.max_replicas_per_node = Some(per_node);
    j
}

#[test]
fn a_spread_gang_puts_no_more_than_its_limit_on_a_node() {
    let nodes = || (1..=3).map(|i| node(i, None, &whole("H100", 8))).collect::<Vec<_>>();
    check(input(nodes(), vec![spread(1, 3, 1000, 1)], vec![]), &["job 1 -> n1[0] n2[0] n3[0]"]);
    check(input(nodes(), vec![spread(1, 4, 1000, 2)], vec![]), &["job 1 -> n1[0] n1[1] n2[0] n2[1]"]);
    let d = schedule(&input(nodes(), vec![spread(1, 4, 1000, 1)], vec![]));
    assert!(d.placements.is_empty(), "4 replicas, 1 per node, 3 nodes: {d:?}");
    assert!(d.waiting[0].reason.contains("at most 1 of its replicas may share a node"), "{}", d.waiting[0].reason);
}

/// A deployment's replicas, one job each, spread as a group: its limit counts the group's
/// replicas already running on a node as well as those placed in this cycle.
#[test]
fn a_spread_group_counts_every_job_in_it_running_or_placed() {
    let replica = |id: i64| {
        let mut j = spread(id, 1, 1000, 1);
        j.resources.spread_group = Some("deployment chat".into());
        j
    };
    // Node 1 is the tighter fit, so best fit would stack every replica there.
    let nodes = vec![node(1, None, &whole("H100", 4)), node(2, None, &whole("H100", 8))];
    let pending = vec![replica(1), replica(2), replica(3), job(4, 1000)];
    let d = schedule(&input(nodes.clone(), pending.clone(), vec![]));
    let lines = render(&d);
    assert_eq!(lines[..3], ["job 1 -> n1[0]", "job 2 -> n2[0]", "job 4 -> n1[1]"], "{lines:#?}");
    assert!(
        lines[3].starts_with("job 3 waits: every node with room for it already holds as many replicas of deployment chat as one node may (1,"),
        "{}",
        lines[3]
    );

    // Next cycle: job 1 runs on node 1, so the group's next replica goes to node 2.
    let running = strata_sched::RunningJob {
        id: strata_domain::JobId(1),
        tenant: TenantId(1),
        priority: 0,
        preemptible: true,
        progress_since_ms: 0,
        expected_end_ms: None,
        replicas: vec![strata_sched::HeldReplica {
            node: strata_domain::NodeId(1),
            gpu_model: Some("H100".into()),
            cpu_milli: 1000,
            memory_mib: 1024,
            gpus: vec![strata_sched::GpuAssignment { index: 0, milli: strata_domain::GpuMillis(1000) }],
            spread_group: Some("deployment chat".into()),
        }],
    };
    let mut nodes = nodes;
    nodes[0].gpus[0].free = strata_domain::GpuMillis(0);
    nodes[0].free_cpu.0 -= 1000;
    nodes[0].free_memory.0 -= 1024;
    let next = SchedInput { running: vec![running], ..input(nodes, vec![replica(2)], vec![]) };
    check(next, &["job 2 -> n2[0]"]);
}

#[test]
fn split_gang_prefers_one_rack() {
    let nodes = vec![
        node(1, Some("a"), &whole("H100", 4)),
        node(2, Some("b"), &whole("H100", 4)),
        node(3, Some("c"), &whole("H100", 2)),
        node(4, Some("b"), &whole("H100", 4)),
    ];
    check(input(nodes, vec![gang(1, 2, 4000)], vec![]), &["job 1 -> n2[0,1,2,3] n4[0,1,2,3]"]);
}

#[test]
fn split_gang_uses_fewest_nodes_when_no_rack_holds_it() {
    let nodes = vec![
        node(1, Some("a"), &whole("H100", 2)),
        node(2, Some("b"), &whole("H100", 6)),
        node(3, None, &whole("H100", 4)),
    ];
    check(input(nodes, vec![gang(1, 4, 2000)], vec![]), &["job 1 -> n2[0,1] n2[2,3] n2[4,5] n1[0,1]"]);
}

#[test]
fn gang_that_cannot_fit_whole_waits_without_blocking_others() {
    let nodes = vec![node(1, None, &whole("H100", 4)), node(2, None, &[("H100", 0)])];
    check(
        input(nodes, vec![gang(1, 2, 4000), job(2, 1000)], vec![]),
        &[
            "job 2 -> n1[0]",
            "job 1 waits: needs 2 replicas of 4×GPU (any model), 1000 milli-CPU and 1024 MiB memory; \
             only 1 replica fits now (largest free block 4 on n1)",
        ],
    );
}

#[test]
fn quota_blocks_with_reason_and_is_charged_within_the_cycle() {
    let nodes = vec![node(1, None, &whole("H100", 8))];
    let tenants = vec![tenant(1, "team-a", Some(8000), 2000)];
    let pending = vec![job(1, 4000), job(2, 4000), job(3, 2000)];
    check(
        input(nodes, pending, tenants),
        &[
            "job 1 -> n1[0,1,2,3]",
            "job 3 -> n1[4,5]",
            "job 2 waits: tenant team-a quota: would use 10000 of 8000 milli-GPU (6000 in use)",
        ],
    );
}

#[test]
fn quota_is_checked_before_capacity_and_other_tenants_are_unlimited() {
    let nodes = vec![node(1, None, &whole("H100", 1))];
    let tenants = vec![tenant(1, "team-a", Some(0), 0)];
    let other = PendingJob { tenant: TenantId(2), ..job(2, 1000) };
    check(
        input(nodes, vec![job(1, 8000), other], tenants),
        &["job 2 -> n1[0]", "job 1 waits: tenant team-a quota: would use 8000 of 0 milli-GPU (0 in use)"],
    );
}

#[test]
fn higher_priority_then_older_then_lower_id_goes_first() {
    let nodes = vec![node(1, None, &whole("A100", 2))];
    let urgent = PendingJob { priority: 5, submitted_at_ms: 100, ..job(9, 1000) };
    let old = PendingJob { submitted_at_ms: 1, ..job(7, 1000) };
    let twin = PendingJob { submitted_at_ms: 1, ..job(3, 1000) };
    let reason = "needs 1×GPU (any model) on one node; no allowed GPU is fully free on any node";
    check(
        input(nodes, vec![old, urgent, twin], vec![]),
        &["job 9 -> n1[0]", "job 3 -> n1[1]", &format!("job 7 waits: {reason}")],
    );
}

#[test]
fn gpu_models_constrain_placement_and_never_mix_in_one_replica() {
    let nodes = vec![node(1, None, &[("A100", 1000), ("H100", 1000)]), node(2, None, &whole("A100", 1))];
    let pending = vec![job(1, 2000), models(job(2, 1000), &["H100"], &[])];
    check(
        input(nodes, pending, vec![]),
        &[
            "job 2 -> n1[1]",
            "job 1 waits: needs 2×GPU (any model) on one node; no schedulable node has more than 1 (n1)",
        ],
    );
}

#[test]
fn unknown_model_names_the_models_in_the_fleet() {
    let nodes = vec![node(1, None, &whole("H100-80GB", 1)), node(2, None, &whole("A100-40GB", 1))];
    check(
        input(nodes, vec![models(job(1, 1000), &["B200"], &[])], vec![]),
        &["job 1 waits: no node has a GPU of model B200; models in the fleet: A100-40GB, H100-80GB"],
    );
}

#[test]
fn preferred_models_win_over_a_tighter_fit() {
    let nodes = vec![node(1, None, &whole("A100", 1)), node(2, None, &whole("H100", 8))];
    let pending = vec![models(job(1, 1000), &[], &["H100", "A100"]), job(2, 1000)];
    check(input(nodes, pending, vec![]), &["job 1 -> n2[0]", "job 2 -> n1[0]"]);
}

#[test]
fn cpu_only_job_keeps_off_gpu_nodes_and_explains_cpu_shortage() {
    let nodes = vec![node(1, None, &whole("H100", 8)), cpu_node(2, 16_000, 64_000)];
    let mut big = job(2, 0);
    big.resources.cpu_milli = CpuMillis(128_000);
    check(
        input(nodes, vec![job(1, 0), big], vec![]),
        &["job 1 -> n2[]", "job 2 waits: needs 128000 milli-CPU per replica; the most free on any node is 64000 on n1"],
    );
}

#[test]
fn capacity_reasons_name_the_best_offer() {
    let frac = [("A100-40GB", 250), ("A100-40GB", 100)];
    let nodes =
        vec![node(1, None, &frac), node(3, None, &[("H100-80GB", 1000); 6]), node(4, None, &[("H100-80GB", 0); 8])];
    let pending = vec![
        models(job(1, 8000), &["H100-80GB"], &[]),
        models(job(2, 500), &["A100-40GB"], &[]),
        models(job(3, 16000), &["H100-80GB"], &[]),
    ];
    check(
        input(nodes, pending, vec![]),
        &[
            "job 1 waits: needs 8×H100-80GB on one node; the largest free block is 6 on n3",
            "job 2 waits: needs 500 milli-GPU on one A100-40GB; the most free on any allowed device is 250 on n1",
            "job 3 waits: needs 16×H100-80GB on one node; no schedulable node has more than 8 (n4)",
        ],
    );
}

#[test]
fn resources_free_on_different_nodes_are_not_enough() {
    let mut gpu = node(1, None, &whole("H100", 4));
    gpu.free_cpu = CpuMillis(8000);
    let nodes = vec![gpu, cpu_node(2, 64_000, 64_000)];
    let mut j = job(1, 4000);
    j.resources.cpu_milli = CpuMillis(32_000);
    check(
        input(nodes, vec![j], vec![]),
        &["job 1 waits: needs 4×GPU (any model), 32000 milli-CPU and 1024 MiB memory on one node; \
           no node has all of it free at once (n1 has the GPUs but only 8000 milli-CPU free)"],
    );
}

#[test]
fn empty_fleet_says_no_schedulable_node() {
    check(
        input(vec![], vec![job(1, 0)], vec![]),
        &["job 1 waits: no schedulable node (all nodes are cordoned, draining or not ready)"],
    );
}

#[test]
fn same_input_same_output_whatever_the_queue_order() {
    let nodes: Vec<NodeView> = (1..=6)
        .map(|i| node(i, Some(if i % 2 == 0 { "a" } else { "b" }), &whole("H100", (i % 4 * 2) as usize)))
        .collect();
    let pending: Vec<PendingJob> = (1..=12)
        .map(|i| PendingJob {
            priority: (i % 3) as i32,
            replicas: (i % 3 + 1) as u32,
            resources: strata_domain::ReplicaResources {
                gpu_milli: GpuRequest::try_from([250, 1000, 2000][i as usize % 3]).unwrap_or(GpuRequest::None),
                ..job(i, 0).resources
            },
            ..job(i, 0)
        })
        .collect();
    let a = input(nodes.clone(), pending.clone(), vec![]);
    let mut reversed = pending;
    reversed.reverse();
    let b = input(nodes, reversed, vec![]);
    assert_eq!(schedule(&a), schedule(&a));
    assert_eq!(schedule(&a), schedule(&b));
}

#[test]
fn node_labels_restrict_a_job_to_matching_nodes_and_say_so_when_none_match() {
    let mut vllm = node(2, None, &whole("A100", 1));
    vllm.labels.insert("engine.vllm".into(), "yes".into());
    let nodes = vec![node(1, None, &whole("A100", 1)), vllm];
    let mut wants_vllm = job(1, 1000);
    wants_vllm.resources.node_labels.insert("engine.vllm".into(), "yes".into());
    let mut wants_sglang = job(2, 1000);
    wants_sglang.resources.node_labels.insert("engine.sglang".into(), "yes".into());
    check(
        input(nodes, vec![wants_vllm, wants_sglang], vec![]),
        &[
            "job 1 -> n2[0]",
            "job 2 waits: needs a node labelled engine.sglang=yes; no schedulable node is (agents add labels with --label; they detect vLLM, SGLang and llama.cpp's server themselves)",
        ],
    );
}
