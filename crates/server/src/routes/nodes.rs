//! `/api/v1/nodes`: the fleet, cordon and drain.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::{now_ms, AppState};
use crate::views;
use axum::extract::{Path, State};
use axum::Json;
use strata_api::nodes::{Node, NodeList};

#[utoipa::path(get, path = "/api/v1/nodes", tag = "nodes", responses((status = 200, body = NodeList)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<NodeList>> {
    caller.require_user()?;
    let nodes = state.store.nodes().await?;
    let held = state.store.held_by_node().await?;
    Ok(Json(NodeList { nodes: nodes.iter().map(|n| views::node(n, held.get(&n.id))).collect() }))
}

async fn find(state: &AppState, id: &str) -> AppResult<strata_store::NodeRow> {
    state.store.node(id).await?.ok_or_else(|| AppError::not_found(format!("node {id:?}")))
}

async fn render(state: &AppState, node: &strata_store::NodeRow) -> AppResult<Json<Node>> {
    let held = state.store.held_by_node().await?;
    Ok(Json(views::node(node, held.get(&node.id))))
}

#[utoipa::path(get, path = "/api/v1/nodes/{node}", tag = "nodes", params(("node" = String, Path, description = "id or name")),
    responses((status = 200, body = Node), (status = 404, body = strata_api::ErrorBody)), security(("bearer" = [])))]
pub async fn show(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<Node>> {
    caller.require_user()?;
    let node = find(&state, &id).await?;
    render(&state, &node).await
}

#[utoipa::path(post, path = "/api/v1/nodes/{node}/cordon", tag = "nodes", params(("node" = String, Path)),
    responses((status = 200, body = Node)), security(("bearer" = [])))]
pub async fn cordon(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<Node>> {
    caller.require_admin()?;
    let node = find(&state, &id).await?;
    let node = state.store.set_node_flags(node.id, true, node.draining).await?;
    render(&state, &node).await
}

#[utoipa::path(post, path = "/api/v1/nodes/{node}/uncordon", tag = "nodes", params(("node" = String, Path)),
    responses((status = 200, body = Node)), security(("bearer" = [])))]
pub async fn uncordon(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<Node>> {
    caller.require_admin()?;
    let node = find(&state, &id).await?;
    let node = state.store.set_node_flags(node.id, false, false).await?;
    state.wake.notify_one();
    render(&state, &node).await
}

/// Cordons the node and moves its work elsewhere: each job with a replica there is stopped and
/// queued again, without counting against its retries.
#[utoipa::path(post, path = "/api/v1/nodes/{node}/drain", tag = "nodes", params(("node" = String, Path)),
    responses((status = 200, body = Node)), security(("bearer" = [])))]
pub async fn drain(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<Node>> {
    caller.require_admin()?;
    let node = find(&state, &id).await?;
    let node = state.store.set_node_flags(node.id, true, true).await?;
    let moved = state.store.evict_node(node.id, now_ms()).await?;
    tracing::info!(node = %node.name, jobs = moved, "node drained");
    state.wake.notify_one();
    render(&state, &node).await
}
