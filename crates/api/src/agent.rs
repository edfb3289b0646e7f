//! The agent protocol: register, heartbeat, log upload. Agents pull work; the server never dials
//! an agent, so nodes behind NAT or firewalls join with one outbound connection.

use crate::nodes::AcceleratorUsage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use strata_domain::{Inventory, NodeId, TaskState};

/// `POST /api/v1/agent/register`: sent at start; the answer is the node's id.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// Unique node name; an agent that restarts with the same name is the same node.
    pub name: String,
    pub address: String,
    pub inventory: Inventory,
    /// Tasks the agent still runs from before its restart; any other task the server thought
    /// was on this node is lost.
    pub running_tasks: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registered {
    pub node_id: NodeId,
    pub heartbeat_interval_ms: u64,
}

/// A task's state as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskReport {
    pub task_id: i64,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
    /// The port the agent chose for the task (exported to it as `STRATA_PORT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// `POST /api/v1/agent/heartbeat`
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub node_id: NodeId,
    pub usage: Vec<AcceleratorUsage>,
    /// Every task the agent knows of that is running or finished since the last heartbeat.
    pub tasks: Vec<TaskReport>,
}

/// Work for one replica, complete: the agent adds nothing but the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assignment {
    pub task_id: i64,
    pub job_id: i64,
    pub attempt: u32,
    pub command: Vec<String>,
    /// The full environment to add, including `RANK`, `WORLD_SIZE`, `MASTER_ADDR`, the
    /// visible-devices variable and `STRATA_CHECKPOINT_DIR`.
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeartbeatReply {
    /// Tasks to start.
    pub start: Vec<Assignment>,
    /// Tasks to stop (cancelled, requeued, or not this node's any more).
    pub stop: Vec<i64>,
    /// Tasks whose final state the server has recorded; the agent may forget them.
    pub acknowledged: Vec<i64>,
}

/// `POST /api/v1/agent/tasks/{id}/logs?stream=stdout&offset=N`, body = raw bytes.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogUpload {
    pub stream: String,
    /// Byte offset of the body in the task's stream; a chunk already stored is ignored.
    pub offset: u64,
}
