//! An exact index for the control plane's best-fit rule, so that placing one replica on a fleet
//! of 50,000 GPUs does not rank every node.
//!
//! Best fit ([`crate::fleet::Score`]) ranks a node by the device left tightest, then the GPU, CPU
//! and memory left over, then position. For a replica without node labels and with one preference
//! rank for every model it may use, those are functions of a few numbers per node and per set of
//! allowed models — so nodes are kept in ordered tables keyed by them, and
//! the first node in key order that also has the CPU and memory is the best one. A
//! [`Placer`](crate::Placer) keeps the index across placements and refreshes only the node it
//! changed; anything the index cannot answer falls back to the full scan, and the property tests
//! check that both always pick the same node and devices.
//!
//! Why by hand: the ordering is this scheduler's own score, and no general spatial-index crate
//! knows that a node's tightest device, not its total free capacity, comes first.

use crate::fleet::{Choice, Fleet, Gpu, Needs, Node, WHOLE};
use std::collections::{BTreeMap, BTreeSet};

/// Nodes by a key, then `(free CPU, free memory, position)`: within one key the first entry with
/// enough CPU and memory is the best of that key.
type Table = BTreeMap<(u32, u64), BTreeSet<(u64, u64, usize)>>;

/// The tables for one scope: the devices of the models a request may use (every model, or the
/// set a constraint names).
struct Scope {
    /// Indexed by model id: whether the scope counts that model's devices.
    models: Vec<bool>,
    /// Key: (most fully free devices of one model, free milli-GPU). For CPU-only and whole-GPU
    /// replicas, which leave no device partly used.
    whole: Table,
    /// Key: (a free amount some partly or fully free device has, free milli-GPU), one entry per
    /// distinct amount. For shares: the first key at or above the share is the tightest device.
    share: Table,
    /// Per node position: what it entered, to take it out again when the node changes.
    entries: Vec<Entries>,
}

/// What a node has entered in one scope.
#[derive(Default, Clone, PartialEq, Eq)]
struct Entries {
    whole: Option<(u32, u64)>,
    shares: Vec<(u32, u64)>,
    cpu: u64,
    mem: u64,
}

/// Scopes are made on first use: a workload names few distinct model sets.
const MAX_SCOPES: usize = 32;

pub(crate) struct FitIndex {
    /// The first scope counts every model; the others were asked for by constrained requests.
    scopes: Vec<Scope>,
    /// The most devices on any node: the largest "fully free devices" key.
    max_devices: u32,
}

impl FitIndex {
    pub fn new(fleet: &Fleet) -> Self {
        let mut index = FitIndex {
            scopes: Vec::new(),
            max_devices: fleet.nodes.iter().map(|n| n.gpus.len() as u32).max().unwrap_or(0),
        };
        index.add_scope(fleet, vec![true; fleet.models.len()]);
        index
    }

    fn add_scope(&mut self, fleet: &Fleet, models: Vec<bool>) -> usize {
        let mut scope = Scope {
            models,
            whole: Table::new(),
            share: Table::new(),
            entries: vec![Entries::default(); fleet.nodes.len()],
        };
        for pos in 0..fleet.nodes.len() {
            scope.refresh(fleet, pos);
        }
        self.scopes.push(scope);
        self.scopes.len() - 1
    }

    /// Re-enters a node after its free capacity changed.
    pub fn refresh(&mut self, fleet: &Fleet, pos: usize) {
        for scope in &mut self.scopes {
            scope.refresh(fleet, pos);
        }
    }

    /// The best-fit node and devices for one replica among the nodes `open` lets in (all, or
    /// those below a density limit): `None` if the index cannot answer this request (the
    /// caller scans), `Some(None)` if no open node fits.
    pub fn best(
        &mut self,
        fleet: &Fleet,
        needs: &Needs,
        open: impl Fn(usize) -> bool,
    ) -> Option<Option<(usize, Choice)>> {
        if !needs.res.node_labels.is_empty() {
            return None;
        }
        let constrained = needs.allowed.iter().any(|a| !a);
        // A CPU-only replica may go where none of its models are: only the every-model scope
        // holds every node.
        if constrained && needs.gpu == Gpu::None {
            return None;
        }
        let mut prefs = (0..fleet.models.len()).filter(|&m| needs.allowed[m]).map(|m| needs.pref[m]);
        let first = prefs.next();
        if prefs.any(|p| Some(p) != first) {
            return None;
        }
        let scope = self.scope_for(fleet, needs)?;
        let tables = &self.scopes[scope];
        let found = match needs.gpu {
            Gpu::None => first_fit(&tables.whole, 0..=self.max_devices, needs, &open),
            Gpu::Whole(n) => first_fit(&tables.whole, n..=self.max_devices, needs, &open),
            Gpu::Share(m) => first_fit_ordered(&tables.share, m, needs, &open),
        };
        Some(found.and_then(|pos| fleet.nodes[pos].fit(needs).map(|fit| (pos, fit.choice))))
    }
}

