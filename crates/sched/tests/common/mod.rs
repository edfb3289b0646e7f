//! Builders shared by the scheduler's integration tests, so each test reads as its fleet and queue.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use strata_domain::{CpuMillis, GpuMillis, GpuRequest, JobId, MemoryMib, NodeId, ReplicaResources, TenantId};
use strata_sched::{Decisions, GpuSlot, NodeView, PendingJob, TenantLimits};

/// A node named `n{id}` with generous CPU and memory; `gpus` are (model, free milli) by index.
pub fn node(id: i64, rack: Option<&str>, gpus: &[(&str, u32)]) -> NodeView {
    NodeView {
        id: NodeId(id),
        name: format!("n{id}"),
        rack: rack.map(str::to_string),
        free_cpu: CpuMillis(64_000),
        free_memory: MemoryMib(512_000),
        gpus: gpus
            .iter()
            .enumerate()
            .map(|(i, (model, free))| GpuSlot { index: i as u32, model: model.to_string(), free: GpuMillis(*free) })
            .collect(),
        labels: Default::default(),
    }
}

/// `n` fully free devices of one model.
pub fn whole(model: &str, n: usize) -> Vec<(&str, u32)> {
    vec![(model, 1000); n]
}

pub fn cpu_node(id: i64, cpu: u64, mem: u64) -> NodeView {
    NodeView { free_cpu: CpuMillis(cpu), free_memory: MemoryMib(mem), ..node(id, None, &[]) }
}

/// A job of tenant 1, priority 0, submitted at its id, one replica of 1000 milli-CPU and 1 GiB.
pub fn job(id: i64, gpu_milli: u32) -> PendingJob {
    PendingJob {
        id: JobId(id),
        tenant: TenantId(1),
        priority: 0,
        submitted_at_ms: id,
        replicas: 1,
        resources: ReplicaResources {
            cpu_milli: CpuMillis(1000),
            memory_mib: MemoryMib(1024),
            gpu_milli: GpuRequest::try_from(gpu_milli).unwrap_or(GpuRequest::None),
            gpu_models: Vec::new(),
            preferred_gpu_models: Vec::new(),
            node_labels: Default::default(),
            max_replicas_per_node: None,
            spread_group: None,
        },
        runtime_estimate_ms: None,
    }
}

pub fn tenant(id: i64, name: &str, max_gpu: Option<u64>, used_gpu: u64) -> TenantLimits {
    TenantLimits {
        tenant: TenantId(id),
        name: name.to_string(),
        max_gpu_milli: max_gpu,
        max_cpu_milli: None,
        max_memory_mib: None,
        used_gpu_milli: used_gpu,
        used_cpu_milli: 0,
        used_memory_mib: 0,
        nominal_gpu_milli: Default::default(),
    }
}

/// Decisions as lines: `job 1 -> n2[0,1] n3[4:250]` (milli shown when not a whole device)
/// and `job 5 waits: <reason>`, placements first.
pub fn render(d: &Decisions) -> Vec<String> {
    let mut lines = Vec::new();
    for p in &d.placements {
        let replicas: Vec<String> = p
            .replicas
            .iter()
            .map(|r| {
                let gpus: Vec<String> = r
                    .gpus
                    .iter()
                    .map(|g| if g.milli.0 == 1000 { g.index.to_string() } else { format!("{}:{}", g.index, g.milli.0) })
                    .collect();
                format!("n{}[{}]", r.node.0, gpus.join(","))
            })
            .collect();
        lines.push(format!("job {} -> {}", p.job.0, replicas.join(" ")));
    }
    for w in &d.waiting {
        lines.push(format!("job {} waits: {}", w.job.0, w.reason));
    }
    lines
}
