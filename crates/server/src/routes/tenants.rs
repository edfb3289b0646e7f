//! `/api/v1/tenants` (admin only) and `/api/v1/whoami`.

use crate::auth::Caller;
use crate::error::{ApiJson, AppError, AppResult};
use crate::state::{now_ms, AppState};
use crate::views;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use strata_api::keys::{CreateKey, Limits};
use strata_api::tenants::{valid_tenant_name, CreateTenant, CreatedKey, Quota, Tenant, TenantList, WhoAmI};
use strata_domain::ErrorCode;
use strata_store::StoreError;

#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, body = CreatedKey, description = "The tenant and its first API key, shown once"), (status = 409, body = strata_api::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateTenant>,
) -> AppResult<(StatusCode, Json<CreatedKey>)> {
    caller.require_admin()?;
    if !valid_tenant_name(&req.name) {
        return Err(AppError::field(
            ErrorCode::InvalidField,
            "name",
            format!(
                "tenant name {:?} must be 1..63 lowercase letters, digits or '-', not starting or ending with '-'",
                req.name
            ),
        ));
    }
    req.limits.check("limits.")?;
    let (key, new_key) = super::keys::new_key(&CreateKey { name: Some("first".into()), ..CreateKey::default() })?;
    let quota = serde_json::to_string(&req.quota).map_err(|e| AppError::Internal(e.into()))?;
    let now = now_ms();
    match state.store.create_tenant(&req.name, &quota, &new_key, now).await {
        Ok((mut tenant, key_id)) => {
            let limits = serde_json::to_string(&req.limits).map_err(|e| AppError::Internal(e.into()))?;
            if req.limits != Limits::default() {
                tenant = state.store.set_tenant_limits(&tenant.name, &limits, now).await?.unwrap_or(tenant);
            }
            let info = super::keys::created_info(&state, key_id).await?;
            Ok((StatusCode::CREATED, Json(CreatedKey { tenant: views::tenant(&tenant), key_id, key, info })))
        }
        Err(StoreError::Conflict(_)) => {
            Err(AppError::field(ErrorCode::Conflict, "name", format!("a tenant named {:?} already exists", req.name)))
        }
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", responses((status = 200, body = TenantList)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<TenantList>> {
    caller.require_admin()?;
    let tenants = state.store.tenants().await?;
    Ok(Json(TenantList { tenants: tenants.iter().map(views::tenant).collect() }))
}

#[utoipa::path(put, path = "/api/v1/tenants/{name}/quota", tag = "tenants", params(("name" = String, Path)), request_body = Quota,
    responses((status = 200, body = Tenant)), security(("bearer" = [])))]
pub async fn set_quota(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(quota): ApiJson<Quota>,
) -> AppResult<Json<Tenant>> {
    caller.require_admin()?;
    let json = serde_json::to_string(&quota).map_err(|e| AppError::Internal(e.into()))?;
    let tenant =
        state.store.set_quota(&name, &json).await?.ok_or_else(|| AppError::not_found(format!("tenant {name:?}")))?;
    state.wake.notify_one();
    Ok(Json(views::tenant(&tenant)))
}

#[utoipa::path(put, path = "/api/v1/tenants/{name}/limits", tag = "tenants", params(("name" = String, Path)), request_body = Limits,
    responses((status = 200, body = Tenant)), security(("bearer" = [])))]
pub async fn set_limits(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(limits): ApiJson<Limits>,
) -> AppResult<Json<Tenant>> {
    caller.require_admin()?;
    limits.check("")?;
    let json = serde_json::to_string(&limits).map_err(|e| AppError::Internal(e.into()))?;
    let tenant = state
        .store
        .set_tenant_limits(&name, &json, now_ms())
        .await?
        .ok_or_else(|| AppError::not_found(format!("tenant {name:?}")))?;
    Ok(Json(views::tenant(&tenant)))
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = "tenants", responses((status = 200, body = WhoAmI)), security(("bearer" = [])))]
pub async fn whoami(caller: Caller) -> AppResult<Json<WhoAmI>> {
    Ok(Json(match caller {
        Caller::Admin => WhoAmI { admin: true, tenant: None },
        Caller::Tenant(t) => WhoAmI { admin: false, tenant: Some(t.name) },
        Caller::Agent => WhoAmI { admin: false, tenant: None },
    }))
}
