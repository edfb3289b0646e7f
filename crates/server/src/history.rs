//! The fleet's recent past, for the console's charts: every server samples GPUs allocated per
//! chip model and the queue every `interval` into a fixed-size ring buffer in memory. Nothing is
//! stored in the database — the history is a view, and after a restart it starts again.

use crate::state::{now_ms, AppState};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use strata_api::fleet::{ChipSample, FleetSample};
use strata_domain::{NodeId, TenantId};
use strata_store::{Held, NodeRow};
use tokio_util::sync::CancellationToken;

/// How far back the charts can look.
const SPAN: Duration = Duration::from_secs(6 * 3600);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Tests sample faster.
pub const INTERVAL_ENV: &str = "STRATA_FLEET_SAMPLE_MS";

/// One sample as kept: queue counts per tenant, so each caller can be shown only its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub at_ms: i64,
    pub gpus: Vec<ChipSample>,
    /// (tenant, pending, running) for tenants with any.
    pub queue: Vec<(TenantId, u32, u32)>,
}

impl Sample {
    /// The sample as `scope` may see it: all tenants' queues summed, or one tenant's.
    pub fn view(&self, scope: Option<TenantId>) -> FleetSample {
        let (pending, running) = self
            .queue
            .iter()
            .filter(|(t, _, _)| scope.is_none_or(|s| s == *t))
            .fold((0, 0), |(p, r), (_, tp, tr)| (p + tp, r + tr));
        FleetSample { at_ms: self.at_ms, pending, running, gpus: self.gpus.clone() }
    }
}

/// A ring buffer of samples, oldest first.
#[derive(Debug)]
pub struct History {
    capacity: usize,
    samples: VecDeque<Sample>,
    pub interval: Duration,
}

impl History {
    pub fn new(interval: Duration) -> History {
        let capacity = (SPAN.as_millis() / interval.as_millis().max(1)).clamp(2, 100_000) as usize;
        History { capacity, samples: VecDeque::with_capacity(capacity), interval }
    }

    pub fn from_env() -> History {
        let interval = std::env::var(INTERVAL_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(DEFAULT_INTERVAL, Duration::from_millis);
        History::new(interval)
    }

    pub fn push(&mut self, sample: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// Samples taken after `since_ms` (all when `None`).
    pub fn since(&self, since_ms: Option<i64>) -> impl Iterator<Item = &Sample> {
        let from = since_ms.map_or(0, |t| self.samples.partition_point(|s| s.at_ms <= t));
        self.samples.range(from..)
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Devices and allocated milli-GPUs per chip model; `/metrics` reports the same numbers.
pub fn gpus_by_model(nodes: &[NodeRow], held: &BTreeMap<NodeId, Held>) -> BTreeMap<String, (u32, u64)> {
    let mut gpus: BTreeMap<String, (u32, u64)> = BTreeMap::new();
    for n in nodes {
        for a in &n.inventory.accelerators {
            let entry = gpus.entry(a.model.clone()).or_default();
            entry.0 += 1;
            if let Some(milli) = held.get(&n.id).and_then(|h| h.gpu.get(&a.index)) {
                entry.1 += u64::from(*milli);
            }
        }
    }
    gpus
}

async fn sample(state: &AppState) -> anyhow::Result<Sample> {
    let nodes = state.store.nodes().await?;
    let held = state.store.held_by_node().await?;
    let gpus = gpus_by_model(&nodes, &held)
        .into_iter()
        .map(|(model, (total, allocated_milli))| ChipSample { model, total, allocated_milli })
        .collect();
    let queue = state.store.active_job_counts_by_tenant().await?;
    Ok(Sample { at_ms: now_ms(), gpus, queue })
}

/// Samples until `stop` is cancelled; the first sample is taken at once, so a fresh console
/// has a point to draw.
pub async fn run(state: AppState, stop: CancellationToken) {
    let interval = match state.history.lock() {
        Ok(h) => h.interval,
        Err(_) => return,
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match sample(&state).await {
            Ok(s) => {
                if let Ok(mut h) = state.history.lock() {
                    h.push(s);
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "could not sample the fleet for its history"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Sample {
        Sample { at_ms: ms, gpus: vec![], queue: vec![(TenantId(1), 2, 1), (TenantId(2), 5, 0)] }
    }

    #[test]
    fn the_ring_keeps_the_newest_samples_in_order() {
        let mut h = History::new(Duration::from_secs(3 * 3600)); // span / interval = 2 samples
        assert_eq!(h.capacity(), 2);
        for t in 1..=5 {
            h.push(at(t));
        }
        assert_eq!(h.since(None).map(|s| s.at_ms).collect::<Vec<_>>(), vec![4, 5]);
    }

    #[test]
    fn since_returns_only_later_samples() {
        let mut h = History::new(Duration::from_secs(10));
        assert_eq!(h.capacity(), 2160, "six hours of 10 s samples");
        for t in [10, 20, 30, 40] {
            h.push(at(t));
        }
        assert_eq!(h.since(Some(20)).map(|s| s.at_ms).collect::<Vec<_>>(), vec![30, 40]);
        assert_eq!(h.since(Some(25)).map(|s| s.at_ms).collect::<Vec<_>>(), vec![30, 40]);
        assert_eq!(h.since(Some(40)).count(), 0);
        assert_eq!(h.since(Some(0)).count(), 4);
    }

    #[test]
    fn a_tenant_sees_only_its_own_queue() {
        let s = at(1);
        assert_eq!((s.view(None).pending, s.view(None).running), (7, 1));
        assert_eq!((s.view(Some(TenantId(1))).pending, s.view(Some(TenantId(1))).running), (2, 1));
        assert_eq!((s.view(Some(TenantId(9))).pending, s.view(Some(TenantId(9))).running), (0, 0));
    }
}
