//! The compute backend the engine drives: a model that turns token batches into logits.
//!
//! One trait so the engine runs on llama.cpp today (CPU; its CUDA, Vulkan, Metal and ROCm builds
//! later) and on a fake in tests. A backend keeps a KV cache per *slot*; the engine gives every
//! running sequence its own slot and releases it when the sequence ends.

/// One sequence's share of a batched decode: `tokens` are placed at positions
/// `start_pos..start_pos + tokens.len()` of slot `slot`'s cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchItem<'a> {
    pub slot: u32,
    pub start_pos: usize,
    pub tokens: &'a [u32],
    /// Whether the logits after the last token are wanted (the last prefill chunk, every decode).
    pub want_logits: bool,
}

/// A chat message, already validated by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

pub trait Backend {
    type Error: std::error::Error + Send + Sync + 'static;
    /// A slot's KV entries copied out of the cache (prefix reuse saves finished sequences' this
    /// way, in host memory).
    type Saved: Send;

    /// Runs all items in one forward pass; returns one logits vector per item with `want_logits`,
    /// in item order.
    fn decode(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<f32>>, Self::Error>;

    /// Drops everything slot `slot` holds in the KV cache.
    fn release(&mut self, slot: u32);

    /// Gives the empty slot `to` the entries of positions `0..len` of slot `from` (prefix reuse;
    /// llama.cpp shares the cells instead of copying them).
    fn copy_prefix(&mut self, from: u32, to: u32, len: usize) -> Result<(), Self::Error>;

    /// Drops the entries of slot `slot` from position `len` on.
    fn truncate(&mut self, slot: u32, len: usize) -> Result<(), Self::Error>;

    /// Copies out what slot `slot` holds, with the copy's size in bytes; `None` when a copy
    /// would not be whole (llama.cpp saves only the last window of a sliding-window model's
    /// sequence that outgrew it).
    fn save(&mut self, slot: u32) -> Result<Option<(Self::Saved, usize)>, Self::Error>;

    /// Puts saved entries into the empty slot `slot`, at the positions they were saved from.
    fn restore(&mut self, saved: &Self::Saved, slot: u32) -> Result<(), Self::Error>;

    /// Whether slot `slot` still holds every entry that a sequence continuing at position `len`
    /// attends to. A model with sliding-window layers lets its cache overwrite entries that fell
    /// out of the window of the sequence's *latest* position, so a shorter prefix taken from it
    /// may have lost some it needs; the engine then prefills that sequence from scratch.
    fn holds_prefix(&self, slot: u32, len: usize) -> bool {
        let _ = (slot, len);
        true
    }

    /// Text to tokens, with the model's BOS when it wants one and special tokens parsed (chat
    /// templates write them as text).
    fn tokenize(&self, text: &str) -> Result<Vec<u32>, Self::Error>;

    /// The bytes a token stands for (may be part of a UTF-8 character).
    fn token_bytes(&self, token: u32) -> Vec<u8>;

    /// End of generation: EOS, EOT and the like.
    fn is_end_of_generation(&self, token: u32) -> bool;

    /// The prompt for a chat, rendered with the model's own chat template.
    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, Self::Error>;

    /// One embedding of `tokens` (mean-pooled, unit length), computed apart from the decoding
    /// slots so it never touches their caches.
    fn embed(&mut self, tokens: &[u32]) -> Result<Vec<f32>, Self::Error>;

    /// The most tokens `embed` takes; longer inputs are cut to this.
    fn embed_limit(&self) -> usize;
}
