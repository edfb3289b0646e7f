//! The engine loop: the batcher's plan, run on a [`Backend`], sampled, detokenized and stopped.
//!
//! One [`Engine::step`] is one forward pass over every running sequence. The engine owns each
//! sequence's tokens, sampler, stop matcher and UTF-8 remainder, and turns the pass into
//! [`Event`]s for the caller to deliver. It has no clock and no threads: the server runs it on a
//! thread of its own and feeds it submissions and cancellations between steps.

use crate::backend::{Backend, BatchItem};
use crate::batcher::{Batcher, BatcherConfig, SeqId, StepPlan, StepPolicy, SubmitError, Work};
use crate::prefix::{self, PrefixCache};
use crate::sampling::{Sampler, SamplingParams};
use crate::stop::StopMatcher;
use std::collections::HashMap;

/// A tokenized request.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: Vec<u32>,
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    /// Report each generated token's log-probability and this many most likely alternatives
    /// (`None`: no log-probabilities).
    pub logprobs: Option<usize>,
}

/// Most alternatives a request may ask log-probabilities for (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// A generated token's log-probability under the model (before sampling settings), with the
/// most likely alternatives at that position.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    pub token: u32,
    pub bytes: Vec<u8>,
    pub logprob: f32,
    /// (token, its bytes, log-probability), most likely first.
    pub top: Vec<(u32, Vec<u8>, f32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// End of generation token or a stop sequence.
    Stop,
    /// `max_tokens` reached.
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Text the client may show now (possibly empty when a token completed nothing printable).
    Text {
        seq: SeqId,
        text: String,
    },
    Finished {
        seq: SeqId,
        reason: FinishReason,
        usage: Usage,
    },
    /// A generated token's log-probability, before the text it adds (only when asked for).
    Logprob {
        seq: SeqId,
        logprob: TokenLogprob,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError<E: std::error::Error + 'static> {
    #[error("the backend failed: {0}")]
    Backend(#[source] E),
}

/// Embedding vectors, one per input, and the tokens the inputs took.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub tokens: usize,
}

struct Active {
    slot: Option<u32>,
    tokens: Vec<u32>,
    prompt_len: usize,
    max_tokens: usize,
    sampler: Sampler,
    stop: StopMatcher,
    pending_bytes: Vec<u8>,
    logprobs: Option<usize>,
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub waiting: usize,
    pub running: usize,
    pub kv_used_tokens: usize,
    pub kv_reserved_tokens: usize,
    /// Tokens of finished sequences' caches kept in their slots for prefix reuse (when the
    /// backend cannot save them whole; evicted on demand).
    pub kv_retained_tokens: usize,
    /// Tokens of finished sequences' caches saved in host memory for prefix reuse.
    pub prefix_saved_tokens: usize,
    /// Bytes those saved caches take.
    pub prefix_saved_bytes: usize,
    /// Prompt tokens not prefilled because a cached prefix held them, since start.
    pub reused_tokens: u64,
    /// Cached prefixes passed over because the backend no longer held them whole (a
    /// sliding-window model's cache forgets) or could not restore them, since start.
    pub reuse_refused: u64,
}

/// What one forward pass carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepShape {
    /// Sequences that decoded one token.
    pub decodes: usize,
    /// Prompt tokens prefilled.
    pub prefill_tokens: usize,
}

pub struct Engine<B: Backend> {
    backend: B,
    batcher: Batcher,
    active: HashMap<SeqId, Active>,
    free_slots: Vec<u32>,
    next_id: SeqId,
    /// Finished sequences' caches left in their slots (a slot per entry).
    retained: PrefixCache<u32>,
    /// Finished sequences' caches the backend saved to host memory.
    saved: PrefixCache<B::Saved>,
    reused_tokens: u64,
    reuse_refused: u64,
    /// Most tokens retained prefixes may hold.
    prefix_cap: usize,
    /// Most bytes saved prefixes may hold.
    saved_cap: usize,
    last_step: StepShape,
}

