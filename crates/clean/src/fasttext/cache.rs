//! The per-thread token cache: token bytes → its input rows, in one flat open-addressing table
//! of 8-byte slots over one arena where each token's bytes and rows sit side by side.
//!
//! Most tokens recur (Zipf: 2.2 M tokens but 277 k distinct in D1's corpus), and a token's rows
//! never change, so they are worked out once per thread; the caller still adds them one by one,
//! in order, which keeps fastText's rounding.
//!
//! Why this layout: a lookup is cache misses, not work. Slots of 24 bytes and separate arenas for
//! bytes and rows cost three misses per token in a 24 MB table that pushed the pruned-bucket
//! bitmap out of L2; now a slot is 8 bytes (a tag, so most mismatches never touch the arena, and
//! the entry's offset) and a hit reads one slot and one entry. Lookups go in batches whose first
//! slots are all loaded before any is tested, so their misses overlap.

use xxhash_rust::xxh3::xxh3_64;

/// Bounded: emptied when it holds this many tokens, or its arena this many bytes.
const MAX_TOKENS: usize = 1 << 20;
const _: () = assert!(MAX_TOKENS * 2 <= 1 << 32, "home slots come from 32 bits of the hash");
const MAX_ARENA: usize = 1 << 27;
const FIRST_SLOTS: usize = 1 << 12;
/// Tokens whose first slots are loaded together: enough misses in flight to fill the core's
/// miss buffers, few enough to stay in registers and on the stack.
pub(super) const BATCH: usize = 16;

/// An entry's header: the token's length and its row count, 4 bytes each, little-endian.
const HEADER: usize = 8;

pub(super) struct TokenCache {
    /// The dictionary the rows came from (see `Dictionary::serial`).
    pub(super) serial: u64,
    /// 0: empty; else the hash's low 32 bits (high half) and 1 + the entry's offset in `arena`
    /// (low half). The home slot is `hash & mask` (the table never outgrows 32 bits), so the
    /// slot alone can be placed again when the table grows, without reading its entry.
    slots: Vec<u64>,
    tokens: usize,
    /// Entries: header, the token's bytes, its rows (u32, little-endian).
    arena: Vec<u8>,
    /// Where `compute` appends a new token's rows before they are copied into the arena.
    scratch: Vec<u32>,
    max_tokens: usize,
    max_arena: usize,
}

/// One token's rows, borrowed from the arena.
#[derive(Clone, Copy)]
pub(super) struct Rows<'a>(&'a [u8]);

impl<'a> Rows<'a> {
    pub(super) fn len(self) -> usize {
        self.0.len() / 4
    }

    pub(super) fn iter(self) -> impl Iterator<Item = u32> + 'a {
        self.0.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }
}

impl TokenCache {
    pub(super) fn new() -> Self {
        Self::with_limits(MAX_TOKENS, MAX_ARENA)
    }

