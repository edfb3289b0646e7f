//! `/api/v1/jobs`: submit, list, show, cancel, events, logs.

use crate::admission;
use crate::auth::Caller;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::state::{now_ms, AppState, DEFAULT_TENANT};
use crate::views;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use strata_api::jobs::{Job, JobEvent, JobList, JobQuery, LogQuery, SubmitJob, SubmitJobs, SubmittedJobs};
use strata_domain::{ErrorCode, JobId, JobState, TenantId};
use strata_store::{JobFilter, JobRow, NewJob};

/// Resolves who a submission is for: a tenant key submits for itself; the admin for the tenant
/// it names, or the built-in `default` tenant.
async fn submit_tenant(state: &AppState, caller: &Caller, named: Option<&str>) -> AppResult<(TenantId, String)> {
    match (caller, named) {
        (Caller::Tenant(t), None) => Ok((t.id, t.name.clone())),
        (Caller::Tenant(t), Some(name)) if name == t.name => Ok((t.id, t.name.clone())),
        (Caller::Tenant(_), Some(_)) => Err(AppError::field(
            ErrorCode::Forbidden,
            "tenant",
            "a tenant key submits only for its own tenant; drop the tenant field",
        )),
        (_, None) => Ok((state.default_tenant, DEFAULT_TENANT.to_string())),
        (_, Some(name)) => state.store.tenant_by_name(name).await?.map(|t| (t.id, t.name)).ok_or_else(|| {
            AppError::field(
                ErrorCode::NotFound,
                "tenant",
                format!("no tenant named {name:?}; create it with `strata tenant create {name}`"),
            )
        }),
    }
}

/// Loads a job the caller may see, or answers 404 (also for other tenants' jobs, so ids of
/// other tenants' work leak nothing).
pub async fn visible_job(state: &AppState, caller: &Caller, id: i64) -> AppResult<JobRow> {
    caller.require_user()?;
    let job = state.store.job(JobId(id)).await?.ok_or_else(|| AppError::not_found(format!("job {id}")))?;
    match caller.tenant_scope() {
        Some(t) if t != job.tenant_id => Err(AppError::not_found(format!("job {id}"))),
        _ => Ok(job),
    }
}

#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = SubmitJob,
    responses((status = 201, body = Job), (status = 400, body = strata_api::ErrorBody)),
    security(("bearer" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SubmitJob>,
) -> AppResult<Response> {
    caller.require_user()?;
    let (tenant, tenant_name) = submit_tenant(&state, &caller, req.tenant.as_deref()).await?;
    let key = req.idempotency_key.clone();
    let mut spec = req.into_spec()?;
    strata_api::jobs::scope_spread_group(&mut spec, &tenant_name);
    let fleet = state.fleet.inventories(&state.store).await?;
    admission::check(&spec, &fleet.iter().collect::<Vec<_>>())?;
    let job =
        state.submitter.submit(NewJob { tenant, tenant_name, spec, idempotency_key: key, deployment_id: None }).await?;
    state.metrics.submitted.inc();
    Ok((StatusCode::CREATED, Json(views::job(&job, &[]))).into_response())
}

#[utoipa::path(post, path = "/api/v1/jobs/batch", tag = "jobs", request_body = SubmitJobs,
    responses((status = 201, body = SubmittedJobs), (status = 400, body = strata_api::ErrorBody)),
    security(("bearer" = [])))]
