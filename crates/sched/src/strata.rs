//! Strata's placement costs: two kinds of fragment that FGD's measure does not see.
//!
//! **Stranded GPUs.** On openb the CPU asked for at 130 % arrived GPU demand is more than the
//! fleet has (106 % on `default`), so nodes run out of CPU before their GPUs are taken. FGD checks
//! each typical class against the node's CPU one task at a time: a node with four free GPUs and
//! CPU for one more task still counts all four as usable. We count as lost the free GPU that the
//! node's CPU cannot feed at the typical ratio `ρ` (milli-CPU per milli-GPU of the typical GPU
//! classes): `max(0, free GPU − free CPU / ρ)`. It steers CPU-hungry pods to CPU-rich nodes and
//! GPU-hungry, CPU-light ones to CPU-poor nodes.
//!
//! **Scarce homes.** A shape that fits few nodes of the empty fleet — an 8-GPU pod asking for
//! 120 cores fits only the 39 G3 nodes, a P100-only share a tenth of the nodes — loses much when
//! one of its homes is broken, yet FGD weighs it by its frequency alone, and leaves it out
//! altogether when it is too rare to be typical. For every GPU shape of the workload that fits on
//! fewer than half the nodes, a placement that stops a node being its home costs
//! `p × s² × (the shape's milli-GPU)`, with `p` its share of all tasks and `s` = nodes / homes.
//!
//! Both are milli-GPU, added to FGD's fragmentation before and after the placement, so they go
//! through FGD's quantised score with it (see `policy.rs`).

use crate::fleet::{Fleet, Node};
use crate::frag::{state_after, Class, Take};
use crate::mix::TaskMix;
use std::collections::BTreeMap;

/// A shape is scarce when it fits on fewer than one node in this many.
const SCARCE: f64 = 2.0;

/// What a shape asks of a node's devices: milli-GPU per device, devices, allowed models.
type DeviceAsk = (u32, u32, Vec<bool>);

/// Scarce shapes that ask for the same devices, differing only in CPU. Whether a node is a home
/// is monotone in its free CPU, so one device check and a prefix sum price the whole group.
struct Group {
    milli: u32,
    gpus: u32,
    /// Indexed by model id.
    allowed: Vec<bool>,
    /// The shapes' CPU asks, ascending, and the running sum of their weights.
    cpus: Vec<u64>,
    weights: Vec<f64>,
}

impl Group {
    /// Whether the devices fit one task of the group.
    fn devices_fit(&self, devs: impl Iterator<Item = (usize, u32)>) -> bool {
        let fitting = devs.filter(|&(m, f)| self.allowed.get(m).copied().unwrap_or(false) && f >= self.milli);
        fitting.count() as u32 >= self.gpus.max(1)
    }

    /// Total weight of the shapes that ask for at most `cpu`.
    fn weight_within(&self, cpu: u64) -> f64 {
        match self.cpus.partition_point(|&c| c <= cpu) {
            0 => 0.0,
            n => self.weights[n - 1],
        }
    }
}

pub(crate) struct Costs {
    /// Milli-CPU per milli-GPU of the typical GPU classes; `None` when none uses a GPU.
    cpu_per_gpu: Option<f64>,
    groups: Vec<Group>,
    /// Per node: the groups with a model it has (fixed, whatever is free).
    relevant: Vec<Vec<usize>>,
    scratch: Vec<(usize, u32)>,
}

impl Costs {
    /// Costs for this workload, with scarcity judged on `fleet` as it is now (the empty fleet).
    pub fn new(mix: &TaskMix, fleet: &Fleet) -> Self {
        let (mut cpu, mut gpu) = (0.0, 0.0);
        for (shape, p) in mix.classes.iter().filter(|(s, _)| s.gpu_milli > 0) {
            cpu += p * shape.cpu_milli as f64;
            gpu += p * f64::from(shape.gpu_milli) * f64::from(shape.gpus);
        }
        let cpu_per_gpu = (gpu > 0.0 && cpu > 0.0).then(|| cpu / gpu);

        let nodes = fleet.nodes.len() as f64;
        let devs: Vec<Vec<(usize, u32)>> = fleet.nodes.iter().map(devices).collect();
        let mut by_devices: BTreeMap<DeviceAsk, Vec<(u64, f64)>> = BTreeMap::new();
        for (shape, p) in mix.all.iter().filter(|(s, _)| s.gpu_milli > 0) {
            let class = Class::resolve(shape, *p, &fleet.models);
            let homes = fleet.nodes.iter().zip(&devs).filter(|(n, d)| class.fits(n.cpu, d)).count();
            if homes == 0 || nodes / (homes as f64) < SCARCE {
                continue;
            }
            let s = nodes / homes as f64;
            let weight = p * s * s * f64::from(shape.gpu_milli) * f64::from(shape.gpus);
            by_devices.entry((class.milli, class.gpus, class.allowed)).or_default().push((class.cpu, weight));
        }
        let groups: Vec<Group> = by_devices
            .into_iter()
            .map(|((milli, gpus, allowed), mut shapes)| {
                shapes.sort_by_key(|&(c, _)| c);
                let cpus = shapes.iter().map(|&(c, _)| c).collect();
                let mut sum = 0.0;
                let weights = shapes
                    .iter()
                    .map(|&(_, w)| {
                        sum += w;
                        sum
                    })
                    .collect();
                Group { milli, gpus, allowed, cpus, weights }
            })
            .collect();
        let relevant = fleet
            .nodes
            .iter()
            .map(|n| (0..groups.len()).filter(|&g| n.models.iter().any(|&m| groups[g].allowed[m])).collect())
            .collect();
        Costs { cpu_per_gpu, groups, relevant, scratch: Vec::new() }
    }

