//! Loading the scheduler's input from the store: free capacity per node is capacity minus what
//! active tasks hold, computed here from the tasks table so it can never drift from it.

use crate::rows::NodeRow;
use crate::{from_json, Result, Store};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use strata_domain::{CpuMillis, GpuMillis, JobId, MemoryMib, NodeId, Quota, TenantId};
use strata_sched::{GpuSlot, HeldReplica, NodeView, PendingJob, RunningJob, SchedInput, TenantLimits};

/// Everything one scheduling cycle reads, plus the current reasons so unchanged ones are not
/// rewritten.
pub struct SchedSnapshot {
    pub input: SchedInput,
    pub reasons: BTreeMap<JobId, Option<String>>,
    pub node_names: BTreeMap<NodeId, String>,
}

/// What a scheduling cycle needs of a job's spec.
#[derive(Debug, Clone)]
pub(crate) struct SchedSpec {
    replicas: u32,
    resources: strata_domain::ReplicaResources,
    runtime_estimate_s: Option<u64>,
    preemptible: bool,
}

/// The scheduling fields of the specs of the jobs the last cycle read, by job id. A spec never
/// changes once submitted, and with thousands of jobs queued and running, parsing every one's
/// JSON again each cycle was a large part of reading the snapshot. Each snapshot keeps only the
/// jobs it saw, so the cache holds no more than the queue and the running work.
#[derive(Default)]
pub(crate) struct SpecCache {
    by_job: HashMap<i64, Arc<SchedSpec>>,
}

impl SpecCache {
    /// The spec of job `id`; `json` is read and parsed only when it is not cached.
    fn get(&mut self, id: i64, json: impl FnOnce() -> Result<String>) -> Result<Arc<SchedSpec>> {
        if let Some(s) = self.by_job.get(&id) {
            return Ok(s.clone());
        }
        let spec: strata_domain::JobSpec = from_json(&json()?, "job spec")?;
        let s = Arc::new(SchedSpec {
            replicas: spec.replicas,
            resources: spec.resources,
            runtime_estimate_s: spec.runtime_estimate_s,
            preemptible: spec.preemptible,
        });
        self.by_job.insert(id, s.clone());
        Ok(s)
    }

    /// Forgets every job not in `seen`.
    fn keep(&mut self, seen: &HashSet<i64>) {
        self.by_job.retain(|id, _| seen.contains(id));
    }
}

/// What active tasks hold on one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    pub cpu: CpuMillis,
    pub memory: MemoryMib,
    /// Milli-GPUs held per device index.
    pub gpu: BTreeMap<u32, u32>,
    pub tasks: u32,
}

/// What a node has left once `held` is subtracted.
pub fn node_view(node: &NodeRow, held: Option<&Held>) -> NodeView {
    let inv = &node.inventory;
    let empty = Held::default();
    let held = held.unwrap_or(&empty);
    let gpus = inv
        .accelerators
        .iter()
        .map(|a| GpuSlot {
            index: a.index,
            model: a.model.clone(),
            free: GpuMillis::WHOLE - GpuMillis(held.gpu.get(&a.index).copied().unwrap_or(0)),
        })
        .collect();
    NodeView {
        id: node.id,
        name: node.name.clone(),
        rack: inv.rack().map(str::to_string),
        free_cpu: CpuMillis(u64::from(inv.cpu_cores) * 1000) - held.cpu,
        free_memory: MemoryMib(inv.memory_mib) - held.memory,
        gpus,
        labels: inv.labels.clone(),
    }
}

