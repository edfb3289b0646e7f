//! Store rows → API views.

use strata_api::jobs::{Job, Task, TaskGpu};
use strata_api::nodes::{AcceleratorUsage, Allocation, DeviceAllocation, Node, NodeState};
use strata_api::tenants::{Quota, Tenant};
use strata_store::{JobRow, NodeRow, TaskRow, TenantRow};

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

pub fn node(n: &NodeRow, active: &[TaskRow]) -> Node {
    let mut allocated = Allocation::default();
    for t in active.iter().filter(|t| t.node_id == n.id) {
        allocated.cpu_milli += t.cpu_milli;
        allocated.memory_mib += t.memory_mib;
        allocated.tasks += 1;
        for g in &t.gpus {
            match allocated.gpu_milli.iter_mut().find(|d| d.index == g.index) {
                Some(d) => d.milli += g.milli.0,
                None => allocated.gpu_milli.push(DeviceAllocation { index: g.index, milli: g.milli.0 }),
            }
        }
    }
    allocated.gpu_milli.sort_by_key(|d| d.index);
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
        created_at_ms: t.created_ms,
    }
}
