//! FGD's fragmentation measure (Weng et al., ATC'23): how much of a node's free GPU capacity a
//! task drawn from the typical-task distribution could not use.
//!
//! For each typical task class with frequency `p`: if the node can host it (enough devices with
//! enough free milli-GPU, enough CPU, an allowed chip model), the free capacity on devices too
//! small for it is fragment; otherwise all free capacity is. CPU-only classes count all free GPU
//! capacity as fragment, as the reference simulator does (a CPU task can never use it). The
//! node's fragmentation is the `p`-weighted sum. Memory plays no part, as in the paper.
//!
//! Scoring a placement needs the fragmentation of many hypothetical node states, and most nodes
//! share a handful of states (empty, one share taken, …), so results are memoised by state.

use crate::fleet::{Dev, Node};
use crate::mix::{TaskMix, TaskShape};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// One task class resolved against the fleet's model table.
#[derive(Debug, Clone)]
pub(crate) struct Class {
    pub cpu: u64,
    /// Milli-GPU per device: 0 for CPU-only, 1000 for whole devices.
    pub milli: u32,
    pub gpus: u32,
    /// Indexed by model id.
    pub allowed: Vec<bool>,
    pub weight: f64,
}

impl Class {
    pub fn resolve(shape: &TaskShape, weight: f64, models: &[&str]) -> Class {
        Class {
            cpu: shape.cpu_milli,
            milli: shape.gpu_milli,
            gpus: shape.gpus,
            allowed: models
                .iter()
                .map(|m| shape.gpu_models.is_empty() || shape.gpu_models.iter().any(|x| x == m))
                .collect(),
            weight,
        }
    }

    fn allows(&self, model: usize) -> bool {
        self.allowed.get(model).copied().unwrap_or(false)
    }

    /// Whether one task of this class fits a node with `cpu` free and these (model, free) devices.
    pub fn fits(&self, cpu: u64, devs: &[(usize, u32)]) -> bool {
        let fitting = devs.iter().filter(|&&(m, f)| self.allows(m) && f >= self.milli).count();
        cpu >= self.cpu && (self.milli == 0 || fitting as u32 >= self.gpus.max(1))
    }
}

/// What a candidate placement takes from a node, for evaluating the state after it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Take {
    Nothing,
    /// `milli` from the device at this position in `Node::gpus`.
    Share {
        pos: usize,
        milli: u32,
    },
    /// `n` fully free devices of this model (the lowest-indexed, as `Node::apply` takes them).
    Whole {
        model: usize,
        n: u32,
    },
}

