//! A tenant's quota: upper bounds on what its running work may hold at once.

use serde::{Deserialize, Serialize};

/// Absent bounds are unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    #[serde(default)]
    pub gpu_milli: Option<u64>,
    #[serde(default)]
    pub cpu_milli: Option<u64>,
    #[serde(default)]
    pub memory_mib: Option<u64>,
}
