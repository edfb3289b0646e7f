//! What the gateway can route to: live deployments by name and their ready replicas, refreshed
//! from the store. Per-replica and per-deployment counters (requests outstanding, in flight,
//! last request) live in `Arc`s that survive refreshes, so routing state is never reset by one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use strata_api::deployments::DeploymentSpec;
use strata_gateway_core::Price;
use strata_store::Store;
use tokio::sync::Notify;

/// How long a replica that refused a connection is skipped, in ms.
pub const DOWN_FOR_MS: i64 = 2_000;

#[derive(Debug)]
pub struct Replica {
    pub task_id: i64,
    /// `http://host:port`
    pub base_url: String,
    /// `host:port`, for usage records.
    pub endpoint: String,
    pub outstanding: AtomicU32,
    pub down_until_ms: AtomicI64,
}

/// Load counters of one deployment on this gateway.
#[derive(Debug, Default)]
pub struct Load {
    /// Requests in flight, including those held waiting for a replica.
    pub in_flight: AtomicU32,
    pub last_request_ms: AtomicI64,
}

#[derive(Debug)]
pub struct Deployment {
    pub id: i64,
    pub name: String,
    pub tenant_id: i64,
    pub spec: DeploymentSpec,
    pub price: Price,
    pub replicas: Vec<Arc<Replica>>,
    pub load: Arc<Load>,
    pub created_ms: i64,
}

impl Deployment {
    /// The `model` the upstream knows: an external server's own name for it, else the
    /// deployment's name (which `strata serve --name` answers to).
    pub fn upstream_model(&self) -> &str {
        if self.spec.endpoints.is_empty() {
            &self.name
        } else {
            &self.spec.model
        }
    }

    /// A tenant may call its own deployments and those of the built-in `default` tenant.
    pub fn visible_to(&self, tenant_id: i64, default_tenant: i64) -> bool {
        self.tenant_id == tenant_id || self.tenant_id == default_tenant
    }
}

/// The replicas of a deployment served by external endpoints. Their ids are negative, so they
/// never meet a task id; the counters of a URL survive refreshes.
fn external_replicas(
    known: &mut HashMap<(i64, String), Arc<Replica>>,
    deployment: i64,
    endpoints: &[String],
) -> Vec<Arc<Replica>> {
    endpoints
        .iter()
        .enumerate()
        .map(|(i, url)| {
            known
                .entry((deployment, url.clone()))
                .or_insert_with(|| {
                    Arc::new(Replica {
                        task_id: -(deployment * 1024 + i as i64 + 1),
                        base_url: url.clone(),
                        endpoint: url.trim_start_matches("http://").trim_start_matches("https://").to_string(),
                        outstanding: AtomicU32::new(0),
                        down_until_ms: AtomicI64::new(0),
                    })
                })
                .clone()
        })
        .collect()
}

#[derive(Default)]
pub struct Catalog {
    deployments: RwLock<HashMap<String, Arc<Deployment>>>,
    replicas: RwLock<HashMap<i64, Arc<Replica>>>,
    /// Replicas of external endpoints, by deployment and URL, kept across refreshes.
    externals: RwLock<HashMap<(i64, String), Arc<Replica>>>,
    loads: RwLock<HashMap<i64, Arc<Load>>>,
    /// Notified whenever the set of ready replicas changes.
    pub changed: Notify,
    /// When the last refresh started.
    refreshed: RwLock<Option<std::time::Instant>>,
    /// Names a refresh did not find, until when they are not looked for again.
    misses: tokio::sync::Mutex<HashMap<String, std::time::Instant>>,
}

/// How long a name that no deployment has is answered from memory.
const MISS_MEMORY: std::time::Duration = std::time::Duration::from_millis(250);

impl Catalog {
    pub fn get(&self, name: &str) -> Option<Arc<Deployment>> {
        self.deployments.read().ok().and_then(|d| d.get(name).cloned())
    }

