//! Random fleets and requests for the unit tests of the scheduler's internals.

use crate::model::{GpuSlot, NodeView};
use proptest::prelude::*;
use strata_domain::{CpuMillis, GpuMillis, GpuRequest, MemoryMib, NodeId, ReplicaResources};

const MODELS: [&str; 3] = ["A10", "H100", "V100"];

pub fn arb_fleet() -> impl Strategy<Value = Vec<NodeView>> {
    let gpu = (0..MODELS.len(), prop::sample::select(vec![0u32, 250, 500, 750, 1000, 1000]));
    // Few distinct values, so that ties (broken by position) are common.
    let node = (0u64..8, 0u64..4, prop::collection::vec(gpu, 0..=4));
    prop::collection::vec(node, 1..=12).prop_map(|nodes| {
        views(
            nodes
                .into_iter()
                .map(|(cpu, mem, gpus)| (cpu, mem, gpus.into_iter().map(|(m, f)| (MODELS[m], f)).collect())),
        )
    })
}

/// Nodes of up to 8 devices of two models, mostly free, with room for several replicas: where
/// gangs stack up on one node.
pub fn arb_roomy_fleet() -> impl Strategy<Value = Vec<NodeView>> {
    let gpu = (
        prop::sample::select(vec![MODELS[0], MODELS[1]]),
        prop::sample::select(vec![0u32, 250, 500, 1000, 1000, 1000]),
    );
    let node = (0u64..32, 0u64..16, prop::collection::vec(gpu, 0..=8));
    prop::collection::vec(node, 1..=6).prop_map(views)
}

/// Nodes from (cores, GiB, devices as (model, free milli-GPU)); ids and device indexes in order.
fn views(nodes: impl IntoIterator<Item = (u64, u64, Vec<(&'static str, u32)>)>) -> Vec<NodeView> {
    nodes
        .into_iter()
        .enumerate()
        .map(|(i, (cpu, mem, gpus))| NodeView {
            id: NodeId(i as i64 + 1),
            name: format!("n{i}"),
            rack: None,
            free_cpu: CpuMillis(cpu * 1000),
            free_memory: MemoryMib(mem * 1024),
            gpus: gpus
                .into_iter()
                .enumerate()
                .map(|(ix, (model, free))| GpuSlot {
                    index: ix as u32,
                    model: model.to_string(),
                    free: GpuMillis(free),
                })
                .collect(),
            labels: Default::default(),
        })
        .collect()
}

pub fn arb_request() -> impl Strategy<Value = ReplicaResources> {
    let gpu = prop::sample::select(vec![0u32, 100, 250, 500, 750, 1000, 2000, 3000]);
    let models = prop::collection::vec(0..MODELS.len(), 0..=2);
    (0u64..6, 0u64..3, gpu, models, prop::bool::ANY).prop_map(|(cpu, mem, gpu, models, prefer)| {
        let names: Vec<String> = models.iter().map(|&m| MODELS[m].to_string()).collect();
        ReplicaResources {
            cpu_milli: CpuMillis(cpu * 1000),
            memory_mib: MemoryMib(mem * 1024),
            gpu_milli: GpuRequest::try_from(gpu).unwrap_or(GpuRequest::None),
            preferred_gpu_models: if prefer { names.clone() } else { Vec::new() },
            gpu_models: names,
            node_labels: Default::default(),
            max_replicas_per_node: None,
            spread_group: None,
        }
    })
}
