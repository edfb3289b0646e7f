//! `GET /api/v1/usage`: totals from the usage ledger, by tenant, key, model and time range.
//! A tenant key sees its own tenant only.

use crate::auth::Caller;
use crate::error::{ApiQuery, AppError, AppResult};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use strata_api::usage::{UsageQuery, UsageReport, UsageRow};
use strata_domain::ErrorCode;
use strata_store::{UsageFilter, UsageGroup, UsageTotal};

fn row(t: &UsageTotal) -> UsageRow {
    UsageRow {
        group: t.group.clone(),
        requests: t.requests,
        errors: t.errors,
        prompt_tokens: t.prompt_tokens,
        completion_tokens: t.completion_tokens,
        cost_pico_usd: t.cost_pico,
        cost_usd: t.cost_pico as f64 / 1e12,
        mean_latency_ms: if t.requests == 0 { 0.0 } else { t.latency_ms_sum as f64 / t.requests as f64 },
    }
}

fn group(name: Option<&str>) -> AppResult<UsageGroup> {
    Ok(match name {
        None | Some("") => UsageGroup::Total,
        Some("model") => UsageGroup::Model,
        Some("key") => UsageGroup::Key,
        Some("tenant") => UsageGroup::Tenant,
        Some("hour") => UsageGroup::Hour,
        Some("day") => UsageGroup::Day,
        Some(other) => {
            return Err(AppError::field(
                ErrorCode::InvalidField,
                "group_by",
                format!("group_by {other:?} is not one of model, key, tenant, hour, day"),
            ))
        }
    })
}

#[utoipa::path(get, path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, body = UsageReport)), security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> AppResult<Json<UsageReport>> {
    caller.require_user()?;
    let grouping = group(q.group_by.as_deref())?;
    let tenant_id = match (&caller, &q.tenant) {
        (Caller::Tenant(t), None) => Some(t.id.0),
        (Caller::Tenant(t), Some(name)) if *name == t.name => Some(t.id.0),
        (Caller::Tenant(_), Some(name)) => return Err(AppError::not_found(format!("tenant {name:?}"))),
        (_, Some(name)) => Some(
            state
                .store
                .tenant_by_name(name)
                .await?
                .ok_or_else(|| AppError::not_found(format!("tenant {name:?}")))?
                .id
                .0,
        ),
        (_, None) => None,
    };
    if grouping == UsageGroup::Tenant && matches!(caller, Caller::Tenant(_)) {
        return Err(AppError::field(ErrorCode::Forbidden, "group_by", "group_by=tenant needs the admin token"));
    }
    let filter =
        UsageFilter { tenant_id, key_id: q.key, model: q.model.clone(), since_ms: q.since_ms, until_ms: q.until_ms };
    let total = state.store.usage_totals(&filter, UsageGroup::Total).await?;
    let total = total.first().map(row).unwrap_or_else(|| row(&UsageTotal::default()));
    let rows = if grouping == UsageGroup::Total {
        Vec::new()
    } else {
        state.store.usage_totals(&filter, grouping).await?.iter().map(row).collect()
    };
    Ok(Json(UsageReport { total, rows }))
}
