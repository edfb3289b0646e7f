//! Loading the scheduler's input from the store: free capacity per node is capacity minus what
//! active tasks hold, computed here from the tasks table so it can never drift from it.

use crate::rows::NodeRow;
use crate::{from_json, Result, Store};
use sqlx::Row;
use std::collections::BTreeMap;
use strata_domain::{CpuMillis, GpuMillis, JobId, MemoryMib, NodeId, Quota, TenantId};
use strata_sched::{GpuSlot, NodeView, PendingJob, SchedInput, TenantLimits};

/// Everything one scheduling cycle reads, plus the current reasons so unchanged ones are not
/// rewritten.
pub struct SchedSnapshot {
    pub input: SchedInput,
    pub reasons: BTreeMap<JobId, Option<String>>,
    pub node_names: BTreeMap<NodeId, String>,
}

/// What a node has left once `tasks` are subtracted.
pub fn node_view(node: &NodeRow, tasks: &[crate::TaskRow]) -> NodeView {
    let inv = &node.inventory;
    let mut free_cpu = CpuMillis(u64::from(inv.cpu_cores) * 1000);
    let mut free_memory = MemoryMib(inv.memory_mib);
    let mut gpus: Vec<GpuSlot> = inv
        .accelerators
        .iter()
        .map(|a| GpuSlot { index: a.index, model: a.model.clone(), free: GpuMillis::WHOLE })
        .collect();
    for task in tasks.iter().filter(|t| t.node_id == node.id) {
        free_cpu -= CpuMillis(task.cpu_milli);
        free_memory -= MemoryMib(task.memory_mib);
        for g in &task.gpus {
            if let Some(slot) = gpus.iter_mut().find(|s| s.index == g.index) {
                slot.free -= g.milli;
            }
        }
    }
    NodeView { id: node.id, name: node.name.clone(), rack: inv.rack().map(str::to_string), free_cpu, free_memory, gpus }
}

impl Store {
    pub async fn sched_snapshot(&self, now_ms: i64, seed: u64) -> Result<SchedSnapshot> {
        let nodes = self.nodes().await?;
        let tasks = self.active_tasks().await?;
        let node_names = nodes.iter().map(|n| (n.id, n.name.clone())).collect();
        let views = nodes.iter().filter(|n| n.schedulable()).map(|n| node_view(n, &tasks)).collect();

        let rows = sqlx::query(
            "SELECT j.id, j.tenant_id, j.priority, j.created_ms, j.spec, j.reason FROM jobs j WHERE j.state = 'pending' ORDER BY j.id",
        )
        .fetch_all(&self.read)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        let mut reasons = BTreeMap::new();
        for row in &rows {
            let spec: strata_domain::JobSpec = from_json(&row.try_get::<String, _>("spec")?, "job spec")?;
            let id = JobId(row.try_get("id")?);
            reasons.insert(id, row.try_get::<Option<String>, _>("reason")?);
            pending.push(PendingJob {
                id,
                tenant: TenantId(row.try_get("tenant_id")?),
                priority: row.try_get::<i64, _>("priority")? as i32,
                submitted_at_ms: row.try_get("created_ms")?,
                replicas: spec.replicas,
                resources: spec.resources,
            });
        }

        // What each tenant's running work holds, from the same active tasks.
        let owners = sqlx::query("SELECT k.id, j.tenant_id FROM tasks k JOIN jobs j ON j.id = k.job_id WHERE k.state IN ('assigned', 'running')")
            .fetch_all(&self.read)
            .await?;
        let mut owner_of = BTreeMap::new();
        for row in &owners {
            owner_of.insert(row.try_get::<i64, _>("id")?, row.try_get::<i64, _>("tenant_id")?);
        }
        let mut tenants = Vec::new();
        for t in self.tenants().await? {
            let quota: Quota = from_json(&t.quota_json, "tenant quota")?;
            let mut limits = TenantLimits {
                tenant: t.id,
                name: t.name.clone(),
                max_gpu_milli: quota.gpu_milli,
                max_cpu_milli: quota.cpu_milli,
                max_memory_mib: quota.memory_mib,
                used_gpu_milli: 0,
                used_cpu_milli: 0,
                used_memory_mib: 0,
            };
            for task in tasks.iter().filter(|k| owner_of.get(&k.id) == Some(&t.id.0)) {
                limits.used_cpu_milli += task.cpu_milli;
                limits.used_memory_mib += task.memory_mib;
                limits.used_gpu_milli += task.gpus.iter().map(|g| u64::from(g.milli.0)).sum::<u64>();
            }
            tenants.push(limits);
        }
        Ok(SchedSnapshot { input: SchedInput { nodes: views, pending, tenants, now_ms, seed }, reasons, node_names })
    }
}
