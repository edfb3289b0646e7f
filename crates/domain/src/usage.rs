//! One gateway request, as metered: who sent it, what it used, what it cost.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageRecord {
    /// Unique per request; replaying a journal twice stores each record once.
    pub request_id: String,
    pub at_ms: i64,
    pub tenant_id: i64,
    pub project_id: Option<i64>,
    pub key_id: Option<i64>,
    pub model: String,
    pub deployment_id: Option<i64>,
    /// The replica that served it (`node:port`), if one did.
    pub replica: Option<String>,
    /// `chat`, `completions` or `embeddings`.
    pub endpoint: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Pico-dollars (1e-12 USD): exact, no rounding.
    pub cost_pico: i64,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    /// The HTTP status the client got; 499 when it went away first.
    pub status: u16,
    pub streamed: bool,
}