/// Memo keys are small integers; a multiply-xor hash is plenty and far cheaper than SipHash.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
        }
    }
    fn write_u128(&mut self, x: u128) {
        let mut h =
            (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((x >> 64) as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        h ^= h >> 29;
        self.0 = h;
    }
}

/// Bounds the memo's memory; real workloads stay far below it.
const MEMO_LIMIT: usize = 1 << 22;

pub(crate) struct FragModel {
    classes: Vec<Class>,
    memo: HashMap<u128, f64, BuildHasherDefault<KeyHasher>>,
    scratch: Vec<(usize, u32)>,
}

impl FragModel {
    pub fn new(mix: &TaskMix, models: &[&str]) -> Self {
        let classes = mix.classes.iter().map(|(shape, weight)| Class::resolve(shape, *weight, models)).collect();
        FragModel { classes, memo: HashMap::default(), scratch: Vec::new() }
    }

    /// Fragmentation (milli-GPU) of `node` after it gives up `cpu` milli-CPU and `take`.
    pub fn after(&mut self, node: &Node, cpu: u64, take: Take) -> f64 {
        let mut state = std::mem::take(&mut self.scratch);
        state_after(node, take, &mut state);
        let frag = self.state(node.cpu.saturating_sub(cpu), &state);
        self.scratch = state;
        frag
    }

    /// Fragmentation of the node as it stands.
    pub fn now(&mut self, node: &Node) -> f64 {
        self.after(node, 0, Take::Nothing)
    }

    fn state(&mut self, cpu: u64, devs: &[(usize, u32)]) -> f64 {
        let Some(key) = memo_key(cpu, devs) else {
            return self.compute(cpu, devs);
        };
        if let Some(&v) = self.memo.get(&key) {
            return v;
        }
        let v = self.compute(cpu, devs);
        if self.memo.len() >= MEMO_LIMIT {
            self.memo.clear();
        }
        self.memo.insert(key, v);
        v
    }

    fn compute(&self, cpu: u64, devs: &[(usize, u32)]) -> f64 {
        let total: u64 = devs.iter().map(|&(_, f)| u64::from(f)).sum();
        if total == 0 {
            return 0.0;
        }
        let mut frag = 0.0;
        for c in &self.classes {
            let lost = if c.milli == 0 {
                total
            } else {
                let (mut usable, mut fits, mut fit_free) = (0u32, 0u32, 0u64);
                for &(model, free) in devs {
                    if c.allows(model) {
                        usable += 1;
                        if free >= c.milli {
                            fits += 1;
                            fit_free += u64::from(free);
                        }
                    }
                }
                if usable > 0 && fits >= c.gpus && cpu >= c.cpu {
                    total - fit_free
                } else {
                    total
                }
            };
            frag += c.weight * lost as f64;
        }
        frag
    }
}

/// The devices of `node` as (model, free) once `take` is taken, into `state`.
pub(crate) fn state_after(node: &Node, take: Take, state: &mut Vec<(usize, u32)>) {
    state.clear();
    state.extend(node.gpus.iter().map(|d: &Dev| (d.model, d.free)));
    match take {
        Take::Nothing => {}
        Take::Share { pos, milli } => {
            if let Some(s) = state.get_mut(pos) {
                s.1 = s.1.saturating_sub(milli);
            }
        }
        Take::Whole { model, n } => {
            let mut left = n;
            for s in state.iter_mut() {
                if left > 0 && s.0 == model && s.1 == crate::fleet::WHOLE {
                    s.1 = 0;
                    left -= 1;
                }
            }
        }
    }
}

/// A node state packed into 128 bits: model (8), CPU (24), then up to eight device frees (10
/// each) in descending order. `None` for states that do not fit (mixed models, > 8 devices).
fn memo_key(cpu: u64, devs: &[(usize, u32)]) -> Option<u128> {
    let model = devs.first().map_or(0, |d| d.0);
    if devs.len() > 8 || model > 0xFF || cpu >= 1 << 24 || devs.iter().any(|d| d.0 != model || d.1 > 1023) {
        return None;
    }
    let mut frees = [0u32; 8];
    for (slot, d) in frees.iter_mut().zip(devs) {
        *slot = d.1 + 1; // +1 so that a free of 0 differs from "no device"
    }
    frees.sort_unstable_by(|a, b| b.cmp(a));
    let mut key = (model as u128) << 120 | u128::from(cpu) << 96;
    for (i, f) in frees.iter().enumerate() {
        key |= u128::from(*f) << (i * 11);
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::TaskShape;
    use strata_domain::{GpuMillis, GpuRequest};

    fn model(classes: Vec<(TaskShape, f64)>) -> FragModel {
        FragModel::new(&TaskMix { classes, all: Vec::new() }, &["A", "B"])
    }

    fn shape(cpu: u64, gpu: GpuRequest, models: &[&str]) -> TaskShape {
        TaskShape::new(cpu, gpu, models.iter().map(|m| m.to_string()).collect())
    }

    #[test]
    fn fragment_is_what_a_typical_task_cannot_use() {
        let half = GpuRequest::Fraction(GpuMillis(500));
        let mut m = model(vec![(shape(1000, half, &[]), 0.5), (shape(1000, GpuRequest::Whole(2), &[]), 0.5)]);
        // Devices free 1000, 300, 600: the half task wastes 300; the 2-GPU task cannot fit (one whole
        // device), so all 1900 is fragment for it.
        let devs = [(0, 1000), (0, 300), (0, 600)];
        assert_eq!(m.state(8000, &devs), 0.5 * 300.0 + 0.5 * 1900.0);
        // Without CPU nothing fits: everything is fragment.
        assert_eq!(m.state(500, &devs), 1900.0);
        // A full node has no fragment.
        assert_eq!(m.state(8000, &[(0, 0), (0, 0)]), 0.0);
    }

    #[test]
    fn cpu_tasks_and_other_models_see_every_free_gpu_as_fragment() {
        let mut m =
            model(vec![(shape(1000, GpuRequest::None, &[]), 0.25), (shape(1000, GpuRequest::Whole(1), &["B"]), 0.75)]);
        assert_eq!(m.state(8000, &[(0, 1000), (0, 1000)]), 2000.0);
        assert_eq!(m.state(8000, &[(1, 1000), (1, 400)]), 0.25 * 1400.0 + 0.75 * 400.0);
    }

    #[test]
    fn memo_keys_ignore_device_order_but_not_cpu() {
        let a = memo_key(100, &[(0, 1000), (0, 0)]);
        assert_eq!(a, memo_key(100, &[(0, 0), (0, 1000)]));
        assert_ne!(a, memo_key(101, &[(0, 0), (0, 1000)]));
        assert_ne!(a, memo_key(100, &[(0, 1000)]));
        assert_eq!(memo_key(100, &[(0, 1000), (1, 0)]), None);
    }
}
