//! Prefix reuse: a new sequence whose prompt starts like a finished one's (a shared system
//! prompt, the earlier turns of the same chat) gets those KV entries instead of prefilling them,
//! and so does one that starts like a sequence still running (the engine copies the entries;
//! llama.cpp shares the cells).
//!
//! A finished sequence's entries are kept one of two ways, both a [`PrefixCache`]:
//! - *saved* to host memory by the backend, the slot freed, and restored into a new sequence's
//!   slot on a match — the default. Kept out of the KV cache on purpose: llama.cpp's unified cache
//!   attends over every cell up to the highest occupied one, so entries left in cells slow every
//!   running sequence's decode (SmolLM2's single stream: 59–63 tokens/s with 2,048 retained
//!   tokens against 70–71 with none). llama-server does the same (idle slots saved to RAM, then
//!   cleared). Bounded in bytes.
//! - *retained* in their slot, the slot taken over on a match — when the backend cannot copy the
//!   entries out whole: llama.cpp saves only the last window of a sliding-window model's sequence
//!   longer than its window, which could not serve a shorter prefix. Bounded in tokens, small,
//!   and evicted before it could make a request wait.
//!
//! Either is a cache, never a commitment: least recently used entries go first.

/// Fewer common tokens than this are not worth a restore, a takeover or a copy.
pub const MIN_REUSE: usize = 4;

/// A finished sequence's entries: `state` is where they are (a slot, or the backend's copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept<S> {
    /// The tokens whose entries `state` holds, from position 0.
    pub tokens: Vec<u32>,
    pub state: S,
    /// What the entry counts against the cache's cap (bytes saved, or tokens retained).
    pub size: usize,
    last_used: u64,
}

#[derive(Debug, Clone)]
pub struct PrefixCache<S> {
    entries: Vec<Kept<S>>,
    clock: u64,
}

impl<S> Default for PrefixCache<S> {
    fn default() -> Self {
        Self { entries: Vec::new(), clock: 0 }
    }
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

impl<S> PrefixCache<S> {
    /// Keeps `state`, the entries of `tokens`, evicting least recently used entries so that all
    /// of them total at most `cap` in size; entries it extends go too (it serves every prompt
    /// they would). Returns the states let go — the evicted ones, or `state` itself when it
    /// alone exceeds the cap — for the caller to free.
    pub fn insert(&mut self, tokens: Vec<u32>, state: S, size: usize, cap: usize) -> Vec<S> {
        self.clock += 1;
        if tokens.is_empty() || size > cap {
            return vec![state];
        }
        let (extended, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| common_prefix(&e.tokens, &tokens) == e.tokens.len());
        self.entries = kept;
        let mut freed: Vec<S> = extended.into_iter().map(|e| e.state).collect();
        while self.size() + size > cap {
            match self.evict_lru() {
                Some(s) => freed.push(s),
                None => break,
            }
        }
        self.entries.push(Kept { tokens, state, size, last_used: self.clock });
        freed
    }

    /// The entry sharing the longest reusable prefix with `prompt` (at least `MIN_REUSE`) that
    /// `usable(entry, length)` accepts, and that length; the most recently used wins a tie.
    pub fn best(&self, prompt: &[u32], usable: impl Fn(&Kept<S>, usize) -> bool) -> Option<(usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, reusable(prompt, &e.tokens), e.last_used))
            .filter(|&(i, n, _)| n >= MIN_REUSE && usable(&self.entries[i], n))
            .max_by_key(|&(_, n, used)| (n, used))
            .map(|(i, n, _)| (i, n))
    }

    /// Entry `index` (from `best`), marked as just used; it stays.
    pub fn get(&mut self, index: usize) -> Option<&Kept<S>> {
        self.clock += 1;
        let entry = self.entries.get_mut(index)?;
        entry.last_used = self.clock;
        Some(entry)
    }

    /// Removes entry `index` (from `best`): a retained slot handed to a new sequence, or a
    /// saved copy the backend could not restore.
    pub fn take(&mut self, index: usize) -> Option<Kept<S>> {
        (index < self.entries.len()).then(|| self.entries.swap_remove(index))
    }

    /// Removes the least recently used entry.
    pub fn evict_lru(&mut self) -> Option<S> {
        let (i, _) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used)?;
        Some(self.entries.swap_remove(i).state)
    }

    /// Tokens the entries hold.
    pub fn tokens(&self) -> usize {
        self.entries.iter().map(|e| e.tokens.len()).sum()
    }

    /// What the entries count against the cap.
    pub fn size(&self) -> usize {
        self.entries.iter().map(|e| e.size).sum()
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

    /// Slots as states, sized by their tokens (the retained kind).
    fn insert(c: &mut PrefixCache<u32>, slot: u32, tokens: Vec<u32>, cap: usize) -> Vec<u32> {
        let size = tokens.len();
        c.insert(tokens, slot, size, cap)
    }

    #[test]
    fn the_longest_shared_prefix_wins_and_the_last_prompt_token_is_always_computed() {
        let mut c = PrefixCache::default();
        insert(&mut c, 0, vec![1, 2, 3, 4, 5, 6], 100);
        insert(&mut c, 1, vec![1, 2, 3, 4, 5, 7, 8, 9, 9], 100);
        insert(&mut c, 2, vec![9, 9, 9, 9, 9], 100);
        let any = |_: &Kept<u32>, _| true;
        assert_eq!(c.best(&[1, 2, 3, 4, 5, 7, 8, 9, 0], any), Some((1, 8)));
        assert_eq!(c.best(&[1, 2, 3, 4, 5, 7, 8, 9, 0], |e, _| e.state != 1), Some((0, 5)), "slot 1 refused");
        // The whole prompt is cached: all but its last token are reused.
        assert_eq!(c.best(&[9, 9, 9, 9, 9], any), Some((2, 4)));
        assert_eq!(c.best(&[1, 2, 3], any), None, "too short to be worth it");
        assert_eq!((c.tokens(), c.size()), (20, 20));
        assert_eq!(c.get(2).map(|e| e.state), Some(2));
        assert_eq!(c.take(2).map(|e| e.state), Some(2));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn eviction_takes_the_least_recently_used() {
        let mut c = PrefixCache::default();
        insert(&mut c, 3, vec![1; 10], 100);
        insert(&mut c, 5, vec![2; 10], 100);
        c.get(0);
        assert_eq!(c.evict_lru(), Some(5));
        assert_eq!(c.evict_lru(), Some(3));
        assert_eq!(c.evict_lru(), None);
    }

    #[test]
    fn the_cap_evicts_the_oldest_and_refuses_what_cannot_fit() {
        let mut c = PrefixCache::default();
        assert_eq!(insert(&mut c, 1, vec![1; 8], 20), Vec::<u32>::new());
        assert_eq!(insert(&mut c, 2, vec![2; 8], 20), Vec::<u32>::new());
        assert_eq!(insert(&mut c, 3, vec![3; 8], 20), vec![1], "slot 1 evicted to stay within 20 tokens");
        assert_eq!(insert(&mut c, 4, vec![4; 21], 20), vec![4], "larger than the cap: not kept");
        assert_eq!(c.tokens(), 16);
    }

    #[test]
    fn a_longer_turn_of_the_same_chat_replaces_the_shorter() {
        let mut c = PrefixCache::default();
        insert(&mut c, 1, vec![1, 2, 3, 4, 5], 100);
        assert_eq!(insert(&mut c, 2, vec![1, 2, 3, 4, 5, 6, 7], 100), vec![1]);
        assert_eq!((c.len(), c.tokens()), (1, 7));
    }
}
