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
    /// Guaranteed milli-GPUs per chip model (`{"H100-80GB": 16000}`). Beyond these the tenant
    /// borrows idle chips (up to `gpu_milli`), which a tenant within its own guarantee takes
    /// back by preemption when it needs them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub nominal_gpu_milli: std::collections::BTreeMap<String, u64>,
}
