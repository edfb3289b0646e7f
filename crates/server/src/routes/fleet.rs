//! `GET /api/v1/fleet/history`: the samples `history.rs` keeps, as the caller may see them.

use crate::auth::Caller;
use crate::error::{ApiQuery, AppError, AppResult};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use strata_api::fleet::{FleetHistory, FleetHistoryQuery};

#[utoipa::path(get, path = "/api/v1/fleet/history", tag = "nodes", params(FleetHistoryQuery),
    responses((status = 200, body = FleetHistory, description = "GPUs allocated per chip model and the queue over the last hours, sampled by this server")),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FleetHistoryQuery>,
) -> AppResult<Json<FleetHistory>> {
    caller.require_user()?;
    let scope = caller.tenant_scope();
    let history = state.history.lock().map_err(|_| AppError::Internal(anyhow::anyhow!("fleet history poisoned")))?;
    Ok(Json(FleetHistory {
        interval_ms: history.interval.as_millis() as u64,
        samples: history.since(q.since_ms).map(|s| s.view(scope)).collect(),
    }))
}
