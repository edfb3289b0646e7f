//! The real llama.cpp path on a tiny model the test writes itself (random weights, a byte-level
//! vocabulary, GGUF): loading, tokenizing, batched decoding equal to llama.cpp's own greedy
//! decoding, and `strata serve` over HTTP — chat, streams, embeddings, a client that leaves —
//! with nothing downloaded.

use crate::harness::{spawn, wait_for};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use strata_infer::{Backend, BatcherConfig, Engine, Event, Request, SamplingParams};
use strata_infer_llama::{reference_greedy, LlamaConfig, LlamaCpp};
use strata_models::tiny::TinyArch;

fn tiny() -> (tempfile::TempDir, std::path::PathBuf) {
    tiny_of(TinyArch::Llama)
}

fn tiny_of(arch: TinyArch) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    strata_models::tiny::write_tiny(&path, 42, arch).unwrap();
    (dir, path)
}

#[test]
fn a_tiny_llama_decodes_in_batches_exactly_as_llama_cpp_does() {
    decodes_in_batches_exactly_as_llama_cpp_does(TinyArch::Llama);
}

#[test]
fn a_tiny_qwen2_decodes_in_batches_exactly_as_llama_cpp_does() {
    decodes_in_batches_exactly_as_llama_cpp_does(TinyArch::Qwen2);
}

#[test]
fn a_tiny_gemma3_decodes_in_batches_exactly_as_llama_cpp_does() {
    decodes_in_batches_exactly_as_llama_cpp_does(TinyArch::Gemma3);
}

/// Greedy tokens of `prompt` through `engine` (end of generation left out), as llama.cpp's
/// reference reports them.
fn greedy(engine: &mut Engine<LlamaCpp>, prompt: &str, max_tokens: usize) -> Vec<u32> {
    let prompt = engine.backend().tokenize(prompt).unwrap();
    let sampling = SamplingParams { temperature: 0.0, ..SamplingParams::default() };
    let id = engine.submit(Request { prompt, max_tokens, sampling, stop: Vec::new(), logprobs: Some(0) }).unwrap();
    let mut tokens = Vec::new();
    while !engine.is_idle() {
        for event in engine.step().unwrap() {
            if let Event::Logprob { seq, logprob } = event {
                if seq == id && !engine.backend().is_end_of_generation(logprob.token) {
                    tokens.push(logprob.token);
                }
            }
        }
    }
    tokens
}

/// The real engine on `path`: two slots over a 1,024-token cache, 8-token steps.
fn two_slot_engine(path: &std::path::Path) -> Engine<LlamaCpp> {
    let config = LlamaConfig { threads: 1, slots: 2, context_tokens: 1024, batch_tokens: 8 };
    let (backend, _) = LlamaCpp::load(path, config).unwrap();
    Engine::new(backend, BatcherConfig { kv_budget_tokens: 1024, max_running: 2, max_waiting: 8, step_token_budget: 8 })
}

/// Greedy tokens (end of generation left out) of every request in `prompts`, run together.
fn greedy_together(engine: &mut Engine<LlamaCpp>, prompts: &[(&str, usize)]) -> Vec<Vec<u32>> {
    let sampling = SamplingParams { temperature: 0.0, ..SamplingParams::default() };
    let ids: Vec<u64> = prompts
        .iter()
        .map(|(p, max_tokens)| {
            let prompt = engine.backend().tokenize(p).unwrap();
            let sampling = sampling.clone();
            engine
                .submit(Request { prompt, max_tokens: *max_tokens, sampling, stop: Vec::new(), logprobs: Some(0) })
                .unwrap()
        })
        .collect();
    let mut tokens: HashMap<u64, Vec<u32>> = HashMap::new();
    while !engine.is_idle() {
        for event in engine.step().unwrap() {
            if let Event::Logprob { seq, logprob } = event {
                if !engine.backend().is_end_of_generation(logprob.token) {
                    tokens.entry(seq).or_default().push(logprob.token);
                }
            }
        }
    }
    ids.iter().map(|id| tokens.remove(id).unwrap_or_default()).collect()
}

/// A finished sequence's cache is saved out of llama.cpp's KV cache (no cell held while idle)
/// and restored into another slot for a later sequence that starts alike — beside a running one
/// it must not disturb — and both say what llama.cpp's reference says.
#[test]
fn a_tiny_llama_restores_a_saved_prefix_exactly() {
    let (_dir, path) = tiny();
    let mut engine = two_slot_engine(&path);
    let system = "You are a careful assistant who answers in one short line. ";
    greedy(&mut engine, &format!("{system}What is rain?"), 6);
    let stats = engine.stats();
    assert!(stats.prefix_saved_tokens > system.len() && stats.kv_retained_tokens == 0, "{stats:?}");
    assert!(stats.prefix_saved_bytes > 0);
    // The first request takes the slot the copy came from; the second gets the copy in the other.
    let (other, prompt) = ("Something else entirely, to take the slot.", format!("{system}What is snow?"));
    let got = greedy_together(&mut engine, &[(other, 20), (&prompt, 12)]);
    assert!(engine.stats().reused_tokens >= system.len() as u64, "{:?}", engine.stats());
    assert_eq!(got[0], reference_greedy(&path, other, 20, 1).unwrap());
    assert_eq!(got[1], reference_greedy(&path, &prompt, 12, 1).unwrap());
}

