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
    /// How long the job is expected to run once started, when its owner said. Backfill lets a
    /// job jump the line only if it finishes before the job it jumps is due to start.
    #[serde(default)]
    pub runtime_estimate_ms: Option<u64>,
}

/// What one replica of a running job holds on its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldReplica {
    pub node: NodeId,
    /// The chip model of its GPUs (one model per replica); `None` without GPUs.
    #[serde(default)]
    pub gpu_model: Option<String>,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub gpus: Vec<GpuAssignment>,
    /// Its job's `spread_group`: a replica the group's density limit counts on its node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_group: Option<String>,
}

impl HeldReplica {
    /// Milli-GPUs held, over all its devices.
    pub fn gpu_milli(&self) -> u64 {
        self.gpus.iter().map(|g| u64::from(g.milli.0)).sum()
    }
}

/// A job holding capacity now: what preemption may take back and what backfill waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningJob {
    pub id: JobId,
    pub tenant: TenantId,
    pub priority: i32,
    /// Whether the scheduler may stop it to make room; a stopped job is requeued, not lost.
    pub preemptible: bool,
    /// Since when its work would be lost if stopped now: its last checkpoint, else its start.
    pub progress_since_ms: i64,
    /// When it is expected to finish; `None` when nobody said.
    pub expected_end_ms: Option<i64>,
    pub replicas: Vec<HeldReplica>,
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
    /// Nominal quota: milli-GPUs per chip model the tenant is guaranteed. Beyond it a tenant
    /// borrows idle chips (up to `max_gpu_milli`), and borrowed chips are taken back, by
    /// preemption, when a tenant within its nominal quota needs them. A model absent here is
    /// guaranteed nothing: all of the tenant's use of it is borrowed.
    #[serde(default)]
    pub nominal_gpu_milli: std::collections::BTreeMap<String, u64>,
}

impl TenantLimits {
    /// The name people know the tenant by; its id when it has none.
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            self.tenant.to_string()
        } else {
            self.name.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedInput {
    pub nodes: Vec<NodeView>,
    pub pending: Vec<PendingJob>,
    pub tenants: Vec<TenantLimits>,
    /// Work holding capacity now (already subtracted from the nodes' free capacity).
    #[serde(default)]
    pub running: Vec<RunningJob>,
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
    /// Running jobs to stop and requeue; their capacity is already counted free for the
    /// placements above.
    #[serde(default)]
    pub preemptions: Vec<Preemption>,
}

/// A running job stopped to make room for a pending one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preemption {
    pub job: JobId,
    /// The job it makes room for.
    pub for_job: JobId,
    pub reason: String,
}
