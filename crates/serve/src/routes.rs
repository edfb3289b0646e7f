//! The HTTP surface: OpenAI's `/v1/chat/completions`, `/v1/completions` and `/v1/models`, plus
//! `/healthz` and `/metrics`. Handlers parse, hand a job to the engine thread and relay what comes
//! back, as one JSON body or as server-sent events.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::openai::{parse_chat, parse_completion, parse_embeddings, Generation};
use crate::worker::{EmbedJob, Job, Out, Work};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use strata_infer::TokenLogprob;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

#[derive(Clone)]
pub struct AppState {
    pub jobs: SyncSender<Work>,
    pub metrics: Arc<Metrics>,
    pub model: Arc<str>,
    next_id: Arc<AtomicU64>,
}

impl AppState {
    pub fn new(jobs: SyncSender<Work>, metrics: Arc<Metrics>, model: &str) -> Self {
        Self { jobs, metrics, model: Arc::from(model), next_id: Arc::new(AtomicU64::new(1)) }
    }
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A request without a seed still gets one, so its output is reproducible from the logs.
fn fresh_seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

async fn models(State(s): State<AppState>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{ "id": &*s.model, "object": "model", "created": 0, "owned_by": "strata" }]
    }))
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], s.metrics.render())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chat,
    Completion,
}

async fn chat(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let g = parse_chat(&body, fresh_seed())?;
    generate(s, g, Kind::Chat).await
}

async fn completions(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let g = parse_completion(&body, fresh_seed())?;
    generate(s, g, Kind::Completion).await
}

/// Everything a response chunk needs besides the text.
#[derive(Clone)]
struct Frame {
    id: String,
    model: Arc<str>,
    created: u64,
    kind: Kind,
}

impl Frame {
    /// OpenAI's `logprobs` object for these tokens: `{"content": [...]}` for chats, the legacy
    /// parallel arrays for completions; `null` when none were asked for.
    fn logprobs(&self, entries: &[TokenLogprob], offset: usize) -> Value {
        if entries.is_empty() {
            return Value::Null;
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self.kind {
            Kind::Chat => json!({ "content": entries.iter().map(|e| json!({
                "token": text(&e.bytes), "logprob": e.logprob, "bytes": e.bytes,
                "top_logprobs": e.top.iter().map(|(_, b, lp)| json!({ "token": text(b), "logprob": lp, "bytes": b })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>() }),
            Kind::Completion => {
                let mut at = offset;
                let offsets: Vec<usize> = entries
                    .iter()
                    .map(|e| {
                        let o = at;
                        at += e.bytes.len();
                        o
                    })
                    .collect();
                json!({
                    "tokens": entries.iter().map(|e| text(&e.bytes)).collect::<Vec<_>>(),
                    "token_logprobs": entries.iter().map(|e| e.logprob).collect::<Vec<_>>(),
                    "top_logprobs": entries.iter().map(|e| e.top.iter().map(|(_, b, lp)| (text(b), json!(lp))).collect::<serde_json::Map<_, _>>()).collect::<Vec<_>>(),
                    "text_offset": offsets,
                })
            }
        }
    }

    fn chunk(&self, text: Option<&str>, finish: Option<&str>, first: bool) -> Value {
        let choice = match self.kind {
            Kind::Chat => {
                let mut delta = json!({});
                if first {
                    delta["role"] = json!("assistant");
                }
                if let Some(t) = text {
                    delta["content"] = json!(t);
                }
                json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish })
            }
            Kind::Completion => {
                json!({ "index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": finish })
            }
        };
        json!({ "id": self.id, "object": self.object(true), "created": self.created, "model": &*self.model,
                "choices": [choice] })
    }

    fn object(&self, streaming: bool) -> &'static str {
        match (self.kind, streaming) {
            (Kind::Chat, true) => "chat.completion.chunk",
            (Kind::Chat, false) => "chat.completion",
            (Kind::Completion, _) => "text_completion",
        }
    }

    fn whole(&self, text: String, finish: &str, usage: strata_infer::Usage, logprobs: &[TokenLogprob]) -> Value {
        let lp = self.logprobs(logprobs, 0);
        let choice = match self.kind {
            Kind::Chat => json!({ "index": 0, "message": { "role": "assistant", "content": text },
                                  "logprobs": lp, "finish_reason": finish }),
            Kind::Completion => json!({ "index": 0, "text": text, "logprobs": lp, "finish_reason": finish }),
        };
        json!({ "id": self.id, "object": self.object(false), "created": self.created, "model": &*self.model,
                "choices": [choice], "usage": usage_json(usage) })
    }
}

/// `POST /v1/embeddings`: mean-pooled, unit-length vectors from the served model.
async fn embeddings(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    use base64::Engine as _;
    let req = parse_embeddings(&body)?;
    if req.model != *s.model {
        return Err(ApiError::UnknownModel(req.model));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    s.jobs.try_send(Work::Embed(EmbedJob { inputs: req.inputs, out: tx })).map_err(|e| match e {
        TrySendError::Full(_) => ApiError::Overloaded("the server is at capacity; retry later".into()),
        TrySendError::Disconnected(_) => ApiError::Internal("the engine thread has stopped".into()),
    })?;
    let embeddings = rx.await.map_err(|_| ApiError::Internal("the engine dropped the request".into()))??;
    let tokens = embeddings.tokens;
    let data: Vec<Value> = embeddings
        .vectors
        .iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if req.base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data, "model": &*s.model,
                    "usage": { "prompt_tokens": tokens, "total_tokens": tokens } }))
    .into_response())
}

