//! Jobs on the wire: the submit request, its validation, and the views the API returns.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use strata_domain::{
    CpuMillis, ErrorCode, GpuRequest, JobId, JobSpec, JobState, MemoryMib, NodeId, ReplicaResources, TaskState,
    TenantId,
};

/// Limits that no sane request exceeds; past them the request is a typo, not a workload.
pub const MAX_REPLICAS: i64 = 4096;
pub const MAX_CPU_MILLI: i64 = 1_024_000;
pub const MAX_MEMORY_MIB: i64 = 16 * 1024 * 1024;
pub const MAX_RETRIES: i64 = 100;
pub const MAX_NAME_LEN: usize = 128;
/// Jobs in one `POST /api/v1/jobs/batch`: one transaction's worth, answered in one response.
pub const MAX_BATCH_JOBS: usize = 1000;

/// `POST /api/v1/jobs`. Integers are signed on purpose: a negative value gets a message that
/// names the field and the allowed range instead of a type error.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// A name for people; defaults to the program's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The program and its arguments, run without a shell.
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub workdir: Option<String>,
    /// Replicas in the gang (default 1).
    #[serde(default)]
    pub replicas: Option<i64>,
    /// Milli-cores per replica (default 1000).
    #[serde(default)]
    pub cpu_milli: Option<i64>,
    /// Memory per replica in MiB (default 512).
    #[serde(default)]
    pub memory_mib: Option<i64>,
    /// Milli-GPUs per replica: 1..999 is a share of one device, N×1000 is N whole devices.
    #[serde(default)]
    pub gpu_milli: Option<i64>,
    /// Allowed chip models; empty means any.
    #[serde(default)]
    pub gpu_models: Vec<String>,
    /// Chip models to prefer, in order.
    #[serde(default)]
    pub preferred_gpu_models: Vec<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub max_retries: Option<i64>,
    #[serde(default)]
    pub checkpoint_dir: Option<String>,
    /// Admin only: the tenant to submit for (a tenant key always submits for its own tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Makes a retried submission safe: the same key within a tenant returns the first job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Labels a node must carry to run a replica, e.g. `{"rack": "r12"}`.
    #[serde(default)]
    pub node_labels: BTreeMap<String, String>,
    /// May the scheduler stop and requeue it to make room (default true)?
    #[serde(default)]
    pub preemptible: Option<bool>,
    /// Expected run time in seconds; lets the job backfill ahead of a large waiting job.
    #[serde(default)]
    pub runtime_estimate_s: Option<i64>,
    /// At most this many replicas on one node, to spread a gang (default: as many as fit,
    /// one node preferred).
    #[serde(default)]
    pub max_replicas_per_node: Option<i64>,
    /// Jobs of the tenant naming the same group share `max_replicas_per_node` on each node:
    /// anti-affinity between separate jobs (parameter servers, replicas of a service). Needs
    /// `max_replicas_per_node`; stored as `tenant/group`.
    #[serde(default)]
    pub spread_group: Option<String>,
}

/// The longest spread group name a job may give.
pub const MAX_SPREAD_GROUP_LEN: usize = 64;

fn ranged(field: &str, value: Option<i64>, default: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            field,
            format!("{field} must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

impl SubmitJob {
    /// Checks every field and builds the domain job, or says which field is wrong and why.
    /// Checks that need the fleet (does any node have this chip?) are the server's. A spread
    /// group is still the tenant's own name here: [`scope_spread_group`] makes it the fleet's.
    pub fn into_spec(self) -> Result<JobSpec, ApiError> {
        let invalid = |field: &str, msg: String| ApiError::field(ErrorCode::InvalidField, field, msg);
        let program = match self.command.first() {
            Some(p) if !p.trim().is_empty() => p.clone(),
            _ => {
                return Err(invalid(
                    "command",
                    "command must name a program to run, e.g. [\"python\", \"train.py\"]".into(),
                ))
            }
        };
        let name = self.name.unwrap_or_else(|| program.rsplit('/').next().unwrap_or(&program).to_string());
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(invalid("name", format!("name must be 1 to {MAX_NAME_LEN} printable characters")));
        }
        for key in self.env.keys() {
            let valid = !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(invalid(
                    "env",
                    format!(
                        "environment variable name {key:?} must be letters, digits and _, not starting with a digit"
                    ),
                ));
            }
        }
        if let Some(k) = self.node_labels.keys().find(|k| k.is_empty() || k.len() > 128) {
            return Err(invalid("node_labels", format!("node label name {k:?} must be 1 to 128 characters")));
        }
        let replicas = ranged("replicas", self.replicas, 1, 1, MAX_REPLICAS)?;
        let cpu = ranged("cpu_milli", self.cpu_milli, 1000, 1, MAX_CPU_MILLI)?;
        let memory = ranged("memory_mib", self.memory_mib, 512, 1, MAX_MEMORY_MIB)?;
        let gpu_raw = ranged("gpu_milli", self.gpu_milli, 0, 0, i64::from(GpuRequest::MAX_DEVICES) * 1000)?;
        let gpu = GpuRequest::try_from(gpu_raw as u32).map_err(|m| invalid("gpu_milli", m))?;
        let priority = ranged("priority", self.priority, 0, -1000, 1000)?;
        let max_retries = ranged("max_retries", self.max_retries, 0, 0, MAX_RETRIES)?;
        let runtime_estimate_s = match self.runtime_estimate_s {
            None => None,
            // Up to a year: anything longer is not an estimate.
            v => Some(ranged("runtime_estimate_s", v, 0, 1, 366 * 24 * 3600)? as u64),
        };
        let max_replicas_per_node = match self.max_replicas_per_node {
            None => None,
            v => Some(ranged("max_replicas_per_node", v, 1, 1, MAX_REPLICAS)? as u32),
        };
        if let Some(g) = &self.spread_group {
            let valid = !g.is_empty()
                && g.len() <= MAX_SPREAD_GROUP_LEN
                && g.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
            if !valid {
                return Err(invalid(
                    "spread_group",
                    format!("spread_group {g:?} must be 1 to {MAX_SPREAD_GROUP_LEN} letters, digits or -_.:"),
                ));
            }
            if max_replicas_per_node.is_none() {
                return Err(invalid(
                    "spread_group",
                    "spread_group needs max_replicas_per_node: the most replicas of the group one node may hold".into(),
                ));
            }
        }
        for (field, models) in [("gpu_models", &self.gpu_models), ("preferred_gpu_models", &self.preferred_gpu_models)]
        {
            if models.iter().any(|m| m.trim().is_empty()) {
                return Err(invalid(field, format!("{field} must not contain empty names")));
            }
            if gpu == GpuRequest::None && !models.is_empty() {
                return Err(invalid(
                    field,
                    format!("{field} only makes sense with gpu_milli > 0; add gpu_milli or drop {field}"),
                ));
            }
        }
        Ok(JobSpec {
            name,
            command: self.command,
            env: self.env,
            workdir: self.workdir,
            replicas: replicas as u32,
            resources: ReplicaResources {
                cpu_milli: CpuMillis(cpu as u64),
                memory_mib: MemoryMib(memory as u64),
                gpu_milli: gpu,
                gpu_models: self.gpu_models,
                preferred_gpu_models: self.preferred_gpu_models,
                node_labels: self.node_labels,
                max_replicas_per_node,
                spread_group: self.spread_group,
            },
            priority: priority as i32,
            max_retries: max_retries as u32,
            checkpoint_dir: self.checkpoint_dir,
            preemptible: self.preemptible.unwrap_or(true),
            runtime_estimate_s,
        })
    }
}

