//! Picking the next token from a logits slice.
//!
//! The order follows llama.cpp's default chain so the same parameters mean the same thing here and
//! there: penalties, then top-k, top-p, min-p, temperature, then a draw. Temperature 0 is greedy
//! (argmax, ties to the lowest id) and consumes no randomness. The RNG is ChaCha8 seeded per
//! request, so a fixed seed reproduces the same tokens on every machine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// What a request asks of the sampler; validated by the server before it gets here.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 is greedy.
    pub temperature: f32,
    /// Keep the smallest set of tokens whose probability adds up to at least this (1 = off).
    pub top_p: f32,
    /// Keep the k most likely tokens (0 = off).
    pub top_k: usize,
    /// Drop tokens less likely than `min_p` × the most likely one (0 = off).
    pub min_p: f32,
    /// llama.cpp/CTRL-style: divide positive logits (multiply negative ones) of seen tokens (1 = off).
    pub repetition_penalty: f32,
    /// OpenAI's: subtract `frequency_penalty × count` from a seen token's logit.
    pub frequency_penalty: f32,
    /// OpenAI's: subtract `presence_penalty` once from a seen token's logit.
    pub presence_penalty: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: 0,
        }
    }
}

/// One sequence's sampler: its parameters and its own RNG stream.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(params.seed);
        Self { params, rng }
    }

    /// The next token given the logits and the tokens seen so far (prompt and output, which the
    /// penalties look at).
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let mut logits = logits.to_vec();
        apply_penalties(&mut logits, history, &self.params);
        if self.params.temperature <= 0.0 {
            return argmax(&logits);
        }
        let mut candidates: Vec<(u32, f32)> =
            logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, &l)| (i as u32, l)).collect();
        if candidates.is_empty() {
            return 0;
        }
        // Highest logit first; ties by id so the order (and so the draw) is deterministic.
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if self.params.top_k > 0 {
            candidates.truncate(self.params.top_k.max(1));
        }
        let mut probs = softmax(&candidates, 1.0);
        if self.params.top_p < 1.0 {
            let mut total = 0.0;
            let mut keep = probs.len();
            for (i, p) in probs.iter().enumerate() {
                total += p;
                if total >= self.params.top_p {
                    keep = i + 1;
                    break;
                }
            }
            candidates.truncate(keep);
            probs.truncate(keep);
        }
        if self.params.min_p > 0.0 {
            let threshold = probs.first().copied().unwrap_or(0.0) * self.params.min_p;
            let keep = probs.iter().take_while(|&&p| p >= threshold).count().max(1);
            candidates.truncate(keep);
        }
        let probs = softmax(&candidates, self.params.temperature);
        let mut draw: f32 = self.rng.gen();
        for (c, p) in candidates.iter().zip(&probs) {
            if draw < *p {
                return c.0;
            }
            draw -= p;
        }
        // Rounding left a sliver past the last candidate: it is the last one's.
        candidates.last().map_or(0, |c| c.0)
    }
}

fn apply_penalties(logits: &mut [f32], history: &[u32], params: &SamplingParams) {
    let no_penalty =
        params.repetition_penalty == 1.0 && params.frequency_penalty == 0.0 && params.presence_penalty == 0.0;
    if no_penalty || history.is_empty() {
        return;
    }
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for &t in history {
        *counts.entry(t).or_default() += 1;
    }
    for (token, count) in counts {
        let Some(l) = logits.get_mut(token as usize) else { continue };
        if params.repetition_penalty != 1.0 {
            *l = if *l > 0.0 { *l / params.repetition_penalty } else { *l * params.repetition_penalty };
        }
        *l -= params.frequency_penalty * count as f32 + params.presence_penalty;
    }
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, l) in logits.iter().enumerate() {
        if *l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Probabilities of sorted candidates at `temperature`, max-subtracted for stability.
fn softmax(candidates: &[(u32, f32)], temperature: f32) -> Vec<f32> {
    let max = candidates.first().map_or(0.0, |c| c.1);
    let exps: Vec<f32> = candidates.iter().map(|c| ((c.1 - max) / temperature).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams { temperature, ..SamplingParams::default() }
    }

    #[test]
    fn greedy_takes_the_largest_logit_and_the_lowest_id_on_ties() {
        let mut s = Sampler::new(params(0.0));
        assert_eq!(s.sample(&[0.1, 3.0, -1.0, 3.0], &[]), 1);
    }

    #[test]
    fn same_seed_same_tokens_different_seed_different_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| (i % 7) as f32 * 0.3).collect();
        let run = |seed| {
            let mut s = Sampler::new(SamplingParams { seed, ..params(1.0) });
            (0..50).map(|_| s.sample(&logits, &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn top_k_one_is_greedy_whatever_the_temperature() {
        let mut s = Sampler::new(SamplingParams { top_k: 1, ..params(5.0) });
        for _ in 0..20 {
            assert_eq!(s.sample(&[1.0, 2.0, 1.5], &[]), 1);
        }
    }

    #[test]
    fn top_p_and_min_p_cut_the_tail() {
        // Token 0 holds almost all the mass; a small top_p or a min_p keeps only it.
        let logits = [10.0, 0.0, 0.0, 0.0];
        let mut top_p = Sampler::new(SamplingParams { top_p: 0.5, ..params(1.0) });
        let mut min_p = Sampler::new(SamplingParams { min_p: 0.5, seed: 3, ..params(1.0) });
        for _ in 0..50 {
            assert_eq!(top_p.sample(&logits, &[]), 0);
            assert_eq!(min_p.sample(&logits, &[]), 0);
        }
    }

    #[test]
    fn penalties_push_seen_tokens_down() {
        let logits = [2.0, 1.9];
        let mut rep = Sampler::new(SamplingParams { repetition_penalty: 1.5, ..params(0.0) });
        assert_eq!(rep.sample(&logits, &[0]), 1);
        let mut freq = Sampler::new(SamplingParams { frequency_penalty: 0.06, ..params(0.0) });
        assert_eq!(freq.sample(&logits, &[0]), 0, "one occurrence: 1.94 > 1.9");
        assert_eq!(freq.sample(&logits, &[0, 0]), 1, "two occurrences: 1.88 < 1.9");
        let mut presence = Sampler::new(SamplingParams { presence_penalty: 0.5, ..params(0.0) });
        assert_eq!(presence.sample(&logits, &[0]), 1);
    }

    #[test]
    fn non_finite_logits_are_never_drawn() {
        let mut s = Sampler::new(params(1.0));
        for _ in 0..20 {
            assert_eq!(s.sample(&[f32::NEG_INFINITY, 0.0, f32::NAN], &[]), 1);
        }
    }
}
