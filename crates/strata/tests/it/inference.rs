//! `strata serve` with the real SmolLM2 model, when the model cache has it (`.ci/run` pulls it):
//! greedy chat, streaming, concurrent streams, a malformed request, a client that leaves.

use crate::harness::{spawn, wait_for};
use futures::future::join_all;
use futures::StreamExt;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

fn models_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    strata_models::models_dir(&home.join(".strata"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `data:` payloads of an SSE stream, read to the end (or until `[DONE]`).
async fn stream_data(response: reqwest::Response) -> Vec<String> {
    let text = response.text().await.unwrap();
    text.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_string).collect()
}

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> f64 {
    let body = http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    body.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(f64::NAN)
}

#[tokio::test]
async fn smollm2_serves_chat_streams_and_cancels() {
    let dir = models_dir();
    if strata_models::registry::resolve(&dir, "smollm2").is_err() {
        eprintln!(
            "skipped: smollm2 is not in the model cache {} — run `strata model pull smollm2` (CI does)",
            dir.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = ["serve", "smollm2", "--port", &port.to_string(), "--threads", "2", "--slots", "4", "--context", "2048"];
    let _server = spawn(&args, &tmp.path().join("serve.log"));
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_for("the model server", Duration::from_secs(60), || {
        let http = http.clone();
        let url = url.clone();
        async move { http.get(format!("{url}/healthz")).send().await.ok().filter(|r| r.status().is_success()) }
    })
    .await;

    // Greedy: the known answer, and the same text twice.
    let chat = json!({ "model": "smollm2", "temperature": 0, "max_tokens": 24,
                       "messages": [{ "role": "system", "content": "You are a helpful assistant." },
                                    { "role": "user", "content": "What is the capital of France?" }] });
    let mut answers = Vec::new();
    for _ in 0..2 {
        let v: Value =
            http.post(format!("{url}/v1/chat/completions")).json(&chat).send().await.unwrap().json().await.unwrap();
        answers.push(v["choices"][0]["message"]["content"].as_str().unwrap().to_string());
        assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{v}");
    }
    assert!(answers[0].contains("Paris"), "{answers:?}");
    assert_eq!(answers[0], answers[1]);

    // A long shared system prompt: the later requests take it from the cache.
    let system = "You are a careful assistant for a travel agency. Answer in one short sentence, \
                  name the city, and never add anything the traveller did not ask for. "
        .repeat(3);
    let ask = |q: &str| {
        json!({ "model": "smollm2", "temperature": 0, "max_tokens": 16,
        "messages": [{ "role": "system", "content": system }, { "role": "user", "content": q }] })
    };
    let reused_before = metric(&http, &url, "strata_infer_prefix_reused_tokens").await;
    let mut replies = Vec::new();
    for q in ["What is the capital of Italy?", "What is the capital of Spain?", "What is the capital of Italy?"] {
        let v: Value =
            http.post(format!("{url}/v1/chat/completions")).json(&ask(q)).send().await.unwrap().json().await.unwrap();
        replies.push(v["choices"][0]["message"]["content"].as_str().unwrap().to_string());
    }
    let reused = metric(&http, &url, "strata_infer_prefix_reused_tokens").await - reused_before;
    assert!(reused >= 60.0, "the system prompt came from the cache twice ({reused} tokens)");
    // Not asserted: that the reused answer is bit-identical to the fresh one. llama.cpp sums
    // attention over cells in cache order, so where a prefix's cells sit can flip a close greedy
    // call (greedy_parity.rs checks the engine against llama.cpp where placement is the same).
    assert!(replies.iter().all(|r| !r.trim().is_empty()), "{replies:?}");

    // A streamed completion ends with a finish reason and [DONE].
    let body = json!({ "model": "smollm2", "prompt": "Once upon a time", "max_tokens": 8, "stream": true });
    let data = stream_data(http.post(format!("{url}/v1/completions")).json(&body).send().await.unwrap()).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "length");

    // Sixteen concurrent streams on four slots, together asking for more KV cache than the 2,048
    // tokens there are: the surplus waits its turn instead of failing, and all complete.
    let streams = (0..16).map(|i| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let body = json!({ "model": "smollm2", "stream": true, "max_tokens": 80, "seed": i,
                               "messages": [{ "role": "user", "content": format!("Count to {}", i + 3) }] });
            let response = http.post(format!("{url}/v1/chat/completions")).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 200);
            stream_data(response).await
        }
    });
    for data in join_all(streams).await {
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
        assert!(data.iter().any(|d| d.contains("\"finish_reason\":\"")), "{data:?}");
    }
    // Every sequence left and returned its reservation (finished caches may stay, retained). The
    // gauges are set at the end of the engine's step, which may be just after a stream's last
    // event went out: they must get there within a few steps, not at once.
    for (name, want) in [
        ("strata_infer_running_sequences", 0.0),
        ("strata_infer_waiting_sequences", 0.0),
        ("strata_infer_kv_used_tokens", 0.0),
        ("strata_infer_kv_reserved_tokens", 0.0),
    ] {
        let settled = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if metric(&http, &url, name).await == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(settled.is_ok(), "{name} is {} after 10 s, not {want}", metric(&http, &url, name).await);
    }

    // A malformed request: 400, OpenAI's envelope, the field named.
    let bad = json!({ "model": "smollm2", "messages": [{ "role": "user", "content": "hi" }], "temperature": 9 });
    let response = http.post(format!("{url}/v1/chat/completions")).json(&bad).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["error"]["param"], "temperature");

    // A client that leaves mid-stream frees its sequence.
    let body = json!({ "model": "smollm2", "stream": true, "max_tokens": 1000,
                       "messages": [{ "role": "user", "content": "Write a long story." }] });
    let response = http.post(format!("{url}/v1/chat/completions")).json(&body).send().await.unwrap();
    let mut chunks = response.bytes_stream();
    chunks.next().await.unwrap().unwrap();
    wait_for("the long sequence to run", Duration::from_secs(30), || {
        let http = http.clone();
        let url = url.clone();
        async move { (metric(&http, &url, "strata_infer_running_sequences").await == 1.0).then_some(()) }
    })
    .await;
    drop(chunks);
    wait_for("the cancelled sequence to leave", Duration::from_secs(30), || {
        let http = http.clone();
        let url = url.clone();
        async move {
            let running = metric(&http, &url, "strata_infer_running_sequences").await;
            let kv = metric(&http, &url, "strata_infer_kv_used_tokens").await;
            let cancelled = metric(&http, &url, "strata_infer_cancelled_sequences_total").await;
            (running == 0.0 && kv == 0.0 && cancelled >= 1.0).then_some(())
        }
    })
    .await;
}
