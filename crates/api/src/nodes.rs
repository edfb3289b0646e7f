//! Nodes on the wire.

use serde::{Deserialize, Serialize};
pub use strata_domain::AcceleratorUsage;
use strata_domain::{Inventory, NodeId};

/// Whether a node answers its heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Ready,
    NotReady,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Ready => "ready",
            NodeState::NotReady => "not_ready",
        }
    }

    pub fn parse(s: &str) -> Option<NodeState> {
        [NodeState::Ready, NodeState::NotReady].into_iter().find(|n| n.as_str() == s)
    }
}

/// What the scheduler has handed out on a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Allocation {
    pub cpu_milli: u64,
    pub memory_mib: u64,
    /// Milli-GPUs taken per device index.
    pub gpu_milli: Vec<DeviceAllocation>,
    pub tasks: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceAllocation {
    pub index: u32,
    pub milli: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    /// Where other replicas of a gang reach this node (`MASTER_ADDR` when it holds rank 0).
    pub address: String,
    pub state: NodeState,
    /// Takes no new work.
    pub cordoned: bool,
    /// Cordoned and its work moved elsewhere.
    pub draining: bool,
    pub inventory: Inventory,
    pub usage: Vec<AcceleratorUsage>,
    pub allocated: Allocation,
    pub last_heartbeat_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeList {
    pub nodes: Vec<Node>,
}
