//! The scheduler's working copy of the fleet: free capacity per node, consumed as jobs are placed.
//!
//! Chip models are interned to small integers once per cycle, so that checking "is this device
//! allowed for this job" is an array lookup instead of a string comparison in the hot loop.

use crate::model::{HeldReplica, NodeView, RunningJob};
use std::collections::{BTreeMap, BTreeSet};
use strata_domain::{GpuRequest, NodeId, ReplicaResources};

/// Milli-GPUs in one whole device.
pub(crate) const WHOLE: u32 = 1000;

/// Devices per node up to which [`Node::capacity`] counts on the stack (nodes have 8 or fewer).
const COUNTED_DEVICES: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Dev {
    pub index: u32,
    /// Interned model: a position in [`Fleet::models`].
    pub model: usize,
    pub free: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    pub view: &'a NodeView,
    pub cpu: u64,
    pub mem: u64,
    /// Sorted by device index, so "first match" means "lowest index".
    pub gpus: Vec<Dev>,
    /// The distinct models on this node, ascending; lets whole-device fits scan per model.
    pub models: Vec<usize>,
    /// Interned rack: a position in [`Fleet::racks`].
    pub rack: Option<usize>,
}

#[derive(Clone)]
pub(crate) struct Fleet<'a> {
    /// Sorted by node id, so "first best" is the tie-break by `NodeId` ascending.
    pub nodes: Vec<Node<'a>>,
    /// Every chip model in the fleet, sorted by name; a model's id is its position.
    pub models: Vec<&'a str>,
    /// Every rack in the fleet, sorted by name; a rack's id is its position.
    pub racks: Vec<&'a str>,
    /// Whether every node carries at most one chip model (most fleets): then whole-GPU replicas
    /// that share a node all take the same model.
    pub single_model: bool,
    /// Positions of the nodes whose free capacity changed since [`Fleet::take_changed`] was last
    /// called, in order, repeats included. Every mutation goes through a `Fleet` method that logs
    /// here, so whatever keeps state about nodes (an index, cached scores) has one place to learn
    /// what to refresh — gangs, undone gangs, stopped and restarted victims alike.
    changed: Vec<usize>,
    /// Replicas per spread group, by node position, running and placed this cycle. Apart from
    /// the nodes (scans walk those, so they stay small), and sparse: few nodes hold a group.
    spread: BTreeMap<usize, Vec<(Box<str>, u32)>>,
}

/// The GPU part of one replica's request, normalised (a zero request is no request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gpu {
    None,
    Share(u32),
    Whole(u32),
}

/// One job's per-replica needs, resolved against this cycle's model table.
pub(crate) struct Needs<'a> {
    pub cpu: u64,
    pub mem: u64,
    pub gpu: Gpu,
    /// Indexed by model id.
    pub allowed: Vec<bool>,
    /// Indexed by model id: position in `preferred_gpu_models`, or its length when not preferred.
    pub pref: Vec<usize>,
    pub res: &'a ReplicaResources,
}

/// How a node ranks for one replica; smaller is better. Field order is comparison order:
/// preferred models first, then the tightest device (shares), then least free GPU, CPU, memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Score {
    pub pref: usize,
    pub dev_after: u32,
    pub gpu_after: u64,
    pub cpu_after: u64,
    pub mem_after: u64,
}

/// Which devices a replica would take on a node; turned into assignments by [`Node::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    NoGpu,
    /// A share of the device at this position in `Node::gpus`.
    Device(usize),
    /// The lowest-indexed fully free devices of this model.
    Model(usize),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fit {
    pub choice: Choice,
    pub score: Score,
}

/// Devices taken by one replica: (position in `Node::gpus`, milli).
pub(crate) type Taken = Vec<(usize, u32)>;

