//! Placing replicas one at a time, as a trace simulator (or an online admission path) does.
//!
//! A [`Placer`] keeps the fleet's free capacity between calls and asks a [`Policy`] where each
//! replica goes, through the same fit checks and the same bookkeeping as [`crate::schedule`]. It
//! also tracks what the FGD paper measures: allocated GPU capacity and fragmentation.

use crate::fleet::Fleet;
use crate::mix::TaskMix;
use crate::model::{NodeView, ReplicaPlacement};
use crate::place::{place_gang, replica};
use crate::policy::{Chooser, Policy};
use std::collections::{BTreeMap, HashMap};
use strata_domain::{NodeId, ReplicaResources};

pub struct Placer<'a> {
    fleet: Fleet<'a>,
    chooser: Chooser,
    by_id: BTreeMap<NodeId, usize>,
    capacity_milli: u64,
    free_milli: u64,
    /// Per group of [`Placer::place_limited`]: replicas placed on each node (by position).
    per_node: HashMap<String, HashMap<usize, u32>>,
}

impl<'a> Placer<'a> {
    /// `mix` is the typical-task distribution for fragmentation (scoring and metrics); `seed`
    /// drives the random choices of the policies that make any.
    pub fn new(nodes: &'a [NodeView], policy: Policy, mix: &TaskMix, seed: u64) -> Self {
        let fleet = Fleet::new(nodes);
        let chooser = Chooser::new(policy, seed, mix, &fleet);
        let by_id = fleet.nodes.iter().enumerate().map(|(i, n)| (n.view.id, i)).collect();
        let free_milli = fleet.nodes.iter().flat_map(|n| &n.gpus).map(|d| u64::from(d.free)).sum();
        let capacity_milli = nodes.iter().map(|n| n.gpus.len() as u64 * 1000).sum();
        Placer { fleet, chooser, by_id, capacity_milli, free_milli, per_node: HashMap::new() }
    }

    /// Places one replica where the policy says, or returns `None` if it fits nowhere now.
    pub fn place(&mut self, res: &ReplicaResources) -> Option<ReplicaPlacement> {
        let needs = self.fleet.needs(res);
        let (node, choice) = self.chooser.choose(&self.fleet, &needs)?;
        let taken = self.fleet.apply(node, &needs, choice);
        Some(self.settle(node, &taken))
    }

    /// Places one replica of `group` (an application, a deployment) where the policy says among
    /// the nodes holding fewer than `max_per_node` of that group's replicas placed so far: a
    /// density limit, as the DLRM inference trace gives one per application.
    pub fn place_limited(
        &mut self,
        res: &ReplicaResources,
        group: &str,
        max_per_node: u32,
    ) -> Option<ReplicaPlacement> {
        let needs = self.fleet.needs(res);
        let counts = self.per_node.get(group);
        let open = |node: usize| counts.and_then(|c| c.get(&node)).is_none_or(|&k| k < max_per_node);
        let (node, choice) = self.chooser.choose_where(&self.fleet, &needs, open)?;
        let taken = self.fleet.apply(node, &needs, choice);
        *self.per_node.entry(group.to_string()).or_default().entry(node).or_default() += 1;
        Some(self.settle(node, &taken))
    }

    /// Places one replica on the given node (with the policy's choice of devices there), or
    /// returns `None` if it does not fit there. For replaying another scheduler's decisions.
    pub fn place_on(&mut self, res: &ReplicaResources, node: NodeId) -> Option<ReplicaPlacement> {
        let &i = self.by_id.get(&node)?;
        let needs = self.fleet.needs(res);
        let cand = self.chooser.evaluate(&self.fleet, &needs, i)?;
        let taken = self.fleet.apply(i, &needs, cand.choice);
        Some(self.settle(i, &taken))
    }

    /// Every node the policy ranks best for this replica now (more than one when tied).
    pub fn best_nodes(&mut self, res: &ReplicaResources) -> Vec<NodeId> {
        let needs = self.fleet.needs(res);
        self.chooser.best_set(&self.fleet, &needs).into_iter().map(|i| self.fleet.nodes[i].view.id).collect()
    }

