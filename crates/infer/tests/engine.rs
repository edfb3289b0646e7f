//! The engine over a fake backend: batching must not change what a sequence generates, every
//! cache slot must come back, and the KV budget must hold whatever the load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::HashMap;
use strata_infer::{
    Backend, BatchItem, Batcher, BatcherConfig, ChatMessage, Engine, Event, FinishReason, Request, SamplingParams, Work,
};

const VOCAB: u32 = 8;
const EOG: u32 = 7;

/// Logits depend only on the sequence's own cached tokens, as a real model's do, and the backend
/// checks that every slot's positions are filled contiguously.
#[derive(Default)]
struct Fake {
    cache: HashMap<u32, Vec<u32>>,
    calls: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("fake backend: {0}")]
struct FakeError(String);

impl Backend for Fake {
    type Error = FakeError;

    fn decode(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<f32>>, FakeError> {
        self.calls += 1;
        let mut out = Vec::new();
        for item in items {
            let cache = self.cache.entry(item.slot).or_default();
            if cache.len() != item.start_pos {
                return Err(FakeError(format!(
                    "slot {} has {} tokens, got pos {}",
                    item.slot,
                    cache.len(),
                    item.start_pos
                )));
            }
            cache.extend_from_slice(item.tokens);
            if item.want_logits {
                let h = cache.iter().fold(17u32, |h, t| h.wrapping_mul(31).wrapping_add(*t));
                let peak = h % VOCAB;
                out.push((0..VOCAB).map(|t| if t == peak { 5.0 } else { (t as f32) * 0.1 }).collect());
            }
        }
        Ok(out)
    }

    fn release(&mut self, slot: u32) {
        self.cache.remove(&slot);
    }

    fn tokenize(&self, text: &str) -> Result<Vec<u32>, FakeError> {
        Ok(text.bytes().map(|b| u32::from(b) % EOG).collect())
    }

    fn token_bytes(&self, token: u32) -> Vec<u8> {
        vec![b'a' + token as u8]
    }

    fn is_end_of_generation(&self, token: u32) -> bool {
        token == EOG
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, FakeError> {
        Ok(messages.iter().map(|m| format!("{}:{}\n", m.role, m.content)).collect())
    }

    /// Counts of each token, as a vector: equal texts embed equally, and no decode cache is used.
    fn embed(&mut self, tokens: &[u32]) -> Result<Vec<f32>, FakeError> {
        let mut v = vec![0.0; EOG as usize];
        for t in tokens {
            v[*t as usize] += 1.0;
        }
        Ok(v)
    }

    fn embed_limit(&self) -> usize {
        8
    }
}

fn config(kv: usize, step: usize) -> BatcherConfig {
    BatcherConfig { kv_budget_tokens: kv, max_running: 4, max_waiting: 64, step_token_budget: step }
}

fn request(prompt: &str, max_tokens: usize, temperature: f32, seed: u64) -> Request {
    Request {
        prompt: Fake::default().tokenize(prompt).unwrap(),
        max_tokens,
        sampling: SamplingParams { temperature, seed, ..SamplingParams::default() },
        stop: Vec::new(),
    }
}

/// Runs the engine until idle; returns each sequence's text and finish reason, by id.
fn drain(engine: &mut Engine<Fake>) -> HashMap<u64, (String, Option<FinishReason>)> {
    let mut out: HashMap<u64, (String, Option<FinishReason>)> = HashMap::new();
    let mut steps = 0;
    while !engine.is_idle() {
        steps += 1;
        assert!(steps < 10_000, "the engine does not make progress");
        for event in engine.step().unwrap() {
            match event {
                Event::Text { seq, text } => out.entry(seq).or_default().0 += &text,
                Event::Finished { seq, reason, .. } => out.entry(seq).or_default().1 = Some(reason),
            }
        }
        let stats = engine.stats();
        assert!(stats.kv_reserved_tokens <= engine.config().kv_budget_tokens);
        assert!(stats.kv_used_tokens <= stats.kv_reserved_tokens);
    }
    out
}

fn alone(prompt: &str, max_tokens: usize, temperature: f32, seed: u64, step: usize) -> (String, Option<FinishReason>) {
    let mut engine = Engine::new(Fake::default(), config(200, step));
    let id = engine.submit(request(prompt, max_tokens, temperature, seed)).unwrap();
    drain(&mut engine).remove(&id).unwrap_or_default()
}

#[test]
fn a_greedy_sequence_generates_the_same_text_alone_and_in_a_batch() {
    let prompts = ["hello there", "a much longer prompt that needs several prefill chunks", "x", "fourth"];
    let mut engine = Engine::new(Fake::default(), config(200, 8));
    let ids: Vec<u64> = prompts.iter().map(|p| engine.submit(request(p, 12, 0.0, 0)).unwrap()).collect();
    let together = drain(&mut engine);
    for (id, prompt) in ids.iter().zip(prompts) {
        assert_eq!(together[id], alone(prompt, 12, 0.0, 0, 64), "prompt {prompt:?}");
        assert!(together[id].1.is_some());
    }
    assert!(engine.backend().cache.is_empty(), "every slot released");
}

#[test]
fn same_seed_same_text_at_any_temperature() {
    assert_eq!(alone("seeded", 20, 0.9, 42, 4), alone("seeded", 20, 0.9, 42, 64));
}

#[test]
fn max_tokens_ends_with_length() {
    let (text, reason) = alone("abc", 3, 0.0, 0, 64);
    assert!(text.len() <= 3);
    assert!(matches!(reason, Some(FinishReason::Length) | Some(FinishReason::Stop)));
}

#[test]
fn embeddings_between_steps_leave_running_sequences_untouched() {
    let mut engine = Engine::new(Fake::default(), config(200, 4));
    let id = engine.submit(request("a prompt being decoded", 12, 0.0, 0)).unwrap();
    let mut text = String::new();
    let mut steps = 0;
    while !engine.is_idle() {
        if steps == 2 {
            // Longer than the fake's limit of 8 tokens: cut to it.
            let e = engine.embed(&["abc".into(), "abcdefghijkl".into()]).unwrap();
            assert_eq!((e.vectors.len(), e.tokens), (2, 3 + 8));
            assert_eq!(e.vectors[1].iter().sum::<f32>(), 8.0);
        }
        steps += 1;
        for event in engine.step().unwrap() {
            if let Event::Text { seq, text: t } = event {
                assert_eq!(seq, id);
                text += &t;
            }
        }
    }
    assert_eq!(text, alone("a prompt being decoded", 12, 0.0, 0, 4).0);
}

#[test]
fn a_cancelled_sequence_frees_its_slot_at_once() {
    let mut engine = Engine::new(Fake::default(), config(200, 64));
    let id = engine.submit(request("cancel me", 50, 0.0, 0)).unwrap();
    engine.step().unwrap();
    assert_eq!(engine.stats().running, 1);
    engine.cancel(id);
    assert_eq!(engine.stats(), Default::default());
    assert!(engine.backend().cache.is_empty());
}

#[test]
fn requests_beyond_the_cache_queue_instead_of_failing() {
    let mut engine = Engine::new(Fake::default(), config(40, 64));
    let ids: Vec<u64> = (0..6).map(|i| engine.submit(request(&format!("prompt {i}"), 20, 0.0, 0)).unwrap()).collect();
    assert_eq!(engine.stats().waiting, 6);
    let done = drain(&mut engine);
    assert!(ids.iter().all(|id| done[id].1.is_some()), "all finish in turn");
}

#[derive(Debug, Clone)]
enum Op {
    Submit { prompt_len: usize, max_new: usize },
    Step,
    Finish(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..40, 0usize..30).prop_map(|(prompt_len, max_new)| Op::Submit { prompt_len, max_new }),
        Just(Op::Step),
        Just(Op::Step),
        (0usize..20).prop_map(Op::Finish),
    ]
}

proptest! {
    /// The KV budget is never exceeded, every prompt token is prefilled exactly once and in order,
    /// and every submitted sequence is waiting, running or finished — never lost.
    #[test]
    fn the_batcher_keeps_its_books(ops in prop::collection::vec(op(), 1..200), step_budget in 1usize..32) {
        let cfg = BatcherConfig { kv_budget_tokens: 64, max_running: 3, max_waiting: 5, step_token_budget: step_budget };
        let mut b = Batcher::new(cfg);
        let mut submitted: Vec<(u64, usize)> = Vec::new();
        let mut prefilled: HashMap<u64, usize> = HashMap::new();
        let mut finished = 0usize;
        for op in ops {
            match op {
                Op::Submit { prompt_len, max_new } => {
                    let id = submitted.len() as u64 + 1;
                    if b.submit(id, prompt_len, max_new).is_ok() {
                        submitted.push((id, prompt_len));
                    }
                }
                Op::Step => {
                    let plan = b.plan();
                    let decodes = plan.work.iter().filter(|w| matches!(w, Work::Decode { .. })).count();
                    prop_assert!(plan.tokens() <= step_budget.max(decodes));
                    for w in &plan.work {
                        if let Work::Prefill { seq, start, len, last } = *w {
                            let done = prefilled.entry(seq).or_default();
                            prop_assert_eq!(*done, start);
                            *done += len;
                            let prompt_len = submitted.iter().find(|s| s.0 == seq).map(|s| s.1).unwrap();
                            prop_assert_eq!(last, *done == prompt_len);
                        }
                    }
                    b.commit(&plan);
                }
                Op::Finish(i) => {
                    if let Some(&(id, _)) = submitted.get(i) {
                        let was_there = b.running_len() + b.waiting_len();
                        b.finish(id);
                        finished += was_there - (b.running_len() + b.waiting_len());
                    }
                }
            }
            prop_assert!(b.kv_reserved() <= 64);
            prop_assert!(b.kv_used() <= b.kv_reserved());
            prop_assert!(b.running_len() <= 3 && b.waiting_len() <= 5);
            prop_assert_eq!(submitted.len(), b.running_len() + b.waiting_len() + finished);
        }
    }
}
