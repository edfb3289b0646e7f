//! The event loop: arrivals and completions on a virtual clock, and at every event one call of
//! the control plane's own `strata_sched::schedule` with the cluster as it stands — free
//! capacity per node, the waiting jobs, the running ones with what they hold, tenants' usage and
//! nominal quotas. Its placements start jobs; its preemptions stop them (back to the queue, with
//! the work since their last checkpoint lost).

use super::predict::Predictor;
use super::Policy;
use crate::gavel::generate::SimJob;
use std::collections::BTreeMap;
use strata_domain::{CpuMillis, GpuMillis, GpuRequest, JobId, MemoryMib, NodeId, ReplicaResources, TenantId};
use strata_sched::{schedule, GpuSlot, HeldReplica, NodeView, PendingJob, RunningJob, SchedInput, TenantLimits};

pub const GPU_MODEL: &str = "V100";
const GPUS_PER_NODE: u32 = 8;
const MS: f64 = 1000.0;

/// What became of one job.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub first_start_s: Option<f64>,
    pub finish_s: Option<f64>,
    pub preemptions: u32,
    /// GPU-seconds of work thrown away by preemptions.
    pub lost_gpu_s: f64,
}

pub struct Run {
    pub outcomes: Vec<Outcome>,
    pub busy_gpu_s: f64,
    pub makespan_s: f64,
    pub cycles: u64,
}

struct Active {
    start_s: f64,
    end_s: f64,
    replicas: Vec<HeldReplica>,
}

/// Replicas and the per-replica request for a job of `gpus` GPUs: up to a node's worth as one
/// replica, larger jobs as a gang of whole nodes.
fn shape(gpus: u32) -> (u32, u32) {
    if gpus <= GPUS_PER_NODE {
        (1, gpus)
    } else {
        (gpus.div_ceil(GPUS_PER_NODE), GPUS_PER_NODE)
    }
}

fn resources(per_replica_gpus: u32) -> ReplicaResources {
    ReplicaResources {
        cpu_milli: CpuMillis(u64::from(per_replica_gpus) * 4000),
        memory_mib: MemoryMib(u64::from(per_replica_gpus) * 16_384),
        gpu_milli: GpuRequest::Whole(per_replica_gpus),
        gpu_models: Vec::new(),
        preferred_gpu_models: Vec::new(),
        node_labels: Default::default(),
        max_replicas_per_node: None,
        spread_group: None,
    }
}

