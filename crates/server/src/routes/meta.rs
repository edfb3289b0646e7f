//! `/healthz`, `/metrics`, `/api/v1/openapi.json` and the API's 404.

use crate::error::{AppError, AppResult};
use crate::metrics::{ModelLabel, StateLabel};
use crate::state::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use strata_domain::ErrorCode;
use utoipa::OpenApi;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// Whether this server runs the scheduling loop (one server does at a time).
    pub scheduler_leader: bool,
    pub database: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> AppResult<Json<Health>> {
    state.store.setting("admin_token_sha256").await?;
    Ok(Json(Health {
        status: "ok",
        scheduler_leader: state.leader.load(Ordering::Relaxed),
        database: match state.store.backend() {
            strata_store::Backend::Sqlite => "sqlite",
            strata_store::Backend::Postgres => "postgres",
        },
    }))
}

pub async fn openapi() -> impl IntoResponse {
    Json(super::ApiDoc::openapi())
}

pub async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such endpoint; the API is described at /api/v1/openapi.json")
}

/// Prometheus exposition. Fleet and queue gauges are read from the store at scrape time, so
/// every server of a cluster reports the same numbers whether or not it is the leader.
pub async fn metrics(State(state): State<AppState>) -> AppResult<impl IntoResponse> {
    let m = &state.metrics;
    for (s, n) in state.store.job_counts().await? {
        m.jobs.get_or_create(&StateLabel { state: s }).set(n);
    }
    let nodes = state.store.nodes().await?;
    let held = state.store.held_by_node().await?;
    let mut by_state: BTreeMap<String, i64> = BTreeMap::new();
    for n in &nodes {
        let label = if n.cordoned { "cordoned".to_string() } else { n.state.clone() };
        *by_state.entry(label).or_default() += 1;
    }
    for (s, n) in by_state {
        m.nodes.get_or_create(&StateLabel { state: s }).set(n);
    }
    for (model, (total, allocated)) in crate::history::gpus_by_model(&nodes, &held) {
        m.gpus_total.get_or_create(&ModelLabel { model: model.clone() }).set(i64::from(total));
        m.gpu_milli_allocated.get_or_create(&ModelLabel { model }).set(allocated as i64);
    }
    let mut text = m.render();
    if let Some(extra) = &state.extra_metrics {
        // Both are OpenMetrics; one `# EOF` closes the whole exposition.
        let own = text.trim_end().strip_suffix("# EOF").unwrap_or(&text).to_string();
        text = format!("{own}{}\n# EOF\n", extra());
    }
    Ok(([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], text))
}
