//! The placement policies one replica at a time: each on a small fleet, and the control plane's
//! `schedule` agreeing with the `Placer` that the simulator drives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{job, node, whole};
use strata_domain::{CpuMillis, GpuMillis, GpuRequest, NodeId, ReplicaResources};
use strata_sched::{schedule, NodeView, Placer, Policy, SchedInput, TaskMix, TaskShape};

fn fleet() -> Vec<NodeView> {
    vec![
        node(1, None, &whole("A100", 8)),
        node(2, None, &[("A100", 1000), ("A100", 300)]),
        node(3, None, &[("A100", 1000), ("A100", 1000)]),
    ]
}

fn mix() -> TaskMix {
    let half = TaskShape::new(1000, GpuRequest::Fraction(GpuMillis(500)), vec![]);
    let eight = TaskShape::new(1000, GpuRequest::Whole(8), vec![]);
    TaskMix::typical(vec![half.clone(), half, eight], 100.0)
}

/// Where each of `gpu_milli` requests goes, in order, as `n<id>[<index>:<milli>,…]`.
#[track_caller]
fn check(policy: Policy, requests: &[u32], expected: &[&str]) {
    let nodes = fleet();
    let mut placer = Placer::new(&nodes, policy, &mix(), 7);
    let got: Vec<String> = requests
        .iter()
        .map(|&m| match placer.place(&job(0, m).resources) {
            Some(r) => {
                let gpus: Vec<String> = r.gpus.iter().map(|g| format!("{}:{}", g.index, g.milli.0)).collect();
                format!("n{}[{}]", r.node.0, gpus.join(","))
            }
            None => "fails".to_string(),
        })
        .collect();
    assert_eq!(got, expected, "\n got: {got:#?}");
}

#[test]
fn classic_is_the_control_planes_best_fit() {
    check(Policy::Classic, &[250, 1000, 1000], &["n2[1:250]", "n2[0:1000]", "n3[0:1000]"]);
}

#[test]
fn bestfit_and_packing_fill_used_nodes_first() {
    check(
        Policy::BestFit,
        &[250, 1000, 8000],
        &["n2[1:250]", "n2[0:1000]", "n1[0:1000,1:1000,2:1000,3:1000,4:1000,5:1000,6:1000,7:1000]"],
    );
    check(Policy::GpuPacking, &[250, 1000], &["n2[1:250]", "n2[0:1000]"]);
}

#[test]
fn fgd_keeps_the_eight_gpu_node_for_eight_gpu_tasks() {
    // A whole GPU taken from node 1 would break the only home of the typical 8-GPU task.
    check(
        Policy::Fgd,
        &[1000, 1000, 1000, 8000],
        &["n3[0:1000]", "n3[1:1000]", "n2[0:1000]", "n1[0:1000,1:1000,2:1000,3:1000,4:1000,5:1000,6:1000,7:1000]"],
    );
    // Strata agrees: the 8-GPU shape has one home in three nodes, so it is scarce too.
    check(
        Policy::Strata,
        &[1000, 1000, 1000, 8000],
        &["n3[0:1000]", "n3[1:1000]", "n2[0:1000]", "n1[0:1000,1:1000,2:1000,3:1000,4:1000,5:1000,6:1000,7:1000]"],
    );
}

/// A node with `cores` cores and `gpus` whole devices of model A.
fn sized(id: i64, cores: u64, gpus: usize) -> NodeView {
    NodeView { free_cpu: CpuMillis(cores * 1000), ..node(id, None, &whole("A", gpus)) }
}

fn task(cpu: u64, gpus: u32) -> TaskShape {
    TaskShape::new(cpu, GpuRequest::Whole(gpus), vec![])
}

/// A request of `cpu` milli-CPU and `gpus` whole devices.
fn ask(cpu: u64, gpus: u32) -> ReplicaResources {
    let mut res = job(0, gpus * 1000).resources;
    res.cpu_milli = CpuMillis(cpu);
    res
}

