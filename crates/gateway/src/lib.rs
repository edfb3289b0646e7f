//! Strata's OpenAI-compatible gateway: what application developers touch. A key and a base
//! URL; behind them, authorisation from an in-memory key cache, per-minute limits and budgets
//! (the pure `strata-gateway-core`), routing across the replicas of a deployment (least
//! outstanding of two choices, prompt-prefix affinity, retries before the first byte, fallbacks),
//! streaming passed through as it arrives, and a usage record for every request journaled
//! before its response completes.
//!
//! The gateway runs inside every control-plane server and shares its database: several servers
//! are several gateway replicas. Nothing on the request path touches the database; background
//! loops refresh keys and replicas, flush usage in batches and report load to the autoscaler.
//!
//! Invariants:
//! - a completed request's usage record is in the journal file before the client sees the end
//!   of the response, so SIGKILL loses none (the next start replays the journal);
//! - a request refused by a limit or budget reaches no replica and charges nothing;
//! - a request is retried on another replica only if no byte of the answer reached the client.

mod catalog;
mod error;
mod keys;
mod ledger;
mod meter;
mod metrics;
mod proxy;
mod sse;

pub use catalog::Catalog;
pub use error::GatewayError;
pub use keys::KeyCache;
pub use ledger::Ledger;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use strata_gateway_core::{Limiter, Scope};
use strata_store::{DeploymentLoad, Store};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Names this gateway replica in load reports (the host and port, say).
    pub id: String,
    /// The usage journal file.
    pub journal: PathBuf,
    /// How often keys and replicas are re-read (a revocation takes effect within this).
    pub refresh: Duration,
    /// How often journaled usage is inserted into the database.
    pub flush: Duration,
    /// How long a request waits for a deployment with no ready replica before a 503.
    pub cold_start_timeout: Duration,
    /// The digest of the admin token, which may call the gateway as the `default` tenant.
    pub admin_sha256: Option<String>,
    /// Usage records journaled but not yet in the database above which new requests are
    /// refused (503) until the flusher catches up: with the database down or too slow, a
    /// gateway slows its callers instead of growing without bound.
    pub max_unflushed: usize,
}

impl GatewayConfig {
    pub fn new(id: String, journal: PathBuf) -> Self {
        GatewayConfig {
            id,
            journal,
            refresh: Duration::from_millis(500),
            flush: Duration::from_millis(200),
            cold_start_timeout: Duration::from_secs(120),
            admin_sha256: None,
            // ≈ 100 MB of records; 20 s of a 10,000 request/s stream.
            max_unflushed: 200_000,
        }
    }
}

/// Everything a request handler shares.
pub struct Gateway {
    pub store: Store,
    pub keys: KeyCache,
    pub catalog: Catalog,
    pub ledger: Ledger,
    pub limiter: Mutex<Limiter>,
    pub metrics: metrics::Metrics,
    pub client: reqwest::Client,
    pub config: GatewayConfig,
    pub default_tenant: i64,
    /// Asks the load reporter to report now (a request is held for a cold start).
    pub report_now: tokio::sync::Notify,
}

impl Gateway {
    /// Opens the journal (replaying what a previous run left), loads keys, budgets and
    /// replicas, and starts the background loops. Returns the gateway and its `/v1` router.
    pub async fn start(
        store: Store,
        config: GatewayConfig,
        stop: CancellationToken,
    ) -> anyhow::Result<(Arc<Gateway>, axum::Router)> {
        let default = store.ensure_tenant("default", keys::now_ms()).await?;
        let ledger = Ledger::open(&config.journal, &store).await?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .read_timeout(Duration::from_secs(600))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()?;
        let gateway = Arc::new(Gateway {
            keys: KeyCache::new(config.admin_sha256.clone(), (default.id.0, default.name.clone())),
            catalog: Catalog::default(),
            ledger,
            limiter: Mutex::new(Limiter::new()),
            metrics: metrics::Metrics::new(),
            client,
            default_tenant: default.id.0,
            report_now: tokio::sync::Notify::new(),
            store,
            config,
        });
        gateway.keys.refresh(&gateway.store).await?;
        gateway.refresh_budgets().await?;
        gateway.catalog.refresh(&gateway.store).await?;
        tokio::spawn(sync_loop(gateway.clone(), stop.clone()));
        tokio::spawn(load_loop(gateway.clone(), stop));
        Ok((gateway.clone(), proxy::router(gateway)))
    }

