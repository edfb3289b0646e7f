//! Continuous batching: which sequences run in the next forward pass, and how much of each.
//!
//! Every step the batcher admits waiting sequences (FIFO) while the KV-cache budget allows, then
//! plans one decode token for every sequence past its prompt and spends what is left of the
//! per-step token budget on prompt chunks, oldest sequence first. Sequences join and leave between
//! any two steps, and a long prompt is prefilled in chunks so it never stalls the decoders.
//! Under [`StepPolicy::PrefillFirst`] a step whose prompt work all fits in it runs that work alone,
//! so new requests get their first token a decode sooner (see the policy for the bound on what
//! the decoders wait).
//!
//! Admission reserves a sequence's worst case (prompt + `max_new_tokens`) up front, so a running
//! sequence can never run out of cache: the sum of reservations, plus what retained prefixes
//! hold (`set_retained`; the engine evicts them before they could block an admission), never
//! exceeds the budget. A sequence whose prompt starts with a cached prefix is admitted with that
//! prefix already in its cache (`mark_cached`) and prefills only the rest. A
//! request that does not fit now waits; only a full waiting queue, or a request larger than the
//! whole cache, is refused.

use std::collections::VecDeque;

pub type SeqId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatcherConfig {
    /// KV-cache capacity in tokens, shared by all running sequences.
    pub kv_budget_tokens: usize,
    /// Sequences decoding at once (the backend's slots).
    pub max_running: usize,
    /// Sequences allowed to wait for admission; beyond it, submissions are refused.
    pub max_waiting: usize,
    /// Tokens per forward pass; decodes always run, prefill chunks get what remains.
    pub step_token_budget: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the waiting queue is full ({max} requests); retry later")]
    QueueFull { max: usize },
    #[error("the request needs {needed} tokens of context (prompt + max_tokens) but the cache holds {budget}")]
    TooLong { needed: usize, budget: usize },
    #[error("the prompt is empty")]
    EmptyPrompt,
}

/// How a step divides itself between decoders and prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepPolicy {
    /// Every step decodes every running sequence and fills the rest of its budget with prompt
    /// chunks (llama-server's and vLLM's way): decoders never wait, new prompts share steps.
    #[default]
    Mixed,
    /// When every pending prompt fits in one step, that step runs the prompts alone, and the
    /// decoders go in the next (SGLang's default order, bounded). On a CPU a forward pass costs
    /// about what its tokens cost, so the decodes a mixed step would carry only delay the new
    /// requests' first tokens; run apart they cost about the same in all. Never two such steps in
    /// a row, so a decoder waits at most one prompt step; a prompt longer than the step is
    /// chunked beside the decoders as under `Mixed`.
    PrefillFirst,
}

/// One piece of the next forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Prompt tokens `start..start + len`; `last` when this chunk ends the prompt.
    Prefill { seq: SeqId, start: usize, len: usize, last: bool },
    /// The sequence's latest sampled token, at position `pos`.
    Decode { seq: SeqId, pos: usize },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepPlan {
    pub work: Vec<Work>,
    /// Sequences admitted in this step (their first prefill chunk is in `work`).
    pub admitted: Vec<SeqId>,
}