/// Simulates `jobs` (sorted by arrival) on `nodes` eight-GPU nodes. `nominal` is each tenant's
/// guaranteed GPUs (quota policy only); `checkpoint_s` how often jobs checkpoint.
pub fn simulate(
    policy: Policy,
    jobs: &[SimJob],
    nodes: u32,
    tenants: usize,
    nominal: &[u64],
    checkpoint_s: f64,
    tick: &dyn Fn(u64),
) -> Run {
    let mut views: Vec<NodeView> = (0..nodes)
        .map(|i| NodeView {
            id: NodeId(i64::from(i) + 1),
            name: format!("node-{i}"),
            rack: Some(format!("rack-{}", i / 16)),
            free_cpu: CpuMillis(u64::from(GPUS_PER_NODE) * 4000),
            free_memory: MemoryMib(u64::from(GPUS_PER_NODE) * 16_384),
            gpus: (0..GPUS_PER_NODE)
                .map(|g| GpuSlot { index: g, model: GPU_MODEL.into(), free: GpuMillis::WHOLE })
                .collect(),
            labels: Default::default(),
        })
        .collect();
    // Work left per job, in seconds of the whole gang at full speed.
    let mut remaining: Vec<f64> = jobs.iter().map(|j| j.total_steps / j.steps_per_s[2].max(1e-9)).collect();
    let mut outcomes = vec![Outcome::default(); jobs.len()];
    let mut waiting: BTreeMap<usize, ()> = BTreeMap::new();
    let mut active: BTreeMap<usize, Active> = BTreeMap::new();
    let (mut next_arrival, mut now, mut busy_gpu_s, mut cycles) = (0usize, 0.0f64, 0.0f64, 0u64);
    // What has been learned from the jobs finished so far (`sjf-learned`).
    let mut history = Predictor::default();

    loop {
        let next_end = active.values().map(|a| a.end_s).min_by(f64::total_cmp);
        let arrival = jobs.get(next_arrival).map(|j| j.arrival_s);
        now = match (arrival, next_end) {
            (None, None) => break,
            (Some(a), Some(e)) => a.min(e),
            (Some(a), None) => a,
            (None, Some(e)) => e,
        };
        let done: Vec<usize> = active.iter().filter(|(_, a)| a.end_s <= now).map(|(&j, _)| j).collect();
        for j in done {
            let a = active.remove(&j).unwrap_or_else(|| unreachable!());
            release(&mut views, &a.replicas);
            busy_gpu_s += (a.end_s - a.start_s) * f64::from(jobs[j].gpus);
            outcomes[j].finish_s = Some(a.end_s);
            history.learn(&jobs[j], a.end_s - outcomes[j].first_start_s.unwrap_or(a.start_s));
            tick(1);
        }
        while next_arrival < jobs.len() && jobs[next_arrival].arrival_s <= now {
            waiting.insert(next_arrival, ());
            next_arrival += 1;
        }
        if waiting.is_empty() {
            continue;
        }
        cycles += 1;
        // A job's remaining time as the policy knows it: the truth, or (`sjf-learned`, where no
        // job is preempted) the duration predicted from the jobs finished so far.
        let known = |j: usize| match policy {
            Policy::SjfLearned => history.predict(&jobs[j]),
            _ => remaining[j],
        };
        let input = snapshot(policy, jobs, &views, &waiting, &active, &known, tenants, nominal, now, checkpoint_s);
        let decisions = if policy == Policy::Fifo { strict_fifo(input) } else { schedule(&input) };
        for p in &decisions.preemptions {
            let j = (p.job.0 - 1) as usize;
            let Some(a) = active.remove(&j) else { continue };
            release(&mut views, &a.replicas);
            let ran = now - a.start_s;
            let kept = (ran / checkpoint_s).floor() * checkpoint_s;
            remaining[j] -= kept;
            busy_gpu_s += ran * f64::from(jobs[j].gpus);
            outcomes[j].preemptions += 1;
            outcomes[j].lost_gpu_s += (ran - kept) * f64::from(jobs[j].gpus);
            waiting.insert(j, ());
        }
        let per_replica = |j: usize| shape(jobs[j].gpus).1;
        for p in &decisions.placements {
            let j = (p.job.0 - 1) as usize;
            waiting.remove(&j);
            let res = resources(per_replica(j));
            let replicas: Vec<HeldReplica> = p
                .replicas
                .iter()
                .map(|r| HeldReplica {
                    node: r.node,
                    gpu_model: Some(GPU_MODEL.into()),
                    cpu_milli: res.cpu_milli.0,
                    memory_mib: res.memory_mib.0,
                    gpus: r.gpus.clone(),
                    spread_group: None,
                })
                .collect();
            take(&mut views, &replicas);
            outcomes[j].first_start_s.get_or_insert(now);
            active.insert(j, Active { start_s: now, end_s: now + remaining[j], replicas });
        }
    }
    Run { outcomes, busy_gpu_s, makespan_s: now, cycles }
}