    /// The gateway's metrics in the OpenMetrics text format, without `# EOF`.
    pub fn render_metrics(&self) -> String {
        self.metrics.unflushed_usage.set(self.ledger.unflushed() as i64);
        for d in self.catalog.all() {
            self.metrics
                .in_flight
                .get_or_create(&metrics::ModelLabels { model: d.name.clone() })
                .set(i64::from(d.load.in_flight.load(Ordering::Relaxed)));
        }
        self.metrics.render()
    }

    /// Inserts journaled usage now (also done every `flush` interval).
    pub async fn flush_usage(&self) -> anyhow::Result<usize> {
        self.ledger.flush(&self.store).await
    }

    /// Re-reads settled spending for every budgeted key and tenant.
    async fn refresh_budgets(&self) -> anyhow::Result<()> {
        let mut limits: HashMap<Scope, i64> = HashMap::new();
        for caller in self.keys.all() {
            if let (Some(key), Some(b)) = (caller.key_id, caller.key_budget_pico) {
                limits.insert(Scope::Key(key), b);
            }
            if let Some(b) = caller.tenant_budget_pico {
                limits.insert(Scope::Tenant(caller.tenant_id), b);
            }
        }
        let mut spent: HashMap<Scope, i64> = HashMap::new();
        let key_ids: Vec<i64> =
            limits.keys().filter_map(|s| if let Scope::Key(k) = s { Some(*k) } else { None }).collect();
        let tenant_ids: Vec<i64> =
            limits.keys().filter_map(|s| if let Scope::Tenant(t) = s { Some(*t) } else { None }).collect();
        for (id, pico) in self.store.spend_by_key(&key_ids).await? {
            spent.insert(Scope::Key(id), pico);
        }
        for (id, pico) in self.store.spend_by_tenant(&tenant_ids).await? {
            spent.insert(Scope::Tenant(id), pico);
        }
        self.ledger.refresh_budgets(&limits, &spent);
        Ok(())
    }
}

/// A flush this large means records arrive faster than the interval drains them.
const FLUSH_AGAIN_AT: usize = 5_000;

/// Flushes usage every `flush`; re-reads keys, budgets and replicas every `refresh`. One task,
/// so a budget refresh never runs while a flush is half done.
async fn sync_loop(gw: Arc<Gateway>, stop: CancellationToken) {
    let mut last_refresh = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                if let Err(e) = gw.flush_usage().await {
                    tracing::error!(error = %e, "final usage flush failed; the journal keeps the records");
                }
                return;
            }
            _ = tokio::time::sleep(gw.config.flush) => {}
        }
        // Under heavy load, flush again at once until the backlog is small.
        loop {
            match gw.flush_usage().await {
                Ok(n) if n >= FLUSH_AGAIN_AT && !stop.is_cancelled() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "usage flush failed; retrying");
                    break;
                }
            }
        }
        if last_refresh.elapsed() >= gw.config.refresh {
            last_refresh = std::time::Instant::now();
            let keys = gw.keys.refresh(&gw.store).await;
            if let Err(e) = &keys {
                tracing::warn!(error = %e, "key refresh failed");
            }
            if let Err(e) = gw.refresh_budgets().await {
                tracing::warn!(error = %e, "budget refresh failed");
            }
            if let Err(e) = gw.catalog.refresh(&gw.store).await {
                tracing::warn!(error = %e, "replica refresh failed");
            }
        }
    }
}

/// Reports this gateway's load per deployment every second, or at once when asked.
async fn load_loop(gw: Arc<Gateway>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = gw.report_now.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let loads: Vec<(i64, DeploymentLoad)> = gw
            .catalog
            .loads()
            .into_iter()
            .map(|(id, l)| {
                let last = l.last_request_ms.load(Ordering::Relaxed);
                (
                    id,
                    DeploymentLoad {
                        in_flight: l.in_flight.load(Ordering::Relaxed),
                        last_request_ms: (last > 0).then_some(last),
                    },
                )
            })
            .collect();
        if let Err(e) = gw.store.report_deployment_load(&gw.config.id, &loads, keys::now_ms()).await {
            tracing::warn!(error = %e, "load report failed");
        }
    }
}
