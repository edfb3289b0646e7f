//! One openb run: a cluster, a pod list, a policy and a seed in; one observation per pod out.
//!
//! Pods arrive in the inflated order and never leave; each is placed by the scheduler's
//! [`Placer`] — the same single-replica code path the control plane's `schedule` uses — or fails.

use super::curve::Observation;
use super::inflate::{inflate, Arrival};
use super::trace::{read_nodes, read_pods, OpenbNode, OpenbPod, TraceError};
use std::path::Path;
use strata_domain::{CpuMillis, GpuMillis, MemoryMib, NodeId};
use strata_sched::{GpuSlot, NodeView, Placer, Policy, TaskMix};

/// FGD's typical tasks are the shapes covering 95 % of the workload's pods.
pub const TYPICAL_COVERAGE_PCT: f64 = 95.0;

/// A cluster and a workload, loaded and ready to simulate.
pub struct Workload {
    /// The pod file's stem: FGD's `workload` column.
    pub name: String,
    pub node_names: Vec<String>,
    pub nodes: Vec<NodeView>,
    pub pods: Vec<OpenbPod>,
    pub mix: TaskMix,
    pub total_gpus: u64,
    /// Per pod in the list: whether it fits on the empty cluster. A pod that never fits (say
    /// 120 cores asked of 96-core nodes) fails under every policy, so it says nothing about one.
    pub fits_empty: Vec<bool>,
}

impl Workload {
    pub fn load(nodes: &Path, pods: &Path) -> Result<Workload, TraceError> {
        let node_rows = read_nodes(nodes)?;
        let pod_rows = read_pods(pods)?;
        let name = pods.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Workload::new(name, &node_rows, pod_rows))
    }

    pub fn new(name: String, node_rows: &[OpenbNode], pods: Vec<OpenbPod>) -> Workload {
        let nodes = node_views(node_rows);
        let total_gpus = node_rows.iter().map(|n| u64::from(n.gpus)).sum();
        let mix = TaskMix::typical(pods.iter().map(OpenbPod::shape), TYPICAL_COVERAGE_PCT);
        let node_names = node_rows.iter().map(|n| n.name.clone()).collect();
        let mut empty = Placer::new(&nodes, Policy::Classic, &TaskMix::default(), 0);
        let fits_empty = pods.iter().map(|p| !empty.best_nodes(&p.resources()).is_empty()).collect();
        Workload { name, node_names, nodes, pods, mix, total_gpus, fits_empty }
    }

    pub fn capacity_milli(&self) -> u64 {
        self.total_gpus * 1000
    }

    pub fn arrivals(&self, ratio: f64, seed: u64) -> Vec<Arrival> {
        inflate(&self.pods, self.capacity_milli(), ratio, seed)
    }
}

/// Empty nodes as the scheduler sees them; node ids follow file order.
pub fn node_views(rows: &[OpenbNode]) -> Vec<NodeView> {
    rows.iter()
        .enumerate()
        .map(|(i, n)| NodeView {
            id: NodeId(i as i64),
            name: n.name.clone(),
            rack: None,
            free_cpu: CpuMillis(n.cpu_milli),
            free_memory: MemoryMib(n.memory_mib),
            gpus: (0..n.gpus).map(|g| GpuSlot { index: g, model: n.model.clone(), free: GpuMillis(1000) }).collect(),
            labels: Default::default(),
        })
        .collect()
}

/// The policy's random stream is kept apart from the inflation's, so that changing one policy's
/// use of randomness never changes the arrival order.
pub fn policy_seed(seed: u64) -> u64 {
    seed ^ 0x5EED_5EED_5EED_5EED
}

/// What one seed produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRun {
    pub seed: u64,
    pub observations: Vec<Observation>,
    pub failed: usize,
    /// Arrived GPU demand, in percent of capacity, when the first pod failed.
    pub first_failure_pct: Option<f64>,
    /// The same for the first failed pod that fits on the empty cluster: the first real shortfall.
    pub first_shortfall_pct: Option<f64>,
    /// Arrived pods that fit nowhere even on the empty cluster.
    pub never_fit: usize,
}

/// Simulates one seed; `tick` is called after every pod (for a progress bar).
pub fn run_seed(w: &Workload, policy: Policy, ratio: f64, seed: u64, tick: &dyn Fn()) -> SeedRun {
    let arrivals = w.arrivals(ratio, seed);
    let mut placer = Placer::new(&w.nodes, policy, &w.mix, policy_seed(seed));
    let mut observations = Vec::with_capacity(arrivals.len());
    let (mut arrived, mut failed, mut never_fit) = (0u64, 0usize, 0usize);
    let (mut first_failure_pct, mut first_shortfall_pct) = (None, None);
    for a in &arrivals {
        let pod = &w.pods[a.pod];
        arrived += pod.total_gpu_milli();
        if placer.place(&pod.resources()).is_none() {
            failed += 1;
            let pct = 100.0 * arrived as f64 / w.capacity_milli().max(1) as f64;
            first_failure_pct = first_failure_pct.or(Some(pct));
            if w.fits_empty[a.pod] {
                first_shortfall_pct = first_shortfall_pct.or(Some(pct));
            } else {
                never_fit += 1;
            }
        }
        observations.push(Observation {
            arrived_milli: arrived,
            allocated_milli: placer.gpu_allocated_milli(),
            frag_milli: placer.frag_milli(),
            free_milli: placer.gpu_free_milli(),
        });
        tick();
    }
    SeedRun { seed, observations, failed, first_failure_pct, first_shortfall_pct, never_fit }
}
