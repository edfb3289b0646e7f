//! The gateway's Prometheus metrics. Labels are bounded: the model is a deployment name (there
//! are as many as an operator creates) and the status is an HTTP code.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub model: String,
    pub status: u16,
    /// `admin` or `tenant`: whose traffic it is, without one label per tenant.
    pub caller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: String,
    /// `prompt` or `completion`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub tokens: Family<TokenLabels, Counter>,
    pub latency: Family<ModelLabels, Histogram, fn() -> Histogram>,
    pub ttft: Family<ModelLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Family<ModelLabels, Gauge>,
    pub retries: Counter,
    pub cold_starts: Counter,
    pub unflushed_usage: Gauge,
    pub backlog_refusals: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("strata_gateway")),
            requests: Family::default(),
            tokens: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            ttft: Family::new_with_constructor(latency_histogram),
            in_flight: Family::default(),
            retries: Counter::default(),
            cold_starts: Counter::default(),
            unflushed_usage: Gauge::default(),
            backlog_refusals: Counter::default(),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register("requests", "Requests answered, by model, HTTP status and caller kind", m.requests.clone());
            r.register("tokens", "Tokens metered, by model and kind", m.tokens.clone());
            r.register("request_seconds", "Time from request to the last byte of the answer", m.latency.clone());
            r.register("time_to_first_token_seconds", "Time to the first streamed token", m.ttft.clone());
            r.register("in_flight", "Requests in flight or held for a replica", m.in_flight.clone());
            r.register("retries", "Requests sent again to another replica after a failure", m.retries.clone());
            r.register("cold_start_holds", "Requests held while a replica started", m.cold_starts.clone());
            r.register(
                "usage_unflushed",
                "Usage records journaled and not yet in the database",
                m.unflushed_usage.clone(),
            );
            r.register(
                "usage_backlog_refusals",
                "Requests refused because too many usage records were not yet in the database",
                m.backlog_refusals.clone(),
            );
        }
        m
    }

    /// The metrics in the OpenMetrics text format, without the closing `# EOF` (the control
    /// plane's `/metrics` appends this to its own).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out.trim_end().strip_suffix("# EOF").unwrap_or(&out).to_string()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
