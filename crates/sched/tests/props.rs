//! Property tests: on random fleets, queues and quotas, the scheduler never over-commits a node,
//! a device or a quota, places gangs whole, accounts for every job once, and is deterministic;
//! and every placement policy, one replica at a time, never over-commits and repeats itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use strata_domain::{CpuMillis, GpuMillis, GpuRequest, JobId, MemoryMib, NodeId, ReplicaResources, TenantId};
use strata_sched::{
    schedule, schedule_by_scan, GpuSlot, NodeView, PendingJob, Placer, Policy, ReplicaPlacement, SchedInput, TaskMix,
    TaskShape, TenantLimits,
};

/// The last model never appears in a fleet, so constraints naming it cannot be met.
const MODELS: [&str; 4] = ["A100-40GB", "H100-80GB", "MI300X", "B200"];

fn arb_node(models_in_fleet: usize) -> impl Strategy<Value = (Option<u8>, u64, u64, Vec<(usize, u32)>)> {
    let gpu = (0..models_in_fleet, prop::sample::select(vec![0u32, 250, 500, 900, 1000, 1000, 1000]));
    (prop::option::of(0u8..3), 0u64..64_000, 0u64..256_000, prop::collection::vec(gpu, 0..=8))
}

fn arb_job() -> impl Strategy<Value = PendingJob> {
    let gpu = prop::sample::select(vec![0u32, 100, 250, 500, 999, 1000, 1000, 2000, 4000, 8000]);
    let model_list = prop::collection::vec(0..MODELS.len(), 0..=2);
    let spread = prop::option::weighted(0.25, 1u32..3);
    (
        (1i64..4, 0i32..3, 0i64..10, 1u32..=4),
        (0u64..16_000, 0u64..32_000, gpu),
        (model_list.clone(), model_list, spread, any::<bool>()),
    )
        .prop_map(
            |((tenant, priority, submitted, replicas), (cpu, mem, gpu), (allowed, pref, spread, grouped))| {
                let names = |ix: Vec<usize>| -> Vec<String> {
                    ix.into_iter().map(|i| MODELS[i].to_string()).collect::<BTreeSet<_>>().into_iter().collect()
                };
                PendingJob {
                    id: JobId(0),
                    tenant: TenantId(tenant),
                    priority,
                    submitted_at_ms: submitted,
                    replicas,
                    resources: ReplicaResources {
                        cpu_milli: CpuMillis(cpu),
                        memory_mib: MemoryMib(mem),
                        gpu_milli: GpuRequest::try_from(gpu).unwrap_or(GpuRequest::None),
                        gpu_models: names(allowed),
                        preferred_gpu_models: names(pref),
                        node_labels: Default::default(),
                        max_replicas_per_node: spread,
                        // Every job of group `gK` allows K per node, so the group's limit is one number.
                        spread_group: spread.filter(|_| grouped).map(|cap| format!("g{cap}")),
                    },
                    runtime_estimate_ms: None,
                }
            },
        )
}

fn arb_tenant(id: i64) -> impl Strategy<Value = TenantLimits> {
    (
        prop::option::of(0u64..20_000),
        prop::option::of(0u64..40_000),
        prop::option::of(0u64..60_000),
        (0u64..4000, 0u64..8000, 0u64..8000),
    )
        .prop_map(move |(g, c, m, (ug, uc, um))| TenantLimits {
            tenant: TenantId(id),
            name: format!("t{id}"),
            max_gpu_milli: g,
            max_cpu_milli: c,
            max_memory_mib: m,
            used_gpu_milli: ug,
            used_cpu_milli: uc,
            used_memory_mib: um,
            nominal_gpu_milli: Default::default(),
        })
}