impl StepPlan {
    pub fn tokens(&self) -> usize {
        self.work.iter().map(|w| if let Work::Prefill { len, .. } = w { *len } else { 1 }).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seq {
    id: SeqId,
    prompt_len: usize,
    reserved: usize,
    /// Tokens already in the KV cache (prompt chunks and decoded tokens).
    in_cache: usize,
}

#[derive(Debug, Clone)]
pub struct Batcher {
    config: BatcherConfig,
    waiting: VecDeque<Seq>,
    running: Vec<Seq>,
    /// Tokens held by retained prefixes (not reserved by any running sequence).
    retained: usize,
    policy: StepPolicy,
    /// The last committed step ran prompts alone (under `PrefillFirst` the next one decodes).
    last_prompts_only: bool,
}

impl Batcher {
    pub fn new(config: BatcherConfig) -> Self {
        Self {
            config,
            waiting: VecDeque::new(),
            running: Vec::new(),
            retained: 0,
            policy: StepPolicy::default(),
            last_prompts_only: false,
        }
    }

    pub fn set_policy(&mut self, policy: StepPolicy) {
        self.policy = policy;
    }

    pub fn policy(&self) -> StepPolicy {
        self.policy
    }

    pub fn config(&self) -> &BatcherConfig {
        &self.config
    }

    /// Queues a sequence; it runs once it is at the head of the queue and its worst case fits.
    pub fn submit(&mut self, id: SeqId, prompt_len: usize, max_new_tokens: usize) -> Result<(), SubmitError> {
        if prompt_len == 0 {
            return Err(SubmitError::EmptyPrompt);
        }
        let needed = prompt_len + max_new_tokens;
        if needed > self.config.kv_budget_tokens {
            return Err(SubmitError::TooLong { needed, budget: self.config.kv_budget_tokens });
        }
        if self.waiting.len() >= self.config.max_waiting {
            return Err(SubmitError::QueueFull { max: self.config.max_waiting });
        }
        self.waiting.push_back(Seq { id, prompt_len, reserved: needed, in_cache: 0 });
        Ok(())
    }

    /// Admits what fits and plans the next forward pass. Apply it with [`Batcher::commit`] once
    /// the backend has run it.
    pub fn plan(&mut self) -> StepPlan {
        let admitted = self.admit();
        let mut plan = self.plan_work();
        plan.admitted = admitted;
        plan
    }

    /// The head of the queue's reservation, when it waits for room (for evicting retained
    /// prefixes before admission).
    pub fn head_needs(&self) -> Option<usize> {
        self.waiting.front().map(|s| s.reserved)
    }

    /// Whether the head of the queue would be admitted were no prefix retained.
    pub fn head_fits_without_retained(&self) -> bool {
        self.waiting.front().is_some_and(|h| {
            self.kv_reserved() + h.reserved <= self.config.kv_budget_tokens
                && self.running.len() < self.config.max_running
        })
    }

    /// Tokens retained prefixes hold; admission counts them as used.
    pub fn set_retained(&mut self, tokens: usize) {
        self.retained = tokens;
    }

    /// Moves waiting sequences to running while they fit, FIFO without overtaking (a large
    /// request at the head is not starved by small ones).
    pub fn admit(&mut self) -> Vec<SeqId> {
        let mut admitted = Vec::new();
        while let Some(head) = self.waiting.front() {
            let fits = self.kv_reserved() + self.retained + head.reserved <= self.config.kv_budget_tokens;
            if !fits || self.running.len() >= self.config.max_running {
                break;
            }
            if let Some(seq) = self.waiting.pop_front() {
                admitted.push(seq.id);
                self.running.push(seq);
            }
        }
        admitted
    }

    /// A just-admitted sequence starts with its first `tokens` prompt tokens already cached.
    pub fn mark_cached(&mut self, id: SeqId, tokens: usize) {
        if let Some(seq) = self.running.iter_mut().find(|s| s.id == id && s.in_cache == 0) {
            seq.in_cache = tokens.min(seq.prompt_len.saturating_sub(1));
        }
    }

    /// Tokens of a running sequence that are in the cache.
    pub fn in_cache(&self, id: SeqId) -> Option<usize> {
        self.running.iter().find(|s| s.id == id).map(|s| s.in_cache)
    }

    /// Plans the next forward pass over the running sequences.
    pub fn plan_work(&self) -> StepPlan {
        let mut plan = StepPlan::default();
        if !self.prompts_alone() {
            for seq in &self.running {
                if seq.in_cache >= seq.prompt_len {
                    plan.work.push(Work::Decode { seq: seq.id, pos: seq.in_cache });
                }
            }
        }
        let mut budget = self.config.step_token_budget.saturating_sub(plan.work.len());
        for seq in &self.running {
            if budget == 0 {
                break;
            }
            if seq.in_cache < seq.prompt_len {
                let len = (seq.prompt_len - seq.in_cache).min(budget);
                let last = seq.in_cache + len == seq.prompt_len;
                plan.work.push(Work::Prefill { seq: seq.id, start: seq.in_cache, len, last });
                budget -= len;
            }
        }
        plan
    }

    /// Whether the next step runs prompt chunks alone: under `PrefillFirst`, when some prompt
    /// is pending, all of them fit in the step, and the last step did not already run alone.
    fn prompts_alone(&self) -> bool {
        if self.policy != StepPolicy::PrefillFirst || self.last_prompts_only {
            return false;
        }
        let pending: usize = self.running.iter().map(|s| s.prompt_len.saturating_sub(s.in_cache)).sum();
        pending > 0 && pending <= self.config.step_token_budget
    }

    /// Records that the backend ran `plan`: its tokens are now in the cache.
    pub fn commit(&mut self, plan: &StepPlan) {
        self.last_prompts_only = !plan.work.is_empty()
            && plan.work.iter().all(|w| matches!(w, Work::Prefill { .. }))
            && self.running.iter().any(|s| s.in_cache >= s.prompt_len);
        for work in &plan.work {
            let (id, added) = match *work {
                Work::Prefill { seq, len, .. } => (seq, len),
                Work::Decode { seq, .. } => (seq, 1),
            };
            if let Some(seq) = self.running.iter_mut().find(|s| s.id == id) {
                seq.in_cache = (seq.in_cache + added).min(seq.reserved);
            }
        }
    }

    /// Removes a sequence, waiting or running, and frees its reservation. Returns whether it was
    /// running (so its cache slot must be released too).
    pub fn finish(&mut self, id: SeqId) -> bool {
        if let Some(i) = self.running.iter().position(|s| s.id == id) {
            self.running.remove(i);
            return true;
        }
        self.waiting.retain(|s| s.id != id);
        false
    }

    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    pub fn running_len(&self) -> usize {
        self.running.len()
    }

    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.running.is_empty()
    }

    /// Tokens actually in the cache.
    pub fn kv_used(&self) -> usize {
        self.running.iter().map(|s| s.in_cache).sum()
    }

    /// Tokens reserved by running sequences (what admission checks, with retained prefixes).
    pub fn kv_reserved(&self) -> usize {
        self.running.iter().map(|s| s.reserved).sum()
    }

    pub fn retained(&self) -> usize {
        self.retained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batcher(kv: usize, step: usize) -> Batcher {
        Batcher::new(BatcherConfig { kv_budget_tokens: kv, max_running: 4, max_waiting: 2, step_token_budget: step })
    }

    fn step(b: &mut Batcher) -> Vec<Work> {
        let plan = b.plan();
        b.commit(&plan);
        plan.work
    }

    #[test]
    fn a_long_prompt_is_prefilled_in_chunks_while_others_decode() {
        let mut b = batcher(1000, 8);
        b.submit(1, 3, 10).unwrap();
        assert_eq!(step(&mut b), vec![Work::Prefill { seq: 1, start: 0, len: 3, last: true }]);
        b.submit(2, 20, 10).unwrap();
        assert_eq!(
            step(&mut b),
            vec![Work::Decode { seq: 1, pos: 3 }, Work::Prefill { seq: 2, start: 0, len: 7, last: false }]
        );
        assert_eq!(
            step(&mut b),
            vec![Work::Decode { seq: 1, pos: 4 }, Work::Prefill { seq: 2, start: 7, len: 7, last: false }]
        );
        assert_eq!(
            step(&mut b),
            vec![Work::Decode { seq: 1, pos: 5 }, Work::Prefill { seq: 2, start: 14, len: 6, last: true }]
        );
        assert_eq!(step(&mut b), vec![Work::Decode { seq: 1, pos: 6 }, Work::Decode { seq: 2, pos: 20 }]);
    }

    #[test]
    fn prefill_first_runs_short_prompts_alone_then_decodes() {
        let mut b = batcher(1000, 8);
        b.set_policy(StepPolicy::PrefillFirst);
        b.submit(1, 3, 10).unwrap();
        assert_eq!(step(&mut b), vec![Work::Prefill { seq: 1, start: 0, len: 3, last: true }]);
        b.submit(2, 4, 10).unwrap();
        b.submit(3, 2, 10).unwrap();
        assert_eq!(
            step(&mut b),
            vec![
                Work::Prefill { seq: 2, start: 0, len: 4, last: true },
                Work::Prefill { seq: 3, start: 0, len: 2, last: true }
            ],
            "both new prompts fit: they run without the decoder"
        );
        b.submit(4, 1, 10).unwrap();
        assert_eq!(
            step(&mut b),
            vec![
                Work::Decode { seq: 1, pos: 3 },
                Work::Decode { seq: 2, pos: 4 },
                Work::Decode { seq: 3, pos: 2 },
                Work::Prefill { seq: 4, start: 0, len: 1, last: true }
            ],
            "never two prompt-only steps in a row: the decoders go now, the new prompt beside them"
        );
        assert_eq!(step(&mut b).len(), 4, "nothing pending: everyone decodes");
    }

    #[test]
    fn prefill_first_chunks_a_long_prompt_beside_the_decoders() {
        let mut b = batcher(1000, 8);
        b.set_policy(StepPolicy::PrefillFirst);
        b.submit(1, 3, 10).unwrap();
        step(&mut b);
        b.submit(2, 20, 10).unwrap();
        assert_eq!(
            step(&mut b),
            vec![Work::Decode { seq: 1, pos: 3 }, Work::Prefill { seq: 2, start: 0, len: 7, last: false }],
            "20 tokens do not fit in a step of 8: running it alone would stall the decoder for nothing"
        );
    }

    #[test]
    fn a_full_cache_queues_and_admits_when_space_frees() {
        let mut b = batcher(30, 64);
        b.submit(1, 10, 10).unwrap();
        b.submit(2, 10, 10).unwrap();
        step(&mut b);
        assert_eq!((b.running_len(), b.waiting_len()), (1, 1), "the second does not fit beside the first");
        b.submit(3, 1, 1).unwrap();
        assert_eq!(b.submit(4, 1, 1), Err(SubmitError::QueueFull { max: 2 }));
        step(&mut b);
        assert_eq!(b.running_len(), 1, "3 would fit but does not overtake 2");
        assert!(b.finish(1));
        let plan = b.plan();
        assert_eq!(plan.admitted, vec![2, 3]);
        assert_eq!(b.kv_reserved(), 22);
    }

    #[test]
    fn refusals_say_why() {
        let mut b = batcher(30, 64);
        assert_eq!(b.submit(1, 0, 5), Err(SubmitError::EmptyPrompt));
        assert_eq!(b.submit(1, 25, 6), Err(SubmitError::TooLong { needed: 31, budget: 30 }));
    }

    #[test]
    fn a_cancelled_waiting_sequence_leaves_the_queue() {
        let mut b = batcher(10, 64);
        b.submit(1, 5, 5).unwrap();
        b.submit(2, 5, 5).unwrap();
        step(&mut b);
        assert!(!b.finish(2));
        assert_eq!(b.waiting_len(), 0);
    }
}