/// A sliding-window model's sequence inside its window is saved whole and restored exactly.
#[test]
fn a_tiny_gemma3_saves_a_sequence_inside_its_window() {
    let (_dir, path) = tiny_of(TinyArch::Gemma3);
    let mut engine = two_slot_engine(&path);
    // 5 prompt tokens and one generated one cached: within the 8-token window.
    greedy(&mut engine, "abcde", 2);
    assert!(engine.stats().prefix_saved_tokens >= 5, "{:?}", engine.stats());
    assert_eq!(greedy(&mut engine, "abcdeXYZ", 6), reference_greedy(&path, "abcdeXYZ", 6, 1).unwrap());
    assert!(engine.stats().reused_tokens >= 5, "{:?}", engine.stats());
}

/// A sliding-window model's prefix reuse: Strata keeps llama.cpp's context default `swa_full`
/// (the windowed layers' cache full-size), so a prefix far longer than the window is still whole
/// and is reused, saying what llama.cpp's reference says. (A window-sized cache would have
/// forgotten it; the engine's tests cover refusing what a cache forgot.)
#[test]
fn a_tiny_gemma3_reuses_a_prefix_longer_than_its_window() {
    let (_dir, path) = tiny_of(TinyArch::Gemma3);
    // Two slots: a windowed cache would be 256 cells (the window times the slots plus a batch,
    // rounded up), which a 312-token prompt overflows.
    let mut engine = two_slot_engine(&path);
    engine.set_prefix_cache_tokens(1000);
    let long: String = "the lazy dog sleeps while the quick brown fox runs. ".repeat(6);
    assert!(long.len() >= 300);
    greedy(&mut engine, &long, 1);
    // (Reuse takes the slot over and cuts it to the shared part: the longer share goes first.)
    for (prompt, shared) in [(format!("{}?", &long[..300]), 300), (format!("{} and then?", &long[..40]), 40)] {
        let reused = engine.stats().reused_tokens;
        assert_eq!(greedy(&mut engine, &prompt, 12), reference_greedy(&path, &prompt, 12, 1).unwrap(), "{shared}");
        assert!(engine.stats().reused_tokens - reused >= shared, "{shared}: {:?}", engine.stats());
    }
    assert_eq!(engine.stats().reuse_refused, 0, "the windowed layers' cache is full-size");
    // Longer than its 8-token window, no sequence here could be saved whole: kept in slots.
    assert_eq!(engine.stats().prefix_saved_tokens, 0);
}

fn decodes_in_batches_exactly_as_llama_cpp_does(arch: TinyArch) {
    let (_dir, path) = tiny_of(arch);
    let config = LlamaConfig { threads: 1, slots: 4, context_tokens: 1024, batch_tokens: 8 };
    let (backend, loaded) = LlamaCpp::load(&path, config).unwrap();
    assert_eq!(loaded.vocab, 259);
    // One token per byte (no merges), and the special tokens as themselves.
    assert_eq!(backend.tokenize("hello").unwrap().len(), 5);
    assert_eq!(backend.tokenize("<|im_start|>").unwrap(), vec![257]);
    let prompts = ["The quick brown fox", "jumps over", "the lazy dog, again and again and again"];
    let expected: Vec<Vec<u32>> = prompts.iter().map(|p| reference_greedy(&path, p, 20, 1).unwrap()).collect();
    assert!(expected.iter().any(|e| e.len() > 5), "{arch:?}: llama.cpp's reference says almost nothing: {expected:?}");
    let mut engine = Engine::new(
        backend,
        BatcherConfig { kv_budget_tokens: 1024, max_running: 4, max_waiting: 8, step_token_budget: 8 },
    );
    let ids: Vec<u64> = prompts
        .iter()
        .map(|p| {
            let prompt = engine.backend().tokenize(p).unwrap();
            let sampling = SamplingParams { temperature: 0.0, ..SamplingParams::default() };
            engine.submit(Request { prompt, max_tokens: 20, sampling, stop: Vec::new(), logprobs: Some(0) }).unwrap()
        })
        .collect();
    let mut tokens: HashMap<u64, Vec<u32>> = HashMap::new();
    while !engine.is_idle() {
        for event in engine.step().unwrap() {
            if let Event::Logprob { seq, logprob } = event {
                tokens.entry(seq).or_default().push(logprob.token);
            }
        }
    }
    for (i, id) in ids.iter().enumerate() {
        // The engine also samples the end-of-turn token llama.cpp's reference stops before.
        let got: Vec<u32> = tokens[id].iter().copied().filter(|t| !engine.backend().is_end_of_generation(*t)).collect();
        assert_eq!(got, expected[i], "{arch:?}, prompt {:?}", prompts[i]);
    }
}

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> f64 {
    let body = http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    body.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(f64::NAN)
}