/// The scheduler's input for the cluster as it stands.
#[allow(clippy::too_many_arguments)]
fn snapshot(
    policy: Policy,
    jobs: &[SimJob],
    views: &[NodeView],
    waiting: &BTreeMap<usize, ()>,
    active: &BTreeMap<usize, Active>,
    known: &dyn Fn(usize) -> f64,
    tenants: usize,
    nominal: &[u64],
    now: f64,
    checkpoint_s: f64,
) -> SchedInput {
    let estimates = policy != Policy::Greedy;
    let mut pending: Vec<PendingJob> = waiting
        .keys()
        .map(|&j| {
            let (replicas, per) = shape(jobs[j].gpus);
            PendingJob {
                id: JobId(j as i64 + 1),
                tenant: TenantId(jobs[j].tenant as i64 + 1),
                priority: 0,
                submitted_at_ms: (jobs[j].arrival_s * MS) as i64,
                replicas,
                resources: resources(per),
                runtime_estimate_ms: estimates.then(|| (known(j) * MS) as u64),
            }
        })
        .collect();
    if matches!(policy, Policy::Sjf | Policy::SjfLearned) {
        // Shortest GPU-time first: priorities by rank, ties by arrival, then id.
        let work = |p: &PendingJob| {
            let j = (p.id.0 - 1) as usize;
            f64::from(jobs[j].gpus) * known(j)
        };
        pending.sort_by(|a, b| {
            work(a).total_cmp(&work(b)).then(a.submitted_at_ms.cmp(&b.submitted_at_ms)).then(a.id.cmp(&b.id))
        });
        for (rank, p) in pending.iter_mut().enumerate() {
            p.priority = -(rank as i32);
        }
    }
    let mut used = vec![[0u64; 3]; tenants];
    let running = active
        .iter()
        .map(|(&j, a)| {
            let t = jobs[j].tenant;
            for r in &a.replicas {
                used[t][0] += r.gpu_milli();
                used[t][1] += r.cpu_milli;
                used[t][2] += r.memory_mib;
            }
            let since = a.start_s + ((now - a.start_s) / checkpoint_s).floor() * checkpoint_s;
            RunningJob {
                id: JobId(j as i64 + 1),
                tenant: TenantId(t as i64 + 1),
                priority: 0,
                preemptible: policy == Policy::Quota,
                progress_since_ms: (since * MS) as i64,
                // A prediction may have run out: then the job is expected to end any moment.
                expected_end_ms: estimates.then(|| match policy {
                    Policy::SjfLearned => ((a.start_s + known(j)).max(now) * MS) as i64,
                    _ => (a.end_s * MS) as i64,
                }),
                replicas: a.replicas.clone(),
            }
        })
        .collect();
    let tenants = (0..tenants)
        .map(|t| TenantLimits {
            tenant: TenantId(t as i64 + 1),
            name: format!("vc{t}"),
            max_gpu_milli: None,
            max_cpu_milli: None,
            max_memory_mib: None,
            used_gpu_milli: used[t][0],
            used_cpu_milli: used[t][1],
            used_memory_mib: used[t][2],
            nominal_gpu_milli: match (policy, nominal.get(t)) {
                (Policy::Quota, Some(&n)) => [(GPU_MODEL.to_string(), n * 1000)].into(),
                _ => BTreeMap::new(),
            },
        })
        .collect();
    SchedInput { nodes: views.to_vec(), pending, tenants, running, now_ms: (now * MS) as i64, seed: 0 }
}

/// YARN-style FIFO: the oldest waiting job starts when it fits, and nothing passes it. One call
/// of `schedule` with strictly decreasing priorities in arrival order places jobs in exactly
/// that order; everything after the first job that waits is then thrown away.
fn strict_fifo(mut input: SchedInput) -> strata_sched::Decisions {
    input.pending.sort_by_key(|j| (j.submitted_at_ms, j.id));
    // Every job needs a GPU, so at most one job per free GPU can start: the rest of the queue
    // cannot get past the first that waits, and need not be looked at.
    let free: usize = input.nodes.iter().map(|n| n.gpus.iter().filter(|g| g.free.0 > 0).count()).sum();
    input.pending.truncate(free + 1);
    for (rank, j) in input.pending.iter_mut().enumerate() {
        j.priority = -(rank as i32);
    }
    let order: Vec<JobId> = input.pending.iter().map(|j| j.id).collect();
    let mut d = schedule(&input);
    let waiting: std::collections::BTreeSet<JobId> = d.waiting.iter().map(|w| w.job).collect();
    let cut = order.iter().position(|id| waiting.contains(id)).unwrap_or(order.len());
    let admitted: std::collections::BTreeSet<JobId> = order[..cut].iter().copied().collect();
    d.placements.retain(|p| admitted.contains(&p.job));
    d
}

fn release(views: &mut [NodeView], held: &[HeldReplica]) {
    adjust(views, held, true);
}

fn take(views: &mut [NodeView], held: &[HeldReplica]) {
    adjust(views, held, false);
}

fn adjust(views: &mut [NodeView], held: &[HeldReplica], give_back: bool) {
    for h in held {
        // Nodes are numbered 1..=n in order.
        let Some(n) = usize::try_from(h.node.0 - 1).ok().and_then(|i| views.get_mut(i)) else { continue };
        let sign = |x: &mut u64, d: u64| *x = if give_back { *x + d } else { x.saturating_sub(d) };
        sign(&mut n.free_cpu.0, h.cpu_milli);
        sign(&mut n.free_memory.0, h.memory_mib);
        for g in &h.gpus {
            if let Some(s) = n.gpus.iter_mut().find(|s| s.index == g.index) {
                s.free.0 =
                    if give_back { (s.free.0 + g.milli.0).min(1000) } else { s.free.0.saturating_sub(g.milli.0) };
            }
        }
    }
}