impl FitIndex {
    /// The nodes, by position ascending, whose devices could hold one replica of this request:
    /// every node where [`Node::fit`] could succeed is among them (CPU, memory and the rest are
    /// for the caller to check). `None` if the index cannot tell (the caller scans every node).
    /// For gangs, which look at every node that fits: on a busy fleet most do not.
    pub fn candidates(&mut self, fleet: &Fleet, needs: &Needs) -> Option<Vec<usize>> {
        if needs.gpu == Gpu::None {
            return None;
        }
        let scope = self.scope_for(fleet, needs)?;
        let tables = &self.scopes[scope];
        let mut found: Vec<usize> = match needs.gpu {
            Gpu::Whole(n) => tables.whole.range((n, 0)..).flat_map(|(_, set)| set.iter().map(|e| e.2)).collect(),
            Gpu::Share(m) => tables.share.range((m, 0)..).flat_map(|(_, set)| set.iter().map(|e| e.2)).collect(),
            Gpu::None => return None,
        };
        found.sort_unstable();
        found.dedup();
        Some(found)
    }

    /// The scope counting exactly the models this request allows, made on first use.
    fn scope_for(&mut self, fleet: &Fleet, needs: &Needs) -> Option<usize> {
        match self.scopes.iter().position(|s| s.models == needs.allowed) {
            Some(i) => Some(i),
            None if self.scopes.len() < MAX_SCOPES => Some(self.add_scope(fleet, needs.allowed.clone())),
            None => None,
        }
    }
}

impl Scope {
    fn refresh(&mut self, fleet: &Fleet, pos: usize) {
        let node = &fleet.nodes[pos];
        // A node's models never change: one outside a constrained scope never enters it.
        if !self.models.iter().all(|&m| m) && !node.models.iter().any(|&m| self.models[m]) {
            return;
        }
        let new = entries_of(node, &self.models);
        if self.entries[pos] == new {
            return;
        }
        let old = std::mem::replace(&mut self.entries[pos], new);
        let new = &self.entries[pos];
        let (old_key, new_key) = ((old.cpu, old.mem, pos), (new.cpu, new.mem, pos));
        if let Some(k) = old.whole {
            remove(&mut self.whole, k, old_key);
        }
        for &k in &old.shares {
            remove(&mut self.share, k, old_key);
        }
        if let Some(k) = new.whole {
            self.whole.entry(k).or_default().insert(new_key);
        }
        for &k in &new.shares {
            self.share.entry(k).or_default().insert(new_key);
        }
    }
}

/// A node's keys in one scope; none if the scope names models and none of them is on the node
/// (the every-model scope holds every node, GPU-less ones included).
fn entries_of(node: &Node, models: &[bool]) -> Entries {
    let devices = || node.gpus.iter().filter(|d| models[d.model]);
    if devices().next().is_none() && models.iter().any(|m| !m) {
        return Entries::default();
    }
    let free: u64 = devices().map(|d| u64::from(d.free)).sum();
    let most_whole = node.models.iter().map(|&m| devices().filter(|d| d.model == m && d.free == WHOLE).count()).max();
    let mut amounts: Vec<u32> = devices().map(|d| d.free).filter(|&f| f > 0).collect();
    amounts.sort_unstable();
    amounts.dedup();
    Entries {
        whole: Some((most_whole.unwrap_or(0) as u32, free)),
        shares: amounts.into_iter().map(|a| (a, free)).collect(),
        cpu: node.cpu,
        mem: node.mem,
    }
}

fn remove(table: &mut Table, key: (u32, u64), entry: (u64, u64, usize)) {
    if let Some(set) = table.get_mut(&key) {
        set.remove(&entry);
        if set.is_empty() {
            table.remove(&key);
        }
    }
}

