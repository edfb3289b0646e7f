//! `/api/v1/agent/*`: the protocol agents speak. Agents pull: each heartbeat reports what runs
//! and is answered with what to start and what to stop.

use crate::auth::Caller;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::state::{now_ms, AppState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use std::collections::BTreeMap;
use strata_api::agent::{Assignment, Heartbeat, HeartbeatReply, LogUpload, Register, Registered};
use strata_domain::{ErrorCode, TaskState, Vendor};
use strata_store::{NodeRow, TaskRow, TaskUpdate};

#[utoipa::path(post, path = "/api/v1/agent/register", tag = "agent", request_body = Register,
    responses((status = 200, body = Registered)), security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<Register>,
) -> AppResult<Json<Registered>> {
    caller.require_agent()?;
    if req.name.is_empty() || req.name.len() > 253 {
        return Err(AppError::field(ErrorCode::InvalidField, "name", "node name must be 1..253 characters"));
    }
    let now = now_ms();
    let node = state.store.register_node(&req.name, &req.address, &req.inventory, now).await?;
    state.fleet.invalidate();
    let lost = state.store.lose_node_tasks(node.id, &req.running_tasks, "its agent restarted without it", now).await?;
    tracing::info!(node = %node.name, id = %node.id, accelerators = node.inventory.accelerators.len(), lost, "agent registered");
    state.wake.notify_one();
    Ok(Json(Registered { node_id: node.id, heartbeat_interval_ms: state.timing.heartbeat_interval.as_millis() as u64 }))
}

#[utoipa::path(post, path = "/api/v1/agent/heartbeat", tag = "agent", request_body = Heartbeat,
    responses((status = 200, body = HeartbeatReply), (status = 404, body = strata_api::ErrorBody, description = "Unknown node: register again")),
    security(("bearer" = [])))]
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(hb): ApiJson<Heartbeat>,
) -> AppResult<Json<HeartbeatReply>> {
    caller.require_agent()?;
    let now = now_ms();
    let usage = serde_json::to_string(&hb.usage).map_err(|e| AppError::Internal(e.into()))?;
    let Some(node) = state.store.heartbeat(hb.node_id, &usage, now).await? else {
        return Err(AppError::new(
            ErrorCode::NotFound,
            format!("node {} is not registered; register again", hb.node_id),
        ));
    };
    // Only reports that change something are written: a node running thousands of tasks
    // reports them all every heartbeat, and rewriting each unchanged row would cost a statement.
    let reported: Vec<i64> = hb.tasks.iter().map(|t| t.task_id).collect();
    let mut tasks = state.store.node_tasks(node.id, &reported).await?;
    let updates: Vec<TaskUpdate> = hb
        .tasks
        .iter()
        .filter(|r| {
            tasks.iter().any(|t| t.id == r.task_id && t.node_id == node.id && t.state.is_active() && t.state != r.state)
        })
        .map(|t| TaskUpdate {
            task_id: t.task_id,
            state: t.state,
            exit_code: t.exit_code,
            message: t.message.clone(),
            port: t.port,
        })
        .collect();
    if !updates.is_empty() {
        state.store.report_tasks(node.id, &updates, now).await?;
        if updates.iter().any(|u| u.state != TaskState::Running) {
            state.wake.notify_one();
        }
        // A failure can stop sibling tasks on this node too: read the outcome.
        tasks = state.store.node_tasks(node.id, &reported).await?;
    }
    let mut reply = HeartbeatReply::default();
    for report in &hb.tasks {
        let server_view = tasks.iter().find(|t| t.id == report.task_id && t.node_id == node.id);
        let should_run = server_view.is_some_and(|t| t.state.is_active());
        if report.state.is_active() && !should_run {
            reply.stop.push(report.task_id);
        } else if !report.state.is_active() && !should_run {
            reply.acknowledged.push(report.task_id);
        }
    }
    for task in
        tasks.iter().filter(|t| t.node_id == node.id && t.state == TaskState::Assigned && !reported.contains(&t.id))
    {
        reply.start.push(assignment(&state, &node, task).await?);
    }
    Ok(Json(reply))
}

