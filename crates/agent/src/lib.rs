//! The node agent, `strata agent`: discovers this node's accelerators, joins the control
//! plane, and runs the replicas assigned to it.
//!
//! The agent pulls. Each heartbeat carries the node's usage and the state of every task it
//! knows; the reply says which tasks to start, which to stop, and which final states the server
//! has recorded (only then does the agent forget a task, so no exit status is lost to a dropped
//! reply). A task's output is shipped in full before its final state is reported, so a job
//! that shows as finished has all its logs.

mod address;
mod supervisor;

use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use strata_accel::DiscoveryOptions;
use strata_api::agent::{Heartbeat, Register};
use strata_client::{Client, ClientError};
use strata_domain::{ErrorCode, Inventory, NodeId};
use supervisor::{Supervised, STREAMS};
use tokio_util::sync::CancellationToken;

pub use address::advertise_address;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub server: String,
    pub token: String,
    /// Node name; defaults to the hostname. Several agents on one machine need distinct names.
    pub name: Option<String>,
    /// Address other nodes use to reach this one; found from the route to the server if unset.
    pub advertise: Option<String>,
    /// Task directories (logs, working directories) live here.
    pub data_dir: PathBuf,
    pub discovery: DiscoveryOptions,
    /// Time between SIGTERM and SIGKILL when a task is stopped.
    pub grace: Duration,
    /// This node's model cache, exported to tasks as `STRATA_MODELS` (model servers read it).
    pub models_dir: Option<PathBuf>,
}

/// Largest log chunk per upload; bigger outputs go in several.
const MAX_CHUNK: u64 = 1 << 20;
/// How often the agent checks its processes between heartbeats.
const TICK: Duration = Duration::from_millis(100);

struct Agent {
    config: AgentConfig,
    client: Client,
    inventory: Inventory,
    name: String,
    address: String,
    tasks_dir: PathBuf,
    node: NodeId,
    interval: Duration,
    tasks: BTreeMap<i64, Supervised>,
    launch: supervisor::Launch,
}

/// Runs until `stop` is cancelled; then stops every task it runs (SIGTERM, grace, SIGKILL).
pub async fn run(config: AgentConfig, stop: CancellationToken) -> anyhow::Result<()> {
    let opts = config.discovery.clone();
    let inventory = tokio::task::spawn_blocking(move || strata_accel::discover(&opts)).await.context("discovery")?;
    let name = config.name.clone().unwrap_or_else(|| inventory.hostname.clone());
    let address = match &config.advertise {
        Some(a) => a.clone(),
        None => advertise_address(&config.server),
    };
    let tasks_dir = config.data_dir.join("tasks");
    std::fs::create_dir_all(&tasks_dir).with_context(|| format!("creating {}", tasks_dir.display()))?;
    let leftovers = supervisor::kill_leftovers(&tasks_dir);
    if leftovers > 0 {
        tracing::warn!(count = leftovers, "stopped tasks left by a previous run; the server requeues them");
    }
    tracing::info!(
        node = %name,
        accelerators = inventory.accelerators.len(),
        emulated = inventory.accelerators.iter().filter(|a| a.emulated).count(),
        cpu_cores = inventory.cpu_cores,
        "inventory discovered"
    );
    let client = Client::new(&config.server, &config.token);
    let mut agent = Agent {
        config,
        client,
        inventory,
        name,
        address,
        tasks_dir,
        node: NodeId(0),
        interval: Duration::from_secs(1),
        tasks: BTreeMap::new(),
        launch: supervisor::Launch { host: String::new(), env: BTreeMap::new() },
    };
    agent.launch.host = agent.address.clone();
    if let Some(dir) = &agent.config.models_dir {
        agent.launch.env.insert("STRATA_MODELS".into(), dir.display().to_string());
    }
    if !agent.register_until_done(&stop).await {
        return Ok(());
    }
    let mut last_beat = Instant::now() - agent.interval;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
        let mut changed = false;
        for task in agent.tasks.values_mut() {
            changed |= task.reap();
        }
        if changed || last_beat.elapsed() >= agent.interval {
            last_beat = Instant::now();
            if let Err(e) = agent.beat(&stop).await {
                tracing::warn!(error = %e, "heartbeat failed; retrying");
            }
        }
    }
    agent.shutdown().await;
    Ok(())
}

