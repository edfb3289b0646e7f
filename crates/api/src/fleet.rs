//! The fleet over time: `GET /api/v1/fleet/history`, what the console's charts draw.

use serde::{Deserialize, Serialize};

/// Accelerators of one chip model at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChipSample {
    pub model: String,
    /// Devices of this model in the fleet (ready or not).
    pub total: u32,
    /// Milli-GPUs held by active tasks on devices of this model.
    pub allocated_milli: u64,
}

/// One sample of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FleetSample {
    pub at_ms: i64,
    /// Pending jobs (a tenant key counts only its own tenant's).
    pub pending: u32,
    /// Running jobs (a tenant key counts only its own tenant's).
    pub running: u32,
    pub gpus: Vec<ChipSample>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FleetHistory {
    /// How often this server samples, in milliseconds.
    pub interval_ms: u64,
    /// Oldest first. Kept in memory by each server: a restarted server starts a new history.
    pub samples: Vec<FleetSample>,
}

/// Query of `GET /api/v1/fleet/history`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FleetHistoryQuery {
    /// Only samples taken after this time (milliseconds since the epoch), for incremental polling.
    pub since_ms: Option<i64>,
}
