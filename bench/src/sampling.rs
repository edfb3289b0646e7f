//! The sampler's cost per token over a whole vocabulary (SmolLM2's 49,152 and Gemma 3's 262,144
//! tokens), for the parameter sets clients send most: OpenAI's default temperature 1, a top-p
//! cut, and llama.cpp's default chain. Part of I1: at ~100 tokens/s a millisecond here is a tenth
//! of the decode step.
//!
//!   cargo run --release -p strata-bench --bin sampling

use std::time::Instant;
use strata_infer::{Sampler, SamplingParams};

/// A model-like distribution: a few large logits over a long flat tail (xorshift, fixed seed).
fn logits(vocab: usize) -> Vec<f32> {
    let mut x = 12_345u64;
    (0..vocab)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 40) as f32 / (1u64 << 24) as f32;
            u * u * u * 20.0 - 5.0
        })
        .collect()
}

fn main() {
    let sets = [
        ("temperature 1", SamplingParams { temperature: 1.0, ..SamplingParams::default() }),
        ("temperature 0.7, top_p 0.9", SamplingParams { temperature: 0.7, top_p: 0.9, ..SamplingParams::default() }),
        (
            "top_k 40, top_p 0.95, min_p 0.05, temperature 0.8",
            SamplingParams { temperature: 0.8, top_k: 40, top_p: 0.95, min_p: 0.05, ..SamplingParams::default() },
        ),
    ];
    println!("| vocabulary | parameters | ms per token (median of 5 × 100) |");
    println!("| --- | --- | --- |");
    for vocab in [49_152usize, 262_144] {
        let logits = logits(vocab);
        for (name, params) in &sets {
            let mut sampler = Sampler::new(params.clone());
            let mut runs: Vec<f64> = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..100 {
                        std::hint::black_box(sampler.sample(&logits, &[]));
                    }
                    start.elapsed().as_secs_f64() * 1e3 / 100.0
                })
                .collect();
            runs.sort_by(f64::total_cmp);
            println!("| {vocab} | {name} | {:.3} |", runs[2]);
        }
    }
}
