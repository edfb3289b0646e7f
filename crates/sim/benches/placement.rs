//! S4 (BENCHMARKS.md): how long one placement takes at ~50,000 GPUs, per job class and policy.
//!
//! The openb GPU nodes × 8 (9,704 nodes, 49,696 GPUs, 7 models) are filled by one seed of FGD's
//! inflation of an openb pod list (default `gpuspec33`: shares, whole and multi-GPU, CPU-only and
//! model-constrained pods) to `RATIO` of the GPUs, one `Placer::place` at a time; each call is
//! timed on the wall clock and on the thread's CPU clock (which does not count the time the
//! thread was descheduled: this machine is shared). Prints p50/p99/max per class, decisions/s and
//! peak memory.
//!
//! Gangs of 8–1,024 GPUs (`GANG_EVERY`, default every 50th arrival, 0 for none) arrive among the
//! pods: 8-GPU replicas (32 cores, 128 GiB each), sizes cycling through 8, 16, …, 1,024 GPUs,
//! placed whole or not at all by `Placer::place_gang` — the control plane's gang placement, one
//! node, else one rack (`RACK_NODES` consecutive nodes, default 32), else anywhere.
//!
//! DLRM inference instances (`DLRM_EVERY`, default every 4th arrival, 0 for none) arrive among
//! them too, in the trace's order: each within its application's density limit
//! (`max_instance_per_node`) through `Placer::place_limited`.
//!
//!     cargo bench -p strata-sim --bench placement
//!     POLICIES=classic,strata RATIO=1.3 WORKLOAD=default cargo bench -p strata-sim --bench placement
//!     FLEET=spot WORKLOAD=default cargo bench -p strata-sim --bench placement   # spot-GPU nodes × 5
//!
//! A measurement, not a simulation: it reads the clock, so it lives outside the simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nix::time::{clock_gettime, ClockId};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use strata_domain::{CpuMillis, GpuRequest, MemoryMib, ReplicaResources};
use strata_sched::{Placer, Policy};
use strata_sim::dlrm::{read_instances, DlrmInstance, Role};
use strata_sim::openb::run::{policy_seed, Workload};
use strata_sim::openb::trace::{read_nodes, read_pods, read_spot_nodes, OpenbNode, OpenbPod};

/// Copies of the openb GPU node list in the fleet: 1,213 × 8 nodes, 6,212 × 8 GPUs.
const COPIES: usize = 8;
/// Copies of the spot-GPU inventory (`FLEET=spot`): 4,278 × 5 nodes, 10,412 × 5 GPUs.
const SPOT_COPIES: usize = 5;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The job class a pod belongs to, for the report.
fn class(pod: &OpenbPod) -> &'static str {
    match (pod.gpu, pod.gpu_spec.is_empty()) {
        (GpuRequest::None, _) => "cpu-only",
        (_, false) => "model-constrained",
        (GpuRequest::Fraction(_), true) => "fractional",
        (GpuRequest::Whole(1), true) => "1 GPU",
        (GpuRequest::Whole(_), true) => "2-8 GPUs",
    }
}

/// Gang sizes in GPUs, in the order they arrive (then again).
const GANG_GPUS: [u32; 8] = [8, 16, 32, 64, 128, 256, 512, 1024];

/// One 8-GPU replica of a gang.
fn gang_replica() -> ReplicaResources {
    ReplicaResources {
        cpu_milli: CpuMillis(32_000),
        memory_mib: MemoryMib(128 * 1024),
        gpu_milli: GpuRequest::Whole(8),
        gpu_models: Vec::new(),
        preferred_gpu_models: Vec::new(),
        node_labels: Default::default(),
        max_replicas_per_node: None,
        spread_group: None,
    }
}

fn gang_class(gpus: u32) -> &'static str {
    if gpus <= 64 {
        "gang 8-64 GPUs"
    } else {
        "gang 128-1024 GPUs"
    }
}

/// What arrives next: an openb pod (index into the arrivals), a gang of this many GPUs, or a
/// DLRM instance (index into the trace).
enum Work {
    Pod(usize),
    Gang(u32),
    Dlrm(usize),
}

fn dlrm_class(i: &DlrmInstance) -> &'static str {
    match (i.role, i.max_per_node.is_some()) {
        (Role::Cpu, true) => "dlrm CN, limited",
        (Role::Cpu, false) => "dlrm CN",
        (Role::Gpu, true) => "dlrm HN, limited",
        (Role::Gpu, false) => "dlrm HN",
    }
}

/// This thread's CPU time in µs.
fn cpu_us() -> f64 {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("the thread CPU clock");
    t.tv_sec() as f64 * 1e6 + t.tv_nsec() as f64 / 1e3
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN)
}

/// Decision times of one class, in µs.
#[derive(Default)]
struct Times {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    failed: usize,
}

impl Times {
    /// `p50 | p99 | max`, each as wall (CPU).
    fn row(&mut self) -> String {
        self.wall.sort_by(f64::total_cmp);
        self.cpu.sort_by(f64::total_cmp);
        let cell = |p: f64| format!("{:.1} ({:.1})", percentile(&self.wall, p), percentile(&self.cpu, p));
        format!("{} | {} | {}", cell(0.5), cell(0.99), cell(1.0))
    }
}

