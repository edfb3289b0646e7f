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
        let logits = penalised(logits, history, &self.params);
        if self.params.temperature <= 0.0 {
            return argmax(&logits);
        }
        let candidates = cut(&logits, &self.params);
        if candidates.is_empty() {
            return 0;
        }
        // A draw in [0, total weight): no division of every weight by the total.
        let max = candidates.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f32> = candidates.iter().map(|c| ((c.1 - max) / self.params.temperature).exp()).collect();
        let mut draw: f32 = self.rng.gen::<f32>() * weights.iter().sum::<f32>();
        for (c, w) in candidates.iter().zip(&weights) {
            if draw < *w {
                return c.0;
            }
            draw -= w;
        }
        // Rounding left a sliver past the last candidate: it is the last one's.
        candidates.last().map_or(0, |c| c.0)
    }
}

/// The logits with the penalties applied; the caller's own slice when there are none (a copy of
/// the vocabulary per token is not free).
fn penalised<'a>(logits: &'a [f32], history: &[u32], params: &SamplingParams) -> std::borrow::Cow<'a, [f32]> {
    let no_penalty =
        params.repetition_penalty == 1.0 && params.frequency_penalty == 0.0 && params.presence_penalty == 0.0;
    if no_penalty || history.is_empty() {
        return std::borrow::Cow::Borrowed(logits);
    }
    let mut logits = logits.to_vec();
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
    std::borrow::Cow::Owned(logits)
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

/// The tokens a draw may pick after top-k, top-p and min-p (llama.cpp's order), with their
/// logits; NaN and infinite logits never.
fn cut(logits: &[f32], params: &SamplingParams) -> Vec<(u32, f32)> {
    let mut candidates: Vec<(u32, f32)> =
        logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, &l)| (i as u32, l)).collect();
    // Only as much of the vocabulary is ordered as the cuts need: a full sort of a 49 k or
    // 262 k vocabulary per token cost more than the rest of a decode step on small models.
    if params.top_k > 0 && params.top_k < candidates.len() {
        candidates.select_nth_unstable_by(params.top_k - 1, by_logit);
        candidates.truncate(params.top_k);
    }
    if params.top_p < 1.0 {
        let keep = top_p_prefix(&mut candidates, params.top_p);
        candidates.truncate(keep);
    }
    if params.min_p > 0.0 {
        // p_i ≥ min_p × p_max, i.e. logit_i ≥ logit_max + ln(min_p); the best always stays.
        let max = candidates.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
        let threshold = max + params.min_p.ln();
        candidates.retain(|c| c.1 >= threshold);
    }
    candidates
}

/// Highest logit first; ties by id, so the order (and so the draw) is deterministic.
fn by_logit(a: &(u32, f32), b: &(u32, f32)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// Orders the front of `candidates` (by [`by_logit`]) until the smallest prefix whose probability
/// (at temperature 1) reaches `top_p`, and returns its length. The front is sorted in growing
/// windows picked by `select_nth_unstable`, so a peaked distribution orders a few dozen tokens
/// rather than the vocabulary; the result is the same prefix a full sort gives.
fn top_p_prefix(candidates: &mut [(u32, f32)], top_p: f32) -> usize {
    let n = candidates.len();
    let max = candidates.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
    // f64, so the order the terms are added in (which the windows change) cannot move the cut.
    let sum: f64 = candidates.iter().map(|c| f64::from(c.1 - max).exp()).sum();
    let (mut sorted, mut total) = (0, 0.0f64);
    while sorted < n {
        let end = (sorted * 4).max(64).min(n);
        let rest = &mut candidates[sorted..];
        if end < n {
            rest.select_nth_unstable_by(end - sorted - 1, by_logit);
        }
        rest[..end - sorted].sort_unstable_by(by_logit);
        for (i, c) in candidates[sorted..end].iter().enumerate() {
            total += f64::from(c.1 - max).exp() / sum;
            if total >= f64::from(top_p) {
                return sorted + i + 1;
            }
        }
        sorted = end;
    }
    n
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

    /// The cuts as written in llama.cpp's chain, on a fully sorted vocabulary: what `cut` must
    /// equal as a set.
    fn cut_by_full_sort(logits: &[f32], params: &SamplingParams) -> Vec<u32> {
        let mut c: Vec<(u32, f32)> =
            logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, &l)| (i as u32, l)).collect();
        c.sort_by(by_logit);
        if params.top_k > 0 {
            c.truncate(params.top_k);
        }
        if params.top_p < 1.0 && !c.is_empty() {
            let max = c[0].1;
            let sum: f64 = c.iter().map(|x| f64::from(x.1 - max).exp()).sum();
            let mut total = 0.0;
            let keep = c
                .iter()
                .position(|x| {
                    total += f64::from(x.1 - max).exp() / sum;
                    total >= f64::from(params.top_p)
                })
                .map_or(c.len(), |i| i + 1);
            c.truncate(keep);
        }
        if params.min_p > 0.0 && !c.is_empty() {
            let threshold = c[0].1 + params.min_p.ln();
            c.retain(|x| x.1 >= threshold);
        }
        let mut ids: Vec<u32> = c.into_iter().map(|x| x.0).collect();
        ids.sort_unstable();
        ids
    }

    proptest::proptest! {
        #[test]
        fn the_partial_orderings_keep_what_a_full_sort_keeps(
            // Few distinct values, so ties across window edges are common; a vocabulary larger
            // than several windows.
            raw in proptest::collection::vec(0u8..40, 1..3000),
            top_k in proptest::prop_oneof![proptest::strategy::Just(0usize), 1usize..400],
            top_p in proptest::prop_oneof![proptest::strategy::Just(1.0f32), 0.05f32..1.0],
            min_p in proptest::prop_oneof![proptest::strategy::Just(0.0f32), 0.001f32..0.5],
        ) {
            let logits: Vec<f32> = raw.iter().map(|&r| if r == 39 { f32::NEG_INFINITY } else { f32::from(r) * 0.25 }).collect();
            let params = SamplingParams { top_k, top_p, min_p, ..params(1.0) };
            let mut got: Vec<u32> = cut(&logits, &params).into_iter().map(|c| c.0).collect();
            got.sort_unstable();
            proptest::prop_assert_eq!(got, cut_by_full_sort(&logits, &params));
        }
    }

    #[test]
    fn a_draw_without_cuts_follows_the_distribution() {
        // Two tokens at logits ln 3 and 0: three draws in four go to the first.
        let logits = [3f32.ln(), 0.0];
        let mut s = Sampler::new(SamplingParams { seed: 11, ..params(1.0) });
        let first = (0..4000).filter(|_| s.sample(&logits, &[]) == 0).count();
        assert!((2850..3150).contains(&first), "{first} of 4000");
    }
}
