//! The model server's Prometheus metrics. Names are constants here; there are no labels, since
//! one server serves one model.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

pub const WAITING: &str = "infer_waiting_sequences";
pub const RUNNING: &str = "infer_running_sequences";
pub const KV_USED: &str = "infer_kv_used_tokens";
pub const KV_RESERVED: &str = "infer_kv_reserved_tokens";
pub const KV_RETAINED: &str = "infer_kv_retained_tokens";
pub const PREFIX_SAVED_TOKENS: &str = "infer_prefix_saved_tokens";
pub const PREFIX_SAVED_BYTES: &str = "infer_prefix_saved_bytes";
pub const PREFIX_REUSED: &str = "infer_prefix_reused_tokens";
pub const PREFIX_REFUSED: &str = "infer_prefix_refused";
pub const KV_CAPACITY: &str = "infer_kv_capacity_tokens";
pub const PROMPT_TOKENS: &str = "infer_prompt_tokens";
pub const GENERATED_TOKENS: &str = "infer_generated_tokens";
pub const CANCELLED: &str = "infer_cancelled_sequences";
pub const TTFT: &str = "infer_time_to_first_token_seconds";
pub const INTER_TOKEN: &str = "infer_inter_token_seconds";
pub const STEP: &str = "infer_step_seconds";
pub const STEP_TOKENS: &str = "infer_step_tokens";

pub struct Metrics {
    registry: Mutex<Registry>,
    pub waiting: Gauge,
    pub running: Gauge,
    pub kv_used: Gauge,
    pub kv_reserved: Gauge,
    pub kv_retained: Gauge,
    pub prefix_saved_tokens: Gauge,
    pub prefix_saved_bytes: Gauge,
    pub prefix_reused: Gauge,
    pub prefix_refused: Gauge,
    pub kv_capacity: Gauge,
    pub prompt_tokens: Counter,
    pub generated_tokens: Counter,
    pub cancelled: Counter,
    pub ttft_seconds: Histogram,
    pub inter_token_seconds: Histogram,
    pub step_seconds: Histogram,
    pub step_tokens: Histogram,
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("strata")),
            waiting: Gauge::default(),
            running: Gauge::default(),
            kv_used: Gauge::default(),
            kv_reserved: Gauge::default(),
            kv_retained: Gauge::default(),
            prefix_saved_tokens: Gauge::default(),
            prefix_saved_bytes: Gauge::default(),
            prefix_reused: Gauge::default(),
            prefix_refused: Gauge::default(),
            kv_capacity: Gauge::default(),
            prompt_tokens: Counter::default(),
            generated_tokens: Counter::default(),
            cancelled: Counter::default(),
            ttft_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            inter_token_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            step_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            step_tokens: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register(WAITING, "Sequences waiting for KV-cache space", m.waiting.clone());
            r.register(RUNNING, "Sequences in the running batch", m.running.clone());
            r.register(KV_USED, "Tokens held in the KV cache", m.kv_used.clone());
            r.register(KV_RESERVED, "KV-cache tokens reserved by running sequences", m.kv_reserved.clone());
            r.register(
                KV_RETAINED,
                "KV-cache tokens of finished sequences kept in their slots for prefix reuse",
                m.kv_retained.clone(),
            );
            r.register(
                PREFIX_SAVED_TOKENS,
                "Tokens of finished sequences' caches saved in host memory for prefix reuse",
                m.prefix_saved_tokens.clone(),
            );
            r.register(PREFIX_SAVED_BYTES, "Host memory those saved caches take", m.prefix_saved_bytes.clone());
            r.register(
                PREFIX_REUSED,
                "Prompt tokens taken from cached prefixes instead of prefilled, since start",
                m.prefix_reused.clone(),
            );
            r.register(
                PREFIX_REFUSED,
                "Cached prefixes passed over because a sliding-window cache no longer held them whole, since start",
                m.prefix_refused.clone(),
            );
            r.register(KV_CAPACITY, "KV-cache capacity in tokens", m.kv_capacity.clone());
            r.register(PROMPT_TOKENS, "Prompt tokens admitted", m.prompt_tokens.clone());
            r.register(GENERATED_TOKENS, "Tokens generated", m.generated_tokens.clone());
            r.register(CANCELLED, "Sequences cancelled because their client went away", m.cancelled.clone());
            r.register(TTFT, "Time from submission to the first generated token", m.ttft_seconds.clone());
            r.register(INTER_TOKEN, "Time between consecutive generated tokens", m.inter_token_seconds.clone());
            r.register(STEP, "Time of one forward pass over the running batch", m.step_seconds.clone());
            r.register(
                STEP_TOKENS,
                "Tokens one forward pass carried (one per decoding sequence plus prefill chunks)",
                m.step_tokens.clone(),
            );
        }
        m
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