    fn with_limits(max_tokens: usize, max_arena: usize) -> Self {
        Self {
            serial: u64::MAX,
            slots: Vec::new(),
            tokens: 0,
            arena: Vec::new(),
            scratch: Vec::new(),
            max_tokens,
            max_arena,
        }
    }

    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.tokens = 0;
        self.arena.clear();
    }

    /// Calls `each` with every token's rows, in order; `compute` appends a token's rows the first
    /// time it is seen. At most [`BATCH`] tokens at once.
    pub(super) fn rows_of(
        &mut self,
        tokens: &[&[u8]],
        mut compute: impl FnMut(&[u8], &mut Vec<u32>),
        mut each: impl FnMut(&[u8], Rows),
    ) {
        debug_assert!(tokens.len() <= BATCH);
        if self.slots.is_empty() {
            self.slots = vec![0; FIRST_SLOTS];
        }
        let (mut hashes, mut first) = ([0u64; BATCH], [0u64; BATCH]);
        let mask = self.slots.len() - 1;
        for (k, token) in tokens.iter().enumerate() {
            hashes[k] = xxh3_64(token);
            first[k] = self.slots[hashes[k] as usize & mask];
        }
        // The loaded slots hold until the first insert (which may fill one, regrow the table or
        // empty it).
        let mut changed = false;
        for (k, &token) in tokens.iter().enumerate() {
            let home = if changed { self.slots[hashes[k] as usize & self.mask()] } else { first[k] };
            let at = match self.find(token, hashes[k], home) {
                Some(at) => at,
                None => {
                    changed = true;
                    self.insert(token, hashes[k], &mut compute)
                }
            };
            each(token, self.entry_rows(at));
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The entry of `token`, probing from its home slot, whose value is `home`.
    fn find(&self, token: &[u8], hash: u64, home: u64) -> Option<usize> {
        let tag = hash as u32;
        let mask = self.mask();
        let (mut i, mut slot) = (hash as usize & mask, home);
        while slot != 0 {
            if (slot >> 32) as u32 == tag {
                let at = (slot as u32 - 1) as usize;
                let len = self.header(at).0;
                if self.arena[at + HEADER..at + HEADER + len] == *token {
                    return Some(at);
                }
            }
            i = (i + 1) & mask;
            slot = self.slots[i];
        }
        None
    }

    fn header(&self, at: usize) -> (usize, usize) {
        let word =
            |o: usize| u32::from_le_bytes([self.arena[o], self.arena[o + 1], self.arena[o + 2], self.arena[o + 3]]);
        (word(at) as usize, word(at + 4) as usize)
    }

    fn entry_rows(&self, at: usize) -> Rows<'_> {
        let (len, rows) = self.header(at);
        let start = at + HEADER + len;
        Rows(&self.arena[start..start + 4 * rows])
    }

    /// Works out and stores a token not in the table; returns its entry's offset.
    fn insert(&mut self, token: &[u8], hash: u64, compute: &mut impl FnMut(&[u8], &mut Vec<u32>)) -> usize {
        self.scratch.clear();
        compute(token, &mut self.scratch);
        let size = HEADER + token.len() + 4 * self.scratch.len();
        // Offsets are 32-bit (slot values hold 1 + offset): the bound keeps every one in range.
        if self.tokens >= self.max_tokens || self.arena.len() + size > self.max_arena.min(u32::MAX as usize - 1) {
            self.clear();
            self.slots = vec![0; FIRST_SLOTS];
        } else if (self.tokens + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let at = self.arena.len();
        self.arena.extend((token.len() as u32).to_le_bytes());
        self.arena.extend((self.scratch.len() as u32).to_le_bytes());
        self.arena.extend_from_slice(token);
        self.arena.extend(self.scratch.iter().flat_map(|r| r.to_le_bytes()));
        self.place(hash << 32 | (at as u64 + 1), hash);
        self.tokens += 1;
        at
    }

    fn place(&mut self, slot: u64, hash: u64) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for slot in old.into_iter().filter(|&s| s != 0) {
            self.place(slot, slot >> 32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looks every token up in batches, checking each against rows computed directly.
    fn check(cache: &mut TokenCache, tokens: &[String], calls: &mut usize) {
        let rows_of = |t: &[u8], rows: &mut Vec<u32>| {
            let n = t.iter().map(|&b| u32::from(b)).sum::<u32>();
            rows.extend((0..n % 5).map(|i| n * 7 + i));
        };
        let bytes: Vec<&[u8]> = tokens.iter().map(|t| t.as_bytes()).collect();
        for batch in bytes.chunks(BATCH) {
            let mut seen = 0;
            cache.rows_of(
                batch,
                |t, rows| {
                    *calls += 1;
                    rows_of(t, rows)
                },
                |t, rows| {
                    assert_eq!(t, batch[seen]);
                    let mut want = Vec::new();
                    rows_of(t, &mut want);
                    assert_eq!((rows.len(), rows.iter().collect::<Vec<_>>()), (want.len(), want), "{t:?}");
                    seen += 1;
                },
            );
            assert_eq!(seen, batch.len());
        }
    }

    #[test]
    fn computes_once_and_keeps_tokens_apart() {
        let mut cache = TokenCache::new();
        let mut calls = 0;
        // Enough tokens to grow the table several times, repeats inside one batch, and a
        // second round that must come from the cache.
        let tokens: Vec<String> = (0..20_000u32).map(|t| format!("t{}", t - t % 3 * (t % 2))).collect();
        let distinct = tokens.iter().collect::<std::collections::HashSet<_>>().len();
        check(&mut cache, &tokens, &mut calls);
        assert_eq!(calls, distinct);
        check(&mut cache, &tokens, &mut calls);
        assert_eq!(calls, distinct);
    }

    #[test]
    fn a_full_cache_starts_again_and_stays_right() {
        // So small that it empties itself many times, in the middle of batches too.
        let mut cache = TokenCache::with_limits(100, 4_000);
        let mut calls = 0;
        let tokens: Vec<String> = (0..5_000u32).map(|t| format!("token-{}", t % 700)).collect();
        check(&mut cache, &tokens, &mut calls);
        assert!(calls > 700, "never emptied: {calls}");
        assert!(cache.tokens <= 100 && cache.arena.len() <= 4_000);
    }
}