fn arb_input() -> impl Strategy<Value = SchedInput> {
    (1usize..=3)
        .prop_flat_map(|k| {
            (
                prop::collection::vec(arb_node(k), 1..=20),
                prop::collection::vec(arb_job(), 0..40),
                (arb_tenant(1), arb_tenant(2)),
            )
        })
        .prop_map(|(nodes, jobs, (t1, t2))| SchedInput {
            nodes: nodes
                .into_iter()
                .enumerate()
                .map(|(i, (rack, cpu, mem, gpus))| NodeView {
                    id: NodeId(i as i64 + 1),
                    name: format!("n{}", i + 1),
                    rack: rack.map(|r| format!("rack-{r}")),
                    free_cpu: CpuMillis(cpu),
                    free_memory: MemoryMib(mem),
                    gpus: gpus
                        .into_iter()
                        .enumerate()
                        .map(|(ix, (m, free))| GpuSlot {
                            index: ix as u32,
                            model: MODELS[m].to_string(),
                            free: GpuMillis(free),
                        })
                        .collect(),
                    labels: Default::default(),
                })
                .collect(),
            pending: jobs.into_iter().enumerate().map(|(i, j)| PendingJob { id: JobId(i as i64 + 1), ..j }).collect(),
            // Tenant 3 is absent: unlimited.
            tenants: vec![t1, t2],
            running: vec![],
            now_ms: 0,
            seed: 0,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decisions_respect_capacity_gangs_quotas_and_accounting(input in arb_input()) {
        let d = schedule(&input);
        let nodes: BTreeMap<NodeId, &NodeView> = input.nodes.iter().map(|n| (n.id, n)).collect();
        let jobs: BTreeMap<JobId, &PendingJob> = input.pending.iter().map(|j| (j.id, j)).collect();

        // (3) every pending job exactly once.
        let mut seen: Vec<JobId> = d.placements.iter().map(|p| p.job)
            .chain(d.waiting.iter().map(|w| w.job)).collect();
        seen.sort();
        let expected: Vec<JobId> = jobs.keys().copied().collect();
        prop_assert_eq!(seen, expected);
        for w in &d.waiting {
            prop_assert!(!w.reason.is_empty());
        }

        let mut cpu: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut mem: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut dev: BTreeMap<(NodeId, u32), u32> = BTreeMap::new();
        let mut usage: BTreeMap<TenantId, (u64, u64, u64)> = BTreeMap::new();
        for p in &d.placements {
            let job = jobs[&p.job];
            let res = &job.resources;
            // (2) gangs whole, with the right devices of allowed models, one model per replica.
            prop_assert_eq!(p.replicas.len(), job.replicas as usize);
            for r in &p.replicas {
                let node = nodes.get(&r.node).copied();
                prop_assert!(node.is_some());
                let Some(node) = node else { continue };
                prop_assert_eq!(r.gpus.len(), res.gpu_milli.devices() as usize);
                let mut replica_models = BTreeSet::new();
                let mut indices = BTreeSet::new();
                for g in &r.gpus {
                    let slot = node.gpus.iter().find(|s| s.index == g.index);
                    prop_assert!(slot.is_some());
                    let Some(slot) = slot else { continue };
                    prop_assert!(res.allows_model(&slot.model));
                    prop_assert!(indices.insert(g.index));
                    replica_models.insert(slot.model.clone());
                    let want = match res.gpu_milli {
                        GpuRequest::Fraction(m) => m.0,
                        _ => 1000,
                    };
                    prop_assert_eq!(g.milli.0, want);
                    *dev.entry((node.id, g.index)).or_default() += g.milli.0;
                }
                prop_assert!(replica_models.len() <= 1);
                *cpu.entry(node.id).or_default() += res.cpu_milli.0;
                *mem.entry(node.id).or_default() += res.memory_mib.0;
            }
            let u = usage.entry(job.tenant).or_default();
            let r = u64::from(job.replicas);
            u.0 += r * u64::from(res.gpu_milli.total_milli().0);
            u.1 += r * res.cpu_milli.0;
            u.2 += r * res.memory_mib.0;
        }

        // (1) nothing over-committed.
        for (id, used) in &cpu {
            prop_assert!(*used <= nodes[id].free_cpu.0);
        }
        for (id, used) in &mem {
            prop_assert!(*used <= nodes[id].free_memory.0);
        }
        for ((id, index), used) in &dev {
            let free = nodes[id].gpus.iter().find(|s| s.index == *index).map_or(0, |s| s.free.0);
            prop_assert!(*used <= free, "device {index} on node {id}: {used} > {free}");
        }

        // (5) no node holds more of a spread group than its limit.
        prop_assert!(within_groups(&input, &d, &BTreeSet::new()).is_ok(), "{:?}", within_groups(&input, &d, &BTreeSet::new()));

        // (4) quotas never exceeded.
        for t in &input.tenants {
            let (g, c, m) = usage.get(&t.tenant).copied().unwrap_or_default();
            // A resource the tenant's placed jobs do not use is not checked: the tenant may
            // already be over that limit, which this cycle neither caused nor worsened.
            prop_assert!(g == 0 || t.max_gpu_milli.is_none_or(|l| t.used_gpu_milli + g <= l));
            prop_assert!(c == 0 || t.max_cpu_milli.is_none_or(|l| t.used_cpu_milli + c <= l));
            prop_assert!(m == 0 || t.max_memory_mib.is_none_or(|l| t.used_memory_mib + m <= l));
        }
    }

    #[test]
    fn same_input_same_output(input in arb_input()) {
        let first = schedule(&input);
        prop_assert_eq!(&first, &schedule(&input));
        // The queue's order in the input must not matter either: the scheduler sorts it.
        let mut shuffled = input.clone();
        shuffled.pending.reverse();
        shuffled.nodes.reverse();
        prop_assert_eq!(&first, &schedule(&shuffled));
    }

    #[test]
    fn placers_never_over_commit_and_repeat_themselves(input in arb_input(), seed in any::<u64>()) {
        let shapes = input.pending.iter().map(|j| {
            let r = &j.resources;
            TaskShape::new(r.cpu_milli.0, r.gpu_milli, r.gpu_models.clone())
        });
        let mix = TaskMix::typical(shapes, 95.0);
        let nodes: BTreeMap<NodeId, &NodeView> = input.nodes.iter().map(|n| (n.id, n)).collect();
        for policy in Policy::ALL {
            let run = || {
                let mut placer = Placer::new(&input.nodes, policy, &mix, seed);
                input.pending.iter().map(|j| {
                    let placed = placer.place(&j.resources);
                    // A replica left out fits nowhere: the policy's own ranking agrees.
                    (placed.clone(), placed.is_none() && !placer.best_nodes(&j.resources).is_empty())
                }).collect::<Vec<(Option<ReplicaPlacement>, bool)>>()
            };
            let first = run();
            prop_assert_eq!(&first, &run(), "{} is not deterministic", policy.name());
            let (mut cpu, mut mem) = (BTreeMap::<NodeId, u64>::new(), BTreeMap::<NodeId, u64>::new());
            let mut dev: BTreeMap<(NodeId, u32), u32> = BTreeMap::new();
            for (job, (placed, unexplained)) in input.pending.iter().zip(&first) {
                prop_assert!(!unexplained, "{} left out a replica it ranks a node for", policy.name());
                let Some(r) = placed else { continue };
                let res = &job.resources;
                prop_assert_eq!(r.gpus.len(), res.gpu_milli.devices() as usize);
                *cpu.entry(r.node).or_default() += res.cpu_milli.0;
                *mem.entry(r.node).or_default() += res.memory_mib.0;
                for g in &r.gpus {
                    let slot = nodes[&r.node].gpus.iter().find(|s| s.index == g.index);
                    prop_assert!(slot.is_some_and(|s| res.allows_model(&s.model)));
                    *dev.entry((r.node, g.index)).or_default() += g.milli.0;
                }
            }
            for (id, used) in &cpu {
                prop_assert!(*used <= nodes[id].free_cpu.0, "{}: CPU over-committed", policy.name());
            }
            for (id, used) in &mem {
                prop_assert!(*used <= nodes[id].free_memory.0, "{}: memory over-committed", policy.name());
            }
            for ((id, index), used) in &dev {
                let free = nodes[id].gpus.iter().find(|s| s.index == *index).map_or(0, |s| s.free.0);
                prop_assert!(*used <= free, "{}: device {index} on node {id}: {used} > {free}", policy.name());
            }
        }
    }
}

/// Whether every node holds at most K replicas of each spread group `gK` once the cycle's
/// decisions are carried out: the running ones not stopped and the placed ones together.
fn within_groups(input: &SchedInput, d: &strata_sched::Decisions, stopped: &BTreeSet<JobId>) -> Result<(), String> {
    let mut held: BTreeMap<(NodeId, &str), u32> = BTreeMap::new();
    for r in input.running.iter().filter(|r| !stopped.contains(&r.id)) {
        for h in &r.replicas {
            if let Some(g) = &h.spread_group {
                *held.entry((h.node, g)).or_default() += 1;
            }
        }
    }
    for p in &d.placements {
        let job = input.pending.iter().find(|j| j.id == p.job).ok_or("placed a job not pending")?;
        if let Some(g) = &job.resources.spread_group {
            for r in &p.replicas {
                *held.entry((r.node, g)).or_default() += 1;
            }
        }
    }
    match held.iter().find(|((_, g), &k)| g[1..].parse::<u32>().is_ok_and(|cap| k > cap)) {
        Some(((node, g), k)) => Err(format!("node {node} holds {k} replicas of {g}")),
        None => Ok(()),
    }
}

/// A cycle after `first`: its placements are now running work (random priorities, tenants'
/// nominal quotas, preemptibility), and `next` is the new queue.
fn second_cycle(first: &SchedInput, next: Vec<PendingJob>, flags: &[(bool, i32, u64)]) -> SchedInput {
    let d = schedule(first);
    let jobs: BTreeMap<JobId, &PendingJob> = first.pending.iter().map(|j| (j.id, j)).collect();
    let mut nodes = first.nodes.clone();
    let mut running = Vec::new();
    for (k, p) in d.placements.iter().enumerate() {
        let job = jobs[&p.job];
        let (preemptible, priority, age) = flags[k % flags.len()];
        let mut replicas = Vec::new();
        for r in &p.replicas {
            let n = nodes.iter_mut().find(|n| n.id == r.node).unwrap();
            n.free_cpu.0 -= job.resources.cpu_milli.0;
            n.free_memory.0 -= job.resources.memory_mib.0;
            let mut model = None;
            for g in &r.gpus {
                let slot = n.gpus.iter_mut().find(|s| s.index == g.index).unwrap();
                slot.free.0 -= g.milli.0;
                model = Some(slot.model.clone());
            }
            replicas.push(strata_sched::HeldReplica {
                node: r.node,
                gpu_model: model,
                cpu_milli: job.resources.cpu_milli.0,
                memory_mib: job.resources.memory_mib.0,
                gpus: r.gpus.clone(),
                spread_group: job.resources.spread_group.clone(),
            });
        }
        running.push(strata_sched::RunningJob {
            id: JobId(1000 + p.job.0),
            tenant: job.tenant,
            priority,
            preemptible,
            progress_since_ms: 1_000_000 - age as i64,
            expected_end_ms: (age % 3 != 0).then_some(1_000_000 + age as i64 * 7),
            replicas,
        });
    }
    let mut tenants = first.tenants.clone();
    for (i, t) in tenants.iter_mut().enumerate() {
        t.nominal_gpu_milli.insert(MODELS[i % 3].to_string(), 4000);
    }
    let pending = next
        .into_iter()
        .enumerate()
        .map(|(i, j)| PendingJob {
            id: JobId(i as i64 + 1),
            runtime_estimate_ms: (i % 2 == 0).then_some(i as u64 * 1000),
            ..j
        })
        .collect();
    SchedInput { nodes, pending, running, now_ms: 1_000_000, tenants, seed: 0 }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The cycle places single replicas through an index kept current from the fleet's change
    /// log; it decides exactly as a scan of every node would, through gangs placed and undone,
    /// victims stopped and restarted, and backfill refused.
    #[test]
    fn the_cycle_decides_with_its_index_exactly_as_by_scanning(
        first in arb_input(),
        next in prop::collection::vec(arb_job(), 0..30),
        flags in prop::collection::vec((any::<bool>(), 0i32..3, 0u64..10_000_000), 1..8),
    ) {
        prop_assert_eq!(schedule(&first), schedule_by_scan(&first));
        let input = second_cycle(&first, next, &flags);
        prop_assert_eq!(schedule(&input), schedule_by_scan(&input));
    }

    /// Every job in a spread group (as a deployment's replicas are): the limit holds in a first
    /// cycle and in a second one that starts with the first's placements running.
    #[test]
    fn a_spread_group_never_exceeds_its_limit_on_a_node_across_cycles(
        first in arb_input(),
        next in prop::collection::vec(arb_job(), 0..30),
        flags in prop::collection::vec((any::<bool>(), 0i32..3, 0u64..10_000_000), 1..8),
    ) {
        let grouped = |mut j: PendingJob| {
            let cap = 1 + (j.id.0 % 2) as u32;
            j.resources.max_replicas_per_node = Some(cap);
            j.resources.spread_group = Some(format!("g{cap}"));
            j
        };
        let first = SchedInput { pending: first.pending.into_iter().map(grouped).collect(), ..first };
        let d = schedule(&first);
        prop_assert!(within_groups(&first, &d, &BTreeSet::new()).is_ok(), "{:?}", within_groups(&first, &d, &BTreeSet::new()));
        let next: Vec<PendingJob> =
            next.into_iter().enumerate().map(|(i, j)| grouped(PendingJob { id: JobId(i as i64 + 1), ..j })).collect();
        let input = second_cycle(&first, next, &flags);
        let d = schedule(&input);
        prop_assert_eq!(&d, &schedule_by_scan(&input));
        let stopped: BTreeSet<JobId> = d.preemptions.iter().map(|p| p.job).collect();
        let groups = within_groups(&input, &d, &stopped);
        prop_assert!(groups.is_ok(), "{:?}", groups);
    }

    #[test]
    fn preemption_frees_no_more_than_it_stops_and_stops_only_what_it_may(
        first in arb_input(),
        next in prop::collection::vec(arb_job(), 0..30),
        flags in prop::collection::vec((any::<bool>(), 0i32..3, 0u64..10_000_000), 1..8),
    ) {
        let input = second_cycle(&first, next, &flags);
        let d = schedule(&input);
        prop_assert_eq!(&d, &schedule(&input), "not deterministic");
        let mut seen: Vec<JobId> = d.placements.iter().map(|p| p.job).chain(d.waiting.iter().map(|w| w.job)).collect();
        seen.sort();
        prop_assert_eq!(seen, input.pending.iter().map(|j| j.id).collect::<Vec<_>>());

        let running: BTreeMap<JobId, &strata_sched::RunningJob> = input.running.iter().map(|r| (r.id, r)).collect();
        let pending: BTreeMap<JobId, &PendingJob> = input.pending.iter().map(|j| (j.id, j)).collect();
        let mut stopped = BTreeSet::new();
        for p in &d.preemptions {
            prop_assert!(stopped.insert(p.job), "job {} stopped twice", p.job);
            let victim = running.get(&p.job).copied();
            prop_assert!(victim.is_some(), "stopped a job that was not running");
            let victim = victim.unwrap();
            prop_assert!(victim.preemptible);
            let claimant = pending[&p.for_job];
            prop_assert!(d.placements.iter().any(|q| q.job == claimant.id), "stopped work for a job left waiting");
            if victim.tenant == claimant.tenant {
                prop_assert!(victim.priority < claimant.priority);
            } else {
                prop_assert!(p.reason.contains("borrowing"), "{}", p.reason);
            }
        }

        // Capacity: what keeps running plus what starts fits in what the first cycle had free.
        let mut cpu: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut dev: BTreeMap<(NodeId, u32), u32> = BTreeMap::new();
        for r in input.running.iter().filter(|r| !stopped.contains(&r.id)) {
            for h in &r.replicas {
                *cpu.entry(h.node).or_default() += h.cpu_milli;
                for g in &h.gpus {
                    *dev.entry((h.node, g.index)).or_default() += g.milli.0;
                }
            }
        }
        for p in &d.placements {
            let res = &pending[&p.job].resources;
            if let Some(cap) = res.max_replicas_per_node {
                let mut per_node: BTreeMap<NodeId, u32> = BTreeMap::new();
                for r in &p.replicas {
                    *per_node.entry(r.node).or_default() += 1;
                }
                prop_assert!(per_node.values().all(|&k| k <= cap), "job {} over its spread {cap}: {per_node:?}", p.job);
            }
            for r in &p.replicas {
                *cpu.entry(r.node).or_default() += res.cpu_milli.0;
                for g in &r.gpus {
                    *dev.entry((r.node, g.index)).or_default() += g.milli.0;
                }
            }
        }
        let groups = within_groups(&input, &d, &stopped);
        prop_assert!(groups.is_ok(), "{:?}", groups);
        let before: BTreeMap<NodeId, &NodeView> = first.nodes.iter().map(|n| (n.id, n)).collect();
        for (id, used) in &cpu {
            prop_assert!(*used <= before[id].free_cpu.0, "node {id}: CPU over-committed");
        }
        for ((id, index), used) in &dev {
            let free = before[id].gpus.iter().find(|s| s.index == *index).map_or(0, |s| s.free.0);
            prop_assert!(*used <= free, "device {index} on node {id}: {used} > {free}");
        }
    }
}
