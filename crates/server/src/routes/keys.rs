//! `/api/v1/tenants/{name}/keys`: create (the secret shown once), list, revoke. The admin
//! manages every tenant's keys; a tenant key manages its own tenant's.

use crate::auth::{digest, new_secret, Caller, TENANT_KEY_PREFIX};
use crate::error::{ApiJson, AppError, AppResult};
use crate::state::{now_ms, AppState};
use crate::views;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use strata_api::keys::{valid_project_name, CreateKey, KeyInfo, KeyList};
use strata_api::tenants::CreatedKey;
use strata_domain::ErrorCode;
use strata_store::NewKey;

/// Longest key lifetime: ten years.
const MAX_EXPIRY_S: u64 = 10 * 365 * 24 * 3600;

/// Checks a key request and makes its secret: the plain secret (to show once) and the row.
pub(super) fn new_key(req: &CreateKey) -> AppResult<(String, NewKey)> {
    req.limits().check("")?;
    if let Some(project) = &req.project {
        if !valid_project_name(project) {
            return Err(AppError::field(
                ErrorCode::InvalidField,
                "project",
                format!("project name {project:?} must be 1..63 lowercase letters, digits or '-'"),
            ));
        }
    }
    if let Some(models) = &req.models {
        if models.is_empty() || models.iter().any(|m| m.trim().is_empty()) {
            return Err(AppError::field(
                ErrorCode::InvalidField,
                "models",
                "models must list at least one non-empty model name; leave it out to allow every model",
            ));
        }
    }
    if req.expires_in_s.is_some_and(|s| s == 0 || s > MAX_EXPIRY_S) {
        return Err(AppError::field(
            ErrorCode::InvalidField,
            "expires_in_s",
            format!("expires_in_s must be between 1 and {MAX_EXPIRY_S} seconds"),
        ));
    }
    if req.name.as_ref().is_some_and(|n| n.len() > 128) {
        return Err(AppError::field(ErrorCode::InvalidField, "name", "a key name is at most 128 characters"));
    }
    let secret = new_secret(TENANT_KEY_PREFIX);
    let row = NewKey {
        sha256: digest(&secret),
        name: req.name.clone().unwrap_or_default(),
        hint: format!("…{}", &secret[secret.len() - 4..]),
        project: req.project.clone(),
        models_json: req.models.as_ref().map(|m| serde_json::to_string(m).unwrap_or_default()),
        limits_json: serde_json::to_string(&req.limits()).map_err(|e| AppError::Internal(e.into()))?,
        expires_ms: req.expires_in_s.map(|s| now_ms() + (s as i64) * 1000),
    };
    Ok((secret, row))
}

pub(super) async fn created_info(state: &AppState, key_id: i64) -> AppResult<KeyInfo> {
    let row = state.store.key(key_id).await?.ok_or_else(|| AppError::Internal(anyhow::anyhow!("key vanished")))?;
    Ok(views::key(&row))
}

#[utoipa::path(post, path = "/api/v1/tenants/{name}/keys", tag = "keys", params(("name" = String, Path)), request_body = CreateKey,
    responses((status = 201, body = CreatedKey, description = "The key; its secret is shown here once")), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CreateKey>,
) -> AppResult<(StatusCode, Json<CreatedKey>)> {
    caller.require_admin_or_tenant(&name)?;
    let tenant =
        state.store.tenant_by_name(&name).await?.ok_or_else(|| AppError::not_found(format!("tenant {name:?}")))?;
    let (key, row) = new_key(&req)?;
    let key_id = state.store.create_key(tenant.id.0, &row, now_ms()).await?;
    let info = created_info(&state, key_id).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { tenant: views::tenant(&tenant), key_id, key, info })))
}

#[utoipa::path(get, path = "/api/v1/tenants/{name}/keys", tag = "keys", params(("name" = String, Path)),
    responses((status = 200, body = KeyList)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller, Path(name): Path<String>) -> AppResult<Json<KeyList>> {
    caller.require_admin_or_tenant(&name)?;
    let tenant =
        state.store.tenant_by_name(&name).await?.ok_or_else(|| AppError::not_found(format!("tenant {name:?}")))?;
    let keys = state.store.keys_of_tenant(tenant.id.0).await?;
    Ok(Json(KeyList { keys: keys.iter().map(views::key).collect() }))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{name}/keys/{key_id}", tag = "keys", params(("name" = String, Path), ("key_id" = i64, Path)),
    responses((status = 204, description = "Revoked; every gateway refuses it within a second")), security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, key_id)): Path<(String, i64)>,
) -> AppResult<StatusCode> {
    caller.require_admin_or_tenant(&name)?;
    let tenant =
        state.store.tenant_by_name(&name).await?.ok_or_else(|| AppError::not_found(format!("tenant {name:?}")))?;
    if !state.store.revoke_key(tenant.id.0, key_id, now_ms()).await? {
        return Err(AppError::not_found(format!("live key {key_id} of tenant {name:?}")));
    }
    Ok(StatusCode::NO_CONTENT)
}
