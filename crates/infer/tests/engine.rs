//! The engine over a fake backend: batching must not change what a sequence generates, every
//! cache slot must come back, and the KV budget must hold whatever the load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::HashMap;
use strata_infer::{
    Backend, BatchItem, Batcher, BatcherConfig, ChatMessage, Engine, Event, FinishReason, Request, SamplingParams,
    StepPolicy, Work,
};

const VOCAB: u32 = 8;
const EOG: u32 = 7;

/// Logits depend only on the sequence's own cached tokens, as a real model's do, and the backend
/// checks that every slot's positions are filled contiguously.
struct Fake {
    cache: HashMap<u32, Vec<u32>>,
    calls: usize,
    /// Tokens run through `decode`, prompt chunks and decodes alike.
    computed: usize,
    /// A sliding-window model: logits depend on the last `window` tokens only, and a slot
    /// forgets what falls out of the window of its latest position (as llama.cpp's windowed
    /// cache may), so a shorter prefix taken from it can miss entries it needs.
    window: Option<usize>,
    /// Per slot, how many of its first entries are forgotten.
    forgotten: HashMap<u32, usize>,
    /// Whether `save` copies a slot out (else finished caches stay in their slots).
    saving: bool,
    /// Whether `restore` fails (as llama.cpp's may when it finds no cells for the copy).
    failing_restore: bool,
}

impl Default for Fake {
    fn default() -> Self {
        Self {
            cache: HashMap::new(),
            calls: 0,
            computed: 0,
            window: None,
            forgotten: HashMap::new(),
            saving: true,
            failing_restore: false,
        }
    }
}

impl Fake {
    fn windowed(window: usize) -> Self {
        Self { window: Some(window), ..Self::default() }
    }

    /// Finished caches stay in their slots (a backend that cannot copy them out).
    fn retaining() -> Self {
        Self { saving: false, ..Self::default() }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("fake backend: {0}")]
struct FakeError(String);

impl Backend for Fake {
    type Error = FakeError;
    type Saved = Vec<u32>;

