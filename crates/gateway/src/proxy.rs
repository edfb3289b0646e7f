//! `/v1/*`: the OpenAI-compatible endpoints. Each request is authenticated from the key cache,
//! checked against the key's models, limits and budget, routed to a replica (held while a
//! scaled-to-zero deployment starts one), retried on another replica if it fails before any
//! byte reached the client, and metered.

use crate::catalog::{Catalog, Deployment, Replica};
use crate::error::GatewayError;
use crate::keys::{now_ms, Caller};
use crate::meter::{Endpoint, Meter};
use crate::sse::meter_stream;
use crate::Gateway;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use strata_gateway_core::{choose_replica, estimate_tokens, prefix_key, LimitKind, ReplicaLoad, Scope};

/// How many more requests than the least loaded replica the prefix's owner may have and still
/// get requests for its prefix.
const AFFINITY_SLACK: u32 = 4;
/// Attempts per deployment before moving on to a fallback.
const MAX_TRIES: usize = 4;
/// Requests held per deployment while it has no replica.
const MAX_HELD: usize = 1024;
/// `max_tokens` reserved when a request gives none (what the built-in server defaults to).
const DEFAULT_MAX_TOKENS: u64 = 512;

pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/v1/models/{*model}", get(model))
        .route("/v1/{*rest}", axum::routing::any(unknown))
        .with_state(gw)
}

