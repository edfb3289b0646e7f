//! End-to-end checks of `strata sim openb` on a tiny hand-made cluster: the placements each
//! policy makes, the metrics after every pod, and byte-identical output for the same seed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use strata_sched::Policy;
use strata_sim::openb::curve::{discretize, Observation};
use strata_sim::openb::run::{run_seed, Workload};
use strata_sim::openb::trace::{parse_nodes, parse_pods};
use strata_sim::openb::{parse_seeds, run, OpenbArgs, PolicyArg};

const NODES: &str = "sn,cpu_milli,memory_mib,gpu,model
big,64000,262144,8,A
small,16000,65536,2,A
tiny,8000,32768,1,B
";

const PODS: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec
p0,4000,8192,1,500,
p1,4000,8192,1,1000,
p2,2000,4096,0,0,
p3,8000,8192,2,1000,
p4,4000,8192,1,250,B
";

fn workload() -> Workload {
    let nodes = parse_nodes(Path::new("nodes.csv"), NODES).unwrap();
    let pods = parse_pods(Path::new("openb_pod_list_tiny.csv"), PODS).unwrap();
    Workload::new("openb_pod_list_tiny".into(), &nodes, pods)
}

/// Places the pods in file order and renders `pod -> node[gpu:milli…]` per pod.
#[track_caller]
fn check(policy: Policy, expected: &[&str]) {
    let w = workload();
    let mut placer = strata_sched::Placer::new(&w.nodes, policy, &w.mix, 1);
    let got: Vec<String> = w
        .pods
        .iter()
        .map(|p| match placer.place(&p.resources()) {
            Some(r) => {
                let gpus: Vec<String> = r.gpus.iter().map(|g| format!("{}:{}", g.index, g.milli.0)).collect();
                format!("{} -> {}[{}]", p.name, w.node_names[r.node.0 as usize], gpus.join(","))
            }
            None => format!("{} fails", p.name),
        })
        .collect();
    assert_eq!(got, expected, "\n got: {got:#?}");
}

#[test]
fn bestfit_fills_the_node_with_the_least_left_even_when_that_strands_a_later_pod() {
    // The CPU pod lands on `tiny` (least left over), and the model-B pod can no longer fit there.
    check(
        Policy::BestFit,
        &["p0 -> tiny[0:500]", "p1 -> small[0:1000]", "p2 -> tiny[]", "p3 -> big[0:1000,1:1000]", "p4 fails"],
    );
}

#[test]
fn fgd_keeps_room_for_the_typical_tasks() {
    // FGD sends the CPU pod to `big`, where its CPU costs no typical GPU task anything, so the
    // model-B pod still fits on `tiny` (compare BestFit above).
    check(
        Policy::Fgd,
        &["p0 -> tiny[0:500]", "p1 -> big[0:1000]", "p2 -> big[]", "p3 -> big[1:1000,2:1000]", "p4 -> tiny[0:250]"],
    );
}

#[test]
fn random_is_a_pure_function_of_the_seed() {
    let w = workload();
    let place_all = |seed| {
        let mut placer = strata_sched::Placer::new(&w.nodes, Policy::Random, &w.mix, seed);
        w.pods.iter().map(|p| placer.place(&p.resources()).map(|r| r.node)).collect::<Vec<_>>()
    };
    assert_eq!(place_all(3), place_all(3));
    assert!((0..20).any(|s| place_all(s) != place_all(3)), "twenty seeds all placed alike");
}

#[test]
fn metrics_follow_every_pod() {
    let w = workload();
    assert_eq!((w.total_gpus, w.mix.classes.len()), (11, 5));
    let run = run_seed(&w, Policy::BestFit, 1.3, 42, &|| {});
    // 11 GPUs × 1.3 = 14,300 milli wanted; the originals ask 3,750, draws fill the rest.
    let asked: u64 = run.observations.last().map(|o| o.arrived_milli).unwrap();
    assert!((13_300..=14_300).contains(&asked), "{asked}");
    let first = run.observations[0];
    assert!(first.allocated_milli > 0 && first.allocated_milli + first.free_milli == 11_000);
    assert!(run.observations.windows(2).all(|p| p[1].arrived_milli >= p[0].arrived_milli));
    assert_eq!(run.failed > 0, run.first_failure_pct.is_some());
}

#[test]
fn curves_from_hand_made_observations() {
    let o = |a, u, f| Observation { arrived_milli: a, allocated_milli: u, frag_milli: f, free_milli: 10_000 - u };
    // 10 GPUs: pods arriving at 0.5 %, 1 %, 130 %.
    let c = discretize(&[o(50, 50, 500.0), o(100, 100, 990.0), o(13_000, 9_000, 400.0)], 10);
    assert_eq!((c.allo[0], c.allo[1], c.allo[130]), (Some(0.5), Some(1.0), Some(90.0)));
    assert_eq!((c.frag[0], c.frag[130]), (Some(5.0), Some(4.0)));
    assert_eq!(c.frag_ratio[1], Some(10.0));
    assert_eq!(c.allo[60], None);
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nodes.csv"), NODES).unwrap();
    std::fs::write(dir.path().join("openb_pod_list_tiny.csv"), PODS).unwrap();
    let args = |out: &str| OpenbArgs {
        nodes: dir.path().join("nodes.csv"),
        pods: dir.path().join("openb_pod_list_tiny.csv"),
        policy: PolicyArg(Policy::Fgd),
        seeds: parse_seeds("42-44").unwrap(),
        out: dir.path().join(out),
        tune: 1.3,
        baseline: None,
        jobs: 1,
    };
    run(&args("a")).unwrap();
    run(&OpenbArgs { jobs: 3, ..args("b") }).unwrap();
    for f in ["allo.csv", "frag.csv", "frag_ratio.csv", "first_failure.csv", "summary.md"] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        assert_eq!(a, std::fs::read(dir.path().join("b").join(f)).unwrap(), "{f} differs");
    }
    let allo = std::fs::read_to_string(dir.path().join("a/allo.csv")).unwrap();
    assert!(allo.lines().nth(1).unwrap().starts_with("openb_pod_list_tiny,fgd,1.3,42,11,"));
    assert_eq!(allo.lines().count(), 4);
}

#[test]
fn seeds_parse() {
    assert_eq!(parse_seeds("42-45").unwrap().0, vec![42, 43, 44, 45]);
    assert_eq!(parse_seeds("1,5-6").unwrap().0, vec![1, 5, 6]);
    assert!(parse_seeds("9-3").unwrap_err().contains("backwards"));
    assert!(parse_seeds("x").is_err());
}