impl<B: Backend> Engine<B> {
    /// `config.max_running` must not exceed the slots the backend was built with.
    pub fn new(backend: B, config: BatcherConfig) -> Self {
        let free_slots = (0..config.max_running as u32).rev().collect();
        Self {
            backend,
            batcher: Batcher::new(config),
            active: HashMap::new(),
            free_slots,
            next_id: 1,
            retained: PrefixCache::default(),
            saved: PrefixCache::default(),
            reused_tokens: 0,
            reuse_refused: 0,
            prefix_cap: default_prefix_cap(config.kv_budget_tokens),
            saved_cap: DEFAULT_PREFIX_SAVE_BYTES,
            last_step: StepShape::default(),
        }
    }

    /// Changes how steps divide themselves between decoders and new prompts.
    pub fn set_step_policy(&mut self, policy: StepPolicy) {
        self.batcher.set_policy(policy);
    }

    /// Changes how many tokens prefixes retained in their slots may hold (0: none).
    pub fn set_prefix_cache_tokens(&mut self, tokens: usize) {
        self.prefix_cap = tokens;
    }

    /// Changes how many bytes of host memory saved prefixes may hold (0: none; finished caches
    /// are then retained in their slots, within `set_prefix_cache_tokens`).
    pub fn set_prefix_save_bytes(&mut self, bytes: usize) {
        self.saved_cap = bytes;
        while self.saved.size() > bytes && self.saved.evict_lru().is_some() {}
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn submit(&mut self, request: Request) -> Result<SeqId, SubmitError> {
        let id = self.next_id;
        self.batcher.submit(id, request.prompt.len(), request.max_tokens)?;
        self.next_id += 1;
        let prompt_len = request.prompt.len();
        self.active.insert(
            id,
            Active {
                slot: None,
                tokens: request.prompt,
                prompt_len,
                max_tokens: request.max_tokens,
                sampler: Sampler::new(request.sampling),
                stop: StopMatcher::new(request.stop),
                pending_bytes: Vec::new(),
                logprobs: request.logprobs.map(|k| k.min(MAX_TOP_LOGPROBS)),
            },
        );
        Ok(id)
    }

    /// Embeddings of `texts`, one per text, and the tokens they took (inputs longer than the
    /// backend's limit are cut to it). Runs between steps, outside the batch.
    pub fn embed(&mut self, texts: &[String]) -> Result<Embeddings, EngineError<B::Error>> {
        let mut vectors = Vec::with_capacity(texts.len());
        let mut tokens_used = 0;
        for text in texts {
            let mut tokens = self.backend.tokenize(text).map_err(EngineError::Backend)?;
            tokens.truncate(self.backend.embed_limit());
            tokens_used += tokens.len();
            vectors.push(self.backend.embed(&tokens).map_err(EngineError::Backend)?);
        }
        Ok(Embeddings { vectors, tokens: tokens_used })
    }

    /// Ends a sequence at once and frees its cache; unknown ids are ignored (it may have finished).
    pub fn cancel(&mut self, seq: SeqId) {
        self.end(seq, false);
    }

    pub fn is_idle(&self) -> bool {
        self.batcher.is_idle()
    }

    pub fn config(&self) -> &BatcherConfig {
        self.batcher.config()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            waiting: self.batcher.waiting_len(),
            running: self.batcher.running_len(),
            kv_used_tokens: self.batcher.kv_used(),
            kv_reserved_tokens: self.batcher.kv_reserved(),
            kv_retained_tokens: self.retained.tokens(),
            prefix_saved_tokens: self.saved.tokens(),
            prefix_saved_bytes: self.saved.size(),
            reused_tokens: self.reused_tokens,
            reuse_refused: self.reuse_refused,
        }
    }

    /// What the last [`Engine::step`] ran (empty when it ran nothing).
    pub fn last_step(&self) -> StepShape {
        self.last_step
    }

    /// One forward pass over every running sequence.
    pub fn step(&mut self) -> Result<Vec<Event>, EngineError<B::Error>> {
        self.make_room();
        let admitted = self.batcher.admit();
        for id in &admitted {
            self.assign_slot(*id).map_err(EngineError::Backend)?;
        }
        self.batcher.set_retained(self.retained.tokens());
        let mut plan = self.batcher.plan_work();
        plan.admitted = admitted;
        self.last_step = shape(&plan);
        if plan.work.is_empty() {
            return Ok(Vec::new());
        }
        let logits = self.run(&plan)?;
        self.batcher.commit(&plan);
        let mut events = Vec::new();
        let sampled = plan.work.iter().filter_map(|w| match *w {
            Work::Prefill { seq, last: true, .. } | Work::Decode { seq, .. } => Some(seq),
            Work::Prefill { .. } => None,
        });
        for (seq, logits) in sampled.zip(logits) {
            self.sample_one(seq, &logits, &mut events);
        }
        Ok(events)
    }

