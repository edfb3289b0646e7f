//! `/api/v1/deployments`: models served through the gateway. A deployment is a document and a
//! replica count; the leader's reconciler (`deploy.rs`) keeps one job per replica.

use crate::auth::Caller;
use crate::error::{ApiJson, AppError, AppResult};
use crate::state::{now_ms, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use strata_api::deployments::{
    CreateDeployment, Deployment, DeploymentList, DeploymentSpec, ReplicaView, ScaleDeployment, BACKENDS, EXTERNAL,
};
use strata_domain::ErrorCode;
use strata_gateway_core::Price;
use strata_store::{DeploymentRow, StoreError};

/// Most replicas one deployment may ask for.
const MAX_REPLICAS: u32 = 1024;
/// Memory a model server needs beside weights and KV cache (runtime, buffers), MiB.
const SERVER_OVERHEAD_MIB: u64 = 256;
/// KV-cache tokens a replica gets unless the deployment says otherwise.
pub(crate) const DEFAULT_CONTEXT: u32 = 4096;

pub fn valid_deployment_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
        && !name.starts_with(['-', '.', '/'])
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::field(ErrorCode::InvalidField, field, message)
}

/// Memory for one replica: the model file, the KV cache for `context` tokens, and overhead —
/// from the registry of this server's model cache when the model is there, else from the
/// catalogue's file size.
fn memory_estimate_mib(state: &AppState, model: &str, context: u32) -> Option<u64> {
    let registry = strata_models::registry::Registry::load(&state.models_dir).ok();
    let (file_bytes, kv_per_token) = match registry.as_ref().and_then(|r| r.get(model)) {
        Some(entry) => (entry.file_bytes, entry.info.kv_bytes_per_token),
        None => (strata_models::catalog::find(model)?.bytes, 64 * 1024),
    };
    Some(estimate_mib(file_bytes, kv_per_token, u64::from(context)))
}

/// MiB for one replica holding `context` tokens of KV cache.
pub(crate) fn estimate_mib(file_bytes: u64, kv_per_token: u64, context: u64) -> u64 {
    (file_bytes + kv_per_token * context).div_ceil(1 << 20) + SERVER_OVERHEAD_MIB
}

/// The longest context one replica can hold in `memory_mib` (0 when the weights do not fit).
pub(crate) fn max_context(file_bytes: u64, kv_per_token: u64, memory_mib: u64) -> u64 {
    let room = memory_mib.saturating_sub(SERVER_OVERHEAD_MIB).saturating_mul(1 << 20).saturating_sub(file_bytes);
    if room == 0 {
        return 0;
    }
    room.checked_div(kv_per_token).unwrap_or(u64::MAX)
}