async fn chat(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(gw, Endpoint::Chat, &headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn completions(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(gw, Endpoint::Completions, &headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn embeddings(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(gw, Endpoint::Embeddings, &headers, body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn unknown(Path(rest): Path<String>) -> GatewayError {
    GatewayError::not_found(format!(
        "no endpoint /v1/{rest}; the gateway serves /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/models"
    ))
}

async fn authenticate(gw: &Gateway, headers: &HeaderMap) -> Result<Arc<Caller>, GatewayError> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    gw.keys.authenticate(&gw.store, auth, now_ms()).await
}

fn model_object(d: &Deployment) -> Value {
    json!({"id": d.name, "object": "model", "created": d.created_ms / 1000, "owned_by": "strata",
           "ready_replicas": d.replicas.len()})
}

fn listed(gw: &Gateway, caller: &Caller) -> Vec<Arc<Deployment>> {
    gw.catalog
        .all()
        .into_iter()
        .filter(|d| d.visible_to(caller.tenant_id, gw.default_tenant) && caller.may_use(&d.name))
        .collect()
}

async fn models(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Result<Json<Value>, GatewayError> {
    let caller = authenticate(&gw, &headers).await?;
    let data: Vec<Value> = listed(&gw, &caller).iter().map(|d| model_object(d)).collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

async fn model(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>, GatewayError> {
    let caller = authenticate(&gw, &headers).await?;
    listed(&gw, &caller)
        .iter()
        .find(|d| d.name == name)
        .map(|d| Json(model_object(d)))
        .ok_or_else(|| GatewayError::model_not_found(&name))
}

/// What the gateway reads from a request body.
struct Parsed {
    body: Map<String, Value>,
    model: String,
    stream: bool,
    client_wants_usage: bool,
    prompt_bytes: Vec<u8>,
    max_tokens: u64,
}

fn parse(endpoint: Endpoint, bytes: &[u8]) -> Result<Parsed, GatewayError> {
    let body: Map<String, Value> = match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(GatewayError::bad_request("invalid_body", "body", "the request body must be a JSON object"))
        }
        Err(e) => {
            return Err(GatewayError::bad_request(
                "invalid_json",
                "body",
                format!("the request body is not valid JSON: {e}"),
            ))
        }
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => {
            return Err(GatewayError::bad_request("invalid_type", "model", "`model` must be a non-empty string"))
        }
        None => {
            return Err(GatewayError::bad_request(
                "missing_required_parameter",
                "model",
                "you must provide a `model` parameter; `GET /v1/models` lists the models this key may use",
            ))
        }
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(GatewayError::bad_request("invalid_type", "stream", "`stream` must be a boolean")),
    };
    let client_wants_usage =
        body.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool) == Some(true);
    let prompt_field = match endpoint {
        Endpoint::Chat => "messages",
        Endpoint::Completions => "prompt",
        Endpoint::Embeddings => "input",
    };
    let prompt = body.get(prompt_field).ok_or_else(|| {
        GatewayError::bad_request(
            "missing_required_parameter",
            prompt_field,
            format!("you must provide `{prompt_field}`"),
        )
    })?;
    let prompt_bytes = serde_json::to_vec(prompt).unwrap_or_default();
    let max_tokens = if endpoint == Endpoint::Embeddings {
        0
    } else {
        match body.get("max_completion_tokens").or_else(|| body.get("max_tokens")) {
            None | Some(Value::Null) => DEFAULT_MAX_TOKENS,
            Some(v) => v.as_u64().ok_or_else(|| {
                GatewayError::bad_request("invalid_type", "max_tokens", "`max_tokens` must be a non-negative integer")
            })?,
        }
    };
    Ok(Parsed { body, model, stream, client_wants_usage, prompt_bytes, max_tokens })
}

/// Checks the limits and budget, charging them; refuses with the limit that was hit.
async fn admit(gw: &Gateway, caller: &Caller, meter: &mut Meter, tokens: u64, cost: i64) -> Result<(), GatewayError> {
    let mut checks = vec![(Scope::Tenant(caller.tenant_id), caller.tenant_limits)];
    let mut budget_scopes = vec![(Scope::Tenant(caller.tenant_id), caller.tenant_budget_pico)];
    if let Some(key) = caller.key_id {
        checks.insert(0, (Scope::Key(key), caller.key_limits));
        budget_scopes.insert(0, (Scope::Key(key), caller.key_budget_pico));
    }
    // A budget this gateway has not seen yet (a key made a moment ago): its spending first.
    for scope in gw.ledger.missing(&budget_scopes) {
        let spent = match scope {
            Scope::Key(id) => gw.store.spend_by_key(&[id]).await,
            Scope::Tenant(id) => gw.store.spend_by_tenant(&[id]).await,
        };
        let spent = spent.map_err(|e| {
            tracing::error!(error = %e, "cannot read spending for a budget");
            GatewayError::internal()
        })?;
        let limit = budget_scopes.iter().find(|(s, _)| *s == scope).and_then(|(_, l)| *l).unwrap_or(0);
        gw.ledger.load(scope, limit, spent.first().map_or(0, |(_, p)| *p));
    }
    let admission = {
        let mut limiter = gw.limiter.lock().map_err(|_| GatewayError::internal())?;
        limiter.admit(&checks, tokens, now_ms())
    };
    let admission = admission.map_err(|r| {
        let who = match r.scope {
            Scope::Key(id) => format!("key {id}"),
            Scope::Tenant(_) => format!("tenant {}", caller.tenant_name),
        };
        let code = match r.kind {
            LimitKind::Requests => "rate_limit_requests",
            LimitKind::Tokens => "rate_limit_tokens",
        };
        if r.too_large {
            return GatewayError::rate_limited(
                code,
                format!(
                    "this request reserves {tokens} tokens (prompt estimate + max_tokens), more than the {} limit of {} {}; lower max_tokens",
                    who, r.limit, r.kind.as_str()
                ),
                None,
            );
        }
        let secs = r.retry_after_ms.div_ceil(1000);
        GatewayError::rate_limited(
            code,
            format!("rate limit reached for {who}: {} {}; retry after {secs} s", r.limit, r.kind.as_str()),
            Some(secs),
        )
    })?;
    if let Err((scope, refusal)) = gw.ledger.reserve(&budget_scopes, cost) {
        if let Ok(mut limiter) = gw.limiter.lock() {
            limiter.settle(&admission, 0, now_ms());
        }
        let who = match scope {
            Scope::Key(id) => format!("key {id}"),
            Scope::Tenant(_) => format!("tenant {}", caller.tenant_name),
        };
        return Err(GatewayError::rate_limited(
            "insufficient_quota",
            format!(
                "the budget of {who} would be exceeded: ${:.6} of ${:.6} spent, ${:.6} held by requests in flight, this one may cost ${:.6}; raise the budget or lower max_tokens",
                refusal.spent_pico as f64 / 1e12,
                refusal.limit_pico as f64 / 1e12,
                refusal.reserved_pico as f64 / 1e12,
                refusal.needed_pico as f64 / 1e12
            ),
            None,
        ));
    }
    meter.admitted(admission, cost);
    Ok(())
}

/// A replica for the next attempt. Replicas that refused a connection during this request are
/// out; one that failed once during it, or that another request marked down, is only avoided,
/// used when nothing else is left.
fn pick(d: &Deployment, prefix: Option<u64>, refused: &[i64], failed: &[i64], now: i64) -> Option<Arc<Replica>> {
    let choose = |skip_suspect: bool| {
        let loads: Vec<ReplicaLoad> = d
            .replicas
            .iter()
            .map(|r| ReplicaLoad {
                id: r.task_id as u64,
                outstanding: r.outstanding.load(Ordering::Relaxed),
                healthy: !refused.contains(&r.task_id)
                    && (!skip_suspect
                        || (!failed.contains(&r.task_id) && r.down_until_ms.load(Ordering::Relaxed) <= now)),
            })
            .collect();
        choose_replica(&loads, prefix, rand::random(), AFFINITY_SLACK).map(|i| d.replicas[i].clone())
    };
    choose(true).or_else(|| choose(false))
}

/// Waits until `name` has a ready replica or the cold-start timeout passes.
async fn wait_for_replica(gw: &Gateway, name: &str) -> Option<Arc<Deployment>> {
    let deadline = tokio::time::Instant::now() + gw.config.cold_start_timeout;
    gw.metrics.cold_starts.inc();
    gw.report_now.notify_one();
    loop {
        let changed = gw.catalog.changed.notified();
        let current = gw.catalog.get(name)?;
        if !current.replicas.is_empty() {
            return Some(current);
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return None;
        }
    }
}

/// An upstream answer: whole (not streamed, or an error before streaming) or a live stream.
enum Upstream {
    Whole { status: StatusCode, content_type: Option<HeaderValue>, body: Bytes },
    Stream(reqwest::Response),
}

/// Sends to the replicas of `d` until one answers; `None` when none could.
async fn try_deployment(
    gw: &Gateway,
    d: &Arc<Deployment>,
    meter: &mut Meter,
    endpoint: Endpoint,
    body: &Bytes,
    stream: bool,
    prefix: Option<u64>,
) -> Option<Upstream> {
    // Replicas that refused the connection (down); other failures (a kept-alive connection the
    // replica had closed, a reply cut off) may succeed on a retry, even on the same replica, so
    // such a replica is only avoided after one failure and refused after a second: a killed
    // replica's pooled connections all fail that way, and prefix affinity would otherwise send
    // every retry back to it.
    let mut refused: Vec<i64> = Vec::new();
    let mut failed: Vec<i64> = Vec::new();
    let mut busy: Option<Upstream> = None;
    for attempt in 0..MAX_TRIES {
        let Some(replica) = pick(d, prefix, &refused, &failed, now_ms()) else { break };
        if attempt > 0 {
            gw.metrics.retries.inc();
        }
        meter.serve_on(d.clone(), replica.clone());
        let sent = gw
            .client
            .post(format!("{}{}", replica.base_url, endpoint.path()))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(replica = %replica.endpoint, error = %e, "replica failed before answering; trying again");
                if e.is_connect() || failed.contains(&replica.task_id) {
                    refused.push(replica.task_id);
                    Catalog::mark_down(&replica, now_ms());
                } else {
                    failed.push(replica.task_id);
                }
                meter.release_replica();
                continue;
            }
        };
        let status = response.status();
        if stream && status.is_success() {
            return Some(Upstream::Stream(response));
        }
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        match response.bytes().await {
            // A full replica: another may have room.
            Ok(bytes) if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS => {
                meter.release_replica();
                refused.push(replica.task_id);
                busy = Some(Upstream::Whole { status, content_type, body: bytes });
            }
            Ok(bytes) => return Some(Upstream::Whole { status, content_type, body: bytes }),
            Err(e) => {
                tracing::warn!(replica = %replica.endpoint, error = %e, "replica broke off before the answer was complete; trying again");
                if failed.contains(&replica.task_id) {
                    refused.push(replica.task_id);
                } else {
                    failed.push(replica.task_id);
                }
                meter.release_replica();
            }
        }
    }
    busy
}

async fn handle(
    gw: Arc<Gateway>,
    endpoint: Endpoint,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Result<Response, GatewayError> {
    let caller = authenticate(&gw, headers).await?;
    let mut parsed = parse(endpoint, &bytes)?;
    let unflushed = gw.ledger.unflushed();
    if unflushed >= gw.config.max_unflushed {
        // Not journaled: the refusal did no work, and journaling it would grow the backlog.
        gw.metrics.backlog_refusals.inc();
        return Err(GatewayError::usage_backlog(unflushed, gw.config.max_unflushed, 1));
    }
    if !caller.may_use(&parsed.model) {
        return Err(GatewayError::forbidden(
            "model_not_allowed",
            format!(
                "this key may not use the model `{}`; it may use: {}",
                parsed.model,
                caller.models.as_deref().unwrap_or_default().join(", ")
            ),
        ));
    }
    let deployment = gw
        .catalog
        .get_fresh(&gw.store, &parsed.model)
        .await
        .filter(|d| d.visible_to(caller.tenant_id, gw.default_tenant))
        .ok_or_else(|| GatewayError::model_not_found(&parsed.model))?;
    let mut meter = Meter::new(gw.clone(), caller.clone(), deployment.clone(), endpoint);
    let prompt_estimate = estimate_tokens(parsed.prompt_bytes.len());
    let reserve_tokens = prompt_estimate + parsed.max_tokens;
    let cost = deployment.price.cost_pico(prompt_estimate, parsed.max_tokens);
    if let Err(e) = admit(&gw, &caller, &mut meter, reserve_tokens, cost).await {
        meter.finish(e.status.as_u16());
        return Err(e);
    }
    if parsed.stream {
        // Always ask for the usage chunk; it is dropped again if the client did not ask.
        let options = parsed.body.entry("stream_options").or_insert_with(|| json!({}));
        if let Value::Object(o) = options {
            o.insert("include_usage".into(), Value::Bool(true));
        }
    }
    let prefix = prefix_key(&parsed.prompt_bytes);
    let mut candidates = vec![deployment.clone()];
    for name in &deployment.spec.fallbacks {
        if let Some(f) =
            gw.catalog.get(name).filter(|f| f.visible_to(caller.tenant_id, gw.default_tenant) && caller.may_use(name))
        {
            candidates.push(f);
        }
    }
    if candidates.iter().all(|d| d.replicas.is_empty()) {
        // Scaled to zero, or starting: hold the request while a replica comes up — up to a bound,
        // so a burst against a cold deployment cannot pile up without limit.
        if deployment.load.in_flight.load(Ordering::Relaxed) as usize > MAX_HELD {
            meter.finish(503);
            return Err(GatewayError::unavailable(
                format!("`{}` is starting and already holds {MAX_HELD} requests; retry shortly", deployment.name),
                5,
            ));
        }
        match wait_for_replica(&gw, &deployment.name).await {
            Some(d) => candidates[0] = d,
            None => {
                let e = GatewayError::unavailable(
                    format!(
                        "the model `{}` has no ready replica yet (still starting after {} s); retry shortly",
                        deployment.name,
                        gw.config.cold_start_timeout.as_secs()
                    ),
                    5,
                );
                meter.finish(503);
                return Err(e);
            }
        }
    }
    let mut answer = None;
    for d in &candidates {
        // Each upstream is asked for the model by its own name.
        parsed.body.insert("model".into(), Value::String(d.upstream_model().to_string()));
        let body = Bytes::from(serde_json::to_vec(&parsed.body).map_err(|_| GatewayError::internal())?);
        answer = try_deployment(&gw, d, &mut meter, endpoint, &body, parsed.stream, prefix).await;
        if matches!(&answer, Some(Upstream::Whole { status, .. }) if *status == StatusCode::SERVICE_UNAVAILABLE) {
            continue;
        }
        if answer.is_some() {
            break;
        }
    }
    let request_id = HeaderValue::from_str(&meter.request_id).ok();
    let mut response = match answer {
        None => {
            let e = GatewayError::unavailable(
                format!("no replica of `{}` could take the request; retry shortly", deployment.name),
                2,
            );
            meter.finish(503);
            return Err(e);
        }
        Some(Upstream::Whole { status, content_type, body }) => {
            if status.is_success() {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    meter.prompt_tokens = v["usage"]["prompt_tokens"].as_u64().unwrap_or(prompt_estimate);
                    meter.completion_tokens = v["usage"]["completion_tokens"].as_u64().unwrap_or(0);
                }
            }
            meter.finish(status.as_u16());
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                content_type.unwrap_or_else(|| HeaderValue::from_static("application/json")),
            );
            r
        }
        Some(Upstream::Stream(upstream)) => {
            let stream = meter_stream(upstream.bytes_stream(), meter, parsed.client_wants_usage);
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
    };
    parsed.body.clear();
    if let Some(id) = request_id {
        response.headers_mut().insert("x-request-id", id);
    }
    Ok(response)
}