    fn run(&mut self, plan: &StepPlan) -> Result<Vec<Vec<f32>>, EngineError<B::Error>> {
        let mut items = Vec::with_capacity(plan.work.len());
        for work in &plan.work {
            let (seq, start, len, want_logits) = match *work {
                Work::Prefill { seq, start, len, last } => (seq, start, len, last),
                Work::Decode { seq, pos } => (seq, pos, 1, true),
            };
            let Some(a) = self.active.get(&seq) else { continue };
            let Some(slot) = a.slot else { continue };
            let Some(tokens) = a.tokens.get(start..start + len) else { continue };
            items.push(BatchItem { slot, start_pos: start, tokens, want_logits });
        }
        self.backend.decode(&items).map_err(EngineError::Backend)
    }

    fn sample_one(&mut self, seq: SeqId, logits: &[f32], events: &mut Vec<Event>) {
        let Some(a) = self.active.get_mut(&seq) else { return };
        let token = a.sampler.sample(logits, &a.tokens);
        a.tokens.push(token);
        if let Some(top) = a.logprobs {
            let (logprob, alternatives) = log_softmax_at(logits, token, top);
            let backend = &self.backend;
            let top = alternatives.into_iter().map(|(t, lp)| (t, backend.token_bytes(t), lp)).collect();
            events.push(Event::Logprob {
                seq,
                logprob: TokenLogprob { token, bytes: backend.token_bytes(token), logprob, top },
            });
        }
        let generated = a.tokens.len() - a.prompt_len;
        let usage = Usage { prompt_tokens: a.prompt_len, completion_tokens: generated };
        let mut finished = None;
        if self.backend.is_end_of_generation(token) {
            finished = Some(FinishReason::Stop);
        } else {
            a.pending_bytes.extend(self.backend.token_bytes(token));
            let text = take_valid_utf8(&mut a.pending_bytes);
            let released = a.stop.push(&text);
            if !released.text.is_empty() {
                events.push(Event::Text { seq, text: released.text });
            }
            if released.stopped {
                finished = Some(FinishReason::Stop);
            } else if generated >= a.max_tokens {
                finished = Some(FinishReason::Length);
            }
        }
        if let Some(reason) = finished {
            if reason == FinishReason::Length || self.backend.is_end_of_generation(token) {
                let rest = a.stop.finish();
                if !rest.is_empty() {
                    events.push(Event::Text { seq, text: rest });
                }
            }
            events.push(Event::Finished { seq, reason, usage });
            self.end(seq, true);
        }
    }

    /// Evicts retained prefixes, least recently used first, while they alone keep the head of
    /// the queue from being admitted (cache room or a slot).
    fn make_room(&mut self) {
        while !self.retained.is_empty() && self.batcher.head_fits_without_retained() {
            let budget = self.batcher.config().kv_budget_tokens;
            let head = self.batcher.head_needs().unwrap_or(0);
            let room = self.batcher.kv_reserved() + self.retained.tokens() + head <= budget;
            if room && !self.free_slots.is_empty() {
                return;
            }
            let Some(slot) = self.retained.evict_lru() else { return };
            self.backend.release(slot);
            self.free_slots.push(slot);
        }
    }