fn spec_of(state: &AppState, req: &CreateDeployment) -> AppResult<(String, DeploymentSpec, u32)> {
    if req.model.trim().is_empty() {
        return Err(invalid("model", "model must name a pulled model (`smollm2`) or a GGUF path"));
    }
    let name = req.name.clone().unwrap_or_else(|| req.model.clone());
    if !valid_deployment_name(&name) {
        return Err(invalid(
            "name",
            format!(
                "deployment name {name:?} must be 1..128 letters, digits or -_.:/ (it is what clients send as `model`)"
            ),
        ));
    }
    for (i, e) in req.endpoints.iter().enumerate() {
        let rest = e.strip_prefix("http://").or_else(|| e.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) || e.ends_with("/v1") {
            return Err(invalid(
                &format!("endpoints[{i}]"),
                format!("{e:?} must be an http(s)://host:port base URL, without /v1"),
            ));
        }
    }
    let external = !req.endpoints.is_empty();
    let backend = match (&req.backend, external) {
        (None, true) => EXTERNAL.to_string(),
        (Some(b), true) if b != EXTERNAL => {
            return Err(invalid("backend", "a deployment with endpoints runs nothing itself: leave backend out"))
        }
        (b, _) => b.clone().unwrap_or_else(|| "builtin".into()),
    };
    if !external && !BACKENDS.contains(&backend.as_str()) {
        return Err(invalid("backend", format!("backend {backend:?} is not one of {}", BACKENDS.join(", "))));
    }
    let threads = req.threads.unwrap_or(1);
    let context = req.context.unwrap_or(DEFAULT_CONTEXT);
    let slots = req.slots.unwrap_or(8);
    if !(1..=256).contains(&threads) {
        return Err(invalid("threads", "threads must be 1..256"));
    }
    if !(64..=1 << 20).contains(&context) {
        return Err(invalid("context", "context must be 64..1048576 tokens"));
    }
    if !(1..=1024).contains(&slots) {
        return Err(invalid("slots", "slots must be 1..1024"));
    }
    let endpoints = req.endpoints.len() as u32;
    let min = if external { endpoints } else { req.min_replicas.unwrap_or(1) };
    let replicas = if external { endpoints } else { req.replicas.unwrap_or(min.max(1)) };
    let max = if external { endpoints } else { req.max_replicas.unwrap_or(replicas.max(min).max(1)) };
    if max > MAX_REPLICAS || max == 0 {
        return Err(invalid("max_replicas", format!("max_replicas must be 1..{MAX_REPLICAS}")));
    }
    if min > max {
        return Err(invalid("min_replicas", format!("min_replicas ({min}) is above max_replicas ({max})")));
    }
    if replicas > max || replicas < min {
        return Err(invalid("replicas", format!("replicas ({replicas}) must be between min ({min}) and max ({max})")));
    }
    let memory_mib = match req.memory_mib {
        // Nothing runs here: nothing to place.
        _ if external => 0,
        Some(m) if m == 0 || m > strata_api::jobs::MAX_MEMORY_MIB as u64 => {
            return Err(invalid("memory_mib", "memory_mib must be positive and at most 16 TiB"))
        }
        Some(m) => m,
        None => memory_estimate_mib(state, &req.model, context).ok_or_else(|| {
            invalid(
                "memory_mib",
                format!(
                    "no memory estimate for {:?}: pull it on the control plane (`strata model pull`) or give memory_mib",
                    req.model
                ),
            )
        })?,
    };
    let cpu_milli = req.cpu_milli.unwrap_or(u64::from(threads) * 1000);
    if cpu_milli == 0 || cpu_milli > strata_api::jobs::MAX_CPU_MILLI as u64 {
        return Err(invalid("cpu_milli", "cpu_milli must be 1..1024000"));
    }
    let gpu_milli = req.gpu_milli.unwrap_or(0);
    strata_domain::GpuRequest::try_from(gpu_milli).map_err(|e| invalid("gpu_milli", e))?;
    let price =
        Price::from_usd_per_mtok(req.price_input_per_mtok.unwrap_or(0.0), req.price_output_per_mtok.unwrap_or(0.0))
            .ok_or_else(|| invalid("price_input_per_mtok", "prices must be non-negative dollars per million tokens"))?;
    if external && req.max_replicas_per_node.is_some() {
        return Err(invalid(
            "max_replicas_per_node",
            "a deployment with endpoints places no replicas: leave max_replicas_per_node out",
        ));
    }
    if let Some(cap) = req.max_replicas_per_node.filter(|&c| c == 0 || c > MAX_REPLICAS) {
        return Err(invalid(
            "max_replicas_per_node",
            format!("max_replicas_per_node must be 1..{MAX_REPLICAS}, got {cap}; leave it out to let replicas share nodes as they fit"),
        ));
    }
    if let Some(bad) = req.fallbacks.iter().find(|f| !valid_deployment_name(f) || **f == name) {
        return Err(invalid("fallbacks", format!("fallback {bad:?} is not another deployment's name")));
    }
    let spec = DeploymentSpec {
        model: req.model.clone(),
        backend,
        min_replicas: min,
        max_replicas: max,
        cpu_milli,
        memory_mib,
        gpu_milli,
        gpu_models: req.gpu_models.clone(),
        threads,
        context,
        slots,
        target_in_flight: req.target_in_flight.unwrap_or(slots).max(1),
        idle_to_zero_s: req.idle_to_zero_s.unwrap_or(300),
        price_input_micro_per_mtok: price.input_micro_per_mtok,
        price_output_micro_per_mtok: price.output_micro_per_mtok,
        fallbacks: req.fallbacks.clone(),
        endpoints: req.endpoints.iter().map(|e| e.trim_end_matches('/').to_string()).collect(),
        max_replicas_per_node: req.max_replicas_per_node,
    };
    Ok((name, spec, replicas))
}

