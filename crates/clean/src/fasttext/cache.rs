//! The per-thread token cache: token bytes → its input rows, in one flat open-addressing table
//! whose tokens and row lists live in two arenas (no allocation per token, and a probe touches
//! one 24-byte slot before the bytes it compares).
//!
//! Most tokens recur (Zipf: 2.2 M tokens but 277 k distinct in D1's corpus), and a token's rows
//! never change, so they are worked out once per thread; the caller still adds them one by one,
//! in order, which keeps fastText's rounding.

use xxhash_rust::xxh3::xxh3_64;

/// Bounded: emptied when it holds this many tokens, or its arenas this many bytes or rows.
const MAX_TOKENS: usize = 1 << 20;
const MAX_ARENA: usize = 1 << 26;
const FIRST_SLOTS: usize = 1 << 12;

#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u64,
    /// Where the token's bytes start in `bytes`; `len == 0` marks an empty slot (tokens are
    /// never empty).
    at: u32,
    len: u32,
    rows_at: u32,
    rows_len: u32,
}

pub(super) struct TokenCache {
    /// The dictionary the rows came from (see `Dictionary::serial`).
    pub(super) serial: u64,
    slots: Vec<Slot>,
    tokens: usize,
    bytes: Vec<u8>,
    rows: Vec<u32>,
}

impl TokenCache {
    pub(super) fn new() -> Self {
        Self { serial: u64::MAX, slots: Vec::new(), tokens: 0, bytes: Vec::new(), rows: Vec::new() }
    }

    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.tokens = 0;
        self.bytes.clear();
        self.rows.clear();
    }

    /// The rows of `token`, worked out by `compute` (which appends them) the first time.
    pub(super) fn rows(&mut self, token: &[u8], compute: impl FnOnce(&mut Vec<u32>)) -> &[u32] {
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); FIRST_SLOTS];
        }
        let hash = xxh3_64(token);
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s.len == 0 {
                break;
            }
            if s.hash == hash && &self.bytes[s.at as usize..(s.at + s.len) as usize] == token {
                return &self.rows[s.rows_at as usize..(s.rows_at + s.rows_len) as usize];
            }
            i = (i + 1) & mask;
        }
        // A miss: make room first (so the slot found above may move), then insert.
        if self.tokens >= MAX_TOKENS || self.bytes.len() > MAX_ARENA || self.rows.len() > MAX_ARENA {
            self.clear();
            self.slots = vec![Slot::default(); FIRST_SLOTS];
        } else if (self.tokens + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let rows_at = self.rows.len();
        compute(&mut self.rows);
        let slot = Slot {
            hash,
            at: self.bytes.len() as u32,
            len: token.len() as u32,
            rows_at: rows_at as u32,
            rows_len: (self.rows.len() - rows_at) as u32,
        };
        self.bytes.extend_from_slice(token);
        self.place(slot);
        self.tokens += 1;
        &self.rows[rows_at..]
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = slot.hash as usize & mask;
        while self.slots[i].len != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    fn grow(&mut self) {
        let doubled = vec![Slot::default(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for s in old.into_iter().filter(|s| s.len != 0) {
            self.place(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_and_keeps_tokens_apart() {
        let mut cache = TokenCache::new();
        let mut calls = 0;
        // Enough tokens to grow the table several times; each token's rows are its own.
        for round in 0..2 {
            for t in 0..20_000u32 {
                let token = format!("t{t}");
                let rows = cache.rows(token.as_bytes(), |rows| {
                    calls += 1;
                    rows.extend([t, t + 1]);
                });
                assert_eq!(rows, [t, t + 1], "round {round}");
            }
        }
        assert_eq!(calls, 20_000);
        // A token with no rows is cached too.
        assert!(cache.rows(b"label", |_| {}).is_empty());
        assert!(cache.rows(b"label", |_| panic!("computed twice")).is_empty());
    }
}