    /// A slot for a sequence just admitted, with as much of its prompt already in it as a cache
    /// holds — whichever shares most of: a retained slot (taken over and cut to the common
    /// part), a running sequence's slot (the common prefix copied), a saved copy (restored and
    /// cut); on a tie the cheapest, in that order. A cache the backend no longer holds whole for
    /// the new sequence (a sliding-window model's may have forgotten the start) is passed over.
    fn assign_slot(&mut self, id: SeqId) -> Result<(), B::Error> {
        let Some(a) = self.active.get(&id) else { return Ok(()) };
        let prompt = &a.tokens[..a.prompt_len];
        let refused = std::cell::Cell::new(0);
        let holds = |slot: u32, n: usize| {
            let whole = self.backend.holds_prefix(slot, n);
            refused.set(refused.get() + u64::from(!whole));
            whole
        };
        let retained = self.retained.best(prompt, |e, n| holds(e.state, n));
        let running = self
            .active
            .iter()
            .filter(|(other, _)| **other != id)
            .filter_map(|(other, o)| {
                let cached = self.batcher.in_cache(*other)?;
                Some((o.slot?, prefix::reusable(prompt, &o.tokens[..cached.min(o.tokens.len())])))
            })
            .filter(|&(slot, n)| n >= prefix::MIN_REUSE && holds(slot, n))
            .max_by_key(|&(slot, n)| (n, std::cmp::Reverse(slot)));
        // A copy is restored whole before it is cut, so it needs that many free cells now.
        let budget = self.batcher.config().kv_budget_tokens;
        let room = budget.saturating_sub(self.batcher.kv_used() + self.retained.tokens());
        let saved = self.saved.best(prompt, |e, _| e.tokens.len() <= room);
        self.reuse_refused += refused.get();
        let (c, v) = (running.map_or(0, |(_, n)| n), saved.map_or(0, |(_, n)| n));
        let (slot, reused) = match (retained, running, saved) {
            (Some((index, n)), _, _) if n >= c && n >= v => match self.retained.take(index) {
                Some(entry) => {
                    self.backend.truncate(entry.state, n)?;
                    (entry.state, n)
                }
                None => (self.free_slot(), 0),
            },
            (_, Some((from, n)), _) if n >= v => {
                let slot = self.free_slot();
                self.backend.copy_prefix(from, slot, n)?;
                (slot, n)
            }
            (_, _, Some((index, n))) => {
                let slot = self.free_slot();
                (slot, self.restore(index, slot, n))
            }
            _ => (self.free_slot(), 0),
        };
        if let Some(a) = self.active.get_mut(&id) {
            a.slot = Some(slot);
        }
        if reused > 0 {
            self.batcher.mark_cached(id, reused);
            self.reused_tokens += reused as u64;
        }
        Ok(())
    }

    /// Restores saved prefix `index` into the empty `slot`, cut to its first `n` tokens; returns
    /// the tokens reused (0, and the slot left empty, when the backend cannot).
    fn restore(&mut self, index: usize, slot: u32, n: usize) -> usize {
        let Some(entry) = self.saved.get(index) else { return 0 };
        let restored = self.backend.restore(&entry.state, slot).and_then(|()| self.backend.truncate(slot, n));
        match restored {
            Ok(()) if self.backend.holds_prefix(slot, n) => n,
            _ => {
                // Not fatal: the sequence prefills its whole prompt instead. The copy goes — it
                // would fail or fall short the same way again.
                self.saved.take(index);
                self.reuse_refused += 1;
                self.backend.release(slot);
                0
            }
        }
    }

    /// A free slot, evicting the least recently used retained prefix when none is free. Slots
    /// are `max_running`, held by running sequences, retained prefixes or nobody, so one is
    /// always there for a sequence the batcher admitted.
    fn free_slot(&mut self) -> u32 {
        if let Some(slot) = self.free_slots.pop() {
            return slot;
        }
        match self.retained.evict_lru() {
            Some(slot) => {
                self.backend.release(slot);
                slot
            }
            None => 0,
        }
    }

    /// Ends a sequence and frees its slot. A finished one's cache is first saved to host
    /// memory, or, where the backend cannot save it whole, retained in the slot; a cancelled
    /// one's is freed at once.
    fn end(&mut self, seq: SeqId, keep: bool) {
        let cached = self.batcher.in_cache(seq).unwrap_or(0);
        self.batcher.finish(seq);
        if let Some(a) = self.active.remove(&seq) {
            if let Some(slot) = a.slot {
                let mut tokens = a.tokens;
                tokens.truncate(cached);
                let freed = if !keep || tokens.len() < prefix::MIN_REUSE {
                    vec![slot]
                } else if let Some((state, bytes)) = self.save(slot) {
                    // Evicted copies are just dropped: they hold no slot. (`save` made none
                    // larger than the cap.)
                    drop(self.saved.insert(tokens, state, bytes, self.saved_cap));
                    vec![slot]
                } else {
                    let size = tokens.len();
                    self.retained.insert(tokens, slot, size, self.prefix_cap)
                };
                for slot in freed {
                    self.backend.release(slot);
                    self.free_slots.push(slot);
                }
            }
        }
        self.batcher.set_retained(self.retained.tokens());
    }

