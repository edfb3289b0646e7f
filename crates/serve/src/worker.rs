//! The engine's thread: it owns the engine (and so the model), takes jobs from a bounded channel
//! between steps, and streams each sequence's output back on the job's own channel.
//!
//! Decoding is CPU-bound, so it runs here rather than on the async workers. A client that goes
//! away drops its receiver; the thread sees the closed channel before its next step and cancels
//! the sequence, which frees its KV cache at once — whether it was running or still waiting.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::openai::Prompt;
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;
use strata_infer::{
    Backend, Embeddings, Engine, Event, FinishReason, Request, SamplingParams, SeqId, SubmitError, TokenLogprob, Usage,
};
use tokio::sync::mpsc::UnboundedSender;

/// One request for the engine.
pub struct Job {
    pub prompt: Prompt,
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    pub logprobs: Option<usize>,
    pub out: UnboundedSender<Out>,
}

/// Embeddings of some texts, computed between engine steps.
pub struct EmbedJob {
    pub inputs: Vec<String>,
    /// The vectors and the tokens they took.
    pub out: tokio::sync::oneshot::Sender<Result<Embeddings, ApiError>>,
}

/// Work for the engine thread.
pub enum Work {
    Generate(Job),
    Embed(EmbedJob),
}

/// What the engine thread sends back for a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Text(String),
    /// A generated token's log-probability, before the text it adds.
    Logprob(TokenLogprob),
    Done {
        reason: FinishReason,
        usage: Usage,
    },
    Error(ApiError),
}

struct Client {
    out: UnboundedSender<Out>,
    submitted: Instant,
    last_text: Option<Instant>,
}

/// Runs until every job sender is dropped and the engine has finished its work.
/// How the thread turns requests into engine work.
pub struct Settings {
    pub default_max_tokens: usize,
    pub chat_template: Option<strata_models::ChatTemplate>,
}

pub fn run<B: Backend>(mut engine: Engine<B>, jobs: Receiver<Work>, metrics: Arc<Metrics>, settings: Settings) {
    let mut clients: HashMap<SeqId, Client> = HashMap::new();
    let mut senders_gone = false;
    loop {
        if engine.is_idle() {
            if senders_gone {
                return;
            }
            // Nothing to do: sleep until a job arrives rather than spin.
            match jobs.recv() {
                Ok(work) => take(&mut engine, &mut clients, &metrics, work, &settings),
                Err(_) => return,
            }
        }
        loop {
            match jobs.try_recv() {
                Ok(work) => take(&mut engine, &mut clients, &metrics, work, &settings),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    senders_gone = true;
                    break;
                }
            }
        }
        let gone: Vec<SeqId> = clients.iter().filter(|(_, c)| c.out.is_closed()).map(|(id, _)| *id).collect();
        for id in gone {
            engine.cancel(id);
            clients.remove(&id);
            metrics.cancelled.inc();
        }
        if !engine.is_idle() {
            let started = Instant::now();
            let stepped = engine.step();
            let shape = engine.last_step();
            if shape.decodes + shape.prefill_tokens > 0 {
                let took = started.elapsed();
                metrics.step_seconds.observe(took.as_secs_f64());
                metrics.step_tokens.observe((shape.decodes + shape.prefill_tokens) as f64);
                tracing::trace!(
                    decodes = shape.decodes,
                    prefill = shape.prefill_tokens,
                    ms = took.as_secs_f64() * 1e3,
                    "step"
                );
            }
            match stepped {
                Ok(events) => deliver(events, &mut clients, &metrics),
                Err(e) => {
                    tracing::error!(error = %e, "the engine failed; failing every sequence");
                    for (id, client) in clients.drain() {
                        engine.cancel(id);
                        let _ = client.out.send(Out::Error(ApiError::Internal(e.to_string())));
                    }
                }
            }
        }
        let stats = engine.stats();
        metrics.waiting.set(stats.waiting as i64);
        metrics.running.set(stats.running as i64);
        metrics.kv_used.set(stats.kv_used_tokens as i64);
        metrics.kv_reserved.set(stats.kv_reserved_tokens as i64);
        metrics.kv_retained.set(stats.kv_retained_tokens as i64);
        metrics.prefix_saved_tokens.set(stats.prefix_saved_tokens as i64);
        metrics.prefix_saved_bytes.set(stats.prefix_saved_bytes as i64);
        metrics.prefix_reused.set(stats.reused_tokens as i64);
        metrics.prefix_refused.set(stats.reuse_refused as i64);
    }
}

