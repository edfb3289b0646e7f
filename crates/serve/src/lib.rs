//! Strata's model server: an OpenAI-compatible API over the inference engine.
//!
//! The engine (and the model in it) lives on one thread of its own, fed by a bounded channel of
//! jobs ([`worker`]); the axum handlers ([`routes`]) parse and validate requests ([`openai`]),
//! queue them and relay the output. The crate is generic over [`strata_infer::Backend`], so the
//! binary plugs in llama.cpp and the tests a fake model, through the same code.

pub mod error;
pub mod metrics;
pub mod openai;
pub mod routes;
pub mod worker;

pub use error::ApiError;
pub use routes::{app, AppState};

use std::net::SocketAddr;
use std::sync::Arc;
use strata_infer::{Backend, Engine};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// The name clients pass as `model`.
    pub model: String,
    /// Requests queued for the engine thread before new ones are answered 503.
    pub job_queue: usize,
    /// `max_tokens` when a chat request gives none (bounded by the context).
    pub default_max_tokens: usize,
    /// How chats become prompts; `None` leaves it to the backend (llama.cpp's renderer).
    pub chat_template: Option<strata_models::ChatTemplate>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot start the engine thread: {0}")]
    Thread(std::io::Error),
}

/// Starts the engine thread and returns the router's state; the caller serves it. Dropping every
/// clone of the state stops the thread once its work is done.
pub fn start<B: Backend + Send + 'static>(
    engine: Engine<B>,
    config: &ServeConfig,
) -> Result<(AppState, std::thread::JoinHandle<()>), ServeError> {
    let metrics = Arc::new(metrics::Metrics::new());
    metrics.kv_capacity.set(engine.config().kv_budget_tokens as i64);
    let (tx, rx) = std::sync::mpsc::sync_channel(config.job_queue);
    let thread_metrics = metrics.clone();
    let settings =
        worker::Settings { default_max_tokens: config.default_max_tokens, chat_template: config.chat_template.clone() };
    let handle = std::thread::Builder::new()
        .name("strata-engine".into())
        .spawn(move || worker::run(engine, rx, thread_metrics, settings))
        .map_err(ServeError::Thread)?;
    Ok((AppState::new(tx, metrics, &config.model), handle))
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    config: &ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
    tracing::info!(addr = %config.listen, model = %config.model, "serving");
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await.map_err(ServeError::Serve)
}