/// Up to 1,000 jobs in one request and one transaction: each checked as `POST /api/v1/jobs`
/// checks one (an error names the job, `jobs[3].cpu_milli`); if any is refused, none is stored.
pub async fn submit_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SubmitJobs>,
) -> AppResult<Response> {
    caller.require_user()?;
    req.check_size()?;
    let fleet = state.fleet.inventories(&state.store).await?;
    let fleet: Vec<_> = fleet.iter().collect();
    let mut tenants: Vec<(Option<String>, (TenantId, String))> = Vec::new();
    let mut new = Vec::with_capacity(req.jobs.len());
    for (i, job) in req.jobs.into_iter().enumerate() {
        let in_batch = |e: AppError| match e {
            AppError::Api(e) => AppError::Api(e.in_batch(i)),
            other => other,
        };
        // Most batches name one tenant (or none): look each name up once.
        let (tenant, tenant_name) = match tenants.iter().find(|(n, _)| *n == job.tenant) {
            Some((_, t)) => t.clone(),
            None => {
                let t = submit_tenant(&state, &caller, job.tenant.as_deref()).await.map_err(in_batch)?;
                tenants.push((job.tenant.clone(), t.clone()));
                t
            }
        };
        let key = job.idempotency_key.clone();
        let mut spec = job.into_spec().map_err(|e| e.in_batch(i))?;
        strata_api::jobs::scope_spread_group(&mut spec, &tenant_name);
        admission::check(&spec, &fleet).map_err(|e| e.in_batch(i))?;
        new.push(NewJob { tenant, tenant_name, spec, idempotency_key: key, deployment_id: None });
    }
    let rows = state.submitter.submit_all(new).await?;
    state.metrics.submitted.inc_by(rows.len() as u64);
    let jobs = rows.iter().map(|j| views::job(j, &[])).collect();
    Ok((StatusCode::CREATED, Json(SubmittedJobs { jobs })).into_response())
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobQuery),
    responses((status = 200, body = JobList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> AppResult<Json<JobList>> {
    caller.require_user()?;
    let state_filter = match q.state.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            AppError::field(
                ErrorCode::InvalidField,
                "state",
                format!("unknown state {s:?}; use one of pending, running, succeeded, failed, cancelled"),
            )
        })?),
    };
    let tenant = match (caller.tenant_scope(), q.tenant.as_deref()) {
        (Some(own), _) => Some(own),
        (None, Some(name)) => Some(
            state
                .store
                .tenant_by_name(name)
                .await?
                .ok_or_else(|| AppError::field(ErrorCode::NotFound, "tenant", format!("no tenant named {name:?}")))?
                .id,
        ),
        (None, None) => None,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::field(
            ErrorCode::InvalidField,
            "limit",
            format!("limit must be between 1 and 1000, got {limit}"),
        ));
    }
    let filter = JobFilter { tenant, state: state_filter, name_contains: q.name, before_id: q.after, limit };
    let rows = state.store.jobs(&filter).await?;
    let tasks = state.store.current_tasks(&rows).await?;
    let next_after = (rows.len() as i64 == limit).then(|| rows.last().map(|j| j.id)).flatten();
    Ok(Json(JobList { jobs: rows.iter().map(|j| views::job(j, &tasks)).collect(), next_after }))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = Job), (status = 404, body = strata_api::ErrorBody)), security(("bearer" = [])))]
pub async fn show(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Job>> {
    let job = visible_job(&state, &caller, id).await?;
    let tasks = state.store.tasks_of(job.id, job.attempt).await?;
    Ok(Json(views::job(&job, &tasks)))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = Job), (status = 409, body = strata_api::ErrorBody)), security(("bearer" = [])))]
pub async fn cancel(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> AppResult<Json<Job>> {
    let job = visible_job(&state, &caller, id).await?;
    if job.state.is_terminal() {
        return Err(AppError::new(ErrorCode::Conflict, format!("job {id} already {}; nothing to cancel", job.state)));
    }
    let job =
        state.store.cancel_job(job.id, now_ms()).await?.ok_or_else(|| AppError::not_found(format!("job {id}")))?;
    state.wake.notify_one();
    let tasks = state.store.tasks_of(job.id, job.attempt).await?;
    Ok(Json(views::job(&job, &tasks)))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<JobEvent>)), security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<JobEvent>>> {
    let job = visible_job(&state, &caller, id).await?;
    let events = state.store.events(job.id).await?;
    Ok(Json(events.into_iter().map(|e| JobEvent { at_ms: e.at_ms, kind: e.kind, message: e.message }).collect()))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}/logs", tag = "jobs", params(("id" = i64, Path), LogQuery),
    responses((status = 200, description = "The output as text/plain; with follow=true the body streams until the job ends")),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> AppResult<Response> {
    let job = visible_job(&state, &caller, id).await?;
    let stream = match q.stream.as_deref() {
        None | Some("all") => None,
        Some(s @ ("stdout" | "stderr")) => Some(s.to_string()),
        Some(other) => {
            return Err(AppError::field(
                ErrorCode::InvalidField,
                "stream",
                format!("unknown stream {other:?}; use stdout, stderr or all"),
            ))
        }
    };
    // Without an explicit attempt, follow the latest one: a pending job's output appears once it
    // is placed, and a requeued job's follower moves on to the new attempt.
    let pinned = q.attempt;
    let follow = q.follow.unwrap_or(false);
    let store = state.store.clone();
    let body = futures::stream::unfold((0i64, false), move |(after, done)| {
        let store = store.clone();
        let stream = stream.clone();
        async move {
            if done {
                return None;
            }
            loop {
                // Read the job's state before the chunks: output stored before the job ended
                // is then always read before the stream closes.
                let (attempt, finished) = match store.job(job.id).await {
                    Ok(Some(j)) => match pinned {
                        Some(a) => (a, j.state.is_terminal() || j.attempt != a),
                        None => (j.attempt, j.state.is_terminal()),
                    },
                    Ok(None) => (pinned.unwrap_or(0), true),
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (after, true))),
                };
                let chunks = match store.log_chunks(job.id, attempt, q.replica, stream.as_deref(), after).await {
                    Ok(c) => c,
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (after, true))),
                };
                if let Some(last) = chunks.last() {
                    let next = last.id;
                    let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
                    return Some((Ok(bytes), (next, false)));
                }
                if !follow || finished {
                    return None;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    });
    Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from_stream(body))
        .map_err(|e| AppError::Internal(e.into()))
}
