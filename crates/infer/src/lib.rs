//! Strata's inference core: everything about serving a model that is not arithmetic on tensors.
//!
//! The crate is synchronous and deterministic. It knows nothing of HTTP, threads or llama.cpp: a
//! [`Backend`] turns token batches into logits, and everything above it — which sequences run,
//! how a long prompt is split into chunks, how much KV cache each may use, how a token is picked
//! from the logits, when generation stops — is decided here, so it can be tested with a fake
//! backend on any machine.
//!
//! - [`sampling`]: temperature, top-k/top-p/min-p, penalties, a seeded RNG (same seed, same text).
//! - [`stop`]: stop sequences over streamed text, holding back a possible partial match.
//! - [`batcher`]: the continuous-batching state machine with KV admission control.
//! - [`prefix`]: finished sequences' caches kept for reuse by prompts that start alike.
//! - [`engine`]: the loop that ties them to a [`Backend`].

pub mod backend;
pub mod batcher;
pub mod engine;
pub mod prefix;
pub mod sampling;
pub mod stop;

pub use backend::{Backend, BatchItem, ChatMessage};
pub use batcher::{Batcher, BatcherConfig, SeqId, StepPlan, StepPolicy, SubmitError, Work};
pub use engine::{
    Embeddings, Engine, EngineError, Event, FinishReason, Request, Stats, StepShape, TokenLogprob, Usage,
    MAX_TOP_LOGPROBS,
};
pub use sampling::{Sampler, SamplingParams};
pub use stop::StopMatcher;