impl<'a> Fleet<'a> {
    pub fn new(views: &'a [NodeView]) -> Self {
        let models: Vec<&str> = views
            .iter()
            .flat_map(|n| n.gpus.iter().map(|g| g.model.as_str()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let racks: Vec<&str> =
            views.iter().filter_map(|n| n.rack.as_deref()).collect::<BTreeSet<_>>().into_iter().collect();
        let mut nodes: Vec<Node> = views
            .iter()
            .map(|view| {
                let mut gpus: Vec<Dev> = view
                    .gpus
                    .iter()
                    .map(|g| Dev {
                        index: g.index,
                        // Every model was collected above, so the search always succeeds.
                        model: models.binary_search(&g.model.as_str()).unwrap_or(0),
                        free: g.free.0.min(WHOLE),
                    })
                    .collect();
                gpus.sort_by_key(|d| d.index);
                let node_models: BTreeSet<usize> = gpus.iter().map(|d| d.model).collect();
                Node {
                    view,
                    cpu: view.free_cpu.0,
                    mem: view.free_memory.0,
                    gpus,
                    models: node_models.into_iter().collect(),
                    rack: view.rack.as_deref().and_then(|r| racks.binary_search(&r).ok()),
                }
            })
            .collect();
        nodes.sort_by_key(|n| n.view.id);
        let single_model = nodes.iter().all(|n| n.models.len() <= 1);
        Fleet { nodes, models, racks, single_model, changed: Vec::new(), spread: BTreeMap::new() }
    }

    /// Counts the running replicas of every spread group on their nodes: the nodes' free
    /// capacity already leaves out what running work holds, but which group holds it is only
    /// in the running jobs. Called once, on a fleet just made from the same input.
    pub fn count_running(&mut self, running: &[RunningJob]) {
        for held in running.iter().flat_map(|r| &r.replicas) {
            if let (Some(group), Some(i)) = (&held.spread_group, self.position(held.node)) {
                self.count_spread(i, group, false);
            }
        }
    }

    /// The position of a node in `nodes`, if it is schedulable this cycle.
    pub fn position(&self, id: NodeId) -> Option<usize> {
        self.nodes.binary_search_by_key(&id, |n| n.view.id).ok()
    }

    /// The chip model of a device, by node and device index.
    pub fn model_of(&self, node: NodeId, index: u32) -> Option<&'a str> {
        let n = &self.nodes[self.position(node)?];
        n.device(index).map(|d| self.models[d.model])
    }

    /// Gives back what a replica holds (a stopped job's, or one placed this cycle and undone).
    /// Replicas on nodes outside this cycle's fleet (cordoned, not ready) free nothing here.
    pub fn release(&mut self, held: &HeldReplica) {
        if let Some(i) = self.position(held.node) {
            self.nodes[i].adjust(held, true);
            if let Some(group) = &held.spread_group {
                self.count_spread(i, group, true);
            }
            self.changed.push(i);
        }
    }

    /// Takes exactly what `held` names, if all of it is free; otherwise takes nothing.
    pub fn take_exact(&mut self, held: &HeldReplica) -> bool {
        let Some(i) = self.position(held.node) else { return false };
        let node = &mut self.nodes[i];
        let devices_free = held.gpus.iter().all(|g| node.device(g.index).is_some_and(|d| d.free >= g.milli.0));
        if node.cpu < held.cpu_milli || node.mem < held.memory_mib || !devices_free {
            return false;
        }
        node.adjust(held, false);
        if let Some(group) = &held.spread_group {
            self.count_spread(i, group, false);
        }
        self.changed.push(i);
        true
    }

    /// Takes what a fit chose on node `pos`. The caller got `choice` from [`Node::fit`] on this
    /// same state.
    pub fn apply(&mut self, pos: usize, needs: &Needs, choice: Choice) -> Taken {
        if let Some(group) = &needs.res.spread_group {
            self.count_spread(pos, group, false);
        }
        self.changed.push(pos);
        self.nodes[pos].apply(needs, choice)
    }

    /// Gives back what [`Fleet::apply`] took on node `pos`.
    pub fn undo(&mut self, pos: usize, needs: &Needs, taken: &Taken) {
        if let Some(group) = &needs.res.spread_group {
            self.count_spread(pos, group, true);
        }
        self.changed.push(pos);
        self.nodes[pos].undo(needs, taken);
    }

    /// One replica of `group` more on node `pos`, or (`give_back`) one fewer.
    fn count_spread(&mut self, pos: usize, group: &str, give_back: bool) {
        let counts = self.spread.entry(pos).or_default();
        match counts.iter().position(|(g, _)| &**g == group) {
            Some(p) if give_back => {
                counts[p].1 = counts[p].1.saturating_sub(1);
                if counts[p].1 == 0 {
                    counts.swap_remove(p);
                }
            }
            Some(p) => counts[p].1 += 1,
            None if give_back => {}
            None => counts.push((group.into(), 1)),
        }
        if counts.is_empty() {
            self.spread.remove(&pos);
        }
    }

    /// Replicas of spread group `group` on node `node` (none on a node outside this cycle's fleet).
    pub fn spread_count(&self, node: NodeId, group: &str) -> u32 {
        self.position(node).map_or(0, |pos| self.held_of(pos, group))
    }

    /// Replicas of spread group `group` on node `pos`.
    fn held_of(&self, pos: usize, group: &str) -> u32 {
        self.spread.get(&pos).and_then(|c| c.iter().find(|(g, _)| &**g == group)).map_or(0, |&(_, k)| k)
    }

    /// How many more replicas of the request's spread group node `pos` may take under its
    /// `max_replicas_per_node`; `u32::MAX` when the request names no group or no limit.
    pub fn spread_room(&self, pos: usize, needs: &Needs) -> u32 {
        let (Some(group), Some(cap)) = (&needs.res.spread_group, needs.res.max_replicas_per_node) else {
            return u32::MAX;
        };
        cap.max(1).saturating_sub(self.held_of(pos, group))
    }

    /// [`Node::capacity`] of node `pos`, within its room for the request's spread group.
    pub fn capacity(&self, pos: usize, needs: &Needs, max: u32) -> Option<(u32, Score)> {
        match self.spread_room(pos, needs) {
            0 => None,
            room => self.nodes[pos].capacity(needs, max.min(room)),
        }
    }

    /// The nodes changed since the last call (see `changed`), and forgets them.
    pub fn take_changed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.changed)
    }

    pub fn needs<'r>(&self, res: &'r ReplicaResources) -> Needs<'r> {
        let gpu = match res.gpu_milli {
            GpuRequest::None | GpuRequest::Fraction(strata_domain::GpuMillis(0)) => Gpu::None,
            GpuRequest::Whole(0) => Gpu::None,
            GpuRequest::Fraction(m) => Gpu::Share(m.0),
            GpuRequest::Whole(n) => Gpu::Whole(n),
        };
        let allowed = self.models.iter().map(|m| res.allows_model(m)).collect();
        let pref = self
            .models
            .iter()
            .map(|m| {
                let p = &res.preferred_gpu_models;
                p.iter().position(|x| x == m).unwrap_or(p.len())
            })
            .collect();
        Needs { cpu: res.cpu_milli.0, mem: res.memory_mib.0, gpu, allowed, pref, res }
    }
}

