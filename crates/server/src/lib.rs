//! The control plane, `strata server`: the REST API under `/api/v1`, authentication, and the
//! scheduling loop. A thin shell: decisions come from `strata-sched`, state lives in
//! `strata-store`, and the wire types are `strata-api`'s.
//!
//! Invariants:
//! - A job acknowledged with 201 is committed; a restart (even after SIGKILL) keeps it.
//! - Only the leader (the holder of the PostgreSQL advisory lock, or the only SQLite server)
//!   writes placements, so two servers never place the same job.
//! - A tenant sees and touches only its own jobs; for other tenants' ids it gets 404.

mod admission;
mod auth;
mod control;
mod deploy;
mod error;
mod fleet;
mod history;
mod metrics;
mod routes;
mod state;
mod submit;
mod views;

pub use auth::{ADMIN_TOKEN_PREFIX, JOIN_TOKEN_PREFIX, TENANT_KEY_PREFIX};
pub use routes::ApiDoc;
pub use state::Timing;

use anyhow::Context;
use state::{now_ms, AppState, Secrets};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use strata_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How to run a control plane.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Where the first start writes `admin.token` and `join.token` (mode 0600).
    pub data_dir: PathBuf,
    pub timing: Timing,
}

/// A control plane bound to its port, ready to serve.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    /// The group-commit writer; it ends once every handle to it is dropped.
    writer: tokio::task::JoinHandle<()>,
    /// Secrets created by this start (first start of a new database), to print once.
    pub new_secrets: Option<(String, String)>,
    /// Routes of other services on the same port (the gateway's `/v1`).
    extra: Option<axum::Router>,
}

impl Server {
    /// Opens the database, creates the secrets on first start, and binds the port.
    pub async fn bind(config: ServerConfig) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let store = Store::connect(&config.database_url)
            .await
            .with_context(|| format!("opening database {}", redact(&config.database_url)))?;
        let admin = auth::new_secret(ADMIN_TOKEN_PREFIX);
        let join = auth::new_secret(JOIN_TOKEN_PREFIX);
        let created_admin = store.init_setting("admin_token_sha256", &auth::digest(&admin)).await?;
        let created_join = store.init_setting("join_token_sha256", &auth::digest(&join)).await?;
        let new_secrets = if created_admin && created_join {
            write_secret(&config.data_dir.join("admin.token"), &admin)?;
            write_secret(&config.data_dir.join("join.token"), &join)?;
            Some((admin, join))
        } else {
            None
        };
        let secrets = Secrets {
            admin_sha256: store.setting("admin_token_sha256").await?.context("admin token digest missing")?,
            join_sha256: store.setting("join_token_sha256").await?.context("join token digest missing")?,
        };
        let default_tenant = store.ensure_tenant(state::DEFAULT_TENANT, now_ms()).await?.id;
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let (submitter, writer) = submit::Submitter::spawn(store.clone(), wake.clone());
        let state = AppState {
            store,
            secrets: Arc::new(secrets),
            timing: Arc::new(config.timing),
            metrics: Arc::new(metrics::Metrics::new()),
            wake,
            leader: Arc::new(AtomicBool::new(false)),
            default_tenant,
            submitter,
            fleet: Arc::new(fleet::FleetCache::default()),
            deploy_wake: Arc::new(tokio::sync::Notify::new()),
            models_dir: strata_models::models_dir(&config.data_dir),
            extra_metrics: None,
            history: Arc::new(std::sync::Mutex::new(history::History::from_env())),
        };
        Ok(Server { listener, state, writer, new_secrets, extra: None })
    }

    /// The store this server opened, for services that share its port and database.
    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    /// Serves `router` beside the control plane's own routes (it must not use `/api/v1`).
    pub fn mount(&mut self, router: axum::Router) {
        self.extra = Some(match self.extra.take() {
            Some(r) => r.merge(router),
            None => router,
        });
    }

    /// Appends another service's metrics to `/metrics`.
    pub fn mount_metrics(&mut self, render: Box<dyn Fn() -> String + Send + Sync>) {
        self.state.extra_metrics = Some(Arc::from(render));
    }

    /// The digest of the admin token, for services that accept it too.
    pub fn admin_sha256(&self) -> Option<String> {
        Some(self.state.secrets.admin_sha256.clone())
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `stop` is cancelled, then drains in-flight requests and stops the loops.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let control = tokio::spawn(control::run(self.state.clone(), stop.clone()));
        let reconciler = tokio::spawn(deploy::run(self.state.clone(), stop.clone()));
        let sampler = tokio::spawn(history::run(self.state.clone(), stop.clone()));
        let mut app = routes::router(self.state.clone());
        if let Some(extra) = self.extra {
            app = app.merge(extra);
        }
        let shutdown = stop.clone();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .context("serving HTTP")?;
        stop.cancel();
        control.await.ok();
        reconciler.await.ok();
        sampler.await.ok();
        let store = self.state.store.clone();
        drop(self.state);
        self.writer.await.ok();
        store.close().await;
        Ok(())
    }
}

fn write_secret(path: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