fn take<B: Backend>(
    engine: &mut Engine<B>,
    clients: &mut HashMap<SeqId, Client>,
    metrics: &Metrics,
    work: Work,
    settings: &Settings,
) {
    match work {
        Work::Generate(job) => admit(engine, clients, metrics, job, settings),
        Work::Embed(job) => {
            let result = engine.embed(&job.inputs).map_err(|e| ApiError::Internal(e.to_string()));
            if let Ok(e) = &result {
                metrics.prompt_tokens.inc_by(e.tokens as u64);
            }
            let _ = job.out.send(result);
        }
    }
}

fn admit<B: Backend>(
    engine: &mut Engine<B>,
    clients: &mut HashMap<SeqId, Client>,
    metrics: &Metrics,
    job: Job,
    settings: &Settings,
) {
    match prepare(engine, &job, settings).and_then(|request| {
        let prompt_tokens = request.prompt.len();
        engine.submit(request).map(|id| (id, prompt_tokens)).map_err(|e| match e {
            SubmitError::QueueFull { .. } => ApiError::Overloaded(e.to_string()),
            SubmitError::TooLong { .. } => ApiError::invalid("max_tokens", e.to_string()),
            SubmitError::EmptyPrompt => ApiError::invalid("prompt", e.to_string()),
        })
    }) {
        Ok((id, prompt_tokens)) => {
            metrics.prompt_tokens.inc_by(prompt_tokens as u64);
            clients.insert(id, Client { out: job.out, submitted: Instant::now(), last_text: None });
        }
        Err(e) => {
            let _ = job.out.send(Out::Error(e));
        }
    }
}

/// Renders and tokenizes the prompt and settles `max_tokens` against the cache.
fn prepare<B: Backend>(engine: &Engine<B>, job: &Job, settings: &Settings) -> Result<Request, ApiError> {
    let default_max_tokens = settings.default_max_tokens;
    let (text, param) = match &job.prompt {
        Prompt::Text(t) => (t.clone(), "prompt"),
        Prompt::Chat(messages) => {
            let rendered = match &settings.chat_template {
                Some(t) => {
                    let m: Vec<strata_models::template::Message<'_>> = messages
                        .iter()
                        .map(|m| strata_models::template::Message { role: &m.role, content: &m.content })
                        .collect();
                    t.render(&m, true).map_err(|e| e.to_string())
                }
                None => engine.backend().chat_prompt(messages).map_err(|e| e.to_string()),
            };
            (rendered.map_err(|e| ApiError::invalid("messages", e))?, "messages")
        }
    };
    let prompt = engine.backend().tokenize(&text).map_err(|e| ApiError::Internal(e.to_string()))?;
    let budget = engine.config().kv_budget_tokens;
    if prompt.len() >= budget {
        return Err(ApiError::invalid(
            param,
            format!("the prompt is {} tokens; the context holds {budget}", prompt.len()),
        ));
    }
    let room = budget - prompt.len();
    let max_tokens = match job.max_tokens {
        Some(m) if m > room => {
            return Err(ApiError::invalid(
                "max_tokens",
                format!("the prompt is {} tokens and max_tokens {m}, but the context holds {budget}", prompt.len()),
            ));
        }
        Some(m) => m,
        None => default_max_tokens.min(room),
    };
    Ok(Request { prompt, max_tokens, sampling: job.sampling.clone(), stop: job.stop.clone(), logprobs: job.logprobs })
}

fn deliver(events: Vec<Event>, clients: &mut HashMap<SeqId, Client>, metrics: &Metrics) {
    let now = Instant::now();
    for event in events {
        match event {
            Event::Text { seq, text } => {
                let Some(client) = clients.get_mut(&seq) else { continue };
                match client.last_text {
                    None => metrics.ttft_seconds.observe(now.duration_since(client.submitted).as_secs_f64()),
                    Some(last) => metrics.inter_token_seconds.observe(now.duration_since(last).as_secs_f64()),
                }
                client.last_text = Some(now);
                let _ = client.out.send(Out::Text(text));
            }
            Event::Logprob { seq, logprob } => {
                if let Some(client) = clients.get(&seq) {
                    let _ = client.out.send(Out::Logprob(logprob));
                }
            }
            Event::Finished { seq, reason, usage } => {
                metrics.generated_tokens.inc_by(usage.completion_tokens as u64);
                if let Some(client) = clients.remove(&seq) {
                    let _ = client.out.send(Out::Done { reason, usage });
                }
            }
        }
    }
}
