//! Store rows → API views.

use strata_api::jobs::{Job, Task, TaskGpu};
use strata_api::nodes::{AcceleratorUsage, Allocation, DeviceAllocation, Node, NodeState};
use strata_api::tenants::{Quota, Tenant};
use strata_store::{Held, JobRow, NodeRow, TaskRow, TenantRow};

pub fn task(t: &TaskRow) -> Task {
    Task {
        id: t.id,
        attempt: t.attempt,
        replica: t.replica,
        node: t.node_id,
        node_name: t.node_name.clone(),
        gpus: t.gpus.iter().map(|g| TaskGpu { index: g.index, milli: g.milli.0 }).collect(),
        state: t.state,
        exit_code: t.exit_code,
        message: t.message.clone(),
    }
}

/// A job with the tasks of its current attempt (taken from `tasks`, which may hold others).
pub fn job(j: &JobRow, tasks: &[TaskRow]) -> Job {
    Job {
        id: j.id,
        tenant: j.tenant_id,
        tenant_name: j.tenant_name.clone(),
        name: j.spec.name.clone(),
        state: j.state,
        reason: j.reason.clone(),
        attempt: j.attempt,
        spec: j.spec.clone(),
        created_at_ms: j.created_ms,
        updated_at_ms: j.updated_ms,
        tasks: tasks.iter().filter(|t| t.job_id == j.id && t.attempt == j.attempt).map(task).collect(),
    }
}

pub fn node(n: &NodeRow, held: Option<&Held>) -> Node {
    let allocated = held.map_or_else(Allocation::default, |h| Allocation {
        cpu_milli: h.cpu.0,
        memory_mib: h.memory.0,
        gpu_milli: h.gpu.iter().map(|(&index, &milli)| DeviceAllocation { index, milli }).collect(),
        tasks: h.tasks,
    });
    Node {
        id: n.id,
        name: n.name.clone(),
        address: n.address.clone(),
        state: NodeState::parse(&n.state).unwrap_or(NodeState::NotReady),
        cordoned: n.cordoned,
        draining: n.draining,
        inventory: n.inventory.clone(),
        usage: serde_json::from_str::<Vec<AcceleratorUsage>>(&n.usage_json).unwrap_or_default(),
        allocated,
        last_heartbeat_ms: n.last_heartbeat_ms,
    }
}

pub fn tenant(t: &TenantRow) -> Tenant {
    Tenant {
        id: t.id,
        name: t.name.clone(),
        quota: serde_json::from_str::<Quota>(&t.quota_json).unwrap_or_default(),
        limits: serde_json::from_str(&t.limits_json).unwrap_or_default(),
        created_at_ms: t.created_ms,
    }
}

pub fn key(k: &strata_store::KeyRow) -> strata_api::keys::KeyInfo {
    strata_api::keys::KeyInfo {
        id: k.id,
        tenant: k.tenant_name.clone(),
        project: k.project_name.clone(),
        name: k.name.clone(),
        hint: k.hint.clone(),
        models: k.models_json.as_deref().and_then(|m| serde_json::from_str(m).ok()),
        limits: serde_json::from_str(&k.limits_json).unwrap_or_default(),
        created_at_ms: k.created_ms,
        expires_at_ms: k.expires_ms,
        revoked_at_ms: k.revoked_ms,
    }
}