impl Needs<'_> {
    /// Whether the request's node labels allow `node` (most requests name none).
    fn allows_node(&self, node: &Node) -> bool {
        self.res.node_labels.is_empty() || self.res.allows_node(&node.view.labels)
    }

    /// Whether replicas of other jobs (the request's spread group) limit where this one goes.
    pub fn spreads(&self) -> bool {
        self.res.spread_group.is_some() && self.res.max_replicas_per_node.is_some()
    }
}

impl Node<'_> {
    fn device(&self, index: u32) -> Option<&Dev> {
        self.gpus.binary_search_by_key(&index, |d| d.index).ok().map(|p| &self.gpus[p])
    }

    /// Adds (`give_back`) or subtracts what a replica holds.
    fn adjust(&mut self, held: &HeldReplica, give_back: bool) {
        if give_back {
            self.cpu += held.cpu_milli;
            self.mem += held.memory_mib;
        } else {
            self.cpu = self.cpu.saturating_sub(held.cpu_milli);
            self.mem = self.mem.saturating_sub(held.memory_mib);
        }
        for g in &held.gpus {
            if let Ok(p) = self.gpus.binary_search_by_key(&g.index, |d| d.index) {
                let d = &mut self.gpus[p];
                d.free = if give_back { (d.free + g.milli.0).min(WHOLE) } else { d.free.saturating_sub(g.milli.0) };
            }
        }
    }

    /// Free milli-GPU on devices of models this job may use.
    pub fn allowed_free(&self, needs: &Needs) -> u64 {
        self.gpus.iter().filter(|d| needs.allowed[d.model]).map(|d| u64::from(d.free)).sum()
    }

    /// Fully free devices of one model.
    pub fn whole_free(&self, model: usize) -> u32 {
        self.gpus.iter().filter(|d| d.model == model && d.free == WHOLE).count() as u32
    }

    /// The GPU half of a fit, ignoring CPU and memory: (choice, preference rank, device free after).
    pub fn fit_gpu(&self, needs: &Needs) -> Option<(Choice, usize, u32)> {
        match needs.gpu {
            Gpu::None => Some((Choice::NoGpu, 0, 0)),
            Gpu::Share(m) => {
                // Tightest allowed device that still fits: keeps whole devices whole.
                let (pos, d) = self
                    .gpus
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| needs.allowed[d.model] && d.free >= m)
                    .min_by_key(|(_, d)| (needs.pref[d.model], d.free))?;
                Some((Choice::Device(pos), needs.pref[d.model], d.free - m))
            }
            Gpu::Whole(n) => {
                // One model per replica; among models with enough free devices, the preferred
                // one, then the one with the fewest free devices (best fit), then by name.
                let (model, _) = self
                    .models
                    .iter()
                    .filter(|&&m| needs.allowed[m])
                    .map(|&m| (m, self.whole_free(m)))
                    .filter(|&(_, free)| free >= n)
                    .min_by_key(|&(m, free)| (needs.pref[m], free))?;
                Some((Choice::Model(model), needs.pref[model], 0))
            }
        }
    }

    /// Whether one replica fits now, and how good the node would be for it. Does not mutate.
    pub fn fit(&self, needs: &Needs) -> Option<Fit> {
        if self.cpu < needs.cpu || self.mem < needs.mem || !needs.allows_node(self) {
            return None;
        }
        let (choice, pref, dev_after) = self.fit_gpu(needs)?;
        let used = match needs.gpu {
            Gpu::None => 0,
            Gpu::Share(m) => u64::from(m),
            Gpu::Whole(n) => u64::from(n) * u64::from(WHOLE),
        };
        let score = Score {
            pref,
            dev_after,
            gpu_after: self.allowed_free(needs).saturating_sub(used),
            cpu_after: self.cpu - needs.cpu,
            mem_after: self.mem - needs.mem,
        };
        Some(Fit { choice, score })
    }

    /// Takes what a fit chose. Private: the fleet logs the change ([`Fleet::apply`]).
    fn apply(&mut self, needs: &Needs, choice: Choice) -> Taken {
        self.cpu = self.cpu.saturating_sub(needs.cpu);
        self.mem = self.mem.saturating_sub(needs.mem);
        match (choice, needs.gpu) {
            (Choice::Device(pos), Gpu::Share(m)) => match self.gpus.get_mut(pos) {
                Some(d) => {
                    d.free = d.free.saturating_sub(m);
                    vec![(pos, m)]
                }
                None => Vec::new(),
            },
            (Choice::Model(model), Gpu::Whole(n)) => {
                let mut taken = Vec::with_capacity(n as usize);
                for (pos, d) in self.gpus.iter_mut().enumerate() {
                    if taken.len() == n as usize {
                        break;
                    }
                    if d.model == model && d.free == WHOLE {
                        d.free = 0;
                        taken.push((pos, WHOLE));
                    }
                }
                taken
            }
            _ => Vec::new(),
        }
    }

    /// Gives back what [`Node::apply`] took.
    fn undo(&mut self, needs: &Needs, taken: &Taken) {
        self.cpu += needs.cpu;
        self.mem += needs.mem;
        for &(pos, milli) in taken {
            if let Some(d) = self.gpus.get_mut(pos) {
                d.free += milli;
            }
        }
    }

    /// How many replicas (up to `max`) fit here at once, and the node's score for the last of
    /// them — what placing them one by one with [`Node::fit`] and [`Node::apply`] would give. A
    /// gang asks this of every node, so it counts on the few numbers that change (free CPU,
    /// memory, and each device's or model's free amount, on the stack) rather than on a copy of
    /// the node. Never more than the job's `max_replicas_per_node`; a spread group's room is
    /// the fleet's to count ([`Fleet::capacity`]).
    pub fn capacity(&self, needs: &Needs, max: u32) -> Option<(u32, Score)> {
        let max = needs.res.max_replicas_per_node.map_or(max, |cap| max.min(cap.max(1)));
        if max <= 1 || self.gpus.len() > COUNTED_DEVICES {
            return self.capacity_by_copy(needs, max);
        }
        // What `fit` checks besides devices; the devices are counted below (none: no fit).
        if self.cpu < needs.cpu || self.mem < needs.mem || !needs.allows_node(self) {
            return None;
        }
        let room = |free: u64, need: u64| free.checked_div(need).unwrap_or(u64::from(max));
        // At least 1: the first replica fits.
        let host = room(self.cpu, needs.cpu).min(room(self.mem, needs.mem)).min(u64::from(max)) as u32;
        // (replicas, preference rank and device left for the last one, milli-GPU each takes)
        let (count, pref, dev_after, each) = match needs.gpu {
            Gpu::None => (host, 0, 0, 0),
            Gpu::Share(m) => {
                let mut free = [0u32; COUNTED_DEVICES];
                for (f, d) in free.iter_mut().zip(&self.gpus) {
                    *f = d.free;
                }
                let (mut count, mut last) = (0, (0, 0));
                while count < host {
                    // The tightest allowed device that still fits, as `fit_gpu` takes it.
                    let Some(pos) = (0..self.gpus.len())
                        .filter(|&p| needs.allowed[self.gpus[p].model] && free[p] >= m)
                        .min_by_key(|&p| (needs.pref[self.gpus[p].model], free[p]))
                    else {
                        break;
                    };
                    last = (needs.pref[self.gpus[pos].model], free[pos] - m);
                    free[pos] -= m;
                    count += 1;
                }
                (count, last.0, last.1, u64::from(m))
            }
            Gpu::Whole(n) => {
                // Fully free devices per model of `self.models`.
                let mut whole = [0u32; COUNTED_DEVICES];
                for (w, &model) in whole.iter_mut().zip(&self.models) {
                    *w = self.whole_free(model);
                }
                let (mut count, mut pref) = (0, 0);
                while count < host {
                    let Some(i) = (0..self.models.len())
                        .filter(|&i| needs.allowed[self.models[i]] && whole[i] >= n)
                        .min_by_key(|&i| (needs.pref[self.models[i]], whole[i]))
                    else {
                        break;
                    };
                    pref = needs.pref[self.models[i]];
                    whole[i] -= n;
                    count += 1;
                }
                (count, pref, 0, u64::from(n) * u64::from(WHOLE))
            }
        };
        if count == 0 {
            return None;
        }
        let k = u64::from(count);
        let score = Score {
            pref,
            dev_after,
            gpu_after: self.allowed_free(needs).saturating_sub(k * each),
            cpu_after: self.cpu - k * needs.cpu,
            mem_after: self.mem - k * needs.mem,
        };
        Some((count, score))
    }

    /// [`Node::capacity`] by placing replicas on a copy of the node, one by one: for nodes with
    /// more devices than it counts on the stack, and the reference it is tested against.
    fn capacity_by_copy(&self, needs: &Needs, max: u32) -> Option<(u32, Score)> {
        let first = self.fit(needs)?;
        if max <= 1 {
            return Some((1, first.score));
        }
        let mut scratch = self.clone();
        let (mut count, mut score, mut choice) = (1, first.score, first.choice);
        while count < max {
            scratch.apply(needs, choice);
            match scratch.fit(needs) {
                Some(next) => {
                    count += 1;
                    score = next.score;
                    choice = next.choice;
                }
                None => break,
            }
        }
        Some((count, score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{arb_fleet, arb_request, arb_roomy_fleet};
    use proptest::prelude::*;

    proptest! {
        /// A spread group's counts follow every change to the fleet exactly: replicas placed
        /// and undone, held ones given back and taken again leave each node's room as it was,
        /// and a placed one takes one place of room where it went.
        #[test]
        fn spread_counts_come_back_after_every_change_undone(
            views in prop_oneof![arb_fleet(), arb_roomy_fleet()],
            res in arb_request(),
            cap in 1u32..4,
        ) {
            let res = ReplicaResources {
                max_replicas_per_node: Some(cap),
                spread_group: Some("g".into()),
                ..res
            };
            let mut fleet = Fleet::new(&views);
            let needs = fleet.needs(&res);
            let rooms = |f: &Fleet| (0..f.nodes.len()).map(|i| f.spread_room(i, &needs)).collect::<Vec<_>>();
            let before = rooms(&fleet);
            prop_assert!(before.iter().all(|&r| r == cap));
            let mut placed = Vec::new();
            for i in 0..fleet.nodes.len() {
                if let Some(fit) = fleet.nodes[i].fit(&needs) {
                    let taken = fleet.apply(i, &needs, fit.choice);
                    prop_assert_eq!(fleet.spread_room(i, &needs), cap - 1);
                    placed.push((i, taken));
                }
            }
            let held: Vec<HeldReplica> = placed
                .iter()
                .map(|(i, taken)| {
                    let r = crate::place::replica(&fleet, *i, taken);
                    HeldReplica {
                        node: r.node,
                        gpu_model: None,
                        cpu_milli: needs.cpu,
                        memory_mib: needs.mem,
                        gpus: r.gpus,
                        spread_group: res.spread_group.clone(),
                    }
                })
                .collect();
            for h in &held {
                fleet.release(h);
            }
            prop_assert_eq!(rooms(&fleet), before.clone());
            for h in &held {
                prop_assert!(fleet.take_exact(h));
            }
            for ((i, _), h) in placed.iter().zip(&held).rev() {
                prop_assert_eq!(fleet.spread_room(*i, &needs), cap - 1);
                fleet.release(h);
            }
            prop_assert_eq!(rooms(&fleet), before.clone());
            // Counted from running work, then undone by placing and undoing on top of it.
            let running = vec![RunningJob {
                id: strata_domain::JobId(1),
                tenant: strata_domain::TenantId(1),
                priority: 0,
                preemptible: true,
                progress_since_ms: 0,
                expected_end_ms: None,
                replicas: held.clone(),
            }];
            let mut counted = Fleet::new(&views);
            counted.count_running(&running);
            for (i, _) in &placed {
                prop_assert_eq!(counted.spread_room(*i, &needs), cap - 1);
            }
            if let Some(&(i, _)) = placed.first() {
                if let Some(fit) = counted.nodes[i].fit(&needs) {
                    let taken = counted.apply(i, &needs, fit.choice);
                    counted.undo(i, &needs, &taken);
                }
                prop_assert_eq!(counted.spread_room(i, &needs), cap - 1);
            }
        }

        /// Counting on the stack gives what placing replicas on a copy gives: the count and the
        /// score of the last replica, for every node, request and gang size.
        #[test]
        fn capacity_counts_what_placing_one_by_one_places(
            views in prop_oneof![arb_fleet(), arb_roomy_fleet()],
            requests in prop::collection::vec(arb_request(), 1..8),
            max in 1u32..10,
        ) {
            let fleet = Fleet::new(&views);
            for res in &requests {
                let needs = fleet.needs(res);
                for node in &fleet.nodes {
                    prop_assert_eq!(node.capacity(&needs, max), node.capacity_by_copy(&needs, max), "{:?}", res);
                }
            }
        }
    }
}