    fn decode(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<f32>>, FakeError> {
        self.calls += 1;
        let mut out = Vec::new();
        for item in items {
            self.computed += item.tokens.len();
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
            let forgotten = self.forgotten.entry(item.slot).or_default();
            let seen = self.window.map_or(0, |w| cache.len().saturating_sub(w));
            // A forgotten entry the window needs reads as garbage, changing the logits.
            let read = |(i, t): (usize, &u32)| if i < *forgotten { u32::MAX } else { *t };
            let visible: Vec<u32> = cache.iter().enumerate().skip(seen).map(read).collect();
            *forgotten = (*forgotten).max(seen);
            if item.want_logits {
                let h = visible.iter().fold(17u32, |h, t| h.wrapping_mul(31).wrapping_add(*t));
                let peak = h % VOCAB;
                out.push((0..VOCAB).map(|t| if t == peak { 5.0 } else { (t as f32) * 0.1 }).collect());
            }
        }
        Ok(out)
    }

    fn release(&mut self, slot: u32) {
        self.cache.remove(&slot);
        self.forgotten.remove(&slot);
    }

    fn copy_prefix(&mut self, from: u32, to: u32, len: usize) -> Result<(), FakeError> {
        let prefix = self.cache.get(&from).map(|c| c[..len.min(c.len())].to_vec()).unwrap_or_default();
        if prefix.len() != len || self.cache.get(&to).is_some_and(|c| !c.is_empty()) {
            return Err(FakeError(format!("copy {len} from slot {from} into slot {to}: bad state")));
        }
        self.cache.insert(to, prefix);
        let forgotten = self.forgotten.get(&from).copied().unwrap_or(0).min(len);
        self.forgotten.insert(to, forgotten);
        Ok(())
    }

    fn truncate(&mut self, slot: u32, len: usize) -> Result<(), FakeError> {
        let cache = self.cache.entry(slot).or_default();
        if cache.len() < len {
            return Err(FakeError(format!("slot {slot} holds {} tokens, cannot keep {len}", cache.len())));
        }
        cache.truncate(len);
        if let Some(f) = self.forgotten.get_mut(&slot) {
            *f = (*f).min(len);
        }
        Ok(())
    }

    /// Like llama.cpp: a slot that has forgotten part of itself cannot be saved whole.
    fn save(&mut self, slot: u32) -> Result<Option<(Vec<u32>, usize)>, FakeError> {
        if self.forgotten.get(&slot).is_some_and(|f| *f > 0) || !self.saving {
            return Ok(None);
        }
        let tokens = self.cache.get(&slot).cloned().unwrap_or_default();
        let bytes = tokens.len();
        Ok(Some((tokens, bytes)))
    }

    fn restore(&mut self, saved: &Vec<u32>, slot: u32) -> Result<(), FakeError> {
        if self.cache.get(&slot).is_some_and(|c| !c.is_empty()) {
            return Err(FakeError(format!("restore into slot {slot}, which is not empty")));
        }
        if self.failing_restore {
            return Err(FakeError("no room for the copy".into()));
        }
        self.cache.insert(slot, saved.clone());
        self.forgotten.remove(&slot);
        Ok(())
    }

    fn holds_prefix(&self, slot: u32, len: usize) -> bool {
        let forgotten = self.forgotten.get(&slot).copied().unwrap_or(0);
        forgotten <= self.window.map_or(0, |w| len.saturating_sub(w))
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
        logprobs: None,
    }
}

/// Adds a step's events to each sequence's text and finish reason.
fn record(events: Vec<Event>, out: &mut HashMap<u64, (String, Option<FinishReason>)>) {
    for event in events {
        match event {
            Event::Text { seq, text } => out.entry(seq).or_default().0 += &text,
            Event::Finished { seq, reason, .. } => out.entry(seq).or_default().1 = Some(reason),
            Event::Logprob { .. } => {}
        }
    }
}

/// Runs the engine until idle; returns each sequence's text and finish reason, by id.
fn drain(engine: &mut Engine<Fake>) -> HashMap<u64, (String, Option<FinishReason>)> {
    let mut out: HashMap<u64, (String, Option<FinishReason>)> = HashMap::new();
    let mut steps = 0;
    while !engine.is_idle() {
        steps += 1;
        assert!(steps < 10_000, "the engine does not make progress");
        record(engine.step().unwrap(), &mut out);
        let stats = engine.stats();
        assert!(stats.kv_reserved_tokens <= engine.config().kv_budget_tokens);
        assert!(stats.kv_used_tokens <= stats.kv_reserved_tokens);
    }
    out
}

fn alone(prompt: &str, max_tokens: usize, temperature: f32, seed: u64, step: usize) -> (String, Option<FinishReason>) {
    alone_on(Fake::default(), prompt, max_tokens, temperature, seed, step)
}

fn alone_on(
    fake: Fake,
    prompt: &str,
    max_tokens: usize,
    temperature: f32,
    seed: u64,
    step: usize,
) -> (String, Option<FinishReason>) {
    let mut engine = Engine::new(fake, config(200, step));
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
    assert_eq!(engine.stats().kv_used_tokens, 0);
    let held: usize = engine.backend().cache.values().map(Vec::len).sum();
    assert_eq!(held, engine.stats().kv_retained_tokens, "what is left in the cache is retained for reuse");
}

#[test]
fn a_prompt_that_starts_like_a_finished_one_reuses_its_cache_and_says_the_same() {
    let system = "You are a helpful assistant. Answer briefly and politely. ";
    let (a, b) = (format!("{system}What is two plus two?"), format!("{system}Name a colour."));
    let mut engine = Engine::new(Fake::default(), config(400, 16));
    engine.set_prefix_cache_tokens(200);
    let first = engine.submit(request(&a, 8, 0.0, 0)).unwrap();
    let out_a = drain(&mut engine).remove(&first).unwrap();
    // Saved outside the KV cache: no cell holds it while nothing runs.
    assert!(engine.backend().cache.values().all(Vec::is_empty));
    assert!(engine.stats().prefix_saved_tokens >= a.len() && engine.stats().kv_retained_tokens == 0);
    let before = engine.backend().computed;
    let second = engine.submit(request(&b, 8, 0.0, 0)).unwrap();
    let out_b = drain(&mut engine).remove(&second).unwrap();
    let computed = engine.backend().computed - before;
    assert_eq!((out_a, out_b.clone()), (alone(&a, 8, 0.0, 0, 16), alone(&b, 8, 0.0, 0, 16)));
    let reused = engine.stats().reused_tokens as usize;
    assert!(reused >= system.len(), "the system prompt came from the cache ({reused} tokens)");
    assert!(computed <= b.len() - system.len() + 8, "only the new part was prefilled ({computed} tokens)");
}

#[test]
fn a_copy_that_cannot_be_restored_is_prefilled_instead_and_dropped() {
    let system = "You are a helpful assistant. Answer briefly and politely. ";
    let (a, b) = (format!("{system}What is two plus two?"), format!("{system}Name a colour."));
    let mut engine = Engine::new(Fake { failing_restore: true, ..Fake::default() }, config(400, 16));
    let first = engine.submit(request(&a, 8, 0.0, 0)).unwrap();
    drain(&mut engine).remove(&first).unwrap();
    let saved = engine.stats().prefix_saved_tokens;
    let second = engine.submit(request(&b, 8, 0.0, 0)).unwrap();
    assert_eq!(drain(&mut engine).remove(&second).unwrap(), alone(&b, 8, 0.0, 0, 16));
    let s = engine.stats();
    assert_eq!((s.reused_tokens, s.reuse_refused), (0, 1));
    assert!(s.prefix_saved_tokens < saved + b.len(), "the first copy is gone, the second saved: {s:?}");
}

#[test]
fn a_prompt_that_starts_like_a_running_one_copies_its_prefix() {
    let system = "Shared instructions for every user of this application. ";
    let mut engine = Engine::new(Fake::default(), config(400, 64));
    let a = engine.submit(request(&format!("{system}first question"), 30, 0.0, 0)).unwrap();
    let mut early = String::new();
    for _ in 0..2 {
        for event in engine.step().unwrap() {
            if let Event::Text { text, .. } = event {
                early += &text;
            }
        }
    }
    let b = engine.submit(request(&format!("{system}second question"), 5, 0.0, 0)).unwrap();
    let mut out = drain(&mut engine);
    out.get_mut(&a).unwrap().0.insert_str(0, &early);
    assert!(engine.stats().reused_tokens as usize >= system.len());
    assert_eq!(out[&a], alone(&format!("{system}first question"), 30, 0.0, 0, 64));
    assert_eq!(out[&b], alone(&format!("{system}second question"), 5, 0.0, 0, 64));
}

#[test]
fn a_prefix_a_windowed_cache_forgot_is_prefilled_again() {
    let window = 8;
    let system = "Shared opening of twenty";
    let long = format!("{system}, then a long question that runs well past the window");
    let mut engine = Engine::new(Fake::windowed(window), config(400, 64));
    engine.set_prefix_cache_tokens(200);
    let first = engine.submit(request(&long, 1, 0.0, 0)).unwrap();
    drain(&mut engine).remove(&first).unwrap();
    // The retained slot forgot everything but the last window of `long`: the opening is gone.
    let short = format!("{system}?");
    let before = engine.backend().computed;
    let second = engine.submit(request(&short, 4, 0.0, 0)).unwrap();
    let out = drain(&mut engine).remove(&second).unwrap();
    assert_eq!(out, alone_on(Fake::windowed(window), &short, 4, 0.0, 0, 64));
    assert_eq!(engine.stats().reuse_refused, 1);
    assert!(engine.backend().computed - before >= short.len(), "prefilled from scratch");
    // The next turn of the same conversation continues where `long` ended: its window is there.
    let next = format!("{long}!");
    let reused = engine.stats().reused_tokens;
    let third = engine.submit(request(&next, 4, 0.0, 0)).unwrap();
    let out = drain(&mut engine).remove(&third).unwrap();
    assert_eq!(out, alone_on(Fake::windowed(window), &next, 4, 0.0, 0, 64));
    assert_eq!(engine.stats().reused_tokens - reused, long.len() as u64, "all of `long` reused");
}

#[test]
fn retained_prefixes_never_keep_a_request_waiting() {
    // Room for one request at a time: each finished one's cache must be evicted for the next.
    let mut engine = Engine::new(Fake::retaining(), config(40, 64));
    engine.set_prefix_cache_tokens(40);
    for prompt in ["first prompt here", "second prompt, different", "third one"] {
        let id = engine.submit(request(prompt, 10, 0.0, 0)).unwrap();
        let out = drain(&mut engine);
        assert!(out[&id].1.is_some(), "{prompt:?} ran to the end");
        assert!(engine.stats().kv_retained_tokens + engine.stats().kv_reserved_tokens <= 40);
    }
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
fn logprobs_come_before_each_tokens_text_and_only_when_asked() {
    let mut engine = Engine::new(Fake::default(), config(200, 64));
    let plain = engine.submit(request("no logprobs", 4, 0.0, 0)).unwrap();
    let asked = engine.submit(Request { logprobs: Some(3), ..request("with logprobs", 4, 0.0, 0) }).unwrap();
    let mut seen: HashMap<u64, Vec<f32>> = HashMap::new();
    let mut generated = 0;
    while !engine.is_idle() {
        for event in engine.step().unwrap() {
            match event {
                Event::Logprob { seq, logprob } => {
                    assert_eq!(logprob.top.len(), 3);
                    assert!(logprob.top.windows(2).all(|w| w[0].2 >= w[1].2), "most likely first");
                    // Greedy: the chosen token is the most likely one.
                    assert_eq!(logprob.token, logprob.top[0].0);
                    seen.entry(seq).or_default().push(logprob.logprob);
                }
                Event::Finished { seq, usage, .. } if seq == asked => generated = usage.completion_tokens,
                _ => {}
            }
        }
    }
    assert!(!seen.contains_key(&plain));
    assert_eq!(seen[&asked].len(), generated);
    assert!(seen[&asked].iter().all(|lp| *lp <= 0.0));
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
    /// and every submitted sequence is waiting, running or finished — never lost. Under
    /// `PrefillFirst` no decoder sits out two steps in a row.
    #[test]
    fn the_batcher_keeps_its_books(
        ops in prop::collection::vec(op(), 1..200),
        step_budget in 1usize..32,
        prefill_first in any::<bool>(),
    ) {
        let cfg = BatcherConfig { kv_budget_tokens: 64, max_running: 3, max_waiting: 5, step_token_budget: step_budget };
        let mut b = Batcher::new(cfg);
        if prefill_first {
            b.set_policy(StepPolicy::PrefillFirst);
        }
        let mut sat_out: HashMap<u64, usize> = HashMap::new();
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
                    for &(id, prompt_len) in &submitted {
                        if b.in_cache(id).is_some_and(|n| n >= prompt_len) {
                            let decoded = plan.work.iter().any(|w| *w == Work::Decode { seq: id, pos: b.in_cache(id).unwrap_or(0) });
                            let n = sat_out.entry(id).or_default();
                            *n = if decoded { 0 } else { *n + 1 };
                            prop_assert!(*n <= 1, "sequence {} sat out {} steps in a row", id, *n);
                        }
                    }
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

/// Prompts over a tiny alphabet with a few shared openings, so prefixes are often reused.
fn prompt() -> impl Strategy<Value = String> {
    (0usize..3, "[ab]{0,12}").prop_map(|(opening, rest)| {
        let openings = ["shared system prompt: ", "another opening that is long: ", ""];
        format!("{}{rest}x", openings[opening])
    })
}

/// Interleaved greedy requests (some cancelled) with prefix reuse on say exactly what each says
/// alone on the same model, and reservations plus retained prefixes never exceed the cache —
/// under either step order.
fn reuse_keeps_every_answer(
    model: impl Fn() -> Fake,
    prompts: &[(String, usize, bool)],
    kv: usize,
    prefill_first: bool,
) -> Result<(), TestCaseError> {
    let mut engine = Engine::new(model(), config(kv, 8));
    if prefill_first {
        engine.set_step_policy(StepPolicy::PrefillFirst);
    }
    engine.set_prefix_cache_tokens(kv / 2);
    let mut out: HashMap<u64, (String, Option<FinishReason>)> = HashMap::new();
    let collect = |engine: &mut Engine<Fake>, out: &mut HashMap<u64, (String, Option<FinishReason>)>| {
        record(engine.step().unwrap(), out);
        let s = engine.stats();
        let held: usize = engine.backend().cache.values().map(Vec::len).sum();
        s.kv_reserved_tokens + s.kv_retained_tokens <= kv && held <= kv
    };
    let mut ids = Vec::new();
    for (text, max_new, cancel) in prompts {
        if let Ok(id) = engine.submit(request(text, *max_new, 0.0, 0)) {
            ids.push((id, text.clone(), *max_new, *cancel));
        }
        prop_assert!(collect(&mut engine, &mut out));
    }
    for (id, _, _, cancel) in &ids {
        if *cancel {
            engine.cancel(*id);
        }
    }
    while !engine.is_idle() {
        prop_assert!(collect(&mut engine, &mut out));
    }
    for (id, text, max_new, _) in ids {
        // Finished before any cancellation reached it, or never cancelled: the same answer.
        if let Some((got, Some(reason))) = out.get(&id) {
            prop_assert_eq!((got.clone(), Some(*reason)), alone_on(model(), &text, max_new, 0.0, 0, 8), "{:?}", text);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn prefix_reuse_never_changes_an_answer(
        prompts in prop::collection::vec((prompt(), 1usize..12, any::<bool>()), 1..12),
        kv in 60usize..300,
        prefill_first in any::<bool>(),
    ) {
        reuse_keeps_every_answer(Fake::default, &prompts, kv, prefill_first)?;
    }

    /// The same with finished caches retained in their slots (a backend that cannot copy out).
    #[test]
    fn prefix_reuse_from_retained_slots_never_changes_an_answer(
        prompts in prop::collection::vec((prompt(), 1usize..12, any::<bool>()), 1..12),
        kv in 60usize..300,
        prefill_first in any::<bool>(),
    ) {
        reuse_keeps_every_answer(Fake::retaining, &prompts, kv, prefill_first)?;
    }

    /// The same on a sliding-window model, whose cache forgets: reuse only what it still holds.
    #[test]
    fn prefix_reuse_on_a_windowed_cache_never_changes_an_answer(
        prompts in prop::collection::vec((prompt(), 1usize..12, any::<bool>()), 1..12),
        kv in 60usize..300,
        window in 2usize..16,
        prefill_first in any::<bool>(),
    ) {
        reuse_keeps_every_answer(|| Fake::windowed(window), &prompts, kv, prefill_first)?;
    }
}
