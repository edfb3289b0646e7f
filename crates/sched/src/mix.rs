//! The "typical task" distribution that FGD measures fragmentation against.
//!
//! Weng et al. (ATC'23) define a node's fragmentation as the GPU capacity it cannot offer to a task
//! drawn from the workload's own distribution. The distribution is estimated from the workload:
//! count tasks by shape, keep the most popular shapes until they cover a share of all tasks (95 %
//! in the paper), and renormalise their frequencies to sum to one. The full distribution is kept
//! too: Strata's policy looks for the rare shapes that only a few nodes can host.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use strata_domain::GpuRequest;

/// The resource shape of one task, as far as fragmentation is concerned (memory is not).
/// Field order is FGD's reference order for breaking ties between equally popular shapes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskShape {
    pub cpu_milli: u64,
    /// Milli-GPU per device: 1..999 for a share, 1000 for whole devices, 0 for none.
    pub gpu_milli: u32,
    /// Devices touched: 0, 1 for a share, n for whole devices.
    pub gpus: u32,
    /// Chip models the task may use; empty means any.
    pub gpu_models: Vec<String>,
}

impl TaskShape {
    pub fn new(cpu_milli: u64, gpu: GpuRequest, gpu_models: Vec<String>) -> Self {
        let gpu_milli = match gpu {
            GpuRequest::None => 0,
            GpuRequest::Fraction(m) => m.0,
            GpuRequest::Whole(_) => 1000,
        };
        TaskShape { cpu_milli, gpu_milli, gpus: gpu.devices(), gpu_models }
    }
}

/// Task shapes with their frequencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskMix {
    /// The typical classes, frequencies summing to one: FGD's distribution.
    pub classes: Vec<(TaskShape, f64)>,
    /// Every shape with its share of all tasks, in the same order (most popular first).
    pub all: Vec<(TaskShape, f64)>,
}

impl TaskMix {
    /// The most popular shapes covering at least `coverage_pct` percent of `tasks`, most popular
    /// first (ties: larger shapes first), frequencies renormalised over the kept shapes; and
    /// every shape with its share of all tasks.
    pub fn typical(tasks: impl IntoIterator<Item = TaskShape>, coverage_pct: f64) -> TaskMix {
        let mut counts: BTreeMap<TaskShape, u64> = BTreeMap::new();
        for t in tasks {
            *counts.entry(t).or_default() += 1;
        }
        let total: u64 = counts.values().sum();
        if total == 0 {
            return TaskMix::default();
        }
        let mut ranked: Vec<(TaskShape, u64)> = counts.into_iter().collect();
        ranked.sort_by(|(a, ca), (b, cb)| (Reverse(ca), Reverse(a)).cmp(&(Reverse(cb), Reverse(b))));
        let needed = coverage_pct * total as f64 / 100.0;
        let mut covered = 0u64;
        let mut kept = 0;
        for (_, count) in &ranked {
            // Take shapes while the ones already taken cover less than the target.
            if kept > 0 && (covered as f64) >= needed {
                break;
            }
            covered += count;
            kept += 1;
        }
        let share = |n: u64, of: u64| n as f64 / of as f64;
        let classes = ranked[..kept].iter().map(|(s, c)| (s.clone(), share(*c, covered))).collect();
        let all = ranked.into_iter().map(|(s, c)| (s, share(c, total))).collect();
        TaskMix { classes, all }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_domain::GpuMillis;

    fn shape(cpu: u64, gpu: GpuRequest) -> TaskShape {
        TaskShape::new(cpu, gpu, vec![])
    }

    #[test]
    fn keeps_the_popular_shapes_until_covered_and_renormalises() {
        let half = GpuRequest::Fraction(GpuMillis(500));
        let mut tasks = vec![shape(4000, half); 6];
        tasks.extend(vec![shape(8000, GpuRequest::Whole(1)); 3]);
        tasks.push(shape(1000, GpuRequest::None));
        let mix = TaskMix::typical(tasks.clone(), 90.0);
        assert_eq!(mix.classes.len(), 2);
        assert_eq!(mix.classes[0], (shape(4000, half), 6.0 / 9.0));
        assert_eq!(mix.classes[1], (shape(8000, GpuRequest::Whole(1)), 3.0 / 9.0));
        assert_eq!(mix.all.len(), 3);
        assert_eq!(mix.all[2], (shape(1000, GpuRequest::None), 0.1));
        assert_eq!(TaskMix::typical(tasks, 95.0).classes.len(), 3);
    }

    #[test]
    fn equally_popular_shapes_rank_larger_first() {
        let tasks = vec![shape(1000, GpuRequest::Whole(1)), shape(2000, GpuRequest::Whole(1))];
        let mix = TaskMix::typical(tasks, 100.0);
        assert_eq!(mix.classes[0].0.cpu_milli, 2000);
        assert!(TaskMix::typical(Vec::new(), 95.0).classes.is_empty());
    }
}
