//! G1: what the gateway adds to a request. Two modes, run by `bench/g1.sh`:
//!
//! - `g1 upstream PORT` — an OpenAI-compatible server that answers at once (a fixed chat
//!   completion, or five chunks, a usage chunk and `[DONE]` when streaming), so that what is
//!   measured through a gateway is the gateway.
//! - `g1 load URL KEY CONCURRENCY REQUESTS STREAM` — `CONCURRENCY` clients on kept-alive
//!   connections send `REQUESTS` chat completions in all; prints one JSON line with the latency
//!   percentiles (µs, to the last byte of the answer) and the throughput.

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use std::time::{Duration, Instant};

const ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"instant","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}"#;

fn stream_body() -> String {
    let mut out = String::new();
    out += r#"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"instant","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#;
    out += "\n\n";
    for word in ["Hello", "!", " How", " can", " I"] {
        out += &format!(
            r#"data: {{"id":"c","object":"chat.completion.chunk","created":1,"model":"instant","choices":[{{"index":0,"delta":{{"content":"{word}"}},"finish_reason":null}}]}}"#
        );
        out += "\n\n";
    }
    out += r#"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"instant","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
    out += "\n\ndata: [DONE]\n\n";
    out
}

async fn chat(body: axum::body::Bytes) -> Response {
    let stream =
        body.windows(13).any(|w| w == b"\"stream\":true") || body.windows(14).any(|w| w == b"\"stream\": true");
    let (content_type, text) =
        if stream { ("text/event-stream", stream_body()) } else { ("application/json", ANSWER.to_string()) };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(text))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn upstream(port: u16) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn load(url: String, key: String, concurrency: usize, requests: usize, stream: bool) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).tcp_nodelay(true).build()?;
    let body = serde_json::json!({
        "model": "instant", "max_tokens": 16, "stream": stream,
        "messages": [{"role": "user", "content": "Say hello in one short sentence, please."}]
    })
    .to_string();
    // Warm the connections first.
    for _ in 0..concurrency.max(4) {
        let _ = send(&client, &url, &key, &body).await;
    }
    let per_client = requests.div_ceil(concurrency);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, key, body) = (client.clone(), url.clone(), key.clone(), body.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                let mut errors = 0u64;
                for _ in 0..per_client {
                    let t = Instant::now();
                    match send(&client, &url, &key, &body).await {
                        Ok(()) => latencies.push(t.elapsed().as_micros() as u64),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(requests);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    println!(
        "{}",
        serde_json::json!({
            "concurrency": concurrency, "stream": stream, "requests": all.len(), "errors": errors,
            "p50_us": percentile(&all, 0.50), "p90_us": percentile(&all, 0.90), "p99_us": percentile(&all, 0.99),
            "max_us": all.last().copied().unwrap_or(0),
            "rps": all.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        })
    );
    Ok(())
}

async fn send(client: &reqwest::Client, url: &str, key: &str, body: &str) -> anyhow::Result<()> {
    let r = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .header(header::CONTENT_TYPE.as_str(), "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    let ok = r.status().is_success();
    let bytes = r.bytes().await?;
    anyhow::ensure!(ok && !bytes.is_empty(), "status not OK");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("upstream") => upstream(args.get(2).and_then(|p| p.parse().ok()).unwrap_or(9100)).await,
        Some("load") if args.len() == 7 => {
            load(args[2].clone(), args[3].clone(), args[4].parse()?, args[5].parse()?, args[6] == "true").await
        }
        _ => anyhow::bail!("usage: g1 upstream PORT | g1 load URL KEY CONCURRENCY REQUESTS STREAM"),
    }
}
