//! I1: a model server under load, measured from the client side over its OpenAI API (streaming
//! chat), so Strata's server and llama.cpp's (from `llama-cpp-python`) are measured the same way.
//!
//! `i1 URL MODEL CONCURRENCY REQUESTS SYSTEM_WORDS MAX_TOKENS` sends `REQUESTS` streamed chat
//! completions from `CONCURRENCY` clients; every request carries the same system prompt of about
//! `SYSTEM_WORDS` words (0 for none) and its own question. Prints one JSON line: time to first
//! token (p50, p90), the aggregate completion tokens per second, prompt tokens per second of the
//! first request (TTFT-bound), and per-stream generation speed. With `I1_UNIQUE=1` every request's
//! system prompt is different, so no server can reuse one.
//!
//! Questions carry a tag drawn per run: run after run on one server, request `i` would otherwise
//! ask exactly what it asked before, and a server that keeps old prompts (llama-server saves every
//! slot's cache to RAM) answers it from cache. That measured 78 ms TTFT at concurrency 8 on a
//! second identical run against 362 ms on the first; the cells without a system prompt are meant
//! to measure fresh prompts.

use futures::StreamExt;
use std::time::{Duration, Instant};

const WORDS: &[&str] = &[
    "the",
    "traveller",
    "asked",
    "about",
    "trains",
    "between",
    "cities",
    "and",
    "the",
    "agent",
    "answered",
    "with",
    "care",
    "naming",
    "times",
    "prices",
    "platforms",
    "and",
    "the",
    "rules",
    "for",
    "luggage",
    "on",
    "each",
    "line",
];

fn system_prompt(words: usize) -> String {
    (0..words).map(|i| WORDS[i % WORDS.len()]).collect::<Vec<_>>().join(" ")
}

struct Sample {
    ttft: Duration,
    total: Duration,
    prompt_tokens: u64,
    completion_tokens: u64,
}

struct Run {
    url: String,
    model: String,
    system: String,
    /// Makes this run's questions its own (see the module's note).
    tag: u32,
    max_tokens: u64,
}

async fn one(client: &reqwest::Client, run: &Run, i: usize, max_tokens: u64) -> anyhow::Result<Sample> {
    let Run { url, model, system, tag, .. } = run;
    let mut messages = Vec::new();
    if !system.is_empty() {
        // I1_UNIQUE: every request's system prompt differs from its first word on, so nothing is
        // reused (for single-stream prompt speed).
        let content =
            if std::env::var_os("I1_UNIQUE").is_some() { format!("{tag}-{i} {system}") } else { system.to_string() };
        messages.push(serde_json::json!({"role": "system", "content": content}));
    }
    messages.push(serde_json::json!({"role": "user", "content": format!("Question {tag}-{i}: which train leaves first from platform {}?", i % 9)}));
    let body = serde_json::json!({
        "model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "seed": i,
        "stream": true, "stream_options": {"include_usage": true}
    });
    let started = Instant::now();
    let response = client.post(format!("{url}/v1/chat/completions")).json(&body).send().await?;
    anyhow::ensure!(response.status().is_success(), "status {}", response.status());
    let mut stream = response.bytes_stream();
    let (mut ttft, mut chunks, mut usage) = (None, 0u64, None);
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk?);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            let Some(data) = text.trim().strip_prefix("data:") else { continue };
            let data = data.trim();
            if data == "[DONE]" {
                continue;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else { continue };
            if v["choices"][0]["delta"]["content"].as_str().is_some_and(|c| !c.is_empty()) {
                ttft.get_or_insert_with(|| started.elapsed());
                chunks += 1;
            }
            if v["usage"].is_object() {
                usage = Some((
                    v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                    v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
                ));
            }
        }
    }
    let total = started.elapsed();
    // A server whose usage chunk says 0 (or is missing) is counted by its content chunks: one
    // token per chunk is how both servers stream.
    let (prompt_tokens, completion_tokens) = match usage {
        Some((p, c)) if c > 0 => (p, c),
        Some((p, _)) => (p, chunks),
        None => (0, chunks),
    };
    Ok(Sample { ttft: ttft.unwrap_or(total), total, prompt_tokens, completion_tokens })
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(((v.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    anyhow::ensure!(a.len() == 7, "usage: i1 URL MODEL CONCURRENCY REQUESTS SYSTEM_WORDS MAX_TOKENS");
    let (url, model) = (a[1].clone(), a[2].clone());
    let (concurrency, requests, words, max_tokens): (usize, usize, usize, u64) =
        (a[3].parse()?, a[4].parse()?, a[5].parse()?, a[6].parse()?);
    // The clock's nanoseconds: a different tag each run without a random-number crate.
    let tag = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos() % 100_000;
    let run = std::sync::Arc::new(Run { url, model, system: system_prompt(words), tag, max_tokens });
    // A fresh connection per request: llama-server (cpp-httplib) closes a keep-alive connection
    // after a few requests, and a pooled client racing that close sees 'connection closed before
    // message completed'. A loopback connect costs both servers the same ~0.1 ms.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    // One warm-up request (and, with a system prompt, the first sight of it).
    one(&client, &run, 10_000, 4).await?;
    let started = Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, run, next) = (client.clone(), run.clone(), next.clone());
            tokio::spawn(async move {
                let (mut samples, mut errors) = (Vec::new(), Vec::new());
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= requests {
                        return (samples, errors);
                    }
                    match one(&client, &run, i, run.max_tokens).await {
                        Ok(s) => samples.push(s),
                        Err(e) => errors.push(format!("{e:#}")),
                    }
                }
            })
        })
        .collect();
    let (mut samples, mut errors) = (Vec::new(), Vec::new());
    for w in workers {
        let (s, e) = w.await?;
        samples.extend(s);
        errors.extend(e);
    }
    if let Some(first) = errors.first() {
        eprintln!("i1: {} of {requests} requests failed; the first: {first}", errors.len());
    }
    let wall = started.elapsed().as_secs_f64();
    let completion: u64 = samples.iter().map(|s| s.completion_tokens).sum();
    let ttft: Vec<f64> = samples.iter().map(|s| s.ttft.as_secs_f64() * 1000.0).collect();
    let gen_speed: Vec<f64> = samples
        .iter()
        .filter(|s| s.completion_tokens > 1 && s.total > s.ttft)
        .map(|s| (s.completion_tokens - 1) as f64 / (s.total - s.ttft).as_secs_f64())
        .collect();
    let prompt_speed: Vec<f64> =
        samples.iter().filter(|s| s.prompt_tokens > 0).map(|s| s.prompt_tokens as f64 / s.ttft.as_secs_f64()).collect();
    println!(
        "{}",
        serde_json::json!({
            "concurrency": concurrency, "requests": samples.len(), "errors": errors.len(), "system_words": words,
            "ttft_p50_ms": pct(ttft.clone(), 0.5), "ttft_p90_ms": pct(ttft, 0.9),
            "completion_tokens_per_s": completion as f64 / wall,
            "stream_gen_tokens_per_s_p50": pct(gen_speed, 0.5),
            "prompt_tokens_per_s_p50": pct(prompt_speed, 0.5),
            "mean_prompt_tokens": samples.iter().map(|s| s.prompt_tokens).sum::<u64>() as f64 / samples.len().max(1) as f64,
        })
    );
    Ok(())
}
