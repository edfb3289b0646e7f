//! `GET /api/v1/models`: the registry of this server's model cache, with memory estimates and
//! how each model fits on the fleet's chips. Read-only; `strata model pull` fills the registry.

use super::deployments::{estimate_mib, max_context, DEFAULT_CONTEXT};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use std::collections::BTreeMap;
use strata_api::models::{ChipFit, ModelList, RegisteredModel};
use strata_models::registry::{ModelEntry, Registry};

fn view(entry: &ModelEntry, chips: &BTreeMap<String, u64>) -> RegisteredModel {
    let info = &entry.info;
    let memory_mib = estimate_mib(entry.file_bytes, info.kv_bytes_per_token, u64::from(DEFAULT_CONTEXT));
    let fits = chips
        .iter()
        .map(|(chip, &chip_memory_mib)| ChipFit {
            chip: chip.clone(),
            chip_memory_mib,
            replicas_per_device: chip_memory_mib.checked_div(memory_mib).unwrap_or(0),
            max_context: max_context(entry.file_bytes, info.kv_bytes_per_token, chip_memory_mib)
                .min(info.context_length),
        })
        .collect();
    RegisteredModel {
        name: entry.name.clone(),
        display_name: info.display_name.clone(),
        architecture: info.architecture.clone(),
        quantization: info.quantization.clone(),
        parameters: info.parameters,
        file_bytes: entry.file_bytes,
        context_length: info.context_length,
        kv_bytes_per_token: info.kv_bytes_per_token,
        has_chat_template: info.has_chat_template,
        source: entry.source.clone(),
        memory_mib,
        default_context: DEFAULT_CONTEXT,
        fits,
    }
}

#[utoipa::path(get, path = "/api/v1/models", tag = "models",
    responses((status = 200, body = ModelList, description = "Models in this server's cache, with memory estimates per chip model of the fleet")),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<ModelList>> {
    caller.require_user()?;
    let dir = state.models_dir.clone();
    let registry = tokio::task::spawn_blocking(move || Registry::load(&dir))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(e.into()))?;
    // The smallest device of each chip model decides whether a replica fits on that model.
    let mut chips: BTreeMap<String, u64> = BTreeMap::new();
    for node in state.fleet.inventories(&state.store).await?.iter() {
        for a in &node.accelerators {
            let m = chips.entry(a.model.clone()).or_insert(a.memory_mib);
            *m = (*m).min(a.memory_mib);
        }
    }
    Ok(Json(ModelList { models: registry.models.iter().map(|e| view(e, &chips)).collect() }))
}