    /// Places all `replicas` of a gang or none, as the control plane's cycle does: one node if
    /// any can hold them all, else one rack, else anywhere, on as few nodes as possible. A gang
    /// of one is [`Placer::place`].
    pub fn place_gang(&mut self, res: &ReplicaResources, replicas: u32) -> Option<Vec<ReplicaPlacement>> {
        if replicas <= 1 {
            return self.place(res).map(|r| vec![r]);
        }
        let needs = self.fleet.needs(res);
        let placed = place_gang(&mut self.fleet, &needs, replicas, &mut self.chooser).ok();
        self.chooser.sync(&mut self.fleet);
        let used: u64 = placed.iter().flatten().flat_map(|r| &r.gpus).map(|g| u64::from(g.milli.0)).sum();
        self.free_milli = self.free_milli.saturating_sub(used);
        placed
    }

    fn settle(&mut self, node: usize, taken: &[(usize, u32)]) -> ReplicaPlacement {
        let used: u64 = taken.iter().map(|&(_, m)| u64::from(m)).sum();
        self.free_milli = self.free_milli.saturating_sub(used);
        self.chooser.sync(&mut self.fleet);
        replica(&self.fleet, node, &taken.to_vec())
    }

    /// Milli-GPU installed in the fleet.
    pub fn gpu_capacity_milli(&self) -> u64 {
        self.capacity_milli
    }

    /// Milli-GPU allocated so far (including what was allocated before the placer started).
    pub fn gpu_allocated_milli(&self) -> u64 {
        self.capacity_milli.saturating_sub(self.free_milli)
    }

    /// FGD's fragmentation of the whole fleet, in milli-GPU: the sum over nodes, in node order.
    pub fn frag_milli(&mut self) -> f64 {
        (0..self.fleet.nodes.len()).map(|i| self.chooser.node_frag(&self.fleet, i)).sum()
    }

    /// Free milli-GPU in the fleet (FGD's "idle" capacity, the denominator of its frag ratio).
    pub fn gpu_free_milli(&self) -> u64 {
        self.free_milli
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::classic_where;
    use crate::testing::{arb_fleet, arb_request};
    use proptest::prelude::*;

    proptest! {
        /// Under a density limit no node ever holds more of a group than the limit; a replica
        /// is refused only when no node below the limit fits it; and best fit picks, through its
        /// index, what a scan of the open nodes picks.
        #[test]
        fn density_limits_hold_and_refuse_only_when_no_open_node_fits(
            views in arb_fleet(),
            requests in prop::collection::vec((arb_request(), 0u8..3, 1u32..=3), 1..30),
            seed in any::<u64>(),
        ) {
            for policy in Policy::ALL {
                let mut placer = Placer::new(&views, policy, &TaskMix::default(), seed);
                let mut counts: BTreeMap<(String, usize), u32> = BTreeMap::new();
                for (res, group, limit) in &requests {
                    let group = format!("app-{group}");
                    let open = |n: usize| counts.get(&(group.clone(), n)).is_none_or(|&k| k < *limit);
                    let needs = placer.fleet.needs(res);
                    let fits_open = (0..placer.fleet.nodes.len()).any(|n| open(n) && placer.fleet.nodes[n].fit(&needs).is_some());
                    let scanned = classic_where(&placer.fleet, &needs, open).map(|(n, _)| placer.fleet.nodes[n].view.id);
                    let placed = placer.place_limited(res, &group, *limit);
                    prop_assert_eq!(placed.is_some(), fits_open, "{} {:?}", policy.name(), res);
                    if let Some(p) = placed {
                        if policy == Policy::Classic {
                            prop_assert_eq!(Some(p.node), scanned);
                        }
                        let pos = placer.by_id[&p.node];
                        let k = counts.entry((group, pos)).or_default();
                        *k += 1;
                        prop_assert!(*k <= *limit, "{} placed {} of a group limited to {}", policy.name(), k, limit);
                    }
                }
            }
        }
    }
}