/// Everything a replica needs to start, with the environment distributed training expects.
async fn assignment(state: &AppState, node: &NodeRow, task: &TaskRow) -> AppResult<Assignment> {
    let job = state
        .store
        .job(task.job_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("task {} has no job", task.id)))?;
    let gang = state.store.tasks_of(task.job_id, task.attempt).await?;
    let master = match gang.iter().find(|t| t.replica == 0) {
        Some(rank0) if rank0.node_id == node.id => node.address.clone(),
        Some(rank0) => state
            .store
            .node(&rank0.node_id.0.to_string())
            .await?
            .map(|n| n.address)
            .unwrap_or_else(|| node.address.clone()),
        None => node.address.clone(),
    };
    let local_rank = gang.iter().filter(|t| t.node_id == node.id && t.replica < task.replica).count();
    let local_world = gang.iter().filter(|t| t.node_id == node.id).count();
    let mut env: BTreeMap<String, String> = job.spec.env.clone();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set("RANK", task.replica.to_string());
    set("WORLD_SIZE", job.spec.replicas.to_string());
    set("LOCAL_RANK", local_rank.to_string());
    set("LOCAL_WORLD_SIZE", local_world.to_string());
    set("MASTER_ADDR", master);
    set("MASTER_PORT", master_port(task.job_id.0, task.attempt).to_string());
    set("STRATA_JOB_ID", task.job_id.to_string());
    set("STRATA_TASK_ID", task.id.to_string());
    set("STRATA_ATTEMPT", task.attempt.to_string());
    set("STRATA_NODE", node.name.clone());
    if let Some(dir) = &job.spec.checkpoint_dir {
        set("STRATA_CHECKPOINT_DIR", dir.clone());
    }
    if !task.gpus.is_empty() {
        let vendor = node
            .inventory
            .accelerators
            .iter()
            .find(|a| a.index == task.gpus[0].index)
            .map_or(Vendor::Nvidia, |a| a.vendor);
        let devices = task.gpus.iter().map(|g| g.index.to_string()).collect::<Vec<_>>().join(",");
        set(vendor.visible_devices_env(), devices.clone());
        set("STRATA_VISIBLE_DEVICES", devices);
        set("STRATA_GPU_MILLI", task.gpus.iter().map(|g| g.milli.0).sum::<u32>().to_string());
    }
    Ok(Assignment {
        task_id: task.id,
        job_id: task.job_id.0,
        attempt: task.attempt,
        command: job.spec.command.clone(),
        env,
        workdir: job.spec.workdir.clone(),
    })
}

/// A rendezvous port that differs between jobs and attempts, so a requeued gang never meets
/// the stragglers of its previous attempt.
fn master_port(job: i64, attempt: u32) -> u16 {
    let mixed = (job as u64).wrapping_mul(2_654_435_761).wrapping_add(u64::from(attempt) * 97);
    20_000 + (mixed % 20_000) as u16
}

#[utoipa::path(post, path = "/api/v1/agent/tasks/{task_id}/logs", tag = "agent", params(("task_id" = i64, Path), LogUpload),
    request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 204)), security(("bearer" = [])))]
pub async fn upload_logs(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<i64>,
    ApiQuery(q): ApiQuery<LogUpload>,
    body: Bytes,
) -> AppResult<StatusCode> {
    caller.require_agent()?;
    if q.stream != "stdout" && q.stream != "stderr" {
        return Err(AppError::field(ErrorCode::InvalidField, "stream", "stream must be stdout or stderr"));
    }
    if state.store.task(task_id).await?.is_none() {
        return Err(AppError::not_found(format!("task {task_id}")));
    }
    state.store.append_log(task_id, &q.stream, q.offset, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