impl Store {
    /// What active (assigned or running) tasks hold, per node. CPU and memory are summed by the
    /// database; only tasks that hold GPUs are read row by row.
    pub async fn held_by_node(&self) -> Result<BTreeMap<NodeId, Held>> {
        let mut held: BTreeMap<NodeId, Held> = BTreeMap::new();
        let sums = sqlx::query(
            "SELECT node_id, CAST(SUM(cpu_milli) AS BIGINT) AS cpu, CAST(SUM(memory_mib) AS BIGINT) AS memory, COUNT(*) AS tasks \
             FROM tasks WHERE state IN ('assigned', 'running') GROUP BY node_id",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &sums {
            let h = held.entry(NodeId(row.try_get("node_id")?)).or_default();
            h.cpu = CpuMillis(row.try_get::<i64, _>("cpu")?.max(0) as u64);
            h.memory = MemoryMib(row.try_get::<i64, _>("memory")?.max(0) as u64);
            h.tasks = row.try_get::<i64, _>("tasks")?.max(0) as u32;
        }
        let gpu_rows =
            sqlx::query("SELECT node_id, gpus FROM tasks WHERE state IN ('assigned', 'running') AND gpu_milli > 0")
                .fetch_all(&self.read)
                .await?;
        for row in &gpu_rows {
            let gpus: Vec<strata_sched::GpuAssignment> = from_json(&row.try_get::<String, _>("gpus")?, "task gpus")?;
            let h = held.entry(NodeId(row.try_get("node_id")?)).or_default();
            for g in gpus {
                *h.gpu.entry(g.index).or_default() += g.milli.0;
            }
        }
        Ok(held)
    }

    pub async fn sched_snapshot(&self, now_ms: i64, seed: u64) -> Result<SchedSnapshot> {
        let nodes = self.nodes().await?;
        let held = self.held_by_node().await?;
        let node_names = nodes.iter().map(|n| (n.id, n.name.clone())).collect();
        let views = nodes.iter().filter(|n| n.schedulable()).map(|n| node_view(n, held.get(&n.id))).collect();

        let rows = sqlx::query(
            "SELECT j.id, j.tenant_id, j.priority, j.created_ms, j.spec, j.reason FROM jobs j WHERE j.state = 'pending' ORDER BY j.id",
        )
        .fetch_all(&self.read)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        let mut reasons = BTreeMap::new();
        let mut seen = HashSet::with_capacity(rows.len());
        for row in &rows {
            let id = JobId(row.try_get("id")?);
            let spec = self.spec(id, row)?;
            seen.insert(id.0);
            reasons.insert(id, row.try_get::<Option<String>, _>("reason")?);
            pending.push(PendingJob {
                id,
                tenant: TenantId(row.try_get("tenant_id")?),
                priority: row.try_get::<i64, _>("priority")? as i32,
                submitted_at_ms: row.try_get("created_ms")?,
                replicas: spec.replicas,
                resources: spec.resources.clone(),
                runtime_estimate_ms: spec.runtime_estimate_s.map(|s| s.saturating_mul(1000)),
            });
        }

        // What each tenant's running work holds, summed by the database.
        let usage = sqlx::query(
            "SELECT j.tenant_id, CAST(SUM(k.cpu_milli) AS BIGINT) AS cpu, CAST(SUM(k.memory_mib) AS BIGINT) AS memory, CAST(SUM(k.gpu_milli) AS BIGINT) AS gpu \
             FROM tasks k JOIN jobs j ON j.id = k.job_id WHERE k.state IN ('assigned', 'running') GROUP BY j.tenant_id",
        )
        .fetch_all(&self.read)
        .await?;
        let mut used: BTreeMap<i64, (u64, u64, u64)> = BTreeMap::new();
        for row in &usage {
            // SUM of BIGINT is NUMERIC in PostgreSQL, hence the CASTs above.
            let sum = |col: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(col)?.max(0) as u64) };
            used.insert(row.try_get("tenant_id")?, (sum("cpu")?, sum("memory")?, sum("gpu")?));
        }
        let mut tenants = Vec::new();
        for t in self.tenants().await? {
            let quota: Quota = from_json(&t.quota_json, "tenant quota")?;
            let (cpu, memory, gpu) = used.get(&t.id.0).copied().unwrap_or_default();
            tenants.push(TenantLimits {
                tenant: t.id,
                name: t.name.clone(),
                max_gpu_milli: quota.gpu_milli,
                max_cpu_milli: quota.cpu_milli,
                max_memory_mib: quota.memory_mib,
                used_gpu_milli: gpu,
                used_cpu_milli: cpu,
                used_memory_mib: memory,
                nominal_gpu_milli: quota.nominal_gpu_milli.clone(),
            });
        }
        let running = self.running_jobs(&nodes).await?;
        seen.extend(running.iter().map(|r| r.id.0));
        self.specs.lock().unwrap_or_else(|e| e.into_inner()).keep(&seen);
        let input = SchedInput { nodes: views, pending, tenants, running, now_ms, seed };
        Ok(SchedSnapshot { input, reasons, node_names })
    }

    /// The scheduling fields of a job's spec: from the cache, else parsed from the row's `spec`.
    fn spec(&self, id: JobId, row: &sqlx::any::AnyRow) -> Result<Arc<SchedSpec>> {
        let mut cache = self.specs.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(id.0, || Ok(row.try_get::<String, _>("spec")?))
    }

    /// Jobs whose current attempt holds capacity, with what each replica holds. A job's work
    /// since its attempt was placed is what preempting it would lose (agents do not report
    /// checkpoints yet).
    async fn running_jobs(&self, nodes: &[NodeRow]) -> Result<Vec<RunningJob>> {
        let rows = sqlx::query(
            "SELECT k.job_id, k.node_id, k.gpus, k.cpu_milli, k.memory_mib, k.created_ms, j.tenant_id, j.priority, j.spec \
             FROM tasks k JOIN jobs j ON j.id = k.job_id WHERE k.state IN ('assigned', 'running') ORDER BY k.job_id, k.replica",
        )
        .fetch_all(&self.read)
        .await?;
        let models: BTreeMap<(NodeId, u32), &str> = nodes
            .iter()
            .flat_map(|n| n.inventory.accelerators.iter().map(move |a| ((n.id, a.index), a.model.as_str())))
            .collect();
        let mut running: Vec<RunningJob> = Vec::new();
        // The spread group of the job whose replicas the rows are on now.
        let mut spec_group: Option<String> = None;
        for row in &rows {
            let id = JobId(row.try_get("job_id")?);
            if running.last().is_none_or(|r| r.id != id) {
                // The spec once per job, not per replica.
                let spec = self.spec(id, row)?;
                spec_group.clone_from(&spec.resources.spread_group);
                let started: i64 = row.try_get("created_ms")?;
                running.push(RunningJob {
                    id,
                    tenant: TenantId(row.try_get("tenant_id")?),
                    priority: row.try_get::<i64, _>("priority")? as i32,
                    preemptible: spec.preemptible,
                    progress_since_ms: started,
                    expected_end_ms: spec
                        .runtime_estimate_s
                        .map(|s| started.saturating_add(s.saturating_mul(1000) as i64)),
                    replicas: Vec::new(),
                });
            }
            let node = NodeId(row.try_get("node_id")?);
            let gpus: Vec<strata_sched::GpuAssignment> = from_json(&row.try_get::<String, _>("gpus")?, "task gpus")?;
            let gpu_model = gpus.first().and_then(|g| models.get(&(node, g.index))).map(|m| m.to_string());
            if let Some(r) = running.last_mut() {
                r.replicas.push(HeldReplica {
                    node,
                    gpu_model,
                    cpu_milli: row.try_get::<i64, _>("cpu_milli")?.max(0) as u64,
                    memory_mib: row.try_get::<i64, _>("memory_mib")?.max(0) as u64,
                    gpus,
                    spread_group: spec_group.clone(),
                });
            }
        }
        Ok(running)
    }
}
