//! What Strata records about a model, derived from its GGUF header.
//!
//! The memory estimate per context token is what admission control and the scheduler need: an
//! f16 KV cache stores, for every layer, a key and a value vector per KV head. Grouped-query
//! attention (fewer KV heads than query heads) is why `head_count_kv` matters.

use crate::gguf::{GgufHeader, Value};
use serde::{Deserialize, Serialize};

/// Bytes per element of the KV cache (llama.cpp's default f16).
const KV_ELEMENT_BYTES: u64 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub architecture: String,
    /// `general.name`, when the file has one.
    pub display_name: Option<String>,
    /// The file type, as llama.cpp names it (`Q4_1`, `Q4_K_M`, …).
    pub quantization: String,
    pub parameters: u64,
    pub context_length: u64,
    pub layers: u64,
    pub kv_heads: u64,
    pub kv_bytes_per_token: u64,
    pub has_chat_template: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    #[error("the model file lacks the metadata key {0:?}")]
    Missing(String),
    #[error("the metadata key {0:?} has the wrong type")]
    WrongType(String),
}

impl ModelInfo {
    pub fn from_header(header: &GgufHeader) -> Result<Self, InfoError> {
        let arch = string(header, "general.architecture")?.to_string();
        let int = |suffix: &str| number(header, &format!("{arch}.{suffix}"));
        let layers = int("block_count")?;
        let heads = int("attention.head_count")?;
        let kv_heads = int("attention.head_count_kv").unwrap_or(heads);
        let embedding = int("embedding_length")?;
        let head_dim = embedding.checked_div(heads).unwrap_or(0);
        let key_len = int("attention.key_length").unwrap_or(head_dim);
        let value_len = int("attention.value_length").unwrap_or(head_dim);
        let quantization = match header.get("general.file_type").and_then(Value::as_u64) {
            Some(t) => file_type_name(t).map_or_else(|| format!("type {t}"), str::to_string),
            None => "unknown".to_string(),
        };
        Ok(Self {
            display_name: header.get("general.name").and_then(Value::as_str).map(str::to_string),
            quantization,
            parameters: header.tensors.iter().map(|t| t.elements()).sum(),
            context_length: int("context_length")?,
            layers,
            kv_heads,
            kv_bytes_per_token: layers * kv_heads * (key_len + value_len) * KV_ELEMENT_BYTES,
            has_chat_template: header.get("tokenizer.chat_template").and_then(Value::as_str).is_some(),
            architecture: arch,
        })
    }
}

fn string<'a>(header: &'a GgufHeader, key: &str) -> Result<&'a str, InfoError> {
    let value = header.get(key).ok_or_else(|| InfoError::Missing(key.to_string()))?;
    value.as_str().ok_or_else(|| InfoError::WrongType(key.to_string()))
}

fn number(header: &GgufHeader, key: &str) -> Result<u64, InfoError> {
    let value = header.get(key).ok_or_else(|| InfoError::Missing(key.to_string()))?;
    value.as_u64().ok_or_else(|| InfoError::WrongType(key.to_string()))
}

/// llama.cpp's `llama_ftype` names.
fn file_type_name(t: u64) -> Option<&'static str> {
    Some(match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return None,
    })
}
