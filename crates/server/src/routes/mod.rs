//! The router and the OpenAPI document generated from the handlers' annotations.

mod agent;
mod deployments;
mod fleet;
mod jobs;
mod keys;
mod meta;
mod models;
mod nodes;
mod tenants;
mod usage;

pub(crate) use deployments::parse_spec;

use crate::state::AppState;
use axum::routing::{delete, get, post, put};
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Strata control plane", description = "Nodes, fleet history, jobs, tenants, keys, models, deployments, usage and the agent protocol of Strata, the open-source AI cloud. The OpenAI-compatible gateway is under /v1."),
    paths(
        jobs::submit, jobs::submit_batch, jobs::list, jobs::show, jobs::cancel, jobs::events, jobs::logs,
        nodes::list, nodes::show, nodes::cordon, nodes::uncordon, nodes::drain, fleet::history,
        tenants::create, tenants::list, tenants::set_quota, tenants::set_limits, tenants::whoami,
        keys::create, keys::list, keys::revoke,
        deployments::create, deployments::list, deployments::show, deployments::scale, deployments::delete,
        usage::report, models::list,
        agent::register, agent::heartbeat, agent::upload_logs,
        meta::healthz,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Largest body of `POST /api/v1/jobs/batch`, in bytes.
pub const BATCH_BODY_LIMIT: usize = 32 * 1024 * 1024;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/jobs", post(jobs::submit).get(jobs::list))
        // 1,000 jobs with long commands and environments outgrow axum's default 2 MiB.
        .route("/jobs/batch", post(jobs::submit_batch).layer(axum::extract::DefaultBodyLimit::max(BATCH_BODY_LIMIT)))
        .route("/jobs/{id}", get(jobs::show))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/jobs/{id}/logs", get(jobs::logs))
        .route("/nodes", get(nodes::list))
        .route("/nodes/{node}", get(nodes::show))
        .route("/nodes/{node}/cordon", post(nodes::cordon))
        .route("/nodes/{node}/uncordon", post(nodes::uncordon))
        .route("/nodes/{node}/drain", post(nodes::drain))
        .route("/fleet/history", get(fleet::history))
        .route("/models", get(models::list))
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route("/tenants/{name}/quota", put(tenants::set_quota))
        .route("/tenants/{name}/limits", put(tenants::set_limits))
        .route("/tenants/{name}/keys", post(keys::create).get(keys::list))
        .route("/tenants/{name}/keys/{key_id}", delete(keys::revoke))
        .route("/deployments", post(deployments::create).get(deployments::list))
        .route("/deployments/{name}", get(deployments::show).delete(deployments::delete))
        .route("/deployments/{name}/scale", post(deployments::scale))
        .route("/usage", get(usage::report))
        .route("/whoami", get(tenants::whoami))
        .route("/agent/register", post(agent::register))
        .route("/agent/heartbeat", post(agent::heartbeat))
        .route("/agent/tasks/{task_id}/logs", post(agent::upload_logs))
        .route("/openapi.json", get(meta::openapi))
        .fallback(meta::not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .with_state(state)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}
