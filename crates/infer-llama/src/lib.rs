//! The llama.cpp backend of Strata's engine, through the `llama-cpp-2` crate.
//!
//! This is the only crate that builds C++ (llama.cpp from the crate's bundled source, CPU-only by
//! default; llama.cpp's CUDA, Vulkan, Metal and ROCm builds are features of `llama-cpp-2` to
//! switch on here later). It implements [`strata_infer::Backend`]: one llama.cpp context with a
//! *unified* KV cache shared by `slots` sequences (llama.cpp sequence ids), a batched decode over
//! all of them, and removal of a sequence's cache entries when it ends. Embeddings run in a second,
//! small context made on first use (mean pooling), so they never disturb the decoding slots.
//!
//! The model is loaded once per process and lives until exit, so it is leaked to `'static`: the
//! context borrows it, and a self-referential struct would need `unsafe`, which the workspace
//! denies.

use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{LlamaStateSeqFlags, SeqState};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;
use strata_infer::{Backend, BatchItem, ChatMessage};

#[derive(Debug, thiserror::Error)]
pub enum LlamaError {
    #[error("cannot start llama.cpp: {0}")]
    Init(String),
    #[error("cannot load the model {path}: {message}")]
    Load { path: String, message: String },
    #[error("cannot create a llama.cpp context: {0}")]
    Context(String),
    #[error("the model has no chat template; use /v1/completions with a prompt in the model's own format, or serve it with --chat-template (chatml, gemma or a Jinja file)")]
    NoChatTemplate,
    #[error("cannot apply the chat template: {0}")]
    Template(String),
    #[error("the batch does not fit: {0}")]
    Batch(String),
    #[error("llama.cpp decode failed: {0}")]
    Decode(String),
    #[error("cannot save or restore a sequence's cache: {0}")]
    State(String),
}

/// How the context is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlamaConfig {
    /// CPU threads for decode and prefill.
    pub threads: usize,
    /// Sequences that may hold cache at once.
    pub slots: u32,
    /// KV-cache capacity in tokens, shared by all slots.
    pub context_tokens: u32,
    /// The most tokens one decode call carries.
    pub batch_tokens: u32,
}

/// Facts about the loaded model the server reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedModel {
    pub context_train: u32,
    pub vocab: usize,
    pub parameters: u64,
    pub has_chat_template: bool,
}

/// The context embeddings are computed in: its own, so they never touch the decoding slots.
struct Embedder {
    context: LlamaContext<'static>,
    batch: LlamaBatch<'static>,
}

/// The most tokens one embedding input takes.
pub const EMBED_TOKENS: u32 = 512;

pub struct LlamaCpp {
    model: &'static LlamaModel,
    context: LlamaContext<'static>,
    /// Made on the first embeddings request.
    embedder: Option<Embedder>,
    batch: LlamaBatch<'static>,
    template: Option<LlamaChatTemplate>,
    add_bos: bool,
    config: LlamaConfig,
    /// The model's attention window (`{arch}.attention.sliding_window`), when it has one.
    window: Option<usize>,
}

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// llama.cpp's process-wide initialisation, once; its logs go to `tracing`.
fn backend() -> Result<&'static LlamaBackend, LlamaError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlamaError::Init(e.clone()))
}

impl LlamaCpp {
    /// Loads a GGUF file. Callers run `strata_models`' GGUF reader first to refuse a bad file with a
    /// clear message; llama.cpp's own checks are the second line.
    pub fn load(path: &Path, config: LlamaConfig) -> Result<(Self, LoadedModel), LlamaError> {
        let backend = backend()?;
        let load_error = |message: String| LlamaError::Load { path: path.display().to_string(), message };
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| load_error(e.to_string()))?;
        let model: &'static LlamaModel = Box::leak(Box::new(model));
        let threads = i32::try_from(config.threads.max(1)).unwrap_or(1);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(config.context_tokens))
            .with_n_batch(config.batch_tokens)
            .with_n_ubatch(config.batch_tokens)
            .with_n_seq_max(config.slots)
            .with_kv_unified(true)
            // A full-size cache for sliding-window layers (llama.cpp's default, said here because
            // prefix reuse depends on it): a window-sized one forgets what a cut prefix needs.
            .with_swa_full(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let context = model.new_context(backend, params).map_err(|e| LlamaError::Context(e.to_string()))?;
        let batch = LlamaBatch::new(config.batch_tokens as usize, config.slots as i32);
        let template = model.chat_template(None).ok();
        let add_bos = model.vocab().should_add_bos();
        let window = sliding_window(model);
        let loaded = LoadedModel {
            context_train: model.n_ctx_train(),
            vocab: usize::try_from(model.n_vocab()).unwrap_or(0),
            parameters: model.n_params(),
            has_chat_template: template.is_some(),
        };
        Ok((Self { model, context, embedder: None, batch, template, add_bos, config, window }, loaded))
    }

    fn embedder(&mut self) -> Result<&mut Embedder, LlamaError> {
        if self.embedder.is_none() {
            let threads = i32::try_from(self.config.threads.max(1)).unwrap_or(1);
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(EMBED_TOKENS))
                .with_n_batch(EMBED_TOKENS)
                .with_n_ubatch(EMBED_TOKENS)
                .with_n_seq_max(1)
                .with_embeddings(true)
                .with_pooling_type(LlamaPoolingType::Mean)
                .with_n_threads(threads)
                .with_n_threads_batch(threads);
            let context = self.model.new_context(backend()?, params).map_err(|e| LlamaError::Context(e.to_string()))?;
            let batch = LlamaBatch::new(EMBED_TOKENS as usize, 1);
            self.embedder = Some(Embedder { context, batch });
        }
        self.embedder.as_mut().ok_or_else(|| LlamaError::Context("no embeddings context".into()))
    }

    pub fn config(&self) -> LlamaConfig {
        self.config
    }
}