/// The first entry of one key with enough CPU and memory on an open node, as (cpu, mem, position).
fn fitting(
    set: &BTreeSet<(u64, u64, usize)>,
    needs: &Needs,
    open: &impl Fn(usize) -> bool,
) -> Option<(u64, u64, usize)> {
    set.range((needs.cpu, 0, 0)..).find(|&&(_, mem, pos)| mem >= needs.mem && open(pos)).copied()
}

/// Whole-device keys: the best over the groups `devices` (fully free devices) of the smallest free
/// milli-GPU, then CPU, memory and position — each group searched up to the best found so far.
fn first_fit(
    table: &Table,
    devices: std::ops::RangeInclusive<u32>,
    needs: &Needs,
    open: &impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut best: Option<(u64, u64, u64, usize)> = None;
    for group in devices {
        for (&(_, free), set) in table.range((group, 0)..=(group, u64::MAX)) {
            if best.is_some_and(|b| free > b.0) {
                break;
            }
            if let Some((cpu, mem, pos)) = fitting(set, needs, open) {
                let candidate = (free, cpu, mem, pos);
                if best.is_none_or(|b| candidate < b) {
                    best = Some(candidate);
                }
                break;
            }
        }
    }
    best.map(|b| b.3)
}

/// Share keys: the first key at or above the share whose nodes have the CPU and memory — ordered
/// as the score is (tightest device, free milli-GPU), so the first found is the best.
fn first_fit_ordered(table: &Table, share: u32, needs: &Needs, open: &impl Fn(usize) -> bool) -> Option<usize> {
    table.range((share, 0)..).find_map(|(_, set)| fitting(set, needs, open)).map(|(_, _, pos)| pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GpuSlot, NodeView};
    use crate::policy::classic;
    use crate::testing::{arb_fleet, arb_request};
    use proptest::prelude::*;
    use strata_domain::{CpuMillis, GpuMillis, GpuRequest, MemoryMib, NodeId, ReplicaResources};

    proptest! {
        /// Placing a sequence of replicas with the index, refreshing each changed node, picks the
        /// same node and devices as ranking every node, every time; and every node a replica
        /// fits on is among the index's candidates.
        #[test]
        fn the_index_picks_what_the_full_scan_picks(views in arb_fleet(), requests in prop::collection::vec(arb_request(), 1..30)) {
            let mut fleet = Fleet::new(&views);
            let mut index = FitIndex::new(&fleet);
            for res in &requests {
                let needs = fleet.needs(res);
                let scanned = classic(&fleet, &needs);
                if let Some(indexed) = index.best(&fleet, &needs, |_| true) {
                    prop_assert_eq!(indexed, scanned, "request {:?}", res);
                }
                if let Some(cands) = index.candidates(&fleet, &needs) {
                    for (pos, node) in fleet.nodes.iter().enumerate() {
                        if node.fit(&needs).is_some() {
                            prop_assert!(cands.binary_search(&pos).is_ok(), "node {} fits {:?} but is no candidate", pos, res);
                        }
                    }
                }
                if let Some((pos, choice)) = scanned {
                    fleet.apply(pos, &needs, choice);
                    index.refresh(&fleet, pos);
                }
            }
        }
    }

    #[test]
    fn requests_it_cannot_rank_fall_back_to_the_scan() {
        let views = vec![NodeView {
            id: NodeId(1),
            name: "n1".into(),
            rack: None,
            free_cpu: CpuMillis(8000),
            free_memory: MemoryMib(8192),
            gpus: vec![GpuSlot { index: 0, model: "A10".into(), free: GpuMillis(1000) }],
            labels: Default::default(),
        }];
        let fleet = Fleet::new(&views);
        let mut index = FitIndex::new(&fleet);
        let mut res = ReplicaResources {
            cpu_milli: CpuMillis(1000),
            memory_mib: MemoryMib(1024),
            gpu_milli: GpuRequest::Whole(1),
            gpu_models: vec![],
            preferred_gpu_models: vec![],
            node_labels: Default::default(),
            max_replicas_per_node: None,
            spread_group: None,
        };
        assert_eq!(index.best(&fleet, &fleet.needs(&res), |_| true), Some(Some((0, Choice::Model(0)))));
        res.node_labels.insert("zone".into(), "a".into());
        assert_eq!(index.best(&fleet, &fleet.needs(&res), |_| true), None, "node labels: scanned");
    }
}
