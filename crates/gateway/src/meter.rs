//! One request's accounting, from admission to its usage record. A `Meter` is created once a
//! request is authenticated and names a deployment; whatever happens next — an answer, an
//! error, a client that goes away mid-stream — its record is written exactly once: explicitly
//! by `finish`, or by `Drop` with status 499 and the tokens counted so far.

use crate::catalog::{Deployment, Replica};
use crate::keys::{now_ms, Caller};
use crate::metrics::{ModelLabels, RequestLabels, TokenLabels};
use crate::Gateway;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use strata_domain::UsageRecord;
use strata_gateway_core::Admission;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
    Embeddings,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Embeddings => "/v1/embeddings",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

pub struct Meter {
    gw: Arc<Gateway>,
    caller: Arc<Caller>,
    pub deployment: Arc<Deployment>,
    endpoint: Endpoint,
    pub request_id: String,
    admission: Option<Admission>,
    reserved_pico: i64,
    started: Instant,
    at_ms: i64,
    replica: Option<Arc<Replica>>,
    pub ttft_ms: Option<u64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub streamed: bool,
    /// The deployment whose in-flight count this request holds.
    holds: Arc<Deployment>,
    done: bool,
}

impl Meter {
    pub fn new(gw: Arc<Gateway>, caller: Arc<Caller>, deployment: Arc<Deployment>, endpoint: Endpoint) -> Meter {
        let now = now_ms();
        deployment.load.in_flight.fetch_add(1, Ordering::Relaxed);
        deployment.load.last_request_ms.store(now, Ordering::Relaxed);
        Meter {
            gw,
            caller,
            holds: deployment.clone(),
            deployment,
            endpoint,
            request_id: new_request_id(),
            admission: None,
            reserved_pico: 0,
            started: Instant::now(),
            at_ms: now,
            replica: None,
            ttft_ms: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            streamed: false,
            done: false,
        }
    }

    pub fn admitted(&mut self, admission: Admission, reserved_pico: i64) {
        self.admission = Some(admission);
        self.reserved_pico = reserved_pico;
    }

    /// The replica now serving the request; it counts as outstanding there until the end.
    pub fn serve_on(&mut self, deployment: Arc<Deployment>, replica: Arc<Replica>) {
        replica.outstanding.fetch_add(1, Ordering::Relaxed);
        if let Some(old) = self.replica.replace(replica) {
            old.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
        self.deployment = deployment;
    }

    /// The replica failed before answering: it no longer counts this request.
    pub fn release_replica(&mut self) {
        if let Some(old) = self.replica.take() {
            old.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn first_token(&mut self) {
        if self.ttft_ms.is_none() {
            self.ttft_ms = Some(self.started.elapsed().as_millis() as u64);
        }
    }

    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Writes the usage record (once) and settles limits and budget.
    pub fn finish(&mut self, status: u16) {
        if self.done {
            return;
        }
        self.done = true;
        let now = now_ms();
        let cost = self.deployment.price.cost_pico(self.prompt_tokens, self.completion_tokens);
        if let Some(admission) = &self.admission {
            if let Ok(mut limiter) = self.gw.limiter.lock() {
                limiter.settle(admission, self.prompt_tokens + self.completion_tokens, now);
            }
        }
        let record = UsageRecord {
            request_id: self.request_id.clone(),
            at_ms: self.at_ms,
            tenant_id: self.caller.tenant_id,
            project_id: self.caller.project_id,
            key_id: self.caller.key_id,
            model: self.deployment.name.clone(),
            deployment_id: Some(self.deployment.id),
            replica: self.replica.as_ref().map(|r| r.endpoint.clone()),
            endpoint: self.endpoint.name().to_string(),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cost_pico: cost,
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttft_ms,
            status,
            streamed: self.streamed,
        };
        self.gw.ledger.record(record, self.reserved_pico);
        let model = self.deployment.name.clone();
        let m = &self.gw.metrics;
        let caller = if self.caller.key_id.is_none() { "admin" } else { "tenant" };
        m.requests.get_or_create(&RequestLabels { model: model.clone(), status, caller }).inc();
        m.tokens.get_or_create(&TokenLabels { model: model.clone(), kind: "prompt" }).inc_by(self.prompt_tokens);
        m.tokens
            .get_or_create(&TokenLabels { model: model.clone(), kind: "completion" })
            .inc_by(self.completion_tokens);
        m.latency.get_or_create(&ModelLabels { model: model.clone() }).observe(self.elapsed_s());
        if let Some(t) = self.ttft_ms {
            m.ttft.get_or_create(&ModelLabels { model }).observe(t as f64 / 1000.0);
        }
        self.release_replica();
        self.holds.load.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // The client went away (or the handler failed) before the end: record what was used.
        self.finish(499);
    }
}

/// `req-` + 12 hex digits of milliseconds + 20 random ones: unique like a random id, but in time
/// order, so the usage ledger's unique index grows at its right edge instead of touching a
/// random page per insert (which, at millions of records, made SQLite read from disk per row).
fn new_request_id() -> String {
    let random = rand::random::<u128>() & ((1u128 << 80) - 1);
    format!("req-{:012x}{random:020x}", crate::keys::now_ms().max(0) as u64 & 0xffff_ffff_ffff)
}