    /// Free milli-GPU that `cpu` milli-CPU cannot feed at the typical ratio.
    pub fn stranded(&self, cpu: u64, gpu: u64) -> f64 {
        self.cpu_per_gpu.map_or(0.0, |r| (gpu as f64 - cpu as f64 / r).max(0.0))
    }

    /// What placing `cpu` and `take` on node `i` costs in broken homes of scarce shapes.
    pub fn homes_lost(&mut self, fleet: &Fleet, i: usize, cpu: u64, take: Take) -> f64 {
        let Some(relevant) = self.relevant.get(i).filter(|r| !r.is_empty()) else { return 0.0 };
        let node = &fleet.nodes[i];
        state_after(node, take, &mut self.scratch);
        let left = node.cpu.saturating_sub(cpu);
        let mut lost = 0.0;
        for g in relevant.iter().map(|&g| &self.groups[g]) {
            if !g.devices_fit(node.gpus.iter().map(|d| (d.model, d.free))) {
                continue; // not a home of any shape in the group now, so none to lose
            }
            let kept = if g.devices_fit(self.scratch.iter().copied()) { g.weight_within(left) } else { 0.0 };
            lost += g.weight_within(node.cpu) - kept;
        }
        lost
    }
}

fn devices(node: &Node) -> Vec<(usize, u32)> {
    node.gpus.iter().map(|d| (d.model, d.free)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::TaskShape;
    use crate::model::{GpuSlot, NodeView};
    use strata_domain::{CpuMillis, GpuMillis, GpuRequest, MemoryMib, NodeId};

    fn view(id: i64, cores: u64, gpus: u32) -> NodeView {
        NodeView {
            id: NodeId(id),
            name: format!("n{id}"),
            rack: None,
            free_cpu: CpuMillis(cores * 1000),
            free_memory: MemoryMib(1 << 20),
            gpus: (0..gpus).map(|index| GpuSlot { index, model: "A".into(), free: GpuMillis(1000) }).collect(),
            labels: Default::default(),
        }
    }

    fn shape(cpu: u64, gpus: u32) -> TaskShape {
        TaskShape::new(cpu, GpuRequest::Whole(gpus), vec![])
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn stranded_is_the_gpu_the_cpu_cannot_feed() {
        // Typical GPU tasks ask 10 cores per 3 GPUs (the CPU-only task does not count): 8 cores
        // feed 2.4 of 4 free GPUs.
        let views = [view(1, 16, 4)];
        let fleet = Fleet::new(&views);
        let mix = TaskMix::typical(
            vec![shape(4000, 1), shape(6000, 2), TaskShape::new(9000, GpuRequest::None, vec![])],
            100.0,
        );
        let costs = Costs::new(&mix, &fleet);
        assert_eq!(costs.stranded(16_000, 4000), 0.0);
        assert!(close(costs.stranded(8000, 4000), 1600.0), "{}", costs.stranded(8000, 4000));
        assert_eq!(costs.stranded(0, 500), 500.0);
        let gpu_free = Costs::new(&TaskMix::typical(vec![shape(0, 1)], 100.0), &fleet);
        assert_eq!(gpu_free.stranded(0, 4000), 0.0);
    }

    #[test]
    fn breaking_a_scarce_home_costs_the_shapes_it_hosted() {
        // Only node 1 has the cores for the two big shapes (p = 0.1 each, s = 4 nodes / 1 home):
        // each costs 0.1 × 4² × 8000 = 12,800 milli-GPU. The 1-GPU shape fits everywhere.
        let views = [view(1, 128, 8), view(2, 64, 8), view(3, 64, 8), view(4, 64, 8)];
        let fleet = Fleet::new(&views);
        let mut tasks = vec![shape(1000, 1); 8];
        tasks.extend([shape(100_000, 8), shape(120_000, 8)]);
        let mut costs = Costs::new(&TaskMix::typical(tasks, 95.0), &fleet);
        assert_eq!(costs.groups.len(), 1);
        let one_gpu = Take::Whole { model: 0, n: 1 };
        assert!(close(costs.homes_lost(&fleet, 0, 1000, one_gpu), 25_600.0));
        // Ten cores alone leave 118: room for the 100-core shape still, not the 120-core one.
        assert!(close(costs.homes_lost(&fleet, 0, 10_000, Take::Nothing), 12_800.0));
        assert_eq!(costs.homes_lost(&fleet, 0, 1000, Take::Nothing), 0.0);
        assert_eq!(costs.homes_lost(&fleet, 1, 1000, one_gpu), 0.0);
    }
}