pub(crate) fn parse_spec(row: &DeploymentRow) -> AppResult<DeploymentSpec> {
    serde_json::from_str(&row.spec_json)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("deployment {} has a corrupt spec: {e}", row.name)))
}

async fn view(state: &AppState, row: &DeploymentRow) -> AppResult<Deployment> {
    let spec = parse_spec(row)?;
    let replicas: Vec<ReplicaView> = state
        .store
        .replicas()
        .await?
        .into_iter()
        .filter(|r| r.deployment_id == row.id)
        .map(|r| ReplicaView {
            job_id: r.job_id,
            task_id: r.task_id,
            node: r.node_name,
            endpoint: r.port.map(|p| format!("{}:{p}", r.address)),
            ready: r.ready,
        })
        .collect();
    let replicas = if spec.endpoints.is_empty() {
        replicas
    } else {
        spec.endpoints
            .iter()
            .map(|e| ReplicaView {
                job_id: 0,
                task_id: 0,
                node: "external".into(),
                endpoint: Some(e.clone()),
                ready: true,
            })
            .collect()
    };
    let mut pending = Vec::new();
    for (job, job_state) in state.store.deployment_jobs(row.id).await? {
        if job_state == "pending" {
            let reason = state.store.job(job).await?.and_then(|j| j.reason);
            pending.push(format!("job {job}: {}", reason.unwrap_or_else(|| "waiting for the scheduler".into())));
        }
    }
    let load = state.store.deployment_load(row.id, now_ms() - crate::deploy::LOAD_FRESH_MS).await?;
    Ok(Deployment {
        id: row.id,
        name: row.name.clone(),
        tenant: row.tenant_name.clone(),
        spec,
        replicas: row.replicas,
        ready_replicas: replicas.iter().filter(|r| r.ready).count() as u32,
        pending,
        replica_list: replicas,
        in_flight: load.in_flight,
        last_request_at_ms: load.last_request_ms,
        created_at_ms: row.created_ms,
    })
}

/// The deployment if the caller may see it: the admin sees all, a tenant its own.
async fn visible(state: &AppState, caller: &Caller, name: &str) -> AppResult<DeploymentRow> {
    let row = state.store.deployment(name).await?.ok_or_else(|| AppError::not_found(format!("deployment {name:?}")))?;
    match caller.tenant_scope() {
        Some(t) if t.0 != row.tenant_id => Err(AppError::not_found(format!("deployment {name:?}"))),
        _ => Ok(row),
    }
}

