//! Deployments on the wire: a model served through the gateway by replicas that the scheduler
//! places and the autoscaler sizes.

use serde::{Deserialize, Serialize};

/// Engines an agent can start for a replica. All speak OpenAI's API, so the gateway treats
/// them alike.
pub const BACKENDS: &[&str] = &["builtin", "vllm", "sglang", "llama.cpp"];

/// The backend of a deployment whose replicas are `endpoints` run elsewhere.
pub const EXTERNAL: &str = "external";

/// `POST /api/v1/deployments`
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeployment {
    /// A pulled model's name (`smollm2`) or a GGUF path on the nodes.
    pub model: String,
    /// The name clients send as `model`; defaults to `model`.
    #[serde(default)]
    pub name: Option<String>,
    /// `builtin` (default), `vllm`, `sglang` or `llama.cpp`.
    #[serde(default)]
    pub backend: Option<String>,
    /// Replicas to start with (default: `min_replicas`, at least 1).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Fewest replicas the autoscaler keeps; 0 lets it scale to zero when idle (default 1).
    #[serde(default)]
    pub min_replicas: Option<u32>,
    /// Most replicas the autoscaler starts (default: `replicas`, at least `min_replicas`).
    #[serde(default)]
    pub max_replicas: Option<u32>,
    /// Milli-cores per replica (default 1000 × threads).
    #[serde(default)]
    pub cpu_milli: Option<u64>,
    /// Memory per replica in MiB (default: the registry's estimate for the model and context).
    #[serde(default)]
    pub memory_mib: Option<u64>,
    /// Milli-GPUs per replica (default 0: CPU).
    #[serde(default)]
    pub gpu_milli: Option<u32>,
    #[serde(default)]
    pub gpu_models: Vec<String>,
    /// Model threads per replica (default 1).
    #[serde(default)]
    pub threads: Option<u32>,
    /// KV-cache tokens per replica (default 4096).
    #[serde(default)]
    pub context: Option<u32>,
    /// Concurrent sequences per replica (default 8).
    #[serde(default)]
    pub slots: Option<u32>,
    /// Requests in flight per replica above which the autoscaler adds one (default 8).
    #[serde(default)]
    pub target_in_flight: Option<u32>,
    /// Seconds without requests before a `min_replicas = 0` deployment scales to zero (default 300).
    #[serde(default)]
    pub idle_to_zero_s: Option<u64>,
    /// Dollars per million prompt tokens (default 0).
    #[serde(default)]
    pub price_input_per_mtok: Option<f64>,
    /// Dollars per million completion tokens (default 0).
    #[serde(default)]
    pub price_output_per_mtok: Option<f64>,
    /// Deployments to try, in order, when this one has no replica that can take a request.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// OpenAI-compatible servers run elsewhere (`http://host:port`, without `/v1`): the gateway
    /// routes to them as replicas and the scheduler starts nothing. Scaling does not apply.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// At most this many of its replicas on one node, so that losing a node loses few of them
    /// (default: as many as fit).
    #[serde(default)]
    pub max_replicas_per_node: Option<u32>,
    /// Admin only: the owning tenant (default `default`).
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The stored, validated deployment document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeploymentSpec {
    pub model: String,
    pub backend: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub gpu_milli: u32,
    pub gpu_models: Vec<String>,
    pub threads: u32,
    pub context: u32,
    pub slots: u32,
    pub target_in_flight: u32,
    pub idle_to_zero_s: u64,
    /// Micro-dollars per million prompt tokens.
    pub price_input_micro_per_mtok: i64,
    /// Micro-dollars per million completion tokens.
    pub price_output_micro_per_mtok: i64,
    pub fallbacks: Vec<String>,
    /// External endpoints instead of replicas the scheduler runs (`backend` is `external`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    /// At most this many replicas on one node; `None`: as many as fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u32>,
}

/// `POST /api/v1/deployments/{name}/scale`
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleDeployment {
    /// Replicas now (clamped by the autoscaler to min..max from then on).
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub min_replicas: Option<u32>,
    #[serde(default)]
    pub max_replicas: Option<u32>,
}

/// One replica as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplicaView {
    pub job_id: i64,
    pub task_id: i64,
    pub node: String,
    /// `host:port` the replica listens on, once known.
    pub endpoint: Option<String>,
    pub ready: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deployment {
    pub id: i64,
    pub name: String,
    pub tenant: String,
    pub spec: DeploymentSpec,
    /// Replicas asked for now.
    pub replicas: u32,
    /// Replicas running and passing health checks.
    pub ready_replicas: u32,
    /// Jobs backing the replicas that wait for a place, with the scheduler's reason.
    pub pending: Vec<String>,
    pub replica_list: Vec<ReplicaView>,
    pub in_flight: u32,
    pub last_request_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeploymentList {
    pub deployments: Vec<Deployment>,
}