    /// The backend's whole copy of `slot`, when saving is on and it can make one that fits the
    /// cap (a failure is no worse than a copy it cannot make: the cache is retained instead).
    fn save(&mut self, slot: u32) -> Option<(B::Saved, usize)> {
        if self.saved_cap == 0 {
            return None;
        }
        self.backend.save(slot).ok().flatten().filter(|(_, bytes)| *bytes <= self.saved_cap)
    }
}

fn shape(plan: &StepPlan) -> StepShape {
    plan.work.iter().fold(StepShape::default(), |mut s, w| {
        match *w {
            Work::Decode { .. } => s.decodes += 1,
            Work::Prefill { len, .. } => s.prefill_tokens += len,
        }
        s
    })
}

/// The log-probability of `token` under `logits`, and the `top` most likely tokens with theirs.
pub fn log_softmax_at(logits: &[f32], token: u32, top: usize) -> (f32, Vec<(u32, f32)>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
    let at = |t: u32| logits.get(t as usize).map_or(f32::NEG_INFINITY, |l| l - lse);
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(top + 1);
    if top > 0 {
        for (i, &l) in logits.iter().enumerate() {
            if best.len() < top || l > best[best.len() - 1].1 {
                let pos = best.partition_point(|&(_, b)| b >= l);
                best.insert(pos, (i as u32, l));
                best.truncate(top);
            }
        }
    }
    (at(token), best.into_iter().map(|(t, l)| (t, l - lse)).collect())
}

/// Host memory saved prefixes may hold by default: 1 GiB, some 45,000 tokens of SmolLM2's KV
/// entries or 55,000 of Gemma 3 270M's.
pub const DEFAULT_PREFIX_SAVE_BYTES: usize = 1 << 30;

/// Prefixes retained in slots (a sliding-window model's, which cannot be saved whole): an eighth
/// of the KV cache, at most 2,048 tokens — enough for a few system prompts and recent turns,
/// small enough that decoding over the occupied cells stays fast.
pub fn default_prefix_cap(kv_budget_tokens: usize) -> usize {
    (kv_budget_tokens / 8).min(2048)
}

/// The longest valid UTF-8 prefix of `bytes`, removed from it; invalid bytes that cannot start a
/// character become U+FFFD rather than stalling the stream.
fn take_valid_utf8(bytes: &mut Vec<u8>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            let s = s.to_string();
            bytes.clear();
            s
        }
        Err(e) => {
            let valid = e.valid_up_to();
            if e.error_len().is_some() {
                // A real error, not a truncated character: replace it and move on.
                let s = String::from_utf8_lossy(bytes).into_owned();
                bytes.clear();
                return s;
            }
            let s = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            bytes.drain(..valid);
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{log_softmax_at, take_valid_utf8};

    #[test]
    fn log_probabilities_sum_to_one_and_the_top_are_ordered() {
        let logits = [1.0f32, 3.0, 2.0, -1.0];
        let (lp, top) = log_softmax_at(&logits, 2, 3);
        let total: f32 = (0..4).map(|t| log_softmax_at(&logits, t, 0).0.exp()).sum();
        assert!((total - 1.0).abs() < 1e-5);
        assert_eq!(top.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [1, 2, 0]);
        assert!((top[1].1 - lp).abs() < 1e-6);
    }

    #[test]
    fn partial_characters_wait_for_their_rest() {
        let mut b = "é".as_bytes()[..1].to_vec();
        assert_eq!(take_valid_utf8(&mut b), "");
        b.extend(&"é".as_bytes()[1..]);
        assert_eq!(take_valid_utf8(&mut b), "é");
        let mut bad = vec![b'a', 0xff, b'b'];
        assert_eq!(take_valid_utf8(&mut bad), "a\u{fffd}b");
    }
}