/// The attention window of a model with sliding-window layers, from its metadata.
fn sliding_window(model: &LlamaModel) -> Option<usize> {
    let arch = model.meta_val_str("general.architecture").ok()?;
    let window = model.meta_val_str(&format!("{arch}.attention.sliding_window")).ok()?;
    window.trim().parse().ok().filter(|w| *w > 0)
}

/// llama.cpp's own greedy decoding of `prompt` (tokenized with special tokens, one sequence,
/// the whole prompt in one batch, llama.cpp's greedy sampler), `max_tokens` tokens or until the
/// end of generation. The reference Strata's engine — chunked prefill, batching, its own sampler —
/// is tested against: same model, same prompt, the same tokens.
pub fn reference_greedy(path: &Path, prompt: &str, max_tokens: usize, threads: usize) -> Result<Vec<u32>, LlamaError> {
    use llama_cpp_2::sampling::LlamaSampler;
    let backend = backend()?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .map_err(|e| LlamaError::Load { path: path.display().to_string(), message: e.to_string() })?;
    let tokens = model.vocab().tokenize(prompt.as_bytes(), model.vocab().should_add_bos(), true);
    let n_ctx = (tokens.len() + max_tokens + 8) as u32;
    let threads = i32::try_from(threads.max(1)).unwrap_or(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut context = model.new_context(backend, params).map_err(|e| LlamaError::Context(e.to_string()))?;
    let mut batch = LlamaBatch::new(n_ctx as usize, 1);
    for (i, t) in tokens.iter().enumerate() {
        batch.add(*t, i as i32, &[0], i + 1 == tokens.len()).map_err(|e| LlamaError::Batch(e.to_string()))?;
    }
    context.decode(&mut batch).map_err(|e| LlamaError::Decode(e.to_string()))?;
    let mut sampler = LlamaSampler::greedy();
    let mut out = Vec::new();
    for pos in (tokens.len() as i32..).take(max_tokens) {
        let token = sampler.sample(&context, batch.n_tokens() - 1);
        if model.vocab().is_eog(token) {
            break;
        }
        out.push(token.0 as u32);
        batch.clear();
        batch.add(token, pos, &[0], true).map_err(|e| LlamaError::Batch(e.to_string()))?;
        context.decode(&mut batch).map_err(|e| LlamaError::Decode(e.to_string()))?;
    }
    Ok(out)
}

impl Backend for LlamaCpp {
    type Error = LlamaError;
    type Saved = SeqState;

    fn decode(&mut self, items: &[BatchItem<'_>]) -> Result<Vec<Vec<f32>>, LlamaError> {
        self.batch.clear();
        let mut logit_rows = Vec::new();
        for item in items {
            let seq = [item.slot as i32];
            for (i, token) in item.tokens.iter().enumerate() {
                let last = i + 1 == item.tokens.len();
                let pos = (item.start_pos + i) as i32;
                let want = last && item.want_logits;
                self.batch
                    .add(LlamaToken::new(*token as i32), pos, &seq, want)
                    .map_err(|e| LlamaError::Batch(e.to_string()))?;
                if want {
                    logit_rows.push(self.batch.n_tokens() - 1);
                }
            }
        }
        if self.batch.n_tokens() == 0 {
            return Ok(Vec::new());
        }
        self.context.decode(&mut self.batch).map_err(|e| LlamaError::Decode(e.to_string()))?;
        Ok(logit_rows.into_iter().map(|row| self.context.get_logits_ith(row).to_vec()).collect())
    }

    fn release(&mut self, slot: u32) {
        if let Err(e) = self.context.clear_kv_cache_seq(Some(slot), None, None) {
            tracing::warn!(slot, error = %e, "cannot clear a sequence's KV cache");
        }
    }

    fn copy_prefix(&mut self, from: u32, to: u32, len: usize) -> Result<(), LlamaError> {
        let len = u32::try_from(len).map_err(|e| LlamaError::Batch(e.to_string()))?;
        self.context
            .copy_kv_cache_seq(from as i32, to as i32, Some(0), Some(len))
            .map_err(|e| LlamaError::Batch(e.to_string()))
    }

    fn truncate(&mut self, slot: u32, len: usize) -> Result<(), LlamaError> {
        let len = u32::try_from(len).map_err(|e| LlamaError::Batch(e.to_string()))?;
        match self.context.clear_kv_cache_seq(Some(slot), Some(len), None) {
            Ok(true) => Ok(()),
            Ok(false) => Err(LlamaError::Batch(format!("llama.cpp could not cut slot {slot} to {len} tokens"))),
            Err(e) => Err(LlamaError::Batch(e.to_string())),
        }
    }

    /// llama.cpp writes a sequence's cells except those outside the window of its latest
    /// position, so a sliding-window model's sequence longer than its window cannot be saved
    /// whole (the engine then keeps it in its slot).
    fn save(&mut self, slot: u32) -> Result<Option<(SeqState, usize)>, LlamaError> {
        let (oldest, latest) =
            (self.context.kv_cache_seq_pos_min(slot as i32), self.context.kv_cache_seq_pos_max(slot as i32));
        let span = i64::from(latest) - i64::from(oldest);
        if oldest != 0 || self.window.is_some_and(|w| span >= w as i64) {
            return Ok(None);
        }
        let state = self
            .context
            .state_seq_get(slot as i32, LlamaStateSeqFlags::empty())
            .map_err(|e| LlamaError::State(e.to_string()))?;
        let bytes = state.byte_len();
        Ok(Some((state, bytes)))
    }

    fn restore(&mut self, saved: &SeqState, slot: u32) -> Result<(), LlamaError> {
        self.context.state_seq_set(saved, slot as i32).map_err(|e| LlamaError::State(e.to_string()))
    }

    /// llama.cpp keeps a sliding-window layer's entries only while some sequence's window needs
    /// them, and reports the oldest position a sequence still holds (the windowed layers' oldest:
    /// the full layers hold more). A token at position `len` attends to positions past
    /// `len - window`, so those must all be there; without a window, all of them from 0.
    /// llama-server makes the same check before it reuses a slot's cache.
    fn holds_prefix(&self, slot: u32, len: usize) -> bool {
        let oldest = self.context.kv_cache_seq_pos_min(slot as i32);
        let Ok(oldest) = usize::try_from(oldest) else { return false }; // -1: nothing held
        oldest <= len.saturating_sub(self.window.unwrap_or(len))
    }

    fn tokenize(&self, text: &str) -> Result<Vec<u32>, LlamaError> {
        let tokens = self.model.vocab().tokenize(text.as_bytes(), self.add_bos, true);
        Ok(tokens.into_iter().map(|t| t.0 as u32).collect())
    }

    fn token_bytes(&self, token: u32) -> Vec<u8> {
        self.model.vocab().token_to_piece(LlamaToken::new(token as i32), false, None)
    }

    fn is_end_of_generation(&self, token: u32) -> bool {
        self.model.vocab().is_eog(LlamaToken::new(token as i32))
    }

    fn embed(&mut self, tokens: &[u32]) -> Result<Vec<f32>, LlamaError> {
        let e = self.embedder()?;
        e.batch.clear();
        for (i, token) in tokens.iter().enumerate() {
            e.batch
                .add(LlamaToken::new(*token as i32), i as i32, &[0], true)
                .map_err(|e| LlamaError::Batch(e.to_string()))?;
        }
        e.context.clear_kv_cache();
        e.context.decode(&mut e.batch).map_err(|e| LlamaError::Decode(e.to_string()))?;
        let pooled = e.context.embeddings_seq_ith(0).map_err(|e| LlamaError::Decode(e.to_string()))?;
        // OpenAI's embeddings have unit length, so a dot product is the cosine similarity.
        let norm = pooled.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        Ok(pooled.iter().map(|x| x / norm).collect())
    }

    fn embed_limit(&self) -> usize {
        EMBED_TOKENS as usize
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, LlamaError> {
        let template = self.template.as_ref().ok_or(LlamaError::NoChatTemplate)?;
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LlamaError::Template(e.to_string()))?;
        self.model.apply_chat_template(template, &chat, true).map_err(|e| LlamaError::Template(e.to_string()))
    }
}