#[test]
fn strata_leaves_cpu_where_the_gpus_need_it() {
    // Typical GPU tasks ask 4 cores per GPU. Node 1 has 16 cores for its 4 GPUs: an 8-core CPU
    // task there would leave 2 GPUs without CPU. FGD cannot tell (both typical classes still fit
    // one task) and ties; Strata sends the task to node 2, which has CPU to spare.
    let nodes = vec![sized(1, 16, 4), sized(2, 64, 4)];
    let mix = TaskMix::typical(vec![task(1000, 1), task(7000, 1)], 100.0);
    let cpu_task = ask(8000, 0);
    assert_eq!(Placer::new(&nodes, Policy::Fgd, &mix, 7).best_nodes(&cpu_task), vec![NodeId(1), NodeId(2)]);
    assert_eq!(Placer::new(&nodes, Policy::Strata, &mix, 7).best_nodes(&cpu_task), vec![NodeId(2)]);
}

#[test]
fn strata_keeps_the_only_home_of_a_rare_shape() {
    // One task in twenty needs 8 GPUs and 120 cores: only node 1 can host it. Too rare to be
    // typical, FGD does not see it and ties all four nodes for a 1-GPU task; Strata avoids node 1.
    let nodes = vec![sized(1, 128, 8), sized(2, 96, 8), sized(3, 96, 8), sized(4, 96, 8)];
    let mut tasks = vec![task(1000, 1); 19];
    tasks.push(task(120_000, 8));
    let mix = TaskMix::typical(tasks, 95.0);
    assert_eq!(mix.classes.len(), 1);
    let small = ask(1000, 1);
    assert_eq!(Placer::new(&nodes, Policy::Fgd, &mix, 7).best_nodes(&small).len(), 4);
    let mut strata = Placer::new(&nodes, Policy::Strata, &mix, 7);
    assert_eq!(strata.best_nodes(&small), vec![NodeId(2), NodeId(3), NodeId(4)]);
    for _ in 0..24 {
        assert_ne!(strata.place(&small).map(|p| p.node), Some(NodeId(1)));
    }
    // Once the others are full, the last home is used rather than fail the task.
    assert_eq!(strata.place(&small).map(|p| p.node), Some(NodeId(1)));
}

#[test]
fn a_replica_that_fits_nowhere_fails_and_changes_nothing() {
    let nodes = fleet();
    let mut placer = Placer::new(&nodes, Policy::Fgd, &mix(), 7);
    let before = (placer.gpu_allocated_milli(), placer.frag_milli());
    assert!(placer.place(&job(0, 16_000).resources).is_none());
    assert_eq!((placer.gpu_allocated_milli(), placer.frag_milli()), before);
    assert_eq!(placer.gpu_capacity_milli(), 12_000);
    assert_eq!(placer.gpu_allocated_milli(), 700);
}

#[test]
fn schedule_and_the_placer_agree_on_single_replicas() {
    let nodes = fleet();
    let mut placer = Placer::new(&nodes, Policy::Classic, &TaskMix::default(), 0);
    for m in [250, 500, 1000, 2000] {
        let pending = vec![job(1, m)];
        let input = SchedInput { nodes: nodes.clone(), pending, tenants: vec![], running: vec![], now_ms: 0, seed: 0 };
        let decided = schedule(&input).placements.remove(0).replicas.remove(0);
        let mut fresh = Placer::new(&nodes, Policy::Classic, &TaskMix::default(), 0);
        assert_eq!(fresh.place(&job(1, m).resources), Some(decided));
    }
    assert!(placer.place(&job(1, 250).resources).is_some());
}

#[test]
fn policies_parse_by_name() {
    for p in Policy::ALL {
        assert_eq!(Policy::parse(p.name()), Some(p));
        assert!(!p.about().is_empty());
    }
    assert_eq!(Policy::parse("FGD"), Some(Policy::Fgd));
    assert_eq!(Policy::parse("dotprod"), None);
}
