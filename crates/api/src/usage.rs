//! Usage and cost on the wire: `GET /api/v1/usage`.

use serde::{Deserialize, Serialize};

/// Query parameters of `GET /api/v1/usage`. A tenant key sees only its own tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Tenant name (admin only; a tenant key is always its own tenant).
    pub tenant: Option<String>,
    /// Key id.
    pub key: Option<i64>,
    pub model: Option<String>,
    /// Start of the range, milliseconds since the epoch (inclusive).
    pub since_ms: Option<i64>,
    /// End of the range (exclusive).
    pub until_ms: Option<i64>,
    /// `model`, `key`, `tenant`, `hour` or `day`; absent gives the total only.
    pub group_by: Option<String>,
}

/// Totals for one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageRow {
    /// The group: a model or tenant name, a key id, or a bucket's start in ms; empty for the total.
    pub group: String,
    pub requests: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Exact cost in pico-dollars (1e-12 USD).
    pub cost_pico_usd: i64,
    /// The same in dollars, for people.
    pub cost_usd: f64,
    pub mean_latency_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageReport {
    pub total: UsageRow,
    /// One row per group when `group_by` is given.
    pub rows: Vec<UsageRow>,
}