/// Peak resident memory of this process, from `/proc/self/status` (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let traces = PathBuf::from(env("TRACES", concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/traces")));
    let csv = traces.join("alibaba_openb_gpu_v2023/csv");
    let workload = env("WORKLOAD", "gpuspec33");
    let ratio: f64 = env("RATIO", "1.0").parse().expect("RATIO is a number, e.g. 1.0");
    let seed: u64 = env("SEED", "42").parse().expect("SEED is a number");
    let policies: Vec<Policy> =
        env("POLICIES", "classic,fgd,strata").split(',').map(|p| Policy::parse(p).expect("a policy name")).collect();

    // BENCHMARKS.md S4's two fleets: openb's GPU nodes × 8, or the spot-GPU inventory × 5.
    let fleet = env("FLEET", "openb");
    let (one, copies) = match fleet.as_str() {
        "openb" => (read_nodes(&csv.join("openb_node_list_gpu_node.csv")).expect("the openb node list"), COPIES),
        "spot" => (
            read_spot_nodes(&traces.join("alibaba_spot_gpu_v2026/node_info_df.csv")).expect("the spot node list"),
            SPOT_COPIES,
        ),
        other => panic!("FLEET is openb or spot, not {other}"),
    };
    let nodes: Vec<OpenbNode> = (0..copies)
        .flat_map(|k| one.iter().map(move |n| OpenbNode { name: format!("{}-{k}", n.name), ..n.clone() }))
        .collect();
    let pods = read_pods(&csv.join(format!("openb_pod_list_{workload}.csv"))).expect("the openb pod list");
    let mut w = Workload::new(workload.clone(), &nodes, pods);
    let rack_nodes: usize = env("RACK_NODES", "32").parse().expect("RACK_NODES is a number");
    for (i, n) in w.nodes.iter_mut().enumerate() {
        n.rack = Some(format!("rack-{}", i / rack_nodes.max(1)));
    }
    let arrivals = w.arrivals(ratio, seed);
    let gang_every: usize = env("GANG_EVERY", "50").parse().expect("GANG_EVERY is a number");
    let dlrm_every: usize = env("DLRM_EVERY", "4").parse().expect("DLRM_EVERY is a number");
    let dlrm = match dlrm_every {
        0 => Vec::new(),
        _ => read_instances(&traces.join("alibaba_dlrm_inference_v2025/disaggregated_DLRM_trace.csv"))
            .expect("the DLRM trace"),
    };
    let mut work = Vec::new();
    let (mut gangs, mut instances) = (0, 0);
    for i in 0..arrivals.len() {
        if gang_every > 0 && i > 0 && i % gang_every == 0 {
            work.push(Work::Gang(GANG_GPUS[gangs % GANG_GPUS.len()]));
            gangs += 1;
        }
        if dlrm_every > 0 && i > 0 && i % dlrm_every == 0 && instances < dlrm.len() {
            work.push(Work::Dlrm(instances));
            instances += 1;
        }
        work.push(Work::Pod(i));
    }
    println!(
        "S4 placement latency: {fleet} fleet, {} nodes, {} GPUs in racks of {rack_nodes}; {workload}, seed {seed}, {} pods to {:.0}% of GPU capacity, {gangs} gangs, {instances} DLRM instances",
        w.nodes.len(),
        w.total_gpus,
        arrivals.len(),
        ratio * 100.0
    );
    println!("\nµs per decision, wall clock (CPU clock in brackets):\n");
    println!(
        "| policy | job class | decisions | failed | p50 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for policy in policies {
        let mut placer = Placer::new(&w.nodes, policy, &w.mix, policy_seed(seed));
        let mut by_class: BTreeMap<&str, Times> = BTreeMap::new();
        let start = Instant::now();
        let gang = gang_replica();
        for item in &work {
            let (res, class, replicas, limit) = match *item {
                Work::Pod(i) => {
                    let pod = &w.pods[arrivals[i].pod];
                    (pod.resources(), class(pod), 1, None)
                }
                Work::Gang(gpus) => (gang.clone(), gang_class(gpus), gpus / 8, None),
                Work::Dlrm(i) => {
                    let d = &dlrm[i];
                    (d.resources(), dlrm_class(d), 1, d.max_per_node.map(|k| (d.app.as_str(), k)))
                }
            };
            let (t, c) = (Instant::now(), cpu_us());
            let placed = match limit {
                Some((app, k)) => placer.place_limited(&res, app, k).is_some(),
                None if replicas > 1 => placer.place_gang(&res, replicas).is_some(),
                None => placer.place(&res).is_some(),
            };
            let (c, t) = (cpu_us() - c, t.elapsed().as_secs_f64() * 1e6);
            let e = by_class.entry(class).or_default();
            e.wall.push(t);
            e.cpu.push(c);
            e.failed += usize::from(!placed);
        }
        let total = start.elapsed().as_secs_f64();
        let mut all = Times::default();
        for (name, mut times) in by_class {
            let row = times.row();
            println!("| {} | {name} | {} | {} | {row} |", policy.name(), times.wall.len(), times.failed);
            all.wall.extend(times.wall);
            all.cpu.extend(times.cpu);
        }
        println!(
            "| {} | all: {:.0} decisions/s, allocation {:.2}% | {} | | {} |",
            policy.name(),
            work.len() as f64 / total,
            100.0 * placer.gpu_allocated_milli() as f64 / placer.gpu_capacity_milli() as f64,
            all.wall.len(),
            all.row()
        );
    }
    if let Some(mib) = peak_rss_mib() {
        println!("\npeak resident memory {mib:.0} MiB");
    }
}
