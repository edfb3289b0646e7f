//! The scheduler's inputs and outputs.

use serde::{Deserialize, Serialize};
use strata_domain::{CpuMillis, GpuMillis, JobId, MemoryMib, NodeId, ReplicaResources, TenantId};

/// One accelerator as the scheduler sees it: its model and how much of it is still free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuSlot {
    pub index: u32,
    pub model: String,
    /// Free milli-GPUs on this device, 0..=1000.
    pub free: GpuMillis,
}

/// A schedulable node (ready and not cordoned) with what is still free on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    pub id: NodeId,
    pub name: String,
    pub rack: Option<String>,
    pub free_cpu: CpuMillis,
    pub free_memory: MemoryMib,
    pub gpus: Vec<GpuSlot>,
    /// The node's labels, for jobs that ask for some (`node_labels`).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A job waiting to be placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingJob {
    pub id: JobId,
    pub tenant: TenantId,
    pub priority: i32,
    pub submitted_at_ms: i64,
    pub replicas: u32,
    pub resources: ReplicaResources,
}

/// A tenant's quota and what its running work already uses. `None` limits are unlimited;
/// a tenant absent from [`SchedInput::tenants`] is unlimited too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    pub tenant: TenantId,
    pub name: String,
    pub max_gpu_milli: Option<u64>,
    pub max_cpu_milli: Option<u64>,
    pub max_memory_mib: Option<u64>,
    pub used_gpu_milli: u64,
    pub used_cpu_milli: u64,
    pub used_memory_mib: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedInput {
    pub nodes: Vec<NodeView>,
    pub pending: Vec<PendingJob>,
    pub tenants: Vec<TenantLimits>,
    pub now_ms: i64,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuAssignment {
    pub index: u32,
    pub milli: GpuMillis,
}

/// Where one replica of a gang runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaPlacement {
    pub node: NodeId,
    pub gpus: Vec<GpuAssignment>,
}

/// A whole gang placed: one entry per replica, in rank order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub job: JobId,
    pub replicas: Vec<ReplicaPlacement>,
}

/// A job left in the queue, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub job: JobId,
    pub reason: String,
}

/// Everything one scheduling cycle decided. Every pending job appears exactly once,
/// either in `placements` or in `waiting`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decisions {
    pub placements: Vec<Placement>,
    pub waiting: Vec<Waiting>,
}