/// Names a job's spread group within its tenant (`team-a/ps`), so that tenants choosing the same
/// name do not limit each other.
pub fn scope_spread_group(spec: &mut JobSpec, tenant: &str) {
    if let Some(g) = spec.resources.spread_group.take() {
        spec.resources.spread_group = Some(format!("{tenant}/{g}"));
    }
}

/// One replica of one attempt, as placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    pub id: i64,
    pub attempt: u32,
    /// The replica's rank in the gang.
    pub replica: u32,
    pub node: NodeId,
    pub node_name: String,
    /// Device indices on the node, with the milli-GPUs taken on each.
    pub gpus: Vec<TaskGpu>,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskGpu {
    pub index: u32,
    pub milli: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub id: JobId,
    pub tenant: TenantId,
    pub tenant_name: String,
    pub name: String,
    pub state: JobState,
    /// For a pending job, why it waits, in words.
    pub reason: Option<String>,
    /// Attempts started so far (0 while it has never run).
    pub attempt: u32,
    pub spec: JobSpec,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Tasks of the latest attempt.
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobEvent {
    pub at_ms: i64,
    /// `submitted`, `placed`, `started`, `requeued`, `preempted`, `succeeded`, `failed`, `cancelled`.
    pub kind: String,
    pub message: String,
}

/// `POST /api/v1/jobs/batch`: up to [`MAX_BATCH_JOBS`] jobs submitted at once (a sweep, a job
/// array, the shards of a data run), stored in one transaction: all of them or, if any is
/// refused, none.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJobs {
    pub jobs: Vec<SubmitJob>,
}

impl SubmitJobs {
    /// Checks the batch's size; each job is checked by [`SubmitJob::into_spec`], its errors
    /// naming the job (`jobs[3].cpu_milli`) with [`ApiError::in_batch`].
    pub fn check_size(&self) -> Result<(), ApiError> {
        if self.jobs.is_empty() || self.jobs.len() > MAX_BATCH_JOBS {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "jobs",
                format!(
                    "a batch holds 1 to {MAX_BATCH_JOBS} jobs, got {}; split larger ones into several requests",
                    self.jobs.len()
                ),
            ));
        }
        Ok(())
    }
}

/// The answer to `POST /api/v1/jobs/batch`: the jobs in the order they were submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmittedJobs {
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobList {
    pub jobs: Vec<Job>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<JobId>,
}

/// Query of `GET /api/v1/jobs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// Only jobs in this state.
    pub state: Option<String>,
    /// Admin only: only this tenant's jobs.
    pub tenant: Option<String>,
    /// Only jobs whose name contains this text.
    pub name: Option<String>,
    /// Jobs with an id below this one (newest first paging).
    pub after: Option<i64>,
    /// Page size, 1..1000 (default 100).
    pub limit: Option<i64>,
}

/// Query of `GET /api/v1/jobs/{id}/logs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Keep the response open and stream new output until the job ends.
    pub follow: Option<bool>,
    /// Only this replica (default: all, each line prefixed by its rank when there are several).
    pub replica: Option<u32>,
    /// `stdout`, `stderr` or `all` (default).
    pub stream: Option<String>,
    /// Attempt number (default: the latest).
    pub attempt: Option<u32>,
}
