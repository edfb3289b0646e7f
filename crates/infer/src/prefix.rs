//! Prefix reuse: the KV entries of finished sequences stay in their slots, and a new sequence
//! whose prompt starts like one of them (a shared system prompt, an earlier turn of the same
//! chat) takes that slot over and skips prefilling the common part. A sequence can also share a
//! prefix with one still running: the engine copies the entries (llama.cpp shares the cells).
//!
//! Retained entries are a cache, never a commitment: admission evicts the least recently used
//! one whenever it needs the room or the slot, so a retained prefix never makes a request wait.
//! They are also capped (the engine's `prefix_cache_tokens`): llama.cpp's unified cache attends
//! over every occupied cell, so each retained token slows every running sequence's decode a
//! little — measured at 7,600 retained tokens, SmolLM2's decode fell from 66 to 2 tokens/s.

/// Fewer common tokens than this are not worth a slot takeover or a copy.
pub const MIN_REUSE: usize = 4;

/// A finished sequence's cache, kept in its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained {
    pub slot: u32,
    /// The tokens whose entries the slot holds, from position 0.
    pub tokens: Vec<u32>,
    last_used: u64,
}

#[derive(Debug, Clone, Default)]
pub struct PrefixCache {
    entries: Vec<Retained>,
    clock: u64,
}

/// How many leading tokens two sequences share.
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The most of `prompt` that may come from a cache: all but its last token, whose logits the
/// new sequence needs computed.
pub fn reusable(prompt: &[u32], cached: &[u32]) -> usize {
    common_prefix(prompt, cached).min(prompt.len().saturating_sub(1))
}

impl PrefixCache {
    /// Keeps `tokens` in `slot`, evicting least recently used entries so that all of them hold
    /// at most `cap` tokens. Returns the slots to free: the evicted ones, or `slot` itself when
    /// its tokens alone exceed the cap.
    pub fn insert(&mut self, slot: u32, tokens: Vec<u32>, cap: usize) -> Vec<u32> {
        self.clock += 1;
        self.entries.retain(|e| e.slot != slot);
        if tokens.is_empty() || tokens.len() > cap {
            return vec![slot];
        }
        let mut freed = Vec::new();
        while self.tokens() + tokens.len() > cap {
            match self.evict_lru() {
                Some(s) => freed.push(s),
                None => break,
            }
        }
        self.entries.push(Retained { slot, tokens, last_used: self.clock });
        freed
    }

    /// The entry sharing the longest reusable prefix with `prompt` (at least `MIN_REUSE`) that
    /// `usable(slot, length)` accepts, and that length; the most recently used wins a tie.
    pub fn best(&self, prompt: &[u32], usable: impl Fn(u32, usize) -> bool) -> Option<(usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, reusable(prompt, &e.tokens), e.last_used))
            .filter(|&(i, n, _)| n >= MIN_REUSE && usable(self.entries[i].slot, n))
            .max_by_key(|&(_, n, used)| (n, used))
            .map(|(i, n, _)| (i, n))
    }

    /// Removes entry `index` (from `best`) to hand its slot to a new sequence.
    pub fn take(&mut self, index: usize) -> Retained {
        self.entries.swap_remove(index)
    }

    /// Frees the least recently used entry's slot.
    pub fn evict_lru(&mut self) -> Option<u32> {
        let (i, _) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used)?;
        Some(self.entries.swap_remove(i).slot)
    }

    /// Tokens held by retained entries.
    pub fn tokens(&self) -> usize {
        self.entries.iter().map(|e| e.tokens.len()).sum()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_shared_prefix_wins_and_the_last_prompt_token_is_always_computed() {
        let mut c = PrefixCache::default();
        c.insert(0, vec![1, 2, 3, 4, 5, 6], 100);
        c.insert(1, vec![1, 2, 3, 4, 5, 6, 7, 8, 9], 100);
        c.insert(2, vec![9, 9, 9, 9, 9], 100);
        let any = |_, _| true;
        assert_eq!(c.best(&[1, 2, 3, 4, 5, 6, 7, 8, 0], any), Some((1, 8)));
        assert_eq!(c.best(&[1, 2, 3, 4, 5, 6, 7, 8, 0], |slot, _| slot != 1), Some((0, 6)), "slot 1 refused");
        // The whole prompt is cached: all but its last token are reused.
        assert_eq!(c.best(&[9, 9, 9, 9, 9], any), Some((2, 4)));
        assert_eq!(c.best(&[1, 2, 3], any), None, "too short to be worth it");
        assert_eq!(c.tokens(), 20);
    }

    #[test]
    fn eviction_takes_the_least_recently_used() {
        let mut c = PrefixCache::default();
        c.insert(3, vec![1; 10], 100);
        c.insert(5, vec![2; 10], 100);
        c.insert(3, vec![1; 12], 100);
        assert_eq!(c.evict_lru(), Some(5));
        assert_eq!(c.evict_lru(), Some(3));
        assert_eq!(c.evict_lru(), None);
    }

    #[test]
    fn the_cap_evicts_the_oldest_and_refuses_what_cannot_fit() {
        let mut c = PrefixCache::default();
        assert_eq!(c.insert(1, vec![1; 8], 20), Vec::<u32>::new());
        assert_eq!(c.insert(2, vec![2; 8], 20), Vec::<u32>::new());
        assert_eq!(c.insert(3, vec![3; 8], 20), vec![1], "slot 1 evicted to stay within 20 tokens");
        assert_eq!(c.insert(4, vec![4; 21], 20), vec![4], "larger than the cap: not kept");
        assert_eq!(c.tokens(), 16);
    }
}