#[utoipa::path(post, path = "/api/v1/deployments", tag = "deployments", request_body = CreateDeployment,
    responses((status = 201, body = Deployment), (status = 409, body = strata_api::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateDeployment>,
) -> AppResult<(StatusCode, Json<Deployment>)> {
    caller.require_user()?;
    let (name, spec, replicas) = spec_of(&state, &req)?;
    let tenant_id = match (&caller, &req.tenant) {
        (Caller::Tenant(t), None) => t.id.0,
        (Caller::Tenant(_), Some(_)) => {
            return Err(AppError::field(ErrorCode::Forbidden, "tenant", "only the admin deploys for another tenant"))
        }
        (_, Some(t)) => {
            state.store.tenant_by_name(t).await?.ok_or_else(|| AppError::not_found(format!("tenant {t:?}")))?.id.0
        }
        (_, None) => state.default_tenant.0,
    };
    let json = serde_json::to_string(&spec).map_err(|e| AppError::Internal(e.into()))?;
    let row = match state.store.create_deployment(&name, tenant_id, &json, replicas, now_ms()).await {
        Ok(row) => row,
        Err(StoreError::Conflict(_)) => {
            return Err(AppError::field(
                ErrorCode::Conflict,
                "name",
                format!("a deployment named {name:?} exists; scale it, or delete it first"),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    state.deploy_wake.notify_one();
    Ok((StatusCode::CREATED, Json(view(&state, &row).await?)))
}

#[utoipa::path(get, path = "/api/v1/deployments", tag = "deployments", responses((status = 200, body = DeploymentList)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<DeploymentList>> {
    caller.require_user()?;
    let mut deployments = Vec::new();
    for row in state.store.deployments().await? {
        if caller.tenant_scope().is_none_or(|t| t.0 == row.tenant_id) {
            deployments.push(view(&state, &row).await?);
        }
    }
    Ok(Json(DeploymentList { deployments }))
}

#[utoipa::path(get, path = "/api/v1/deployments/{name}", tag = "deployments", params(("name" = String, Path)),
    responses((status = 200, body = Deployment)), security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> AppResult<Json<Deployment>> {
    caller.require_user()?;
    let row = visible(&state, &caller, &name).await?;
    Ok(Json(view(&state, &row).await?))
}

#[utoipa::path(post, path = "/api/v1/deployments/{name}/scale", tag = "deployments", params(("name" = String, Path)),
    request_body = ScaleDeployment, responses((status = 200, body = Deployment)), security(("bearer" = [])))]
pub async fn scale(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ScaleDeployment>,
) -> AppResult<Json<Deployment>> {
    caller.require_user()?;
    let row = visible(&state, &caller, &name).await?;
    let mut spec = parse_spec(&row)?;
    if !spec.endpoints.is_empty() {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("{name:?} routes to external endpoints; there is nothing to scale"),
        ));
    }
    spec.min_replicas = req.min_replicas.unwrap_or(spec.min_replicas);
    spec.max_replicas = req.max_replicas.unwrap_or(spec.max_replicas);
    if let Some(r) = req.replicas {
        spec.min_replicas = spec.min_replicas.min(r);
        spec.max_replicas = spec.max_replicas.max(r);
    }
    if spec.max_replicas == 0 || spec.max_replicas > MAX_REPLICAS {
        return Err(invalid("max_replicas", format!("max_replicas must be 1..{MAX_REPLICAS}")));
    }
    if spec.min_replicas > spec.max_replicas {
        return Err(invalid("min_replicas", "min_replicas is above max_replicas"));
    }
    let replicas = req.replicas.unwrap_or(row.replicas).clamp(spec.min_replicas, spec.max_replicas);
    let now = now_ms();
    let json = serde_json::to_string(&spec).map_err(|e| AppError::Internal(e.into()))?;
    state.store.update_deployment_spec(row.id, &json, now).await?;
    state.store.set_deployment_replicas(row.id, replicas, now).await?;
    state.deploy_wake.notify_one();
    let row = state.store.deployment_by_id(row.id).await?.ok_or_else(|| AppError::not_found(&name))?;
    Ok(Json(view(&state, &row).await?))
}

#[utoipa::path(delete, path = "/api/v1/deployments/{name}", tag = "deployments", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted; its replicas are stopped")), security(("bearer" = [])))]
pub async fn delete(State(state): State<AppState>, caller: Caller, Path(name): Path<String>) -> AppResult<StatusCode> {
    caller.require_user()?;
    let row = visible(&state, &caller, &name).await?;
    state.store.delete_deployment(row.id, now_ms()).await?;
    state.deploy_wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}
