//! The live control plane and the trace simulator place alike: a small trace replayed through a
//! real `strata server` with emulated agents lands every pod where the simulator's placer (the
//! `classic` policy, which is what `schedule()` runs) puts it.

use crate::harness::{submit, wait_for, Cluster};
use std::time::Duration;
use strata_domain::{CpuMillis, GpuMillis, GpuRequest, MemoryMib, NodeId, ReplicaResources};
use strata_sched::{GpuSlot, NodeView, Placer, Policy, TaskMix};

/// (name, cores, memory MiB, GPUs, model) — registered in this order, so node ids are 1, 2, 3.
const NODES: [(&str, u32, u64, u32, &str); 3] =
    [("n1", 8, 32768, 4, "T4"), ("n2", 16, 65536, 2, "V100-16GB"), ("n3", 4, 16384, 8, "T4")];

/// (cpu milli, memory MiB, gpu milli, allowed model) in arrival order: shares, whole GPUs,
/// multi-GPU, model-constrained and CPU-only pods.
const PODS: [(u64, u64, u32, &str); 10] = [
    (1000, 1024, 1000, "V100-16GB"),
    (1000, 1024, 500, ""),
    (2000, 2048, 1000, ""),
    (1000, 1024, 2000, "T4"),
    (500, 512, 250, ""),
    (4000, 4096, 0, ""),
    (1000, 1024, 300, ""),
    (2000, 2048, 4000, ""),
    (1000, 1024, 700, ""),
    (1000, 2048, 1000, "T4"),
];

fn resources(pod: &(u64, u64, u32, &str)) -> ReplicaResources {
    ReplicaResources {
        cpu_milli: CpuMillis(pod.0),
        memory_mib: MemoryMib(pod.1),
        gpu_milli: GpuRequest::try_from(pod.2).unwrap(),
        gpu_models: if pod.3.is_empty() { vec![] } else { vec![pod.3.to_string()] },
        preferred_gpu_models: vec![],
        node_labels: Default::default(),
        max_replicas_per_node: None,
        spread_group: None,
    }
}

/// What the simulator decides: (node name, device indices) per pod.
fn simulated() -> Vec<(String, Vec<u32>)> {
    let views: Vec<NodeView> = NODES
        .iter()
        .enumerate()
        .map(|(i, (name, cores, mem, gpus, model))| NodeView {
            id: NodeId(i as i64 + 1),
            name: name.to_string(),
            rack: None,
            free_cpu: CpuMillis(u64::from(*cores) * 1000),
            free_memory: MemoryMib(*mem),
            gpus: (0..*gpus).map(|index| GpuSlot { index, model: model.to_string(), free: GpuMillis(1000) }).collect(),
            labels: Default::default(),
        })
        .collect();
    let mut placer = Placer::new(&views, Policy::Classic, &TaskMix::default(), 0);
    PODS.iter()
        .map(|pod| {
            let p = placer.place(&resources(pod)).unwrap_or_else(|| panic!("pod {pod:?} fits nowhere"));
            (NODES[(p.node.0 - 1) as usize].0.to_string(), p.gpus.iter().map(|g| g.index).collect())
        })
        .collect()
}

#[tokio::test]
async fn a_trace_replayed_live_lands_where_the_simulator_puts_it() {
    let expected = simulated();
    let mut c = Cluster::start().await;
    for (name, cores, mem, gpus, model) in NODES {
        let (cores, mem, emulate) = (cores.to_string(), mem.to_string(), format!("{gpus}x{model}"));
        c.add_agent(name, &emulate, &["--cpu-cores", &cores, "--memory-mib", &mem]).await;
    }
    let mut live = Vec::new();
    for (i, pod) in PODS.iter().enumerate() {
        let mut req = submit(&["sleep", "600"]);
        req.name = Some(format!("pod-{i}"));
        (req.cpu_milli, req.memory_mib, req.gpu_milli) =
            (Some(pod.0 as i64), Some(pod.1 as i64), Some(i64::from(pod.2)));
        req.gpu_models = resources(pod).gpu_models;
        let id = c.admin.submit_job(&req).await.unwrap().id.0;
        // One at a time, as the simulator places them.
        let admin = c.admin.clone();
        let job = wait_for("the pod to be placed", Duration::from_secs(20), || {
            let a = admin.clone();
            async move { a.job(id).await.ok().filter(|j| !j.tasks.is_empty()) }
        })
        .await;
        live.push((job.tasks[0].node_name.clone(), job.tasks[0].gpus.iter().map(|g| g.index).collect::<Vec<_>>()));
    }
    assert_eq!(live, expected);
}