fn usage_json(u: strata_infer::Usage) -> Value {
    json!({ "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens })
}

async fn generate(s: AppState, g: Generation, kind: Kind) -> Result<Response, ApiError> {
    if g.model != *s.model {
        return Err(ApiError::UnknownModel(g.model));
    }
    let (tx, rx) = unbounded_channel();
    let job = Job {
        prompt: g.prompt,
        max_tokens: g.max_tokens,
        sampling: g.sampling,
        stop: g.stop,
        logprobs: g.logprobs,
        out: tx,
    };
    s.jobs.try_send(Work::Generate(job)).map_err(|e| match e {
        TrySendError::Full(_) => ApiError::Overloaded("the server is at capacity; retry later".into()),
        TrySendError::Disconnected(_) => ApiError::Internal("the engine thread has stopped".into()),
    })?;
    let prefix = if kind == Kind::Chat { "chatcmpl" } else { "cmpl" };
    let frame = Frame {
        id: format!("{prefix}-{}", s.next_id.fetch_add(1, Ordering::Relaxed)),
        model: s.model.clone(),
        created: now_secs(),
        kind,
    };
    if g.stream {
        Ok(Sse::new(sse(rx, frame, g.include_usage)).keep_alive(KeepAlive::default()).into_response())
    } else {
        whole(rx, frame).await
    }
}

/// Waits for the whole completion. Dropping this future (the client left) drops `rx`, which
/// cancels the sequence.
async fn whole(mut rx: UnboundedReceiver<Out>, frame: Frame) -> Result<Response, ApiError> {
    let mut text = String::new();
    let mut logprobs = Vec::new();
    while let Some(out) = rx.recv().await {
        match out {
            Out::Text(t) => text += &t,
            Out::Logprob(lp) => logprobs.push(lp),
            Out::Done { reason, usage } => {
                return Ok(Json(frame.whole(text, reason.as_str(), usage, &logprobs)).into_response())
            }
            Out::Error(e) => return Err(e),
        }
    }
    Err(ApiError::Internal("the engine dropped the request".into()))
}

/// OpenAI's stream: a role chunk, text chunks, a finish chunk, optionally a usage chunk, then
/// `[DONE]`. An error after the stream started is sent as an error envelope, then `[DONE]`.
fn sse(
    rx: UnboundedReceiver<Out>,
    frame: Frame,
    include_usage: bool,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let first = SseEvent::default().data(frame.chunk(None, None, true).to_string());
    let first = if frame.kind == Kind::Chat { vec![first] } else { Vec::new() };
    // State: the receiver (gone after the last event), log-probabilities waiting for the text
    // they belong to, and the completion's byte offset so far (for `text_offset`).
    let rest = stream::unfold((Some(rx), Vec::new(), 0usize), move |(rx, mut pending, offset)| {
        let frame = frame.clone();
        async move {
            let mut rx = rx?;
            let with_logprobs = |mut chunk: Value, pending: &mut Vec<TokenLogprob>, offset: usize| {
                if !pending.is_empty() {
                    chunk["choices"][0]["logprobs"] = frame.logprobs(pending, offset);
                    pending.clear();
                }
                chunk
            };
            let events = match rx.recv().await {
                Some(Out::Logprob(lp)) => {
                    pending.push(lp);
                    return Some((Vec::new(), (Some(rx), pending, offset)));
                }
                Some(Out::Text(t)) => {
                    let chunk = with_logprobs(frame.chunk(Some(&t), None, false), &mut pending, offset);
                    return Some((
                        vec![SseEvent::default().data(chunk.to_string())],
                        (Some(rx), pending, offset + t.len()),
                    ));
                }
                Some(Out::Done { reason, usage }) => {
                    let finish = with_logprobs(frame.chunk(None, Some(reason.as_str()), false), &mut pending, offset);
                    let mut events = vec![SseEvent::default().data(finish.to_string())];
                    if include_usage {
                        let mut chunk = frame.chunk(None, None, false);
                        chunk["choices"] = json!([]);
                        chunk["usage"] = usage_json(usage);
                        events.push(SseEvent::default().data(chunk.to_string()));
                    }
                    events
                }
                Some(Out::Error(e)) => vec![SseEvent::default().data(e.body().to_string())],
                None => vec![SseEvent::default().data(ApiError::Internal(String::new()).body().to_string())],
            };
            let mut events = events;
            events.push(SseEvent::default().data("[DONE]"));
            Some((events, (None, pending, offset)))
        }
    });
    stream::iter(first).chain(rest.flat_map(stream::iter)).map(Ok)
}
