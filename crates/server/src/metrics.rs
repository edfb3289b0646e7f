//! Prometheus metrics. Names are constants here; labels are bounded (states, chip models).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabel {
    pub model: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub jobs: Family<StateLabel, Gauge>,
    pub nodes: Family<StateLabel, Gauge>,
    pub gpus_total: Family<ModelLabel, Gauge>,
    pub gpu_milli_allocated: Family<ModelLabel, Gauge>,
    pub leader: Gauge,
    pub cycle_seconds: Histogram,
    pub placements: Counter,
    pub preemptions: Counter,
    pub submitted: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("strata")),
            jobs: Family::default(),
            nodes: Family::default(),
            gpus_total: Family::default(),
            gpu_milli_allocated: Family::default(),
            leader: Gauge::default(),
            cycle_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            placements: Counter::default(),
            preemptions: Counter::default(),
            submitted: Counter::default(),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register("jobs", "Jobs by state", m.jobs.clone());
            r.register("nodes", "Nodes by state (ready, not_ready, cordoned)", m.nodes.clone());
            r.register("gpus", "Accelerators in the fleet by chip model", m.gpus_total.clone());
            r.register(
                "gpu_milli_allocated",
                "Milli-GPUs held by active tasks, by chip model",
                m.gpu_milli_allocated.clone(),
            );
            r.register("scheduler_leader", "1 while this server runs the scheduling loop", m.leader.clone());
            r.register("scheduler_cycle_seconds", "Duration of one scheduling cycle", m.cycle_seconds.clone());
            r.register("scheduler_placements", "Gangs placed", m.placements.clone());
            r.register(
                "scheduler_preemptions",
                "Running jobs stopped and requeued to make room (priority or quota reclaim)",
                m.preemptions.clone(),
            );
            r.register("jobs_submitted", "Jobs accepted by the API", m.submitted.clone());
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
