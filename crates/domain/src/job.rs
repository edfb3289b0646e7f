//! Jobs: what a tenant asks to run, and the states a job and its replicas pass through.

use crate::quantity::{CpuMillis, GpuMillis, MemoryMib};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How much accelerator one replica needs, already checked for shape.
///
/// On the wire it is a single integer of milli-GPUs: below 1000 is a share of one device,
/// a multiple of 1000 is that many whole devices. Anything else (1500) has no meaning and is
/// refused when parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum GpuRequest {
    None,
    /// A share of one device, 1..=999 milli.
    Fraction(GpuMillis),
    /// This many whole devices on the same node.
    Whole(u32),
}

impl GpuRequest {
    /// The largest number of devices a single replica may ask for; no node has more.
    pub const MAX_DEVICES: u32 = 64;

    pub fn total_milli(self) -> GpuMillis {
        match self {
            GpuRequest::None => GpuMillis(0),
            GpuRequest::Fraction(m) => m,
            GpuRequest::Whole(n) => GpuMillis(n * 1000),
        }
    }

    /// How many distinct devices the replica touches.
    pub fn devices(self) -> u32 {
        match self {
            GpuRequest::None => 0,
            GpuRequest::Fraction(_) => 1,
            GpuRequest::Whole(n) => n,
        }
    }
}

impl TryFrom<u32> for GpuRequest {
    type Error = String;
    fn try_from(milli: u32) -> Result<Self, Self::Error> {
        match milli {
            0 => Ok(GpuRequest::None),
            1..=999 => Ok(GpuRequest::Fraction(GpuMillis(milli))),
            m if m % 1000 == 0 && m / 1000 <= Self::MAX_DEVICES => Ok(GpuRequest::Whole(m / 1000)),
            m if m % 1000 == 0 => Err(format!(
                "{m} milli-GPUs is {} devices for one replica; at most {} fit on a node — use more replicas",
                m / 1000,
                Self::MAX_DEVICES
            )),
            m => Err(format!(
                "{m} milli-GPUs is neither a share of one device (1..999) nor whole devices (a multiple of 1000)"
            )),
        }
    }
}

impl From<GpuRequest> for u32 {
    fn from(r: GpuRequest) -> u32 {
        r.total_milli().0
    }
}

/// What each replica of a job needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicaResources {
    pub cpu_milli: CpuMillis,
    pub memory_mib: MemoryMib,
    /// Milli-GPUs: 1..999 is a share of one device, N×1000 is N whole devices.
    #[schema(value_type = u32)]
    pub gpu_milli: GpuRequest,
    /// Chip models the replica may run on; empty means any.
    pub gpu_models: Vec<String>,
    /// Chip models to try first, in order, when several would do.
    pub preferred_gpu_models: Vec<String>,
    /// Labels a node must carry (`engine.vllm=yes`, `rack=r12`); empty means any node.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
    /// At most this many of the job's replicas on one node (a spread, so that losing a node
    /// loses few); `None`: as many as fit, and a gang prefers one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u32>,
    /// Replicas of every job naming this group count together against `max_replicas_per_node`
    /// on each node: how a deployment, whose replicas are separate jobs, spreads them. The
    /// control plane names a deployment's (`deployment chat #7`) and scopes a job's by tenant
    /// (`team-a/ps`); `None`: only the job's own replicas count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_group: Option<String>,
}

impl ReplicaResources {
    pub fn allows_model(&self, model: &str) -> bool {
        self.gpu_models.is_empty() || self.gpu_models.iter().any(|m| m == model)
    }

    /// Whether a node with `labels` may run the replica.
    pub fn allows_node(&self, labels: &BTreeMap<String, String>) -> bool {
        self.node_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// A validated job: the only form of a job that code past the API boundary ever sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobSpec {
    pub name: String,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    /// Replicas form a gang: all run at once or none does.
    pub replicas: u32,
    pub resources: ReplicaResources,
    /// Higher runs first.
    pub priority: i32,
    /// How many times a failed or lost job is started again before it is marked failed.
    pub max_retries: u32,
    /// Exported as `STRATA_CHECKPOINT_DIR`; a requeued gang resumes from it.
    pub checkpoint_dir: Option<String>,
    /// Whether the scheduler may stop it (and requeue it) to make room for a higher-priority job
    /// of its tenant or to give borrowed quota back.
    #[serde(default = "preemptible_default")]
    pub preemptible: bool,
    /// How long it is expected to run, in seconds: lets it backfill ahead of a large job that
    /// waits, and lets the large job's start time be predicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_estimate_s: Option<u64>,
}

fn preemptible_default() -> bool {
    true
}

/// The life of a job. `requeued` is not a state but an event: the job goes back to `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] =
        [JobState::Pending, JobState::Running, JobState::Succeeded, JobState::Failed, JobState::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The life of one replica of one attempt of a job, on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Placed by the scheduler; the agent has not confirmed the start yet.
    Assigned,
    Running,
    Succeeded,
    Failed,
    /// Stopped on request (job cancelled, or a sibling in the gang failed).
    Cancelled,
    /// Its node stopped answering, or the agent restarted without it.
    Lost,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        TaskState::Assigned,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Cancelled,
        TaskState::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Assigned => "assigned",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
            TaskState::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the task still holds its resources.
    pub fn is_active(self) -> bool {
        matches!(self, TaskState::Assigned | TaskState::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_request_parses_shares_and_whole_devices() {
        assert_eq!(GpuRequest::try_from(0), Ok(GpuRequest::None));
        assert_eq!(GpuRequest::try_from(250), Ok(GpuRequest::Fraction(GpuMillis(250))));
        assert_eq!(GpuRequest::try_from(8000), Ok(GpuRequest::Whole(8)));
        let err = GpuRequest::try_from(1500).unwrap_err();
        assert!(err.contains("neither a share"), "{err}");
        let err = GpuRequest::try_from(128_000).unwrap_err();
        assert!(err.contains("use more replicas"), "{err}");
    }

    #[test]
    fn gpu_request_round_trips_as_milli_integer() {
        let json = serde_json::to_string(&GpuRequest::Whole(2)).unwrap();
        assert_eq!(json, "2000");
        let back: GpuRequest = serde_json::from_str("500").unwrap();
        assert_eq!(back, GpuRequest::Fraction(GpuMillis(500)));
        assert!(serde_json::from_str::<GpuRequest>("1200").is_err());
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
        }
    }
}