#[test]
fn an_architecture_llama_cpp_does_not_know_is_refused_by_name() {
    let (dir, path) = tiny();
    // Every "llama" becomes "lleme": the header stays consistent (our reader accepts it), but
    // llama.cpp knows no such architecture.
    let bytes = std::fs::read(&path).unwrap();
    let mut patched = bytes.clone();
    for i in 0..bytes.len().saturating_sub(5) {
        if &bytes[i..i + 5] == b"llama" {
            patched[i..i + 5].copy_from_slice(b"lleme");
        }
    }
    let bad = dir.path().join("lleme.gguf");
    std::fs::write(&bad, patched).unwrap();
    assert_eq!(strata_models::inspect(&bad).unwrap().architecture, "lleme");
    let port = crate::journey::free_port().to_string();
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["serve", bad.to_str().unwrap(), "--port", &port, "--threads", "1", "--context", "256"])
        .env("STRATA_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("lleme architecture") && stderr.contains("qwen2"), "{stderr}");
}

#[tokio::test]
async fn strata_serve_runs_a_tiny_model_over_http() {
    let (dir, path) = tiny();
    let port = crate::journey::free_port();
    let args = [
        "serve",
        path.to_str().unwrap(),
        "--name",
        "tiny",
        "--port",
        &port.to_string(),
        "--threads",
        "1",
        "--slots",
        "4",
        "--context",
        "1024",
    ];
    let _server = spawn(&args, &dir.path().join("serve.log"));
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_for("the tiny model server", Duration::from_secs(30), || {
        let (http, url) = (http.clone(), url.clone());
        async move { http.get(format!("{url}/healthz")).send().await.ok().filter(|r| r.status().is_success()) }
    })
    .await;
    let chat =
        json!({"model": "tiny", "max_tokens": 12, "temperature": 0, "messages": [{"role": "user", "content": "hi"}]});
    let v: Value =
        http.post(format!("{url}/v1/chat/completions")).json(&chat).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() >= 1);

    // Sixteen streams at once on four slots: all end with [DONE].
    let streams = (0..16).map(|i| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let body = json!({"model": "tiny", "max_tokens": 24, "seed": i, "stream": true,
                              "messages": [{"role": "user", "content": format!("stream {i}")}]});
            http.post(format!("{url}/v1/chat/completions")).json(&body).send().await.unwrap().text().await.unwrap()
        }
    });
    for text in futures::future::join_all(streams).await {
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    }
    let e: Value = http
        .post(format!("{url}/v1/embeddings"))
        .json(&json!({"model": "tiny", "input": ["a", "b"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(e["data"][1]["embedding"].as_array().unwrap().len(), strata_models::tiny::N_EMBD as usize);

    // A client that leaves mid-stream frees its sequence.
    let body =
        json!({"model": "tiny", "max_tokens": 900, "stream": true, "messages": [{"role": "user", "content": "long"}]});
    let response = http.post(format!("{url}/v1/chat/completions")).json(&body).send().await.unwrap();
    let mut chunks = response.bytes_stream();
    chunks.next().await.unwrap().unwrap();
    drop(chunks);
    wait_for("the cancelled sequence to leave", Duration::from_secs(30), || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let running = metric(&http, &url, "strata_infer_running_sequences").await;
            let reserved = metric(&http, &url, "strata_infer_kv_reserved_tokens").await;
            (running == 0.0 && reserved == 0.0).then_some(())
        }
    })
    .await;
}

#[test]
fn the_data_pipelines_gguf_tokenizer_agrees_with_llama_cpp_on_the_tiny_model() {
    let (_dir, path) = tiny();
    let config = LlamaConfig { threads: 1, slots: 1, context_tokens: 128, batch_tokens: 32 };
    let (backend, _) = LlamaCpp::load(&path, config).unwrap();
    let ours = strata_dataprep::tokenizer_from_gguf(&path).unwrap();
    for text in ["plain words", "Ünïcödé 東京 🙂", "<|im_start|>user\nhi<|im_end|>", "tabs\tand\nlines  "] {
        assert_eq!(ours.encode(text, false).unwrap().get_ids().to_vec(), backend.tokenize(text).unwrap(), "{text:?}");
    }
}
