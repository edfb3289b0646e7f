//! What every handler shares.

use crate::fleet::FleetCache;
use crate::metrics::Metrics;
use crate::submit::Submitter;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use strata_domain::TenantId;
use strata_store::Store;
use tokio::sync::Notify;

/// Digests of the two server-wide secrets, read from the store at start.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub admin_sha256: String,
    pub join_sha256: String,
}

/// Timing of the control loops; tests shorten them.
#[derive(Debug, Clone)]
pub struct Timing {
    pub heartbeat_interval: Duration,
    /// A node silent for this long is not ready and its tasks are lost.
    pub heartbeat_timeout: Duration,
    /// The scheduler runs at least this often, and at once when work arrives.
    pub schedule_interval: Duration,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub secrets: Arc<Secrets>,
    pub timing: Arc<Timing>,
    pub metrics: Arc<Metrics>,
    /// Wakes the scheduling loop (a job arrived, a task ended, a node joined).
    pub wake: Arc<Notify>,
    /// Whether this server holds the scheduler lease.
    pub leader: Arc<AtomicBool>,
    pub default_tenant: TenantId,
    pub submitter: Submitter,
    pub fleet: Arc<FleetCache>,
    /// Wakes the deployment reconciler (a deployment was created, scaled or deleted).
    pub deploy_wake: Arc<Notify>,
    /// This server's model cache, for memory estimates of deployments.
    pub models_dir: std::path::PathBuf,
    /// Metrics of services sharing this port (the gateway), appended to `/metrics`.
    pub extra_metrics: Option<ExtraMetrics>,
    /// The fleet's recent samples, for the console's charts.
    pub history: Arc<std::sync::Mutex<crate::history::History>>,
}

/// Renders more OpenMetrics text, without `# EOF`.
pub type ExtraMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// The tenant that owns the admin's jobs.
pub const DEFAULT_TENANT: &str = "default";

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
