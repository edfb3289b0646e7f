//! Rows as the rest of the control plane reads them, decoded from the `Any` driver in one place.

use crate::{from_json, Result, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use strata_domain::{Inventory, JobId, JobSpec, JobState, NodeId, TaskState, TenantId};

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    Ok(row.try_get::<T, _>(col)?)
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantRow {
    pub id: TenantId,
    pub name: String,
    /// The quota document (`strata_api::tenants::Quota` as JSON); the store does not interpret it.
    pub quota_json: String,
    /// The gateway limits document (`strata_api::keys::Limits` as JSON).
    pub limits_json: String,
    pub created_ms: i64,
}

impl TenantRow {
    pub(crate) fn decode(row: &AnyRow) -> Result<Self> {
        Ok(TenantRow {
            id: TenantId(get(row, "id")?),
            name: get(row, "name")?,
            quota_json: get(row, "quota")?,
            limits_json: get(row, "limits")?,
            created_ms: get(row, "created_ms")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub id: NodeId,
    pub name: String,
    pub address: String,
    pub inventory: Inventory,
    pub usage_json: String,
    /// `ready` or `not_ready`.
    pub state: String,
    pub cordoned: bool,
    pub draining: bool,
    pub registered_ms: i64,
    pub last_heartbeat_ms: i64,
}

impl NodeRow {
    pub(crate) fn decode(row: &AnyRow) -> Result<Self> {
        Ok(NodeRow {
            id: NodeId(get(row, "id")?),
            name: get(row, "name")?,
            address: get(row, "address")?,
            inventory: from_json(&get::<String>(row, "inventory")?, "node inventory")?,
            usage_json: get(row, "usage")?,
            state: get(row, "state")?,
            cordoned: get::<i64>(row, "cordoned")? != 0,
            draining: get::<i64>(row, "draining")? != 0,
            registered_ms: get(row, "registered_ms")?,
            last_heartbeat_ms: get(row, "last_heartbeat_ms")?,
        })
    }

    pub fn schedulable(&self) -> bool {
        self.state == "ready" && !self.cordoned && !self.draining
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub spec: JobSpec,
    pub state: JobState,
    pub priority: i32,
    pub attempt: u32,
    pub reason: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Columns every job query selects, joined with the tenant's name.
pub(crate) const JOB_COLUMNS: &str = "j.id, j.tenant_id, t.name AS tenant_name, j.spec, j.state, j.priority, j.attempt, j.reason, j.created_ms, j.updated_ms";

impl JobRow {
    pub(crate) fn decode(row: &AnyRow) -> Result<Self> {
        let state: String = get(row, "state")?;
        Ok(JobRow {
            id: JobId(get(row, "id")?),
            tenant_id: TenantId(get(row, "tenant_id")?),
            tenant_name: get(row, "tenant_name")?,
            spec: from_json(&get::<String>(row, "spec")?, "job spec")?,
            state: JobState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("job state {state:?}")))?,
            priority: get::<i64>(row, "priority")? as i32,
            attempt: get::<i64>(row, "attempt")? as u32,
            reason: get(row, "reason")?,
            created_ms: get(row, "created_ms")?,
            updated_ms: get(row, "updated_ms")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: i64,
    pub job_id: JobId,
    pub attempt: u32,
    pub replica: u32,
    pub node_id: NodeId,
    pub node_name: String,
    /// `[{"index":0,"milli":1000}]`
    pub gpus: Vec<strata_sched::GpuAssignment>,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
}

pub(crate) const TASK_COLUMNS: &str = "k.id, k.job_id, k.attempt, k.replica, k.node_id, n.name AS node_name, k.gpus, k.cpu_milli, k.memory_mib, k.state, k.exit_code, k.message";

impl TaskRow {
    pub(crate) fn decode(row: &AnyRow) -> Result<Self> {
        let state: String = get(row, "state")?;
        Ok(TaskRow {
            id: get(row, "id")?,
            job_id: JobId(get(row, "job_id")?),
            attempt: get::<i64>(row, "attempt")? as u32,
            replica: get::<i64>(row, "replica")? as u32,
            node_id: NodeId(get(row, "node_id")?),
            node_name: get(row, "node_name")?,
            gpus: match get::<String>(row, "gpus")?.as_str() {
                "[]" => Vec::new(),
                text => from_json(text, "task gpus")?,
            },
            cpu_milli: get::<i64>(row, "cpu_milli")? as u64,
            memory_mib: get::<i64>(row, "memory_mib")? as u64,
            state: TaskState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("task state {state:?}")))?,
            exit_code: get::<Option<i64>>(row, "exit_code")?.map(|c| c as i32),
            message: get(row, "message")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub at_ms: i64,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogChunk {
    /// Increases with every chunk stored; a follower asks for chunks after the last id it saw.
    pub id: i64,
    pub task_id: i64,
    pub replica: u32,
    pub stream: String,
    pub data: Vec<u8>,
}
