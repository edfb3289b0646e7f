//! The model registry of a server's model cache: `GET /api/v1/models`.

use serde::{Deserialize, Serialize};

/// How one registered model fits on one chip model of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChipFit {
    pub chip: String,
    pub chip_memory_mib: u64,
    /// Replicas at `default_context` that fit in one device's memory (0: it does not fit).
    pub replicas_per_device: u64,
    /// The longest context one replica can hold on one device (at most the model's own).
    pub max_context: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisteredModel {
    pub name: String,
    pub display_name: Option<String>,
    pub architecture: String,
    pub quantization: String,
    pub parameters: u64,
    pub file_bytes: u64,
    /// The context length the model was trained for.
    pub context_length: u64,
    /// KV-cache bytes per context token (f16 cache).
    pub kv_bytes_per_token: u64,
    pub has_chat_template: bool,
    /// Where it was pulled from.
    pub source: String,
    /// Memory one replica asks for at `default_context` tokens: weights, KV cache and overhead.
    pub memory_mib: u64,
    /// The context a deployment gets unless it says otherwise.
    pub default_context: u32,
    /// One entry per chip model in the fleet.
    pub fits: Vec<ChipFit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelList {
    pub models: Vec<RegisteredModel>,
}