    pub fn all(&self) -> Vec<Arc<Deployment>> {
        let mut all: Vec<_> = self.deployments.read().map(|d| d.values().cloned().collect()).unwrap_or_default();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Loads by deployment id, for the load reports.
    pub fn loads(&self) -> Vec<(i64, Arc<Load>)> {
        self.loads.read().map(|l| l.iter().map(|(k, v)| (*k, v.clone())).collect()).unwrap_or_default()
    }

    /// `get`, re-reading the store first when the name is unknown, so a deployment created a
    /// moment ago is found without waiting for the periodic refresh. Concurrent misses share one
    /// read, and a name still unknown after a read is answered from memory for `MISS_MEMORY`,
    /// so requests for models that do not exist cost no queries.
    pub async fn get_fresh(&self, store: &Store, name: &str) -> Option<Arc<Deployment>> {
        if let Some(d) = self.get(name) {
            return Some(d);
        }
        let arrived = std::time::Instant::now();
        let mut misses = self.misses.lock().await;
        if misses.get(name).is_some_and(|until| *until > arrived) {
            return None;
        }
        // Someone else's read that started after this request arrived is as good as ours.
        if self.last_refresh_start().is_none_or(|at| at < arrived) {
            if let Err(e) = self.refresh(store).await {
                tracing::warn!(error = %e, "replica refresh failed");
            }
        }
        let found = self.get(name);
        if found.is_none() {
            if misses.len() > 10_000 {
                misses.clear();
            }
            misses.insert(name.to_string(), std::time::Instant::now() + MISS_MEMORY);
        }
        found
    }

    fn last_refresh_start(&self) -> Option<std::time::Instant> {
        self.refreshed.read().ok().and_then(|r| *r)
    }

    pub async fn refresh(&self, store: &Store) -> anyhow::Result<()> {
        if let Ok(mut at) = self.refreshed.write() {
            *at = Some(std::time::Instant::now());
        }
        let rows = store.deployments().await?;
        let ready: Vec<_> = store.replicas().await?.into_iter().filter(|r| r.ready && r.port.is_some()).collect();
        let mut replicas = self.replicas.write().map_err(|_| anyhow::anyhow!("catalog poisoned"))?;
        let before: Vec<i64> = {
            let mut ids: Vec<i64> = replicas.keys().copied().collect();
            ids.sort_unstable();
            ids
        };
        replicas.retain(|id, _| ready.iter().any(|r| r.task_id == *id));
        for r in &ready {
            replicas.entry(r.task_id).or_insert_with(|| {
                let endpoint = format!("{}:{}", r.address, r.port.unwrap_or_default());
                Arc::new(Replica {
                    task_id: r.task_id,
                    base_url: format!("http://{endpoint}"),
                    endpoint,
                    outstanding: AtomicU32::new(0),
                    down_until_ms: AtomicI64::new(0),
                })
            });
        }
        let mut loads = self.loads.write().map_err(|_| anyhow::anyhow!("catalog poisoned"))?;
        let mut externals = self.externals.write().map_err(|_| anyhow::anyhow!("catalog poisoned"))?;
        let before_external = externals.len();
        let mut deployments = HashMap::new();
        for row in rows {
            let Ok(spec) = serde_json::from_str::<DeploymentSpec>(&row.spec_json) else {
                tracing::warn!(deployment = %row.name, "skipping a deployment with a corrupt spec");
                continue;
            };
            let load = loads.entry(row.id).or_default().clone();
            let mine: Vec<Arc<Replica>> = if spec.endpoints.is_empty() {
                ready
                    .iter()
                    .filter(|r| r.deployment_id == row.id)
                    .filter_map(|r| replicas.get(&r.task_id).cloned())
                    .collect()
            } else {
                external_replicas(&mut externals, row.id, &spec.endpoints)
            };
            let price = Price {
                input_micro_per_mtok: spec.price_input_micro_per_mtok,
                output_micro_per_mtok: spec.price_output_micro_per_mtok,
            };
            deployments.insert(
                row.name.clone(),
                Arc::new(Deployment {
                    id: row.id,
                    name: row.name,
                    tenant_id: row.tenant_id,
                    spec,
                    price,
                    replicas: mine,
                    load,
                    created_ms: row.created_ms,
                }),
            );
        }
        loads.retain(|id, _| deployments.values().any(|d| d.id == *id));
        externals.retain(|(id, url), _| deployments.values().any(|d| d.id == *id && d.spec.endpoints.contains(url)));
        let external_changed = externals.len() != before_external;
        let after: Vec<i64> = {
            let mut ids: Vec<i64> = replicas.keys().copied().collect();
            ids.sort_unstable();
            ids
        };
        drop(replicas);
        drop(loads);
        drop(externals);
        if let Ok(mut d) = self.deployments.write() {
            *d = deployments;
        }
        if before != after || external_changed {
            self.changed.notify_waiters();
        }
        Ok(())
    }

    /// Marks a replica down for a moment after a refused connection.
    pub fn mark_down(replica: &Replica, now_ms: i64) {
        replica.down_until_ms.store(now_ms + DOWN_FOR_MS, Ordering::Relaxed);
    }
}