impl Agent {
    /// Registers, retrying while the server is unreachable. False when stopped first.
    async fn register_until_done(&mut self, stop: &CancellationToken) -> bool {
        let mut delay = Duration::from_millis(200);
        loop {
            let req = Register {
                name: self.name.clone(),
                address: self.address.clone(),
                inventory: self.inventory.clone(),
                running_tasks: self.tasks.keys().copied().collect(),
            };
            match self.client.register(&req).await {
                Ok(r) => {
                    self.node = r.node_id;
                    self.interval = Duration::from_millis(r.heartbeat_interval_ms.max(50));
                    tracing::info!(node = %self.name, id = %r.node_id, server = %self.client.base(), "registered");
                    return true;
                }
                Err(e @ ClientError::Api { .. }) if e.code() != Some(ErrorCode::Internal) => {
                    tracing::error!(error = %e, "the server refused this agent; check --token");
                }
                Err(e) => tracing::warn!(error = %e, "cannot register yet"),
            }
            tokio::select! {
                _ = stop.cancelled() => return false,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn beat(&mut self, stop: &CancellationToken) -> anyhow::Result<()> {
        self.ship_logs().await;
        let opts = self.config.discovery.clone();
        let inventory = self.inventory.clone();
        let usage = tokio::task::spawn_blocking(move || strata_accel::sample_usage(&opts, &inventory)).await?;
        let hb = Heartbeat { node_id: self.node, usage, tasks: self.tasks.values().map(Supervised::report).collect() };
        let reply = match self.client.heartbeat(&hb).await {
            Ok(r) => r,
            Err(e) if e.code() == Some(ErrorCode::NotFound) => {
                tracing::warn!("the server does not know this node any more; registering again");
                self.register_until_done(stop).await;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        for id in reply.acknowledged {
            self.tasks.remove(&id);
        }
        for id in reply.stop {
            if let Some(task) = self.tasks.get_mut(&id) {
                tracing::info!(task = id, "stopping task");
                task.stop(self.config.grace);
            }
        }
        for assignment in reply.start {
            let id = assignment.task_id;
            if self.tasks.contains_key(&id) {
                continue;
            }
            tracing::info!(task = id, job = assignment.job_id, "starting task");
            let task = Supervised::start(assignment, &self.tasks_dir, &self.launch);
            self.tasks.insert(id, task);
        }
        Ok(())
    }

    /// Uploads what each task wrote since the last upload. A finished task's report is held back
    /// (reported as running) until its logs are all shipped.
    async fn ship_logs(&mut self) {
        for task in self.tasks.values_mut() {
            for (i, stream) in STREAMS.iter().enumerate() {
                while let Ok(len) = std::fs::metadata(task.log_path(stream)).map(|m| m.len()) {
                    if len <= task.shipped[i] {
                        break;
                    }
                    let take = (len - task.shipped[i]).min(MAX_CHUNK);
                    let data = match read_at(&task.log_path(stream), task.shipped[i], take) {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!(task = task.assignment.task_id, error = %e, "cannot read log");
                            break;
                        }
                    };
                    match self.client.upload_log(task.assignment.task_id, stream, task.shipped[i], data).await {
                        Ok(()) => task.shipped[i] += take,
                        Err(e) => {
                            tracing::warn!(task = task.assignment.task_id, error = %e, "log upload failed; will retry");
                            break;
                        }
                    }
                }
            }
        }
    }

    async fn shutdown(&mut self) {
        for task in self.tasks.values_mut() {
            task.stop(self.config.grace);
        }
        let deadline = Instant::now() + self.config.grace + Duration::from_secs(2);
        while self.tasks.values().any(Supervised::is_running) && Instant::now() < deadline {
            for task in self.tasks.values_mut() {
                task.reap();
            }
            tokio::time::sleep(TICK).await;
        }
        // Tell the server, best effort, so the work is requeued without waiting for a timeout.
        let hb = Heartbeat {
            node_id: self.node,
            usage: Vec::new(),
            tasks: self.tasks.values().map(Supervised::report).collect(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.heartbeat(&hb)).await;
    }
}

fn read_at(path: &std::path::Path, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut buf)?;
    Ok(buf)
}
