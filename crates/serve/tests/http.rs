//! The router in-process over a fake model: OpenAI's shapes, streaming, errors naming the field,
//! and a dropped client freeing its sequence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use strata_infer::{Backend, BatchItem, BatcherConfig, ChatMessage, Engine};
use strata_serve::{app, start, AppState, ServeConfig};
use tower::ServiceExt;

/// Always answers "ab" then ends, whatever the prompt; slow enough to observe a cancel.
struct Fake {
    positions: std::collections::HashMap<u32, usize>,
    slow: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("fake")]
struct FakeError;

impl Backend for Fake {
    type Error = FakeError;
    type Saved = usize;

    fn decode(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<f32>>, FakeError> {
        if self.slow {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut out = Vec::new();
        for item in items {
            let n = self.positions.entry(item.slot).or_default();
            *n = item.start_pos + item.tokens.len();
            if item.want_logits {
                // After the prompt: 'a', 'b', then end — unless slow, which never ends.
                let generated = item.tokens.last().copied().unwrap_or(0);
                let next = match generated {
                    1 => 2,
                    2 if !self.slow => 3,
                    2 => 1,
                    _ => 1,
                };
                out.push((0..4).map(|t| if t == next { 100.0 } else { 0.0 }).collect());
            }
        }
        Ok(out)
    }

    fn release(&mut self, slot: u32) {
        self.positions.remove(&slot);
    }

    fn copy_prefix(&mut self, _from: u32, to: u32, len: usize) -> Result<(), FakeError> {
        self.positions.insert(to, len);
        Ok(())
    }

    fn truncate(&mut self, slot: u32, len: usize) -> Result<(), FakeError> {
        self.positions.insert(slot, len);
        Ok(())
    }

    fn save(&mut self, slot: u32) -> Result<Option<(usize, usize)>, FakeError> {
        let n = self.positions.get(&slot).copied().unwrap_or(0);
        Ok(Some((n, n)))
    }

    fn restore(&mut self, saved: &usize, slot: u32) -> Result<(), FakeError> {
        self.positions.insert(slot, *saved);
        Ok(())
    }

    fn tokenize(&self, text: &str) -> Result<Vec<u32>, FakeError> {
        Ok(text.bytes().map(|_| 0).collect())
    }

    fn token_bytes(&self, token: u32) -> Vec<u8> {
        vec![b'a' + token as u8 - 1]
    }

    fn is_end_of_generation(&self, token: u32) -> bool {
        token == 3
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, FakeError> {
        Ok(messages.iter().map(|m| m.content.clone()).collect())
    }

    /// The input's length, as a two-dimensional unit vector family.
    fn embed(&mut self, tokens: &[u32]) -> Result<Vec<f32>, FakeError> {
        Ok(vec![tokens.len() as f32, 1.0])
    }

    fn embed_limit(&self) -> usize {
        64
    }
}

fn state(slow: bool) -> AppState {
    let engine = Engine::new(
        Fake { positions: Default::default(), slow },
        BatcherConfig { kv_budget_tokens: 256, max_running: 4, max_waiting: 8, step_token_budget: 64 },
    );
    let config = ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        model: "fake".into(),
        job_queue: 8,
        default_max_tokens: 32,
        chat_template: None,
    };
    start(engine, &config).unwrap().0
}

async fn post(state: &AppState, path: &str, body: Value) -> (StatusCode, String) {
    let request =
        Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn chat(extra: Value) -> Value {
    let mut body = json!({ "model": "fake", "messages": [{ "role": "user", "content": "hi" }] });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn a_chat_completion_has_openai_shape() {
    let s = state(false);
    let (status, body) = post(&s, "/v1/chat/completions", chat(json!({ "temperature": 0 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "ab");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"], json!({ "prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5 }));
    // Three forward passes: the 2-token prompt (sampling the first token), then two decodes.
    let m = s.metrics.render();
    assert!(m.contains("strata_infer_step_tokens_sum 4.0") && m.contains("strata_infer_step_tokens_count 3"), "{m}");
    assert!(m.contains("strata_infer_step_seconds_count 3"), "{m}");
}

#[tokio::test]
async fn a_stream_sends_role_text_finish_usage_and_done() {
    let s = state(false);
    let body = chat(json!({ "stream": true, "stream_options": { "include_usage": true } }));
    let (status, text) = post(&s, "/v1/chat/completions", body).await;
    assert_eq!(status, StatusCode::OK);
    let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "ab");
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[chunks.len() - 1]["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn completions_stop_at_max_tokens() {
    let s = state(false);
    let (status, body) = post(&s, "/v1/completions", json!({ "model": "fake", "prompt": "x", "max_tokens": 1 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["choices"][0]["text"].as_str(), v["choices"][0]["finish_reason"].as_str()),
        (Some("a"), Some("length"))
    );
}

#[tokio::test]
async fn errors_use_the_openai_envelope_and_name_the_field() {
    let s = state(false);
    let (status, body) = post(&s, "/v1/chat/completions", chat(json!({ "temprature": 0 }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["param"], "temprature");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("unknown field"));

    let (status, body) = post(&s, "/v1/chat/completions", chat(json!({ "max_tokens": 100000 }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["param"], "max_tokens");

    let (status, _) = post(&s, "/v1/chat/completions", json!({ "model": "other", "messages": [] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "validation comes before the model check");
    let (status, body) = post(&s, "/v1/completions", json!({ "model": "other", "prompt": "x" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_dropped_client_frees_its_sequence() {
    let s = state(true);
    let request = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(chat(json!({ "stream": true, "max_tokens": 200 })).to_string()))
        .unwrap();
    let response = app(s.clone()).oneshot(request).await.unwrap();
    let mut body = response.into_body();
    let _first = body.frame().await.unwrap().unwrap();
    let _second = body.frame().await.unwrap().unwrap();
    let mut running = false;
    for _ in 0..100 {
        if s.metrics.render().contains("strata_infer_running_sequences 1") {
            running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(running, "{}", s.metrics.render());
    drop(body);
    let mut freed = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let m = s.metrics.render();
        if m.contains("strata_infer_running_sequences 0") && m.contains("strata_infer_kv_used_tokens 0") {
            freed = true;
            break;
        }
    }
    assert!(freed, "{}", s.metrics.render());
    assert!(s.metrics.render().contains("strata_infer_cancelled_sequences_total 1"));
}

#[tokio::test]
async fn models_health_and_metrics_answer() {
    let s = state(false);
    let response = app(s.clone()).oneshot(Request::get("/v1/models").body(Body::empty()).unwrap()).await.unwrap();
    let v: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["data"][0]["id"], "fake");
    let response = app(s.clone()).oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(s.metrics.render().contains("strata_infer_kv_capacity_tokens 256"));
}

#[tokio::test]
async fn embeddings_come_as_floats_or_base64_with_usage() {
    let s = state(false);
    let (status, body) = post(&s, "/v1/embeddings", json!({ "model": "fake", "input": ["abc", "abcdef"] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"][0]["embedding"], json!([3.0, 1.0]));
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["usage"]["prompt_tokens"], 9);
    // OpenAI's Python client asks for base64: little-endian f32s.
    let (_, body) =
        post(&s, "/v1/embeddings", json!({ "model": "fake", "input": "ab", "encoding_format": "base64" })).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"][0]["embedding"], json!("AAAAQAAAgD8="));
    for (bad, param) in [
        (json!({ "model": "fake", "input": [] }), "input"),
        (json!({ "model": "fake", "input": ["x", ""] }), "input[1]"),
        (json!({ "model": "fake", "input": "x", "encoding_format": "hex" }), "encoding_format"),
        (json!({ "model": "fake", "input": "x", "dimensions": 8 }), "dimensions"),
    ] {
        let (status, body) = post(&s, "/v1/embeddings", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["param"], param, "{body}");
    }
}

#[tokio::test]
async fn logprobs_come_in_openais_shapes_streamed_or_not() {
    let s = state(false);
    let (status, body) = post(&s, "/v1/chat/completions", chat(json!({ "logprobs": true, "top_logprobs": 2 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let content = v["choices"][0]["logprobs"]["content"].as_array().unwrap();
    assert_eq!(content.len() as u64, v["usage"]["completion_tokens"].as_u64().unwrap());
    assert_eq!(content[0]["token"], "a");
    assert_eq!(content[0]["top_logprobs"].as_array().unwrap().len(), 2);
    assert!(content[0]["logprob"].as_f64().unwrap() <= 0.0);

    let (_, text) = post(&s, "/v1/chat/completions", chat(json!({ "logprobs": true, "stream": true }))).await;
    let with: usize = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .map(|c| c["choices"][0]["logprobs"]["content"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(with, 3, "every generated token's logprob rode on a chunk: {text}");

    let body = json!({ "model": "fake", "prompt": "hi", "logprobs": 1, "max_tokens": 5 });
    let (_, text) = post(&s, "/v1/completions", body).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let lp = &v["choices"][0]["logprobs"];
    assert_eq!(lp["tokens"].as_array().unwrap().len(), lp["token_logprobs"].as_array().unwrap().len());
    assert_eq!(lp["text_offset"][0], 0);

    for (bad, param) in [
        (chat(json!({ "logprobs": true, "top_logprobs": 21 })), "top_logprobs"),
        (chat(json!({ "top_logprobs": 2 })), "top_logprobs"),
    ] {
        let (status, body) = post(&s, "/v1/chat/completions", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["param"], param);
    }
}
